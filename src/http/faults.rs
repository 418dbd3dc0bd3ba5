//! caja's own faults on demand (part of #17): a test account sends `X-Caja-Fault`
//! on any API request and caja misbehaves exactly as asked, so a client's error
//! handling and retries can be proven without set-up; or it sets fault rules
//! (`POST /caja/v1/faults`, see [`crate::domain::fault`]) that its next matching
//! requests take one step each, exactly once across processes. The authentication
//! layer reads a test account's rules and clock in one read ([`from_rules`]).
//!
//! `X-Caja-Fault: <item>[, <item>]`, items:
//! - `latency=MS` — wait MS milliseconds (0–30000) first;
//! - `status=500` — answer the family's own internal-error body, running nothing;
//!   `status=503` — the family's busy answer with `Retry-After: 1`;
//!   `status=429` — the family's rate-limit answer with `Retry-After: 1`;
//! - `reset` — close the connection without answering, running nothing;
//! - `lose-answer` — run the request (a write commits, audited and notified), then
//!   close the connection without answering: the same key again must replay it,
//!   never act twice.
//!
//! At most one of `status`, `reset` and `lose-answer`. A live account's request
//! with the header gets the family's 403 (test accounts only); a header caja cannot
//! read gets the family's 400 naming the item. Every faulted request is in the
//! request log with the header, so the console shows it.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorKind, Family, GenericError};
use super::request::{json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest};
use super::AppState;
pub use crate::domain::fault::{parse, Fault, Outcome, LATENCY_MS_MAX};
use crate::domain::fault::{FaultRule, Matcher, RequestFacts, RuleDraft};
use crate::domain::order_money::parse_duration_ms;
use crate::domain::{Principal, Timestamp};
use crate::engine::faults::{self as rules, CreateRule, DeleteRule};
use crate::engine::Failure;

pub const HEADER: &str = "x-caja-fault";
/// Marks, in the request log, a request a fault rule took a step of:
/// `<rule id>; step=<n>/<steps>`.
pub const RULE_HEADER: &str = "x-caja-fault-rule";

/// Ends the connection a request came on, without an answer. The connection loop
/// puts one in every request ([`super::serve`]).
#[derive(Clone, Default)]
pub struct DropConnection(pub Arc<Notify>);

/// A test account's clock offset, read with its fault rules by the authentication
/// layer so that a write need not read it again (see `AppState::account_now`).
#[derive(Clone, Copy, Debug)]
pub struct AccountClock(pub i64);

/// The fault a request asks for, if any (`Err`: the family's answer to a bad or
/// forbidden header).
pub fn requested(headers: &HeaderMap, family: Family, principal: &Principal) -> Result<Option<Fault>, ApiError> {
    let Some(value) = headers.get(HEADER) else { return Ok(None) };
    let refuse = |failure| Err(ApiError::new(family, ErrorKind::Refused(failure)));
    if principal.live_mode {
        return refuse(Failure::TestAccountsOnly);
    }
    match value.to_str().map_err(|_| "the header is not text".to_owned()).and_then(parse) {
        Ok(fault) => Ok(Some(fault)),
        Err(why) => refuse(Failure::InvalidBody(format!("X-Caja-Fault: {why}"))),
    }
}

/// What a fault made of a request: an answer to send, or a hang-up (with the answer
/// that was not sent, for `lose-answer`). The request log records either before
/// [`hang_up`] closes the connection.
pub enum Applied {
    Answer(Response),
    HangUp(Option<Response>),
}

/// Run `next` for `request`, misbehaving as `fault` says (`None`: as asked).
pub async fn apply(fault: Option<Fault>, family: Family, request: Request, next: Next) -> Applied {
    let Some(fault) = fault else { return Applied::Answer(next.run(request).await) };
    metrics::counter!("caja_faults_injected_total").increment(1);
    if fault.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.latency_ms)).await;
    }
    match fault.outcome {
        None => Applied::Answer(next.run(request).await),
        Some(Outcome::Status(500)) => Applied::Answer(ApiError::new(family, ErrorKind::Internal).into_response()),
        Some(Outcome::Status(429)) => {
            Applied::Answer(ApiError::new(family, ErrorKind::RateLimited { retry_after_secs: 1 }).into_response())
        }
        Some(Outcome::Status(_)) => Applied::Answer(GenericError::Busy.of(family)),
        Some(Outcome::Reset) => Applied::HangUp(None),
        Some(Outcome::LoseAnswer) => Applied::HangUp(Some(next.run(request).await)),
    }
}

/// Close the connection instead of answering: the connection loop drops it, and
/// this never returns. A request that came some other way gets the family's 500.
pub async fn hang_up(drop_connection: Option<DropConnection>, family: Family) -> Response {
    match drop_connection {
        Some(DropConnection(notify)) => {
            notify.notify_one();
            std::future::pending().await
        }
        None => ApiError::new(family, ErrorKind::Internal).into_response(),
    }
}

/// The fault a test account's rules give this request, if one matches (a step is
/// taken: the rule moves on), and the account's clock for the request to run at.
/// Marks the request for the request log. A failure to read the rules is logged and
/// the request runs unfaulted.
pub async fn from_rules(
    state: &AppState,
    principal: &Principal,
    family: Family,
    request: &mut Request,
    set_up: bool,
) -> Option<Fault> {
    let user = principal.user_id;
    let key = request.headers().get("x-idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (method, path) = (request.method().as_str().to_owned(), request.uri().path().to_owned());
    let real_now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let read = state
        .store
        .read_here(move |r| {
            let facts =
                RequestFacts { family: family.name(), method: &method, path: &path, idempotency_key: key.as_deref() };
            rules::test_state(r, user, real_now, &facts)
        })
        .await;
    let test_state = match read {
        Ok(test_state) => test_state,
        Err(err) => {
            tracing::warn!(error = %err, "reading the account's fault rules failed; the request runs unfaulted");
            return None;
        }
    };
    request.extensions_mut().insert(AccountClock(test_state.clock_offset_ms));
    // caja's own endpoints and a seed's set-up requests are never faulted.
    let rule = test_state.matching_rule.filter(|_| family != Family::Caja && !set_up)?;
    let now = real_now.plus_millis(test_state.clock_offset_ms);
    let id = rule.clone();
    let taken = match state.store.write(move |uow| rules::take_step(uow, user, &id, now)).await {
        Ok(taken) => taken?,
        Err(err) => {
            tracing::warn!(error = %err, "taking a fault rule's step failed; the request runs unfaulted");
            return None;
        }
    };
    let mark = format!("{rule}; step={}/{}", taken.step, taken.steps);
    if let Ok(mark) = HeaderValue::from_str(&mark) {
        request.headers_mut().insert(RULE_HEADER, mark);
    }
    taken.fault
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/caja/v1/faults", post(create_rule).get(list_rules))
        .route("/caja/v1/faults/{id}", delete(delete_rule))
}

const FAMILY: Family = Family::Caja;

/// A new fault rule: which requests it matches (every field given must match) and
/// what it does to them, one step per matching request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// `point`, `payouts`, `customers`, `profiles`, `orders` or `payments`.
    pub family: Option<String>,
    /// `GET`, `POST`, `PUT`, `DELETE`, …
    pub method: Option<String>,
    /// A path pattern: `*` is any characters within one segment, a final `/**` any
    /// rest, or none (`/v1/orders`, `/v1/orders/*/cancel`, `/v1/payments/**`).
    pub path: Option<String>,
    /// Only requests with this `X-Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// What each matching request gets (as `X-Caja-Fault`: `status=500`,
    /// `latency=200, status=503`, `status=429`, `reset`, `lose-answer`), `count`
    /// times (default 1).
    pub fault: Option<String>,
    /// 1 to 100.
    pub count: Option<i64>,
    /// Instead of `fault` and `count`: one step per matching request, in order; a
    /// step is a fault or `pass` (the request runs as usual), e.g.
    /// `["status=500", "status=500", "pass"]`.
    pub sequence: Option<Vec<String>>,
    /// How long the rule lives, as an ISO 8601 duration (`PT10M`); 1 hour when
    /// absent, 7 days at most.
    pub expires_in: Option<String>,
}

/// A fault rule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    /// `fr_<32 hex>`.
    pub id: String,
    pub family: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub idempotency_key: Option<String>,
    pub steps: Vec<String>,
    /// Steps taken so far.
    pub taken: usize,
    /// `active`, `used` (every step taken), `expired` or `deleted`.
    pub status: &'static str,
    pub date_created: String,
    pub expiration_date: String,
}

impl RuleView {
    fn of(rule: &FaultRule, now: Timestamp) -> RuleView {
        let Matcher { family, method, path, idempotency_key } = rule.matcher.clone();
        RuleView {
            id: rule.id.clone(),
            family,
            method,
            path,
            idempotency_key,
            steps: rule.steps.clone(),
            taken: rule.taken,
            status: rule.shown_status(now),
            date_created: rule.created_at.to_rfc3339(),
            expiration_date: rule.expires_at.to_rfc3339(),
        }
    }
}

/// The account's active and expired rules, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub results: Vec<RuleView>,
}

fn draft_of(body: RuleBody) -> Result<RuleDraft, Failure> {
    let refuse = |why: &str| Failure::InvalidBody(why.to_owned());
    if let Some(family) = body.family.as_deref() {
        let known = Family::ALL.iter().any(|f| *f != Family::Caja && f.name() == family);
        if !known {
            return Err(refuse("family must be one of point, payouts, customers, profiles, orders, payments"));
        }
    }
    let ttl_ms = match body.expires_in.as_deref() {
        None => None,
        Some(raw) => Some(parse_duration_ms(raw).ok_or_else(|| refuse("expires_in must be an ISO 8601 duration"))?),
    };
    Ok(RuleDraft {
        matcher: Matcher {
            family: body.family,
            method: body.method,
            path: body.path,
            idempotency_key: body.idempotency_key,
        },
        fault: body.fault,
        count: body.count,
        sequence: body.sequence,
        ttl_ms,
    })
}

/// Make a fault rule: the next matching requests of this account misbehave as its
/// steps say (each request takes one step; with several processes, exactly one
/// request takes each). Every request a rule took a step of is marked in the
/// journal (`x-caja-fault-rule: <id>; step=<n>/<steps>` among its request headers).
/// `X-Idempotency-Key` is optional.
#[utoipa::path(
    post, path = "/caja/v1/faults", tag = "Testing with caja",
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters")),
    request_body = RuleBody,
    responses(
        (status = 201, description = "The rule", body = RuleView),
        (status = 400, description = "bad_request: a field caja cannot read, or 50 rules already active", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no fault rules", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_rule(State(state): State<AppState>, request: WriteRequest) -> Response {
    let write = match Write::begin_with(&state, FAMILY, &request, true).await {
        Ok(write) => write,
        Err(err) => return err.into_response(),
    };
    let principal = write.ctx.principal.clone();
    let body = parse_json::<RuleBody>(write.body(), false).and_then(draft_of);
    let id = format!("fr_{}", hex::encode(rand::random::<[u8; 16]>()));
    let planned =
        operation(super::request::test_accounts_only(Ok(()), &principal), body, |(), draft| CreateRule { draft, id });
    let now = write.ctx.now;
    write
        .execute(
            &state,
            planned,
            render(FAMILY, move |rule| json_response(StatusCode::CREATED, &RuleView::of(rule, now))),
        )
        .await
}

/// The account's rules that are active (or expired with steps left), oldest first.
#[utoipa::path(
    get, path = "/caja/v1/faults", tag = "Testing with caja",
    responses(
        (status = 200, description = "The rules", body = RuleList),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no fault rules", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_rules(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    let now = state.account_now(&principal).await.map_err(|e| read_failed(FAMILY, e))?;
    let user = principal.user_id;
    let found = state.store.read(move |r| rules::active_rules(r, user)).await.map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &RuleList { results: found.iter().map(|rule| RuleView::of(rule, now)).collect() }))
}

/// Delete a rule: it matches nothing from now on.
#[utoipa::path(
    delete, path = "/caja/v1/faults/{id}", tag = "Testing with caja",
    params(
        ("id" = String, Path, description = "The rule's id"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    responses(
        (status = 200, description = "The rule, deleted", body = RuleView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no fault rules", body = ErrorBody),
        (status = 404, description = "not_found: no such rule of this account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_rule(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Response {
    let write = match Write::begin_with(&state, FAMILY, &request, true).await {
        Ok(write) => write,
        Err(err) => return err.into_response(),
    };
    let principal = write.ctx.principal.clone();
    let id = path.map(|Path(id)| id).map_err(|_| Failure::NotFound);
    let planned = operation(super::request::test_accounts_only(id, &principal), Ok(()), |id, ()| DeleteRule { id });
    let now = write.ctx.now;
    write
        .execute(&state, planned, render(FAMILY, move |rule| json_response(StatusCode::OK, &RuleView::of(rule, now))))
        .await
}
