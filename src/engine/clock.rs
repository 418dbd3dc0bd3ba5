//! Test accounts' clocks, and the worker's step at a given time (caja's own, #17).
//!
//! Every stored time of an account (documents, audit records, timers, outbox due
//! times, idempotency records) is in the account's time: real time plus its clock's
//! offset. [`super::apply`] runs each command at that time; the worker wakes an
//! account on real time with [`ClockScope::Real`], and an account whose clock was
//! moved with [`ClockScope::Account`] at its own time, event by event in the order
//! real time would have produced them (see `src/worker.rs`).

use super::{Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::order::Order;
use crate::domain::payment::Payment;
use crate::domain::payout::Transaction;
use crate::domain::resource::Resource;
use crate::domain::{clock, Timestamp, UserId};

/// The kinds the worker wakes: one step each in `Store::work_due`.
const WOKEN_KINDS: [&str; 3] = [Transaction::KIND, Order::KIND, Payment::KIND];

/// What one worker step moved, per step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Payout transactions moved (`in_process`, `processed`, …).
    pub payouts: usize,
    /// Point orders expired.
    pub orders: usize,
    /// Payments cancelled or expired.
    pub payments: usize,
}

impl Moved {
    pub fn total(&self) -> usize {
        self.payouts + self.orders + self.payments
    }
}

/// The account's time now, and the earliest timer of its resources (in its time).
pub fn next_wake(reads: &mut dyn Reads, user: UserId, real_now: Timestamp) -> Result<Clock, StoreError> {
    let offset_ms = reads.clock_offset(user)?;
    let mut next = None;
    for kind in WOKEN_KINDS {
        if let Some(at) = reads.next_wake(kind, user)? {
            next = Some(next.map_or(at, |n: Timestamp| n.min(at)));
        }
    }
    Ok(Clock { offset_ms, now: real_now.plus_millis(offset_ms), next_wake: next })
}

/// An account's clock as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// How far ahead of real time, in milliseconds.
    pub offset_ms: i64,
    /// The account's time.
    pub now: Timestamp,
    /// Its resources' earliest timer, if any.
    pub next_wake: Option<Timestamp>,
}

/// Move the caller's clock forward by `by_ms` (a test account's only). Its effect
/// is the clock after the move; the timers and notifications that fell due are
/// played out afterwards, outside this transaction (deliveries are HTTP calls).
pub struct AdvanceClock {
    pub by_ms: i64,
}

impl Operation for AdvanceClock {
    type Effect = Clock;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<Result<Clock, Failure>, StoreError> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let user = ctx.principal.user_id;
        // `ctx.now` is already the account's time before the move.
        let real_now = ctx.now.plus_millis(-uow.clock_offset(user)?);
        Ok(advance(uow, user, self.by_ms, real_now)?.map_err(|refused| Failure::InvalidBody(refused.to_string())))
    }
}

/// Move a test account's clock forward by `by_ms` (the caller checked it is a test
/// account): the operation's work, and `caja clock advance`'s.
pub fn advance(
    uow: &mut dyn UnitOfWork,
    user: UserId,
    by_ms: i64,
    real_now: Timestamp,
) -> Result<Result<Clock, clock::Refused>, StoreError> {
    let before = uow.clock_offset(user)?;
    let after = match clock::advance(before, by_ms) {
        Ok(after) => after,
        Err(refused) => return Ok(Err(refused)),
    };
    if !uow.set_clock_offset(user, before, after)? {
        return Err(StoreError::Contention(format!("the clock of account {user}")));
    }
    Ok(Ok(Clock { offset_ms: after, now: real_now.plus_millis(after), next_wake: None }))
}
