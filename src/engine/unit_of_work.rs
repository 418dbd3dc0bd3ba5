//! The port a storage backend implements: a small, fixed set of generic operations
//! on resources of any kind, inside one open transaction (or, for [`Reads`], on a
//! read connection). It does not grow when a family is added: a family is a
//! [`crate::domain::resource::Resource`] declaration, and [`super::resource`] turns
//! these operations into typed ones.

use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::notification::NewNotification;
use crate::domain::resource::IndexEntry;
use crate::domain::{AuditEvent, IdempotencyKey, Timestamp, UserId};

/// A storage failure. Anything here becomes a 5xx: the transaction rolled back and
/// nothing was stored, so the client may retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// A conditional update found the row changed under it, or a unique entry was
    /// taken by a concurrent command; the command is run again.
    #[error("concurrent update of {0}")]
    Contention(String),
    #[error("the store is shutting down")]
    Closed,
    /// The write queue is full: the command was not queued (nothing was written).
    /// Answered at once with 503, rather than left to pile up.
    #[error("the write queue is full")]
    Busy,
    #[error("bad database URL: {0}")]
    BadUrl(String),
}

/// A stored resource as the store keeps it: what the typed layer reads back.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Starts at 1; every update adds 1 (the conditional-update token).
    pub version: i64,
    /// The resource's document (JSON text written by [`super::resource`]).
    pub document: String,
}

/// A resource to write: the envelope the store indexes, and the document.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    pub user_id: UserId,
    pub status: Option<&'static str>,
    pub document: &'a str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One page of a listing, and how many items match in all.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { total: self.total, items: self.items.into_iter().map(f).collect() }
    }
}

/// Why a resource is loaded inside a write transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadFor {
    /// It may be updated: locked until commit where the backend has row locks.
    Update,
    /// It is only looked at (say, a parent whose children change): not locked, so
    /// writes to its children do not queue behind each other.
    Read,
}

/// Whose timers and notifications a worker pass takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockScope {
    /// Every account on real time: those whose clock was never moved.
    Real,
    /// One account whose clock was moved, taken at that account's own time (see
    /// `POST /caja/v1/clock/advance`).
    Account(UserId),
}

/// Reading resources. On a read connection nothing is ever locked.
pub trait Reads {
    /// A resource by kind and id.
    fn load(&mut self, kind: &'static str, id: &str, purpose: LoadFor) -> Result<Option<Loaded>, StoreError>;

    /// The id of the resource holding a unique entry, if any.
    fn find_unique(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
    ) -> Result<Option<String>, StoreError>;

    /// The resources listed under `(name, value)`, ordered by the entries' sort key
    /// then id, one page of them, and how many there are in all. Served by an index:
    /// never a scan of the kind.
    fn list(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Loaded>, StoreError>;

    /// Whether any resource is listed under `(name, value)`: one index probe.
    fn listed_any(&mut self, kind: &'static str, name: &'static str, value: &str) -> Result<bool, StoreError>;

    /// How far the account's clock was moved ahead of real time, in milliseconds
    /// (0 when it never was).
    fn clock_offset(&mut self, user: UserId) -> Result<i64, StoreError>;

    /// The earliest timer of the account's resources of a kind, if any.
    fn next_wake(&mut self, kind: &'static str, user: UserId) -> Result<Option<Timestamp>, StoreError>;
}

/// One open transaction. Every method is part of it; nothing is visible to others
/// until the backend commits.
pub trait UnitOfWork: Reads {
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

    /// Insert a new resource at version 1. A taken id fails the command.
    fn insert(&mut self, resource: &Envelope<'_>) -> Result<(), StoreError>;

    /// Conditional update: replace the resource if it is still at `version` (and
    /// move it to `version + 1`). Returns whether it was.
    fn update(&mut self, resource: &Envelope<'_>, version: i64) -> Result<bool, StoreError>;

    /// Add an index entry of a resource. A unique entry already held by another
    /// resource is a [`StoreError::Contention`] (the command runs again and sees it).
    fn add_entry(&mut self, kind: &'static str, id: &str, entry: &IndexEntry) -> Result<(), StoreError>;

    fn remove_entry(&mut self, kind: &'static str, id: &str, entry: &IndexEntry) -> Result<(), StoreError>;

    /// Set (or, with `None`, clear) the time the worker must wake a resource.
    fn set_timer(&mut self, kind: &'static str, id: &str, wake_at: Option<Timestamp>) -> Result<(), StoreError>;

    /// Resources of a kind whose timer is at or before `now`, of the accounts `scope`
    /// names, earliest first, locked; backends with row locks skip those another
    /// transaction holds.
    fn due(
        &mut self,
        kind: &'static str,
        now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Loaded>, StoreError>;

    /// Move the account's clock from `from_ms` to `to_ms` ahead of real time, if it
    /// is still at `from_ms` (0: never moved); returns whether it was (a conditional
    /// update, as for resources: a lost race runs the command again).
    fn set_clock_offset(&mut self, user: UserId, from_ms: i64, to_ms: i64) -> Result<bool, StoreError>;

    fn append_audit(&mut self, event: &AuditEvent) -> Result<(), StoreError>;

    /// The account's notification URL (if any) and live mode.
    fn notification_target(&mut self, user: UserId) -> Result<(Option<String>, bool), StoreError>;

    /// Add a notification to the outbox, due at once.
    fn enqueue_notification(&mut self, notification: &NewNotification) -> Result<(), StoreError>;
}
