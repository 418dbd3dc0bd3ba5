//! The port a storage backend implements for [`super::apply`]: a handful of row-level
//! operations, all inside one open transaction.

use crate::domain::customer::{self, Customer, CustomerId, PaymentMethod, Profile, ProfileId};
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::notification::NewNotification;
use crate::domain::payout::{self, Payout, PayoutId, Transaction, TransactionId};
use crate::domain::terminal_action::{ActionId, TerminalAction, Transition};
use crate::domain::{AuditEvent, IdempotencyKey, Timestamp, UserId};

/// A storage failure. Anything here becomes a 5xx: the transaction rolled back and
/// nothing was stored, so the client may retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// A conditional update found the row changed under it; the command is retried.
    #[error("concurrent update of {0}")]
    Contention(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("bad database URL: {0}")]
    BadUrl(String),
}

/// One open transaction. Every method is part of it; nothing is visible to others
/// until the backend commits.
pub trait UnitOfWork {
    fn idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Insert, or replace an expired record under the same key.
    fn save_idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError>;

    /// Load an action of this user, locking it for the rest of the transaction where
    /// the backend has row locks.
    fn action(&mut self, user: UserId, id: ActionId) -> Result<Option<TerminalAction>, StoreError>;

    /// Does this user's terminal hold a `created` or `at_terminal` action?
    fn terminal_busy(&mut self, user: UserId, terminal_id: &str) -> Result<bool, StoreError>;

    fn insert_action(&mut self, action: &TerminalAction) -> Result<(), StoreError>;

    /// Conditional update: `SET status = to WHERE id = ? AND status = from`.
    /// Returns whether the row was in `from` (and so was moved).
    fn move_action(&mut self, id: ActionId, transition: Transition, now: Timestamp) -> Result<bool, StoreError>;

    fn append_audit(&mut self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Insert a payout and all its transactions.
    fn insert_payout(&mut self, payout: &Payout, transactions: &[Transaction]) -> Result<(), StoreError>;

    /// A payout of this user.
    fn payout(&mut self, user: UserId, id: PayoutId) -> Result<Option<Payout>, StoreError>;

    /// A transaction by id, whoever owns it (callers check the payout first). Locked
    /// for the rest of the transaction where the backend has row locks.
    fn transaction(&mut self, id: TransactionId) -> Result<Option<Transaction>, StoreError>;

    /// Conditional update; entering `in_process` also records when.
    fn move_transaction(
        &mut self,
        id: TransactionId,
        transition: payout::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Transactions the worker may move now: `pending` and due, or `in_process` for
    /// at least `delay_ms`. Backends with row locks skip rows locked by others.
    fn due_transactions(&mut self, now: Timestamp, delay_ms: i64, limit: usize)
        -> Result<Vec<Transaction>, StoreError>;

    /// A customer by id, whoever owns it (the engine checks access).
    fn customer(&mut self, id: &CustomerId) -> Result<Option<Customer>, StoreError>;

    /// This account's customer with this email (compared by [`customer::email_key`]).
    fn customer_by_email(&mut self, user: UserId, email_key: &str) -> Result<Option<CustomerId>, StoreError>;

    fn insert_customer(&mut self, customer: &Customer) -> Result<(), StoreError>;

    /// A profile with its payment methods, whoever owns it; locked where the backend
    /// has row locks.
    fn profile(&mut self, id: &ProfileId) -> Result<Option<Profile>, StoreError>;

    fn insert_profile(&mut self, profile: &Profile) -> Result<(), StoreError>;

    /// Conditional update of the status (`WHERE status = from`).
    fn move_profile(
        &mut self,
        id: &ProfileId,
        transition: customer::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Append a payment method at `position` and touch the profile's update time.
    fn add_payment_method(&mut self, id: &ProfileId, position: usize, method: &PaymentMethod)
        -> Result<(), StoreError>;

    /// The account's notification URL (if any) and live mode.
    fn notification_target(&mut self, user: UserId) -> Result<(Option<String>, bool), StoreError>;

    /// Add a notification to the outbox, due at once.
    fn enqueue_notification(&mut self, notification: &NewNotification) -> Result<(), StoreError>;
}
