//! Read connections: a small pool used from Tokio's blocking threads. WAL mode lets
//! readers see the last committed state while the writer works.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::connect;
use crate::engine::StoreError;

/// Idle read connections kept for reuse; more are opened under load and closed after.
const IDLE_READERS_MAX: usize = 8;

#[derive(Clone)]
pub struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Self {
        Readers { path: Arc::new(path), idle: Arc::new(Mutex::new(Vec::new())) }
    }

    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => connect(&pool.path)?,
            };
            let result = work(&conn);
            let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_READERS_MAX {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("read task failed: {e}")))?
    }
}
