//! Card tokens (`POST /v1/card_tokens`, `GET /v1/card_tokens/{id}`) and customers'
//! saved cards (`/v1/customers/{customer_id}/cards…`), as the cards reference
//! (`reference/api-json/cards.json`) and the official SDKs' live tests answer them.
//!
//! The classic codes with numbered causes, as for customers (same family). A full
//! card number or security code is read, checked and dropped: never stored, never
//! shown.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::customers::customer_id;
use super::error::{ApiError, ErrorBody, Family};
use super::request::{json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest};
use super::AppState;
use crate::domain::card::{
    self, brand_name, Card, CardFace, CardId, CardToken, CardTokenDraft, CardTokenId, CardUpdate, Cardholder,
};
use crate::domain::customer::CustomerId;
use crate::domain::customer_data::CARD_REQUIRED;
use crate::domain::{Principal, StoredResponse};
use crate::engine::cards::{self as engine, CreateCardToken, DeleteCard, SaveCard, TokenSource, UpdateCard};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Customers;

pub fn routes() -> Router<AppState> {
    const CARDS: &str = "/v1/customers/{customer_id}/cards";
    Router::new()
        .route("/v1/card_tokens", post(create_card_token))
        .route("/v1/card_tokens/{card_token_id}", get(get_card_token))
        .route(CARDS, post(save_card).get(list_cards))
        .route(&format!("{CARDS}/{{card_id}}"), get(get_card).put(update_card).delete(delete_card))
}

// ---- bodies and views ----

/// A month or year as a number or its digits as a string (the SDKs send both).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Number(u32),
    Text(String),
}

impl Number {
    fn value(&self) -> Option<u32> {
        match self {
            Number::Number(n) => Some(*n),
            Number::Text(text) => text.parse().ok(),
        }
    }
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
pub struct CardholderBody {
    /// What Mercado Pago's test environment decides outcomes by: `APRO`, `OTHE`, …
    #[schema(example = "APRO")]
    pub name: Option<String>,
    pub identification: Option<IdentificationBody>,
}

impl CardholderBody {
    fn into_domain(self) -> Cardholder {
        let (kind, number) = self.identification.map_or((None, None), |i| (i.kind, i.number));
        Cardholder { name: self.name, identification_type: kind, identification_number: number }
    }
}

/// `POST /v1/card_tokens`: a new card (`card_number`, expiry, `security_code`,
/// `cardholder`), or a saved one (`card_id` and its `security_code`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardTokenBody {
    #[schema(example = "5031433215406351")]
    pub card_number: Option<String>,
    #[schema(value_type = Option<String>, example = "11")]
    pub expiration_month: Option<Number>,
    #[schema(value_type = Option<String>, example = "2030")]
    pub expiration_year: Option<Number>,
    #[schema(example = "123")]
    pub security_code: Option<String>,
    pub cardholder: Option<CardholderBody>,
    /// A saved card's id, for a token of it.
    pub card_id: Option<String>,
    /// Sent by the SDKs with `card_id`: the card must be this customer's.
    pub customer_id: Option<String>,
    /// Sent by the SDKs: it must be the access token's site.
    pub site_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardholderView {
    pub name: Option<String>,
    pub identification: IdentificationBody,
}

fn cardholder_view(holder: &Cardholder) -> CardholderView {
    CardholderView {
        name: holder.name.clone(),
        identification: IdentificationBody {
            kind: holder.identification_type.clone(),
            number: holder.identification_number.clone(),
        },
    }
}

/// A card token as the SDKs' `CardTokenResponse` types it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardTokenView {
    #[schema(example = "9b2d63e00d66a8c721607214ceda233a")]
    pub id: String,
    pub card_id: Option<String>,
    pub first_six_digits: String,
    pub last_four_digits: String,
    pub expiration_month: u8,
    pub expiration_year: u16,
    pub cardholder: CardholderView,
    /// `active`, `used` once saved or paid with, `expired` after `date_due`.
    pub status: &'static str,
    pub date_created: String,
    pub date_last_updated: String,
    pub date_due: String,
    pub luhn_validation: bool,
    pub live_mode: bool,
    pub require_esc: bool,
    pub card_number_length: u8,
    pub security_code_length: u8,
}

impl CardTokenView {
    fn of(token: &CardToken, now: crate::domain::Timestamp) -> Self {
        let face = &token.face;
        let status = if token.status == card::TokenStatus::Active && !token.usable(now) {
            "expired"
        } else {
            token.status.as_str()
        };
        CardTokenView {
            id: token.id.to_string(),
            card_id: token.card_id.as_ref().map(ToString::to_string),
            first_six_digits: face.first_six_digits.clone(),
            last_four_digits: face.last_four_digits.clone(),
            expiration_month: face.expiration_month,
            expiration_year: face.expiration_year,
            cardholder: cardholder_view(&face.cardholder),
            status,
            date_created: token.created_at.to_rfc3339(),
            date_last_updated: token.updated_at.to_rfc3339(),
            date_due: token.due_at().to_rfc3339(),
            luhn_validation: true,
            live_mode: token.live_mode,
            require_esc: false,
            card_number_length: face.card_number_length,
            security_code_length: face.security_code_length,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    pub name: &'static str,
    pub payment_type_id: &'static str,
    pub thumbnail: String,
    pub secure_thumbnail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityCodeView {
    pub length: u8,
    pub card_location: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerView {
    pub id: u32,
    pub name: &'static str,
}

/// A saved card as the cards reference shows it (`user_id` a string there).
#[derive(Debug, Serialize, ToSchema)]
pub struct CardView {
    #[schema(example = "8987269652")]
    pub id: String,
    pub customer_id: String,
    pub expiration_month: u8,
    pub expiration_year: u16,
    pub first_six_digits: String,
    pub last_four_digits: String,
    pub payment_method: PaymentMethodView,
    pub security_code: SecurityCodeView,
    pub issuer: IssuerView,
    pub cardholder: CardholderView,
    pub date_created: String,
    pub date_last_updated: String,
    pub user_id: String,
    pub live_mode: bool,
}

/// The issuer caja shows for a brand (its own numbering; the reference's example
/// has Mastercard's 24).
fn issuer(brand: &str) -> IssuerView {
    let id = match brand {
        "visa" => 25,
        "amex" => 310,
        "elo" => 687,
        _ => 24,
    };
    IssuerView { id, name: brand_name(brand) }
}

impl From<&Card> for CardView {
    fn from(c: &Card) -> Self {
        let face: &CardFace = &c.face;
        let brand = face.payment_method_id.as_str();
        CardView {
            id: c.id.to_string(),
            customer_id: c.customer_id.to_string(),
            expiration_month: face.expiration_month,
            expiration_year: face.expiration_year,
            first_six_digits: face.first_six_digits.clone(),
            last_four_digits: face.last_four_digits.clone(),
            payment_method: PaymentMethodView {
                id: brand.to_owned(),
                name: brand_name(brand),
                payment_type_id: "credit_card",
                thumbnail: format!("http://img.mlstatic.com/org-img/MP3/API/logos/{brand}.gif"),
                secure_thumbnail: format!("https://www.mercadopago.com/org-img/MP3/API/logos/{brand}.gif"),
            },
            security_code: SecurityCodeView { length: face.security_code_length, card_location: "back" },
            issuer: issuer(brand),
            cardholder: cardholder_view(&face.cardholder),
            date_created: c.created_at.to_rfc3339(),
            date_last_updated: c.updated_at.to_rfc3339(),
            user_id: c.user_id.to_string(),
            live_mode: c.live_mode,
        }
    }
}

/// `POST /v1/customers/{id}/cards`: the token to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveCardBody {
    #[schema(example = "9b2d63e00d66a8c721607214ceda233a")]
    pub token: Option<String>,
}

/// `PUT /v1/customers/{id}/cards/{card_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCardBody {
    #[schema(value_type = Option<u32>)]
    pub expiration_month: Option<Number>,
    #[schema(value_type = Option<u32>)]
    pub expiration_year: Option<Number>,
    pub cardholder: Option<CardholderBody>,
}

// ---- shared steps ----

fn refuse(failure: Failure) -> ApiError {
    ApiError::refused(FAMILY, failure)
}

fn this_year(now: crate::domain::Timestamp) -> u16 {
    now.to_rfc3339().get(..4).and_then(|y| y.parse().ok()).unwrap_or(2026)
}

fn card_ids(path: Result<Path<(String, String)>, PathRejection>) -> Result<(CustomerId, CardId), Failure> {
    let Ok(Path((customer, card))) = path else {
        return Err(Failure::InvalidPathParam(PathParam::CustomerId));
    };
    let customer = customer_id(&customer)?;
    Ok((customer, CardId::parse(&card).ok_or(Failure::CardNotFound)?))
}

fn card_response(status: StatusCode) -> impl Fn(&Card) -> StoredResponse + Send + Sync {
    move |c| json_response(status, &CardView::from(c))
}

// ---- handlers ----

/// Make a card token.
#[utoipa::path(
    post, path = "/v1/card_tokens", tag = "Card tokens",
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters")),
    request_body = CardTokenBody,
    responses(
        (status = 201, description = "Created", body = CardTokenView),
        (status = 400, description = "bad_request with cause 125 (a field named in the message) or 118 (not a JSON object)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found with cause 120 (card_id names no saved card of this account)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_card_token(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let now = write.ctx.now;
    let site = write.ctx.principal.site_id;
    let source = parse_json::<CardTokenBody>(write.body(), false).and_then(|b| {
        if b.site_id.as_deref().is_some_and(|s| s != site.as_str()) {
            return Err(Failure::InvalidBody(format!("site_id must be the access token's site, {site}")));
        }
        token_source(b, this_year(now))
    });
    let op = operation(Ok(()), source, |(), source| CreateCardToken {
        id: CardTokenId::from_random(rand::random()),
        source,
    });
    let success = move |t: &CardToken| json_response(StatusCode::CREATED, &CardTokenView::of(t, now));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

fn token_source(body: CardTokenBody, now_year: u16) -> Result<TokenSource, Failure> {
    let invalid = |msg: &str| Failure::InvalidBody(msg.to_owned());
    if let Some(card_id) = body.card_id {
        let code_ok = body.security_code.as_ref().is_some_and(|c| (3..=4).contains(&c.len()));
        if !code_ok {
            return Err(invalid("security_code must be 3 or 4 digits"));
        }
        let customer = match body.customer_id {
            Some(raw) => Some(customer_id(&raw).map_err(|_| Failure::CardNotFound)?),
            None => None,
        };
        let card = CardId::parse(&card_id).ok_or(Failure::CardNotFound)?;
        return Ok(TokenSource::SavedCard { card, customer });
    }
    let draft = CardTokenDraft {
        card_number: body.card_number,
        expiration_month: match body.expiration_month {
            Some(m) => Some(m.value().ok_or_else(|| invalid("expiration_month must be a number"))?),
            None => None,
        },
        expiration_year: match body.expiration_year {
            Some(y) => Some(y.value().ok_or_else(|| invalid("expiration_year must be a number"))?),
            None => None,
        },
        security_code: body.security_code,
        cardholder: body.cardholder.map(CardholderBody::into_domain).unwrap_or_default(),
        card_id: None,
    };
    card::card_face(&draft, now_year).map(TokenSource::NewCard).map_err(|e| Failure::InvalidBody(e.0))
}

/// Read a card token of the caller's.
#[utoipa::path(
    get, path = "/v1/card_tokens/{card_token_id}", tag = "Card tokens",
    params(("card_token_id" = String, Path, description = "32 lowercase hex digits")),
    responses(
        (status = 200, description = "The token", body = CardTokenView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_card_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id =
        path.ok().and_then(|Path(raw)| CardTokenId::parse(&raw)).ok_or_else(|| refuse(Failure::CardTokenNotFound))?;
    let user = principal.user_id;
    let found =
        state.store.read(move |r| engine::card_token(r, user, &id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let token = found.ok_or_else(|| refuse(Failure::CardTokenNotFound))?;
    let now = state.account_now(&principal).await.map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &CardTokenView::of(&token, now)))
}

/// Save a card token as one of the customer's cards (the token is used up).
#[utoipa::path(
    post, path = "/v1/customers/{customer_id}/cards", tag = "Customer cards",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    request_body = SaveCardBody,
    responses(
        (status = 201, description = "Saved", body = CardView),
        (status = 400, description = "bad_request with cause 119 (no token), 121 (a token unknown, used or expired), 129 (too many cards), 125", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (the customer)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn save_card(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let customer = customer_id(&path.map(|Path(raw)| raw).unwrap_or_default());
    let token = parse_json::<SaveCardBody>(write.body(), false).and_then(|b| match b.token {
        None => Err(Failure::Invalid(CARD_REQUIRED)),
        Some(raw) => Ok(CardTokenId::parse(&raw)),
    });
    let op = operation(customer, token, |customer, token| SaveCard {
        customer,
        id: CardId::from_random(rand::random()),
        token,
    });
    Ok(write.execute(&state, op, render(FAMILY, card_response(StatusCode::CREATED))).await)
}

/// List a customer's cards (a bare array, as the reference shows it).
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/cards", tag = "Customer cards",
    params(("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`")),
    responses(
        (status = 200, description = "The cards, oldest first", body = Vec<CardView>),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (the customer)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_cards(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let customer = customer_id(&path.map(|Path(raw)| raw).unwrap_or_default()).map_err(refuse)?;
    let (user, site) = (principal.user_id, principal.site_id);
    let found = state
        .store
        .read(move |r| engine::cards_of(r, user, site, &customer))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let cards = found.map_err(refuse)?;
    Ok(json(StatusCode::OK, &cards.iter().map(CardView::from).collect::<Vec<_>>()))
}

/// Read one of a customer's cards.
#[utoipa::path(
    get, path = "/v1/customers/{customer_id}/cards/{card_id}", tag = "Customer cards",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("card_id" = String, Path, description = "The card's decimal id"),
    ),
    responses(
        (status = 200, description = "The card", body = CardView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (the customer, or the card: cause 120)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_card(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (customer, id) = card_ids(path).map_err(refuse)?;
    let (user, site) = (principal.user_id, principal.site_id);
    let found = state
        .store
        .read(move |r| engine::card(r, user, site, &customer, &id))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    Ok(json(StatusCode::OK, &CardView::from(&found.map_err(refuse)?)))
}

/// Change a card's expiry or cardholder.
#[utoipa::path(
    put, path = "/v1/customers/{customer_id}/cards/{card_id}", tag = "Customer cards",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("card_id" = String, Path, description = "The card's decimal id"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    request_body = UpdateCardBody,
    responses(
        (status = 200, description = "The updated card", body = CardView),
        (status = 400, description = "bad_request with cause 125", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_card(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let now_year = this_year(write.ctx.now);
    let update = parse_json::<UpdateCardBody>(write.body(), false).and_then(|b| {
        let number = |n: Option<Number>, field: &str| match n {
            None => Ok(None),
            Some(n) => n.value().map(Some).ok_or_else(|| Failure::InvalidBody(format!("{field} must be a number"))),
        };
        let holder = b.cardholder.map(CardholderBody::into_domain).unwrap_or_default();
        Ok(CardUpdate {
            expiration_month: number(b.expiration_month, "expiration_month")?,
            expiration_year: number(b.expiration_year, "expiration_year")?,
            cardholder_name: holder.name,
            identification_type: holder.identification_type,
            identification_number: holder.identification_number,
        })
    });
    let op = operation(card_ids(path), update, |(customer, id), update| UpdateCard { customer, id, update, now_year });
    Ok(write.execute(&state, op, render(FAMILY, card_response(StatusCode::OK))).await)
}

/// Delete a card: the answer is the card; then it is found no more.
#[utoipa::path(
    delete, path = "/v1/customers/{customer_id}/cards/{card_id}", tag = "Customer cards",
    params(
        ("customer_id" = String, Path, description = "`<9 digits>-<15 letters or digits>`"),
        ("card_id" = String, Path, description = "The card's decimal id"),
        ("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters"),
    ),
    responses(
        (status = 200, description = "The deleted card", body = CardView),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_card(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(card_ids(path), Ok(()), |(customer, id), ()| DeleteCard { customer, id });
    Ok(write.execute(&state, op, render(FAMILY, card_response(StatusCode::OK))).await)
}
