//! Checkout Pro: preferences (`/checkout/preferences`) and the merchant orders
//! (`/merchant_orders`) their payments gather into.
//!
//! A preference is what the buyer is asked to pay; its `init_point` opens caja's
//! hosted test checkout, where a payment is made. The preference's merchant order
//! records its payments: `opened` / `payment_required` until what was paid covers
//! the total, then `closed` / `paid`; refunds count in `refunded_amount`.
//!
//! Sources: the preferences reference (`reference/preferences/_checkout_preferences/*`),
//! the merchant orders reference (`reference/merchant_orders/*`), Checkout Pro's
//! redirection page (`docs/checkout-pro/configure-back-urls`) and the SDKs' types.

use super::order::Echo;
use super::order_money::Money;
use super::payment::{Payment, Status};
use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

/// Items per preference, at most.
pub const ITEMS_MAX: usize = 100;

/// One item of a preference or merchant order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub description: String,
    pub picture_url: Option<String>,
    pub category_id: String,
    pub currency_id: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// Other fields of the item (`type`, `warranty`, `event_date`, …), as sent.
    #[serde(default)]
    pub echo: Echo,
}

impl Item {
    pub fn total(&self) -> Money {
        Money::from_cents(self.unit_price.cents().saturating_mul(i64::from(self.quantity)))
    }
}

/// Where the buyer goes back to, by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackUrls {
    pub success: Option<String>,
    pub pending: Option<String>,
    pub failure: Option<String>,
}

/// What the buyer may pay with.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MethodRules {
    pub excluded_payment_methods: Vec<String>,
    pub excluded_payment_types: Vec<String>,
    /// The most installments offered.
    pub installments: Option<u32>,
    pub default_installments: Option<u32>,
    pub default_payment_method_id: Option<String>,
    #[serde(default)]
    pub default_card_id: Option<String>,
}

impl MethodRules {
    /// May the buyer pay with this method (of this type)?
    pub fn allows(&self, method_id: &str, payment_type_id: &str) -> bool {
        !self.excluded_payment_methods.iter().any(|m| m == method_id)
            && !self.excluded_payment_types.iter().any(|t| t == payment_type_id)
    }
}

/// A stored preference.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preference {
    /// `<collector id>-<uuid>`, as Mercado Pago writes them.
    pub id: String,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub items: Vec<Item>,
    pub back_urls: BackUrls,
    /// `approved` (back to `success` at once when approved) or `all`.
    pub auto_return: Option<String>,
    pub notification_url: Option<String>,
    pub external_reference: Option<String>,
    pub expires: bool,
    pub expiration_date_from: Option<Timestamp>,
    pub expiration_date_to: Option<Timestamp>,
    pub payment_methods: MethodRules,
    pub binary_mode: bool,
    pub date_created: Timestamp,
    pub last_updated: Option<Timestamp>,
    /// `payer`, `metadata`, `shipments`, `statement_descriptor`, … as sent.
    pub echo: Echo,
}

/// A preference that cannot be paid now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    NotYetOpen,
    Expired,
}

impl Preference {
    pub fn total(&self) -> Money {
        self.items.iter().map(Item::total).fold(Money::ZERO, Money::plus)
    }

    /// Can it be paid at `now` (`expires` with its dates)?
    pub fn open_at(&self, now: Timestamp) -> Result<(), Closed> {
        if !self.expires {
            return Ok(());
        }
        if self.expiration_date_from.is_some_and(|from| now < from) {
            return Err(Closed::NotYetOpen);
        }
        if self.expiration_date_to.is_some_and(|to| now > to) {
            return Err(Closed::Expired);
        }
        Ok(())
    }

    /// The title the checkout shows: the first item's, and how many more.
    pub fn summary(&self) -> String {
        match self.items.as_slice() {
            [] => String::new(),
            [one] => one.title.clone(),
            [first, rest @ ..] => format!("{} and {} more", first.title, rest.len()),
        }
    }
}

pub const PREFERENCES_BY_ACCOUNT: &str = "preferences";

impl Resource for Preference {
    const KIND: &'static str = "preference";

    fn id(&self) -> String {
        self.id.clone()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        None
    }

    fn created_at(&self) -> Timestamp {
        self.date_created
    }

    fn updated_at(&self) -> Timestamp {
        self.last_updated.unwrap_or(self.date_created)
    }

    fn index(&self) -> Vec<IndexEntry> {
        vec![IndexEntry::list(
            PREFERENCES_BY_ACCOUNT,
            scoped(self.user_id, &[]),
            sort_number(self.date_created.as_millis()),
        )]
    }
}

/// One payment of a merchant order, as it shows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderPayment {
    pub id: i64,
    pub transaction_amount: Money,
    pub amount_refunded: Money,
    pub status: String,
    pub status_detail: String,
    pub date_created: Timestamp,
    pub date_approved: Option<Timestamp>,
    pub last_modified: Timestamp,
}

impl OrderPayment {
    pub fn of(p: &Payment) -> OrderPayment {
        OrderPayment {
            id: p.id,
            transaction_amount: p.transaction_amount,
            amount_refunded: p.transaction_amount_refunded,
            status: p.status.as_str().to_owned(),
            status_detail: p.status_detail.clone(),
            date_created: p.date_created,
            date_approved: p.date_approved,
            last_modified: p.date_last_updated,
        }
    }

    /// Collected at some point (refunds are counted apart; a charged-back payment's
    /// money went back to the payer, so it is not).
    fn paid(&self) -> bool {
        [Status::Approved, Status::Refunded].iter().any(|s| s.as_str() == self.status)
    }
}

/// A stored merchant order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MerchantOrder {
    /// A number below 2^53.
    pub id: i64,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub preference_id: Option<String>,
    pub items: Vec<Item>,
    pub payments: Vec<OrderPayment>,
    pub notification_url: Option<String>,
    pub external_reference: Option<String>,
    pub additional_info: Option<String>,
    pub marketplace: String,
    pub cancelled: bool,
    pub date_created: Timestamp,
    pub last_updated: Timestamp,
    pub echo: Echo,
}

/// The merchant order of a preference (at most one): a unique entry.
pub const MERCHANT_ORDER_OF_PREFERENCE: &str = "merchant_order_of_preference";
pub const MERCHANT_ORDERS_BY_ACCOUNT: &str = "merchant_orders";

impl MerchantOrder {
    pub fn total_amount(&self) -> Money {
        self.items.iter().map(Item::total).fold(Money::ZERO, Money::plus)
    }

    pub fn paid_amount(&self) -> Money {
        self.payments.iter().filter(|p| p.paid()).map(|p| p.transaction_amount).fold(Money::ZERO, Money::plus)
    }

    pub fn refunded_amount(&self) -> Money {
        self.payments.iter().map(|p| p.amount_refunded).fold(Money::ZERO, Money::plus)
    }

    /// What was paid and not refunded.
    fn kept_amount(&self) -> Money {
        self.paid_amount().minus(self.refunded_amount())
    }

    /// `opened` until what was paid covers the total, then `closed` (refunds show in
    /// `order_status`, not here); `expired` once cancelled.
    pub fn status(&self) -> &'static str {
        if self.cancelled {
            "expired"
        } else if self.paid_amount() >= self.total_amount() && self.paid_amount() > Money::ZERO {
            "closed"
        } else {
            "opened"
        }
    }

    /// `payment_required` (nothing paid), `paid` / `partially_paid` by what is kept,
    /// `reverted` / `partially_reverted` once refunds took back all or part of it.
    pub fn order_status(&self) -> &'static str {
        let (paid, refunded, kept, total) =
            (self.paid_amount(), self.refunded_amount(), self.kept_amount(), self.total_amount());
        if paid == Money::ZERO {
            "payment_required"
        } else if kept >= total {
            "paid"
        } else if kept == Money::ZERO {
            "reverted"
        } else if refunded > Money::ZERO {
            "partially_reverted"
        } else {
            "partially_paid"
        }
    }

    /// The order with `payment` added or brought up to date.
    pub fn with_payment(&self, payment: &Payment, now: Timestamp) -> MerchantOrder {
        let mut order = self.clone();
        let entry = OrderPayment::of(payment);
        match order.payments.iter_mut().find(|p| p.id == payment.id) {
            Some(existing) => *existing = entry,
            None => order.payments.push(entry),
        }
        order.last_updated = now;
        order
    }
}

impl Resource for MerchantOrder {
    const KIND: &'static str = "merchant_order";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        Some(MerchantOrder::status(self))
    }

    fn created_at(&self) -> Timestamp {
        self.date_created
    }

    fn updated_at(&self) -> Timestamp {
        self.last_updated
    }

    fn index(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry::list(
            MERCHANT_ORDERS_BY_ACCOUNT,
            scoped(self.user_id, &[]),
            sort_number(self.date_created.as_millis()),
        )];
        if let Some(preference) = &self.preference_id {
            entries.push(IndexEntry::unique(MERCHANT_ORDER_OF_PREFERENCE, preference.clone()));
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(price: i64, quantity: u32) -> Item {
        Item {
            id: "1".into(),
            title: "A".into(),
            description: String::new(),
            picture_url: None,
            category_id: String::new(),
            currency_id: "BRL".into(),
            quantity,
            unit_price: Money::from_cents(price),
            echo: Echo::new(),
        }
    }

    #[test]
    fn totals_are_exact_in_cents() {
        assert_eq!(item(1050, 3).total(), Money::from_cents(3150));
    }

    #[test]
    fn a_merchant_order_closes_when_paid_and_reverts_when_refunded() {
        let mut order = MerchantOrder {
            id: 1,
            user_id: UserId::new(1).unwrap(),
            site_id: SiteId::Mlb,
            live_mode: false,
            preference_id: None,
            items: vec![item(1000, 1)],
            payments: vec![],
            notification_url: None,
            external_reference: None,
            additional_info: None,
            marketplace: "NONE".into(),
            cancelled: false,
            date_created: Timestamp::from_millis(0),
            last_updated: Timestamp::from_millis(0),
            echo: Echo::new(),
        };
        assert_eq!((order.status(), order.order_status()), ("opened", "payment_required"));
        let payment = OrderPayment {
            id: 9,
            transaction_amount: Money::from_cents(1000),
            amount_refunded: Money::ZERO,
            status: "approved".into(),
            status_detail: "accredited".into(),
            date_created: Timestamp::from_millis(0),
            date_approved: None,
            last_modified: Timestamp::from_millis(0),
        };
        order.payments.push(payment.clone());
        assert_eq!((order.status(), order.order_status()), ("closed", "paid"));
        order.payments[0].amount_refunded = Money::from_cents(1000);
        assert_eq!(order.order_status(), "reverted");
    }
}
