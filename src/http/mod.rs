//! The HTTP layer: routes, the request pipeline, error mapping and the OpenAPI
//! document. Only this layer knows HTTP and JSON.

mod auth;
mod cards;
mod checkout;
mod checkout_page;
mod clock;
pub mod console;
mod customers;
mod error;
pub mod faults;
mod journal;
pub mod listen;
pub mod metrics;
mod notifications;
mod openapi;
mod orders;
mod paging;
mod payments;
mod payouts;
mod point;
mod profiles;
mod qr;
mod rate_limit;
mod request;
mod request_id;
pub mod request_log;
mod reset;
pub mod serve;
mod strict_json;
mod test_users;
mod transaction_intents;
pub mod trigger;
mod webhook_check;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::domain::Timestamp;
use crate::store::Store;
pub use error::{ErrorBody, Family, GenericError};
pub use openapi::document as openapi_document;
pub use rate_limit::RateLimiter;

/// The largest request body accepted, in bytes.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    limiter: Arc<RateLimiter>,
    /// Failed authentications per client address.
    auth_failures: Arc<rate_limit::AuthFailures>,
    /// Principals of tokens seen recently (see [`auth::PrincipalCache`]).
    principals: Arc<auth::PrincipalCache>,
    /// Where each API request's log entry goes (see [`request_log`]).
    request_log: request_log::RequestLog,
    /// The router itself, for the console's actions (weak: the router holds this
    /// state, and the server owns the router).
    api: Arc<std::sync::OnceLock<std::sync::Weak<Router>>>,
    retention_ms: i64,
    payout_processing_delay_ms: i64,
    /// The worker, for a moved clock's play-out (see [`crate::worker`]).
    worker: crate::worker::Worker,
    /// The seed the server started with: a reset applies its account's resources
    /// again (see [`reset`]).
    seed: Option<Arc<crate::seed::Seed>>,
    /// Held while a reset empties an account and applies the seed again, so two
    /// resets in this process never interleave their seed steps.
    resetting: Arc<tokio::sync::Mutex<()>>,
}

/// What the HTTP layer is configured with.
pub struct HttpConfig {
    pub rate_limit_per_second: NonZeroU32,
    /// Failed authentications allowed per client address and second (bursts of ten
    /// times that); past them the address gets 429 for a while.
    pub auth_failures_per_second: NonZeroU32,
    pub idempotency_retention_ms: i64,
    pub request_timeout: Duration,
    /// Deadlines and caps for what clients send (header and body read, connections).
    pub client_limits: serve::ClientLimits,
    /// How long the request log keeps entries (`rows_max == 0`: no log).
    pub request_log: request_log::Retention,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: &HttpConfig) -> Self {
        AppState {
            limiter: Arc::new(RateLimiter::per_second(config.rate_limit_per_second)),
            auth_failures: Arc::new(rate_limit::AuthFailures::per_second(config.auth_failures_per_second)),
            principals: Arc::new(auth::PrincipalCache::default()),
            request_log: request_log::RequestLog::off(),
            api: Arc::default(),
            retention_ms: config.idempotency_retention_ms,
            payout_processing_delay_ms: 0,
            worker: crate::worker::Worker::new(
                store.clone(),
                crate::webhooks::Deliverer::new(store.clone(), crate::domain::notification::RetryPolicy::DEFAULT),
                0,
            ),
            seed: None,
            resetting: Arc::default(),
            store,
        }
    }

    /// The seed the server was started with.
    pub fn with_seed(self, seed: Option<Arc<crate::seed::Seed>>) -> Self {
        AppState { seed, ..self }
    }

    /// Play moved clocks out with `worker` (the server's, with its delays and
    /// retry policy).
    pub fn with_worker(self, worker: crate::worker::Worker) -> Self {
        AppState { worker, ..self }
    }

    pub fn worker(&self) -> &crate::worker::Worker {
        &self.worker
    }

    /// How long a payout transaction the test helper moves to `in_process` stays
    /// there before the worker processes it (the server's `--payout-processing-delay`).
    pub fn with_payout_processing_delay(self, delay_ms: i64) -> Self {
        AppState { payout_processing_delay_ms: delay_ms, ..self }
    }

    /// Log every API request to `log` (see [`request_log`]).
    pub fn with_request_log(self, log: request_log::RequestLog) -> Self {
        AppState { request_log: log, ..self }
    }

    pub fn payout_processing_delay_ms(&self) -> i64 {
        self.payout_processing_delay_ms
    }

    /// The wall clock, read here and passed inward.
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
    }

    /// The account's time: the wall clock, plus a test account's moved clock's
    /// offset (`POST /caja/v1/clock/advance`), read from the store so that a move
    /// made by any process is seen at once. Live accounts' clocks never move, and are
    /// not read.
    async fn account_now(&self, principal: &crate::domain::Principal) -> Result<Timestamp, crate::store::StoreError> {
        self.time_of(principal.user_id, principal.live_mode).await
    }

    /// [`Self::account_now`] for an account known by its id and mode.
    async fn time_of(
        &self,
        user: crate::domain::UserId,
        live_mode: bool,
    ) -> Result<Timestamp, crate::store::StoreError> {
        let now = self.now();
        if live_mode {
            return Ok(now);
        }
        let offset = self.store.read(move |r| r.clock_offset(user)).await?;
        Ok(now.plus_millis(offset))
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Drop what the rate limiters no longer need.
    pub fn forget_idle(&self) {
        self.limiter.forget_idle();
        self.auth_failures.forget_idle();
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The router, while the server runs.
    pub(crate) fn api(&self) -> Option<Router> {
        self.api.get().and_then(std::sync::Weak::upgrade).map(|router| Router::clone(&router))
    }

    /// The principal behind a token hash: the cache, else the store (`None`: unknown,
    /// or the store failed, which is logged).
    async fn principal_of_hash(&self, hash: crate::domain::TokenHash) -> Option<crate::domain::Principal> {
        self.principals.lookup(&self.store, hash, false).await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "token lookup failed");
            None
        })
    }

    /// The principal behind a token.
    async fn principal_of_token(&self, token: &str) -> Option<crate::domain::Principal> {
        if token.is_empty() || token.len() > auth::TOKEN_CHARS_MAX {
            return None;
        }
        let hash = self.store.token_hasher().hash(token);
        self.principal_of_hash(hash).await.filter(|p| p.token_hash == hash)
    }
}

pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let slot = state.api.clone();
    let api = Arc::new(api_router(state, request_timeout));
    let _ = slot.set(Arc::downgrade(&api));
    Router::new().fallback_service(tower::service_fn(move |request: axum::extract::Request| {
        let api = Router::clone(&api);
        async move { tower::ServiceExt::oneshot(api, request).await }
    }))
}

fn api_router(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .merge(point::routes())
        .merge(payouts::routes())
        .merge(transaction_intents::routes())
        .merge(customers::routes())
        .merge(cards::routes())
        .merge(profiles::routes())
        .merge(orders::routes())
        .merge(payments::routes())
        .merge(checkout::routes())
        .merge(checkout_page::routes())
        .merge(notifications::routes())
        .merge(console::routes())
        .merge(journal::routes())
        .merge(webhook_check::routes())
        .merge(clock::routes())
        .merge(faults::routes())
        .merge(test_users::routes())
        .merge(reset::routes())
        .merge(trigger::routes())
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics::serve))
        .fallback(|uri: axum::http::Uri| async move { GenericError::RouteNotFound.at(uri.path()) })
        .method_not_allowed_fallback(
            |uri: axum::http::Uri| async move { GenericError::MethodNotAllowed.at(uri.path()) },
        )
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        // Outside authentication, so its 401s and 429s are counted; `Router::layer`
        // wraps each route, so the route template is known here.
        .layer(middleware::from_fn(metrics::track))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(request_id::assign))
                .layer(TraceLayer::new_for_http())
                .layer(CatchPanicLayer::custom(|_| GenericError::Internal.into_response()))
                .layer(middleware::from_fn(move |req, next| timeout(request_timeout, req, next))),
        )
}

/// A request that takes longer than the limit gets a 503 in the error format. Work
/// already handed to the store still finishes; a retry with the same key replays it.
async fn timeout(limit: Duration, request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => GenericError::Timeout.at(&path),
    }
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "Service", responses((status = 200, description = "The server is up")))]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
