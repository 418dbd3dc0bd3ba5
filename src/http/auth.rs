//! Authentication and rate limiting, for every route of every family, in one layer.
//!
//! The family comes from the route's prefix, so each gets its own error codes. On
//! success the [`Principal`] goes into the request's extensions for the handler, and
//! the response gets `X-RateLimit-Limit` / `X-RateLimit-Remaining`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorKind, Family};
use super::faults;
use super::request_log::{self, OnBehalf};
use super::AppState;
use crate::domain::{Principal, TokenHash};

/// Longer bearer tokens are refused without hashing them.
pub const TOKEN_CHARS_MAX: usize = 256;
/// Principals kept in memory at most; when full, the cache starts over.
const PRINCIPALS_CACHED_MAX: usize = 10_000;

/// The principals of tokens seen recently, by token hash, so a request needs no
/// store lookup (and no hand-off to a blocking thread) to authenticate.
///
/// Exact, not eventually right: what a token names (account, site, live or test)
/// never changes, so a cached principal is always true. The one setting that can
/// change, `payouts_enabled`, is read from the store on every payouts request. Only
/// tokens found in the store are cached (no negative caching), so a token made by
/// another process is found on its first use.
#[derive(Default)]
pub struct PrincipalCache {
    found: std::sync::Mutex<std::collections::HashMap<TokenHash, Principal>>,
}

impl PrincipalCache {
    fn get(&self, hash: &TokenHash) -> Option<Principal> {
        self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(hash).cloned()
    }

    /// The principal of a token hash: cached (unless `fresh`), else read from the
    /// store and kept. `Ok(None)`: no such token.
    pub async fn lookup(
        &self,
        store: &std::sync::Arc<dyn crate::store::Store>,
        hash: TokenHash,
        fresh: bool,
    ) -> Result<Option<Principal>, crate::store::StoreError> {
        if !fresh {
            if let Some(principal) = self.get(&hash) {
                return Ok(Some(principal));
            }
        }
        let found = store.principal(hash).await?;
        if let Some(principal) = &found {
            self.keep(principal);
        }
        Ok(found)
    }

    fn keep(&self, principal: &Principal) {
        let mut found = self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if found.len() >= PRINCIPALS_CACHED_MAX {
            found.clear();
        }
        found.insert(principal.token_hash, principal.clone());
    }
}

pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(family) = Family::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    // A client address that failed too often is shut out before its token is even
    // looked at: guessing goes no faster than the failure budget.
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let shut_out =
        |retry_after_secs| ApiError::new(family, ErrorKind::RateLimited { retry_after_secs }).into_response();
    if let Some(secs) = client.and_then(|ip| state.auth_failures.waiting(ip)) {
        return shut_out(secs);
    }
    let on_behalf = request.extensions().get::<OnBehalf>().map(|o| (o.principal.clone(), o.is_set_up()));
    let set_up = on_behalf.as_ref().is_some_and(|(_, set_up)| *set_up);
    let principal = match on_behalf {
        Some((principal, _)) => Ok(principal),
        None => principal(&state, family, request.headers()).await,
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => {
            let failed_auth = matches!(err.kind, ErrorKind::MissingToken | ErrorKind::InvalidToken);
            if let Some(secs) = client.filter(|_| failed_auth).and_then(|ip| state.auth_failures.failed(ip)) {
                return shut_out(secs);
            }
            return err.into_response();
        }
    };
    // A seed's set-up requests take nothing from the account's allowance.
    let standing = match set_up {
        true => crate::http::rate_limit::Standing { limit: 0, remaining: 0, retry_after_secs: None },
        false => state.limiter.check(&principal.token_hash),
    };
    if let Some(retry_after_secs) = standing.retry_after_secs {
        let mut response = ApiError::new(family, ErrorKind::RateLimited { retry_after_secs }).into_response();
        standing.stamp(response.headers_mut());
        return response;
    }
    let mut fault = match faults::requested(request.headers(), family, &principal) {
        Ok(fault) => fault,
        Err(refused) => return refused.into_response(),
    };
    // A test account's request without the header: its fault rules (and its clock).
    if fault.is_none() && !principal.live_mode {
        fault = faults::from_rules(&state, &principal, family, &mut request, set_up).await;
    }
    request.extensions_mut().insert(principal.clone());
    let mut response = request_log::capture(&state.request_log, &principal, family, request, next, fault).await;
    standing.stamp(response.headers_mut());
    response
}

/// The account and site behind the bearer token.
async fn principal(state: &AppState, family: Family, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let fail = |kind| ApiError::new(family, kind);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(fail(ErrorKind::MissingToken));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty() && token.len() <= TOKEN_CHARS_MAX)
        .ok_or_else(|| fail(ErrorKind::InvalidToken))?;
    let hasher = state.store.token_hasher();
    // Payouts read `payouts_enabled` from the store on every request.
    let fresh = family == Family::Payouts;
    let hash = hasher.hash(token);
    let found = state.principals.lookup(&state.store, hash, fresh).await.map_err(|err| {
        tracing::error!(error = %err, "token lookup failed");
        fail(ErrorKind::Internal)
    })?;
    // Found by this hash: a cached or stored principal is the token's own.
    found.filter(|p| p.token_hash == hash).ok_or_else(|| fail(ErrorKind::InvalidToken))
}
