//! The PostgreSQL backend: several caja processes may share one database.
//!
//! Commands run through the same [`engine::apply`] as on SQLite, each in its own
//! transaction on a pooled connection (the sync `postgres` client, on Tokio's
//! blocking threads). Exactly-once across processes rests on the database: an
//! advisory lock per idempotency key (a duplicate waits, then replays), `FOR UPDATE`
//! on every row a command loads, conditional updates, unique indexes as backstops,
//! and `FOR UPDATE SKIP LOCKED` for the worker's due resources. A command that loses a race
//! (unique violation, serialization failure, deadlock) is rolled back and run again.

mod console_tables;
mod notification_tables;
mod resources;
mod schema;
mod snapshot_tables;
mod tables;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use postgres::error::SqlState;
use postgres::{Client, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use super::{
    AnyValue, AuditFilter, AuditRecord, Delivery, LoggedRequest, NewAccount, NotificationFilter, OwnedResource, Page,
    ReadWork, RequestLogFilter, Store, WriteWork,
};
use crate::domain::notification::{Attempt, Notification};
use crate::domain::{
    AuditEvent, ChainRecord, Principal, ResourceType, SiteId, Timestamp, TokenHash, TokenHasher, UserId,
};
use crate::engine::{ClockScope, StoreError};
use tables::{PgTables, Statements};

/// Connections per process, opened as load needs them: three processes under full
/// load (48) stay well within PostgreSQL's default `max_connections` of 100 (with 32,
/// `tests/api/processes.rs` ran out of connections).
const POOL_CONNECTIONS_MAX: u32 = 16;
/// How long a request waits for a connection (or to open one) before it fails.
const CONNECT_TIMEOUT_MS: u64 = 3_000;
/// Runs of one command before a lost race becomes an error.
const COMMAND_ATTEMPTS_MAX: usize = 8;

type Pool = r2d2::Pool<Manager>;

/// A pooled connection and the statements it has prepared.
pub struct CachedClient {
    client: Client,
    statements: Statements,
    /// When the connection was last given back to the pool.
    returned_at: Instant,
}

/// A connection back in the pool for less than this is handed out again without a
/// check: under load the check (an empty query) was a round trip on every checkout,
/// two of a test account's Point cancel's fifteen (one for its clock and fault-rule
/// read, one for its write). A connection idle longer is checked, so one
/// that PostgreSQL closed meanwhile (a restart) is replaced, not used.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// r2d2_postgres's manager, with a statement cache beside each connection.
struct Manager(PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = CachedClient;
    type Error = postgres::Error;

    fn connect(&self) -> Result<CachedClient, postgres::Error> {
        Ok(CachedClient { client: self.0.connect()?, statements: Statements::new(), returned_at: Instant::now() })
    }

    fn is_valid(&self, conn: &mut CachedClient) -> Result<(), postgres::Error> {
        if conn.returned_at.elapsed() < CHECK_IDLE_AFTER {
            return Ok(());
        }
        self.0.is_valid(&mut conn.client)
    }

    /// Called as the connection goes back to the pool.
    fn has_broken(&self, conn: &mut CachedClient) -> bool {
        conn.returned_at = Instant::now();
        self.0.has_broken(&mut conn.client)
    }
}

pub struct PostgresStore {
    pool: PoolHandle,
    hasher: TokenHasher,
}

/// The pool, released on a thread of its own: the sync client closes a connection by
/// blocking on its own runtime, which must not happen on a Tokio worker thread.
struct PoolHandle(Option<Pool>);

impl std::ops::Deref for PoolHandle {
    type Target = Pool;

    fn deref(&self) -> &Pool {
        self.0.as_ref().unwrap_or_else(|| unreachable!("the pool is taken only on drop"))
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// Lost races become `Contention` (the command is run again); anything else is a
/// database error.
pub fn pg_error(err: postgres::Error) -> StoreError {
    let contention = [SqlState::UNIQUE_VIOLATION, SqlState::T_R_SERIALIZATION_FAILURE, SqlState::T_R_DEADLOCK_DETECTED];
    match err.code() {
        Some(code) if contention.contains(code) => StoreError::Contention(err.to_string()),
        _ => StoreError::Database(match err.as_db_error() {
            Some(db) => format!("{err}: {}", db.message()),
            None => err.to_string(),
        }),
    }
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
        config.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
        let manager = Manager(PostgresConnectionManager::new(config, NoTls));
        let (pool, key) = tokio::task::spawn_blocking(move || {
            let pool = r2d2::Pool::builder()
                .max_size(POOL_CONNECTIONS_MAX)
                .min_idle(Some(1))
                .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
                .build(manager)
                .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
            let mut client =
                pool.get().map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
            schema::migrate(&mut client.client)?;
            let key = schema::token_hash_key(&mut client.client, rand::random())?;
            drop(client);
            Ok::<_, StoreError>((pool, key))
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(PostgresStore { pool: PoolHandle(Some(pool)), hasher: TokenHasher::new(key) })
    }

    /// Run `work` on a pooled connection, on a blocking thread.
    async fn with_client<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut CachedClient) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Pool::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut client = pool.get().map_err(|e| StoreError::Database(format!("no database connection: {e}")))?;
            work(&mut client)
        })
        .await
        .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgTables<'_, Client>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_client(move |conn| work(&mut PgTables::reader(&mut conn.client, &mut conn.statements))).await
    }

    /// Run `work` in a transaction, again from the start when it loses a race.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut PgTables<'_, postgres::Transaction<'_>>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_client(move |client| in_transaction(client, work)).await
    }
}

fn in_transaction<T, F>(conn: &mut CachedClient, mut work: F) -> Result<T, StoreError>
where
    F: FnMut(&mut PgTables<'_, postgres::Transaction<'_>>) -> Result<T, StoreError>,
{
    let CachedClient { client, statements, .. } = conn;
    let mut attempt = 1;
    loop {
        let mut tx = client.transaction().map_err(pg_error)?;
        let outcome = work(&mut PgTables::writer(&mut tx, statements))
            .and_then(|value| tx.commit().map_err(pg_error).map(|()| value));
        match outcome {
            Err(StoreError::Contention(why)) if attempt < COMMAND_ATTEMPTS_MAX => {
                tracing::debug!(attempt, %why, "command lost a race; running it again");
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn token_hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    async fn write_any(&self, mut work: WriteWork) -> Result<AnyValue, StoreError> {
        self.write(move |tables| work(tables)).await
    }

    async fn read_any(&self, work: ReadWork) -> Result<AnyValue, StoreError> {
        self.read(move |tables| work(tables)).await
    }

    async fn principal(&self, token_hash: TokenHash) -> Result<Option<Principal>, StoreError> {
        self.read(move |t| t.principal(token_hash)).await
    }

    async fn audit_trail(
        &self,
        user: UserId,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let resource_id = resource_id.to_owned();
        self.read(move |t| t.audit_trail(user, resource_type, &resource_id)).await
    }

    async fn audit_chain_records(&self, user: Option<UserId>) -> Result<Vec<ChainRecord>, StoreError> {
        self.read(move |t| t.audit_chain_records(user)).await
    }

    async fn create_account(&self, account: NewAccount) -> Result<bool, StoreError> {
        self.write(move |t| {
            if !t.insert_account(account.user_id, account.live_mode, account.payouts_enabled, account.now)? {
                return Ok(false);
            }
            t.insert_token(account.user_id, account.site_id, account.token_hash, account.now)?;
            Ok(true)
        })
        .await
    }

    async fn account_live_mode(&self, user: UserId) -> Result<Option<bool>, StoreError> {
        self.read(move |t| t.live_mode(user)).await
    }

    async fn add_token(
        &self,
        user: UserId,
        site: SiteId,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(move |t| {
            if t.live_mode(user)?.is_none() {
                return Ok(false);
            }
            t.insert_token(user, site, token_hash, now)?;
            Ok(true)
        })
        .await
    }

    async fn set_payouts_enabled(&self, user: UserId, enabled: bool) -> Result<bool, StoreError> {
        self.write(move |t| t.set_payouts_enabled(user, enabled)).await
    }

    async fn add_signing_key(&self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<bool, StoreError> {
        self.write(move |t| {
            if t.live_mode(user)?.is_none() {
                return Ok(false);
            }
            t.insert_signing_key(user, key, now)?;
            Ok(true)
        })
        .await
    }

    async fn signing_keys(&self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(move |t| t.signing_keys(user)).await
    }

    async fn configure_notifications(
        &self,
        user: UserId,
        url: Option<String>,
        rotate: bool,
        fresh_secret: String,
    ) -> Result<Option<Option<String>>, StoreError> {
        self.write(move |t| t.configure_notifications(user, url.as_deref(), rotate, &fresh_secret)).await
    }

    async fn claim_notifications(
        &self,
        due_by: Timestamp,
        real_now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.write(move |t| t.claim_notifications(due_by, real_now, scope, limit)).await
    }

    async fn next_notification_at(&self, user: UserId, real_now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        self.read(move |t| t.next_notification_at(user, real_now)).await
    }

    async fn moved_clocks(&self) -> Result<Vec<(UserId, i64)>, StoreError> {
        self.read(move |t| t.moved_clocks()).await
    }

    async fn finish_delivery(&self, id: i64, attempt: Attempt, next: Option<Timestamp>) -> Result<(), StoreError> {
        self.write(move |t| t.finish_delivery(id, &attempt, next)).await
    }

    async fn notification_page(
        &self,
        user: UserId,
        filter: NotificationFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Notification>, StoreError> {
        self.read(move |t| t.notification_page(user, &filter, limit, offset)).await
    }

    async fn retry_notification(
        &self,
        user: UserId,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        self.write(move |t| t.retry_notification(user, id, now)).await
    }

    async fn audit_page(
        &self,
        user: UserId,
        filter: AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.read(move |t| t.audit_page(user, &filter, limit, offset)).await
    }

    async fn append_request_log(&self, entries: Vec<LoggedRequest>) -> Result<(), StoreError> {
        // The log is diagnostic, not part of what caja promises durable: its commits
        // do not wait for the WAL flush (commands' commits still do).
        self.write(move |t| {
            t.execute("SET LOCAL synchronous_commit = off", &[])?;
            t.append_request_log(&entries)
        })
        .await
    }

    async fn request_log(
        &self,
        user: UserId,
        filter: RequestLogFilter,
        limit: u32,
    ) -> Result<Vec<LoggedRequest>, StoreError> {
        self.read(move |t| t.request_log(user, &filter, limit)).await
    }

    async fn logged_request(&self, user: UserId, id: i64) -> Result<Option<LoggedRequest>, StoreError> {
        self.read(move |t| t.logged_request(user, id)).await
    }

    async fn prune_request_log(&self, rows_max: u64, before: Timestamp) -> Result<u64, StoreError> {
        self.write(move |t| t.prune_request_log(rows_max, before)).await
    }

    async fn owned_resources(
        &self,
        user: UserId,
        kind: String,
        status: Option<String>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OwnedResource>, StoreError> {
        self.read(move |t| t.owned_resources(user, &kind, status.as_deref(), before_seq, limit)).await
    }

    async fn reset_account(
        &self,
        user: UserId,
        keep_kind: &'static str,
    ) -> Result<Option<super::ResetCounts>, StoreError> {
        self.write(move |t| {
            if t.live_mode(user)?.is_none() {
                return Ok(None);
            }
            let mut counts = t.reset(user, keep_kind)?;
            counts.requests = t.execute(super::RESET_REQUEST_LOG, &[&user.get()])?;
            Ok(Some(counts))
        })
        .await
    }

    async fn export_account(&self, user: UserId) -> Result<Option<super::snapshot::Snapshot>, StoreError> {
        self.write(move |t| match t.live_mode(user)? {
            None => Ok(None),
            Some(_) => t.export_account(user).map(Some),
        })
        .await
    }

    async fn import_account(
        &self,
        snapshot: super::snapshot::Snapshot,
    ) -> Result<Option<super::snapshot::Imported>, StoreError> {
        self.write(move |t| {
            let Some(user) = UserId::new(snapshot.user_id) else { return Ok(None) };
            if t.live_mode(user)?.is_none() {
                return Ok(None);
            }
            t.reset(user, "")?;
            t.import_account(&snapshot).map(Some)
        })
        .await
    }

    async fn webhook_settings(&self, user: UserId) -> Result<Option<(Option<String>, bool)>, StoreError> {
        self.read(move |t| t.webhook_settings(user)).await
    }

    async fn webhook_credentials(&self, user: UserId) -> Result<Option<super::WebhookCredentials>, StoreError> {
        self.read(move |t| t.webhook_credentials(user)).await
    }

    async fn owned_resource(
        &self,
        user: UserId,
        kind: String,
        id: String,
    ) -> Result<Option<OwnedResource>, StoreError> {
        self.read(move |t| t.owned_resource(user, &kind, &id)).await
    }

    async fn has_accounts(&self) -> Result<bool, StoreError> {
        self.read(|t| t.has_accounts()).await
    }

    async fn purge_idempotency_records(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.write(move |t| t.purge_idempotency_records(before)).await
    }

    async fn close(&self) {}
}
