//! Applying one command inside one transaction.

use super::{
    access, record_change, Command, Effect, Executed, Failure, Operation, Outcome, RequestContext, StoreError,
    UnitOfWork,
};
use crate::domain::customer::{self, AddMethodRefused, CancelDecision, Customer, Owner, Profile, ProfileId};
use crate::domain::idempotency::{self, Decision, IdempotencyRecord};
use crate::domain::payout::{self, CancelNote, Transaction, TransactionStatus};
use crate::domain::terminal_action::{self, TerminalAction};
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
            let event = audit(ctx, ResourceType::TerminalAction, id.to_string(), None, "created", None);
            record_change(uow, event, action.external_reference.as_deref(), None)?;
            Ok(Ok(Effect::ActionCreated(action)))
        }
        Operation::CancelAction { id } => {
            let Some(action) = uow.action(user, *id)? else {
                return Ok(Err(Failure::NotFound));
            };
            match terminal_action::cancel(action.status) {
                Ok(t) => move_action(uow, ctx, &action, t),
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
                Ok(t) => move_action(uow, ctx, &action, t),
                Err(refused) => Ok(Err(forbidden(refused.0.from.as_str(), refused.0.to.as_str()))),
            }
        }
        Operation::CreatePayout { id, transaction_ids, new } => {
            let (payout, transactions) = payout::create(*id, transaction_ids, user, new.clone(), ctx.now);
            uow.insert_payout(&payout, &transactions)?;
            for t in &transactions {
                let pending = TransactionStatus::Pending.as_str();
                let event = audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), None, pending, None);
                record_change(uow, event, t.external_reference.as_deref(), payout.notification_url.as_deref())?;
            }
            Ok(Ok(Effect::PayoutCreated(payout, transactions)))
        }
        Operation::CancelTransaction { payout, transaction, note } => {
            let t = match access::transaction(uow, user, *payout, *transaction)? {
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
            let t = match access::transaction(uow, user, *payout, *transaction)? {
                Ok(t) => t,
                Err(failure) => return Ok(Err(failure)),
            };
            match payout::simulate(t.status, *to) {
                Ok(transition) => move_transaction(uow, ctx, &t, transition, &CancelNote::default()),
                Err(refused) => Ok(Err(forbidden(refused.0.from.as_str(), refused.0.to.as_str()))),
            }
        }
        Operation::CreateCustomer { id, new } => {
            if let Some(existing) = uow.customer_by_email(user, &customer::email_key(&new.email))? {
                return Ok(Err(Failure::DuplicateEmail(existing)));
            }
            let created = Customer {
                id: id.clone(),
                owner: owner(ctx),
                email: new.email.clone(),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                description: new.description.clone(),
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            uow.insert_customer(&created)?;
            Ok(Ok(Effect::CustomerCreated(created)))
        }
        Operation::CreateProfile { customer, id, new } => {
            if let Err(failure) = access::customer(uow, user, ctx.principal.site_id, customer)? {
                return Ok(Err(failure));
            }
            let profile = Profile {
                id: id.clone(),
                owner: owner(ctx),
                customer_id: customer.clone(),
                status: customer::ProfileStatus::Pending,
                description: new.description.clone(),
                max_day_overdue: new.max_day_overdue,
                statement_descriptor: new.statement_descriptor.clone(),
                sequence_control: new.sequence_control,
                payment_methods: Vec::new(),
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            uow.insert_profile(&profile)?;
            let created = profile.status.as_str();
            record_change(
                uow,
                audit(ctx, ResourceType::PaymentProfile, id.to_string(), None, created, None),
                None,
                None,
            )?;
            Ok(Ok(Effect::ProfileCreated(profile)))
        }
        Operation::AddPaymentMethod { customer, profile, method } => {
            let mut found = match access::profile(uow, user, ctx.principal.site_id, customer, profile)? {
                Ok(found) => found,
                Err(failure) => return Ok(Err(failure)),
            };
            let transition = match customer::add_method(found.status, found.payment_methods.len()) {
                Ok(transition) => transition,
                Err(AddMethodRefused::Full) => return Ok(Err(Failure::PaymentMethodsFull)),
                Err(AddMethodRefused::Cancelled) => return Ok(Err(Failure::ProfileCancelled)),
            };
            uow.add_payment_method(profile, found.payment_methods.len(), method)?;
            if let Some(t) = transition {
                move_profile(uow, ctx, profile, t)?;
                found.status = t.to;
            }
            found.payment_methods.push(method.clone());
            found.updated_at = ctx.now;
            Ok(Ok(Effect::ProfileUpdated(found)))
        }
        Operation::CancelProfile { customer, profile } => {
            let found = match access::profile(uow, user, ctx.principal.site_id, customer, profile)? {
                Ok(found) => found,
                Err(failure) => return Ok(Err(failure)),
            };
            match customer::cancel(found.status) {
                CancelDecision::Move(t) => {
                    move_profile(uow, ctx, profile, t)?;
                    Ok(Ok(Effect::Moved))
                }
                CancelDecision::AlreadyCancelled => Ok(Ok(Effect::Unchanged)),
            }
        }
    }
}

fn owner(ctx: &RequestContext) -> Owner {
    Owner { user_id: ctx.principal.user_id, site_id: ctx.principal.site_id }
}

fn move_profile(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    id: &ProfileId,
    transition: customer::Transition,
) -> Result<(), StoreError> {
    if !uow.move_profile(id, transition, ctx.now)? {
        return Err(StoreError::Contention(format!("payment profile {id}")));
    }
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    record_change(uow, audit(ctx, ResourceType::PaymentProfile, id.to_string(), from, to, None), None, None)
}

fn forbidden(from: &'static str, to: &'static str) -> Failure {
    Failure::ForbiddenTransition { from, to }
}

fn move_action(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    action: &TerminalAction,
    transition: terminal_action::Transition,
) -> Result<Outcome, StoreError> {
    if !uow.move_action(action.id, transition, ctx.now)? {
        return Err(StoreError::Contention(format!("terminal action {}", action.id)));
    }
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    let event = audit(ctx, ResourceType::TerminalAction, action.id.to_string(), from, to, None);
    record_change(uow, event, action.external_reference.as_deref(), None)?;
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
    let event = audit(ctx, ResourceType::PayoutTransaction, t.id.to_string(), from, to, Some(note));
    let url = uow.payout(t.user_id, t.payout_id)?.and_then(|p| p.notification_url);
    record_change(uow, event, t.external_reference.as_deref(), url.as_deref())?;
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
