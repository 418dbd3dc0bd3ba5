//! Payments: create (a card decided from its token), update (cancel, capture,
//! metadata), refunds, caja's test helper, expiry, and the reads.
//!
//! Every change is audited and notified as Mercado Pago's payment webhooks are:
//! `type=payment`, `action` `payment.created` then `payment.updated`, `data.id` the
//! payment's id, to the payment's `notification_url` or else the account's.

use super::resource::{self, Stored};
use super::{
    detailed_audit, enqueue_ipn, record_change_with_body, ClockScope, Failure, Operation, Reads, RequestContext,
    StoreError, UnitOfWork,
};
use crate::domain::card::{CardFace, CardToken, CardTokenId, TokenStatus};
use crate::domain::order_money::Money;
use crate::domain::payment::{
    self, card_result, Payment, PaymentCard, PaymentRefund, Refusal, Simulation, Status, BY_ACCOUNT,
    BY_EXTERNAL_REFERENCE, RESERVE_MS,
};
use crate::domain::resource::scoped;
use crate::domain::{AuditEvent, ResourceType, Timestamp, UserId};

type Ran<T> = Result<Result<T, Failure>, StoreError>;

/// Payments expired per worker step, at most.
pub const EXPIRE_STEP_PAYMENTS_MAX: usize = 100;
/// Payments read per index page while searching.
const SEARCH_PAGE_PAYMENTS: u32 = 500;

fn refused<T>(refusal: Refusal) -> Ran<T> {
    Ok(Err(Failure::Payment(refusal)))
}

/// `POST /v1/payments`: a payment already checked by
/// [`crate::domain::payment_draft::new_payment`]; a card payment is decided here from
/// its token (used up), a Pix or ticket payment stays pending.
#[derive(Clone, Debug)]
pub struct CreatePayment {
    pub payment: Payment,
    pub token: Option<String>,
}

impl Operation for CreatePayment {
    type Effect = Payment;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Payment> {
        let mut payment = self.payment.clone();
        if payment.status_detail == "pending" {
            let Some(token) = &self.token else {
                return refused(Refusal::Invalid(payment::TOKEN_NULL));
            };
            let Some(id) = CardTokenId::parse(token) else {
                return refused(Refusal::TokenNotFound);
            };
            let found =
                resource::load::<CardToken>(uow, id.as_str())?.filter(|t| t.value.user_id == ctx.principal.user_id);
            let Some(found) = found else {
                return refused(Refusal::TokenNotFound);
            };
            if !found.value.usable(ctx.now) {
                return refused(Refusal::TokenUsed);
            }
            // The card must be of the method named (a Mastercard paid as visa is refused).
            let brand = &found.value.face.payment_method_id;
            let named = payment.payment_method_id.as_str();
            let same = named.is_empty() || named == brand || named.strip_prefix("deb") == Some(brand.as_str());
            if !same {
                return refused(Refusal::Invalid(payment::METHOD_INVALID));
            }
            let method = payment::method(payment.site_id, if named.is_empty() { brand } else { named });
            if method.is_some_and(|m| !m.allows_amount(payment.transaction_amount)) {
                return refused(Refusal::Invalid(payment::AMOUNT_INVALID));
            }
            let used = CardToken { status: TokenStatus::Used, updated_at: ctx.now, ..found.value.clone() };
            resource::update(uow, &found, &used)?;
            decide(&mut payment, &found.value.face, ctx.now);
        }
        insert(uow, ctx, payment).map(Ok)
    }
}

/// Store a new payment and announce it (`payment.created`).
pub fn insert(uow: &mut dyn UnitOfWork, ctx: &RequestContext, payment: Payment) -> Result<Payment, StoreError> {
    resource::insert(uow, &payment)?;
    record(uow, ctx, None, &payment)?;
    Ok(payment)
}

/// The test environment's answer for a card, by its holder's name; `capture: false`
/// reserves instead, `binary_mode` refuses to leave it in process.
pub fn decide(payment: &mut Payment, face: &CardFace, now: Timestamp) {
    if payment.payment_method_id.is_empty() {
        payment.payment_method_id = face.payment_method_id.clone();
    }
    payment.payment_type_id = payment::method(payment.site_id, &payment.payment_method_id)
        .map_or("credit_card", |m| m.payment_type_id)
        .to_owned();
    payment.card = Some(PaymentCard {
        first_six_digits: face.first_six_digits.clone(),
        last_four_digits: face.last_four_digits.clone(),
        expiration_month: face.expiration_month,
        expiration_year: face.expiration_year,
        cardholder_name: face.cardholder.name.clone(),
        identification_type: face.cardholder.identification_type.clone(),
        identification_number: face.cardholder.identification_number.clone(),
        date_created: now,
    });
    let (mut status, mut detail) = card_result(face.cardholder.name.as_deref());
    if status == Status::InProcess && payment.binary_mode {
        (status, detail) = (Status::Rejected, "cc_rejected_other_reason");
    }
    // `captured` holds the request's `capture` until the decision.
    if status == Status::Approved && !payment.captured {
        (status, detail) = (Status::Authorized, "pending_capture");
        payment.captured = false;
        payment.date_of_expiration = Some(now.plus_millis(RESERVE_MS));
    }
    if status == Status::Approved {
        payment.date_approved = Some(now);
    }
    payment.status = status;
    payment.status_detail = detail.to_owned();
}

/// `PUT /v1/payments/{id}`: what the body asks for, checked in this order.
#[derive(Clone, Debug, Default)]
pub struct PaymentUpdate {
    /// `status`: only `cancelled` is an action (`Some("")` is a null status).
    pub status: Option<String>,
    pub capture: Option<bool>,
    pub transaction_amount: Option<Money>,
    pub date_of_expiration: Option<Timestamp>,
    /// Replaces the payment's `metadata`.
    pub metadata: Option<serde_json::Value>,
}

#[derive(Clone, Debug)]
pub struct UpdatePayment {
    pub id: i64,
    pub update: PaymentUpdate,
}

impl Operation for UpdatePayment {
    type Effect = Payment;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Payment> {
        let Some(stored) = owned(uow, ctx.principal.user_id, self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        let u = &self.update;
        let mut next = stored.value.clone();
        match u.status.as_deref() {
            None => {}
            Some("") => return refused(Refusal::Invalid(payment::STATUS_NULL)),
            Some("cancelled") => match next.cancelled(ctx.now) {
                Ok(cancelled) => next = cancelled,
                Err(refusal) => return refused(refusal),
            },
            Some(_) => return refused(Refusal::InvalidStatus),
        }
        match u.capture {
            None => {}
            Some(false) => return refused(Refusal::CannotCapture),
            Some(true) => match next.captured(u.transaction_amount, ctx.now) {
                Ok(captured) => next = captured,
                Err(refusal) => return refused(refusal),
            },
        }
        if let Some(at) = u.date_of_expiration {
            if next.status != Status::Pending {
                return refused(Refusal::CannotCancel);
            }
            next.date_of_expiration = Some(at);
        }
        if let Some(metadata) = &u.metadata {
            next.echo.insert("metadata".to_owned(), metadata.clone());
        }
        if next == stored.value {
            return Ok(Ok(next));
        }
        next.date_last_updated = ctx.now;
        save(uow, ctx, &stored, next).map(Ok)
    }
}

/// `POST /v1/payments/{id}/refunds`: everything left (`amount: None`) or part of it.
#[derive(Clone, Debug)]
pub struct RefundPayment {
    pub id: i64,
    pub amount: Option<Money>,
    pub metadata: Option<serde_json::Value>,
    pub refund_id: i64,
}

impl Operation for RefundPayment {
    type Effect = (Payment, PaymentRefund);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<(Payment, PaymentRefund)> {
        let Some(stored) = owned(uow, ctx.principal.user_id, self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        match stored.value.refunded(self.amount, self.refund_id, self.metadata.clone(), ctx.now) {
            Ok((payment, refund)) => Ok(Ok((save(uow, ctx, &stored, payment)?, refund))),
            Err(refusal) => refused(refusal),
        }
    }
}

/// caja's test helper `POST /v1/payments/{id}/events` (test accounts only).
#[derive(Clone, Debug)]
pub struct SimulatePayment {
    pub id: i64,
    pub event: Simulation,
}

impl Operation for SimulatePayment {
    type Effect = Payment;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Payment> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let Some(stored) = owned(uow, ctx.principal.user_id, self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        match stored.value.simulated(self.event, ctx.now) {
            Ok(next) => save(uow, ctx, &stored, next).map(Ok),
            Err(refusal) => refused(refusal),
        }
    }
}

/// One step of the payment worker: cancel the pending payments and reserves whose
/// `date_of_expiration` passed (`cancelled`/`expired`). Returns how many.
pub fn expire_payments(uow: &mut dyn UnitOfWork, now: Timestamp, scope: ClockScope) -> Result<usize, StoreError> {
    let mut expired = 0;
    for stored in resource::due::<Payment>(uow, now, scope, EXPIRE_STEP_PAYMENTS_MAX)? {
        let Some(after) = stored.value.expired(now) else {
            resource::update(uow, &stored, &stored.value)?;
            continue;
        };
        resource::update(uow, &stored, &after)?;
        let from = Some(stored.value.status.as_str());
        let event = super::worker_audit(
            after.user_id,
            ResourceType::Payment,
            after.id.to_string(),
            from,
            after.status.as_str(),
            now,
        );
        notify(uow, event, &after, "payment.updated", now)?;
        super::checkout::payment_changed(uow, super::checkout::By::Worker { user: after.user_id, now }, &after)?;
        expired += 1;
    }
    Ok(expired)
}

/// Save a change, record it, and bring the payment's merchant order up to date.
fn save(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    stored: &Stored<Payment>,
    after: Payment,
) -> Result<Payment, StoreError> {
    resource::update(uow, stored, &after)?;
    record(uow, ctx, Some(&stored.value), &after)?;
    super::checkout::payment_changed(uow, super::checkout::By::Request(ctx), &after)?;
    Ok(after)
}

/// Audit a change (a move within a status, such as a partial refund, from the
/// status to itself, its `status_detail` move in `comments`) and notify it: `payment.created` for a new payment,
/// `payment.updated` for every change after.
fn record(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    before: Option<&Payment>,
    after: &Payment,
) -> Result<(), StoreError> {
    let before_status = before.map(|b| (b.status.as_str(), b.status_detail.as_str()));
    let after_status = (after.status.as_str(), after.status_detail.as_str());
    let event = detailed_audit(ctx, ResourceType::Payment, after.id.to_string(), before_status, after_status);
    let action = if before.is_none() { "payment.created" } else { "payment.updated" };
    notify(uow, event, after, action, ctx.now)
}

/// The webhook body of the notifications page: `{"action","api_version","data":{"id"},
/// "date_created","id","live_mode","type":"payment","user_id"}`.
fn notify(
    uow: &mut dyn UnitOfWork,
    event: AuditEvent,
    payment: &Payment,
    action: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let body = serde_json::json!({
        "action": action,
        "api_version": "v1",
        "data": { "id": payment.id.to_string() },
        "date_created": now.to_rfc3339(),
        "id": now.as_millis(),
        "live_mode": payment.live_mode,
        "type": "payment",
        "user_id": payment.user_id.get(),
    });
    let url = payment.notification_url.as_deref();
    let reference = payment.external_reference.as_deref();
    // A payment's own URL also gets the legacy IPN, unless it asks for one form only
    // (`source_news=webhooks` or `source_news=ipn`, as integrators append it).
    if let Some(url) = url {
        enqueue_ipn(uow, &event, url, reference)?;
        if url.contains("source_news=ipn") {
            return uow.append_audit(&event);
        }
    }
    record_change_with_body(uow, event, reference, url, Some(body.to_string()))
}

/// A payment of this account (another account's is none).
pub fn payment(reads: &mut dyn Reads, user: UserId, id: i64) -> Result<Option<Payment>, StoreError> {
    Ok(owned(reads, user, id)?.map(|s| s.value))
}

fn owned(reads: &mut dyn Reads, user: UserId, id: i64) -> Result<Option<Stored<Payment>>, StoreError> {
    Ok(resource::load::<Payment>(reads, &id.to_string())?.filter(|p| p.value.user_id == user))
}

/// Which date a search ranges over and sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    Created,
    Approved,
    LastUpdated,
    /// `money_release_date`: 14 days after the approval.
    MoneyRelease,
}

/// `GET /v1/payments/search`, its parameters parsed.
#[derive(Clone, Debug)]
pub struct PaymentSearch {
    pub range: DateField,
    pub begin: Timestamp,
    pub end: Timestamp,
    /// Attribute filters: `(name, value)` compared with the payment's own text.
    pub external_reference: Option<String>,
    pub filters: Vec<(String, String)>,
    /// `None`: sort by id.
    pub sort: Option<DateField>,
    pub ascending: bool,
    pub offset: u64,
    pub limit: u32,
}

fn date(p: &Payment, field: DateField) -> Option<Timestamp> {
    match field {
        DateField::Created => Some(p.date_created),
        DateField::Approved => p.date_approved,
        DateField::LastUpdated => Some(p.date_last_updated),
        DateField::MoneyRelease => p.date_approved.map(|d| d.plus_millis(14 * 24 * 3600 * 1000)),
    }
}

/// The value a search filter compares, by the filter's name.
pub fn attribute(p: &Payment, name: &str) -> Option<String> {
    Some(match name {
        "id" => p.id.to_string(),
        "status" => p.status.as_str().to_owned(),
        "status_detail" => p.status_detail.clone(),
        "payment_method_id" => p.payment_method_id.clone(),
        "payment_type_id" => p.payment_type_id.clone(),
        "operation_type" => "regular_payment".to_owned(),
        "collector.id" => p.user_id.get().to_string(),
        "currency_id" => p.site_id.currency().to_owned(),
        _ => return None,
    })
}

/// The names [`attribute`] knows: the search's documented filters.
pub const FILTERS: &[&str] = &[
    "id",
    "status",
    "status_detail",
    "payment_method_id",
    "payment_type_id",
    "operation_type",
    "collector.id",
    "currency_id",
];

/// The account's payments that match, one page, and how many match in all.
pub fn search(reads: &mut dyn Reads, user: UserId, query: &PaymentSearch) -> Result<(Vec<Payment>, u64), StoreError> {
    let (name, value) = match &query.external_reference {
        Some(reference) => (BY_EXTERNAL_REFERENCE, scoped(user, &[reference])),
        None => (BY_ACCOUNT, scoped(user, &[])),
    };
    let mut matching = Vec::new();
    let mut offset = 0;
    loop {
        let page = resource::list::<Payment>(reads, name, &value, SEARCH_PAGE_PAYMENTS, offset)?;
        let read = page.items.len() as u64;
        matching.extend(page.items.into_iter().filter(|p| {
            date(p, query.range).is_some_and(|d| d >= query.begin && d <= query.end)
                && query.filters.iter().all(|(name, wanted)| attribute(p, name).as_deref() == Some(wanted))
        }));
        offset += read;
        if read == 0 || offset >= page.total {
            break;
        }
    }
    match query.sort {
        Some(field) => matching.sort_by_key(|p| (date(p, field), p.id)),
        None => matching.sort_by_key(|p| p.id),
    }
    if !query.ascending {
        matching.reverse();
    }
    let total = matching.len() as u64;
    Ok((matching.into_iter().skip(query.offset as usize).take(query.limit as usize).collect(), total))
}
