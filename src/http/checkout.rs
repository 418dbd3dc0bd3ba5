//! Checkout Pro's API: preferences (`/checkout/preferences`) and merchant orders
//! (`/merchant_orders`), as the preferences and merchant orders references and the
//! SDKs' `preference` and `merchantOrder` clients call them. A preference's
//! `init_point` opens caja's hosted test checkout (`checkout_page`).

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::error::{ApiError, ErrorBody, Family};
use super::request::{echo_of, json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest};
use super::AppState;
use crate::domain::checkout::{BackUrls, Item, MerchantOrder, MethodRules, Preference};
use crate::domain::checkout_draft::{new_preference, ItemDraft, MerchantOrderDraft, PreferenceDraft};
use crate::domain::payment::Refusal;
use crate::domain::{Principal, Timestamp};
use crate::engine::checkout::{
    self as engine, CreateMerchantOrder, CreatePreference, UpdateMerchantOrder, UpdatePreference,
};
use crate::engine::Failure;

const FAMILY: Family = Family::Payments;

/// Search pages: `limit` when none is sent, and the most.
pub const SEARCH_LIMIT_DEFAULT: u32 = 30;
pub const SEARCH_LIMIT_MAX: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/checkout/preferences", post(create_preference))
        .route("/checkout/preferences/search", get(search_preferences))
        .route("/checkout/preferences/{id}", get(get_preference).put(update_preference))
        .route("/merchant_orders", post(create_merchant_order))
        .route("/merchant_orders/search", get(search_merchant_orders))
        .route("/merchant_orders/{id}", get(get_merchant_order).put(update_merchant_order))
}

// ---------------------------------------------------------------------------------
// Bodies: the SDKs' `PreferenceRequest` and merchant order bodies.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    picture_url: Option<String>,
    category_id: Option<String>,
    currency_id: Option<String>,
    quantity: Option<u32>,
    unit_price: Option<Number>,
    // The SDK's `Items` also names these; kept as sent.
    #[serde(rename = "type")]
    kind: Option<String>,
    warranty: Option<bool>,
    event_date: Option<String>,
    category_descriptor: Option<Map<String, Value>>,
}

impl ItemBody {
    fn draft(self) -> ItemDraft {
        let mut echo = crate::domain::order::Echo::new();
        let mut keep = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                echo.insert(key.to_owned(), value);
            }
        };
        keep("type", self.kind.map(Value::String));
        keep("warranty", self.warranty.map(Value::Bool));
        keep("event_date", self.event_date.map(Value::String));
        keep("category_descriptor", self.category_descriptor.map(Value::Object));
        ItemDraft {
            id: self.id,
            title: self.title,
            description: self.description,
            picture_url: self.picture_url,
            category_id: self.category_id,
            currency_id: self.currency_id,
            quantity: self.quantity,
            unit_price: self.unit_price.map(|n| n.to_string()),
            echo,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackUrlsBody {
    success: Option<String>,
    pending: Option<String>,
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdBody {
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentMethodsBody {
    excluded_payment_methods: Option<Vec<IdBody>>,
    excluded_payment_types: Option<Vec<IdBody>>,
    installments: Option<u32>,
    default_installments: Option<u32>,
    default_payment_method_id: Option<String>,
    default_card_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // The opaque fields are read for their types; their values come from the raw JSON.
struct PreferenceBody {
    items: Option<Vec<ItemBody>>,
    back_urls: Option<BackUrlsBody>,
    auto_return: Option<String>,
    notification_url: Option<String>,
    external_reference: Option<String>,
    expires: Option<bool>,
    expiration_date_from: Option<String>,
    expiration_date_to: Option<String>,
    date_of_expiration: Option<String>,
    payment_methods: Option<PaymentMethodsBody>,
    binary_mode: Option<bool>,
    payer: Option<Map<String, Value>>,
    metadata: Option<Map<String, Value>>,
    shipments: Option<Map<String, Value>>,
    statement_descriptor: Option<String>,
    additional_info: Option<String>,
    marketplace: Option<String>,
    marketplace_fee: Option<Number>,
    operation_type: Option<String>,
    purpose: Option<String>,
    processing_modes: Option<Vec<String>>,
    redirect_urls: Option<Map<String, Value>>,
    differential_pricing: Option<Map<String, Value>>,
    coupon_code: Option<String>,
    coupon_labels: Option<Vec<String>>,
    taxes: Option<Vec<Value>>,
    tracks: Option<Vec<Value>>,
}

/// The preference fields the rules read; the rest is kept as sent.
const PREFERENCE_READ: &[&str] = &[
    "items",
    "back_urls",
    "auto_return",
    "notification_url",
    "external_reference",
    "expires",
    "expiration_date_from",
    "expiration_date_to",
    "payment_methods",
    "binary_mode",
];

fn date(raw: Option<String>) -> Option<Result<Timestamp, String>> {
    raw.map(|raw| Timestamp::parse_rfc3339(&raw).ok_or(raw))
}

fn ids(list: Option<Vec<IdBody>>) -> Vec<String> {
    list.unwrap_or_default().into_iter().filter_map(|i| i.id).filter(|i| !i.is_empty()).collect()
}

fn preference_draft(body: &[u8]) -> Result<PreferenceDraft, Failure> {
    let typed: PreferenceBody = parse_json(body, false)?;
    if typed.marketplace_fee.as_ref().is_some_and(|fee| fee.as_f64().is_none_or(|f| !(0.0..=1e6).contains(&f))) {
        return Err(Failure::InvalidBody("marketplace_fee must be from 0 to 1000000".into()));
    }
    let raw: Map<String, Value> = serde_json::from_slice(body).map_err(|e| Failure::MalformedJson(e.to_string()))?;
    Ok(PreferenceDraft {
        items: typed.items.map(|items| items.into_iter().map(ItemBody::draft).collect()),
        back_urls: typed.back_urls.map(|b| BackUrls { success: b.success, pending: b.pending, failure: b.failure }),
        auto_return: typed.auto_return.filter(|a| !a.is_empty()),
        notification_url: typed.notification_url,
        external_reference: typed.external_reference,
        expires: typed.expires,
        expiration_date_from: date(typed.expiration_date_from),
        expiration_date_to: date(typed.expiration_date_to),
        payment_methods: typed.payment_methods.map(|m| MethodRules {
            excluded_payment_methods: ids(m.excluded_payment_methods),
            excluded_payment_types: ids(m.excluded_payment_types),
            installments: m.installments,
            default_installments: m.default_installments,
            default_payment_method_id: m.default_payment_method_id,
            default_card_id: m.default_card_id,
        }),
        binary_mode: typed.binary_mode,
        echo: echo_of(&raw, PREFERENCE_READ),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct MerchantOrderBody {
    preference_id: Option<String>,
    application_id: Option<String>,
    site_id: Option<String>,
    collector: Option<Map<String, Value>>,
    payer: Option<Map<String, Value>>,
    sponsor_id: Option<Value>,
    items: Option<Vec<ItemBody>>,
    notification_url: Option<String>,
    additional_info: Option<String>,
    external_reference: Option<String>,
    marketplace: Option<String>,
    version: Option<i64>,
    cancelled: Option<bool>,
    shipments: Option<Vec<Value>>,
}

fn merchant_order_draft(body: &[u8]) -> Result<MerchantOrderDraft, Failure> {
    let typed: MerchantOrderBody = parse_json(body, false)?;
    let raw: Map<String, Value> = serde_json::from_slice(body).map_err(|e| Failure::MalformedJson(e.to_string()))?;
    let read = [
        "preference_id",
        "items",
        "notification_url",
        "additional_info",
        "external_reference",
        "marketplace",
        "cancelled",
    ];
    Ok(MerchantOrderDraft {
        preference_id: typed.preference_id,
        items: typed.items.map(|items| items.into_iter().map(ItemBody::draft).collect()),
        notification_url: typed.notification_url,
        external_reference: typed.external_reference,
        additional_info: typed.additional_info,
        marketplace: typed.marketplace,
        cancelled: typed.cancelled,
        echo: echo_of(&raw, &read),
    })
}

// ---------------------------------------------------------------------------------
// Views.

fn amount(m: crate::domain::order_money::Money) -> Value {
    super::payments::amount(m)
}

fn item_view(i: &Item) -> Value {
    let mut view = json!({
        "id": i.id,
        "category_id": i.category_id,
        "currency_id": i.currency_id,
        "description": i.description,
        "picture_url": i.picture_url,
        "title": i.title,
        "quantity": i.quantity,
        "unit_price": amount(i.unit_price),
    });
    if let Value::Object(fields) = &mut view {
        for (k, v) in &i.echo {
            fields.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    view
}

/// Where the hosted checkout is: this server, as the client reached it.
/// Behind a proxy, `X-Forwarded-Proto` and `X-Forwarded-Host` say where.
pub fn base_url(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok()).filter(|v| !v.is_empty());
    let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or("127.0.0.1:8080");
    let scheme = header("x-forwarded-proto").filter(|p| *p == "https").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A preference as the preferences reference shows it.
fn preference_view(p: &Preference, base: &str) -> Value {
    let init_point = format!("{base}/checkout/v1/redirect?pref_id={}", p.id);
    let echo = |key: &str, default: Value| p.echo.get(key).cloned().unwrap_or(default);
    let stamp = |t: Option<Timestamp>| t.map(super::payments::date);
    let rules = &p.payment_methods;
    let listed = |ids: &[String]| ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>();
    json!({
        "additional_info": echo("additional_info", json!("")),
        "auto_return": p.auto_return.clone().unwrap_or_default(),
        "back_urls": {
            "failure": p.back_urls.failure.clone().unwrap_or_default(),
            "pending": p.back_urls.pending.clone().unwrap_or_default(),
            "success": p.back_urls.success.clone().unwrap_or_default(),
        },
        "binary_mode": p.binary_mode,
        "client_id": p.user_id.get().to_string(),
        "collector_id": p.user_id.get(),
        "coupon_code": echo("coupon_code", Value::Null),
        "coupon_labels": echo("coupon_labels", Value::Null),
        "date_created": super::payments::date(p.date_created),
        "date_of_expiration": echo("date_of_expiration", Value::Null),
        "expiration_date_from": stamp(p.expiration_date_from),
        "expiration_date_to": stamp(p.expiration_date_to),
        "expires": p.expires,
        "external_reference": p.external_reference.clone().unwrap_or_default(),
        "id": p.id,
        "init_point": init_point,
        "internal_metadata": null,
        "items": p.items.iter().map(item_view).collect::<Vec<_>>(),
        "marketplace": echo("marketplace", json!("NONE")),
        "marketplace_fee": echo("marketplace_fee", json!(0)),
        "metadata": echo("metadata", json!({})),
        "notification_url": p.notification_url,
        "operation_type": echo("operation_type", json!("regular_payment")),
        "payer": echo("payer", json!({ "phone": { "area_code": "", "number": "" }, "address": { "zip_code": "", "street_name": "", "street_number": null }, "email": "", "identification": { "number": "", "type": "" }, "name": "", "surname": "", "date_created": null, "last_purchase": null })),
        "payment_methods": {
            "default_card_id": rules.default_card_id,
            "default_payment_method_id": rules.default_payment_method_id,
            "excluded_payment_methods": listed(&rules.excluded_payment_methods),
            "excluded_payment_types": listed(&rules.excluded_payment_types),
            "installments": rules.installments,
            "default_installments": rules.default_installments,
        },
        "processing_modes": echo("processing_modes", Value::Null),
        "product_id": null,
        "redirect_urls": echo("redirect_urls", json!({ "failure": "", "pending": "", "success": "" })),
        "sandbox_init_point": init_point,
        "site_id": p.site_id.as_str(),
        "shipments": echo("shipments", json!({ "default_shipping_method": null, "receiver_address": { "zip_code": "", "street_name": "", "street_number": null, "floor": "", "apartment": "", "city_name": null, "state_name": null, "country_name": null } })),
        "statement_descriptor": echo("statement_descriptor", Value::Null),
        "total_amount": null,
        "last_updated": stamp(p.last_updated),
    })
}

/// A preference in a search's `elements`: its summary, as the search page shows it.
fn preference_element(p: &Preference) -> Value {
    json!({
        "id": p.id,
        "client_id": p.user_id.get().to_string(),
        "collector_id": p.user_id.get(),
        "concept_id": null,
        "corporation_id": "",
        "date_created": super::payments::date(p.date_created),
        "expiration_date_from": p.expiration_date_from.map(super::payments::date),
        "expiration_date_to": p.expiration_date_to.map(super::payments::date),
        "expires": p.expires,
        "external_reference": p.external_reference.clone().unwrap_or_default(),
        "integrator_id": "",
        "items": p.items.iter().map(|i| i.title.clone()).collect::<Vec<_>>(),
        "last_updated": p.last_updated.map(super::payments::date),
        "live_mode": p.live_mode,
        "marketplace": "NONE",
        "operation_type": "regular_payment",
        "payer_email": p.echo.get("payer").and_then(|payer| payer.get("email")).cloned().unwrap_or(json!("")),
        "payer_id": null,
        "platform_id": "",
        "processing_modes": ["aggregator"],
        "product_id": "",
        "purpose": "",
        "site_id": p.site_id.as_str(),
        "sponsor_id": 0,
        "shipping_mode": "not_specified",
    })
}

/// A merchant order as the merchant orders reference shows it.
pub fn merchant_order_view(o: &MerchantOrder) -> Value {
    let date = super::payments::date;
    json!({
        "id": o.id,
        "status": o.status(),
        "external_reference": o.external_reference,
        "preference_id": o.preference_id,
        "payments": o.payments.iter().map(|p| json!({
            "id": p.id,
            "transaction_amount": amount(p.transaction_amount),
            "total_paid_amount": amount(p.transaction_amount),
            "shipping_cost": 0,
            "currency_id": o.site_id.currency(),
            "status": p.status,
            "status_details": p.status_detail,
            "operation_type": "regular_payment",
            "date_approved": p.date_approved.map(date),
            "date_created": date(p.date_created),
            "last_modified": date(p.last_modified),
            "amount_refunded": amount(p.amount_refunded),
        })).collect::<Vec<_>>(),
        "shipments": [],
        "payouts": [],
        "collector": { "id": o.user_id.get(), "email": "", "nickname": format!("TESTUSER{}", o.user_id.get()) },
        "marketplace": o.marketplace,
        "notification_url": o.notification_url,
        "date_created": date(o.date_created),
        "last_updated": date(o.last_updated),
        "sponsor_id": null,
        "shipping_cost": 0,
        "total_amount": amount(o.total_amount()),
        "site_id": o.site_id.as_str(),
        "paid_amount": amount(o.paid_amount()),
        "refunded_amount": amount(o.refunded_amount()),
        "payer": null,
        "items": o.items.iter().map(item_view).collect::<Vec<_>>(),
        "cancelled": o.cancelled,
        "additional_info": o.additional_info,
        "application_id": null,
        "is_test": !o.live_mode,
        "order_status": o.order_status(),
    })
}

// ---------------------------------------------------------------------------------
// Handlers.

/// `POST /checkout/preferences` (the Node SDK posts to `/checkout/preferences/`):
/// 201 with the preference and its `init_point`.
#[utoipa::path(post, path = "/checkout/preferences", tag = "Checkout Pro",
    responses((status = 201, description = "The preference, with init_point and sandbox_init_point"),
              (status = 400, description = "bad_request (items, back_urls, auto_return, dates, installments)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_preference(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    // The reference declares no key; with one it is exactly-once.
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let (principal, now) = (write.ctx.principal.clone(), write.ctx.now);
    let id = format!("{}-{}", principal.user_id.get(), uuid::Uuid::new_v4());
    let planned = preference_draft(write.body()).and_then(|draft| {
        let preference = new_preference(draft, id, &principal, now).map_err(|e| Failure::InvalidBody(e.0))?;
        Ok(CreatePreference { preference })
    });
    let base = base_url(&headers);
    let op = operation(Ok(()), planned, |(), op| op);
    let success = move |p: &Preference| json_response(StatusCode::CREATED, &preference_view(p, &base));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

fn path_id(raw: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    raw.map(|Path(id)| id).map_err(|_| Failure::Payment(Refusal::PreferenceNotFound))
}

/// `GET /checkout/preferences/{id}`.
#[utoipa::path(get, path = "/checkout/preferences/{id}", tag = "Checkout Pro",
    params(("id" = String, Path)),
    responses((status = 200, description = "The preference"), (status = 404, description = "not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_preference(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(raw).map_err(|f| ApiError::refused(FAMILY, f))?;
    let user = principal.user_id;
    let found =
        state.store.read(move |r| engine::preference(r, user, &id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let preference = found.ok_or_else(|| ApiError::refused(FAMILY, Failure::Payment(Refusal::PreferenceNotFound)))?;
    Ok(json(StatusCode::OK, &preference_view(&preference, &base_url(&headers))))
}

/// `PUT /checkout/preferences/{id}`: 200 with the preference.
#[utoipa::path(put, path = "/checkout/preferences/{id}", tag = "Checkout Pro",
    params(("id" = String, Path)),
    responses((status = 200, description = "The updated preference"), (status = 400, description = "bad_request", body = ErrorBody),
              (status = 404, description = "not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_preference(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let op = operation(path_id(raw), preference_draft(write.body()), |id, draft| UpdatePreference { id, draft });
    let base = base_url(&headers);
    let success = move |p: &Preference| json_response(StatusCode::OK, &preference_view(p, &base));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// Parse `limit` and `offset`; refuse parameters not in `known`.
fn paging(params: &HashMap<String, String>, known: &[&str]) -> Result<(u64, u32), ApiError> {
    let refuse = |why: String| ApiError::refused(FAMILY, Failure::InvalidBody(why));
    if let Some(unknown) =
        params.keys().filter(|k| !known.contains(&k.as_str()) && !["limit", "offset"].contains(&k.as_str())).min()
    {
        return Err(ApiError::refused(
            FAMILY,
            Failure::Property {
                error: crate::domain::terminal_action::PropertyError::Unsupported,
                detail: unknown.clone(),
            },
        ));
    }
    let number = |name: &str, default: u64, max: u64| match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| refuse(format!("{name} must be a number up to {max}"))),
    };
    let limit = number("limit", SEARCH_LIMIT_DEFAULT as u64, SEARCH_LIMIT_MAX as u64)? as u32;
    Ok((number("offset", 0, u64::from(u32::MAX))?, limit))
}

/// `GET /checkout/preferences/search`: `{elements, next_offset, total}`, newest first;
/// filters `external_reference`, `site_id`, `marketplace`, `sponsor_id`.
#[utoipa::path(get, path = "/checkout/preferences/search", tag = "Checkout Pro",
    responses((status = 200, description = "{elements, next_offset, total}"), (status = 400, description = "bad_request", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search_preferences(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|_| ApiError::refused(FAMILY, Failure::InvalidBody("the query string is malformed".into())))?;
    let (offset, limit) = paging(&params, &["external_reference", "site_id", "marketplace", "sponsor_id"])?;
    let reference = params.get("external_reference").cloned();
    let site = params.get("site_id").cloned();
    // caja's preferences have sponsor 0 and marketplace NONE.
    let other =
        params.get("sponsor_id").is_some_and(|s| s != "0") || params.get("marketplace").is_some_and(|m| m != "NONE");
    let user = principal.user_id;
    let (found, total) = state
        .store
        .read(move |r| {
            let keep = |p: &Preference| {
                !other
                    && reference.as_ref().is_none_or(|x| p.external_reference.as_ref() == Some(x))
                    && site.as_ref().is_none_or(|s| p.site_id.as_str() == s)
            };
            engine::search_preferences(r, user, &keep, offset, limit)
        })
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let body = json!({
        "elements": found.iter().map(preference_element).collect::<Vec<_>>(),
        "next_offset": offset + found.len() as u64,
        "total": total,
    });
    Ok(json(StatusCode::OK, &body))
}

/// `POST /merchant_orders`: 201 with the merchant order.
#[utoipa::path(post, path = "/merchant_orders", tag = "Checkout Pro",
    responses((status = 201, description = "The merchant order"), (status = 400, description = "bad_request", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_merchant_order(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let id = super::payments::new_id();
    let op = operation(Ok(()), merchant_order_draft(write.body()), |(), draft| CreateMerchantOrder { id, draft });
    let success = |o: &MerchantOrder| json_response(StatusCode::CREATED, &merchant_order_view(o));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

fn order_id(raw: Result<Path<String>, PathRejection>) -> Result<i64, Failure> {
    let missing = || Failure::Payment(Refusal::MerchantOrderNotFound);
    raw.map_err(|_| missing()).and_then(|Path(id)| id.parse::<i64>().map_err(|_| missing()))
}

/// `GET /merchant_orders/{id}`.
#[utoipa::path(get, path = "/merchant_orders/{id}", tag = "Checkout Pro",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The merchant order"), (status = 404, description = "not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_merchant_order(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(raw).map_err(|f| ApiError::refused(FAMILY, f))?;
    let user = principal.user_id;
    let found =
        state.store.read(move |r| engine::merchant_order(r, user, id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let order = found.ok_or_else(|| ApiError::refused(FAMILY, Failure::Payment(Refusal::MerchantOrderNotFound)))?;
    Ok(json(StatusCode::OK, &merchant_order_view(&order)))
}

/// `PUT /merchant_orders/{id}`: 200 with the merchant order.
#[utoipa::path(put, path = "/merchant_orders/{id}", tag = "Checkout Pro",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The merchant order"), (status = 404, description = "not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_merchant_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let op =
        operation(order_id(raw), merchant_order_draft(write.body()), |id, draft| UpdateMerchantOrder { id, draft });
    let success = |o: &MerchantOrder| json_response(StatusCode::OK, &merchant_order_view(o));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `GET /merchant_orders/search`: `{elements, next_offset, total}`, newest first;
/// filters `preference_id`, `external_reference`, `status`.
#[utoipa::path(get, path = "/merchant_orders/search", tag = "Checkout Pro",
    responses((status = 200, description = "{elements, next_offset, total}"), (status = 400, description = "bad_request", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search_merchant_orders(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|_| ApiError::refused(FAMILY, Failure::InvalidBody("the query string is malformed".into())))?;
    const FILTERS: &[&str] = &[
        "preference_id",
        "external_reference",
        "status",
        "site_id",
        "marketplace",
        "payer_id",
        "application_id",
        "sponsor_id",
        "date_created_from",
        "date_created_to",
        "last_updated_from",
        "last_updated_to",
        "last_udpated_from",
        "last_udpated_to",
        "items",
    ];
    let (offset, limit) = paging(&params, FILTERS)?;
    let (preference, reference, status) = (
        params.get("preference_id").cloned(),
        params.get("external_reference").cloned(),
        params.get("status").cloned(),
    );
    let (site, marketplace) = (params.get("site_id").cloned(), params.get("marketplace").cloned());
    // caja's merchant orders have no payer, application or sponsor: those filters match none.
    let unmatched = ["payer_id", "application_id", "sponsor_id", "items"].iter().any(|k| params.contains_key(*k));
    // `last_udpated_*` is the Node SDK's own spelling.
    let when = |names: [&str; 2]| -> Result<Option<Timestamp>, ApiError> {
        names
            .iter()
            .find_map(|n| params.get(*n))
            .map(|raw| {
                Timestamp::parse_rfc3339(raw).ok_or_else(|| {
                    ApiError::refused(FAMILY, Failure::InvalidBody(format!("{raw} is not an ISO 8601 date")))
                })
            })
            .transpose()
    };
    let (created_from, created_to) =
        (when(["date_created_from", "date_created_from"])?, when(["date_created_to", "date_created_to"])?);
    let (updated_from, updated_to) =
        (when(["last_updated_from", "last_udpated_from"])?, when(["last_updated_to", "last_udpated_to"])?);
    let user = principal.user_id;
    let (found, total) = state
        .store
        .read(move |r| {
            let keep = |o: &MerchantOrder| {
                !unmatched
                    && preference.as_ref().is_none_or(|p| o.preference_id.as_ref() == Some(p))
                    && reference.as_ref().is_none_or(|x| o.external_reference.as_ref() == Some(x))
                    && status.as_ref().is_none_or(|s| o.status() == s)
                    && site.as_ref().is_none_or(|s| o.site_id.as_str() == s)
                    && marketplace.as_ref().is_none_or(|m| &o.marketplace == m)
                    && created_from.is_none_or(|t| o.date_created >= t)
                    && created_to.is_none_or(|t| o.date_created <= t)
                    && updated_from.is_none_or(|t| o.last_updated >= t)
                    && updated_to.is_none_or(|t| o.last_updated <= t)
            };
            engine::search_merchant_orders(r, user, &keep, offset, limit)
        })
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let body = json!({
        "elements": found.iter().map(merchant_order_view).collect::<Vec<_>>(),
        "next_offset": offset + found.len() as u64,
        "total": total,
    });
    Ok(json(StatusCode::OK, &body))
}
