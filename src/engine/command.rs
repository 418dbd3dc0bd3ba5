//! What a write request asks for, and what can come of it.

use crate::domain::customer::{
    Customer, CustomerId, Mismatch, NewCustomer, NewProfile, PaymentMethod, Profile, ProfileId,
};
use crate::domain::payout::{CancelNote, NewPayout, Payout, PayoutId, Transaction, TransactionId, TransactionStatus};
use crate::domain::terminal_action::{ActionId, ActionStatus, NewAction, TerminalAction};
use crate::domain::{Fingerprint, IdempotencyKey, Principal, StoredResponse, Timestamp};

/// Everything about the request that is not the operation itself.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub principal: Principal,
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub request_id: String,
    pub now: Timestamp,
    /// How long an idempotency record binds its key.
    pub retention_ms: i64,
}

/// The work a write request asks for.
#[derive(Clone, Debug)]
pub enum Operation {
    CreateAction {
        id: ActionId,
        new: NewAction,
    },
    CancelAction {
        id: ActionId,
    },
    /// The test helper: move an action along its machine.
    MoveAction {
        id: ActionId,
        to: ActionStatus,
    },
    /// `transaction_ids` holds one fresh id per transaction, in order.
    CreatePayout {
        id: PayoutId,
        transaction_ids: Vec<TransactionId>,
        new: NewPayout,
    },
    CancelTransaction {
        payout: PayoutId,
        transaction: TransactionId,
        note: CancelNote,
    },
    /// The test helper: move a payout transaction along its machine.
    MoveTransaction {
        payout: PayoutId,
        transaction: TransactionId,
        to: TransactionStatus,
    },
    CreateCustomer {
        id: CustomerId,
        new: NewCustomer,
    },
    CreateProfile {
        customer: CustomerId,
        id: ProfileId,
        new: NewProfile,
    },
    AddPaymentMethod {
        customer: CustomerId,
        profile: ProfileId,
        method: PaymentMethod,
    },
    CancelProfile {
        customer: CustomerId,
        profile: ProfileId,
    },
    /// The request was refused at the edge (a bad path id, a bad body). The refusal is
    /// still remembered under the key, like any 4xx. `before_lookup` refusals come
    /// before the idempotency lookup in the contract's order of checks, so they win
    /// over a key conflict.
    Refuse {
        failure: Failure,
        before_lookup: bool,
    },
}

/// What a successful operation did.
#[derive(Clone, Debug)]
pub enum Effect {
    ActionCreated(TerminalAction),
    PayoutCreated(Payout, Vec<Transaction>),
    CustomerCreated(Customer),
    ProfileCreated(Profile),
    /// A payment method was added; the profile as it is now.
    ProfileUpdated(Profile),
    /// A cancel or a test-helper move.
    Moved,
    /// A cancel of what was already cancelled: nothing changed, nothing audited.
    Unchanged,
}

/// Which id in a path was malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathParam {
    ActionId,
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
    /// The resource is another caller's, another site's, or another customer's.
    Mismatch(Mismatch),
    /// The account already has a customer with this email (its id).
    DuplicateEmail(CustomerId),
    /// The profile already holds the most payment methods it may.
    PaymentMethodsFull,
    /// A cancelled profile takes no payment methods.
    ProfileCancelled,
    /// The test helper asked for a move the machine forbids.
    ForbiddenTransition {
        from: &'static str,
        to: &'static str,
    },
}

pub type Outcome = Result<Effect, Failure>;

/// Turns an outcome into the exact bytes to send (and store). Supplied by the HTTP
/// layer, so the engine stays ignorant of status codes and JSON.
pub type Render = Box<dyn Fn(&Outcome) -> StoredResponse + Send + Sync>;

pub struct Command {
    pub ctx: RequestContext,
    pub op: Operation,
    pub render: Render,
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
