//! A customer's payment profiles: `/v1/customers/{customer_id}/payment-profiles…`.
//!
//! A customer and its profiles belong to the account and site of the token that
//! created them. Reaching a profile as another account, with a token of another site,
//! or through another customer is a mismatch (400), as the reference page spells it;
//! only what does not exist at all is `resource_not_found`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::customers::customer_id;
use super::error::{ApiError, ErrorBody, Family};
use super::paging::{self, Paging};
use super::request::{
    json, json_response, moved, operation, parse_json, query, read_failed, render, Write, WriteRequest,
};
use super::AppState;
use crate::domain::customer::{
    CustomerId, MethodDraft, NewProfile, PaymentMethod, Profile, ProfileDraft, ProfileId, ProfileStatus,
};
use crate::domain::terminal_action::PropertyError;
use crate::domain::Principal;
use crate::engine::customers::{self as engine, AddPaymentMethod, CancelProfile, CreateProfile, RemovePaymentMethod};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Profiles;

pub fn routes() -> Router<AppState> {
    const PROFILES: &str = "/v1/customers/{customer_id}/payment-profiles";
    Router::new()
        .route(PROFILES, post(create_profile).get(list_profiles))
        .route(&format!("{PROFILES}/{{payment_profile_id}}"), get(get_profile))
        .route(&format!("{PROFILES}/{{payment_profile_id}}/payment-methods"), post(add_payment_method))
        .route(
            &format!("{PROFILES}/{{payment_profile_id}}/payment-methods/{{payment_method_id}}"),
            delete(remove_payment_method),
        )
        .route(&format!("{PROFILES}/{{payment_profile_id}}/cancel"), post(cancel_profile))
}

// ---- bodies and views ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileBody {
    pub description: Option<String>,
    /// 1 to 10; 3 when absent.
    pub max_day_overdue: Option<i64>,
    /// 1 to 22 characters.
    pub statement_descriptor: Option<String>,
    /// `AUTO` (default) or `MANUAL`.
    pub sequence_control: Option<String>,
    /// At most 2, as `POST …/payment-methods` takes them (at most one by `token`).
    pub payment_methods: Option<Vec<PaymentMethodBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentMethodBody {
    /// The payment method, e.g. `visa`, `master`.
    #[schema(example = "visa")]
    pub id: Option<String>,
    /// `credit_card`, `debit_card`, `prepaid_card` or `account_money`.
    #[serde(rename = "type")]
    #[schema(example = "credit_card")]
    pub kind: Option<String>,
    /// A card token of 32 or 33 characters (used once; never stored or shown).
    pub token: Option<String>,
    /// The card's id: a number (the reference's `long`); a string of digits is taken too.
    #[schema(value_type = Option<i64>)]
    pub card_id: Option<CardId>,
}

/// A card id as sent: the reference's number, or its digits as a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CardId {
    Number(u64),
    Text(String),
}

impl CardId {
    fn into_text(self) -> String {
        match self {
            CardId::Number(n) => n.to_string(),
            CardId::Text(text) => text,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    #[schema(example = "0123456789abcdef0123456789abcdef")]
    pub id: String,
    /// `PENDING`, `READY` or `CANCELLED`.
    pub status: &'static str,
    pub customer_id: String,
    pub caller_id: i64,
    pub site_id: &'static str,
    pub description: Option<String>,
    pub max_day_overdue: u8,
    pub statement_descriptor: Option<String>,
    pub sequence_control: &'static str,
    pub payment_methods: Vec<PaymentMethodView>,
    pub created_date: String,
    pub last_updated_date: String,
}

/// A payment method as the profile pages show it: `card_id` is a number; the first
/// method is the default; caja approves a card at once, so its status is `READY`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodView {
    /// A UUID: what `DELETE …/payment-methods/{payment_method_id}` takes.
    pub payment_method_id: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Option<i64>)]
    pub card_id: Option<serde_json::Value>,
    pub status: &'static str,
    pub default_method: bool,
}

impl PaymentMethodView {
    fn of(m: &PaymentMethod, position: usize) -> Self {
        // A card id is digits; one stored by an earlier release may not be, and is
        // then shown as it was sent.
        let card_id = m.card_id.as_ref().map(|c| match c.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(c.clone()),
        });
        PaymentMethodView {
            payment_method_id: m.payment_method_id.clone(),
            id: m.id.clone(),
            kind: m.kind.clone(),
            card_id,
            status: "READY",
            default_method: position == 0,
        }
    }
}

impl From<&Profile> for ProfileView {
    fn from(p: &Profile) -> Self {
        ProfileView {
            id: p.id.to_string(),
            status: p.status.as_str(),
            customer_id: p.customer_id.to_string(),
            caller_id: p.owner.user_id.get(),
            site_id: p.owner.site_id.as_str(),
            description: p.description.clone(),
            max_day_overdue: p.max_day_overdue,
            statement_descriptor: p.statement_descriptor.clone(),
            sequence_control: p.sequence_control.as_str(),
            payment_methods: p.payment_methods.iter().enumerate().map(|(i, m)| PaymentMethodView::of(m, i)).collect(),
            created_date: p.created_at.to_rfc3339(),
            last_updated_date: p.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100; 50 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
    /// Only profiles in this status: `PENDING`, `READY` or `CANCELLED`.
    pub status: Option<String>,
}

/// Page size of the profile list when the request names none (the list page's).
pub const PROFILE_PAGE_LIMIT_DEFAULT: u32 = 50;

/// A page of profiles, keyed `data` as the list page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileList {
    pub paging: Paging,
    pub data: Vec<ProfileView>,
}

// ---- shared steps ----

fn refuse(failure: Failure) -> ApiError {
    ApiError::refused(FAMILY, failure)
}

fn profile_ids(path: Result<Path<(String, String)>, PathRejection>) -> Result<(CustomerId, ProfileId), Failure> {
    let Ok(Path((customer, profile))) = path else {
        return Err(Failure::InvalidPathParam(PathParam::CustomerId));
    };
    let profile = ProfileId::parse(&profile).ok_or(Failure::InvalidPathParam(PathParam::ProfileId))?;
    Ok((customer_id(&customer)?, profile))
}

async fn begin(state: &AppState, request: &WriteRequest) -> Result<Write, ApiError> {
    Write::begin(state, FAMILY, request).await
}

// ---- payment profiles ----

/// Create a payment profile for a customer (status `PENDING`).
#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/payment-profiles", tag = "Payment profiles",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    request_body = ProfileBody,
    responses(
        (status = 201, description = "Created", body = ProfileView),
        (status = 400, description = "bad_request, caller_id_mismatch, site_id_mismatch, invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "Too Many Requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_profile(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let parsed = parse_json::<ProfileBody>(write.body(), false).and_then(|b| {
        let draft = ProfileDraft {
            description: b.description,
            max_day_overdue: b.max_day_overdue,
            statement_descriptor: b.statement_descriptor,
            sequence_control: b.sequence_control,
        };
        let new = NewProfile::parse(draft).map_err(|e| Failure::InvalidBody(e.0))?;
        Ok((new, initial_methods(b.payment_methods.unwrap_or_default(), write.ctx.now)?))
    });
    let op = operation(customer_id(&raw), parsed, |customer, (new, methods)| CreateProfile {
        customer,
        id: ProfileId::from_random(rand::random()),
        new,
        methods,
    });
    let success = |p: &Profile| json_response(StatusCode::CREATED, &ProfileView::from(p));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// The payment methods a profile is created with: at most two
/// (`more_than_two_payment_methods_not_allowed`), at most one given by token
/// (`two_cards_with_token_not_allowed`), each valid (`validation_error`).
fn initial_methods(
    bodies: Vec<PaymentMethodBody>,
    now: crate::domain::Timestamp,
) -> Result<Vec<PaymentMethod>, Failure> {
    if bodies.len() > crate::domain::customer::PAYMENT_METHODS_MAX {
        return Err(Failure::PaymentMethodsFull);
    }
    if bodies.iter().filter(|b| b.token.is_some()).count() > 1 {
        return Err(Failure::TwoCardTokens);
    }
    bodies.into_iter().map(|b| payment_method(b, now)).collect()
}

/// A payment method from its body, named with a fresh `payment_method_id`.
fn payment_method(b: PaymentMethodBody, now: crate::domain::Timestamp) -> Result<PaymentMethod, Failure> {
    let draft = MethodDraft { id: b.id, kind: b.kind, token: b.token, card_id: b.card_id.map(CardId::into_text) };
    let payment_method_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    PaymentMethod::parse(draft, payment_method_id, now)
        .map_err(|e| Failure::Property { error: PropertyError::Value, detail: e.0 })
}

/// List a customer's payment profiles.
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/payment-profiles", tag = "Payment profiles",
    params(("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"), ListParams),
    responses(
        (status = 200, description = "A page of profiles, oldest first", body = ProfileList),
        (status = 400, description = "caller_id_mismatch, site_id_mismatch, bad_request (limit, offset or status)", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_profiles(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let customer = customer_id(&raw).map_err(refuse)?;
    let params = query(FAMILY, params)?;
    let (limit, offset) =
        paging::parse_with(PROFILE_PAGE_LIMIT_DEFAULT, params.limit.as_deref(), params.offset.as_deref())
            .map_err(refuse)?;
    let status =
        match params.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(ProfileStatus::parse(raw).ok_or_else(|| {
                refuse(Failure::InvalidBody("status must be one of PENDING, READY, CANCELLED".into()))
            })?),
        };
    let (user, site) = (principal.user_id, principal.site_id);
    let page = state
        .store
        .read(move |r| engine::profile_page(r, user, site, &customer, status, limit, offset))
        .await
        .map_err(|e| read_failed(FAMILY, e))?
        .map_err(refuse)?;
    let list = ProfileList {
        paging: Paging { limit, offset, total: page.total },
        data: page.items.iter().map(ProfileView::from).collect(),
    };
    Ok(json(StatusCode::OK, &list))
}

/// Read a payment profile.
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/payment-profiles/{payment_profile_id}", tag = "Payment profiles",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("payment_profile_id" = String, Path, description = "32 lowercase hex digits"),
    ),
    responses(
        (status = 200, description = "The profile", body = ProfileView),
        (status = 400, description = "caller_id_mismatch, site_id_mismatch, customer_id_mismatch", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_profile(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (customer, profile) = profile_ids(path).map_err(refuse)?;
    let (user, site) = (principal.user_id, principal.site_id);
    let found = state
        .store
        .read(move |r| engine::profile_of(r, user, site, &customer, &profile))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &ProfileView::from(&found.map_err(refuse)?)))
}

/// Add a payment method (at most 2). The first makes a `PENDING` profile `READY`.
#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/payment-profiles/{payment_profile_id}/payment-methods", tag = "Payment profiles",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("payment_profile_id" = String, Path, description = "32 lowercase hex digits"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    request_body = PaymentMethodBody,
    responses(
        (status = 201, description = "Added; the profile as it is now", body = ProfileView),
        (status = 400, description = "more_than_two_payment_methods_not_allowed, duplicate_payment_method_not_allowed, validation_error (an invalid method, a CANCELLED profile), bad_request (not JSON), caller_id_mismatch, site_id_mismatch, customer_id_mismatch", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_payment_method(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let now = write.ctx.now;
    let parsed = parse_json::<PaymentMethodBody>(write.body(), false).and_then(|b| payment_method(b, now));
    let op = operation(profile_ids(path), parsed, |(customer, profile), method| AddPaymentMethod {
        customer,
        profile,
        method,
    });
    let success = |p: &Profile| json_response(StatusCode::CREATED, &ProfileView::from(p));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// Cancel a payment profile. `CANCELLED` is final; cancelling it again is a 204 that
/// changes nothing.
#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/payment-profiles/{payment_profile_id}/cancel", tag = "Payment profiles",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("payment_profile_id" = String, Path, description = "32 lowercase hex digits"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    responses(
        (status = 204, description = "Cancelled (or already was)"),
        (status = 400, description = "caller_id_mismatch, site_id_mismatch, customer_id_mismatch, invalid_idempotency_key, bad_request", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "Too Many Requests", body = ErrorBody),
        (status = 500, description = "internal_server_error", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_profile(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let body = parse_json::<serde_json::Value>(write.body(), true);
    let op = operation(profile_ids(path), body, |(customer, profile), _| CancelProfile { customer, profile });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::NO_CONTENT))).await)
}

/// Remove a payment method. A `READY` profile left without methods is `PENDING` again.
#[utoipa::path(
    delete, path = "/v1/customers/{customer_id}/payment-profiles/{payment_profile_id}/payment-methods/{payment_method_id}",
    tag = "Payment profiles",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("payment_profile_id" = String, Path, description = "32 lowercase hex digits"),
        ("payment_method_id" = String, Path, description = "The method's `payment_method_id` (a UUID)"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "caller_id_mismatch, site_id_mismatch, customer_id_mismatch, validation_error (a CANCELLED profile)", body = ErrorBody),
        (status = 401, description = "header_missing, Unauthorized Access Token", body = ErrorBody),
        (status = 404, description = "resource_not_found (also no such payment method)", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "Too Many Requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn remove_payment_method(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let ids = match path {
        Ok(Path((customer, profile, method))) => {
            profile_ids(Ok(Path((customer, profile)))).map(|(customer, profile)| (customer, profile, method))
        }
        Err(_) => Err(Failure::InvalidPathParam(PathParam::ProfileId)),
    };
    let body = parse_json::<serde_json::Value>(write.body(), true);
    let op = operation(ids, body, |(customer, profile, payment_method_id), _| RemovePaymentMethod {
        customer,
        profile,
        payment_method_id,
    });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::NO_CONTENT))).await)
}
