//! What a write request asks for, and what can come of it.

use super::{StoreError, UnitOfWork};
use crate::domain::customer::{CustomerId, Mismatch};
use crate::domain::customer_data::Cause;
use crate::domain::terminal_action::PropertyError;
use crate::domain::{Fingerprint, IdempotencyKey, Principal, StoredResponse, Timestamp};

/// Everything about the request that is not the operation itself.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub principal: Principal,
    /// The request's `X-Idempotency-Key`; `None` only where the family's reference
    /// declares none and the caller sent none: then the request simply runs.
    pub key: Option<IdempotencyKey>,
    pub fingerprint: Fingerprint,
    pub request_id: String,
    pub now: Timestamp,
    /// How long an idempotency record binds its key.
    pub retention_ms: i64,
}

/// The work a write request asks for: one family's operation, defined in that
/// family's engine module. `run` may be called more than once (a backend runs a
/// command again after a lost race), each time in a fresh transaction.
pub trait Operation: Send + Sync + 'static {
    /// What a successful run produced, for the renderer.
    type Effect;

    /// Do the work. A refusal is `Ok(Err(failure))`: an answer to store, not a fault.
    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<Result<Self::Effect, Failure>, StoreError>;
}

/// The effect of operations that move a resource and answer with no body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A cancel or a test-helper move.
    Moved,
    /// A cancel of what was already cancelled: nothing changed, nothing audited.
    Unchanged,
}

/// A request refused at the edge (a bad path id, a bad body). The refusal is still
/// remembered under the key, like any 4xx. `before_lookup` refusals come before the
/// idempotency lookup in the contract's order of checks, so they win over a key
/// conflict.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub failure: Failure,
    pub before_lookup: bool,
}

/// Which id in a path was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathParam {
    ActionId,
    OrderId,
    PayoutId,
    TransactionId,
    CustomerId,
    ProfileId,
}

/// Why an operation was refused. Each family maps these to its documented codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No such resource for this account (another account's counts as none).
    NotFound,
    /// The path's id is not in the family's format.
    InvalidPathParam(PathParam),
    /// The transaction exists nowhere, or in another payout.
    TransactionNotInPayout,
    /// The body is not JSON.
    MalformedJson(String),
    /// The body is JSON but not a valid request; the message names the field.
    InvalidBody(String),
    /// Test helpers are for test accounts only.
    TestAccountsOnly,
    /// The resource's status does not allow a cancel.
    CannotCancel {
        status: &'static str,
    },
    TerminalBusy,
    /// The terminal is another account's.
    TerminalNotOwned,
    /// No terminal of this account has this id.
    TerminalNotFound,
    /// The resource is another caller's, another site's, or another customer's.
    Mismatch(Mismatch),
    /// The account already has a customer with this email (its id).
    DuplicateEmail(CustomerId),
    /// A field refused with one of the reference's numbered causes (customers).
    Invalid(Cause),
    /// A terminal action's property refused in the create page's terms.
    Property {
        error: PropertyError,
        detail: String,
    },
    /// The profile already holds the most payment methods it may.
    PaymentMethodsFull,
    /// The profile already holds this card.
    DuplicatePaymentMethod,
    /// A profile created with two cards given by token.
    TwoCardTokens,
    /// No payment method of the profile has this `payment_method_id`.
    PaymentMethodNotFound,
    /// The customer has no (undeleted) card with this id.
    CardNotFound,
    /// No card token of this account has this id.
    CardTokenNotFound,
    /// A cancelled profile takes no payment methods.
    ProfileCancelled,
    /// An Orders rule refused it (the Orders pages' codes).
    Order(crate::domain::order::Refusal),
    /// A Payments rule refused it (the Payments reference's numbered causes).
    Payment(crate::domain::payment::Refusal),
    /// The test helper asked for a move the machine forbids.
    ForbiddenTransition {
        from: &'static str,
        to: &'static str,
    },
}

/// An operation planned from a request, or the refusal it met at the edge.
pub type Planned<O> = Result<O, Refusal>;

/// A write command: who, under which key, and the work, with its outcome already
/// bound to how the HTTP layer renders it (the engine stays ignorant of status codes
/// and JSON). Built by [`Command::new`] from any family's operation.
pub struct Command {
    pub ctx: RequestContext,
    work: Box<dyn Work>,
}

/// An operation with its renderer, its types erased so that one store runs every
/// family's commands.
trait Work: Send + Sync {
    fn refusal(&self) -> Option<&Refusal>;
    fn render_failure(&self, failure: &Failure) -> StoredResponse;
    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<StoredResponse, StoreError>;
}

struct Bound<O: Operation, F> {
    planned: Planned<O>,
    render: F,
}

impl<O, F> Work for Bound<O, F>
where
    O: Operation,
    F: Fn(&Result<O::Effect, Failure>) -> StoredResponse + Send + Sync,
{
    fn refusal(&self) -> Option<&Refusal> {
        self.planned.as_ref().err()
    }

    fn render_failure(&self, failure: &Failure) -> StoredResponse {
        (self.render)(&Err(failure.clone()))
    }

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<StoredResponse, StoreError> {
        let outcome = match &self.planned {
            Ok(op) => op.run(uow, ctx)?,
            Err(refusal) => Err(refusal.failure.clone()),
        };
        Ok((self.render)(&outcome))
    }
}

impl Command {
    pub fn new<O, F>(ctx: RequestContext, planned: Planned<O>, render: F) -> Command
    where
        O: Operation,
        F: Fn(&Result<O::Effect, Failure>) -> StoredResponse + Send + Sync + 'static,
    {
        Command { ctx, work: Box::new(Bound { planned, render }) }
    }

    /// The response to a refusal that precedes the idempotency lookup, if this is one.
    pub(super) fn early_refusal(&self) -> Option<StoredResponse> {
        self.work.refusal().filter(|r| r.before_lookup).map(|r| self.work.render_failure(&r.failure))
    }

    /// Run the work and render its outcome.
    pub(super) fn run(&self, uow: &mut dyn UnitOfWork) -> Result<StoredResponse, StoreError> {
        self.work.run(uow, &self.ctx)
    }
}

/// What became of a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Executed {
    /// It ran now; this is its response (stored when below 500).
    Fresh(StoredResponse),
    /// The same request had finished before; this is its stored response.
    Replayed(StoredResponse),
    /// The key was used for another request.
    KeyConflict,
}
