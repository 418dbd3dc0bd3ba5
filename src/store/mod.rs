//! Storage: the [`Store`] interface the HTTP layer and the CLI talk to, and its
//! backends, chosen by URL scheme.
//!
//! Every resource family is stored the same way (see [`crate::domain::resource`]):
//! the backends implement one fixed [`UnitOfWork`] and never learn a family. Writes
//! go through [`Store::write`] (commands through `execute`): the handler submits work
//! and awaits its outcome; it never holds a transaction, so a backend is free to
//! batch many commands into one commit. A 2xx is sent only after its transaction is
//! durable. Reads go through [`Store::read`], on a read connection.

pub mod postgres;
pub mod snapshot;
pub mod sqlite;

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::notification::{Attempt, Notification, NotificationStatus};
use crate::domain::{
    AuditEvent, ChainRecord, Principal, ResourceType, SiteId, Timestamp, TokenHash, TokenHasher, UserId,
};
use crate::engine::{ClockScope, Command, Executed, Reads, UnitOfWork};
pub use crate::engine::{Page, StoreError};

/// A new account with its first token.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub user_id: UserId,
    pub live_mode: bool,
    pub payouts_enabled: bool,
    pub site_id: SiteId,
    pub token_hash: TokenHash,
    pub now: Timestamp,
}

/// A value of any type, as read or written work returns it through the object-safe
/// [`Store`] methods ([`Store::read`] and [`Store::write`] restore the type).
pub type AnyValue = Box<dyn Any + Send>;
/// Work on a read connection.
pub type ReadWork = Box<dyn FnOnce(&mut dyn Reads) -> Result<AnyValue, StoreError> + Send>;
/// Work in a write transaction; a backend may run it again after a lost race.
pub type WriteWork = Box<dyn FnMut(&mut dyn UnitOfWork) -> Result<AnyValue, StoreError> + Send>;

/// A notification claimed for delivery, with the account's secret to sign it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub notification: Notification,
    pub secret: Option<String>,
}

/// An account's notification URL and webhook secret, each as set (or not).
#[derive(Clone, Debug, Default)]
pub struct WebhookCredentials {
    pub url: Option<String>,
    pub secret: Option<String>,
}

/// What `GET /v1/notifications` may filter on.
#[derive(Clone, Debug, Default)]
pub struct NotificationFilter {
    pub resource_id: Option<String>,
    pub status: Option<NotificationStatus>,
}

/// What `GET /v1/audit-events` may filter on.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_id: Option<String>,
}

/// An audit event with its place in the trail.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub event: AuditEvent,
    /// Its link in the resource's hash chain (`None` before the chain existed).
    pub hash: Option<String>,
    pub prev_hash: Option<String>,
}

/// One API request of an account as the request log keeps it (the console's list
/// and the request page). Headers are a JSON object of name → value; bodies are
/// text, both already redacted by the HTTP layer and cut at
/// `http::request_log::BODY_CHARS_LOGGED_MAX`.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// Assigned by the store (ascending); 0 before it is written.
    pub id: i64,
    pub user_id: UserId,
    pub at: Timestamp,
    /// The family's name (`point`, `payouts`, `orders`, …).
    pub family: String,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub status: u16,
    /// From the request's arrival to its response's head, in microseconds.
    pub latency_us: i64,
    pub idempotency_key: Option<String>,
    /// Answered from a stored response (`X-Idempotency-Replayed: true`).
    pub replayed: bool,
    pub request_id: String,
    /// `api`, or `console` for a move made with a console button.
    pub source: String,
    pub request_headers: String,
    pub request_body: String,
    pub response_headers: String,
    pub response_body: String,
}

/// What the request log may be filtered on; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct RequestLogFilter {
    pub family: Option<String>,
    /// 2, 3, 4 or 5: statuses 200–299, …
    pub status_class: Option<u16>,
    pub idempotency_key: Option<String>,
    /// Only entries with a greater id (the console's live refresh).
    pub after_id: Option<i64>,
    /// Only entries with a smaller id (the next page).
    pub before_id: Option<i64>,
    /// Only the request with this `X-Request-Id` (an audit record's request).
    pub request_id: Option<String>,
    /// Only this method (`POST`).
    pub method: Option<String>,
    /// Only paths (with their query) that start so.
    pub path_prefix: Option<String>,
    /// Only this status code.
    pub status: Option<u16>,
}

/// A resource as an account's listing shows it: the envelope and its document.
#[derive(Clone, Debug)]
pub struct OwnedResource {
    /// Its place in the store's insertion order (the listing's cursor).
    pub seq: i64,
    pub kind: String,
    pub id: String,
    pub status: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The stored JSON document.
    pub document: String,
}

/// What a reset removed, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResetCounts {
    pub resources: u64,
    pub idempotency_records: u64,
    pub notifications: u64,
    pub audit_events: u64,
    pub requests: u64,
}

/// What a reset statement binds: `$1` the user id, `$2` the kind it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetBinds {
    UserAndKeptKind,
    User,
    Nothing,
}

/// Emptying an account (`POST /caja/v1/reset`, and before an import): these
/// statements, in this order, in one transaction (both SQLite and PostgreSQL read
/// `$1`). The account's resources of every kind but one the caller keeps go first;
/// then every index entry, unique key and timer whose resource is gone, so a
/// resource a concurrent command writes meanwhile keeps its own (on PostgreSQL
/// each statement sees what committed before it). The account, its tokens, signing
/// keys and webhook settings stay. The entries are found by `(kind, id)`: a reset
/// reads those tables whole (a rare, explicit act; no request path does).
pub const RESET_STATEMENTS: [(&str, &str, ResetBinds); 9] = [
    ("resources", "DELETE FROM resources WHERE user_id = $1 AND kind <> $2", ResetBinds::UserAndKeptKind),
    (
        "",
        "DELETE FROM resource_index WHERE NOT EXISTS
           (SELECT 1 FROM resources r WHERE r.kind = resource_index.kind AND r.id = resource_index.resource_id)",
        ResetBinds::Nothing,
    ),
    (
        "",
        "DELETE FROM resource_keys WHERE NOT EXISTS
           (SELECT 1 FROM resources r WHERE r.kind = resource_keys.kind AND r.id = resource_keys.resource_id)",
        ResetBinds::Nothing,
    ),
    (
        "",
        "DELETE FROM resource_timers WHERE NOT EXISTS
           (SELECT 1 FROM resources r WHERE r.kind = resource_timers.kind AND r.id = resource_timers.id)",
        ResetBinds::Nothing,
    ),
    ("idempotency_records", "DELETE FROM idempotency_records WHERE user_id = $1", ResetBinds::User),
    (
        "",
        "DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM notifications WHERE user_id = $1)",
        ResetBinds::User,
    ),
    ("notifications", "DELETE FROM notifications WHERE user_id = $1", ResetBinds::User),
    ("audit_events", "DELETE FROM audit_events WHERE user_id = $1", ResetBinds::User),
    ("", "DELETE FROM account_clocks WHERE user_id = $1", ResetBinds::User),
];
/// And the account's request log (on SQLite a file of its own, so after the rest).
pub const RESET_REQUEST_LOG: &str = "DELETE FROM request_log WHERE user_id = $1";

impl ResetCounts {
    /// Count `removed` rows under the statement's label.
    pub fn add(&mut self, label: &str, removed: u64) {
        match label {
            "resources" => self.resources += removed,
            "idempotency_records" => self.idempotency_records += removed,
            "notifications" => self.notifications += removed,
            "audit_events" => self.audit_events += removed,
            _ => {}
        }
    }
}

/// The domain-level operations every backend provides.
#[async_trait]
pub trait Store: Send + Sync {
    /// The hasher under which this store keeps tokens (its key lives in the store).
    fn token_hasher(&self) -> &TokenHasher;

    /// Run `work` in one transaction (committed in a group on SQLite), again from
    /// the start if it loses a race; its result is returned once it is durable.
    async fn write_any(&self, work: WriteWork) -> Result<AnyValue, StoreError>;

    /// Run `work` on a read connection: it sees the last committed state, locks
    /// nothing, and waits for no writer.
    async fn read_any(&self, work: ReadWork) -> Result<AnyValue, StoreError>;

    /// [`Store::read_any`] for a point read of a few microseconds, run where the
    /// backend can without handing it to another thread (SQLite: on the calling
    /// thread; PostgreSQL: as `read_any`). For the per-request reads of the
    /// authentication layer only.
    async fn read_here_any(&self, work: ReadWork) -> Result<AnyValue, StoreError> {
        self.read_any(work).await
    }

    /// The account and site behind a token hash.
    async fn principal(&self, token_hash: TokenHash) -> Result<Option<Principal>, StoreError>;

    /// A resource's audit trail, oldest first.
    async fn audit_trail(
        &self,
        user: UserId,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Every audit record (of one account, or all), by resource then id, with its
    /// chain links (for `caja audit verify`).
    async fn audit_chain_records(&self, user: Option<UserId>) -> Result<Vec<ChainRecord>, StoreError>;

    /// `Ok(false)` when the user id is taken; the caller draws another.
    async fn create_account(&self, account: NewAccount) -> Result<bool, StoreError>;

    /// `Ok(None)` when there is no such account.
    async fn account_live_mode(&self, user: UserId) -> Result<Option<bool>, StoreError>;

    /// Add a token for a site; `Ok(false)` when there is no such account.
    async fn add_token(
        &self,
        user: UserId,
        site: SiteId,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// `Ok(false)` when there is no such account.
    async fn set_payouts_enabled(&self, user: UserId, enabled: bool) -> Result<bool, StoreError>;

    /// Register an Ed25519 public key for payout signatures; `Ok(false)` when there is
    /// no such account.
    async fn add_signing_key(&self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<bool, StoreError>;

    async fn signing_keys(&self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError>;

    /// Set the account's notification URL (when given) and make a webhook secret when
    /// it has none or `rotate`. `Ok(None)`: no such account; `Ok(Some(secret))`: the
    /// secret made now (`None` when the old one stays).
    async fn configure_notifications(
        &self,
        user: UserId,
        url: Option<String>,
        rotate: bool,
        fresh_secret: String,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// Claim up to `limit` notifications due by `due_by` (their account's time), of
    /// the accounts `scope` names, for `CLAIM_LEASE_MS` of real time from `real_now`:
    /// no other process takes them meanwhile. (A lease is always in real time, so a
    /// moved clock never ends another process's lease early.)
    async fn claim_notifications(
        &self,
        due_by: Timestamp,
        real_now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// When the account's next pending notification that nobody holds falls due, in
    /// the account's time.
    async fn next_notification_at(&self, user: UserId, real_now: Timestamp) -> Result<Option<Timestamp>, StoreError>;

    /// The accounts whose clock was moved, with their offsets in milliseconds.
    async fn moved_clocks(&self) -> Result<Vec<(UserId, i64)>, StoreError>;

    /// Record an attempt; then the notification is delivered, due again at
    /// `next_attempt_at`, or (when that is `None` and it failed) given up.
    async fn finish_delivery(
        &self,
        id: i64,
        attempt: Attempt,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// The caller's notifications, newest first, with their attempts.
    async fn notification_page(
        &self,
        user: UserId,
        filter: NotificationFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Notification>, StoreError>;

    /// Queue one of the caller's notifications again, due now.
    async fn retry_notification(
        &self,
        user: UserId,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError>;

    /// The caller's audit records, newest first.
    async fn audit_page(
        &self,
        user: UserId,
        filter: AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditRecord>, StoreError>;

    async fn has_accounts(&self) -> Result<bool, StoreError>;

    /// Add entries to the request log, in one transaction.
    async fn append_request_log(&self, entries: Vec<LoggedRequest>) -> Result<(), StoreError>;

    /// The account's logged requests matching `filter`, newest first, at most `limit`.
    async fn request_log(
        &self,
        user: UserId,
        filter: RequestLogFilter,
        limit: u32,
    ) -> Result<Vec<LoggedRequest>, StoreError>;

    /// One logged request of the account.
    async fn logged_request(&self, user: UserId, id: i64) -> Result<Option<LoggedRequest>, StoreError>;

    /// Keep at most `rows_max` entries in all, none from before `before`; returns how
    /// many were removed.
    async fn prune_request_log(&self, rows_max: u64, before: Timestamp) -> Result<u64, StoreError>;

    /// The account's resources of a kind (of one status, when given), newest first,
    /// those inserted before `before_seq` when given; served by the owner index.
    async fn owned_resources(
        &self,
        user: UserId,
        kind: String,
        status: Option<String>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OwnedResource>, StoreError>;

    /// The account's notification URL and whether it has a webhook secret; `None`
    /// when there is no such account.
    async fn webhook_settings(&self, user: UserId) -> Result<Option<(Option<String>, bool)>, StoreError>;

    /// The account's notification URL and webhook secret itself (to sign
    /// `POST /caja/v1/webhooks/check`'s notifications); `None` when there is no such
    /// account.
    async fn webhook_credentials(&self, user: UserId) -> Result<Option<WebhookCredentials>, StoreError>;

    /// One of the account's resources, by kind and id.
    async fn owned_resource(&self, user: UserId, kind: String, id: String)
        -> Result<Option<OwnedResource>, StoreError>;

    /// Empty a test account in one transaction (see [`RESET_STATEMENTS`]): its
    /// resources (but those of kind `keep_kind`), idempotency records,
    /// notifications, audit records, moved clock and request log. `Ok(None)` when
    /// there is no such account.
    async fn reset_account(&self, user: UserId, keep_kind: &'static str) -> Result<Option<ResetCounts>, StoreError>;

    /// A test account's state as one file (see [`snapshot`]); `Ok(None)` when there
    /// is no such account.
    async fn export_account(&self, user: UserId) -> Result<Option<snapshot::Snapshot>, StoreError>;

    /// Replace the snapshot's account's state with the snapshot's, in one
    /// transaction: the account emptied as by a reset (its journal kept), then the
    /// rows written. The snapshot must have passed [`snapshot::Snapshot::check`].
    /// `Ok(None)` when there is no such account.
    async fn import_account(&self, snapshot: snapshot::Snapshot) -> Result<Option<snapshot::Imported>, StoreError>;

    /// Forget idempotency records created before `before`; returns how many.
    async fn purge_idempotency_records(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Finish queued writes and release the database.
    async fn close(&self);
}

impl dyn Store + '_ {
    /// Run `work` in a write transaction (see [`Store::write_any`]).
    pub async fn write<T, F>(&self, mut work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn UnitOfWork) -> Result<T, StoreError> + Send + 'static,
    {
        let value = self.write_any(Box::new(move |uow| work(uow).map(|v| Box::new(v) as AnyValue))).await?;
        restore(value)
    }

    /// Run `work` on a read connection (see [`Store::read_any`]).
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Reads) -> Result<T, StoreError> + Send + 'static,
    {
        let value = self.read_any(Box::new(move |reads| work(reads).map(|v| Box::new(v) as AnyValue))).await?;
        restore(value)
    }

    /// Run a point read where the backend can without a hand-off (see
    /// [`Store::read_here_any`]).
    pub async fn read_here<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Reads) -> Result<T, StoreError> + Send + 'static,
    {
        let value = self.read_here_any(Box::new(move |reads| work(reads).map(|v| Box::new(v) as AnyValue))).await?;
        restore(value)
    }

    /// Apply one write command atomically (see [`crate::engine::apply`]).
    pub async fn execute(&self, command: Command) -> Result<Executed, StoreError> {
        self.write(move |uow| crate::engine::apply(uow, &command)).await
    }

    /// One worker step at `now` for the accounts `scope` names: payouts processed,
    /// Point orders and payments expired, each in a transaction of its own, so one
    /// that fails holds up neither other; the first failure is returned after all
    /// three ran.
    pub async fn work_due(
        &self,
        now: Timestamp,
        scope: ClockScope,
        delay_ms: i64,
    ) -> Result<crate::engine::clock::Moved, StoreError> {
        use crate::engine::{orders, payments};
        let payouts = self.write(move |uow| crate::engine::advance_payouts(uow, now, scope, delay_ms)).await;
        let orders = self.write(move |uow| orders::expire_orders(uow, now, scope)).await;
        let payments = self.write(move |uow| payments::expire_payments(uow, now, scope)).await;
        let moved = crate::engine::clock::Moved {
            payouts: *payouts.as_ref().unwrap_or(&0),
            orders: *orders.as_ref().unwrap_or(&0),
            payments: *payments.as_ref().unwrap_or(&0),
        };
        payouts.and(orders).and(payments).map(|_| moved)
    }

    /// Run one step of payout processing (see [`crate::engine::advance_payouts`]);
    /// returns how many transactions moved. Public so tests can drain the queue.
    pub async fn advance_payouts(&self, now: Timestamp, delay_ms: i64) -> Result<usize, StoreError> {
        self.write(move |uow| crate::engine::advance_payouts(uow, now, ClockScope::Real, delay_ms)).await
    }

    /// Run one step of order expiry (see [`crate::engine::orders::expire_orders`]);
    /// returns how many orders expired. Public so tests can run it at a chosen time.
    pub async fn expire_orders(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(move |uow| crate::engine::orders::expire_orders(uow, now, ClockScope::Real)).await
    }

    /// Run one step of payment expiry (see [`crate::engine::payments::expire_payments`]).
    pub async fn expire_payments(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(move |uow| crate::engine::payments::expire_payments(uow, now, ClockScope::Real)).await
    }
}

fn restore<T: 'static>(value: AnyValue) -> Result<T, StoreError> {
    value.downcast::<T>().map(|v| *v).map_err(|_| StoreError::Database("a store job returned another type".into()))
}

/// [`open`], for a spawned task.
pub async fn open_owned(url: String) -> Result<Arc<dyn Store>, StoreError> {
    open(&url).await
}

/// Open the store a URL names: `sqlite://relative.db`, `sqlite:///abs/path.db`,
/// `postgres://user@host:port/db` (or `postgresql://`).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::BadUrl(format!("{url}: no file path")));
        }
        let store = sqlite::SqliteStore::open(path.into()).await?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PostgresStore::open(url).await?));
    }
    let scheme = url.split("://").next().unwrap_or(url);
    Err(StoreError::BadUrl(format!("{scheme:?} is not a supported store; use sqlite://FILE (e.g. sqlite://caja.db)")))
}
