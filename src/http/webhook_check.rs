//! "Check my receiver" (part of #17): `POST /caja/v1/webhooks/check` sends the
//! caller's webhook receiver five notifications made exactly like a real payment
//! delivery (the outbox's URL rule, body, `x-request-id`, `x-signature` with the
//! account's secret), one correct and four that test its checks, and answers with a
//! report of what it did with each (see [`crate::domain::webhook_check`]).
//!
//! It changes nothing in the store, so it needs no idempotency key (a retry checks
//! again). caja's own; test accounts only (a live account gets 403). Like the
//! webhook worker, it is outbound HTTP: each send has its own timeout and follows no
//! redirects.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, Family};
use super::request::{json, parse_json, read_failed, Write, WriteRequest};
use super::AppState;
use crate::domain::payout::NOTIFICATION_URL_CHARS_MAX;
use crate::domain::webhook_check::{self, Answer, Draws, Probe, RESOURCE_ID_PREFIX};
use crate::engine::Failure;

const FAMILY: Family = Family::Caja;
/// How long one notification of a check may take, in milliseconds: five of them
/// stay inside the server's 30 s request timeout.
pub const CHECK_SEND_TIMEOUT_MS: u64 = 5_000;
/// Characters of a send's error kept in the report.
const ERROR_CHARS_MAX: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new().route("/caja/v1/webhooks/check", post(check_receiver))
}

/// Which receiver to check.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// `http` or `https`, at most 2,048 characters; the account's notification URL
    /// when absent. caja appends `?data.id=…&type=payment` as it does to every
    /// delivery.
    pub url: Option<String>,
}

/// What the receiver did with each notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckReport {
    /// The receiver checked (without the query caja appends).
    pub url: String,
    /// Every check passed.
    pub passed: bool,
    /// `valid`, `tampered_data_id`, `wrong_secret`, `stale_ts`, `duplicate`, in the
    /// order they were sent.
    pub checks: Vec<CheckView>,
}

/// One notification sent, and the verdict on its answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// `valid`: signed and fresh. `tampered_data_id`: the query's (and body's)
    /// `data.id` changed after signing. `wrong_secret`: signed with another secret.
    /// `stale_ts`: `ts` 10 minutes old (caja's convention: refuse a `ts` more than 5
    /// minutes from now). `duplicate`: `valid` again, byte for byte.
    pub name: String,
    /// `accepted` (a 2xx), `refused` (any answer but a 2xx) or
    /// `accepted_or_duplicate` (a 2xx, or 409).
    pub expected: String,
    /// The receiver's status; `null` when it did not answer.
    pub status_code: Option<u16>,
    /// Why there was no answer (connection refused, timed out after 5 s, …).
    pub error: Option<String>,
    pub passed: bool,
    /// The verdict in plain words: on a failure, what the receiver does wrong.
    pub reason: String,
}

fn refuse(why: &str) -> ApiError {
    ApiError::refused(FAMILY, Failure::InvalidBody(why.to_owned()))
}

/// `raw` as a receiver URL: `http` or `https`, with a host, at most
/// [`NOTIFICATION_URL_CHARS_MAX`] characters, no fragment.
fn receiver_url(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.len() > NOTIFICATION_URL_CHARS_MAX {
        return Err(refuse(&format!("url must be at most {NOTIFICATION_URL_CHARS_MAX} characters")));
    }
    let parsed = reqwest::Url::parse(raw).map_err(|err| refuse(&format!("url is not a URL ({err})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(refuse("url must be an http or https URL"));
    }
    if parsed.fragment().is_some() {
        return Err(refuse("url must have no fragment (#…): caja appends a query to it"));
    }
    Ok(raw.to_owned())
}

/// Check a webhook receiver: five notifications, one report.
///
/// Sent in order to `url` (or the account's notification URL), each as a real
/// payment delivery (`POST <url>?data.id=check-…&type=payment`, the payments body,
/// `x-request-id`, `x-signature`, `content-type: application/json`), signed with the
/// account's webhook secret: `valid` must be accepted (2xx); `tampered_data_id`,
/// `wrong_secret` and `stale_ts` must be refused (any other answer); `duplicate`
/// repeats `valid` exactly and must be acknowledged (2xx, or 409 as a duplicate)
/// without being acted on twice: the receiver deduplicates by the body's `id` or the
/// `x-request-id`. Each send may take 5 s and follows no redirects. An unreachable
/// receiver fails every check; the answer is still 200 (it is a report).
#[utoipa::path(
    post, path = "/caja/v1/webhooks/check", tag = "Testing with caja",
    request_body(content = Option<CheckBody>, description = "Optional: no body checks the account's notification URL"),
    responses(
        (status = 200, description = "The report (`passed` false when any check failed)", body = CheckReport),
        (status = 400, description = "bad_request: not a JSON object, an unknown field, a URL that is not http(s), no URL given or configured, or no webhook secret", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts have no receiver check", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn check_receiver(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    // The write pipeline's checks of the body (size, read deadline); no key is needed.
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let principal = &write.ctx.principal;
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    let body: CheckBody = parse_json(write.body(), true).map_err(|f| ApiError::refused(FAMILY, f))?;
    let given = body.url.as_deref().map(receiver_url).transpose()?;
    let user = principal.user_id;
    let credentials =
        state.store.webhook_credentials(user).await.map_err(|e| read_failed(FAMILY, e))?.unwrap_or_default();
    let url = match (given, credentials.url) {
        (Some(url), _) => url,
        (None, Some(configured)) => receiver_url(&configured)?,
        (None, None) => return Err(refuse("url is required: the account has no notification URL")),
    };
    let secret = credentials.secret.ok_or_else(|| {
        refuse("the account has no webhook secret to sign with (make one: caja account set --rotate-secret)")
    })?;
    let draws = Draws {
        resource_id: format!("{RESOURCE_ID_PREFIX}{}", uuid::Uuid::new_v4()),
        request_ids: std::array::from_fn(|_| uuid::Uuid::new_v4().to_string()),
        wrong_secret: hex::encode(rand::random::<[u8; 16]>()),
    };
    // Real time, as deliveries are signed: the receiver compares `ts` with its clock.
    let probes = webhook_check::probes(&url, &secret, user, &draws, state.now());
    let mut checks = Vec::with_capacity(probes.len());
    for probe in &probes {
        let answer = send(probe).await;
        let verdict = webhook_check::judge(probe.case, &answer);
        let (status_code, error) = match answer {
            Answer::Status(code) => (Some(code), None),
            Answer::Failed(why) => (None, Some(why)),
        };
        checks.push(CheckView {
            name: probe.case.name().to_owned(),
            expected: probe.case.expected().as_str().to_owned(),
            status_code,
            error,
            passed: verdict.passed,
            reason: verdict.reason,
        });
    }
    let passed = checks.iter().all(|c| c.passed);
    Ok(json(StatusCode::OK, &CheckReport { url, passed, checks }))
}

/// One client for every check, built as the webhook worker builds its own.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(CHECK_SEND_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("caja/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// Send one notification as the webhook worker would.
async fn send(probe: &Probe) -> Answer {
    let n = &probe.notification;
    let request = client()
        .post(crate::webhooks::target_url(n))
        .header("x-request-id", &probe.request_id)
        .header("x-signature", &probe.signature)
        .header("content-type", "application/json")
        .body(n.change.body.clone().unwrap_or_default());
    match request.send().await {
        Ok(response) => Answer::Status(response.status().as_u16()),
        Err(err) if err.is_timeout() => Answer::Failed(format!("no answer within {CHECK_SEND_TIMEOUT_MS} ms")),
        Err(err) => Answer::Failed(error_text(&err)),
    }
}

/// The error with its causes (`…: tcp connect error: Connection refused (os error 111)`).
fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text.chars().take(ERROR_CHARS_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Timestamp, UserId};

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        for good in ["http://127.0.0.1:9000/hook", "https://example.com/hooks?app=1"] {
            assert_eq!(receiver_url(good).ok().as_deref(), Some(good));
        }
        let long = format!("http://example.com/{}", "a".repeat(NOTIFICATION_URL_CHARS_MAX));
        for bad in ["ftp://example.com/hook", "not a url", "", "http://", "http://e.com/#top", long.as_str()] {
            assert!(receiver_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tampered_notification_goes_to_another_data_id_than_it_was_signed_for() {
        let draws = Draws {
            resource_id: "check-1".into(),
            request_ids: ["a", "b", "c", "d"].map(str::to_owned),
            wrong_secret: "x".into(),
        };
        let probes = webhook_check::probes(
            "http://r.test/hook?app=1",
            "s",
            UserId::new(1).unwrap(),
            &draws,
            Timestamp::from_millis(0),
        );
        let urls: Vec<String> = probes.iter().map(|p| crate::webhooks::target_url(&p.notification)).collect();
        assert_eq!(urls[0], "http://r.test/hook?app=1&data.id=check-1&type=payment");
        assert_eq!(urls[1], "http://r.test/hook?app=1&data.id=check-1-tampered&type=payment");
        assert_eq!(urls[4], urls[0]);
    }
}
