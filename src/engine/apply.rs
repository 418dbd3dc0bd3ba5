//! Applying one command inside one transaction.

use super::{Command, Effect, Executed, Failure, Operation, Outcome, RequestContext, StoreError, UnitOfWork};
use crate::domain::idempotency::{self, Decision, IdempotencyRecord};
use crate::domain::terminal_action::{
    self, ActionId, ActionStatus, CancelRefused, ForbiddenTransition, TerminalAction, Transition,
};
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
            uow.append_audit(&action_audit(ctx, *id, None, ActionStatus::Created))?;
            Ok(Ok(Effect::ActionCreated(action)))
        }
        Operation::CancelAction { id } => {
            let Some(action) = uow.action(user, *id)? else {
                return Ok(Err(Failure::NotFound));
            };
            match terminal_action::cancel(action.status) {
                Ok(transition) => {
                    move_action(uow, ctx, *id, transition)?;
                    Ok(Ok(Effect::ActionCanceled))
                }
                Err(CancelRefused(status)) => Ok(Err(Failure::CannotCancelAction(status))),
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
                Ok(transition) => {
                    move_action(uow, ctx, *id, transition)?;
                    Ok(Ok(Effect::ActionMoved))
                }
                Err(ForbiddenTransition(t)) => Ok(Err(Failure::ForbiddenActionTransition(t))),
            }
        }
    }
}

fn move_action(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    id: ActionId,
    transition: Transition,
) -> Result<(), StoreError> {
    if !uow.move_action(id, transition, ctx.now)? {
        return Err(StoreError::Contention(format!("terminal action {id}")));
    }
    uow.append_audit(&action_audit(ctx, id, Some(transition.from), transition.to))
}

fn action_audit(ctx: &RequestContext, id: ActionId, from: Option<ActionStatus>, to: ActionStatus) -> AuditEvent {
    AuditEvent {
        user_id: ctx.principal.user_id,
        resource_type: ResourceType::TerminalAction,
        resource_id: id.to_string(),
        from_status: from.map(|s| s.as_str().to_owned()),
        to_status: to.as_str().to_owned(),
        deleted_by: None,
        comments: None,
        request_id: ctx.request_id.clone(),
        idempotency_key: ctx.key.clone(),
        at: ctx.now,
    }
}
