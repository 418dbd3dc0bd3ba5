//! `POST /caja/v1/reset` (#17, caja's own): empty the caller's test account in one
//! transaction, so a test starts from a known state. Its resources of every kind
//! (fault rules included), idempotency records, notifications, audit records, moved
//! clock and journal go; the account, its tokens, signing keys, notification URL and
//! webhook secret stay. Running it twice leaves the same empty account: no key is
//! needed. A live account gets 403. When the server was started with a seed
//! (`serve --seed`), the seed's resources for the account are then made again, so
//! the account is back at the seed's state (`seeded` counts them).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};

use super::error::{ApiError, ErrorBody, Family};
use super::request::{json, read_failed};
use super::AppState;
use crate::domain::Principal;
use crate::engine::Failure;
use crate::store::ResetCounts;

const FAMILY: Family = Family::Caja;

pub fn routes() -> Router<AppState> {
    Router::new().route("/caja/v1/reset", post(reset))
}

/// What the reset removed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ResetView {
    pub resources: u64,
    pub idempotency_records: u64,
    pub notifications: u64,
    pub audit_events: u64,
    /// Journal entries (the reset's own entry is written after it).
    pub requests: u64,
    /// Resources of the server's seed made again after the reset (0 without one).
    pub seeded: u64,
}

impl From<ResetCounts> for ResetView {
    fn from(c: ResetCounts) -> Self {
        ResetView {
            resources: c.resources,
            idempotency_records: c.idempotency_records,
            notifications: c.notifications,
            audit_events: c.audit_events,
            requests: c.requests,
            seeded: 0,
        }
    }
}

/// Empty the caller's test account.
#[utoipa::path(
    post, path = "/caja/v1/reset", tag = "Testing with caja",
    responses(
        (status = 200, description = "Emptied (and the server's seed applied again); what was removed", body = ResetView),
        (status = 400, description = "bad_request: emptied, but a step of the server's seed was refused (named with its answer)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: a live account is never reset", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reset(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    if principal.live_mode {
        return Err(ApiError::refused(FAMILY, Failure::TestAccountsOnly));
    }
    // One reset (and its seed) at a time in this process.
    let _resetting = state.resetting.lock().await;
    // The account's requests so far are in the journal before it is emptied.
    state.request_log.flush().await;
    let counts = state
        .store
        .reset_account(
            principal.user_id,
            <crate::domain::terminal::Terminal as crate::domain::resource::Resource>::KIND,
        )
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let counts = counts.ok_or_else(|| ApiError::refused(FAMILY, Failure::NotFound))?;
    let mut view = ResetView::from(counts);
    if let (Some(seed), Some(api)) = (state.seed.as_ref(), state.api()) {
        let applied = crate::seed::apply_resources(state.store.as_ref(), api, seed, Some(principal.user_id))
            .await
            .map_err(|err| match err {
                crate::seed::SeedError::Store(err) => read_failed(FAMILY, err),
                err => {
                    let why = format!("the account was reset, but its seed's resources were not made again: {err}");
                    ApiError::refused(FAMILY, Failure::InvalidBody(why))
                }
            })?;
        view.seeded = applied.resources_created as u64;
    }
    Ok(json(StatusCode::OK, &view))
}
