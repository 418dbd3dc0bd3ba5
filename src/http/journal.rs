//! caja's request journal for tests (part of #17): `GET /caja/v1/requests`, the
//! account's requests as the request log keeps them (the console reads the same),
//! filtered, with a long-poll `wait_ms` so a test waits for "the request matching …
//! arrived" without sleeping. Test accounts only (a live account gets 403).

use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody, Family};
use super::request::{json, query, read_failed};
use super::AppState;
use crate::domain::Principal;
use crate::engine::Failure;
use crate::store::{LoggedRequest, RequestLogFilter};

const FAMILY: Family = Family::Caja;
/// The longest a `wait_ms` may be, in milliseconds (inside the server's 30 s
/// request timeout).
pub const WAIT_MS_MAX: u64 = 25_000;
/// How often a waiting query looks again.
const WAIT_POLL: Duration = Duration::from_millis(25);

/// A query's `wait_ms`: absent is 0; `Err` when it is not 0 to [`WAIT_MS_MAX`].
pub fn wait_ms(raw: Option<String>) -> Result<Duration, Failure> {
    match raw.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Duration::ZERO),
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|ms| *ms <= WAIT_MS_MAX)
            .map(Duration::from_millis)
            .ok_or_else(|| Failure::InvalidBody(format!("wait_ms must be 0 to {WAIT_MS_MAX}"))),
    }
}

/// Run `read` until `found` says it found something or `wait` has passed (a
/// long-poll); the last read is the answer.
pub async fn poll_until<T, E, F, Fut>(wait: Duration, found: impl Fn(&T) -> bool, read: F) -> Result<T, E>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + wait;
    loop {
        let value = read().await?;
        if found(&value) || Instant::now() >= deadline {
            return Ok(value);
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}
/// Entries per answer at most (and by default).
const LIMIT_MAX: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/caja/v1/requests", get(list_requests))
}

/// One request as the journal shows it (headers and bodies redacted as in the
/// console: no credentials, card data or secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    /// Ascending: a later request has a greater id (use it as `after_id`).
    pub id: i64,
    pub date_created: String,
    /// `point`, `payouts`, `customers`, `profiles`, `orders`, `payments` or `caja`.
    pub family: String,
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The status sent; 0 when nothing was (`X-Caja-Fault: reset`).
    pub status: u16,
    pub latency_ms: f64,
    pub idempotency_key: Option<String>,
    /// Answered from the stored response of an earlier request with the same key.
    pub replayed: bool,
    pub request_id: String,
    /// `api`, or `console` for a console button's request.
    pub source: String,
    pub request: MessageView,
    pub response: MessageView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Header name (lowercase) → value.
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The body as text (JSON bodies as JSON text); empty when there was none.
    pub body: String,
}

impl From<&LoggedRequest> for RequestView {
    fn from(r: &LoggedRequest) -> Self {
        let headers = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        RequestView {
            id: r.id,
            date_created: r.at.to_rfc3339(),
            family: r.family.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            status: r.status,
            latency_ms: r.latency_us as f64 / 1000.0,
            idempotency_key: r.idempotency_key.clone(),
            replayed: r.replayed,
            request_id: r.request_id.clone(),
            source: r.source.clone(),
            request: MessageView { headers: headers(&r.request_headers), body: r.request_body.clone() },
            response: MessageView { headers: headers(&r.response_headers), body: r.response_body.clone() },
        }
    }
}

/// The journal's answer: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    pub results: Vec<RequestView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestParams {
    /// `point`, `payouts`, `customers`, `profiles`, `orders`, `payments` or `caja`.
    pub family: Option<String>,
    /// `GET`, `POST`, `PUT`, …
    pub method: Option<String>,
    /// Paths (with their query) that start so, e.g. `/v1/orders`.
    pub path: Option<String>,
    /// One status code, e.g. `201`.
    pub status: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_id: Option<String>,
    /// Only requests logged after this journal id.
    pub after_id: Option<String>,
    /// 1 to 100; 100 when absent.
    pub limit: Option<String>,
    /// 0 to 25000: when nothing matches yet, wait up to this long for a match before
    /// answering (an empty `results` when none came).
    pub wait_ms: Option<String>,
}

fn refuse(why: &str) -> ApiError {
    ApiError::refused(FAMILY, Failure::InvalidBody(why.to_owned()))
}

fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(value: Option<String>, name: &str) -> Result<Option<T>, ApiError> {
    given(value).map(|v| v.parse().map_err(|_| refuse(&format!("{name} must be a number")))).transpose()
}

/// The account's requests, newest first; with `wait_ms`, the first that match once
/// any does.
#[utoipa::path(
    get, path = "/caja/v1/requests", tag = "Testing with caja",
    params(RequestParams),
    responses(
        (status = 200, description = "The matching requests, newest first (empty: none came within wait_ms)", body = RequestList),
        (status = 400, description = "bad_request: a parameter caja cannot read", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no journal API", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_requests(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<RequestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    let p = query(FAMILY, params)?;
    let limit: u32 = number(p.limit, "limit")?.unwrap_or(LIMIT_MAX);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(refuse("limit must be 1 to 100"));
    }
    let wait = wait_ms(p.wait_ms).map_err(|f| ApiError::refused(FAMILY, f))?;
    let family = given(p.family);
    if family.as_deref().is_some_and(|f| !Family::ALL.iter().any(|k| k.name() == f)) {
        return Err(refuse("family must be one of point, payouts, customers, profiles, orders, payments, caja"));
    }
    let filter = RequestLogFilter {
        family,
        idempotency_key: given(p.idempotency_key),
        after_id: number(p.after_id, "after_id")?,
        request_id: given(p.request_id),
        method: given(p.method).map(|m| m.to_ascii_uppercase()),
        path_prefix: given(p.path),
        status: number(p.status, "status")?,
        ..RequestLogFilter::default()
    };
    let found = poll_until(
        wait,
        |found: &Vec<LoggedRequest>| !found.is_empty(),
        || state.store.request_log(principal.user_id, filter.clone(), limit),
    )
    .await
    .map_err(|e| read_failed(FAMILY, e))?;
    let results = found.iter().map(RequestView::from).collect();
    Ok(json(StatusCode::OK, &RequestList { results }))
}
