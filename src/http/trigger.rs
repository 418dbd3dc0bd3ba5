//! `POST /caja/v1/trigger` (#17, caja's own): make a real event happen, like `stripe
//! trigger`. caja sends the documented requests that produce it through its own
//! router, on the caller's behalf (logged with source `trigger`): each is
//! authenticated, idempotent, audited and notified like a client's, so the account's
//! webhook receiver gets the real, signed notification. Test accounts only.
//!
//! Every event is a short script of documented requests (see [`EVENTS`]); `{id}`,
//! `{tid}` and `{token}` are taken from earlier answers, `{terminal}` is the
//! account's own trigger terminal (`NEWLAND_N950__CAJA<user id>`), `{exp_year}` and
//! `{schedule}` dates from the account's time.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorKind, Family};
use super::request::{json, parse_json, Write, WriteRequest};
use super::request_log::{self, OnBehalf};
use super::AppState;
use crate::engine::Failure;

const FAMILY: Family = Family::Caja;

/// One documented request of a script: every one is a `POST`.
struct Step {
    /// With `{id}`, `{tid}` placeholders.
    path: &'static str,
    /// JSON text with `{…}` placeholders; empty for none.
    body: &'static str,
    /// Values this answer gives later steps: (placeholder, JSON pointer).
    takes: &'static [(&'static str, &'static str)],
}

const ACTION: &str = r#"{"type":"print","external_reference":"caja-trigger","config":{"point":{"terminal_id":"{terminal}","subtype":"custom"}},"content":"caja trigger"}"#;
const POINT_ORDER: &str = r#"{"type":"point","external_reference":"caja-trigger","expiration_time":"PT16M","transactions":{"payments":[{"amount":"50.00"}]},"config":{"point":{"terminal_id":"NEWLAND_N950__SBX0000001"},"payment_method":{"default_type":"credit_card"}},"description":"caja trigger"}"#;
const CARD_APRO: &str = r#"{"card_number":"5031433215406351","expiration_month":11,"expiration_year":{exp_year},"security_code":"123","cardholder":{"name":"APRO","identification":{"type":"CPF","number":"12345678909"}}}"#;
const CARD_OTHE: &str = r#"{"card_number":"5031433215406351","expiration_month":11,"expiration_year":{exp_year},"security_code":"123","cardholder":{"name":"OTHE","identification":{"type":"CPF","number":"12345678909"}}}"#;
const PAYMENT: &str = r#"{"transaction_amount":100,"token":"{token}","installments":1,"description":"caja trigger","external_reference":"caja-trigger","payer":{"email":"test@testuser.com"}}"#;
const PAYOUT: &str = r#"{"external_reference":"caja-trigger","description":"caja trigger","schedule_date":"{schedule}","transactions":[{"type":"account","account":{"id":"123456","holder":"caja"},"amount":{"currency":"BRL","value":10},"description":"caja trigger","external_reference":"caja-trigger"}]}"#;

const fn post(path: &'static str, body: &'static str) -> Step {
    Step { path, body, takes: &[] }
}

const fn post_taking(path: &'static str, body: &'static str, takes: &'static [(&'static str, &'static str)]) -> Step {
    Step { path, body, takes }
}

const ID: &[(&str, &str)] = &[("id", "/id")];

/// The events caja can trigger, and the requests each takes.
const EVENTS: &[(&str, &[Step])] = &[
    (
        "point.action.canceled",
        &[post_taking("/terminals/v1/actions", ACTION, ID), post("/terminals/v1/actions/{id}/cancel", "")],
    ),
    (
        "point.action.processed",
        &[
            post_taking("/terminals/v1/actions", ACTION, ID),
            post("/terminals/v1/actions/{id}/events", r#"{"status":"at_terminal"}"#),
            post("/terminals/v1/actions/{id}/events", r#"{"status":"processed"}"#),
        ],
    ),
    (
        "order.processed",
        &[post_taking("/v1/orders", POINT_ORDER, ID), post("/v1/orders/{id}/events", r#"{"status":"processed"}"#)],
    ),
    ("order.canceled", &[post_taking("/v1/orders", POINT_ORDER, ID), post("/v1/orders/{id}/cancel", "")]),
    (
        "payment.approved",
        &[post_taking("/v1/card_tokens", CARD_APRO, &[("token", "/id")]), post_taking("/v1/payments", PAYMENT, ID)],
    ),
    (
        "payment.rejected",
        &[post_taking("/v1/card_tokens", CARD_OTHE, &[("token", "/id")]), post_taking("/v1/payments", PAYMENT, ID)],
    ),
    (
        "payout.transaction.processed",
        &[
            post_taking("/v1/payouts", PAYOUT, &[("id", "/id"), ("tid", "/transactions/0/id")]),
            post("/v1/payouts/{id}/transactions/{tid}/events", r#"{"status":"in_process"}"#),
            post("/v1/payouts/{id}/transactions/{tid}/events", r#"{"status":"processed"}"#),
        ],
    ),
    (
        "payout.transaction.failed",
        &[
            post_taking("/v1/payouts", PAYOUT, &[("id", "/id"), ("tid", "/transactions/0/id")]),
            post("/v1/payouts/{id}/transactions/{tid}/events", r#"{"status":"in_process"}"#),
            post("/v1/payouts/{id}/transactions/{tid}/events", r#"{"status":"failed"}"#),
        ],
    ),
];

/// The names of the events caja can trigger.
pub fn event_names() -> Vec<&'static str> {
    EVENTS.iter().map(|(name, _)| *name).collect()
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/caja/v1/trigger", routing::post(trigger))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    /// `point.action.canceled`, `point.action.processed`, `order.processed`,
    /// `order.canceled`, `payment.approved`, `payment.rejected`,
    /// `payout.transaction.processed` or `payout.transaction.failed`.
    pub event: String,
}

/// One request the trigger sent, and its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentView {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// What a trigger did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    pub event: String,
    /// The resource the event is about (the transaction's, for a payout event).
    pub resource_id: Option<String>,
    /// Every request sent, in order (each is also in the journal, source `trigger`).
    pub requests: Vec<SentView>,
}

fn fill(template: &str, values: &[(&'static str, String)]) -> String {
    values.iter().fold(template.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

/// Make an event happen: the documented requests that produce it, sent on the
/// caller's behalf. Its notification goes out as any other (to the account's URL,
/// signed with its secret): watch it with `GET /v1/notifications?wait_ms=…` or
/// `caja listen`. Each trigger makes new resources; it takes no idempotency key.
#[utoipa::path(
    post, path = "/caja/v1/trigger", tag = "Testing with caja",
    request_body = TriggerBody,
    responses(
        (status = 201, description = "The event happened: the requests sent, and the resource", body = TriggerView),
        (status = 400, description = "bad_request: an unknown event, or a request of its script was refused (named with its answer)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no triggers", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn trigger(State(state): State<AppState>, request: WriteRequest) -> Response {
    match run(&state, &request).await {
        Ok(view) => json(StatusCode::CREATED, &view),
        Err(err) => err.into_response(),
    }
}

async fn run(state: &AppState, request: &WriteRequest) -> Result<TriggerView, ApiError> {
    let write = Write::begin_with(state, FAMILY, request, true).await?;
    let refuse = |why: String| ApiError::refused(FAMILY, Failure::InvalidBody(why));
    let principal = write.ctx.principal.clone();
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    let body: TriggerBody =
        parse_json(write.body(), false).map_err(|f| ApiError::new(FAMILY, ErrorKind::Refused(f)))?;
    let Some((event, steps)) = EVENTS.iter().find(|(name, _)| *name == body.event) else {
        return Err(refuse(format!("event must be one of {}", event_names().join(", "))));
    };
    let api = state.api().ok_or_else(|| ApiError::new(FAMILY, ErrorKind::Internal))?;
    let run_id = uuid::Uuid::new_v4();
    // Dates from the account's time: a card that has not expired, a payout the
    // worker leaves pending (a year away) for the script to move.
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(write.ctx.now.as_millis()).unwrap_or_default();
    let mut values = vec![
        ("terminal", format!("NEWLAND_N950__CAJA{}", principal.user_id)),
        ("exp_year", (now + chrono::Duration::days(5 * 366)).format("%Y").to_string()),
        ("schedule", (now + chrono::Duration::days(365)).format("%Y-%m-%dT%H:%M:%S").to_string()),
    ];
    let mut sent = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let path = fill(step.path, &values);
        let body = (!step.body.is_empty())
            .then(|| serde_json::from_str::<Value>(&fill(step.body, &values)))
            .transpose()
            .map_err(|_| ApiError::new(FAMILY, ErrorKind::Internal))?;
        let on_behalf = OnBehalf { principal: principal.clone(), source: "trigger" };
        let key = format!("trigger-{run_id}-{n}");
        let (status, text) = request_log::dispatch(api.clone(), on_behalf, Method::POST, &path, body, &key)
            .await
            .map_err(|why| refuse(format!("POST {path} could not be sent: {why}")))?;
        sent.push(SentView { method: "POST".to_owned(), path: path.clone(), status: status.as_u16() });
        if !status.is_success() {
            let answer: String = text.chars().take(500).collect();
            return Err(refuse(format!("{event}: POST {path} answered {}: {answer}", status.as_u16())));
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        for (name, pointer) in step.takes {
            let taken = match answer.pointer(pointer) {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                _ => return Err(refuse(format!("{event}: POST {path} answered without {pointer}"))),
            };
            values.retain(|(have, _)| have != name);
            values.push((name, taken));
        }
    }
    let resource_id =
        ["tid", "id"].iter().find_map(|want| values.iter().find(|(name, _)| name == want)).map(|(_, v)| v.clone());
    Ok(TriggerView { event: (*event).to_owned(), resource_id, requests: sent })
}
