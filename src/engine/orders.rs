//! Orders: create (and, in automatic mode, decide), process, capture, cancel,
//! refund, the manual order's transactions, the test helper, expiry, and the reads.
//!
//! Every change is audited; the moves Mercado Pago announces (`order.processed`,
//! `order.failed`, `order.canceled`, `order.refunded`, `order.expired`,
//! `order.action_required`) are notified with `type=order`.

use super::resource::{self, Stored};
use super::{
    detailed_audit, record_change, Change, ClockScope, Failure, Operation, Reads, RequestContext, StoreError,
    UnitOfWork,
};
use crate::domain::card::{Card, CardToken, CardTokenId, TokenStatus};
use crate::domain::customer::{Profile, ProfileStatus};
use crate::domain::order::{
    self, card_decision, Order, OrderId, OrderType, Outcome, Payment, PaymentId, PaymentType, ProcessingMode, Refund,
    RefundId, Refusal, Simulation, Status, BY_ACCOUNT, BY_EXTERNAL_REFERENCE, OPEN_ON_TERMINAL, PAYMENTS_PER_ORDER_MAX,
};
use crate::domain::order_draft::{check_method, Invalid, PaymentDraft};
use crate::domain::order_money::Money;
use crate::domain::resource::scoped;
use crate::domain::terminal::Terminal;
use crate::domain::{ResourceType, Timestamp, UserId};

type Ran<T> = Result<Result<T, Failure>, StoreError>;

/// Orders expired per worker step, at most.
pub const EXPIRE_STEP_ORDERS_MAX: usize = 100;
/// Orders read per index page while searching.
const SEARCH_PAGE_ORDERS: u32 = 500;

/// The statuses whose arrival is notified (the Orders webhooks' actions).
const NOTIFIED: &[Status] =
    &[Status::Processed, Status::Failed, Status::Canceled, Status::Refunded, Status::Expired, Status::ActionRequired];

fn refused<T>(refusal: Refusal) -> Ran<T> {
    Ok(Err(Failure::Order(refusal)))
}

impl From<Invalid> for Failure {
    fn from(invalid: Invalid) -> Failure {
        match invalid {
            Invalid::Property(error, detail) => Failure::Property { error, detail },
            Invalid::Refused(refusal) => Failure::Order(refusal),
        }
    }
}

/// Create an order (already checked by [`crate::domain::order_draft::new_order`]).
/// A Point order takes its terminal (one open order per terminal); an automatic
/// online order is decided at once, and a declined one is still created.
#[derive(Clone, Debug)]
pub struct CreateOrder {
    pub order: Order,
    /// The payments network's number for a payment decided now.
    pub reference_id: String,
}

impl Operation for CreateOrder {
    type Effect = Order;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Order> {
        let user = ctx.principal.user_id;
        let mut order = self.order.clone();
        if let Some(terminal) = &order.terminal_id {
            let virtual_terminal = order::is_virtual_terminal(terminal);
            match resource::read::<Terminal>(uow, terminal)? {
                // Every test account's; no live account's.
                _ if virtual_terminal && !ctx.principal.live_mode => {}
                _ if virtual_terminal => return Ok(Err(Failure::TerminalNotOwned)),
                Some(t) if t.user_id == user => {}
                Some(_) => return Ok(Err(Failure::TerminalNotOwned)),
                // As for terminal actions: an account owns the terminals it
                // registers or first uses.
                None => resource::insert(uow, &Terminal::first_used(terminal, user, ctx.now))?,
            }
            let open = order::open_on_terminal(user, terminal);
            if resource::find_unique::<Order>(uow, OPEN_ON_TERMINAL, &open)?.is_some() {
                return Ok(Err(Failure::TerminalBusy));
            }
        }
        resource::insert(uow, &order)?;
        record(uow, ctx, None, &order)?;
        if order.order_type == OrderType::Online && order.processing_mode == ProcessingMode::Automatic {
            let stored = Stored { version: 1, value: order.clone() };
            order = decide(uow, ctx, &stored, &self.reference_id)?;
        }
        Ok(Ok(order))
    }
}

/// Decide the order's payment, save and record the move.
fn decide(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    stored: &Stored<Order>,
    reference_id: &str,
) -> Result<Order, StoreError> {
    let mut order = stored.value.clone();
    let mut outcome = Outcome::Card(order::CardDecision::Approved);
    for payment in &mut order.payments {
        outcome = payment_outcome(uow, ctx, payment)?;
    }
    let decided = order.decided(&outcome, reference_id, ctx.now);
    resource::update(uow, stored, &decided)?;
    record(uow, ctx, Some(&stored.value), &decided)?;
    Ok(decided)
}

/// How the payment network answers a payment: by the card token's cardholder name
/// (the token is used up, and the payment keeps the card's ends), or by the
/// payment type.
fn payment_outcome(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    payment: &mut Payment,
) -> Result<Outcome, StoreError> {
    let method = payment.payment_method.clone().unwrap_or_default();
    match method.kind.as_deref().and_then(PaymentType::parse) {
        Some(PaymentType::BankTransfer) => return Ok(Outcome::Transfer),
        Some(PaymentType::Ticket) => return Ok(Outcome::Ticket),
        _ => {}
    }
    if let Some(profile) = automatic_payment_profile(payment) {
        return profile_outcome(uow, ctx, payment, &profile);
    }
    let Some(token_id) = method.token.as_deref().and_then(CardTokenId::parse) else {
        return Ok(Outcome::InvalidToken);
    };
    let token = resource::load::<CardToken>(uow, token_id.as_str())?
        .filter(|t| t.value.user_id == ctx.principal.user_id && t.value.usable(ctx.now));
    let Some(token) = token else {
        return Ok(Outcome::InvalidToken);
    };
    let used = CardToken { status: TokenStatus::Used, updated_at: ctx.now, ..token.value.clone() };
    resource::update(uow, &token, &used)?;
    let face = &token.value.face;
    payment.card = Some((face.first_six_digits.clone(), face.last_four_digits.clone()));
    Ok(Outcome::Card(card_decision(face.cardholder.name.as_deref())))
}

/// The payment profile an Automatic Payments charge names
/// (`automatic_payments.payment_profile_id`), if any.
fn automatic_payment_profile(payment: &Payment) -> Option<String> {
    let profile = payment.echo.get("automatic_payments")?.get("payment_profile_id")?;
    profile.as_str().map(str::to_owned).or_else(|| profile.as_i64().map(|n| n.to_string()))
}

/// An Automatic Payments charge: the account's READY profile pays with its card (the
/// saved card's holder name decides, as a token's would). A profile that is not the
/// account's, not READY or without a card declines the payment as `invalid_card_token`.
fn profile_outcome(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    payment: &mut Payment,
    profile_id: &str,
) -> Result<Outcome, StoreError> {
    let profile = resource::read::<Profile>(uow, profile_id)?
        .filter(|p| p.owner.user_id == ctx.principal.user_id && p.status == ProfileStatus::Ready);
    let card_id = profile.and_then(|p| p.payment_methods.into_iter().find_map(|m| m.card_id));
    let card = match card_id {
        Some(id) => resource::read::<Card>(uow, &id)?.filter(|c| !c.deleted && c.user_id == ctx.principal.user_id),
        None => None,
    };
    let Some(card) = card else {
        return Ok(Outcome::InvalidToken);
    };
    payment.card = Some((card.face.first_six_digits.clone(), card.face.last_four_digits.clone()));
    Ok(Outcome::Card(card_decision(card.face.cardholder.name.as_deref())))
}

/// `POST /v1/orders/{id}/process`: decide a manual order.
#[derive(Clone, Debug)]
pub struct ProcessOrder {
    pub id: OrderId,
    pub reference_id: String,
}

impl Operation for ProcessOrder {
    type Effect = Order;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Order> {
        let Some(stored) = owned(uow, ctx.principal.user_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        if let Err(refusal) = stored.value.check_process() {
            return refused(refusal);
        }
        Ok(Ok(decide(uow, ctx, &stored, &self.reference_id)?))
    }
}

/// A move decided by the order itself: capture or cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Capture,
    Cancel,
}

/// `POST /v1/orders/{id}/capture` and `/cancel`.
#[derive(Clone, Debug)]
pub struct MoveOrder {
    pub id: OrderId,
    pub what: Move,
}

impl Operation for MoveOrder {
    type Effect = Order;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Order> {
        let Some(stored) = owned(uow, ctx.principal.user_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        let moved = match self.what {
            Move::Capture => stored.value.captured(ctx.now),
            Move::Cancel => stored.value.canceled(ctx.now),
        };
        match moved {
            Ok(moved) => save(uow, ctx, &stored, moved).map(Ok),
            Err(refusal) => refused(refusal),
        }
    }
}

/// `POST /v1/orders/{id}/refund`: everything (`partial: None`), or part of one
/// payment.
#[derive(Clone, Debug)]
pub struct RefundOrder {
    pub id: OrderId,
    pub partial: Option<(PaymentId, Money)>,
    /// Ids for the refunds this makes (one per payment at most).
    pub refund_ids: Vec<RefundId>,
}

impl Operation for RefundOrder {
    type Effect = (Order, Vec<Refund>);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<(Order, Vec<Refund>)> {
        let Some(stored) = owned(uow, ctx.principal.user_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        let partial = self.partial.as_ref().map(|(id, amount)| (id, *amount));
        match stored.value.refunded(partial, &self.refund_ids, ctx.now) {
            Ok((order, refunds)) => Ok(Ok((save(uow, ctx, &stored, order)?, refunds))),
            Err(refusal) => refused(refusal),
        }
    }
}

/// The order whose transactions change: only an online order of this account, in
/// `manual` mode and still `created`, takes them.
fn editable(uow: &mut dyn UnitOfWork, ctx: &RequestContext, id: &OrderId) -> Ran<Stored<Order>> {
    let Some(stored) = owned(uow, ctx.principal.user_id, id)? else {
        return Ok(Err(Failure::NotFound));
    };
    let order = &stored.value;
    if order.order_type != OrderType::Online || order.processing_mode != ProcessingMode::Manual {
        return refused(Refusal::WrongMode);
    }
    if order.status != Status::Created {
        return refused(Refusal::NotSupported);
    }
    Ok(Ok(stored))
}

/// `POST /v1/orders/{id}/transactions`: add a payment.
#[derive(Clone, Debug)]
pub struct AddTransaction {
    pub id: OrderId,
    pub payment: Payment,
}

impl Operation for AddTransaction {
    type Effect = Payment;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Payment> {
        let stored = match editable(uow, ctx, &self.id)? {
            Ok(stored) => stored,
            Err(failure) => return Ok(Err(failure)),
        };
        if stored.value.payments.len() >= PAYMENTS_PER_ORDER_MAX {
            return refused(Refusal::TooManyTransactions);
        }
        let mut order = stored.value.clone();
        order.payments.push(self.payment.clone());
        order.updated_at = ctx.now;
        resource::update(uow, &stored, &order)?;
        Ok(Ok(self.payment.clone()))
    }
}

/// `PUT /v1/orders/{id}/transactions/{transaction_id}`: change a payment's amount or
/// payment method (fields not sent stay).
#[derive(Clone, Debug)]
pub struct UpdateTransaction {
    pub id: OrderId,
    pub transaction: PaymentId,
    pub change: PaymentDraft,
}

impl Operation for UpdateTransaction {
    type Effect = Payment;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Payment> {
        let stored = match editable(uow, ctx, &self.id)? {
            Ok(stored) => stored,
            Err(failure) => return Ok(Err(failure)),
        };
        let mut order = stored.value.clone();
        let Some(payment) = order.payments.iter_mut().find(|p| p.id == self.transaction) else {
            return refused(Refusal::TransactionNotFound);
        };
        if let Some(raw) = &self.change.amount {
            let Some(amount) = Money::parse(raw).filter(|m| *m > Money::ZERO) else {
                return Ok(Err(Invalid::Property(
                    crate::domain::terminal_action::PropertyError::Value,
                    "'$.amount' - must be a positive decimal with up to 2 decimal places".into(),
                )
                .into()));
            };
            payment.amount = amount;
        }
        if let Some(change) = &self.change.payment_method {
            let mut method = payment.payment_method.clone().unwrap_or_default();
            method.id = change.id.clone().or(method.id);
            method.kind = change.kind.clone().or(method.kind);
            method.token = change.token.clone().or(method.token);
            method.installments = change.installments.or(method.installments);
            method.statement_descriptor = change.statement_descriptor.clone().or(method.statement_descriptor);
            method.echo.extend(change.echo.clone());
            let recurring = payment.echo.contains_key("automatic_payments");
            if let Err(invalid) = check_method(&method, "payment_method", recurring) {
                return Ok(Err(invalid.into()));
            }
            payment.payment_method = Some(method);
        }
        payment.echo.extend(self.change.echo.clone());
        let updated = payment.clone();
        order.updated_at = ctx.now;
        resource::update(uow, &stored, &order)?;
        Ok(Ok(updated))
    }
}

/// `DELETE /v1/orders/{id}/transactions/{transaction_id}`.
#[derive(Clone, Debug)]
pub struct DeleteTransaction {
    pub id: OrderId,
    pub transaction: PaymentId,
}

impl Operation for DeleteTransaction {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Change> {
        let stored = match editable(uow, ctx, &self.id)? {
            Ok(stored) => stored,
            Err(failure) => return Ok(Err(failure)),
        };
        let mut order = stored.value.clone();
        let before = order.payments.len();
        order.payments.retain(|p| p.id != self.transaction);
        if order.payments.len() == before {
            return refused(Refusal::TransactionNotFound);
        }
        order.updated_at = ctx.now;
        resource::update(uow, &stored, &order)?;
        Ok(Ok(Change::Moved))
    }
}

/// The test helper `POST /v1/orders/{id}/events` (test accounts only): move the
/// order as the terminal or the payment network would, every step audited.
#[derive(Clone, Debug)]
pub struct SimulateOrder {
    pub id: OrderId,
    pub event: Simulation,
    pub reference_id: String,
}

impl Operation for SimulateOrder {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Ran<Change> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let Some(stored) = owned(uow, ctx.principal.user_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        let steps = match stored.value.simulated(&self.event, &self.reference_id, ctx.now) {
            Ok(steps) => steps,
            Err(refusal) => return refused(refusal),
        };
        let mut before = stored.value.clone();
        for step in &steps {
            record(uow, ctx, Some(&before), step)?;
            before = step.clone();
        }
        resource::update(uow, &stored, &before)?;
        Ok(Ok(Change::Moved))
    }
}

/// One step of the order worker: expire the Point orders whose `expiration_time`
/// passed while they were `created` or `at_terminal`. Returns how many expired.
pub fn expire_orders(uow: &mut dyn UnitOfWork, now: Timestamp, scope: ClockScope) -> Result<usize, StoreError> {
    let mut expired = 0;
    for stored in resource::due::<Order>(uow, now, scope, EXPIRE_STEP_ORDERS_MAX)? {
        let Some(after) = stored.value.expired(now) else {
            // Not open any more, or not yet due: the write below re-arms its timer.
            resource::update(uow, &stored, &stored.value)?;
            continue;
        };
        resource::update(uow, &stored, &after)?;
        let from = Some(stored.value.status.as_str());
        let event = super::worker_audit(
            after.user_id,
            ResourceType::Order,
            after.id.to_string(),
            from,
            after.status.as_str(),
            now,
        );
        record_change(uow, event, after.external_reference.as_deref(), None)?;
        expired += 1;
    }
    Ok(expired)
}

/// Save a move and record it.
fn save(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    stored: &Stored<Order>,
    after: Order,
) -> Result<Order, StoreError> {
    resource::update(uow, stored, &after)?;
    record(uow, ctx, Some(&stored.value), &after)?;
    Ok(after)
}

/// Audit a change (a move within a status, such as a partial refund, is recorded
/// from the status to itself, its `status_detail` move in `comments`, so the head
/// of a resource's trail always names its status); notify it when its new status is one the Orders
/// webhooks announce.
fn record(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    before: Option<&Order>,
    after: &Order,
) -> Result<(), StoreError> {
    let moved = before.is_none_or(|b| b.status != after.status);
    let before_status = before.map(|b| (b.status.as_str(), b.status_detail.as_str()));
    let after_status = (after.status.as_str(), after.status_detail.as_str());
    let event = detailed_audit(ctx, ResourceType::Order, after.id.to_string(), before_status, after_status);
    if moved && NOTIFIED.contains(&after.status) {
        record_change(uow, event, after.external_reference.as_deref(), None)
    } else {
        uow.append_audit(&event)
    }
}

/// An order of this account (another account's is none).
pub fn order(reads: &mut dyn Reads, user: UserId, id: &OrderId) -> Result<Option<Order>, StoreError> {
    Ok(owned(reads, user, id)?.map(|s| s.value))
}

fn owned(reads: &mut dyn Reads, user: UserId, id: &OrderId) -> Result<Option<Stored<Order>>, StoreError> {
    Ok(resource::load::<Order>(reads, id.as_str())?.filter(|o| o.value.user_id == user))
}

/// `GET /v1/orders`: the search's filters, all already parsed.
#[derive(Clone, Debug)]
pub struct OrderSearch {
    /// `begin_date` ≤ created ≤ `end_date`, in milliseconds.
    pub begin: Timestamp,
    pub end: Timestamp,
    pub external_reference: Option<String>,
    pub order_type: Option<OrderType>,
    pub status: Option<Status>,
    pub status_detail: Option<String>,
    pub payment_method_id: Option<String>,
    pub payment_method_type: Option<String>,
    /// Sort by `last_updated_date` instead of `created_date`.
    pub by_last_update: bool,
    pub ascending: bool,
    pub offset: u64,
    pub limit: u32,
}

impl OrderSearch {
    fn matches(&self, o: &Order) -> bool {
        let method = |f: fn(&order::PaymentMethod) -> Option<&String>, wanted: &Option<String>| {
            wanted.as_ref().is_none_or(|w| o.payments.iter().any(|p| p.payment_method.as_ref().and_then(f) == Some(w)))
        };
        o.created_at >= self.begin
            && o.created_at <= self.end
            && self.order_type.is_none_or(|t| o.order_type == t)
            && self.status.is_none_or(|s| o.status == s)
            && self.status_detail.as_ref().is_none_or(|d| &o.status_detail == d)
            && method(|m| m.id.as_ref(), &self.payment_method_id)
            && method(|m| m.kind.as_ref(), &self.payment_method_type)
    }
}

/// The account's orders that match, one page of them, and how many match in all.
/// Walks the account's (or the external reference's) listing in index order.
pub fn search(reads: &mut dyn Reads, user: UserId, query: &OrderSearch) -> Result<(Vec<Order>, u64), StoreError> {
    let (name, value) = match &query.external_reference {
        Some(reference) => (BY_EXTERNAL_REFERENCE, scoped(user, &[reference])),
        None => (BY_ACCOUNT, scoped(user, &[])),
    };
    let mut matching = Vec::new();
    let mut offset = 0;
    loop {
        let page = resource::list::<Order>(reads, name, &value, SEARCH_PAGE_ORDERS, offset)?;
        let read = page.items.len() as u64;
        matching.extend(page.items.into_iter().filter(|o| query.matches(o)));
        offset += read;
        if read == 0 || offset >= page.total {
            break;
        }
    }
    let key = |o: &Order| (if query.by_last_update { o.updated_at } else { o.created_at }, o.id.clone());
    matching.sort_by_key(key);
    if !query.ascending {
        matching.reverse();
    }
    let total = matching.len() as u64;
    let items = matching.into_iter().skip(query.offset as usize).take(query.limit as usize).collect();
    Ok((items, total))
}
