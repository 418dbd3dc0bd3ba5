//! Read connections: a fixed pool used from Tokio's blocking threads. WAL mode lets
//! readers see the last committed state while the writer works.
//!
//! At most `READERS_MAX` reads run at once and each reuses a pooled connection, so
//! every connection keeps its page cache warm; a read beyond that waits for a free
//! connection instead of opening a cold one (opening one per read made page reads
//! three times slower at 100,000 resources than at 10,000: `bench scale`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::connect;
use crate::engine::StoreError;

/// Read connections open at most (and reads running at once).
const READERS_MAX: usize = 8;

/// Connections kept for [`Readers::read_here`] (one per thread that reads at once,
/// on the 2-core machine two; more are opened when needed and closed after).
const HERE_IDLE_MAX: usize = 4;

#[derive(Clone)]
pub struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    /// Idle connections for reads on the calling thread.
    here: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Self {
        Readers {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(READERS_MAX)),
            here: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A point read of a few microseconds, run on the calling thread with a kept
    /// connection: no hand-off to a blocking thread and back. The authentication
    /// layer reads a test account's clock and fault-rule probe so on every request;
    /// measured with `cargo run --release --example bench` on the 2-core machine,
    /// a Point cancel ran at 6,344 req/s with [`Readers::read`] and 7,897 this way
    /// (8,208 with no read at all), an idempotent replay at 11,283 and 17,665. Never
    /// for listings.
    pub fn read_here<T>(&self, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.here.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = work(&conn);
        let mut here = self.here.lock().unwrap_or_else(|e| e.into_inner());
        if here.len() < HERE_IDLE_MAX {
            here.push(conn);
        }
        result
    }

    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => connect(&pool.path)?,
            };
            let result = work(&conn);
            pool.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("read task failed: {e}")))?
    }
}
