//! Background processing of payout transactions: `pending → in_process` when due,
//! `in_process → processed` after the processing delay.
//!
//! Each step is a conditional update, so a cancel that got there first simply wins
//! and the step is skipped; run by several processes at once, each transaction still
//! moves once.

use super::{record_change, StoreError, UnitOfWork};
use crate::domain::payout;
use crate::domain::{AuditEvent, ResourceType, Timestamp};

/// The request id recorded for changes the worker makes.
pub const WORKER_REQUEST_ID: &str = "caja-worker";
/// Transactions moved in one step at most; the rest wait for the next tick.
pub const STEP_TRANSACTIONS_MAX: usize = 500;

/// Move every transaction that is due; returns how many moved.
pub fn advance_payouts(uow: &mut dyn UnitOfWork, now: Timestamp, delay_ms: i64) -> Result<usize, StoreError> {
    let mut moved = 0;
    for t in uow.due_transactions(now, delay_ms, STEP_TRANSACTIONS_MAX)? {
        let Some(transition) = payout::processing_step(t.status, t.due_at, t.processing_since, now, delay_ms) else {
            continue;
        };
        if !uow.move_transaction(t.id, transition, now)? {
            continue; // a cancel won the race
        }
        let event = AuditEvent {
            user_id: t.user_id,
            resource_type: ResourceType::PayoutTransaction,
            resource_id: t.id.to_string(),
            from_status: Some(transition.from.as_str().to_owned()),
            to_status: transition.to.as_str().to_owned(),
            deleted_by: None,
            comments: None,
            request_id: WORKER_REQUEST_ID.to_owned(),
            idempotency_key: None,
            at: now,
        };
        let url = uow.payout(t.user_id, t.payout_id)?.and_then(|p| p.notification_url);
        record_change(uow, event, t.external_reference.as_deref(), url.as_deref())?;
        moved += 1;
    }
    Ok(moved)
}
