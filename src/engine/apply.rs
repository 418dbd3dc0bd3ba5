//! Applying one command inside one transaction: the idempotency decision, then the
//! family's operation (see [`super::Operation`]), then the stored response.

use super::{Command, Executed, StoreError, UnitOfWork};
use crate::domain::idempotency::{self, Decision, IdempotencyRecord};

/// Check the key, do the work, store the response: the caller commits what this
/// wrote only if it returns `Ok`, and rolls everything back otherwise.
/// The command runs at `ctx.now`, the account's time (see `http::AppState::account_now`).
pub fn apply(uow: &mut dyn UnitOfWork, command: &Command) -> Result<Executed, StoreError> {
    let ctx = &command.ctx;
    let user = ctx.principal.user_id;
    let Some(key) = &ctx.key else {
        return Ok(Executed::Fresh(command.run(uow)?));
    };
    let existing = uow.idempotency_record(user, key)?;
    match idempotency::decide(existing.as_ref(), ctx.fingerprint, ctx.now, ctx.retention_ms) {
        Decision::Execute => {}
        Decision::Replay(response) => return Ok(Executed::Replayed(response)),
        Decision::Conflict => {
            return Ok(match command.early_refusal() {
                Some(response) => Executed::Fresh(response),
                None => Executed::KeyConflict,
            })
        }
    }
    let response = command.run(uow)?;
    if idempotency::is_storable(response.status) {
        let record =
            IdempotencyRecord { fingerprint: ctx.fingerprint, response: response.clone(), created_at: ctx.now };
        uow.save_idempotency_record(user, key, &record)?;
    }
    Ok(Executed::Fresh(response))
}
