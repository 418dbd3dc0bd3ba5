//! Payments (`/v1/payments`, the classic Checkout API): card payments decided by the
//! card token's cardholder name, Pix and tickets left pending, captures, cancels and
//! refunds.
//!
//! Sources: the Payments reference (`reference/payments/_payments/post`,
//! `_payments_id/get`, `_payments_id/put`, `_payments_search/get`), the refunds
//! reference (`reference/chargebacks/_payments_id_refunds/*`), the payment results
//! page (`docs/checkout-api/response-handling/collection-results`) and the test-cards
//! page. `docs/fidelity.md` says where caja chooses between them.
//!
//! ```text
//! card:  approved(accredited) | authorized(pending_capture) | in_process(pending_contingency) | rejected(cc_rejected_*)
//! pix:   pending(pending_waiting_transfer)   ticket: pending(pending_waiting_payment)
//! pending | in_process | authorized ─cancel─▶ cancelled(by_collector)
//! pending ─(date_of_expiration)─▶ cancelled(expired)
//! authorized ─capture─▶ approved(accredited)
//! approved ─refund─▶ approved(partially_refunded) | refunded(refunded)
//! approved ─(test helper)─▶ charged_back(settled)
//! ```

use super::order::Echo;
use super::order_money::Money;
use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

/// How long a Pix payment waits by default (the Pix page: 24 hours).
pub const PIX_EXPIRATION_MS: i64 = 24 * 3600 * 1000;
/// How long a ticket (boleto, cash) waits by default: 3 days.
pub const TICKET_EXPIRATION_MS: i64 = 3 * 24 * 3600 * 1000;
/// How long an authorized (reserved) card payment waits for its capture: 7 days.
pub const RESERVE_MS: i64 = 7 * 24 * 3600 * 1000;
/// Installments, at most.
pub const INSTALLMENTS_MAX: u32 = 36;

/// The `status` of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Approved,
    Authorized,
    InProcess,
    InMediation,
    Rejected,
    Cancelled,
    Refunded,
    ChargedBack,
}

crate::serde_as_text!(Status, Status::parse, |s: &Status| s.as_str());

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Pending,
        Status::Approved,
        Status::Authorized,
        Status::InProcess,
        Status::InMediation,
        Status::Rejected,
        Status::Cancelled,
        Status::Refunded,
        Status::ChargedBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Authorized => "authorized",
            Status::InProcess => "in_process",
            Status::InMediation => "in_mediation",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Refunded => "refunded",
            Status::ChargedBack => "charged_back",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The most a payment (or a preference's item price or quantity) may be: caja's
/// `max_allowed_amount` for every method. Below it an amount with two decimals is
/// exact as a JSON number.
pub const AMOUNT_MAX: Money = Money::from_cents(100_000_000);

impl Method {
    /// `min_allowed_amount`: 0.50 for cards, 0.01 otherwise.
    pub fn min_amount(&self) -> Money {
        Money::from_cents(if self.card.is_some() { 50 } else { 1 })
    }

    /// Whether this method takes `amount` (cause 4037 otherwise).
    pub fn allows_amount(&self, amount: Money) -> bool {
        amount >= self.min_amount() && amount <= AMOUNT_MAX
    }
}

/// A payment method caja knows, per site (`GET /v1/payment_methods`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    pub id: &'static str,
    pub name: &'static str,
    pub payment_type_id: &'static str,
    /// Card number length and security code length (cards only).
    pub card: Option<(u8, u8)>,
}

const fn card(id: &'static str, name: &'static str, kind: &'static str, cvv: u8) -> Method {
    Method { id, name, payment_type_id: kind, card: Some((if cvv == 4 { 15 } else { 16 }, cvv)) }
}

const fn other(id: &'static str, name: &'static str, kind: &'static str) -> Method {
    Method { id, name, payment_type_id: kind, card: None }
}

const CARDS: [Method; 5] = [
    card("master", "Mastercard", "credit_card", 3),
    card("visa", "Visa", "credit_card", 3),
    card("amex", "American Express", "credit_card", 4),
    card("debmaster", "Mastercard Débito", "debit_card", 3),
    card("debvisa", "Visa Débito", "debit_card", 3),
];

/// The methods of a site: the cards everywhere, and the site's own (Pix and boleto in
/// Brazil, cash networks elsewhere).
pub fn methods(site: SiteId) -> Vec<Method> {
    let own: &[Method] = match site {
        SiteId::Mlb => &[
            card("elo", "Elo", "credit_card", 3),
            card("debelo", "Elo Débito", "debit_card", 3),
            other("pix", "PIX", "bank_transfer"),
            other("bolbradesco", "Boleto", "ticket"),
            other("pec", "Pagamento na lotérica sem boleto", "ticket"),
        ],
        SiteId::Mla => &[other("rapipago", "Rapipago", "ticket"), other("pagofacil", "Pago Fácil", "ticket")],
        SiteId::Mlm => &[other("oxxo", "OXXO", "ticket"), other("paycash", "PayCash", "ticket")],
        SiteId::Mlc => &[other("servipag", "Servipag", "ticket")],
        SiteId::Mco => &[other("efecty", "Efecty", "ticket"), other("pse", "PSE", "bank_transfer")],
        SiteId::Mpe => &[other("pagoefectivo_atm", "PagoEfectivo", "atm")],
        SiteId::Mlu => &[other("abitab", "Abitab", "ticket"), other("redpagos", "Redpagos", "ticket")],
    };
    CARDS.iter().chain(own).copied().collect()
}

/// A site's method by id.
pub fn method(site: SiteId, id: &str) -> Option<Method> {
    methods(site).into_iter().find(|m| m.id == id)
}

/// What the test environment decides for a card, by the cardholder's name (the
/// test-cards table, with the payment results page's details).
pub fn card_result(cardholder_name: Option<&str>) -> (Status, &'static str) {
    let name = cardholder_name.unwrap_or("").trim().to_ascii_uppercase();
    let rejected = |detail| (Status::Rejected, detail);
    match name.as_str() {
        "CONT" => (Status::InProcess, "pending_contingency"),
        "OTHE" => rejected("cc_rejected_other_reason"),
        "CALL" => rejected("cc_rejected_call_for_authorize"),
        "FUND" => rejected("cc_rejected_insufficient_amount"),
        "SECU" => rejected("cc_rejected_bad_filled_security_code"),
        "EXPI" => rejected("cc_rejected_bad_filled_date"),
        "FORM" => rejected("cc_rejected_bad_filled_other"),
        "CARD" => rejected("cc_rejected_bad_filled_card_number"),
        "INST" => rejected("cc_rejected_invalid_installments"),
        "DUPL" => rejected("cc_rejected_duplicated_payment"),
        "LOCK" => rejected("cc_rejected_card_disabled"),
        "CTNA" => rejected("cc_rejected_card_type_not_allowed"),
        "ATTE" => rejected("cc_rejected_max_attempts"),
        "BLAC" => rejected("cc_rejected_blacklist"),
        "UNSU" => rejected("cc_rejected_other_reason"),
        _ => (Status::Approved, "accredited"),
    }
}

/// The card a payment was made with: its ends and its holder, never more.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentCard {
    pub first_six_digits: String,
    pub last_four_digits: String,
    pub expiration_month: u8,
    pub expiration_year: u16,
    pub cardholder_name: Option<String>,
    pub identification_type: Option<String>,
    pub identification_number: Option<String>,
    pub date_created: Timestamp,
}

/// One refund of a payment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaymentRefund {
    pub id: i64,
    pub amount: Money,
    pub date_created: Timestamp,
    /// The refund's `metadata`, as sent (an object, or null).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// A stored payment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Payment {
    /// A number below 2^53, as the API shows it.
    pub id: i64,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub status: Status,
    pub status_detail: String,
    pub transaction_amount: Money,
    /// What a capture left reserved (an authorized payment's original amount).
    pub authorized_amount: Money,
    pub transaction_amount_refunded: Money,
    pub captured: bool,
    pub binary_mode: bool,
    pub installments: u32,
    pub payment_method_id: String,
    pub payment_type_id: String,
    pub issuer_id: Option<String>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub statement_descriptor: Option<String>,
    pub notification_url: Option<String>,
    pub card: Option<PaymentCard>,
    pub refunds: Vec<PaymentRefund>,
    pub date_created: Timestamp,
    pub date_approved: Option<Timestamp>,
    pub date_last_updated: Timestamp,
    /// Pending Pix and tickets, and reserves: when the payment is cancelled unpaid.
    pub date_of_expiration: Option<Timestamp>,
    /// A Checkout Pro payment's merchant order.
    #[serde(default)]
    pub merchant_order_id: Option<i64>,
    /// `payer`, `metadata`, `additional_info` and the other fields caja keeps as sent.
    pub echo: Echo,
}

/// Listing entries: an account's payments, and by `external_reference`.
pub const BY_ACCOUNT: &str = "payments";
pub const BY_EXTERNAL_REFERENCE: &str = "payment_external_reference";

impl Resource for Payment {
    const KIND: &'static str = "payment";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        Some(self.status.as_str())
    }

    fn created_at(&self) -> Timestamp {
        self.date_created
    }

    fn updated_at(&self) -> Timestamp {
        self.date_last_updated
    }

    fn index(&self) -> Vec<IndexEntry> {
        let sort = sort_number(self.date_created.as_millis());
        let mut entries = vec![IndexEntry::list(BY_ACCOUNT, scoped(self.user_id, &[]), sort.clone())];
        if let Some(reference) = &self.external_reference {
            entries.push(IndexEntry::list(BY_EXTERNAL_REFERENCE, scoped(self.user_id, &[reference]), sort));
        }
        entries
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.date_of_expiration.filter(|_| matches!(self.status, Status::Pending | Status::Authorized))
    }
}

/// One of the reference's numbered causes: `{"code":4037,"description":"Invalid
/// transaction_amount."}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause {
    pub code: u32,
    pub description: &'static str,
}

const fn cause(code: u32, description: &'static str) -> Cause {
    Cause { code, description }
}

pub const PARAMS_ERROR: Cause = cause(1, "Params Error.");
pub const WRONG_PARAMETER: Cause = cause(8, "The name of the following parameters is wrong.");
pub const DATE_FORMAT: Cause =
    cause(23, "The following parameters must be valid date and format (yyyy-MM-dd'T'HH:mm:ssz) date_of_expiration.");
pub const TOKEN_NULL: Cause = cause(4000, "Token attribute can't be null.");
pub const METHOD_NULL: Cause = cause(4001, "Payment_method_id attribute can't be null.");
pub const AMOUNT_NULL: Cause = cause(4002, "Transaction_amount attribute can't be null.");
pub const AMOUNT_NOT_NUMERIC: Cause = cause(4003, "Transaction_amount attribute must be numeric.");
pub const INSTALLMENTS_NULL: Cause = cause(4004, "Installments attribute can't be null.");
pub const INSTALLMENTS_NOT_NUMERIC: Cause = cause(4005, "Installments attribute must be numeric.");
pub const PAYER_MALFORMED: Cause = cause(4006, "Payer attribute is malformed.");
pub const STATUS_NULL: Cause = cause(4017, "Status attribute can't be null.");
pub const NOTIFICATION_URL_INVALID: Cause = cause(4020, "Notification_url attribute must be a valid URL.");
pub const NOTIFICATION_URL_LONG: Cause = cause(4021, "Notification_url attribute must be shorter than 500 characters.");
pub const METADATA_INVALID: Cause = cause(4022, "Metadata attribute must be a valid JSON.");
pub const INSTALLMENTS_INVALID: Cause = cause(4033, "Invalid installments.");
pub const AMOUNT_INVALID: Cause = cause(4037, "Invalid transaction_amount.");
pub const REFUND_AMOUNT_NOT_POSITIVE: Cause = cause(4040, "amount attribute must be positive");
pub const REFUND_AMOUNT_NOT_NUMERIC: Cause = cause(4041, "amount attribute must be numeric");
pub const EMAIL_INVALID: Cause = cause(4050, "Payer.email must be a valid email.");
pub const METHOD_INVALID: Cause = cause(3028, "Invalid payment_method_id.");
pub const CAPTURE_NOT_BOOLEAN: Cause = cause(2078, "Capture attribute must be boolean.");

/// Why a payment operation was refused, with the reference's numbered cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A field refused with its numbered cause.
    Invalid(Cause),
    /// 2018: a cancel in a status that does not allow it.
    CannotCancel,
    /// 2079 / 2016: a capture of what is not authorized, or more than it reserved.
    CannotCapture,
    /// 2016: a status change other than `cancelled`.
    InvalidStatus,
    /// 2063: a refund of a payment that is not approved.
    CannotRefund,
    /// 2063 too: a refund above what is left (the reference documents no other code).
    RefundExceeds,
    /// 2032: no such refund.
    RefundNotFound,
    /// 2006: no such card token.
    TokenNotFound,
    /// 3003: a used or expired card token.
    TokenUsed,
    /// The test helper asked for a move the machine forbids.
    InvalidTransition,
    /// 404 for a Checkout Pro resource: no preference, or no merchant order, of this account.
    PreferenceNotFound,
    MerchantOrderNotFound,
}

impl Payment {
    fn moved(&self, status: Status, detail: &str, now: Timestamp) -> Payment {
        Payment { status, status_detail: detail.to_owned(), date_last_updated: now, ..self.clone() }
    }

    /// `PUT {"status":"cancelled"}`: pending, in process or authorized payments only.
    pub fn cancelled(&self, now: Timestamp) -> Result<Payment, Refusal> {
        match self.status {
            Status::Pending | Status::InProcess | Status::Authorized => {
                Ok(Payment { date_of_expiration: None, ..self.moved(Status::Cancelled, "by_collector", now) })
            }
            _ => Err(Refusal::CannotCancel),
        }
    }

    /// `PUT {"capture":true[,"transaction_amount"]}`: all of an authorized payment, or
    /// less.
    pub fn captured(&self, amount: Option<Money>, now: Timestamp) -> Result<Payment, Refusal> {
        if self.status != Status::Authorized {
            return Err(Refusal::CannotCapture);
        }
        let amount = amount.unwrap_or(self.transaction_amount);
        if amount > self.authorized_amount || amount == Money::ZERO {
            return Err(Refusal::CannotCapture);
        }
        Ok(Payment {
            transaction_amount: amount,
            captured: true,
            date_approved: Some(now),
            date_of_expiration: None,
            ..self.moved(Status::Approved, "accredited", now)
        })
    }

    /// What may still be refunded.
    pub fn refundable(&self) -> Money {
        self.transaction_amount.minus(self.transaction_amount_refunded)
    }

    /// A refund of `amount` (everything left when `None`).
    pub fn refunded(
        &self,
        amount: Option<Money>,
        refund_id: i64,
        metadata: Option<serde_json::Value>,
        now: Timestamp,
    ) -> Result<(Payment, PaymentRefund), Refusal> {
        if self.status != Status::Approved {
            return Err(Refusal::CannotRefund);
        }
        let amount = amount.unwrap_or(self.refundable());
        if amount > self.refundable() || amount == Money::ZERO {
            return Err(Refusal::RefundExceeds);
        }
        let refund = PaymentRefund { id: refund_id, amount, date_created: now, metadata };
        let refunded = self.transaction_amount_refunded.plus(amount);
        let whole = refunded == self.transaction_amount;
        let (status, detail) =
            if whole { (Status::Refunded, "refunded") } else { (Status::Approved, "partially_refunded") };
        let mut payment = Payment { transaction_amount_refunded: refunded, ..self.moved(status, detail, now) };
        payment.refunds.push(refund.clone());
        Ok((payment, refund))
    }

    /// A pending payment past its `date_of_expiration`, or a reserve never captured.
    pub fn expired(&self, now: Timestamp) -> Option<Payment> {
        let due = self.date_of_expiration.is_some_and(|at| at <= now);
        (due && matches!(self.status, Status::Pending | Status::Authorized))
            .then(|| Payment { date_of_expiration: None, ..self.moved(Status::Cancelled, "expired", now) })
    }

    /// caja's test helper: what the payer, the bank or the card network would do.
    pub fn simulated(&self, event: Simulation, now: Timestamp) -> Result<Payment, Refusal> {
        use Status as S;
        let next = match (event, self.status) {
            (Simulation::Approve, S::Pending | S::InProcess) => Payment {
                captured: true,
                date_approved: Some(now),
                date_of_expiration: None,
                ..self.moved(S::Approved, "accredited", now)
            },
            (Simulation::Reject, S::Pending | S::InProcess) => {
                // A card's issuer declines; a transfer's or ticket's bank errs.
                let detail = if self.card.is_some() { "cc_rejected_other_reason" } else { "bank_error" };
                Payment { date_of_expiration: None, ..self.moved(S::Rejected, detail, now) }
            }
            (Simulation::Expire, S::Pending | S::Authorized) => {
                Payment { date_of_expiration: None, ..self.moved(S::Cancelled, "expired", now) }
            }
            (Simulation::ChargeBack, S::Approved) => self.moved(S::ChargedBack, "settled", now),
            _ => return Err(Refusal::InvalidTransition),
        };
        Ok(next)
    }
}

/// caja's test-helper events (`POST /v1/payments/{id}/events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simulation {
    /// The payer paid (Pix, ticket) or the review passed (`in_process`).
    Approve,
    Reject,
    /// Cancel an unpaid payment or reserve as its expiry would.
    Expire,
    ChargeBack,
}

impl Simulation {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "approved" => Some(Simulation::Approve),
            "rejected" => Some(Simulation::Reject),
            "expired" => Some(Simulation::Expire),
            "charged_back" => Some(Simulation::ChargeBack),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cardholder_name_decides() {
        assert_eq!(card_result(Some("APRO")), (Status::Approved, "accredited"));
        assert_eq!(card_result(Some("othe")), (Status::Rejected, "cc_rejected_other_reason"));
        assert_eq!(card_result(Some("CONT")), (Status::InProcess, "pending_contingency"));
        assert_eq!(card_result(Some("FUND")), (Status::Rejected, "cc_rejected_insufficient_amount"));
    }

    #[test]
    fn every_site_has_the_cards_and_brazil_has_pix() {
        for site in SiteId::ALL {
            assert!(method(site, "master").is_some());
        }
        assert_eq!(method(SiteId::Mlb, "pix").map(|m| m.payment_type_id), Some("bank_transfer"));
        assert!(method(SiteId::Mla, "pix").is_none());
    }
}

#[cfg(test)]
mod machine_properties {
    use proptest::prelude::*;

    use super::*;

    fn payment(status: Status) -> Payment {
        let now = Timestamp::from_millis(1_000);
        Payment {
            id: 1,
            user_id: UserId::new(7).unwrap_or_else(|| unreachable!()),
            site_id: SiteId::Mlb,
            live_mode: false,
            status,
            status_detail: "x".into(),
            transaction_amount: Money::from_cents(10_000),
            authorized_amount: Money::from_cents(10_000),
            transaction_amount_refunded: Money::ZERO,
            captured: status != Status::Authorized,
            binary_mode: false,
            installments: 1,
            payment_method_id: "master".into(),
            payment_type_id: "credit_card".into(),
            issuer_id: None,
            description: None,
            external_reference: None,
            statement_descriptor: None,
            notification_url: None,
            card: None,
            refunds: Vec::new(),
            date_created: now,
            date_approved: None,
            date_last_updated: now,
            date_of_expiration: Some(now.plus_millis(1_000)),
            merchant_order_id: None,
            echo: Echo::new(),
        }
    }

    proptest! {
        /// Random walks from any start: final statuses stay final, refunds never pass
        /// the amount, a capture never passes the reserve.
        #[test]
        fn random_walks_keep_the_payments_rules(
            start in 0usize..9,
            events in proptest::collection::vec((0u8..7, 1i64..15_000), 0..30),
        ) {
            let mut p = payment(Status::ALL[start]);
            for (i, (event, cents)) in events.into_iter().enumerate() {
                let t = Timestamp::from_millis(2_000 + i as i64 * 1_000);
                let before = p.clone();
                let next = match event {
                    0 => p.cancelled(t).ok(),
                    1 => p.captured(Some(Money::from_cents(cents)), t).ok(),
                    2 => p.refunded(Some(Money::from_cents(cents)), i as i64, None, t).ok().map(|(p, _)| p),
                    3 => p.refunded(None, i as i64, None, t).ok().map(|(p, _)| p),
                    4 => p.expired(t),
                    5 => p.simulated(Simulation::Approve, t).ok(),
                    _ => p.simulated(Simulation::ChargeBack, t).ok(),
                };
                if let Some(next) = next {
                    p = next;
                }
                if matches!(before.status, Status::Rejected | Status::Cancelled | Status::Refunded | Status::ChargedBack) {
                    prop_assert_eq!(p.status, before.status, "{:?} is final", before.status);
                }
                prop_assert!(p.transaction_amount_refunded <= p.transaction_amount);
                prop_assert!(p.transaction_amount <= p.authorized_amount);
                let listed: i64 = p.refunds.iter().map(|r| r.amount.cents()).sum();
                prop_assert_eq!(listed, p.transaction_amount_refunded.cents());
            }
        }
    }
}
