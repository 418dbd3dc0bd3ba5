//! caja's movable clock for tests (#17): `GET /caja/v1/clock` reads a test account's
//! time, `POST /caja/v1/clock/advance` moves it forward. Everything that fell due by
//! the new time is played out before the answer (see `crate::worker`): payouts
//! processed, Point orders and payments expired, notifications delivered and their
//! retries, in the order real time would have produced, dated in the account's time.
//! caja's own; test accounts only (a live account gets 403).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use axum::response::IntoResponse;

use super::error::{ApiError, ErrorBody, ErrorKind, Family};
use super::request::{json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest};
use super::AppState;
use crate::domain::order_money::parse_duration_ms;
use crate::domain::Principal;
use crate::engine::clock::{AdvanceClock, Clock};
use crate::engine::Failure;
use crate::worker::PlayedOut;

const FAMILY: Family = Family::Caja;
/// How long an advance waits for its play-out before answering (inside the
/// server's 30 s request timeout).
const PLAY_OUT_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

pub fn routes() -> Router<AppState> {
    Router::new().route("/caja/v1/clock", get(read_clock)).route("/caja/v1/clock/advance", post(advance_clock))
}

/// How far to move: exactly one of the two.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    /// Whole seconds, 1 to 316,224,000 (10 years).
    pub seconds: Option<i64>,
    /// An ISO 8601 duration: `PT90S`, `PT1H`, `P1D`, `P1DT12H` (a month is 30 days,
    /// a year 365).
    pub by: Option<String>,
}

/// A test account's clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// The account's time (RFC 3339, UTC): what its resources, audit records and
    /// notifications are dated by.
    pub now: String,
    /// How far ahead of real time, in milliseconds (0: never moved).
    pub offset_ms: i64,
}

/// What an advance did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdvanceView {
    /// The account's time after the move.
    pub now: String,
    pub offset_ms: i64,
    /// What fell due by then and was played out before this answer (a replay plays
    /// out what is due by then too); `null` when that took over 20 s (receivers
    /// timing out): it goes on in the background.
    pub played_out: Option<PlayedOutView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlayedOutView {
    /// Instants at which something fell due.
    pub events: usize,
    /// Resources the worker moved (payouts processed, orders and payments expired).
    pub moved: usize,
    /// Webhook delivery attempts made.
    pub deliveries: usize,
}

fn by_ms(body: &AdvanceBody) -> Result<i64, Failure> {
    let refuse = |why: &str| Failure::InvalidBody(why.to_owned());
    match (&body.seconds, &body.by) {
        (Some(seconds), None) => seconds.checked_mul(1000).ok_or_else(|| refuse("seconds is too large")),
        (None, Some(by)) => parse_duration_ms(by).ok_or_else(|| refuse("by must be an ISO 8601 duration, e.g. PT1H")),
        _ => Err(refuse("give exactly one of seconds and by")),
    }
}

/// The caller's clock.
#[utoipa::path(
    get, path = "/caja/v1/clock", tag = "Testing with caja",
    responses(
        (status = 200, description = "The account's time", body = ClockView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts' clocks do not move", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn read_clock(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    let user = principal.user_id;
    let now = state.now();
    let offset_ms = state.store.read(move |r| r.clock_offset(user)).await.map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &ClockView { now: now.plus_millis(offset_ms).to_rfc3339(), offset_ms }))
}

/// Move the caller's clock forward, and play out what fell due.
///
/// `X-Idempotency-Key` is optional: with one, a retry is answered from the first
/// move and moves nothing again.
#[utoipa::path(
    post, path = "/caja/v1/clock/advance", tag = "Testing with caja",
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters")),
    request_body = AdvanceBody,
    responses(
        (status = 200, description = "Moved; what fell due was played out", body = AdvanceView),
        (status = 400, description = "bad_request: not exactly one of seconds and by, or not 1 ms to 10 years ahead", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts' clocks do not move", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn advance_clock(State(state): State<AppState>, request: WriteRequest) -> Response {
    let write = match Write::begin_with(&state, FAMILY, &request, true).await {
        Ok(write) => write,
        Err(err) => return err.into_response(),
    };
    let principal = write.ctx.principal.clone();
    let body = parse_json::<AdvanceBody>(write.body(), false).and_then(|b| by_ms(&b));
    let planned =
        operation(super::request::test_accounts_only(Ok(()), &principal), body, |(), by_ms| AdvanceClock { by_ms });
    let response = write
        .execute(
            &state,
            planned,
            render(FAMILY, |clock: &Clock| {
                json_response(
                    StatusCode::OK,
                    &AdvanceView {
                        now: clock.now.to_rfc3339(),
                        offset_ms: clock.offset_ms,
                        played_out: Some(PlayedOutView { events: 0, moved: 0, deliveries: 0 }),
                    },
                )
            }),
        )
        .await;
    if response.status() != StatusCode::OK || principal.live_mode {
        return response;
    }
    // The move is committed: play out what fell due (in a task of its own, so a
    // client that hangs up does not stop it half way), then answer with the counts;
    // a play-out longer than `PLAY_OUT_WAIT` (receivers that time out) goes on in
    // the background, and the answer says so with `played_out: null`.
    let worker = state.worker().clone();
    let user = principal.user_id;
    let playing = tokio::spawn(async move { worker.play_out(user).await });
    let played = match tokio::time::timeout(PLAY_OUT_WAIT, playing).await {
        Ok(Ok(Ok(played))) => Some(played),
        Ok(Ok(Err(err))) => return read_failed(FAMILY, err).into_response(),
        Ok(Err(_)) => return ApiError::new(FAMILY, ErrorKind::Internal).into_response(),
        Err(_) => None,
    };
    with_played_out(response, played).await
}

/// The answer with the play-out's counts in `played_out` (the stored answer, which
/// a replay sends, was written before the play-out).
async fn with_played_out(response: Response, played: Option<PlayedOut>) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::BODY_BYTES_MAX).await else {
        return ApiError::new(FAMILY, ErrorKind::Internal).into_response();
    };
    let Ok(mut view) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    view["played_out"] = match played {
        Some(p) => serde_json::json!({ "events": p.events, "moved": p.moved, "deliveries": p.deliveries }),
        None => serde_json::Value::Null,
    };
    let mut response = Response::from_parts(parts, axum::body::Body::from(view.to_string()));
    response.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    response
}
