//! The request log's own SQLite file, beside the store's (`<file>-requests`).
//!
//! Kept apart so that logging never takes a turn of the store's one writer thread
//! and never waits for its `fsync`: with the log in the store's file, its inserts
//! queued behind (and ahead of) commands, and at half load the p99 of a Point cancel
//! went from 9.9 ms to 15.1 ms (`cargo run --release --example bench`). The log is
//! diagnostic, not part of what caja promises durable, so this file is written with
//! `synchronous = OFF`: a power cut may lose its last entries, never the store's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::BUSY_TIMEOUT_MS;
use crate::engine::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS request_log (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    family           TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status           INTEGER NOT NULL,
    latency_us       INTEGER NOT NULL,
    idempotency_key  TEXT,
    replayed         INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    source           TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    response_body    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_log_by_user ON request_log (user_id, id);
";

/// One connection to the log file, shared by the log's writer task and the
/// console's reads (both short: a batch of at most 64 entries, a page of 50).
#[derive(Clone)]
pub struct LogFile {
    conn: Arc<Mutex<Connection>>,
}

/// The log file of the store at `store`: `caja.db` → `caja.db-requests`.
pub fn path_of(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push("-requests");
    PathBuf::from(name)
}

impl LogFile {
    pub fn open(store: &Path) -> Result<LogFile, StoreError> {
        let path = path_of(store);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
        super::wal(&conn)?;
        conn.execute_batch("PRAGMA synchronous = OFF;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(LogFile { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Run `work` on the log's connection, on a blocking thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&conn.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(|e| StoreError::Database(format!("request log task failed: {e}")))?
    }
}
