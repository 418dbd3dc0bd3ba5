//! Orders (`/v1/orders`): online orders (cards, Pix, tickets) and Point orders sent to
//! a terminal. One order holds at most one payment, as the current reference pages
//! say ("It can contain only one transaction"; "When the type is point, it is only
//! possible to include 1 transaction per order").
//!
//! Sources: Mercado Pago's Orders reference pages, online
//! (`reference/online-payments/checkout-api/{create-order,get-order,process-order,
//! capture-order,cancel-order,refund-order,add-transaction-order,
//! update-transaction-order,delete-transaction-order}`) and Point
//! (`reference/in-person-payments/point/orders/{create-order,get-order,cancel-order,
//! refund-order,simulate-order}`), the Point status page
//! (`docs/mp-point/resources/status-order-transaction`) and the SDKs' order types.
//! Where they disagree, `docs/fidelity.md` says which one caja follows and why.
//!
//! The machine, per order type:
//!
//! ```text
//! online: created ─process─▶ processed | action_required | processing | failed
//!         (automatic mode: create decides at once)
//!         action_required(waiting_capture) ─capture─▶ processed
//!         created | action_required ─cancel─▶ canceled
//!         processing | action_required ─(test helper)─▶ processed | failed | expired
//! point:  created ─▶ at_terminal ─▶ processed | failed | canceled | expired | action_required
//!         created ─cancel─▶ canceled;  created | at_terminal ─(expiration_time)─▶ expired
//! both:   processed ─refund─▶ processed (partially_refunded) | refunded
//! ```

use std::collections::BTreeMap;

use super::order_money::Money;
use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

pub use super::order_money::{parse_duration_ms, Money as OrderMoney};

/// Payments per order, both types (the reference pages' "only one transaction").
pub const PAYMENTS_PER_ORDER_MAX: usize = 1;
/// `external_reference`: letters, digits, `-` and `_`, at most this many.
pub const EXTERNAL_REFERENCE_CHARS_MAX: usize = 64;
/// `description` of a Point order, at most this many characters.
pub const DESCRIPTION_CHARS_MAX: usize = 150;
/// `payment_method.installments`, at most.
pub const INSTALLMENTS_MAX: u32 = 36;
/// A Point order waits this long at most when `expiration_time` is not sent (`PT15M`).
pub const POINT_EXPIRATION_DEFAULT: &str = "PT15M";
/// `expiration_time` of a Point order: from `PT30S` to `PT3H`, in milliseconds.
pub const POINT_EXPIRATION_MIN_MS: i64 = 30_000;
pub const POINT_EXPIRATION_MAX_MS: i64 = 3 * 3600 * 1000;

/// An id of the Orders platform: a prefix (`ORD`, `PAY`, `REF`) and 26 characters
/// of a ULID (Crockford base32, upper case): 10 of time, 16 of randomness.
macro_rules! ulid_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        crate::serde_as_text!($name, $name::parse, |id: &$name| id.0.clone());

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// `PREFIX` followed by exactly 26 Crockford base32 characters.
            pub fn parse(raw: &str) -> Option<Self> {
                let rest = raw.strip_prefix($prefix)?;
                (rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b))).then(|| $name(raw.to_owned()))
            }

            /// A new id at `now`, its randomness drawn by the caller.
            pub fn new(now: Timestamp, random: u128) -> Self {
                $name(format!("{}{}", $prefix, ulid(now, random)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn ulid(now: Timestamp, random: u128) -> String {
    let time = (now.as_millis().max(0) as u128) & ((1 << 48) - 1);
    let value = (time << 80) | (random & ((1 << 80) - 1));
    (0..26).rev().map(|i| CROCKFORD[((value >> (i * 5)) & 31) as usize] as char).collect()
}

ulid_id!(OrderId, "ORD");
ulid_id!(PaymentId, "PAY");
ulid_id!(RefundId, "REF");

/// Declares an enum spelled as the API spells it, stored as that text.
macro_rules! spelled {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        crate::serde_as_text!($name, $name::parse, |v: &$name| v.as_str());

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw)
            }
        }
    };
}

spelled!(
    /// `type`: the product the order belongs to.
    OrderType { Online = "online", Point = "point" }
);
spelled!(
    /// `processing_mode`: `automatic` decides the payment on create; `manual` waits
    /// for `POST /v1/orders/{id}/process`.
    ProcessingMode { Automatic = "automatic", Manual = "manual" }
);
spelled!(
    /// `capture_mode`: `manual` reserves the amount until `/capture`.
    CaptureMode { Automatic = "automatic", AutomaticAsync = "automatic_async", Manual = "manual" }
);
spelled!(
    /// The `status` of an order and of its payments.
    Status {
        Created = "created",
        Processing = "processing",
        AtTerminal = "at_terminal",
        ActionRequired = "action_required",
        Processed = "processed",
        Failed = "failed",
        Canceled = "canceled",
        Expired = "expired",
        Refunded = "refunded",
    }
);
spelled!(
    /// `payment_method.type` values caja decides payments for.
    PaymentType {
        CreditCard = "credit_card",
        DebitCard = "debit_card",
        PrepaidCard = "prepaid_card",
        BankTransfer = "bank_transfer",
        Ticket = "ticket",
    }
);

impl PaymentType {
    pub fn is_card(self) -> bool {
        matches!(self, PaymentType::CreditCard | PaymentType::DebitCard | PaymentType::PrepaidCard)
    }
}

/// The fields caja keeps but does not interpret (`items`, `payer`, `config`,
/// `integration_data`, `shipment`, `additional_info`, …), by name, exactly as sent.
/// The domain never looks inside them.
pub type Echo = BTreeMap<String, serde_json::Value>;

/// A payment's `payment_method`, as sent (online) or as the terminal reports it
/// (Point).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaymentMethod {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The card token's id (the token itself is used up by the payment).
    pub token: Option<String>,
    pub installments: Option<u32>,
    pub statement_descriptor: Option<String>,
    /// Other fields of `payment_method`, kept as sent.
    #[serde(default)]
    pub echo: Echo,
}

/// One payment (`transactions.payments[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub amount: Money,
    /// Set once the payment is processed.
    pub paid_amount: Option<Money>,
    /// What refunds took back so far.
    pub refunded_amount: Money,
    /// The payment's number in the payments network, once processed.
    pub reference_id: Option<String>,
    pub status: Status,
    pub status_detail: String,
    pub payment_method: Option<PaymentMethod>,
    /// Card payments: the card's first six and last four digits, never more.
    pub card: Option<(String, String)>,
    /// Other fields of the payment, kept as sent (`expiration_time`, …).
    #[serde(default)]
    pub echo: Echo,
}

/// One refund (`transactions.refunds[]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub transaction_id: PaymentId,
    pub reference_id: Option<String>,
    pub amount: Money,
    /// Always `processed`: caja settles refunds at once.
    pub status: String,
}

/// A stored order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub order_type: OrderType,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    /// `None` only for a manual online order created without one (it must come
    /// before `/process`).
    pub total_amount: Option<Money>,
    pub processing_mode: ProcessingMode,
    /// Online orders only.
    pub capture_mode: Option<CaptureMode>,
    pub status: Status,
    pub status_detail: String,
    /// As sent (an ISO 8601 duration); a Point order gets `PT15M` when none is sent.
    pub expiration_time: Option<String>,
    /// A Point order that is still `created` or `at_terminal` expires then.
    pub expires_at: Option<Timestamp>,
    /// Point orders: the terminal the order was sent to.
    pub terminal_id: Option<String>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    /// The request's fields caja keeps without reading them.
    pub echo: Echo,
    /// Counts the order's changes (`data.version` in the Point webhooks).
    pub version: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Why an order operation was refused: the Orders pages' codes, one variant each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 409 `cannot_cancel_order` (the message differs for Point).
    CannotCancel { status: Status, point: bool },
    /// 409 `order_already_canceled`.
    AlreadyCanceled,
    /// 409 `cannot_capture_order`.
    CannotCapture,
    /// 409 `cannot_refund_order`.
    CannotRefund,
    /// 409 `order_already_refunded`.
    AlreadyRefunded,
    /// 409 `operation_not_supported`: the order's status does not allow it.
    NotSupported,
    /// 400 `invalid_order_mode_for_operation`: only manual orders do this.
    WrongMode,
    /// 400 `invalid_total_amount`.
    TotalMismatch,
    /// 400 `exceeded_number_of_transactions`.
    TooManyTransactions,
    /// 400 `order_builder_without_transactions`.
    NoTransactions,
    /// 400 `refund_amount_exceeds`.
    RefundExceeds,
    /// 404 `transaction_not_found`.
    TransactionNotFound,
    /// 400 `invalid_email_for_sandbox`.
    SandboxEmail,
    /// 400 `invalid_order_type`.
    InvalidOrderType,
    /// 400 `bad_request` (test helper): the machine does not allow this move.
    InvalidTransition,
    /// 400 `bad_request` (test helper): its path or body is wrong; the message says how.
    BadRequest(String),
    /// 400 `required_search_params`: `begin_date` and `end_date` are required.
    RequiredSearchParams,
    /// 400 `invalid_search_params`, naming the parameter.
    InvalidSearchParams(String),
}

/// The unique entry that keeps one open Point order per terminal.
pub const OPEN_ON_TERMINAL: &str = "open_on_terminal";
/// Listing entries: an account's orders, and by `external_reference`.
pub const BY_ACCOUNT: &str = "orders";
pub const BY_EXTERNAL_REFERENCE: &str = "order_external_reference";

impl Resource for Order {
    const KIND: &'static str = "order";

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
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    fn index(&self) -> Vec<IndexEntry> {
        let sort = sort_number(self.created_at.as_millis());
        let mut entries = vec![IndexEntry::list(BY_ACCOUNT, scoped(self.user_id, &[]), sort.clone())];
        if let Some(reference) = &self.external_reference {
            entries.push(IndexEntry::list(BY_EXTERNAL_REFERENCE, scoped(self.user_id, &[reference]), sort));
        }
        if let (Some(terminal), true) = (&self.terminal_id, self.open_on_terminal()) {
            entries.push(IndexEntry::unique(OPEN_ON_TERMINAL, open_on_terminal(self.user_id, terminal)));
        }
        entries
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.expires_at.filter(|_| self.open_on_terminal())
    }
}

/// The value of the [`OPEN_ON_TERMINAL`] entry of a terminal. Scoped to the account:
/// a terminal has one owner, except the virtual one every test account shares.
pub fn open_on_terminal(user: UserId, terminal_id: &str) -> String {
    scoped(user, &[terminal_id])
}

/// Mercado Pago's standard virtual terminal, "identificado por el serial
/// `SBX0000001`", usable with any terminal type (`NEWLAND_N950__SBX0000001`) by every
/// test account (Point integration-test page).
pub const VIRTUAL_TERMINAL_SERIAL: &str = "SBX0000001";

/// Is this the virtual terminal, which belongs to no account?
pub fn is_virtual_terminal(terminal_id: &str) -> bool {
    terminal_id.rsplit_once("__").is_some_and(|(_, serial)| serial == VIRTUAL_TERMINAL_SERIAL)
}

/// What the card's issuer says, as Mercado Pago's test environment decides it from
/// the cardholder's name (the test-cards page's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardDecision {
    Approved,
    /// `CONT`: the payment stays under review.
    Pending,
    /// Declined, with the payment's `status_detail`.
    Declined(&'static str),
}

/// The test-cards table: `APRO` approves, `CONT` leaves the payment pending, the
/// other documented names decline with the Orders API's detail. Any other name is
/// approved.
pub fn card_decision(cardholder_name: Option<&str>) -> CardDecision {
    let name = cardholder_name.unwrap_or("").trim().to_ascii_uppercase();
    match name.as_str() {
        "CONT" => CardDecision::Pending,
        "OTHE" | "DUPL" | "CTNA" => CardDecision::Declined("rejected_by_issuer"),
        "CALL" => CardDecision::Declined("required_call_for_authorize"),
        "FUND" => CardDecision::Declined("insufficient_amount"),
        "SECU" | "EXPI" | "FORM" | "CARD" => CardDecision::Declined("bad_filled_card_data"),
        "INST" => CardDecision::Declined("invalid_installments"),
        "LOCK" => CardDecision::Declined("card_disabled"),
        "BLAC" => CardDecision::Declined("high_risk"),
        "ATTE" => CardDecision::Declined("max_attempts_exceeded"),
        "UNSU" => CardDecision::Declined("processing_error"),
        _ => CardDecision::Approved,
    }
}

/// How a payment is decided when processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Card(CardDecision),
    /// The token is unknown, used or expired: declined as `invalid_card_token`.
    InvalidToken,
    /// Pix: waiting for the transfer.
    Transfer,
    /// Tickets and cash: waiting for the payment.
    Ticket,
}

impl Order {
    fn is_point(&self) -> bool {
        self.order_type == OrderType::Point
    }

    /// Created or at the terminal: the terminal is taken and the order may expire.
    pub fn open_on_terminal(&self) -> bool {
        self.is_point() && matches!(self.status, Status::Created | Status::AtTerminal)
    }

    /// `total_paid_amount`: what its payments collected, less nothing (refunds are
    /// shown apart).
    pub fn total_paid_amount(&self) -> Option<Money> {
        let paid: Vec<Money> = self.payments.iter().filter_map(|p| p.paid_amount).collect();
        (!paid.is_empty()).then(|| paid.into_iter().fold(Money::ZERO, Money::plus))
    }

    fn with_status(&self, status: Status, detail: &str, now: Timestamp) -> Order {
        Order { status, status_detail: detail.to_owned(), updated_at: now, version: self.version + 1, ..self.clone() }
    }

    fn with_payments(self, status: Status, detail: &str) -> Order {
        let payments =
            self.payments.into_iter().map(|p| Payment { status, status_detail: detail.to_owned(), ..p }).collect();
        Order { payments, ..self }
    }

    /// Decide the payment (create in automatic mode, or `/process`). The order's
    /// amounts must already match.
    pub fn decided(&self, outcome: &Outcome, reference_id: &str, now: Timestamp) -> Order {
        let manual_capture = self.capture_mode == Some(CaptureMode::Manual);
        let (status, detail, payment_detail) = match outcome {
            Outcome::Card(CardDecision::Approved) if manual_capture => {
                (Status::ActionRequired, "waiting_capture", "waiting_capture")
            }
            Outcome::Card(CardDecision::Approved) => (Status::Processed, "accredited", "accredited"),
            Outcome::Card(CardDecision::Pending) => (Status::Processing, "in_process", "in_process"),
            Outcome::Card(CardDecision::Declined(why)) => (Status::Failed, "failed", *why),
            Outcome::InvalidToken => (Status::Failed, "failed", "invalid_card_token"),
            Outcome::Transfer => (Status::ActionRequired, "waiting_transfer", "waiting_transfer"),
            Outcome::Ticket => (Status::ActionRequired, "waiting_payment", "waiting_payment"),
        };
        let moved = self.with_status(status, detail, now).with_payments(status, payment_detail);
        let paid = status == Status::Processed;
        let payments = moved
            .payments
            .into_iter()
            .map(|p| Payment {
                paid_amount: paid.then_some(p.amount),
                reference_id: (status != Status::Failed).then(|| reference_id.to_owned()),
                ..p
            })
            .collect();
        Order { payments, ..moved }
    }

    /// The payments' ids and details of a failed order: `"<id>: <status_detail>"`.
    pub fn failures(&self) -> Vec<String> {
        self.payments
            .iter()
            .filter(|p| p.status == Status::Failed)
            .map(|p| format!("{}: {}", p.id, p.status_detail))
            .collect()
    }

    /// `POST /process`: manual orders in `created`, with their payment and amounts
    /// in order.
    pub fn check_process(&self) -> Result<(), Refusal> {
        if self.processing_mode != ProcessingMode::Manual || self.is_point() {
            return Err(Refusal::WrongMode);
        }
        if self.status != Status::Created {
            return Err(Refusal::NotSupported);
        }
        if self.payments.is_empty() {
            return Err(Refusal::NoTransactions);
        }
        self.check_total()
    }

    /// `total_amount` must equal the sum of the payments' amounts.
    pub fn check_total(&self) -> Result<(), Refusal> {
        let sum = self.payments.iter().map(|p| p.amount).fold(Money::ZERO, Money::plus);
        match self.total_amount {
            Some(total) if total == sum => Ok(()),
            _ => Err(Refusal::TotalMismatch),
        }
    }

    /// `POST /capture`: an authorized online order.
    pub fn captured(&self, now: Timestamp) -> Result<Order, Refusal> {
        if self.status != Status::ActionRequired || self.status_detail != "waiting_capture" {
            return Err(Refusal::CannotCapture);
        }
        let moved =
            self.with_status(Status::Processed, "accredited", now).with_payments(Status::Processed, "accredited");
        let payments = moved.payments.into_iter().map(|p| Payment { paid_amount: Some(p.amount), ..p }).collect();
        Ok(Order { payments, ..moved })
    }

    /// `POST /cancel`: online orders in `created` or `action_required`; Point
    /// orders only in `created` (one at the terminal is cancelled there).
    pub fn canceled(&self, now: Timestamp) -> Result<Order, Refusal> {
        let allowed = match self.order_type {
            OrderType::Online => matches!(self.status, Status::Created | Status::ActionRequired),
            OrderType::Point => self.status == Status::Created,
        };
        if self.status == Status::Canceled {
            return Err(Refusal::AlreadyCanceled);
        }
        if !allowed {
            return Err(Refusal::CannotCancel { status: self.status, point: self.is_point() });
        }
        let payment_detail = if self.is_point() { "canceled_by_api" } else { "canceled_transaction" };
        Ok(self.with_status(Status::Canceled, "canceled", now).with_payments(Status::Canceled, payment_detail))
    }

    /// A Point order left unpaid past its `expiration_time`.
    pub fn expired(&self, now: Timestamp) -> Option<Order> {
        (self.open_on_terminal() && self.expires_at.is_some_and(|at| at <= now))
            .then(|| self.with_status(Status::Expired, "expired", now).with_payments(Status::Expired, "expired"))
    }

    /// Refund `amount` of payment `payment` (`None`: everything still refundable of
    /// every payment). New refunds get the ids drawn in `ids`, in order.
    pub fn refunded(
        &self,
        partial: Option<(&PaymentId, Money)>,
        ids: &[RefundId],
        now: Timestamp,
    ) -> Result<(Order, Vec<Refund>), Refusal> {
        match (self.status, self.status_detail.as_str()) {
            (Status::Processed, "accredited" | "partially_refunded") => {}
            (Status::Refunded, _) | (Status::Processed, "refunded") => return Err(Refusal::AlreadyRefunded),
            _ => return Err(Refusal::CannotRefund),
        }
        let mut wanted: Vec<(usize, Money)> = Vec::new();
        match partial {
            Some((id, amount)) => {
                let i = self.payments.iter().position(|p| &p.id == id).ok_or(Refusal::TransactionNotFound)?;
                if amount > self.payments[i].refundable() {
                    return Err(Refusal::RefundExceeds);
                }
                wanted.push((i, amount));
            }
            None => {
                for (i, p) in self.payments.iter().enumerate() {
                    if p.refundable() > Money::ZERO {
                        wanted.push((i, p.refundable()));
                    }
                }
            }
        }
        let mut order = self.clone();
        let mut refunds = Vec::new();
        for ((i, amount), id) in wanted.into_iter().zip(ids) {
            let payment = &mut order.payments[i];
            payment.refunded_amount = payment.refunded_amount.plus(amount);
            let whole = payment.refundable() == Money::ZERO;
            payment.status = if whole { Status::Refunded } else { Status::Processed };
            payment.status_detail = if whole { "refunded" } else { "partially_refunded" }.to_owned();
            refunds.push(Refund {
                id: id.clone(),
                transaction_id: payment.id.clone(),
                reference_id: payment.reference_id.clone(),
                amount,
                status: "processed".to_owned(),
            });
        }
        let whole = order.payments.iter().all(|p| p.status == Status::Refunded);
        let (status, detail) =
            if whole { (Status::Refunded, "refunded") } else { (Status::Processed, "partially_refunded") };
        let mut order = order.with_status(status, detail, now);
        order.refunds.extend(refunds.iter().cloned());
        Ok((order, refunds))
    }

    /// The test helper (`POST /v1/orders/{id}/events`): move the order as the terminal
    /// (Point) or the payment network (online) would. Returns every step, in order:
    /// a Point order passes through `at_terminal` on its way.
    pub fn simulated(&self, event: &Simulation, reference_id: &str, now: Timestamp) -> Result<Vec<Order>, Refusal> {
        use Status as S;
        let mut steps = Vec::new();
        let mut current = self.clone();
        let to = event.status;
        let path_ok = match (self.order_type, self.status, to) {
            (OrderType::Point, S::Processed, S::Refunded) => true,
            (OrderType::Point, S::Created, S::AtTerminal) => true,
            (OrderType::Point, S::Created | S::AtTerminal, to) => {
                matches!(to, S::Processed | S::Failed | S::Canceled | S::Expired | S::ActionRequired)
            }
            (OrderType::Online, S::Processing | S::ActionRequired, S::Processed | S::Failed | S::Expired) => {
                self.status_detail != "waiting_capture"
            }
            _ => false,
        };
        if !path_ok {
            return Err(Refusal::InvalidTransition);
        }
        if self.is_point() && self.status == S::Created && to != S::Refunded {
            current =
                current.with_status(S::AtTerminal, "at_terminal", now).with_payments(S::AtTerminal, "at_terminal");
            steps.push(current.clone());
            if to == S::AtTerminal {
                return Ok(steps);
            }
        }
        let method = PaymentMethod {
            id: Some(event.payment_method_id.clone().unwrap_or_else(|| "master".to_owned())),
            kind: Some(event.payment_method_type.clone().unwrap_or_else(|| "credit_card".to_owned())),
            installments: Some(event.installments.unwrap_or(1)),
            ..PaymentMethod::default()
        };
        let next = match to {
            S::Processed => {
                let moved =
                    current.with_status(S::Processed, "accredited", now).with_payments(S::Processed, "accredited");
                let payments = moved
                    .payments
                    .into_iter()
                    .map(|p| Payment {
                        paid_amount: Some(p.amount),
                        reference_id: Some(reference_id.to_owned()),
                        payment_method: p.payment_method.or_else(|| Some(method.clone())),
                        ..p
                    })
                    .collect();
                Order { payments, ..moved }
            }
            S::Failed => {
                let detail = event.status_detail.as_deref().unwrap_or("rejected_other_reason");
                current.with_status(S::Failed, "failed", now).with_payments(S::Failed, detail)
            }
            S::Canceled => {
                current.with_status(S::Canceled, "canceled", now).with_payments(S::Canceled, "canceled_on_terminal")
            }
            S::Expired => current.with_status(S::Expired, "expired", now).with_payments(S::Expired, "expired"),
            S::ActionRequired => current
                .with_status(S::ActionRequired, "check_on_terminal", now)
                .with_payments(S::ActionRequired, "check_on_terminal"),
            S::Refunded => current.refunded(None, &event.refund_ids, now)?.0,
            _ => return Err(Refusal::InvalidTransition),
        };
        steps.push(next);
        Ok(steps)
    }
}

impl Payment {
    /// What may still be refunded.
    pub fn refundable(&self) -> Money {
        self.paid_amount.unwrap_or(Money::ZERO).minus(self.refunded_amount)
    }
}

/// A test-helper event (`POST /v1/orders/{id}/events`), its fields checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub status: Status,
    pub payment_method_type: Option<String>,
    pub payment_method_id: Option<String>,
    pub installments: Option<u32>,
    pub status_detail: Option<String>,
    /// Ids for the refund a `refunded` event makes.
    pub refund_ids: Vec<RefundId>,
}

/// The failed-payment details the simulate page lists.
pub const SIMULATED_FAILURES: &[&str] = &[
    "bad_filled_card_data",
    "required_call_for_authorize",
    "card_disabled",
    "high_risk",
    "insufficient_amount",
    "invalid_installments",
    "max_attempts_exceeded",
    "rejected_other_reason",
    "processing_error",
];

/// The statuses the simulate page accepts, and caja's own `at_terminal` (the
/// terminal has fetched the order; Mercado Pago's simulator passes through it).
pub fn simulation_status(raw: &str) -> Option<Status> {
    use Status as S;
    Status::parse(raw).filter(|s| {
        matches!(
            s,
            S::Processed | S::Canceled | S::Expired | S::Failed | S::Refunded | S::ActionRequired | S::AtTerminal
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefix_and_26_crockford_characters_ordered_by_time() {
        let a = OrderId::new(Timestamp::from_millis(1_795_514_400_000), 7);
        let b = OrderId::new(Timestamp::from_millis(1_795_514_400_001), 0);
        assert_eq!(a.as_str().len(), 29);
        assert!(a < b);
        assert_eq!(OrderId::parse(a.as_str()), Some(a.clone()));
        assert!(OrderId::parse("ORD123").is_none());
        assert!(OrderId::parse(&a.as_str().to_lowercase()).is_none());
        assert!(PaymentId::parse(a.as_str()).is_none());
    }

    #[test]
    fn the_test_cards_table_decides() {
        assert_eq!(card_decision(Some("APRO")), CardDecision::Approved);
        assert_eq!(card_decision(Some("othe")), CardDecision::Declined("rejected_by_issuer"));
        assert_eq!(card_decision(Some("CONT")), CardDecision::Pending);
        assert_eq!(card_decision(Some("FUND")), CardDecision::Declined("insufficient_amount"));
        assert_eq!(card_decision(None), CardDecision::Approved);
    }
}

#[cfg(test)]
mod machine_properties {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::order_draft::{new_order, OrderDraft, PaymentDraft, PointDraft};
    use crate::domain::{Principal, TokenHash};

    fn principal() -> Principal {
        Principal {
            user_id: UserId::new(7).unwrap_or_else(|| unreachable!()),
            site_id: SiteId::Mlb,
            live_mode: false,
            payouts_enabled: true,
            token_hash: TokenHash([0; 32]),
        }
    }

    fn order(point: bool, manual_capture: bool) -> Order {
        let now = Timestamp::from_millis(1_000);
        let method = PaymentMethod {
            id: Some("master".into()),
            kind: Some("credit_card".into()),
            token: Some("t".into()),
            ..PaymentMethod::default()
        };
        let draft = OrderDraft {
            order_type: Some(if point { "point" } else { "online" }.into()),
            external_reference: Some("r".into()),
            total_amount: Some("100.00".into()),
            capture_mode: (!point && manual_capture).then(|| "manual".into()),
            payments: Some(vec![PaymentDraft {
                amount: Some("100.00".into()),
                payment_method: (!point).then_some(method),
                echo: Echo::new(),
            }]),
            point: point
                .then(|| PointDraft { terminal_id: Some("NEWLAND_N950__SBX0000001".into()), ..PointDraft::default() }),
            ..OrderDraft::default()
        };
        let ids = [PaymentId::new(now, 1)];
        let order = new_order(draft, OrderId::new(now, 2), &ids, &principal(), now).unwrap_or_else(|e| panic!("{e:?}"));
        if point {
            order
        } else {
            order.decided(&Outcome::Card(CardDecision::Approved), "1", now)
        }
    }

    /// One step of a random walk: what a client, the terminal or the worker might do.
    fn step(o: &Order, event: u8, amount: i64, t: Timestamp) -> Option<Order> {
        let refund_id = [RefundId::new(t, u128::from(event))];
        match event % 8 {
            0 => o.captured(t).ok(),
            1 => o.canceled(t).ok(),
            2 => o.refunded(None, &refund_id, t).ok().map(|(o, _)| o),
            3 => {
                let id = o.payments.first()?.id.clone();
                o.refunded(Some((&id, Money::from_cents(amount))), &refund_id, t).ok().map(|(o, _)| o)
            }
            4 => o.expired(t.plus_millis(3 * 3_600_000)),
            _ => {
                let to =
                    [Status::Processed, Status::Failed, Status::Canceled, Status::AtTerminal][usize::from(event % 4)];
                let event = Simulation {
                    status: to,
                    payment_method_type: None,
                    payment_method_id: None,
                    installments: None,
                    status_detail: None,
                    refund_ids: refund_id.to_vec(),
                };
                o.simulated(&event, "2", t).ok().and_then(|steps| steps.last().cloned())
            }
        }
    }

    proptest! {
        /// Random walks: final statuses stay final, nothing is refunded beyond what was
        /// paid, and every move counts one more version.
        #[test]
        fn random_walks_keep_the_orders_rules(
            point in any::<bool>(),
            manual_capture in any::<bool>(),
            events in proptest::collection::vec((any::<u8>(), 1i64..12_000), 0..30),
        ) {
            let mut o = order(point, manual_capture);
            for (i, (event, amount)) in events.into_iter().enumerate() {
                let t = Timestamp::from_millis(2_000 + i as i64);
                let before = o.clone();
                if let Some(next) = step(&o, event, amount, t) {
                    prop_assert!(next.version > before.version, "a move counts a version");
                    o = next;
                }
                if matches!(before.status, Status::Failed | Status::Canceled | Status::Expired | Status::Refunded) {
                    prop_assert_eq!(o.status, before.status, "{:?} is final", before.status);
                }
                let refunded: i64 = o.refunds.iter().map(|r| r.amount.cents()).sum();
                let paid: i64 = o.payments.iter().filter_map(|p| p.paid_amount).map(Money::cents).sum();
                prop_assert!(refunded <= paid, "refunded {} of {} paid", refunded, paid);
                if o.status == Status::Processed {
                    prop_assert!(["accredited", "partially_refunded"].contains(&o.status_detail.as_str()));
                }
                if point && o.status == Status::Canceled && before.status == Status::Created {
                    prop_assert!(o.payments.iter().all(|p| p.status == Status::Canceled));
                }
            }
        }
    }
}
