//! The web console at `/console`: every API request of the signed-in account (live),
//! its resources with their audit trails and notifications, its webhooks, and
//! buttons for the test helpers' moves. caja's own pages, server-rendered with maud,
//! with one small script of ours for the live request log; no build step.
//!
//! Reads go to the store directly. Every action (a move, a resend) is the family's
//! documented API request, sent through the router on the signed-in principal's
//! behalf ([`OnBehalf`]), so it is authenticated, rate limited, idempotent (the
//! form carries its key), audited, notified and logged exactly as the API call is.
//! Sign-in and forms: see [`session`].

mod families;
mod pages;
pub mod session;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::error::Family;
use super::request_log::{self, OnBehalf};
use super::AppState;
use crate::domain::notification::NotificationStatus;
use crate::domain::{ResourceType, Timestamp};
use crate::store::{AuditFilter, NotificationFilter, RequestLogFilter};
use session::Session;

/// Rows of the request log and of a resource listing per page.
const PAGE_ROWS: u32 = 50;
/// Notifications shown on the webhooks page and on a resource page.
const NOTIFICATIONS_SHOWN: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(request_log))
        .route("/console/requests/rows", get(request_rows))
        .route("/console/requests/{id}", get(request_page))
        .route("/console/resources", get(resources))
        .route("/console/resources/{kind}/{id}", get(resource_page))
        .route("/console/resources/{kind}/{id}/move", post(move_resource))
        .route("/console/webhooks", get(webhooks))
        .route("/console/notifications/{id}/resend", post(resend))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/assets/console.js", get(script))
        .route("/console/assets/console.css", get(style))
        .route("/console/{*rest}", axum::routing::any(unknown_page))
}

/// Any other path under `/console`: the console's own 404 page.
async fn unknown_page() -> Response {
    not_found("The console has no such page.")
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// A console page: HTML that is never cached, never framed, and runs only our
/// own script.
fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, axum::response::Html(markup.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    response
}

fn to_sign_in() -> Response {
    Redirect::to("/console/sign-in").into_response()
}

/// Whether a form post comes from a console page: a browser names the page's origin
/// in `Origin`, which must be this server's (`Host`). Without `Origin` (a client that
/// is no browser) the CSRF token and `SameSite=Strict` still hold.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn cross_site() -> Response {
    page(StatusCode::FORBIDDEN, pages::message("Refused", "This form was sent from another site."))
}

/// The signed-in session, or the sign-in page.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    session::of(state, headers, now()).await.ok_or_else(to_sign_in)
}

/// A page for a store failure (the console's own: it has no family).
fn unavailable(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "a console page could not read the store");
    page(StatusCode::SERVICE_UNAVAILABLE, pages::message("The store did not answer", "Try again in a moment."))
}

fn not_found(what: &str) -> Response {
    page(StatusCode::NOT_FOUND, pages::message("Not found", what))
}

/// The request log's filters, from the query (empty fields are absent).
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    pub family: Option<String>,
    pub status: Option<String>,
    pub key: Option<String>,
    pub request_id: Option<String>,
    pub after: Option<i64>,
    pub before: Option<i64>,
}

impl LogQuery {
    fn filter(&self) -> RequestLogFilter {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        RequestLogFilter {
            family: given(&self.family).filter(|f| Family::ALL.iter().any(|k| k.name() == f)),
            status_class: given(&self.status).and_then(|s| s.trim_end_matches("xx").parse().ok()),
            idempotency_key: given(&self.key),
            after_id: self.after,
            before_id: self.before,
            request_id: given(&self.request_id),
            ..RequestLogFilter::default()
        }
    }
}

async fn request_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let filter = LogQuery { after: None, ..q }.filter();
    match state.store.request_log(session.principal.user_id, filter.clone(), PAGE_ROWS).await {
        Ok(rows) => page(StatusCode::OK, pages::request_log(&session, &filter, &rows, PAGE_ROWS)),
        Err(err) => unavailable(err),
    }
}

/// The rows newer than `after`, for the live log (HTML `<tr>`s, newest first).
async fn request_rows(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let session = match session::of(&state, &headers, now()).await {
        Some(s) => s,
        None => return StatusCode::UNAUTHORIZED.into_response(),
    };
    match state.store.request_log(session.principal.user_id, q.filter(), PAGE_ROWS).await {
        Ok(rows) => page(StatusCode::OK, pages::request_rows(&rows)),
        Err(err) => unavailable(err),
    }
}

async fn request_page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<i64>() else { return not_found("No such request.") };
    match state.store.logged_request(session.principal.user_id, id).await {
        Ok(Some(entry)) => page(StatusCode::OK, pages::request_page(&session, &entry)),
        Ok(None) => not_found("No such request in this account's log (it may have aged out)."),
        Err(err) => unavailable(err),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ResourceQuery {
    kind: Option<String>,
    status: Option<String>,
    before: Option<i64>,
}

async fn resources(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ResourceQuery>, QueryRejection>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let kind = q.kind.as_deref().and_then(families::kind).unwrap_or(&families::KINDS[0]);
    let status = q.status.filter(|s| kind.statuses.contains(&s.as_str()));
    let listed = state
        .store
        .owned_resources(session.principal.user_id, kind.kind.to_owned(), status.clone(), q.before, PAGE_ROWS)
        .await;
    match listed {
        Ok(rows) => page(StatusCode::OK, pages::resources(&session, kind, status.as_deref(), &rows, PAGE_ROWS)),
        Err(err) => unavailable(err),
    }
}

async fn resource_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(kind) = families::kind(&kind) else { return not_found("The console lists no such kind.") };
    let user = session.principal.user_id;
    let resource = match state.store.owned_resource(user, kind.kind.to_owned(), id.clone()).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found("This account has no such resource."),
        Err(err) => return unavailable(err),
    };
    let trail = match ResourceType::parse(kind.kind) {
        Some(resource_type) => {
            let filter = AuditFilter { resource_type: Some(resource_type), resource_id: Some(id.clone()) };
            state.store.audit_page(user, filter, 1000, 0).await.map(|p| p.items)
        }
        None => Ok(Vec::new()),
    };
    let filter = NotificationFilter { resource_id: Some(id), status: None };
    let notifications = state.store.notification_page(user, filter, NOTIFICATIONS_SHOWN, 0).await;
    match (trail, notifications) {
        (Ok(mut trail), Ok(notifications)) => {
            trail.reverse();
            let moves = if session.principal.live_mode { Vec::new() } else { (kind.moves)(&resource) };
            let key = format!("console-{}", uuid::Uuid::new_v4());
            page(
                StatusCode::OK,
                pages::resource_page(&session, kind, &resource, &moves, &key, &trail, &notifications.items),
            )
        }
        (Err(err), _) | (_, Err(err)) => unavailable(err),
    }
}

/// A console form: its CSRF token and the idempotency key it was rendered with.
#[derive(Debug, Deserialize)]
struct ActionForm {
    csrf: String,
    key: String,
    to: Option<String>,
}

/// Send `method path body` through the router as the signed-in principal, under the
/// form's idempotency key; the answer is the API's own.
async fn dispatch(
    state: &AppState,
    session: &Session,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    key: &str,
) -> Result<(StatusCode, String), Response> {
    let Some(api) = state.api() else { return Err(unavailable("the server is stopping")) };
    let on_behalf = OnBehalf { principal: session.principal.clone(), source: "console" };
    request_log::dispatch(api, on_behalf, method, path, body, key).await.map_err(unavailable)
}

/// An idempotency key a console form may carry (the keys it renders).
fn form_key_valid(key: &str) -> bool {
    key.len() <= 64
        && key.starts_with("console-")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Read an action form and check its origin, session, CSRF token and key.
async fn form_session(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Result<(Session, ActionForm), Response> {
    let Ok(Form(form)) = form else {
        return Err(page(StatusCode::BAD_REQUEST, pages::message("Bad form", "The form was not understood.")));
    };
    if !same_origin(headers) {
        return Err(cross_site());
    }
    let session = signed_in(state, headers).await?;
    if !session.csrf_valid(state, headers, &form.csrf) || !form_key_valid(&form.key) {
        return Err(page(
            StatusCode::FORBIDDEN,
            pages::message("This form has expired", "Reload the page and try again (the form's token did not match)."),
        ));
    }
    Ok((session, form))
}

async fn move_resource(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, id)): Path<(String, String)>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match form_session(&state, &headers, form).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    if session.principal.live_mode {
        return page(StatusCode::FORBIDDEN, pages::message("Test accounts only", "A live account has no test moves."));
    }
    let Some(kind) = families::kind(&kind) else { return not_found("The console lists no such kind.") };
    let resource = match state.store.owned_resource(session.principal.user_id, kind.kind.to_owned(), id.clone()).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found("This account has no such resource."),
        Err(err) => return unavailable(err),
    };
    let back = format!("/console/resources/{}/{}", kind.kind, id);
    let wanted = form.to.unwrap_or_default();
    let Some(step) = (kind.moves)(&resource).into_iter().find(|m| m.to == wanted) else {
        // Already moved (a replayed form) or never allowed: show where it stands.
        return Redirect::to(&back).into_response();
    };
    match dispatch(&state, &session, Method::POST, &step.path, Some(step.body), &form.key).await {
        Ok((status, _)) if status.is_success() => Redirect::to(&back).into_response(),
        Ok((status, body)) => page(status, pages::refused(&session, &back, status, &body)),
        Err(r) => r,
    }
}

async fn webhooks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = session.principal.user_id;
    let settings = state.store.webhook_settings(user).await;
    let listed = state.store.notification_page(user, NotificationFilter::default(), NOTIFICATIONS_SHOWN, 0).await;
    match (settings, listed) {
        (Ok(settings), Ok(listed)) => {
            let (url, has_secret) = settings.unwrap_or((None, false));
            let key = format!("console-{}", uuid::Uuid::new_v4());
            page(StatusCode::OK, pages::webhooks(&session, url.as_deref(), has_secret, &listed, &key))
        }
        (Err(err), _) | (_, Err(err)) => unavailable(err),
    }
}

/// Queue a notification again, through `POST /v1/notifications/{id}/retry`.
async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (session, form) = match form_session(&state, &headers, form).await {
        Ok(checked) => checked,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<i64>() else { return not_found("No such notification.") };
    let path = format!("/v1/notifications/{id}/retry");
    match dispatch(&state, &session, Method::POST, &path, None, &form.key).await {
        Ok((status, _)) if status.is_success() => Redirect::to("/console/webhooks").into_response(),
        Ok((status, body)) => page(status, pages::refused(&session, "/console/webhooks", status, &body)),
        Err(r) => r,
    }
}

#[derive(Debug, Default, Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// The sign-in form; with a valid `ticket` (the first-run link), a signed-in
/// redirect to the log that drops the ticket from the address bar.
async fn sign_in_page(State(state): State<AppState>, q: Result<Query<TicketQuery>, QueryRejection>) -> Response {
    let Some(ticket) = q.map(|Query(q)| q).unwrap_or_default().ticket else {
        return page(StatusCode::OK, pages::sign_in(None));
    };
    let hasher = state.store.token_hasher();
    let principal = match session::ticket_hash(hasher, &ticket, now()) {
        Some(hash) => state.principal_of_hash(hash).await,
        None => None,
    };
    match principal {
        Some(principal) => signed_in_redirect(&state, &principal),
        None => {
            page(StatusCode::UNAUTHORIZED, pages::sign_in(Some("This sign-in link is not valid (or has expired).")))
        }
    }
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    form: Result<Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    // Guessing tokens here goes no faster than at the API: the same budget of failed
    // authentications per client address.
    let ip = client.map(|c| c.0 .0.ip());
    let shut_out = |secs: u64| {
        let text = format!("Too many failed sign-ins from this address; try again in {secs} s.");
        page(StatusCode::TOO_MANY_REQUESTS, pages::sign_in(Some(&text)))
    };
    if let Some(secs) = ip.and_then(|ip| state.auth_failures.waiting(ip)) {
        return shut_out(secs);
    }
    let token = form.map(|Form(f)| f.token).unwrap_or_default();
    match state.principal_of_token(token.trim()).await {
        Some(principal) => signed_in_redirect(&state, &principal),
        None => match ip.and_then(|ip| state.auth_failures.failed(ip)) {
            Some(secs) => shut_out(secs),
            None => page(StatusCode::UNAUTHORIZED, pages::sign_in(Some("That access token is not valid."))),
        },
    }
}

fn signed_in_redirect(state: &AppState, principal: &crate::domain::Principal) -> Response {
    let value = session::cookie_value(state.store.token_hasher(), principal, now());
    let mut response = Redirect::to("/console").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&value)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Some(session) = session::of(&state, &headers, now()).await {
        if !session.csrf_valid(&state, &headers, &csrf) {
            return page(
                StatusCode::FORBIDDEN,
                pages::message("This form has expired", "Reload the page and try again."),
            );
        }
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("console.js"))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("console.css"))
}

/// Whether a notification may be sent again from the console.
fn resendable(status: NotificationStatus) -> bool {
    !matches!(status, NotificationStatus::Pending)
}
