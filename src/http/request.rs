//! The steps every request of every family takes, in the contract's order:
//! authentication → rate limit → required headers → (signature) → path format →
//! idempotency lookup → resource lookup → state → apply. The last four run inside
//! the store's transaction, through [`execute`].

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::Query;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorKind, Family, GenericError};
use super::request_id::RequestId;
use super::AppState;
use crate::domain::idempotency::KeyError;
use crate::domain::{signature, Fingerprint, IdempotencyKey, Principal, StoredResponse};
use crate::engine::{Change, Command, Executed, Failure, Operation, Planned, Refusal, RequestContext};

pub const REPLAYED_HEADER: &str = "x-idempotency-replayed";

/// What every write shares, checked up to and including the required headers.
pub struct Write {
    pub family: Family,
    pub ctx: RequestContext,
    body: Bytes,
}

/// A write request as the pipeline needs it: what the fingerprint and the checks read.
/// An extractor, so handlers take it in one argument (it reads the body: put it last).
pub struct WriteRequest {
    /// Set by the authentication layer; `None` only if a route escaped it.
    principal: Option<Principal>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request_id: RequestId,
    /// A test account's clock offset, when the authentication layer read it.
    account_clock: Option<super::faults::AccountClock>,
    body: Result<Bytes, BodyError>,
}

/// Why a write's body could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyError {
    /// Over [`super::BODY_BYTES_MAX`]: by its `Content-Length` (refused before a
    /// byte is read, so a client that declares a huge body and sends nothing gets
    /// its 413 at once) or as it arrived.
    TooLarge,
    /// Not all in within the body-read deadline (a stalled client, or one whose
    /// `Content-Length` promises more than it sends).
    TimedOut,
    Unreadable,
}

impl From<BytesRejection> for BodyError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable
        }
    }
}

impl WriteRequest {
    /// Whether the header `name` says `true` (payouts' `X-Test-Token`,
    /// `X-Enforce-Signature`).
    pub fn flag(&self, name: &str) -> bool {
        self.headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl<S: Send + Sync> FromRequest<S> for WriteRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let request_id = parts.extensions.get::<RequestId>().cloned().unwrap_or(RequestId(String::new()));
        let principal = parts.extensions.get::<Principal>().cloned();
        let account_clock = parts.extensions.get::<super::faults::AccountClock>().copied();
        let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
        let declared =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let deadline = parts.extensions.get::<super::serve::BodyReadTimeout>().map(|d| d.0);
        let body = if declared.is_some_and(|length| length > super::BODY_BYTES_MAX as u64) {
            Err(BodyError::TooLarge)
        } else {
            let read = Bytes::from_request(Request::from_parts(parts, body), state);
            match deadline {
                Some(deadline) => match tokio::time::timeout(deadline, read).await {
                    Ok(read) => read.map_err(BodyError::from),
                    Err(_) => Err(BodyError::TimedOut),
                },
                None => read.await.map_err(BodyError::from),
            }
        };
        Ok(WriteRequest { principal, method, uri, headers, request_id, account_clock, body })
    }
}

impl Write {
    /// Check the idempotency key and the body (authentication came before, in its layer).
    pub async fn begin(state: &AppState, family: Family, parts: &WriteRequest) -> Result<Write, ApiError> {
        Write::begin_with(state, family, parts, family.idempotency_key_optional()).await
    }

    /// [`Write::begin`] for an endpoint whose reference declares no
    /// `X-Idempotency-Key` in a family that otherwise requires one (`key_optional`).
    pub async fn begin_with(
        state: &AppState,
        family: Family,
        parts: &WriteRequest,
        key_optional: bool,
    ) -> Result<Write, ApiError> {
        let principal = parts.principal.clone().ok_or_else(|| ApiError::new(family, ErrorKind::Internal))?;
        let key_header = parts.headers.get("x-idempotency-key").map(|v| v.to_str().map_err(|_| ()));
        let key = match key_header {
            Some(Err(())) => Err(KeyError::Invalid),
            Some(Ok(raw)) => IdempotencyKey::parse(Some(raw)).map(Some),
            None if key_optional => Ok(None),
            None => IdempotencyKey::parse(None).map(Some),
        }
        .map_err(|err| {
            ApiError::new(
                family,
                match err {
                    KeyError::Missing => ErrorKind::IdempotencyKeyMissing,
                    KeyError::Invalid => ErrorKind::IdempotencyKeyInvalid,
                },
            )
        })?;
        let body = parts.body.as_ref().map_err(|error| {
            let kind = match error {
                BodyError::TooLarge => ErrorKind::PayloadTooLarge,
                BodyError::TimedOut => ErrorKind::BodyTimeout,
                BodyError::Unreadable => {
                    ErrorKind::Refused(Failure::MalformedJson("the body could not be read".into()))
                }
            };
            ApiError::new(family, kind)
        })?;
        let path = parts.uri.path_and_query().map_or(parts.uri.path(), |pq| pq.as_str());
        let now = match parts.account_clock {
            Some(super::faults::AccountClock(offset)) => state.now().plus_millis(offset),
            None => state.account_now(&principal).await.map_err(|err| {
                tracing::error!(error = %err, "reading the account's clock failed");
                ApiError::new(family, ErrorKind::Internal)
            })?,
        };
        let ctx = RequestContext {
            principal,
            key,
            fingerprint: Fingerprint::of(parts.method.as_str(), path, body),
            request_id: parts.request_id.0.clone(),
            now,
            retention_ms: state.retention_ms,
        };
        Ok(Write { family, ctx, body: body.clone() })
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Payouts: the signature check, after the required headers. Its failure is not
    /// stored under the key, so a client that fixes its signature can retry with it.
    pub async fn verify_signature(&self, state: &AppState, request: &WriteRequest) -> Result<(), ApiError> {
        let headers = &request.headers;
        let flag = |name: &str| request.flag(name);
        let principal = &self.ctx.principal;
        if !signature::required(principal.live_mode, flag("x-enforce-signature"), flag("x-test-token")) {
            return Ok(());
        }
        let invalid = || ApiError::new(self.family, ErrorKind::InvalidSignature);
        let sent = headers.get("x-signature").and_then(|v| v.to_str().ok()).ok_or_else(invalid)?;
        let keys = state.store.signing_keys(principal.user_id).await.map_err(|err| {
            tracing::error!(error = %err, "reading signing keys failed");
            ApiError::new(self.family, ErrorKind::Internal)
        })?;
        let keys: Vec<_> = keys.iter().filter_map(|k| ed25519_dalek::VerifyingKey::from_bytes(k).ok()).collect();
        if signature::verify(&self.body, sent, &keys) {
            Ok(())
        } else {
            Err(invalid())
        }
    }

    /// Hand the operation to the store and turn what came of it into a response.
    pub async fn execute<O: Operation>(
        self,
        state: &AppState,
        planned: Planned<O>,
        render: impl Fn(&Result<O::Effect, Failure>) -> StoredResponse + Send + Sync + 'static,
    ) -> Response {
        let family = self.family;
        let command = Command::new(self.ctx, planned, render);
        match state.store.execute(command).await {
            Ok(Executed::Fresh(response)) => send(response, false),
            Ok(Executed::Replayed(response)) => send(response, true),
            Ok(Executed::KeyConflict) => {
                metrics::counter!("caja_idempotency_conflicts_total").increment(1);
                ApiError::new(family, ErrorKind::IdempotencyKeyReused).into_response()
            }
            Err(crate::store::StoreError::Busy) => {
                tracing::warn!("write queue full; answered 503");
                GenericError::Busy.of(family)
            }
            Err(err) => {
                tracing::error!(error = %err, "write command failed; nothing was committed");
                ApiError::new(family, ErrorKind::IdempotencyStoreFailure).into_response()
            }
        }
    }
}

/// The operation for a request whose path and body were parsed. In the contract's
/// order of checks a malformed path comes before the idempotency lookup (and so wins
/// over a key conflict), a bad body after it.
pub fn operation<P, B, O>(
    path: Result<P, Failure>,
    body: Result<B, Failure>,
    op: impl FnOnce(P, B) -> O,
) -> Planned<O> {
    match (path, body) {
        (Err(failure), _) => Err(Refusal { failure, before_lookup: true }),
        (Ok(_), Err(failure)) => Err(Refusal { failure, before_lookup: false }),
        (Ok(path), Ok(body)) => Ok(op(path, body)),
    }
}

/// Test helpers are for test accounts: a live account is refused before the lookup,
/// like a malformed path.
pub fn test_accounts_only<P>(path: Result<P, Failure>, principal: &Principal) -> Result<P, Failure> {
    path.and_then(|p| if principal.live_mode { Err(Failure::TestAccountsOnly) } else { Ok(p) })
}

/// Render an outcome: `success` for the operation's effect, the family's error table
/// for a refusal.
pub fn render<E>(
    family: Family,
    success: impl Fn(&E) -> StoredResponse + Send + Sync,
) -> impl Fn(&Result<E, Failure>) -> StoredResponse + Send + Sync {
    move |outcome| match outcome {
        Ok(effect) => success(effect),
        Err(failure) => ApiError::refused(family, failure.clone()).to_stored(),
    }
}

/// For operations whose success is a move (or, for an idempotent cancel, no change)
/// with no body.
pub fn moved(status: StatusCode) -> impl Fn(&Change) -> StoredResponse + Send + Sync {
    move |_| empty_response(status)
}

/// A JSON response, for reads (writes go through the store and [`send`]).
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    send(json_response(status, body), false)
}

/// A read that failed in the store: logged with its cause, the family's 500 outside.
pub fn read_failed(family: Family, err: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %err, ?family, "a read failed");
    ApiError::new(family, ErrorKind::Internal)
}

/// The query string, or the family's 400 when it cannot be parsed.
pub fn query<T>(family: Family, query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|_| ApiError::refused(family, Failure::InvalidBody("the query string is malformed".into())))
}

/// A stored response as sent: empty bodies carry no content type.
fn send(stored: StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if stored.body.is_empty() {
        status.into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/json")], stored.body).into_response()
    };
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// Parse a JSON object body; an empty body is read as `{}` where `empty_is_object`.
/// A type mismatch names the field's path (`config.point.subtype: invalid type…`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8], empty_is_object: bool) -> Result<T, Failure> {
    let body: &[u8] = if body.is_empty() && empty_is_object { b"{}" } else { body };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|err| Failure::MalformedJson(err.to_string()))?;
    if !value.is_object() {
        return Err(Failure::InvalidBody("invalid type: the body must be a JSON object".into()));
    }
    // Strict: a struct is never read from an array (see `strict_json`).
    serde_path_to_error::deserialize(super::strict_json::Strict(value)).map_err(|err| {
        let path = err.path().to_string();
        Failure::InvalidBody(format!("{path}: {}", err.into_inner()))
    })
}

/// The fields of a JSON body a handler keeps as sent: every non-null member but
/// those in `read` (the ones the domain reads itself).
pub fn echo_of(raw: &serde_json::Map<String, serde_json::Value>, read: &[&str]) -> crate::domain::order::Echo {
    raw.iter()
        .filter(|(k, v)| !read.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A stored response with a JSON body.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> StoredResponse {
    StoredResponse { status: status.as_u16(), body: serde_json::to_vec(body).unwrap_or_default() }
}

/// A stored response with no body.
pub fn empty_response(status: StatusCode) -> StoredResponse {
    StoredResponse { status: status.as_u16(), body: Vec::new() }
}
