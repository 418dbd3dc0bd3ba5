//! Applying one command inside one transaction.

use super::{Command, Effect, Executed, Failure, Operation, Outcome, RequestContext, StoreError, UnitOfWork};
use crate::domain::idempotency::{self, Decision, IdempotencyRecord};
use crate::domain::payout::{self, CancelNote, PayoutId, Transaction, TransactionId, TransactionStatus};
use crate::domain::terminal_action::{self, ActionId, TerminalAction};
use crate::domain::{AuditEvent, ResourceType};

/// Check the key, do the work, store the response: the caller commits what this
/// wrote only if it returns `Ok`, and rolls everything back otherwise.
pub fn apply(uow: &mut dyn UnitOfWork, command: &Command) -> Result<Executed, StoreError> {
    let ctx = &command.ctx;
    let user = ctx.principal.user_id;
    let existing = uow.idempotency_record(user, &ctx.key)?;
    match idempotency::decide(existing.as_ref(), ctx.fingerprint, ctx.now, ctx.retention_ms) {
        Decision::Execute => {}
        Decision::Replay(response) => return Ok(Executed::Replayed(response)),
        Decision::Conflict => {
            return Ok(match &command.op {
                Operation::Refuse { failure, before_lookup: true } => {
                    Executed::Fresh((command.render)(&Err(failure.clone())))
                }
                _ => Executed::KeyConflict,
            })
        }
    }
    let outcome = run(uow, ctx, &command.op)?;
    let response = (command.render)(&outcome);
    if idempotency::is_storable(response.status) {
        let record =
            IdempotencyRecord { fingerprint: ctx.fingerprint, response: response.clone(), created_at: ctx.now };
        uow.save_idempotency_record(user, &ctx.key, &record)?;
    }
    Ok(Executed::Fresh(response))
}

/// The work itself. A refusal is an `Ok(Err(failure))`: it is an answer to store,
/// not a fault.
fn run(uow: &mut dyn UnitOfWork, ctx: &RequestContext, op: &Operation) -> Result<Outcome, StoreError> {
    let user = ctx.principal.user_id;
    match op {
        Operation::Refuse { failure, .. } => Ok(Err(failure.clone())),
        Operation::CreateAction { id, new } => {
            if uow.terminal_busy(user, &new.terminal_id)? {
                return Ok(Err(Failure::TerminalBusy));
            }
            let action = TerminalAction::create(*id, user, new.clone(), ctx.now);
            uow.insert_action(&action)?;
            uow.append_audit(&audit(ctx, ResourceType::TerminalAction, id.to_string(), None, "created", None))?;
            Ok(Ok(Effect::ActionCreated(action)))
        }
        Operation::CancelAction { id } => {
            let Some(action) = uow.action(user, *id)? else {
                return Ok(Err(Failure::NotFound));
            };
            match terminal_action::cancel(action.status) {
                Ok(t) => move_action(uow, ctx, *id, t),
                Err(refused) => Ok(Err(Failure::CannotCancel { status: refused.0.as_str() })),
            }
        }
        Operation::MoveAction { id, to } => {
            if ctx.principal.live_mode {
                return Ok(Err(Failure::TestAccountsOnly));
            }
            let Some(action) = uow.action(user, *id)? else {
                return Ok(Err(Failure::NotFound));
            };
            match terminal_action::simulate(action.status, *to) {
                Ok(t) => move_action(uow, ctx, *id, t),
                Err(refused) => Ok(Err(forbidden(refused.0.from.as_str(), refused.0.to.as_str()))),
            }
        }
        Operation::CreatePayout { id, transaction_ids, new } => {
            let (payout, transactions) = payout::create(*id, transaction_ids, user, new.clone(), ctx.now);
            uow.insert_payout(&payout, &transactions)?;
            for t in &transactions {
                let pending = TransactionStatus::Pending.as_str();
                uow.append_audit(&audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), None, pending, None))?;
            }
            Ok(Ok(Effect::PayoutCreated(payout, transactions)))
        }
        Operation::CancelTransaction { payout, transaction, note } => {
            let t = match find_transaction(uow, ctx, *payout, *transaction)? {
                Ok(t) => t,
                Err(failure) => return Ok(Err(failure)),
            };
            match payout::cancel(t.status) {
                Ok(transition) => move_transaction(uow, ctx, &t, transition, note),
                Err(refused) => Ok(Err(Failure::CannotCancel { status: refused.0.as_str() })),
            }
        }
        Operation::MoveTransaction { payout, transaction, to } => {
            if ctx.principal.live_mode {
                return Ok(Err(Failure::TestAccountsOnly));
            }
            let t = match find_transaction(uow, ctx, *payout, *transaction)? {
                Ok(t) => t,
                Err(failure) => return Ok(Err(failure)),
            };
            match payout::simulate(t.status, *to) {
                Ok(transition) => move_transaction(uow, ctx, &t, transition, &CancelNote::default()),
                Err(refused) => Ok(Err(forbidden(refused.0.from.as_str(), refused.0.to.as_str()))),
            }
        }
    }
}

fn forbidden(from: &'static str, to: &'static str) -> Failure {
    Failure::ForbiddenTransition { from, to }
}

/// The payout must be the caller's (else 404); the transaction must be in it.
fn find_transaction(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    payout: PayoutId,
    transaction: TransactionId,
) -> Result<Result<Transaction, Failure>, StoreError> {
    if uow.payout(ctx.principal.user_id, payout)?.is_none() {
        return Ok(Err(Failure::NotFound));
    }
    Ok(match uow.transaction(transaction)? {
        Some(t) if t.payout_id == payout => Ok(t),
        Some(_) | None => Err(Failure::TransactionNotInPayout),
    })
}

fn move_action(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    id: ActionId,
    transition: terminal_action::Transition,
) -> Result<Outcome, StoreError> {
    if !uow.move_action(id, transition, ctx.now)? {
        return Err(StoreError::Contention(format!("terminal action {id}")));
    }
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    uow.append_audit(&audit(ctx, ResourceType::TerminalAction, id.to_string(), from, to, None))?;
    Ok(Ok(Effect::Moved))
}

fn move_transaction(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    t: &Transaction,
    transition: payout::Transition,
    note: &CancelNote,
) -> Result<Outcome, StoreError> {
    if !uow.move_transaction(t.id, transition, ctx.now)? {
        return Err(StoreError::Contention(format!("payout transaction {}", t.id)));
    }
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    uow.append_audit(&audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), from, to, Some(note)))?;
    Ok(Ok(Effect::Moved))
}

fn audit(
    ctx: &RequestContext,
    resource_type: ResourceType,
    resource_id: String,
    from: Option<&str>,
    to: &str,
    note: Option<&CancelNote>,
) -> AuditEvent {
    AuditEvent {
        user_id: ctx.principal.user_id,
        resource_type,
        resource_id,
        from_status: from.map(str::to_owned),
        to_status: to.to_owned(),
        deleted_by: note.and_then(|n| n.deleted_by.clone()),
        comments: note.and_then(|n| n.comments.clone()),
        request_id: ctx.request_id.clone(),
        idempotency_key: Some(ctx.key.clone()),
        at: ctx.now,
    }
}
