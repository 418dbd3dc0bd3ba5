//! Payouts: create (the payout and its transactions), cancel a transaction, the
//! test helper's moves, background processing, and the reads.
//!
//! Processing moves a transaction `pending → in_process` when due and `in_process →
//! processed` after the processing delay. Each step is a conditional update on a
//! transaction the worker's transaction locked, so a cancel that got there first
//! simply wins; run by several processes at once, each transaction still moves once.

use super::resource::{self, Stored};
use super::{
    audit, record_change_with_body, Change, ClockScope, Failure, Operation, Reads, RequestContext, StoreError,
    UnitOfWork,
};
use crate::domain::payout::{
    self, CancelNote, NewPayout, Payout, PayoutId, Transaction, TransactionId, TransactionStatus,
};
use crate::domain::resource::Resource;
use crate::domain::{AuditEvent, ResourceType, Timestamp, UserId};

type Outcome<T> = Result<Result<T, Failure>, StoreError>;

/// The request id recorded for changes the worker makes.
pub const WORKER_REQUEST_ID: &str = "caja-worker";
/// Transactions moved in one step at most; the rest wait for the next tick.
pub const STEP_TRANSACTIONS_MAX: usize = 500;

/// Create a payout. `transaction_ids` holds one fresh id per transaction, in order.
#[derive(Clone, Debug)]
pub struct CreatePayout {
    pub id: PayoutId,
    pub transaction_ids: Vec<TransactionId>,
    pub new: NewPayout,
}

impl Operation for CreatePayout {
    type Effect = (Payout, Vec<Transaction>);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<(Payout, Vec<Transaction>)> {
        let user = ctx.principal.user_id;
        let (payout, transactions) = payout::create(self.id, &self.transaction_ids, user, self.new.clone(), ctx.now);
        resource::insert(uow, &payout)?;
        for t in &transactions {
            resource::insert(uow, t)?;
            let pending = TransactionStatus::Pending.as_str();
            let event = audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), None, pending, None);
            let (reference, url) = (t.external_reference.as_deref(), payout.notification_url.as_deref());
            record_change_with_body(uow, event, reference, url, Some(notification_body(&payout, t)?))?;
        }
        Ok(Ok((payout, transactions)))
    }
}

/// Cancel a transaction that is not yet processed, with the caller's note.
#[derive(Clone, Debug)]
pub struct CancelTransaction {
    pub payout: PayoutId,
    pub transaction: TransactionId,
    pub note: CancelNote,
}

impl Operation for CancelTransaction {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        let (payout, t) = match locate(uow, ctx.principal.user_id, self.payout, self.transaction)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        match payout::cancel(t.value.status) {
            Ok(transition) => {
                let moved = t.value.moved(transition, ctx.now, 0);
                let event = transition_audit(ctx, &t.value, transition, Some(&self.note));
                move_transaction(uow, &payout, &t, moved, event)?;
                Ok(Ok(Change::Moved))
            }
            Err(refused) => Ok(Err(Failure::CannotCancel { status: refused.0.as_str() })),
        }
    }
}

/// The test helper: move a transaction as processing would (test accounts only).
/// Entering `in_process` starts the processing delay (`processing_delay_ms`).
#[derive(Clone, Debug)]
pub struct MoveTransaction {
    pub payout: PayoutId,
    pub transaction: TransactionId,
    pub to: TransactionStatus,
    pub processing_delay_ms: i64,
}

impl Operation for MoveTransaction {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let (payout, t) = match locate(uow, ctx.principal.user_id, self.payout, self.transaction)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        match payout::simulate(t.value.status, self.to) {
            Ok(transition) => {
                let moved = t.value.moved(transition, ctx.now, self.processing_delay_ms);
                let event = transition_audit(ctx, &t.value, transition, None);
                move_transaction(uow, &payout, &t, moved, event)?;
                Ok(Ok(Change::Moved))
            }
            Err(refused) => {
                Ok(Err(Failure::ForbiddenTransition { from: refused.0.from.as_str(), to: refused.0.to.as_str() }))
            }
        }
    }
}

/// One step of the payout worker: move every transaction that is due; returns how
/// many moved. Changes are audited with request id [`WORKER_REQUEST_ID`].
pub fn advance_payouts(
    uow: &mut dyn UnitOfWork,
    now: Timestamp,
    scope: ClockScope,
    delay_ms: i64,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    for t in resource::due::<Transaction>(uow, now, scope, STEP_TRANSACTIONS_MAX)? {
        let v = &t.value;
        let Some(transition) = payout::processing_step(v.status, v.due_at, v.processing_since, now, delay_ms) else {
            // Woken before its time (the server now runs with a longer processing
            // delay than when the timer was set): sleep until the step is due.
            resource::update(uow, &t, &v.rearmed(delay_ms))?;
            continue;
        };
        let Some(payout) = resource::read::<Payout>(uow, &v.payout_id.to_string())? else {
            return Err(StoreError::Database(format!("payout {} of transaction {} is missing", v.payout_id, v.id)));
        };
        let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
        let event = super::worker_audit(v.user_id, ResourceType::PayoutTransaction, v.id.to_string(), from, to, now);
        move_transaction(uow, &payout, &t, v.moved(transition, now, delay_ms), event)?;
        moved += 1;
    }
    Ok(moved)
}

/// A transaction of a payout of this user: `NotFound` for the payout,
/// `TransactionNotInPayout` for the transaction.
pub fn transaction(
    reads: &mut dyn Reads,
    user: UserId,
    payout: PayoutId,
    id: TransactionId,
) -> Result<Result<Transaction, Failure>, StoreError> {
    Ok(locate(reads, user, payout, id)?.map(|(_, t)| t.value))
}

/// A page of a payout's transactions, in order, optionally only those in `status`
/// (any of [`payout::DOCUMENTED_STATUSES`]); `None` when the payout is not this
/// user's.
pub fn transaction_page(
    reads: &mut dyn Reads,
    user: UserId,
    payout: PayoutId,
    status: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Option<super::Page<Transaction>>, StoreError> {
    if owned_payout(reads, user, payout)?.is_none() {
        return Ok(None);
    }
    let (name, value) = match status {
        Some(status) => (payout::BY_PAYOUT_STATUS, payout::payout_status_named(payout, status)),
        None => (payout::BY_PAYOUT, payout.to_string()),
    };
    resource::list::<Transaction>(reads, name, &value, limit, offset).map(Some)
}

/// A payout of this user with its summary and status (`GET /v1/payouts/{id}`),
/// counted from the payout's listing entries, one status at a time.
pub fn payout_summary(
    reads: &mut dyn Reads,
    user: UserId,
    id: PayoutId,
) -> Result<Option<(Payout, payout::Summary, &'static str)>, StoreError> {
    let Some(found) = owned_payout(reads, user, id)? else {
        return Ok(None);
    };
    let mut counts = Vec::with_capacity(TransactionStatus::ALL.len());
    for status in TransactionStatus::ALL {
        let page = reads.list(Transaction::KIND, payout::BY_PAYOUT_STATUS, &payout::payout_status(id, status), 0, 0)?;
        counts.push((status, page.total));
    }
    let in_process = counts.iter().find(|(s, _)| *s == TransactionStatus::InProcess).map_or(0, |(_, n)| *n);
    let summary = payout::Summary::of(counts);
    let status = summary.status(in_process);
    Ok(Some((found, summary, status)))
}

fn owned_payout(reads: &mut dyn Reads, user: UserId, id: PayoutId) -> Result<Option<Payout>, StoreError> {
    Ok(resource::read::<Payout>(reads, &id.to_string())?.filter(|p| p.user_id == user))
}

type Located = (Payout, Stored<Transaction>);

fn locate(
    reads: &mut dyn Reads,
    user: UserId,
    payout: PayoutId,
    id: TransactionId,
) -> Result<Result<Located, Failure>, StoreError> {
    let Some(found) = owned_payout(reads, user, payout)? else {
        return Ok(Err(Failure::NotFound));
    };
    Ok(match resource::load::<Transaction>(reads, &id.to_string())? {
        Some(t) if t.value.payout_id == payout => Ok((found, t)),
        Some(_) | None => Err(Failure::TransactionNotInPayout),
    })
}

fn transition_audit(
    ctx: &RequestContext,
    t: &Transaction,
    transition: payout::Transition,
    note: Option<&CancelNote>,
) -> AuditEvent {
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), from, to, note)
}

/// Write the moved transaction and record the change; notifications go to the
/// payout's own URL when it has one.
fn move_transaction(
    uow: &mut dyn UnitOfWork,
    payout: &Payout,
    t: &Stored<Transaction>,
    moved: Transaction,
    event: AuditEvent,
) -> Result<(), StoreError> {
    resource::update(uow, t, &moved)?;
    let body = notification_body(payout, &moved)?;
    record_change_with_body(
        uow,
        event,
        moved.external_reference.as_deref(),
        payout.notification_url.as_deref(),
        Some(body),
    )
}

/// The webhook body announcing `t`: the transaction with its payout.
fn notification_body(payout: &Payout, t: &Transaction) -> Result<String, StoreError> {
    serde_json::to_string(&payout::NotificationBody::of(payout, t))
        .map_err(|e| StoreError::Database(format!("cannot encode a payout notification: {e}")))
}
