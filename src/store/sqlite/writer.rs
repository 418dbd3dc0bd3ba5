//! The single writer: one thread owns the write connection and commits queued
//! commands in batches (group commit).
//!
//! SQLite allows one writer at a time anyway; funnelling every write through one
//! thread turns lock contention into a queue, and lets many commands share one
//! `COMMIT` (and so one fsync). Each command runs inside its own savepoint, so one
//! failing command rolls back alone. Replies are sent only after the `COMMIT`
//! returned: a caller that hears "ok" knows its work is on disk.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::engine::StoreError;

/// Commands queued at most; past it a write is refused at once (`StoreError::Busy`).
const QUEUE_JOBS_MAX: usize = 4096;
/// Commands committed together at most.
const BATCH_JOBS_MAX: usize = 256;

/// What a job leaves behind: whether it succeeded, and how to tell its caller once
/// the batch's fate is known.
struct Finish {
    ok: bool,
    reply: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

type Job = Box<dyn FnOnce(&Connection) -> Finish + Send>;

pub struct Writer {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Dropped to stop the checkpointer.
    checkpoints: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl Writer {
    /// The writer on `conn`, and, when `checkpoint_with` gives a second connection to
    /// the same file, a checkpointer thread on it: the writer then never checkpoints
    /// itself (SQLite's automatic checkpoint runs inside a commit, and its fsync of
    /// the database file stalled every command queued behind that commit), and the
    /// checkpointer's PASSIVE checkpoints copy the WAL without blocking anyone.
    pub fn spawn(conn: Connection, checkpoint_with: Option<Connection>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE_JOBS_MAX);
        let checkpoints = match checkpoint_with {
            Some(checkpointer) => {
                conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(std::io::Error::other)?;
                let (stop, stopped) = std::sync::mpsc::channel::<()>();
                std::thread::Builder::new()
                    .name("caja-sqlite-checkpoint".into())
                    .spawn(move || checkpoint(&checkpointer, &stopped))?;
                Some(stop)
            }
            None => None,
        };
        let thread = std::thread::Builder::new().name("caja-sqlite-writer".into()).spawn(move || run(conn, rx))?;
        Ok(Writer {
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            checkpoints: Mutex::new(checkpoints),
        })
    }

    /// Run `work` in the next batch and wait until that batch committed.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let sender = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let sender = sender.ok_or(StoreError::Closed)?;
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = work(conn);
            Finish {
                ok: result.is_ok(),
                reply: Box::new(move |committed| {
                    let _ = reply_tx.send(committed.and(result));
                }),
            }
        });
        metrics::gauge!("caja_write_queue_depth").set((QUEUE_JOBS_MAX - sender.capacity()) as f64);
        sender.try_send(job).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => StoreError::Busy,
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })?;
        // A dropped reply means the job never ran to the end (its batch could not
        // begin, or it panicked): nothing of it was committed.
        reply_rx.await.unwrap_or_else(|_| Err(StoreError::Database("the write was not committed".into())))
    }

    /// Stop taking work, finish what is queued, and wait for the thread.
    pub async fn close(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.checkpoints.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Checkpoint every [`CHECKPOINT_EVERY`] until `stop` is dropped, then once more.
fn checkpoint(conn: &Connection, stop: &std::sync::mpsc::Receiver<()>) {
    loop {
        let stopping = !matches!(stop.recv_timeout(CHECKPOINT_EVERY), Err(std::sync::mpsc::RecvTimeoutError::Timeout));
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %err, "WAL checkpoint failed; trying again");
        }
        if stopping {
            return;
        }
    }
}

fn run(conn: Connection, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_JOBS_MAX {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("caja_commit_batch_size").record(batch.len() as f64);
        metrics::gauge!("caja_write_queue_depth").set(jobs.len() as f64);
        commit_batch(&conn, batch);
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %err, "could not begin a write transaction");
        drop(batch); // each caller hears that its write was not committed
        return;
    }
    let mut finishes = Vec::with_capacity(batch.len());
    let mut batch_error = None;
    for job in batch {
        if let Err(err) = conn.execute_batch("SAVEPOINT job") {
            batch_error = Some(err.to_string());
            break;
        }
        let finish = catch_unwind(AssertUnwindSafe(|| job(conn))).ok();
        let keep = finish.as_ref().is_some_and(|f| f.ok);
        let end = if keep { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if let Err(err) = conn.execute_batch(end) {
            batch_error = Some(err.to_string());
        }
        finishes.extend(finish);
        if batch_error.is_some() {
            break;
        }
    }
    let committed = match batch_error {
        None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        Some(err) => Err(err),
    };
    if let Err(err) = &committed {
        tracing::error!(error = %err, "write batch rolled back");
        let _ = conn.execute_batch("ROLLBACK");
    }
    for finish in finishes {
        (finish.reply)(committed.clone().map_err(StoreError::Database));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once() {
        let writer =
            std::sync::Arc::new(Writer::spawn(Connection::open_in_memory().expect("open"), None).expect("writer"));
        // The first job holds the writer thread until told to go on.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let held = writer.clone();
        let first = tokio::spawn(async move {
            held.write(move |_| {
                let _ = wait.recv();
                Ok(())
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let queued: Vec<_> = (0..QUEUE_JOBS_MAX)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(|_| Ok(())).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let refused = writer.write(|_| Ok(())).await;
        assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");
        go.send(()).expect("go");
        assert!(first.await.expect("first").is_ok());
        for job in queued {
            assert!(job.await.expect("queued").is_ok(), "every queued write commits");
        }
    }
}
