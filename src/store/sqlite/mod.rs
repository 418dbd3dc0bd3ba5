//! The embedded SQLite backend: one file, WAL mode, `synchronous = FULL` (a commit
//! is on disk before it is acknowledged), a single group-committing writer thread
//! and a small pool of read connections.

mod console_tables;
mod log_file;
mod notification_tables;
mod readers;
mod resources;
mod schema;
mod snapshot_tables;
mod tables;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};

use super::{
    AnyValue, AuditFilter, AuditRecord, Delivery, LoggedRequest, NewAccount, NotificationFilter, OwnedResource, Page,
    ReadWork, RequestLogFilter, Store, WriteWork,
};
use crate::domain::notification::{Attempt, Notification};
use crate::domain::{
    AuditEvent, ChainRecord, Principal, ResourceType, SiteId, Timestamp, TokenHash, TokenHasher, UserId,
};
use crate::engine::{ClockScope, StoreError};
use readers::Readers;
use tables::Tables;
use writer::Writer;

/// How much of the file each connection reads through a memory map rather than
/// `read` calls: all connections then share the operating system's page cache, so a
/// read costs the same on a store of 10,000 resources as on one of 1,000,000
/// (`bench scale`). Address space, not memory: pages are the OS's to keep or drop.
const MMAP_BYTES_MAX: i64 = 1 << 30;
/// How long a connection waits for another process's lock before failing.
pub(crate) const BUSY_TIMEOUT_MS: u64 = 5_000;
/// The writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    /// The request log's own file (see [`log_file`]).
    log: log_file::LogFile,
    hasher: TokenHasher,
}

/// Open a connection with caja's settings.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    wal(&conn)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES_MAX)?;
    Ok(conn)
}

/// Switch `conn`'s file to WAL. That needs the file to itself, and SQLite answers
/// "database is locked" at once rather than waiting while another process has it
/// open (several processes opening one file at once): retry within the busy timeout.
fn wal(conn: &Connection) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    loop {
        match conn.execute_batch("PRAGMA journal_mode = WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < Duration::from_millis(BUSY_TIMEOUT_MS) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl SqliteStore {
    pub async fn open(path: PathBuf) -> Result<Self, StoreError> {
        let opened = path.clone();
        let (conn, checkpointer, key, log) = tokio::task::spawn_blocking(move || {
            let mut conn = connect(&opened)?;
            // The writer's page cache holds the interior pages of every index a write
            // touches; SQLite's default (2 MiB) is outgrown past a few hundred
            // thousand resources, and then every write rereads them.
            conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
            schema::migrate(&mut conn)?;
            let key = schema::token_hash_key(&conn, rand::random())?;
            let log = log_file::LogFile::open(&opened)?;
            Ok::<_, StoreError>((conn, connect(&opened)?, key, log))
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        let writer = Writer::spawn(conn, Some(checkpointer)).map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(SqliteStore { writer, readers: Readers::new(path), log, hasher: TokenHasher::new(key) })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn token_hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    async fn write_any(&self, mut work: WriteWork) -> Result<AnyValue, StoreError> {
        self.writer.write(move |conn| work(&mut Tables(conn))).await
    }

    async fn read_any(&self, work: ReadWork) -> Result<AnyValue, StoreError> {
        self.readers.read(move |conn| work(&mut Tables(conn))).await
    }

    async fn read_here_any(&self, work: ReadWork) -> Result<AnyValue, StoreError> {
        self.readers.read_here(move |conn| work(&mut Tables(conn)))
    }

    async fn principal(&self, token_hash: TokenHash) -> Result<Option<Principal>, StoreError> {
        self.readers.read(move |conn| Tables(conn).principal(token_hash)).await
    }

    async fn audit_trail(
        &self,
        user: UserId,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let resource_id = resource_id.to_owned();
        self.readers.read(move |conn| Tables(conn).audit_trail(user, resource_type, &resource_id)).await
    }

    async fn audit_chain_records(&self, user: Option<UserId>) -> Result<Vec<ChainRecord>, StoreError> {
        self.readers.read(move |conn| Tables(conn).audit_chain_records(user)).await
    }

    async fn create_account(&self, account: NewAccount) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let tables = Tables(conn);
                if !tables.insert_account(account.user_id, account.live_mode, account.payouts_enabled, account.now)? {
                    return Ok(false);
                }
                tables.insert_token(account.user_id, account.site_id, account.token_hash, account.now)?;
                Ok(true)
            })
            .await
    }

    async fn account_live_mode(&self, user: UserId) -> Result<Option<bool>, StoreError> {
        self.readers.read(move |conn| Tables(conn).live_mode(user)).await
    }

    async fn add_token(
        &self,
        user: UserId,
        site: SiteId,
        token_hash: TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let tables = Tables(conn);
                if tables.live_mode(user)?.is_none() {
                    return Ok(false);
                }
                tables.insert_token(user, site, token_hash, now)?;
                Ok(true)
            })
            .await
    }

    async fn set_payouts_enabled(&self, user: UserId, enabled: bool) -> Result<bool, StoreError> {
        self.writer.write(move |conn| Tables(conn).set_payouts_enabled(user, enabled)).await
    }

    async fn add_signing_key(&self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let tables = Tables(conn);
                if tables.live_mode(user)?.is_none() {
                    return Ok(false);
                }
                tables.insert_signing_key(user, key, now)?;
                Ok(true)
            })
            .await
    }

    async fn signing_keys(&self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError> {
        self.readers.read(move |conn| Tables(conn).signing_keys(user)).await
    }

    async fn configure_notifications(
        &self,
        user: UserId,
        url: Option<String>,
        rotate: bool,
        fresh_secret: String,
    ) -> Result<Option<Option<String>>, StoreError> {
        self.writer
            .write(move |conn| Tables(conn).configure_notifications(user, url.as_deref(), rotate, &fresh_secret))
            .await
    }

    async fn claim_notifications(
        &self,
        due_by: Timestamp,
        real_now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.writer.write(move |conn| Tables(conn).claim_notifications(due_by, real_now, scope, limit)).await
    }

    async fn next_notification_at(&self, user: UserId, real_now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        self.readers.read(move |conn| Tables(conn).next_notification_at(user, real_now)).await
    }

    async fn moved_clocks(&self) -> Result<Vec<(UserId, i64)>, StoreError> {
        self.readers.read(move |conn| Tables(conn).moved_clocks()).await
    }

    async fn finish_delivery(&self, id: i64, attempt: Attempt, next: Option<Timestamp>) -> Result<(), StoreError> {
        self.writer.write(move |conn| Tables(conn).finish_delivery(id, &attempt, next)).await
    }

    async fn notification_page(
        &self,
        user: UserId,
        filter: NotificationFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Notification>, StoreError> {
        self.readers.read(move |conn| Tables(conn).notification_page(user, &filter, limit, offset)).await
    }

    async fn retry_notification(
        &self,
        user: UserId,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        self.writer.write(move |conn| Tables(conn).retry_notification(user, id, now)).await
    }

    async fn audit_page(
        &self,
        user: UserId,
        filter: AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.readers.read(move |conn| Tables(conn).audit_page(user, &filter, limit, offset)).await
    }

    async fn append_request_log(&self, entries: Vec<LoggedRequest>) -> Result<(), StoreError> {
        self.log
            .run(move |conn| {
                let tx = conn.unchecked_transaction()?;
                Tables(&tx).append_request_log(&entries)?;
                Ok(tx.commit()?)
            })
            .await
    }

    async fn request_log(
        &self,
        user: UserId,
        filter: RequestLogFilter,
        limit: u32,
    ) -> Result<Vec<LoggedRequest>, StoreError> {
        self.log.run(move |conn| Tables(conn).request_log(user, &filter, limit)).await
    }

    async fn logged_request(&self, user: UserId, id: i64) -> Result<Option<LoggedRequest>, StoreError> {
        self.log.run(move |conn| Tables(conn).logged_request(user, id)).await
    }

    async fn prune_request_log(&self, rows_max: u64, before: Timestamp) -> Result<u64, StoreError> {
        self.log.run(move |conn| Tables(conn).prune_request_log(rows_max, before)).await
    }

    async fn owned_resources(
        &self,
        user: UserId,
        kind: String,
        status: Option<String>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OwnedResource>, StoreError> {
        self.readers
            .read(move |conn| Tables(conn).owned_resources(user, &kind, status.as_deref(), before_seq, limit))
            .await
    }

    async fn reset_account(
        &self,
        user: UserId,
        keep_kind: &'static str,
    ) -> Result<Option<super::ResetCounts>, StoreError> {
        let reset = self
            .writer
            .write(move |conn| {
                if Tables(conn).live_mode(user)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(reset(conn, user, keep_kind)?))
            })
            .await?;
        let Some(mut counts) = reset else { return Ok(None) };
        counts.requests = self
            .log
            .run(move |conn| Ok(conn.prepare_cached(super::RESET_REQUEST_LOG)?.execute([user.get()])? as u64))
            .await?;
        Ok(Some(counts))
    }

    async fn export_account(&self, user: UserId) -> Result<Option<super::snapshot::Snapshot>, StoreError> {
        self.writer
            .write(move |conn| match Tables(conn).live_mode(user)? {
                None => Ok(None),
                Some(_) => snapshot_tables::export(conn, user).map(Some),
            })
            .await
    }

    async fn import_account(
        &self,
        snapshot: super::snapshot::Snapshot,
    ) -> Result<Option<super::snapshot::Imported>, StoreError> {
        self.writer
            .write(move |conn| {
                let Some(user) = UserId::new(snapshot.user_id) else { return Ok(None) };
                if Tables(conn).live_mode(user)?.is_none() {
                    return Ok(None);
                }
                reset(conn, user, "")?;
                snapshot_tables::import(conn, &snapshot).map(Some)
            })
            .await
    }

    async fn webhook_settings(&self, user: UserId) -> Result<Option<(Option<String>, bool)>, StoreError> {
        self.readers.read(move |conn| Tables(conn).webhook_settings(user)).await
    }

    async fn webhook_credentials(&self, user: UserId) -> Result<Option<super::WebhookCredentials>, StoreError> {
        self.readers.read(move |conn| Tables(conn).webhook_credentials(user)).await
    }

    async fn owned_resource(
        &self,
        user: UserId,
        kind: String,
        id: String,
    ) -> Result<Option<OwnedResource>, StoreError> {
        self.readers.read(move |conn| Tables(conn).owned_resource(user, &kind, &id)).await
    }

    async fn has_accounts(&self) -> Result<bool, StoreError> {
        self.readers.read(|conn| Tables(conn).has_accounts()).await
    }

    async fn purge_idempotency_records(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.writer.write(move |conn| Tables(conn).purge_idempotency_records(before)).await
    }

    async fn close(&self) {
        self.writer.close().await;
    }
}

/// Run [`super::RESET_STATEMENTS`] for `user`, keeping resources of `keep_kind`.
fn reset(conn: &Connection, user: UserId, keep_kind: &str) -> Result<super::ResetCounts, StoreError> {
    let mut counts = super::ResetCounts::default();
    for (label, sql, binds) in super::RESET_STATEMENTS {
        let mut stmt = conn.prepare_cached(sql)?;
        let removed = match binds {
            super::ResetBinds::UserAndKeptKind => stmt.execute(rusqlite::params![user.get(), keep_kind])?,
            super::ResetBinds::User => stmt.execute([user.get()])?,
            super::ResetBinds::Nothing => stmt.execute([])?,
        };
        counts.add(label, removed as u64);
    }
    Ok(counts)
}
