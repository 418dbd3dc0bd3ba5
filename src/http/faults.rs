//! caja's own faults on demand, one request at a time (part of #17): a test account
//! sends `X-Caja-Fault` on any API request and caja misbehaves exactly as asked, so
//! a client's error handling and retries can be proven without set-up.
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

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use super::error::{ApiError, ErrorKind, Family, GenericError};
use crate::domain::Principal;
use crate::engine::Failure;

pub const HEADER: &str = "x-caja-fault";
/// The longest `latency` a request may ask for, in milliseconds.
pub const LATENCY_MS_MAX: u64 = 30_000;

/// Ends the connection a request came on, without an answer. The connection loop
/// puts one in every request ([`super::serve`]).
#[derive(Clone, Default)]
pub struct DropConnection(pub Arc<Notify>);

/// What a request's `X-Caja-Fault` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    pub latency_ms: u64,
    pub outcome: Option<Outcome>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 500, 503 or 429, in the family's format.
    Status(u16),
    Reset,
    LoseAnswer,
}

/// Read the header's value; `Err` names what is wrong.
pub fn parse(raw: &str) -> Result<Fault, String> {
    let mut fault = Fault::default();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let outcome = match item.split_once('=') {
            Some(("latency", ms)) => {
                fault.latency_ms = ms
                    .trim()
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= LATENCY_MS_MAX)
                    .ok_or_else(|| format!("latency must be 0 to {LATENCY_MS_MAX} milliseconds, not {ms:?}"))?;
                None
            }
            Some(("status", code)) => match code.trim() {
                "500" => Some(Outcome::Status(500)),
                "503" => Some(Outcome::Status(503)),
                "429" => Some(Outcome::Status(429)),
                other => return Err(format!("status must be 500, 503 or 429, not {other:?}")),
            },
            None if item == "reset" => Some(Outcome::Reset),
            None if item == "lose-answer" => Some(Outcome::LoseAnswer),
            _ => return Err(format!("{item:?} is not a fault (latency=MS, status=500|503|429, reset, lose-answer)")),
        };
        if let Some(outcome) = outcome {
            if fault.outcome.replace(outcome).is_some() {
                return Err("at most one of status, reset and lose-answer".into());
            }
        }
    }
    Ok(fault)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_reads_as_documented() {
        assert_eq!(parse("status=500"), Ok(Fault { latency_ms: 0, outcome: Some(Outcome::Status(500)) }));
        assert_eq!(
            parse(" latency=250 , lose-answer "),
            Ok(Fault { latency_ms: 250, outcome: Some(Outcome::LoseAnswer) })
        );
        assert_eq!(parse("reset"), Ok(Fault { latency_ms: 0, outcome: Some(Outcome::Reset) }));
        assert_eq!(parse("latency=10"), Ok(Fault { latency_ms: 10, outcome: None }));
        for bad in ["status=404", "latency=-1", "latency=30001", "reset, status=500", "explode", "latency"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
