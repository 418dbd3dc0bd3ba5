//! Checkout Pro: preferences, merchant orders, and a payment made on caja's hosted
//! checkout page, which lands in the preference's merchant order.

use super::payments;
use super::resource::{self, Document, Stored};
use super::{audit, enqueue_ipn, record_change, Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::card::CardFace;
use crate::domain::checkout::{
    MerchantOrder, Preference, MERCHANT_ORDERS_BY_ACCOUNT, MERCHANT_ORDER_OF_PREFERENCE, PREFERENCES_BY_ACCOUNT,
};
use crate::domain::checkout_draft::{
    new_merchant_order, updated_merchant_order, updated_preference, MerchantOrderDraft, PreferenceDraft,
};
use crate::domain::payment::{Payment, Refusal};
use crate::domain::resource::scoped;
use crate::domain::{ResourceType, UserId};

type Ran<T> = Result<Result<T, Failure>, StoreError>;

/// Preferences or merchant orders read per index page while searching.
const SEARCH_PAGE: u32 = 500;

fn invalid<T>(why: String) -> Ran<T> {
    Ok(Err(Failure::InvalidBody(why)))
}

/// `POST /checkout/preferences`: a preference already checked.
#[derive(Clone, Debug)]
pub struct CreatePreference {
    pub preference: Preference,
}

impl Operation for CreatePreference {
    type Effect = Preference;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Preference> {
        resource::insert(uow, &self.preference)?;
        uow.append_audit(&audit(ctx, ResourceType::Preference, self.preference.id.clone(), None, "created", None))?;
        Ok(Ok(self.preference.clone()))
    }
}

/// `PUT /checkout/preferences/{id}`: the fields sent replace the preference's.
#[derive(Clone, Debug)]
pub struct UpdatePreference {
    pub id: String,
    pub draft: PreferenceDraft,
}

impl Operation for UpdatePreference {
    type Effect = Preference;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Preference> {
        let Some(stored) = owned::<Preference>(uow, ctx.principal.user_id, &self.id)? else {
            return Ok(Err(Failure::Payment(Refusal::PreferenceNotFound)));
        };
        let updated = match updated_preference(&stored.value, self.draft.clone(), ctx.now) {
            Ok(updated) => updated,
            Err(why) => return invalid(why.0),
        };
        resource::update(uow, &stored, &updated)?;
        uow.append_audit(&audit(ctx, ResourceType::Preference, self.id.clone(), Some("created"), "updated", None))?;
        // Its merchant order, while open, asks for what the preference now asks for.
        if let Some(id) = resource::find_unique::<MerchantOrder>(uow, MERCHANT_ORDER_OF_PREFERENCE, &self.id)? {
            if let Some(order) = resource::load::<MerchantOrder>(uow, &id)?.filter(|o| o.value.status() == "opened") {
                let followed =
                    MerchantOrder { items: updated.items.clone(), last_updated: ctx.now, ..order.value.clone() };
                resource::update(uow, &order, &followed)?;
                record_order(uow, By::Request(ctx), Some(&order.value), &followed)?;
            }
        }
        Ok(Ok(updated))
    }
}

/// `POST /merchant_orders`: a merchant order, of a preference (one each) or of its own
/// items.
#[derive(Clone, Debug)]
pub struct CreateMerchantOrder {
    pub id: i64,
    pub draft: MerchantOrderDraft,
}

impl Operation for CreateMerchantOrder {
    type Effect = MerchantOrder;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<MerchantOrder> {
        let user = ctx.principal.user_id;
        let preference = match &self.draft.preference_id {
            None => None,
            Some(id) => match owned::<Preference>(uow, user, id)? {
                Some(p) => Some(p.value),
                None => return invalid(format!("preference_id {id} is not a preference of this account")),
            },
        };
        if let Some(id) = &self.draft.preference_id {
            if resource::find_unique::<MerchantOrder>(uow, MERCHANT_ORDER_OF_PREFERENCE, id)?.is_some() {
                return invalid(format!("preference {id} already has a merchant order"));
            }
        }
        let order = match new_merchant_order(self.draft.clone(), self.id, preference.as_ref(), &ctx.principal, ctx.now)
        {
            Ok(order) => order,
            Err(why) => return invalid(why.0),
        };
        resource::insert(uow, &order)?;
        record_order(uow, By::Request(ctx), None, &order)?;
        Ok(Ok(order))
    }
}

/// `PUT /merchant_orders/{id}`.
#[derive(Clone, Debug)]
pub struct UpdateMerchantOrder {
    pub id: i64,
    pub draft: MerchantOrderDraft,
}

impl Operation for UpdateMerchantOrder {
    type Effect = MerchantOrder;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<MerchantOrder> {
        let Some(stored) = owned::<MerchantOrder>(uow, ctx.principal.user_id, &self.id.to_string())? else {
            return Ok(Err(Failure::Payment(Refusal::MerchantOrderNotFound)));
        };
        let updated = match updated_merchant_order(&stored.value, self.draft.clone(), ctx.now) {
            Ok(updated) => updated,
            Err(why) => return invalid(why.0),
        };
        resource::update(uow, &stored, &updated)?;
        record_order(uow, By::Request(ctx), Some(&stored.value), &updated)?;
        Ok(Ok(updated))
    }
}

/// What the buyer chose on the hosted checkout.
#[derive(Clone, Debug)]
pub enum Choice {
    /// A test card (its face only: the number was looked at and dropped).
    Card(CardFace),
    /// Pix (or another method with no card).
    Other,
}

/// The hosted checkout's payment: made for the preference's owner, in its merchant
/// order (made on the first payment), notified to the preference's
/// `notification_url`.
#[derive(Clone, Debug)]
pub struct PayPreference {
    pub preference_id: String,
    /// The payment, checked and still undecided (a card's is decided here).
    pub payment: Payment,
    pub choice: Choice,
    /// The merchant order's id, should this be the preference's first payment.
    pub merchant_order_id: i64,
}

impl Operation for PayPreference {
    type Effect = (Payment, MerchantOrder);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<(Payment, MerchantOrder)> {
        let user = ctx.principal.user_id;
        let Some(preference) = owned::<Preference>(uow, user, &self.preference_id)? else {
            return Ok(Err(Failure::Payment(Refusal::PreferenceNotFound)));
        };
        let existing = resource::find_unique::<MerchantOrder>(uow, MERCHANT_ORDER_OF_PREFERENCE, &self.preference_id)?;
        let existing = match existing {
            Some(id) => resource::load::<MerchantOrder>(uow, &id)?,
            None => None,
        };
        let order = match existing {
            Some(order) => order,
            None => {
                let draft =
                    MerchantOrderDraft { preference_id: Some(self.preference_id.clone()), ..Default::default() };
                let order =
                    new_merchant_order(draft, self.merchant_order_id, Some(&preference.value), &ctx.principal, ctx.now)
                        .map_err(|why| StoreError::Database(format!("a preference's merchant order: {}", why.0)))?;
                resource::insert(uow, &order)?;
                record_order(uow, By::Request(ctx), None, &order)?;
                Stored { version: 1, value: order }
            }
        };
        let mut payment = self.payment.clone();
        payment.merchant_order_id = Some(order.value.id);
        if let Choice::Card(face) = &self.choice {
            payments::decide(&mut payment, face, ctx.now);
        }
        let payment = payments::insert(uow, ctx, payment)?;
        let updated = order.value.with_payment(&payment, ctx.now);
        resource::update(uow, &order, &updated)?;
        record_order(uow, By::Request(ctx), Some(&order.value), &updated)?;
        Ok(Ok((payment, updated)))
    }
}

/// Bring a payment's merchant order up to date after the payment changed (a
/// capture, refund, cancel or test-helper move).
pub fn payment_changed(uow: &mut dyn UnitOfWork, by: By<'_>, payment: &Payment) -> Result<(), StoreError> {
    let Some(id) = payment.merchant_order_id else {
        return Ok(());
    };
    let Some(order) = resource::load::<MerchantOrder>(uow, &id.to_string())? else {
        return Ok(());
    };
    let updated = order.value.with_payment(payment, by.now());
    resource::update(uow, &order, &updated)?;
    record_order(uow, by, Some(&order.value), &updated)
}

/// Who made a change: a request, or the worker (expiry).
#[derive(Clone, Copy)]
pub enum By<'a> {
    Request(&'a RequestContext),
    Worker { user: UserId, now: crate::domain::Timestamp },
}

impl By<'_> {
    fn now(self) -> crate::domain::Timestamp {
        match self {
            By::Request(ctx) => ctx.now,
            By::Worker { now, .. } => now,
        }
    }

    fn event(self, id: String, from: Option<&str>, to: &str) -> crate::domain::AuditEvent {
        match self {
            By::Request(ctx) => audit(ctx, ResourceType::MerchantOrder, id, from, to, None),
            By::Worker { user, now } => super::worker_audit(user, ResourceType::MerchantOrder, id, from, to, now),
        }
    }
}

/// Audit a merchant order's change; a change of `status` is notified (`type=merchant_order`).
fn record_order(
    uow: &mut dyn UnitOfWork,
    by: By<'_>,
    before: Option<&MerchantOrder>,
    after: &MerchantOrder,
) -> Result<(), StoreError> {
    let from = before.map(MerchantOrder::status);
    let event = by.event(after.id.to_string(), from, after.status());
    if from == Some(after.status()) {
        return uow.append_audit(&event);
    }
    // A merchant order's own URL also gets the legacy IPN (`topic=merchant_order`).
    if let Some(url) = after.notification_url.as_deref() {
        enqueue_ipn(uow, &event, url, after.external_reference.as_deref())?;
    }
    record_change(uow, event, after.external_reference.as_deref(), after.notification_url.as_deref())
}

fn owned<R: Document>(reads: &mut dyn Reads, user: UserId, id: &str) -> Result<Option<Stored<R>>, StoreError> {
    Ok(resource::load::<R>(reads, id)?.filter(|r| r.value.user_id() == user))
}

/// A preference of this account.
pub fn preference(reads: &mut dyn Reads, user: UserId, id: &str) -> Result<Option<Preference>, StoreError> {
    Ok(owned::<Preference>(reads, user, id)?.map(|s| s.value))
}

/// A preference by id alone: the hosted checkout page is public, as the real one is.
pub fn public_preference(reads: &mut dyn Reads, id: &str) -> Result<Option<Preference>, StoreError> {
    resource::read::<Preference>(reads, id)
}

/// A merchant order of this account.
pub fn merchant_order(reads: &mut dyn Reads, user: UserId, id: i64) -> Result<Option<MerchantOrder>, StoreError> {
    Ok(owned::<MerchantOrder>(reads, user, &id.to_string())?.map(|s| s.value))
}

/// The account's preferences (or merchant orders), newest first, that `keep` keeps:
/// a page of them and how many in all.
pub fn search_preferences(
    reads: &mut dyn Reads,
    user: UserId,
    keep: &dyn Fn(&Preference) -> bool,
    offset: u64,
    limit: u32,
) -> Result<(Vec<Preference>, u64), StoreError> {
    search(reads, PREFERENCES_BY_ACCOUNT, user, keep, offset, limit)
}

pub fn search_merchant_orders(
    reads: &mut dyn Reads,
    user: UserId,
    keep: &dyn Fn(&MerchantOrder) -> bool,
    offset: u64,
    limit: u32,
) -> Result<(Vec<MerchantOrder>, u64), StoreError> {
    search(reads, MERCHANT_ORDERS_BY_ACCOUNT, user, keep, offset, limit)
}

fn search<R: Document>(
    reads: &mut dyn Reads,
    list: &'static str,
    user: UserId,
    keep: &dyn Fn(&R) -> bool,
    offset: u64,
    limit: u32,
) -> Result<(Vec<R>, u64), StoreError> {
    let value = scoped(user, &[]);
    let mut matching = Vec::new();
    let mut at = 0;
    loop {
        let page = resource::list::<R>(reads, list, &value, SEARCH_PAGE, at)?;
        let read = page.items.len() as u64;
        matching.extend(page.items.into_iter().filter(|r| keep(r)));
        at += read;
        if read == 0 || at >= page.total {
            break;
        }
    }
    matching.reverse();
    let total = matching.len() as u64;
    Ok((matching.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
}
