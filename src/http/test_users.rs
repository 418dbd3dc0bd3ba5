//! Test users, as Mercado Pago's "Create test user" page documents them (#17):
//! `POST /users/test` (and the older `POST /users/test_user`) with `site_id` and
//! `description` make a new test account, without Mercado Pago's caps or expiry.
//!
//! Mercado Pago hands a test user's credentials out through its web login; caja has
//! none, so it answers the documented fields plus one of its own, clearly marked:
//! `caja_access_token`, the new account's `TEST-` token (shown once). The nickname
//! and e-mail follow `GET /users/me` (`TESTUSER<id>`, `test_user_<id>@testuser.com`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorKind, Family};
use super::request::{json, parse_json};
use super::AppState;
use crate::domain::SiteId;
use crate::engine::Failure;
use crate::provision::{self, AccountSpec};

const FAMILY: Family = Family::Payments;
/// The longest description kept, in characters.
const DESCRIPTION_CHARS_MAX: usize = 255;

pub fn routes() -> Router<AppState> {
    Router::new().route("/users/test", post(create_test_user)).route("/users/test_user", post(create_test_user))
}

/// The page's body: both fields are required (`description` may be left out on the
/// older `/users/test_user`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestUserBody {
    /// `MLA`, `MLB`, `MLM`, `MLC`, `MCO`, `MPE` or `MLU`.
    pub site_id: Option<String>,
    pub description: Option<String>,
}

/// The page's answer, plus caja's `caja_access_token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestUserView {
    pub id: i64,
    pub nickname: String,
    pub password: String,
    pub site_status: &'static str,
    pub site_id: &'static str,
    pub description: Option<String>,
    pub email: String,
    /// `2022-02-01T12:00:00.000-04:00`.
    pub date_created: String,
    pub date_last_updated: String,
    /// caja's own: the new test account's access token (shown once).
    pub caja_access_token: String,
}

fn refuse(why: &str) -> ApiError {
    ApiError::refused(FAMILY, Failure::InvalidBody(why.to_owned()))
}

/// Create a test user: a new test account of the site, with its own token.
#[utoipa::path(
    post, path = "/users/test", tag = "Test users",
    request_body = TestUserBody,
    responses(
        (status = 201, description = "The test user, with caja's caja_access_token", body = TestUserView),
        (status = 400, description = "bad_request: no or unknown site_id, no description", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_test_user(State(state): State<AppState>, uri: axum::http::Uri, body: Bytes) -> Response {
    match create(&state, uri.path() == "/users/test", &body).await {
        Ok(view) => json(StatusCode::CREATED, &view),
        Err(err) => err.into_response(),
    }
}

async fn create(state: &AppState, description_required: bool, body: &[u8]) -> Result<TestUserView, ApiError> {
    let body: TestUserBody =
        parse_json(body, false).map_err(|failure| ApiError::new(FAMILY, ErrorKind::Refused(failure)))?;
    let site = body.site_id.as_deref().ok_or_else(|| refuse("site_id is required"))?;
    let site =
        site.parse::<SiteId>().map_err(|_| refuse("site_id must be one of MLA, MLB, MLM, MLC, MCO, MPE, MLU"))?;
    let description = match body.description {
        Some(d) if d.trim().is_empty() || d.chars().count() > DESCRIPTION_CHARS_MAX => {
            return Err(refuse("description must be 1 to 255 characters"))
        }
        None if description_required => return Err(refuse("description is required")),
        other => other,
    };
    let now = state.now();
    let issued =
        provision::create_account(state.store.as_ref(), AccountSpec::test(site), now).await.map_err(|err| {
            tracing::error!(error = %err, "creating a test user failed");
            ApiError::new(FAMILY, ErrorKind::Internal)
        })?;
    let id = issued.user_id;
    let date = super::payments::date(now);
    Ok(TestUserView {
        id,
        nickname: format!("TESTUSER{id}"),
        password: format!("qatest{}", rand::rng().random_range(1000..10_000)),
        site_status: "active",
        site_id: site.as_str(),
        description,
        email: format!("test_user_{id}@testuser.com"),
        date_created: date.clone(),
        date_last_updated: date,
        caja_access_token: issued.access_token,
    })
}
