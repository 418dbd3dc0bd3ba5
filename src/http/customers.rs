//! Customers: `POST /v1/customers`, `GET /v1/customers/search`, and
//! `GET|PUT|DELETE /v1/customers/{customer_id}`, as the Customers reference
//! (`reference/api-json/customers.json`) and the official SDKs' live tests answer them.
//!
//! A customer belongs to the account and site of the token that created it; for
//! any other caller it does not exist (404 `not_found`). `X-Idempotency-Key` is
//! optional, as the reference declares none: with one, the request is exactly-once;
//! without one, it simply runs. Refused fields carry the reference's numbered cause.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::cards::CardView;
use super::error::{ApiError, ErrorBody, Family};
use super::paging::{self, Listing, Paging};
use super::request::{json, json_response, operation, parse_json, query, read_failed, render, Write, WriteRequest};
use super::AppState;
use crate::domain::card::Card;
use crate::domain::customer::{Customer, CustomerId};
use crate::domain::customer_data::{self as causes, Address, CustomerData, Identification, Phone};
use crate::domain::Principal;
use crate::engine::customers::{self as engine, CreateCustomer, DeleteCustomer, UpdateCustomer};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Customers;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/customers/search", get(search_customers))
        .route("/v1/customers/{customer_id}", get(get_customer).put(update_customer).delete(delete_customer))
}

// ---- bodies and views ----

/// A customer's data, as `POST` and `PUT` take it. Every field is optional but
/// `email` on a create; an update replaces what it sends (never the email).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    #[schema(example = "ana@example.com")]
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<PhoneBody>,
    pub identification: Option<IdentificationBody>,
    /// The id of the default address.
    pub default_address: Option<String>,
    pub address: Option<AddressBody>,
    /// RFC 3339, e.g. `2021-10-20T11:37:30.000-04:00` (kept as sent).
    pub date_registered: Option<String>,
    pub description: Option<String>,
    /// The id of the default card.
    pub default_card: Option<String>,
    /// Any JSON object.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    pub area_code: Option<String>,
    pub number: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentificationBody {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub number: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub id: Option<String>,
    pub zip_code: Option<String>,
    pub street_name: Option<String>,
    pub street_number: Option<i64>,
    pub city: Option<CityBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CityBody {
    pub name: Option<String>,
}

impl CustomerBody {
    /// The domain's data; `metadata` must be a JSON object (cause 117).
    fn into_data(self) -> Result<CustomerData, Failure> {
        let metadata = match self.metadata {
            Some(raw) if !raw.get().trim_start().starts_with('{') => {
                return Err(Failure::Invalid(causes::METADATA_INVALID));
            }
            other => other.map(|raw| raw.get().to_owned()),
        };
        Ok(CustomerData {
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone.map(|p| Phone { area_code: p.area_code, number: p.number }),
            identification: self.identification.map(|i| Identification { kind: i.kind, number: i.number }),
            default_address: self.default_address,
            address: self.address.map(|a| Address {
                id: a.id,
                zip_code: a.zip_code,
                street_name: a.street_name,
                street_number: a.street_number,
                city: a.city.and_then(|c| c.name),
            }),
            date_registered: self.date_registered,
            description: self.description,
            default_card: self.default_card,
            metadata,
        })
    }
}

/// A customer as the API answers it: every field the reference documents, `null`
/// where unset, and the objects always present.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    #[schema(example = "123456789-abcdefghijk1234")]
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: PhoneBody,
    pub identification: IdentificationBody,
    pub address: AddressView,
    pub date_registered: Option<String>,
    pub description: Option<String>,
    pub date_created: String,
    pub date_last_updated: String,
    #[schema(value_type = Object)]
    pub metadata: Box<RawValue>,
    pub default_card: Option<String>,
    pub default_address: Option<String>,
    /// The customer's saved cards.
    pub cards: Vec<CardView>,
    #[schema(value_type = Vec<Object>)]
    pub addresses: Vec<()>,
    pub live_mode: bool,
    pub user_id: i64,
    /// The collector: the account's user id.
    pub merchant_id: i64,
    /// The application: caja has none apart from the account, so the account's user id.
    pub client_id: i64,
    /// `active`, or `deactive` in the answer to a delete.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub id: Option<String>,
    pub zip_code: Option<String>,
    pub street_name: Option<String>,
    pub street_number: Option<i64>,
}

impl CustomerView {
    fn of(c: &Customer, cards: &[Card]) -> Self {
        let user = c.owner.user_id.get();
        CustomerView {
            id: c.id.to_string(),
            email: c.email.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            phone: PhoneBody { area_code: c.phone.area_code.clone(), number: c.phone.number.clone() },
            identification: IdentificationBody {
                kind: c.identification.kind.clone(),
                number: c.identification.number.clone(),
            },
            address: AddressView {
                id: c.address.id.clone(),
                zip_code: c.address.zip_code.clone(),
                street_name: c.address.street_name.clone(),
                street_number: c.address.street_number,
            },
            date_registered: c.date_registered.clone(),
            description: c.description.clone(),
            date_created: c.created_at.to_rfc3339(),
            date_last_updated: c.updated_at.to_rfc3339(),
            metadata: metadata_json(c.metadata.as_deref()),
            default_card: c.default_card.clone(),
            default_address: c.default_address.clone(),
            cards: cards.iter().map(CardView::from).collect(),
            addresses: Vec::new(),
            live_mode: c.live_mode,
            user_id: user,
            merchant_id: user,
            client_id: user,
            status: c.status.as_str(),
        }
    }
}

/// The stored metadata as sent (it was checked to be a JSON object), `{}` when none.
fn metadata_json(stored: Option<&str>) -> Box<RawValue> {
    let parsed = stored.and_then(|text| RawValue::from_string(text.to_owned()).ok());
    parsed.unwrap_or_else(|| serde_json::value::to_raw_value(&serde_json::json!({})).unwrap_or_default())
}

/// The search's documented parameters; any other is refused (cause 204), never
/// ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Only the customer with this email (compared regardless of case).
    pub email: Option<String>,
    /// 1 to 100; 30 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
}

const SEARCH_PARAMS: [&str; 3] = ["email", "limit", "offset"];

// ---- shared steps ----

fn refuse(failure: Failure) -> ApiError {
    ApiError::refused(FAMILY, failure)
}

/// A customer id from the path (`<9 digits>-<15 letters or digits>`).
pub fn customer_id(raw: &str) -> Result<CustomerId, Failure> {
    CustomerId::parse(raw).ok_or(Failure::InvalidPathParam(PathParam::CustomerId))
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<CustomerId, Failure> {
    customer_id(&path.map(|Path(raw)| raw).unwrap_or_default())
}

/// A body as customer data, refused with the reference's causes: not a JSON object
/// (118), an unknown or mistyped field (125), a field out of its rules.
fn customer_data(body: &[u8]) -> Result<CustomerData, Failure> {
    let body = parse_json::<CustomerBody>(body, false).map_err(|failure| match failure {
        Failure::MalformedJson(_) => Failure::Invalid(causes::BODY_NOT_OBJECT),
        Failure::InvalidBody(detail) if detail.contains("must be a JSON object") => {
            Failure::Invalid(causes::BODY_NOT_OBJECT)
        }
        other => other,
    })?;
    body.into_data()
}

fn ok(status: StatusCode) -> impl Fn(&(Customer, Vec<Card>)) -> crate::domain::StoredResponse + Send + Sync {
    move |(c, cards)| json_response(status, &CustomerView::of(c, cards))
}

// ---- handlers ----

/// Create a customer.
#[utoipa::path(
    post, path = "/v1/customers", tag = "Customers",
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters")),
    request_body = CustomerBody,
    responses(
        (status = 201, description = "Created", body = CustomerView),
        (status = 400, description = "bad_request with a cause: 101 (email taken), 106, 107 … 118, 125; invalid_idempotency_key", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_customer(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let data = customer_data(write.body()).and_then(|data| data.for_create().map_err(Failure::Invalid));
    let op = operation(Ok(()), data, |(), data| {
        let mut rng = rand::rng();
        CreateCustomer { id: CustomerId::from_random(rng.random(), rng.random()), data }
    });
    let created = |c: &Customer| json_response(StatusCode::CREATED, &CustomerView::of(c, &[]));
    Ok(write.execute(&state, op, render(FAMILY, created)).await)
}

/// Read a customer.
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}", tag = "Customers",
    params(("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`")),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (also another account's or site's, or a deleted customer)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path).map_err(refuse)?;
    let (user, site) = (principal.user_id, principal.site_id);
    let found = state
        .store
        .read(move |r| engine::customer_with_cards(r, user, site, &id))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let (found, cards) = found.ok_or_else(|| refuse(Failure::NotFound))?;
    Ok(json(StatusCode::OK, &CustomerView::of(&found, &cards)))
}

/// Update a customer: the fields sent replace the stored ones.
#[utoipa::path(
    put, path = "/v1/customers/{customer_id}", tag = "Customers",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    request_body = CustomerBody,
    responses(
        (status = 200, description = "The updated customer", body = CustomerView),
        (status = 400, description = "bad_request with a cause: 106 … 118, 125, 126 (the email cannot change)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_customer(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let data = customer_data(write.body()).and_then(|data| data.validated().map_err(Failure::Invalid));
    let op = operation(path_id(path), data, |id, data| UpdateCustomer { id, data });
    Ok(write.execute(&state, op, render(FAMILY, ok(StatusCode::OK))).await)
}

/// Delete a customer: the answer is the customer with `status` `deactive`; after it
/// the customer is not found, and its email is free.
#[utoipa::path(
    delete, path = "/v1/customers/{customer_id}", tag = "Customers",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    responses(
        (status = 200, description = "The deleted customer", body = CustomerView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(path_id(path), Ok(()), |id, ()| DeleteCustomer { id });
    Ok(write.execute(&state, op, render(FAMILY, ok(StatusCode::OK))).await)
}

/// Search the caller's customers on the token's site.
#[utoipa::path(
    get, path = "/v1/customers/search", tag = "Customers",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of customers, oldest first", body = Listing<CustomerView>),
        (status = 400, description = "bad_request with cause 204 (a parameter other than email, limit, offset), or a bad limit or offset", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_customers(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    all: Result<Query<Vec<(String, String)>>, QueryRejection>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    if query(FAMILY, all)?.iter().any(|(name, _)| !SEARCH_PARAMS.contains(&name.as_str())) {
        return Err(refuse(Failure::Invalid(causes::FILTERS_INVALID)));
    }
    let params = query(FAMILY, params)?;
    let (limit, offset) = paging::parse(params.limit.as_deref(), params.offset.as_deref()).map_err(refuse)?;
    let email = params.email.filter(|e| !e.is_empty());
    let (user, site) = (principal.user_id, principal.site_id);
    let page = state
        .store
        .read(move |r| engine::customer_page_with_cards(r, user, site, email.as_deref(), limit, offset))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let listing = Listing {
        paging: Paging { limit, offset, total: page.total },
        results: page.items.iter().map(|(c, cards)| CustomerView::of(c, cards)).collect(),
    };
    Ok(json(StatusCode::OK, &listing))
}
