//! A running server: bind, serve, housekeep, and shut down gracefully (requests in
//! flight finish, queued writes commit, then the store closes).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::domain::notification::RetryPolicy;
use crate::domain::Timestamp;
use crate::http::{self, AppState, HttpConfig};
use crate::seed::{Applied, Seed, SeedError};
use crate::store::Store;
use crate::webhooks::Deliverer;
use crate::worker::Worker;

/// How often expired idempotency records and idle rate-limit buckets are dropped.
const HOUSEKEEPING_INTERVAL_SECS: u64 = 600;
/// How long a stopping server waits for the request log's last entries.
const REQUEST_LOG_DRAIN: Duration = Duration::from_secs(5);
/// How often the payout worker looks for due transactions, by default.
pub const WORKER_TICK_MS_DEFAULT: u64 = 250;

/// Everything a server is started with.
pub struct ServerConfig {
    pub http: HttpConfig,
    /// How long a payout transaction stays `in_process` before it is `processed`.
    pub payout_processing_delay: Duration,
    /// How often the payout worker and the webhook worker run.
    pub worker_tick: Duration,
    /// When failed webhook deliveries are tried again.
    pub webhook_retry: RetryPolicy,
}

pub struct Server {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
    housekeeping: JoinHandle<()>,
    /// The worker: payouts, expiries and webhook deliveries.
    worker: JoinHandle<()>,
    /// The request log's writer: it ends once the router (every sender) is gone.
    request_log: Option<JoinHandle<()>>,
    store: Arc<dyn Store>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error(transparent)]
    Seed(#[from] SeedError),
}

impl Server {
    /// Bind `listen` (port 0 picks a free port) and start serving.
    pub async fn start(store: Arc<dyn Store>, listen: &str, config: ServerConfig) -> std::io::Result<Server> {
        match Server::start_seeded(store, listen, config, None).await {
            Ok((server, _)) => Ok(server),
            Err(StartError::Listen(err)) => Err(err),
            Err(StartError::Seed(err)) => Err(std::io::Error::other(err)),
        }
    }

    /// [`Server::start`], with a seed's resource steps applied through the router
    /// before the first connection is accepted (its accounts must exist: see
    /// [`crate::seed::apply`]). A step that fails stops the start.
    pub async fn start_seeded(
        store: Arc<dyn Store>,
        listen: &str,
        config: ServerConfig,
        seed: Option<Arc<Seed>>,
    ) -> Result<(Server, Applied), StartError> {
        let listener = TcpListener::bind(listen).await?;
        http::metrics::install();
        let addr = listener.local_addr()?;
        let delay_ms = i64::try_from(config.payout_processing_delay.as_millis()).unwrap_or(i64::MAX);
        let (log, log_queue) = http::request_log::RequestLog::new(config.http.request_log);
        let deliverer = Deliverer::new(store.clone(), config.webhook_retry);
        let worker = Worker::new(store.clone(), deliverer, delay_ms);
        let state = AppState::new(store.clone(), &config.http)
            .with_payout_processing_delay(delay_ms)
            .with_request_log(log)
            .with_worker(worker.clone())
            .with_seed(seed.clone());
        let request_log = log_queue
            .map(|queue| tokio::spawn(http::request_log::run_writer(store.clone(), queue, config.http.request_log)));
        // Paths are taken with a trailing slash too, as the real API takes them (the
        // Python SDK saves a card at `/v1/customers/{id}/cards/`): the slash is
        // trimmed before routing.
        let app =
            NormalizePathLayer::trim_trailing_slash().layer(http::router(state.clone(), config.http.request_timeout));
        let mut applied = Applied::default();
        if let (Some(seed), Some(api)) = (seed, state.api()) {
            applied = crate::seed::apply_resources(store.as_ref(), api, &seed, None).await?;
        }
        let housekeeping = tokio::spawn(housekeep(state, config.http.idempotency_retention_ms));
        let worker = tokio::spawn(work(worker, config.worker_tick));
        let (shutdown, signal) = oneshot::channel::<()>();
        let limits = config.http.client_limits;
        let serving = tokio::spawn(async move {
            // The client's address reaches the handlers: failed authentications are
            // limited per address.
            http::serve::serve(listener, Router::new().fallback_service(app), limits, async move {
                let _ = signal.await;
            })
            .await
        });
        Ok((Server { addr, shutdown, serving, housekeeping, worker, request_log, store }, applied))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `signal` resolves, then stop gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.stop().await
    }

    /// Stop accepting, let requests in flight finish, commit queued writes, close.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        let served = self.serving.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.housekeeping.abort();
        // A step in progress is a queued write; the store's close still commits it.
        // Deliveries under way are dropped; their lease runs out and they are retried.
        self.worker.abort();
        // The served requests' entries are written before the store closes.
        if let Some(log) = self.request_log {
            if tokio::time::timeout(REQUEST_LOG_DRAIN, log).await.is_err() {
                tracing::warn!("the request log was not written in time; its last entries are lost");
            }
        }
        self.store.close().await;
        served
    }
}

/// The worker (see [`Worker::tick`]): one tick every `tick`, forever.
async fn work(worker: Worker, tick: Duration) {
    // The first step comes one tick after start, not at once.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        worker.tick().await;
    }
}

async fn housekeep(state: AppState, retention_ms: i64) {
    let mut ticks = tokio::time::interval(Duration::from_secs(HOUSEKEEPING_INTERVAL_SECS));
    loop {
        ticks.tick().await;
        state.forget_idle();
        let cutoff = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() - retention_ms);
        if let Err(err) = state.store().purge_idempotency_records(cutoff).await {
            tracing::warn!(error = %err, "could not purge expired idempotency records");
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
