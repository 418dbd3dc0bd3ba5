//! The request log: every API request of an account — method, path, status,
//! latency, idempotency key, replayed or not, request id, and its headers and
//! bodies with secrets redacted — kept in the store for the console (#13).
//!
//! Off the request's critical path: the authentication layer copies what it needs
//! while the request passes ([`capture`]) and hands the entry to a bounded channel
//! without waiting; one task ([`run_writer`]) writes entries in batches and prunes
//! the log to its retention (rows and age). When the channel is full the entry is
//! dropped and counted (`caja_request_log_dropped_total`), never waited for.
//!
//! Redacted: `Authorization` (scheme kept), `X-Signature`, `Cookie`; in JSON bodies
//! the values of card data and secrets ([`SECRET_FIELDS`]) at any depth.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::Family;
use super::faults;
use super::request_id::RequestId;
use crate::domain::{Principal, Timestamp};
use crate::store::{LoggedRequest, Store};

/// Entries waiting for the writer at most; past it new entries are dropped.
const QUEUE_ENTRIES_MAX: usize = 4_096;
/// Entries written in one transaction at most.
const BATCH_ENTRIES_MAX: usize = 64;
/// How long the writer lets entries gather before it writes them.
const BATCH_WAIT: Duration = Duration::from_millis(100);
/// How often the log is pruned to its retention at most.
const PRUNE_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a flush waits for the writer, before a reset goes ahead anyway.
const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// Bytes of a body kept in the log; the rest is cut with a note of the length.
pub const BODY_CHARS_LOGGED_MAX: usize = 64 * 1024;
/// Names whose values are never logged, compared after [`normalized`] (so
/// `card_number`, `cardNumber` and `security\u005fcode` all match): a JSON field, a
/// form or query parameter named so, or ending so (`client_secret`).
pub const SECRET_NAMES: &[&str] =
    &["cardnumber", "securitycode", "cvv", "cvc", "accesstoken", "secret", "password", "apikey"];
/// Header names never logged (compared lowercase, as contained): the credentials a
/// client may send. `X-Test-Token` (payouts' test switch, `true`) is no credential.
const SECRET_HEADERS: &[&str] = &["authorization", "cookie", "signature", "token", "secret", "password", "api-key"];
const REDACTED: &str = "[redacted]";

/// How long the log keeps entries: at most `rows_max` in all, none older than
/// `age_ms`. `rows_max == 0` turns the log off.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub rows_max: u64,
    pub age_ms: i64,
}

impl Retention {
    /// 10,000 entries, one day.
    pub const DEFAULT: Retention = Retention { rows_max: 10_000, age_ms: 86_400_000 };
}

/// What the request's path hands over: raw parts only (a header map clone, the
/// copied request bytes, the response's shared bytes). Formatting and redaction
/// happen in the writer task ([`Captured::into_entry`]), not while the client waits.
pub struct Captured {
    entry: LoggedRequest,
    request_headers: HeaderMap,
    request_body: Vec<u8>,
    request_type: String,
    response_headers: HeaderMap,
    response_body: axum::body::Bytes,
}

impl Captured {
    fn into_entry(self) -> LoggedRequest {
        let path = path_text(&self.entry.path);
        LoggedRequest {
            path,
            request_headers: headers_json(&self.request_headers),
            request_body: body_text(&self.request_body, self.request_type),
            response_headers: headers_json(&self.response_headers),
            response_body: body_text(&self.response_body, content_type(&self.response_headers)),
            ..self.entry
        }
    }
}

/// The sending side, shared by every request: cheap to clone.
#[derive(Clone)]
pub struct RequestLog {
    queue: Option<mpsc::Sender<Queued>>,
}

/// What the log's queue carries: an entry, or a flush that is answered once every
/// entry queued before it is written.
pub enum Queued {
    Entry(Box<Captured>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A request caja itself sent through its router on an account's behalf (a console
/// button, a trigger): the authentication layer takes the principal from here
/// instead of a header (an extension is set only inside the server, never from the
/// wire), and the log entry's `source` is `source` (`console`, `trigger`).
#[derive(Clone, Debug)]
pub struct OnBehalf {
    pub principal: Principal,
    pub source: &'static str,
}

/// The source of a seed's requests: set-up, so neither rate limited nor faulted.
pub const SEED_SOURCE: &str = "seed";

impl OnBehalf {
    /// A seed's request: the server's own set-up, which the account's rate limit and
    /// fault rules must not stop.
    pub fn is_set_up(&self) -> bool {
        self.source == SEED_SOURCE
    }
}

/// Send `method path body` through the router (`api`) on `principal`'s behalf, under
/// the idempotency key `key`; the answer is the API's own status and body text.
pub async fn dispatch(
    api: axum::Router,
    on_behalf: OnBehalf,
    method: axum::http::Method,
    path: &str,
    body: Option<serde_json::Value>,
    key: &str,
) -> Result<(StatusCode, String), String> {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("x-idempotency-key", key)
        .header(super::request_id::HEADER, format!("{}-{}", on_behalf.source, uuid::Uuid::new_v4()));
    if body.is_some() {
        request = request.header(axum::http::header::CONTENT_TYPE, "application/json");
    }
    let mut request = request
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    request.extensions_mut().insert(on_behalf);
    let response = api.oneshot(request).await.unwrap_or_else(|never| match never {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), super::BODY_BYTES_MAX).await.unwrap_or_default();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

impl RequestLog {
    /// A log and the receiver its writer drains; with `rows_max == 0`, a log that
    /// records nothing.
    pub fn new(retention: Retention) -> (RequestLog, Option<mpsc::Receiver<Queued>>) {
        if retention.rows_max == 0 {
            return (RequestLog::off(), None);
        }
        let (tx, rx) = mpsc::channel(QUEUE_ENTRIES_MAX);
        (RequestLog { queue: Some(tx) }, Some(rx))
    }

    /// A log that records nothing.
    pub fn off() -> RequestLog {
        RequestLog { queue: None }
    }

    /// Wait (at most `FLUSH_WAIT`) until every entry queued so far is written: a
    /// reset then removes them too.
    pub async fn flush(&self) {
        let Some(queue) = &self.queue else { return };
        let (done, written) = tokio::sync::oneshot::channel();
        if queue.send_timeout(Queued::Flush(done), FLUSH_WAIT).await.is_ok() {
            let _ = tokio::time::timeout(FLUSH_WAIT, written).await;
        }
    }

    fn submit(&self, entry: Captured) {
        let Some(queue) = &self.queue else { return };
        if queue.try_send(Queued::Entry(Box::new(entry))).is_err() {
            metrics::counter!("caja_request_log_dropped_total").increment(1);
        }
    }
}

/// Run `next` for an authenticated request and log it: the request body is copied
/// as it is read (the handler's own limits and deadlines still apply), the
/// response body (always in memory) is copied whole.
///
/// A fault the request asked for (`X-Caja-Fault`, [`faults`]) is applied here, so
/// the log records what the client was (or was not) sent.
pub async fn capture(
    log: &RequestLog,
    principal: &Principal,
    family: Family,
    request: Request,
    next: Next,
    fault: Option<faults::Fault>,
) -> Response {
    let drop_connection = request.extensions().get::<faults::DropConnection>().cloned();
    if log.queue.is_none() {
        return match faults::apply(fault, family, request, next).await {
            faults::Applied::Answer(response) => response,
            faults::Applied::HangUp(_) => faults::hang_up(drop_connection, family).await,
        };
    }
    let started = Instant::now();
    let at = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map_or_else(|| request.uri().path().to_owned(), |p| p.to_string());
    // Formatted later; the path's query is redacted there.
    let request_headers = request.headers().clone();
    let idempotency_key = request.headers().get("x-idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let source = request.extensions().get::<OnBehalf>().map_or("api", |o| o.source);
    let request_type = content_type(request.headers());

    let seen = Arc::new(Mutex::new(Vec::new()));
    let (parts, body) = request.into_parts();
    let sink = seen.clone();
    let body = body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            let mut kept = sink.lock().unwrap_or_else(PoisonError::into_inner);
            let room = (BODY_CHARS_LOGGED_MAX + 1).saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
        frame
    });
    let applied = faults::apply(fault, family, Request::from_parts(parts, Body::new(body)), next).await;
    let (response, hung_up) = match applied {
        faults::Applied::Answer(response) => (response, false),
        faults::Applied::HangUp(lost) => (lost.unwrap_or_else(|| StatusCode::NO_CONTENT.into_response()), true),
    };
    let latency_us = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);

    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            tracing::warn!(error = %err, "a response body failed while it was logged");
            axum::body::Bytes::new()
        }
    };
    let replayed = parts.headers.get("x-idempotency-replayed").is_some_and(|v| v.as_bytes() == b"true");
    let request_body = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    let entry = LoggedRequest {
        id: 0,
        user_id: principal.user_id,
        at,
        family: family.name().to_owned(),
        method,
        path,
        // 0: nothing was answered (`X-Caja-Fault: reset`).
        status: if hung_up && fault.is_some_and(|f| f.outcome == Some(faults::Outcome::Reset)) {
            0
        } else {
            parts.status.as_u16()
        },
        latency_us,
        idempotency_key,
        replayed,
        request_id,
        source: source.to_owned(),
        request_headers: String::new(),
        request_body: String::new(),
        response_headers: String::new(),
        response_body: String::new(),
    };
    let mut response_headers = parts.headers.clone();
    if hung_up {
        response_headers
            .insert("x-caja-fault-outcome", HeaderValue::from_static("not sent: the connection was closed instead"));
    }
    log.submit(Captured {
        entry,
        request_headers,
        request_body,
        request_type,
        response_headers,
        response_body: bytes.clone(),
    });
    if hung_up {
        return faults::hang_up(drop_connection, family).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
}

/// Headers as a JSON object, credentials redacted (`Authorization` keeps its scheme;
/// a repeated header's values joined with `, `).
pub fn headers_json(headers: &HeaderMap) -> String {
    let mut out = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        let secret = name != "x-test-token" && SECRET_HEADERS.iter().any(|s| name.contains(s));
        let text = match (name, secret) {
            ("authorization" | "proxy-authorization", _) => match value.to_str().unwrap_or("").split_once(' ') {
                Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                None => REDACTED.to_owned(),
            },
            (_, true) => REDACTED.to_owned(),
            (_, false) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        match out.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                out.insert(name.to_owned(), Value::String(text));
            }
        }
    }
    Value::Object(out).to_string()
}

/// A name as redaction compares it: lowercase letters and digits only.
fn normalized(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

fn is_secret_name(name: &str) -> bool {
    let name = normalized(name);
    SECRET_NAMES.iter().any(|secret| name.ends_with(secret))
}

/// A path with its query's secret parameters redacted (the path itself is kept: ids).
pub fn path_text(path_and_query: &str) -> String {
    match path_and_query.split_once('?') {
        Some((path, query)) if !query.is_empty() => format!("{path}?{}", form_text(query)),
        _ => path_and_query.to_owned(),
    }
}

/// `a=1&b=2` with secret-named values redacted; a pair that is not `name=value` is kept
/// only when it names no secret.
fn form_text(form: &str) -> String {
    form.split('&')
        .map(|pair| {
            let raw_name = pair.split('=').next().unwrap_or_default();
            let name: String = form_urlencoded::parse(raw_name.as_bytes()).map(|(k, _)| k.into_owned()).collect();
            if is_secret_name(&name) || (!pair.contains('=') && mentions_secret(pair)) {
                format!("{raw_name}={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether a text names a secret anywhere (`security_code`, `security\u005fcode`…).
fn mentions_secret(text: &str) -> bool {
    let text = normalized(&text.replace("\\u005f", "_").replace("\\u005F", "_"));
    SECRET_NAMES.iter().any(|secret| text.contains(secret))
}

/// A body as the log shows it, cut at [`BODY_CHARS_LOGGED_MAX`]:
/// - JSON: parsed (so escaped names are seen as they are meant), values of secret
///   names redacted at any depth;
/// - a form (`a=1&b=2`): secret-named values redacted;
/// - any other text, or a body too long to parse whole: runs of 13 or more digits
///   (spaces and dashes between them allowed) masked, and not shown at all when it
///   names a secret;
/// - binary: its length and type.
pub fn body_text(bytes: &[u8], content_type: String) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let cut = bytes.len() > BODY_CHARS_LOGGED_MAX;
    if !cut {
        if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
            redact(&mut value);
            return value.to_string();
        }
    }
    let textual = content_type.is_empty()
        || content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("x-www-form-urlencoded");
    let Ok(text) = std::str::from_utf8(&bytes[..bytes.len().min(BODY_CHARS_LOGGED_MAX)]) else {
        return format!(
            "[{} bytes of {}]",
            bytes.len(),
            if content_type.is_empty() { "binary" } else { &content_type }
        );
    };
    if !textual {
        return format!("[{} bytes of {content_type}]", bytes.len());
    }
    let form = !cut && content_type.contains("x-www-form-urlencoded");
    let shown = if form {
        mask_digit_runs(&form_text(text))
    } else if mentions_secret(text) {
        return format!("[{} bytes, not shown: not JSON, and it names card data or a secret]", bytes.len());
    } else {
        mask_digit_runs(text)
    };
    if cut {
        format!("{shown}… [cut: {} bytes in all]", bytes.len())
    } else {
        shown
    }
}

/// Replace the values of [`SECRET_FIELDS`] at any depth.
fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if is_secret_name(name) {
                    *field = Value::String(REDACTED.to_owned());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Runs of 13 or more digits (a card number's length), spaces and dashes between
/// them allowed, become `*`s (the separators stay).
fn mask_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, and single spaces or dashes between digits.
        let start = i;
        let mut end = i;
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                end = j + 1;
                j += 1;
            } else if matches!(chars[j], ' ' | '-') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                j += 1;
            } else {
                break;
            }
        }
        let digits = chars[start..end].iter().filter(|c| c.is_ascii_digit()).count();
        for &c in &chars[start..end] {
            out.push(if digits >= 13 && c.is_ascii_digit() { '*' } else { c });
        }
        i = end;
    }
    out
}

/// The writer: batches of entries into the store, and pruning to `retention`. Ends
/// when every sender is gone and the queue is drained.
///
/// Batches are small ([`BATCH_ENTRIES_MAX`]) so that, on SQLite, a log write never
/// holds the one writer thread long: the commands queued behind it wait for one
/// short job (a 512-entry batch tripled the p99 of replays). Pruning follows a
/// batch at most every [`PRUNE_INTERVAL`]: both deletes are index ranges (by id and
/// by time), and the log outgrows its retention by at most that long's entries.
pub async fn run_writer(store: Arc<dyn Store>, mut queue: mpsc::Receiver<Queued>, retention: Retention) {
    let mut batch = Vec::with_capacity(BATCH_ENTRIES_MAX);
    let mut flushes = Vec::new();
    let mut pruned = Instant::now();
    loop {
        // Wakes at least every prune interval, so an idle log still ages out.
        let open = match tokio::time::timeout(PRUNE_INTERVAL, queue.recv_many(&mut batch, BATCH_ENTRIES_MAX)).await {
            Ok(received) => received > 0,
            Err(_) => true,
        };
        if open && !batch.is_empty() && batch.len() < BATCH_ENTRIES_MAX {
            tokio::time::sleep(BATCH_WAIT).await;
            while batch.len() < BATCH_ENTRIES_MAX {
                match queue.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
        }
        if !batch.is_empty() {
            let mut entries = Vec::with_capacity(batch.len());
            for queued in batch.drain(..) {
                match queued {
                    Queued::Entry(captured) => entries.push(captured.into_entry()),
                    Queued::Flush(done) => flushes.push(done),
                }
            }
            let written = entries.len();
            if written > 0 {
                if let Err(err) = store.append_request_log(entries).await {
                    tracing::warn!(error = %err, entries = written, "could not write request log entries");
                }
            }
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
        if !open || pruned.elapsed() >= PRUNE_INTERVAL {
            pruned = Instant::now();
            let before = Timestamp::from_millis(chrono::Utc::now().timestamp_millis() - retention.age_ms);
            if let Err(err) = store.prune_request_log(retention.rows_max, before).await {
                tracing::warn!(error = %err, "could not prune the request log");
            }
        }
        if !open {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    #[test]
    fn json_secrets_are_redacted_whatever_their_spelling() {
        for body in [
            r#"{"card_number":"5031433215406351","security_code":"123"}"#,
            r#"{"cardNumber":"5031433215406351","securityCode":"123"}"#,
            r#"{"card_number":"5031433215406351","security\u005fcode":"123"}"#,
            r#"{"card":{"Card-Number":5031433215406351,"cvv":123}}"#,
        ] {
            let shown = body_text(body.as_bytes(), JSON.into());
            assert!(!shown.contains("5031433215406351") && !shown.contains("123"), "{body} → {shown}");
            assert!(shown.contains(REDACTED));
        }
        // Ids are no card numbers: a JSON body keeps its numbers.
        let shown = body_text(br#"{"id":8001804807318902,"status":"approved"}"#, JSON.into());
        assert!(shown.contains("8001804807318902"));
    }

    #[test]
    fn bodies_that_are_not_json_never_show_a_secret() {
        let invalid = r#"{"card_number":"5031 4332 1540 6351","security_code":"456",}"#;
        let shown = body_text(invalid.as_bytes(), JSON.into());
        assert!(!shown.contains("456") && !shown.contains("5031"), "{shown}");
        let form = "email=a%40b.com&card_number=5031433215406351&security_code=987&access_token=TEST-1-2-abc-3";
        let shown = body_text(form.as_bytes(), "application/x-www-form-urlencoded".into());
        assert_eq!(shown, "email=a%40b.com&card_number=[redacted]&security_code=[redacted]&access_token=[redacted]");
        let long = format!(r#"{{"security_code":"111","pad":"{}"}}"#, "x".repeat(BODY_CHARS_LOGGED_MAX));
        let shown = body_text(long.as_bytes(), JSON.into());
        assert!(!shown.contains("111"), "a cut body names a secret: not shown");
        let text = "paid with 5031-4332-1540-6351 on 2026-11-30";
        assert_eq!(body_text(text.as_bytes(), "text/plain".into()), "paid with ****-****-****-**** on 2026-11-30");
    }

    #[test]
    fn query_secrets_and_credential_headers_are_redacted() {
        assert_eq!(
            path_text("/v1/payments/search?access_token=TEST-x&limit=5"),
            "/v1/payments/search?access_token=[redacted]&limit=5"
        );
        assert_eq!(path_text("/v1/payments/8001804807318902"), "/v1/payments/8001804807318902");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer TEST-secret".parse().unwrap());
        headers.insert("proxy-authorization", "Basic abc".parse().unwrap());
        headers.insert("x-access-token", "TEST-secret".parse().unwrap());
        headers.insert("x-signature", "ts=1,v1=abc".parse().unwrap());
        headers.insert("x-test-token", "true".parse().unwrap());
        headers.insert("x-idempotency-key", "k-1".parse().unwrap());
        let shown: Value = serde_json::from_str(&headers_json(&headers)).unwrap();
        assert_eq!(shown["authorization"], "Bearer [redacted]");
        assert_eq!(shown["proxy-authorization"], "Basic [redacted]");
        assert_eq!(shown["x-access-token"], REDACTED);
        assert_eq!(shown["x-signature"], REDACTED);
        assert_eq!(shown["x-test-token"], "true");
        assert_eq!(shown["x-idempotency-key"], "k-1");
    }
}
