//! Console sign-in: a session cookie and the CSRF token of its forms, both
//! stateless MACs under the store's secret key, so any process of a deployment
//! checks them and nothing is stored.
//!
//! - The cookie `caja_console` is `<user_id>.<token hash hex>.<expires ms>.<mac>`;
//!   `HttpOnly`, `SameSite=Strict`, `Path=/console`. It names the token's hash, never
//!   the token; a session ends at expiry, at sign-out (the cookie is cleared), or when
//!   its token no longer authenticates.
//! - Every form carries `csrf`, a MAC of the cookie value: a page of another origin can
//!   neither read nor forge it.
//! - `serve`'s first-run link carries a ticket, `<token hash hex>.<expires ms>.<mac>`,
//!   that signs its account in and is then dropped from the address bar by a redirect.

use axum::http::{header, HeaderMap};

use super::super::AppState;
use crate::domain::{Principal, Timestamp, TokenHash, TokenHasher};

pub const COOKIE: &str = "caja_console";
/// How long a session lasts, in milliseconds (12 hours).
pub const SESSION_MS: i64 = 12 * 3_600_000;
/// How long a first-run sign-in link works, in milliseconds (7 days).
pub const TICKET_MS: i64 = 7 * 86_400_000;

/// A signed-in request: who, and the CSRF token its forms carry.
#[derive(Clone, Debug)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
}

fn mac(hasher: &TokenHasher, text: &str) -> String {
    hex::encode(hasher.hash(text).0)
}

/// Constant-time check of a hex MAC.
fn mac_valid(hasher: &TokenHasher, text: &str, sent: &str) -> bool {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(sent, &mut bytes).is_ok() && hasher.verify(text, &TokenHash(bytes))
}

/// A sign-in ticket for a token's hash, valid until `now + TICKET_MS`.
pub fn ticket(hasher: &TokenHasher, token_hash: &TokenHash, now: Timestamp) -> String {
    let body = format!("{}.{}", hex::encode(token_hash.0), now.as_millis() + TICKET_MS);
    format!("{body}.{}", mac(hasher, &format!("console-ticket\n{body}")))
}

/// The token hash a valid, unexpired ticket names.
pub fn ticket_hash(hasher: &TokenHasher, ticket: &str, now: Timestamp) -> Option<TokenHash> {
    let (body, sent) = ticket.rsplit_once('.')?;
    let (hash_hex, expires) = body.split_once('.')?;
    let expires: i64 = expires.parse().ok()?;
    if expires <= now.as_millis() || !mac_valid(hasher, &format!("console-ticket\n{body}"), sent) {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hash_hex, &mut hash).ok()?;
    Some(TokenHash(hash))
}

/// The cookie value of a new session for `principal`.
pub fn cookie_value(hasher: &TokenHasher, principal: &Principal, now: Timestamp) -> String {
    let body =
        format!("{}.{}.{}", principal.user_id.get(), hex::encode(principal.token_hash.0), now.as_millis() + SESSION_MS);
    format!("{body}.{}", mac(hasher, &format!("console-session\n{body}")))
}

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_MS / 1000)
}

/// The `Set-Cookie` value that ends one.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The session a request's cookie carries: a valid MAC, not expired, and a token
/// that still authenticates.
pub async fn of(state: &AppState, headers: &HeaderMap, now: Timestamp) -> Option<Session> {
    let value = cookie_of(headers)?;
    let hasher = state.store.token_hasher();
    let (body, sent) = value.rsplit_once('.')?;
    if !mac_valid(hasher, &format!("console-session\n{body}"), sent) {
        return None;
    }
    let mut fields = body.split('.');
    let (user, hash_hex, expires) = (fields.next()?, fields.next()?, fields.next()?);
    if expires.parse::<i64>().ok()? <= now.as_millis() {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hash_hex, &mut hash).ok()?;
    let principal = state.principal_of_hash(TokenHash(hash)).await?;
    if principal.user_id.get().to_string() != user {
        return None;
    }
    let csrf = mac(hasher, &format!("console-csrf\n{value}"));
    Some(Session { principal, csrf })
}

impl Session {
    /// Whether a form's `csrf` field is this session's (constant time).
    pub fn csrf_valid(&self, state: &AppState, headers: &HeaderMap, sent: &str) -> bool {
        cookie_of(headers)
            .is_some_and(|value| mac_valid(state.store.token_hasher(), &format!("console-csrf\n{value}"), sent))
    }
}
