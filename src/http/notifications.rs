//! caja's own read-back endpoints: `GET /v1/notifications`, `POST
//! /v1/notifications/{id}/retry` and `GET /v1/audit-events`. Each shows only the
//! caller's own records.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody, Family};
use super::paging::{self, Listing};
use super::request::{json, query, read_failed};
use super::AppState;
use crate::domain::notification::{Attempt, Notification, NotificationStatus};
use crate::domain::{Principal, ResourceType, Timestamp};
use crate::engine::Failure;
use crate::store::{AuditFilter, AuditRecord, NotificationFilter, Page};

const FAMILY: Family = Family::Caja;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/notifications", get(list_notifications))
        .route("/v1/notifications/{notification_id}/retry", post(retry_notification))
        .route("/v1/audit-events", get(list_audit_events))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `<family>.<new status>`, as in the payload.
    #[schema(example = "terminal_action.canceled")]
    pub action: String,
    pub resource_type: &'static str,
    pub resource_id: String,
    /// `pending`, `delivered` or `failed` (every attempt failed).
    pub status: &'static str,
    pub url: String,
    pub live_mode: bool,
    pub date_created: String,
    /// When it will be tried next, while `pending`.
    pub next_attempt_date: Option<String>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub date: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        AttemptView {
            date: a.at.to_rfc3339(),
            status_code: a.status_code,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
        }
    }
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        NotificationView {
            id: n.id,
            action: n.change.action(),
            resource_type: n.change.resource_type.as_str(),
            resource_id: n.change.resource_id.clone(),
            status: n.status.as_str(),
            url: n.change.url.clone(),
            live_mode: n.change.live_mode,
            date_created: n.change.created_at.to_rfc3339(),
            next_attempt_date: n
                .next_attempt_at
                .filter(|_| n.status == NotificationStatus::Pending)
                .map(Timestamp::to_rfc3339),
            attempts: n.attempts.iter().map(AttemptView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    /// The family: `terminal_action`, `payout_transaction`, `payment_profile`,
    /// `customer`, `customer_card`, `order`, `payment`, `preference`, `merchant_order`.
    pub resource_type: &'static str,
    pub resource_id: String,
    /// `null` when the change created the resource.
    pub from_status: Option<String>,
    pub to_status: String,
    pub user_id: i64,
    pub deleted_by: Option<String>,
    pub comments: Option<String>,
    /// The request's `X-Request-Id`; `caja-worker` for background processing.
    pub request_id: String,
    pub idempotency_key: Option<String>,
    pub date_created: String,
    /// SHA-256 (hex) over `prev_hash` and this record: the resource's records form a
    /// chain that `caja audit verify` checks. `null` for records older than the chain.
    pub hash: Option<String>,
    /// The hash of the resource's record before this one (`null` for its first).
    pub prev_hash: Option<String>,
}

impl From<&AuditRecord> for AuditEventView {
    fn from(r: &AuditRecord) -> Self {
        let e = &r.event;
        AuditEventView {
            id: r.id,
            resource_type: e.resource_type.as_str(),
            resource_id: e.resource_id.clone(),
            from_status: e.from_status.clone(),
            to_status: e.to_status.clone(),
            user_id: e.user_id.get(),
            deleted_by: e.deleted_by.clone(),
            comments: e.comments.clone(),
            request_id: e.request_id.clone(),
            idempotency_key: e.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            date_created: e.at.to_rfc3339(),
            hash: r.hash.clone(),
            prev_hash: r.prev_hash.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Only notifications about this resource.
    pub resource_id: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// 1 to 100; 30 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
    /// caja's, for tests: 0 to 25000. When nothing matches yet, wait up to this long
    /// for a match (say `resource_id=…&status=delivered`) before answering.
    pub wait_ms: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// `terminal_action`, `payout_transaction` or `payment_profile`.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// 1 to 100; 30 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
}

fn refuse(failure: Failure) -> ApiError {
    ApiError::refused(FAMILY, failure)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The caller's webhook deliveries, newest first, with every attempt.
#[utoipa::path(
    get, path = "/v1/notifications", tag = "Notifications and audit",
    params(NotificationParams),
    responses(
        (status = 200, description = "A page of notifications", body = Listing<NotificationView>),
        (status = 400, description = "bad_request", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<NotificationParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(FAMILY, params)?;
    let (limit, offset) = paging::parse(params.limit.as_deref(), params.offset.as_deref()).map_err(refuse)?;
    let status =
        match non_empty(params.status) {
            None => None,
            Some(raw) => Some(NotificationStatus::parse(&raw).ok_or_else(|| {
                refuse(Failure::InvalidBody("status must be one of pending, delivered, failed".into()))
            })?),
        };
    let wait = super::journal::wait_ms(params.wait_ms).map_err(refuse)?;
    let filter = NotificationFilter { resource_id: non_empty(params.resource_id), status };
    let page = super::journal::poll_until(
        wait,
        |page: &Page<Notification>| !page.items.is_empty(),
        || state.store.notification_page(principal.user_id, filter.clone(), limit, offset),
    )
    .await
    .map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &Listing::<NotificationView>::of(&page, limit, offset)))
}

/// Queue a notification again, due at once (whatever its status).
#[utoipa::path(
    post, path = "/v1/notifications/{notification_id}/retry", tag = "Notifications and audit",
    params(("notification_id" = i64, Path, description = "The notification's id")),
    responses(
        (status = 202, description = "Queued", body = NotificationView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (also another account's)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry_notification(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path.ok().and_then(|Path(raw)| raw.parse::<i64>().ok()).ok_or_else(|| refuse(Failure::NotFound))?;
    // Due now in the account's time (a moved clock's play-out takes it at once).
    let now = state.account_now(&principal).await.map_err(|e| read_failed(FAMILY, e))?;
    let found = state.store.retry_notification(principal.user_id, id, now).await.map_err(|e| read_failed(FAMILY, e))?;
    let notification = found.ok_or_else(|| refuse(Failure::NotFound))?;
    Ok(json(StatusCode::ACCEPTED, &NotificationView::from(&notification)))
}

/// The caller's audit records, newest first.
#[utoipa::path(
    get, path = "/v1/audit-events", tag = "Notifications and audit",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit records", body = Listing<AuditEventView>),
        (status = 400, description = "bad_request", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = query(FAMILY, params)?;
    let (limit, offset) = paging::parse(params.limit.as_deref(), params.offset.as_deref()).map_err(refuse)?;
    let resource_type = match non_empty(params.resource_type) {
        None => None,
        Some(raw) => Some(ResourceType::parse(&raw).ok_or_else(|| {
            refuse(Failure::InvalidBody(
                "resource_type must be one of terminal_action, payout_transaction, payment_profile, customer, customer_card"
                    .into(),
            ))
        })?),
    };
    let filter = AuditFilter { resource_type, resource_id: non_empty(params.resource_id) };
    let page =
        state.store.audit_page(principal.user_id, filter, limit, offset).await.map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &Listing::<AuditEventView>::of(&page, limit, offset)))
}
