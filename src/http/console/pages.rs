//! The console's pages, as maud templates. Every value shown is escaped by maud;
//! bodies and headers are the request log's, already redacted.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::families::{Kind, Move, KINDS};
use super::session::Session;
use crate::domain::notification::Notification;
use crate::domain::Timestamp;
use crate::http::error::Family;
use crate::store::{AuditRecord, LoggedRequest, OwnedResource, RequestLogFilter};

fn when(at: Timestamp) -> String {
    at.to_rfc3339()
}

fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · caja console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/console" { "caja" }
                    @if let Some(session) = session {
                        nav {
                            a href="/console" { "Requests" }
                            a href="/console/resources" { "Resources" }
                            a href="/console/webhooks" { "Webhooks" }
                        }
                        span.account {
                            "user " (session.principal.user_id.get()) " · " (session.principal.site_id.as_str())
                            @if session.principal.live_mode { " · live" } @else { " · test" }
                        }
                        form.inline method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page with a heading and one sentence (errors, refusals).
pub fn message(heading: &str, text: &str) -> Markup {
    layout(heading, None, html! { h1 { (heading) } p { (text) } p { a href="/console" { "Back to the console" } } })
}

pub fn sign_in(error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            p { "Paste an access token of the account to look at (the one " code { "caja serve" } " printed, or one from " code { "caja token create" } ")." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/console/sign-in" {
                label for="token" { "Access token" }
                input #token type="password" name="token" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        300..=399 => "redirect",
        400..=499 => "client-error",
        _ => "server-error",
    }
}

/// The `<tr>`s of log entries (the live log fetches these).
pub fn request_rows(rows: &[LoggedRequest]) -> Markup {
    html! {
        @for r in rows {
            tr data-id=(r.id) {
                td { (when(r.at)) }
                td { (r.family) }
                td { (r.method) }
                td.path { a href={ "/console/requests/" (r.id) } { (r.path) } }
                td class=(status_class(r.status)) { (r.status) }
                td.num { (format!("{:.1}", r.latency_us as f64 / 1000.0)) " ms" }
                td { @if let Some(key) = &r.idempotency_key { code { (key) } } }
                td { @if r.replayed { "replayed" } }
                td { code { (r.request_id) } }
                td { (r.source) }
            }
        }
    }
}

pub fn request_log(session: &Session, filter: &RequestLogFilter, rows: &[LoggedRequest], page_rows: u32) -> Markup {
    let class = filter.status_class.map(|c| format!("{c}xx"));
    let live = filter.before_id.is_none();
    let query = |extra: String| {
        let mut parts = Vec::new();
        if let Some(f) = &filter.family {
            parts.push(format!("family={f}"));
        }
        if let Some(c) = &class {
            parts.push(format!("status={c}"));
        }
        if let Some(k) = &filter.idempotency_key {
            parts.push(format!("key={}", urlencoding(k)));
        }
        if let Some(r) = &filter.request_id {
            parts.push(format!("request_id={}", urlencoding(r)));
        }
        parts.push(extra);
        parts.join("&")
    };
    layout(
        "Requests",
        Some(session),
        html! {
            h1 { "Requests" }
            form.filters method="get" action="/console" {
                label { "Family "
                    select name="family" {
                        option value="" { "any" }
                        @for f in Family::ALL {
                            option value=(f.name()) selected[filter.family.as_deref() == Some(f.name())] { (f.name()) }
                        }
                    }
                }
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for c in ["2xx", "3xx", "4xx", "5xx"] {
                            option value=(c) selected[class.as_deref() == Some(c)] { (c) }
                        }
                    }
                }
                label { "Idempotency key " input type="text" name="key" value=[filter.idempotency_key.as_deref()]; }
                @if let Some(r) = &filter.request_id { input type="hidden" name="request_id" value=(r); }
                button type="submit" { "Filter" }
                a href="/console" { "Clear" }
            }
            @if live { p.hint { "Live: new requests appear at the top as they arrive." } }
            table #requests data-live=(live) data-query=(query(String::new())) {
                thead { tr {
                    th { "Time (UTC)" } th { "Family" } th { "Method" } th { "Path" } th { "Status" }
                    th { "Latency" } th { "Idempotency key" } th { "Replayed" } th { "Request id" } th { "Source" }
                } }
                tbody { (request_rows(rows)) }
            }
            @if rows.is_empty() { p #empty { "No requests yet. Call the API with this account's token and they appear here." } }
            @if rows.len() as u32 == page_rows {
                @if let Some(last) = rows.last() {
                    p { a href={ "/console?" (query(format!("before={}", last.id))) } { "Older requests" } }
                }
            }
        },
    )
}

fn urlencoding(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A JSON text pretty-printed when it is JSON, as is otherwise.
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

fn headers_table(json: &str) -> Markup {
    let headers: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
    html! {
        table.headers {
            @for (name, value) in &headers {
                tr { th { (name) } td { code { (value.as_str().unwrap_or_default()) } } }
            }
        }
    }
}

pub fn request_page(session: &Session, r: &LoggedRequest) -> Markup {
    layout(
        "Request",
        Some(session),
        html! {
            h1 { (r.method) " " code { (r.path) } }
            dl.summary {
                dt { "Status" } dd class=(status_class(r.status)) { (r.status) }
                dt { "Time (UTC)" } dd { (when(r.at)) }
                dt { "Latency" } dd { (format!("{:.1}", r.latency_us as f64 / 1000.0)) " ms" }
                dt { "Family" } dd { (r.family) }
                dt { "Idempotency key" } dd { @if let Some(k) = &r.idempotency_key { code { (k) } } @else { "none" } }
                dt { "Replayed" } dd { @if r.replayed { "yes: answered from the stored response" } @else { "no" } }
                dt { "Request id" } dd { code { (r.request_id) } }
                dt { "Source" } dd { (r.source) }
            }
            section {
                h2 { "Request" }
                (headers_table(&r.request_headers))
                @if !r.request_body.is_empty() { pre.body { (pretty(&r.request_body)) } }
            }
            section {
                h2 { "Response" }
                (headers_table(&r.response_headers))
                @if !r.response_body.is_empty() { pre.body { (pretty(&r.response_body)) } }
            }
            p.hint { "Authorization, X-Signature, cookies and card data are redacted before anything is stored." }
        },
    )
}

fn kind_tabs(current: &Kind) -> Markup {
    html! {
        nav.tabs {
            @for k in KINDS {
                a href={ "/console/resources?kind=" (k.kind) } aria-current=[(k.kind == current.kind).then_some("page")] { (k.title) }
            }
        }
    }
}

pub fn resources(
    session: &Session,
    kind: &Kind,
    status: Option<&str>,
    rows: &[OwnedResource],
    page_rows: u32,
) -> Markup {
    layout(
        kind.title,
        Some(session),
        html! {
            h1 { "Resources" }
            (kind_tabs(kind))
            @if !kind.statuses.is_empty() {
                form.filters method="get" action="/console/resources" {
                    input type="hidden" name="kind" value=(kind.kind);
                    label { "Status "
                        select name="status" {
                            option value="" { "any" }
                            @for s in kind.statuses { option value=(s) selected[status == Some(*s)] { (s) } }
                        }
                    }
                    button type="submit" { "Filter" }
                }
            }
            table #resources {
                thead { tr { th { "Id" } th { "Status" } th { "Created (UTC)" } th { "Updated (UTC)" } th { "Version" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { a href={ "/console/resources/" (r.kind) "/" (r.id) } { code { (r.id) } } }
                            td { (r.status.as_deref().unwrap_or("")) }
                            td { (when(r.created_at)) }
                            td { (when(r.updated_at)) }
                            td.num { (r.version) }
                        }
                    }
                }
            }
            @if rows.is_empty() { p { "None yet." } }
            @if rows.len() as u32 == page_rows {
                @if let Some(last) = rows.last() {
                    p { a href={ "/console/resources?kind=" (kind.kind) "&before=" (last.seq) @if let Some(s) = status { "&status=" (s) } } { "Older" } }
                }
            }
        },
    )
}

/// A field as the page shows it: instants (`…_at` fields, stored as milliseconds)
/// in RFC 3339, text as is, anything else as JSON.
fn field_value(name: &str, value: &Value) -> String {
    match value {
        Value::Number(n) if name.ends_with("_at") => {
            n.as_i64().map_or_else(|| n.to_string(), |ms| when(Timestamp::from_millis(ms)))
        }
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn resource_page(
    session: &Session,
    kind: &Kind,
    r: &OwnedResource,
    moves: &[Move],
    key: &str,
    trail: &[AuditRecord],
    notifications: &[Notification],
) -> Markup {
    let document: serde_json::Map<String, Value> = serde_json::from_str(&r.document).unwrap_or_default();
    layout(
        kind.title,
        Some(session),
        html! {
            p { a href={ "/console/resources?kind=" (kind.kind) } { "← " (kind.title) } }
            h1 { span.kind { (r.kind) } " " code { (r.id) } }
            p.status { "Status: " strong #status { (r.status.as_deref().unwrap_or("—")) } " · version " (r.version) }
            @if !moves.is_empty() {
                section #moves {
                    h2 { "Test moves" }
                    p.hint { "Each button sends the family's test-helper request through the API, audited and notified like any call." }
                    @for m in moves {
                        form.inline method="post" action={ "/console/resources/" (r.kind) "/" (r.id) "/move" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            input type="hidden" name="key" value={ (key) "-" (m.to) };
                            input type="hidden" name="to" value=(m.to);
                            button type="submit" data-to=(m.to) { "Move to " (m.to) }
                        }
                    }
                }
            }
            section {
                h2 { "Fields" }
                table.fields {
                    @for (name, value) in &document {
                        tr { th { (name) } td { code { (field_value(name, value)) } } }
                    }
                }
            }
            section #audit {
                h2 { "Audit trail" }
                @if trail.is_empty() { p { "No records." } }
                ol.timeline {
                    @for record in trail {
                        @let e = &record.event;
                        li {
                            span.when { (when(e.at)) }
                            " "
                            strong.move { (e.from_status.as_deref().unwrap_or("(new)")) " → " (e.to_status) }
                            " · request "
                            a href={ "/console?request_id=" (urlencoding(&e.request_id)) } { code { (e.request_id) } }
                            @if let Some(k) = &e.idempotency_key { " · key " code { (k.as_str()) } }
                            @if let Some(by) = &e.deleted_by { " · by " (by) }
                            @if let Some(c) = &e.comments { " · " em { (c) } }
                        }
                    }
                }
            }
            section #notifications {
                h2 { "Notifications" }
                (notification_table(session, notifications, key))
            }
        },
    )
}

fn notification_table(session: &Session, notifications: &[Notification], key: &str) -> Markup {
    html! {
        @if notifications.is_empty() { p { "None: this account has no notification URL, or nothing changed yet." } }
        @else {
            table.notifications {
                thead { tr { th { "Id" } th { "Resource" } th { "Status" } th { "URL" } th { "State" } th { "Attempts" } th { "Next retry" } th {} } }
                tbody {
                    @for n in notifications {
                        tr {
                            td.num { (n.id) }
                            td { (n.change.resource_type.as_str()) " " a href={ "/console/resources/" (n.change.resource_type.as_str()) "/" (n.change.resource_id) } { code { (n.change.resource_id) } } }
                            td { (n.change.status) }
                            td { code { (n.change.url) } }
                            td { (n.status.as_str()) }
                            td {
                                @if n.attempts.is_empty() { "none yet" }
                                ul.attempts {
                                    @for a in &n.attempts {
                                        li {
                                            (when(a.at)) ": "
                                            @if let Some(code) = a.status_code { "HTTP " (code) } @else { "no answer" }
                                            @if let Some(err) = &a.error { " (" (err) ")" }
                                            " in " (a.latency_ms) " ms"
                                        }
                                    }
                                }
                            }
                            td { @if let Some(next) = n.next_attempt_at { (when(next)) } }
                            td {
                                @if super::resendable(n.status) {
                                    form.inline method="post" action={ "/console/notifications/" (n.id) "/resend" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="hidden" name="key" value={ (key) "-" (n.id) };
                                        button type="submit" { "Resend" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn webhooks(
    session: &Session,
    url: Option<&str>,
    has_secret: bool,
    listed: &crate::store::Page<Notification>,
    key: &str,
) -> Markup {
    layout(
        "Webhooks",
        Some(session),
        html! {
            h1 { "Webhooks" }
            dl.summary {
                dt { "Notification URL" }
                dd { @if let Some(url) = url { code { (url) } } @else { "none (set one with " code { "caja account set --notification-url" } ")" } }
                dt { "Webhook secret" }
                dd { @if has_secret { "set (signs every notification; shown only when made)" } @else { "none" } }
                dt { "Notifications" } dd { (listed.total) }
            }
            (notification_table(session, &listed.items, key))
        },
    )
}

/// The API refused a console action: its answer, as it gave it.
pub fn refused(session: &Session, back: &str, status: StatusCode, body: &str) -> Markup {
    layout(
        "Refused",
        Some(session),
        html! {
            h1 { "The API answered " (status.as_u16()) }
            pre.body { (pretty(body)) }
            p { a href=(back) { "Back" } }
        },
    )
}
