//! Payments (`/v1/payments…`, the classic Checkout API), their refunds, the site's
//! payment methods (`/v1/payment_methods`) and the account (`/users/me`), as the
//! Payments reference and the SDKs' `payment`, `paymentRefund`, `paymentMethod` and
//! `user` clients call them. Amounts are JSON numbers read from their literal text
//! and kept in hundredths: no float ever holds one.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::error::{ApiError, ErrorBody, Family};
use super::request::{
    echo_of, json, json_response, operation, parse_json, read_failed, render, test_accounts_only, Write, WriteRequest,
};
use super::AppState;
use crate::domain::order_money::Money;
use crate::domain::payment::{
    self as domain, Cause, Payment, PaymentRefund, Refusal, Simulation, Status, AMOUNT_NOT_NUMERIC,
    CAPTURE_NOT_BOOLEAN, INSTALLMENTS_NOT_NUMERIC, METADATA_INVALID, PAYER_MALFORMED, REFUND_AMOUNT_NOT_NUMERIC,
    REFUND_AMOUNT_NOT_POSITIVE,
};
use crate::domain::payment_draft::{new_payment, PaymentDraft};
use crate::domain::terminal_action::PropertyError;
use crate::domain::{Principal, Timestamp};
use crate::engine::payments::{
    self as engine, CreatePayment, DateField, PaymentSearch, PaymentUpdate, RefundPayment, SimulatePayment,
    UpdatePayment,
};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Payments;

/// Payments per search page when `limit` is not sent, and the most.
pub const SEARCH_LIMIT_DEFAULT: u32 = 30;
pub const SEARCH_LIMIT_MAX: u32 = 1000;
/// The widest search range (cause 9062).
const SEARCH_RANGE_DAYS_MAX: i64 = 365;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/payments", post(create_payment))
        .route("/v1/payments/search", get(search_payments))
        .route("/v1/payments/{payment_id}", get(get_payment).put(update_payment))
        .route("/v1/payments/{payment_id}/refunds", post(create_refund).get(list_refunds))
        .route("/v1/payments/{payment_id}/refunds/{refund_id}", get(get_refund))
        .route("/v1/payments/{payment_id}/events", post(simulate_payment))
        .route("/v1/payment_methods", get(payment_methods))
        .route("/users/me", get(users_me))
}

// ---------------------------------------------------------------------------------
// Bodies.

/// `POST /v1/payments`, with the fields the reference and the SDKs' types name. A
/// field of another name is cause 8; the objects caja keeps as sent are typed as
/// objects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // The opaque fields are read for their types; their values come from the raw JSON.
struct CreatePaymentBody {
    transaction_amount: Option<Number>,
    installments: Option<u32>,
    token: Option<String>,
    payment_method_id: Option<String>,
    issuer_id: Option<Value>,
    description: Option<String>,
    external_reference: Option<String>,
    statement_descriptor: Option<String>,
    notification_url: Option<String>,
    capture: Option<bool>,
    binary_mode: Option<bool>,
    date_of_expiration: Option<String>,
    payer: Option<PayerBody>,
    metadata: Option<Map<String, Value>>,
    additional_info: Option<Map<String, Value>>,
    application_fee: Option<Number>,
    callback_url: Option<String>,
    campaign_id: Option<Value>,
    coupon_amount: Option<Number>,
    coupon_code: Option<String>,
    differential_pricing_id: Option<Value>,
    sponsor_id: Option<Value>,
    three_d_secure_mode: Option<String>,
    point_of_interaction: Option<Map<String, Value>>,
    transaction_details: Option<Map<String, Value>>,
    payment_method: Option<Map<String, Value>>,
    order: Option<Map<String, Value>>,
    forward_data: Option<Map<String, Value>>,
    merchant_account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PayerBody {
    email: Option<String>,
    id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    entity_type: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    identification: Option<Map<String, Value>>,
    phone: Option<Map<String, Value>>,
    address: Option<Map<String, Value>>,
}

/// The create body's fields the rules read; the rest is kept as sent.
const READ_FIELDS: &[&str] = &[
    "transaction_amount",
    "installments",
    "token",
    "payment_method_id",
    "issuer_id",
    "description",
    "external_reference",
    "statement_descriptor",
    "notification_url",
    "capture",
    "binary_mode",
    "date_of_expiration",
];

/// A body error in the reference's terms: an unknown field is cause 8 (naming it), a
/// mistyped amount 4003, installments 4005, payer 4006, metadata 4022, capture 2078.
fn body_error(failure: Failure) -> Failure {
    let Failure::InvalidBody(detail) = failure else {
        return failure;
    };
    let (path, why) = match detail.split_once(": ") {
        Some((path, why)) if !path.contains(' ') => (path, why),
        _ => ("", detail.as_str()),
    };
    if let Some(rest) = why.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let full = if path.is_empty() || path == name { name.to_owned() } else { path.to_owned() };
        return Failure::Property { error: PropertyError::Unsupported, detail: full };
    }
    let root = path.split(['.', '[']).next().unwrap_or("");
    let cause: Option<Cause> = match root {
        "transaction_amount" => Some(AMOUNT_NOT_NUMERIC),
        "installments" if why.starts_with("invalid value") => Some(domain::INSTALLMENTS_INVALID),
        "installments" => Some(INSTALLMENTS_NOT_NUMERIC),
        "payer" => Some(PAYER_MALFORMED),
        "metadata" => Some(METADATA_INVALID),
        "capture" => Some(CAPTURE_NOT_BOOLEAN),
        "amount" => Some(REFUND_AMOUNT_NOT_NUMERIC),
        _ => None,
    };
    match cause {
        Some(cause) => Failure::Payment(Refusal::Invalid(cause)),
        None => Failure::InvalidBody(if path.is_empty() { why.to_owned() } else { format!("{path}: {why}") }),
    }
}

/// A date as the reference writes them: `2022-11-17T09:37:52.000-04:00`.
fn parse_date(raw: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(raw).ok_or_else(|| raw.to_owned())
}

fn draft_of(body: &[u8]) -> Result<(PaymentDraft, Option<String>), Failure> {
    let typed: CreatePaymentBody = parse_json(body, false).map_err(body_error)?;
    if typed.application_fee.is_some() {
        // caja's tokens are never a marketplace's OAuth tokens.
        return Err(Failure::Payment(Refusal::Invalid(Cause {
            code: 2059,
            description: "You cannot use application_fee with this payment.",
        })));
    }
    if typed.three_d_secure_mode.as_deref().is_some_and(|m| !["not_supported", "optional"].contains(&m)) {
        return Err(Failure::InvalidBody("three_d_secure_mode must be not_supported or optional".into()));
    }
    let raw: Map<String, Value> = serde_json::from_slice(body).map_err(|e| Failure::MalformedJson(e.to_string()))?;
    let echo = echo_of(&raw, READ_FIELDS);
    let token = typed.token.clone();
    let draft = PaymentDraft {
        transaction_amount: typed.transaction_amount.map(|n| n.to_string()),
        installments: typed.installments,
        token: typed.token,
        payment_method_id: typed.payment_method_id,
        issuer_id: typed.issuer_id.and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        description: typed.description,
        external_reference: typed.external_reference,
        statement_descriptor: typed.statement_descriptor,
        notification_url: typed.notification_url,
        capture: typed.capture,
        binary_mode: typed.binary_mode,
        payer_email: typed.payer.map(|p| p.email),
        date_of_expiration: typed.date_of_expiration.as_deref().map(parse_date),
        echo,
    };
    Ok((draft, token))
}

/// `PUT /v1/payments/{id}`: cancel, capture, `date_of_expiration`, `metadata`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<String>,
    capture: Option<bool>,
    transaction_amount: Option<Number>,
    date_of_expiration: Option<String>,
    metadata: Option<Map<String, Value>>,
}

fn update_of(body: &[u8]) -> Result<PaymentUpdate, Failure> {
    let body: UpdateBody = parse_json(body, true).map_err(body_error)?;
    if body.transaction_amount.is_some() && body.capture != Some(true) {
        return Err(Failure::InvalidBody("transaction_amount is taken only with \"capture\": true".into()));
    }
    let invalid = |cause| Failure::Payment(Refusal::Invalid(cause));
    let amount = body
        .transaction_amount
        .map(|n| Money::parse(&n.to_string()).filter(|m| *m > Money::ZERO).ok_or(invalid(domain::AMOUNT_INVALID)))
        .transpose()?;
    let expiration = body
        .date_of_expiration
        .as_deref()
        .map(|d| parse_date(d).map_err(|_| invalid(domain::DATE_FORMAT)))
        .transpose()?;
    Ok(PaymentUpdate {
        status: body.status,
        capture: body.capture,
        transaction_amount: amount,
        date_of_expiration: expiration,
        metadata: body.metadata.map(Value::Object),
    })
}

/// `POST …/refunds`: no body (or `{}`) refunds everything, `{"amount"}` part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    amount: Option<Number>,
    metadata: Option<Map<String, Value>>,
}

/// The refund's amount (`None`: everything left) and metadata.
fn refund_of(body: &[u8]) -> Result<(Option<Money>, Option<Value>), Failure> {
    let body: RefundBody = parse_json(body, true).map_err(body_error)?;
    let metadata = body.metadata.map(Value::Object);
    let Some(amount) = body.amount else {
        return Ok((None, metadata));
    };
    let text = amount.to_string();
    if text.starts_with('-') || amount.as_f64() == Some(0.0) {
        return Err(Failure::Payment(Refusal::Invalid(REFUND_AMOUNT_NOT_POSITIVE)));
    }
    let amount = Money::parse(&text).ok_or(Failure::Payment(Refusal::Invalid(REFUND_AMOUNT_NOT_NUMERIC)))?;
    Ok((Some(amount), metadata))
}

fn payment_id(raw: Result<Path<String>, PathRejection>) -> Result<i64, Failure> {
    let malformed = Failure::InvalidPathParam(PathParam::PayoutId);
    let Path(raw) = raw.map_err(|_| malformed.clone())?;
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(malformed)
}

/// A new payment or refund id: a number below 2^53 (exact in JavaScript).
pub(super) fn new_id() -> i64 {
    1_000_000_000 + (rand::random::<u64>() % ((1 << 53) - 1_000_000_000)) as i64
}

// ---------------------------------------------------------------------------------
// Views.

/// An amount as a JSON number: `12.34`, or `100` when whole (as the API writes them).
pub(super) fn amount(m: Money) -> Value {
    if m.cents() % 100 == 0 {
        json!(m.cents() / 100)
    } else {
        // Two decimals print back exactly: the shortest float text of 12.34 is "12.34".
        m.to_string().parse::<f64>().map_or(Value::Null, |f| json!(f))
    }
}

/// A date as the Payments API writes them: milliseconds and the `-04:00` offset.
pub(super) fn date(t: Timestamp) -> String {
    let offset = FixedOffset::west_opt(4 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    DateTime::<Utc>::from_timestamp_millis(t.as_millis())
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

fn refund_view(p: &Payment, r: &PaymentRefund) -> Value {
    json!({
        "id": r.id,
        "payment_id": p.id,
        "amount": amount(r.amount),
        "amount_refunded_to_payer": amount(r.amount),
        "metadata": r.metadata.clone().unwrap_or_else(|| json!({})),
        "source": { "id": p.user_id.get().to_string(), "name": "caja", "type": "collector" },
        "date_created": date(r.date_created),
        "unique_sequence_number": null,
        "refund_mode": "standard",
        "adjustment_amount": 0,
        "status": "approved",
        "reason": null,
        "labels": [],
        "partition_details": [],
    })
}

/// The payment as `GET /v1/payments/{id}` shows it: every field of the reference,
/// `null` where caja has nothing to say.
pub fn payment_view(p: &Payment) -> Value {
    let paid = matches!(p.status, Status::Approved | Status::Refunded | Status::ChargedBack);
    let echo = |key: &str, default: Value| p.echo.get(key).cloned().unwrap_or(default);
    let payer = p.echo.get("payer").and_then(Value::as_object).cloned().unwrap_or_default();
    let payer_field = |key: &str| payer.get(key).cloned().unwrap_or(Value::Null);
    let card = p.card.as_ref().map_or(json!({}), |c| {
        json!({
            "id": null,
            "first_six_digits": c.first_six_digits,
            "last_four_digits": c.last_four_digits,
            "expiration_month": c.expiration_month,
            "expiration_year": c.expiration_year,
            "date_created": date(c.date_created),
            "date_last_updated": date(c.date_created),
            "cardholder": {
                "name": c.cardholder_name,
                "identification": { "number": c.identification_number, "type": c.identification_type },
            },
        })
    });
    let fee = if paid { Money::from_cents(p.transaction_amount.cents() * 499 / 10_000) } else { Money::ZERO };
    let fee_details = if paid {
        json!([{ "type": "mercadopago_fee", "amount": amount(fee), "fee_payer": "collector" }])
    } else {
        json!([])
    };
    let installment = if p.installments > 0 && paid {
        Money::from_cents((p.transaction_amount.cents() + i64::from(p.installments) - 1) / i64::from(p.installments))
    } else {
        Money::ZERO
    };
    let pending_transfer = p.status == Status::Pending && p.payment_type_id == "bank_transfer";
    let point_of_interaction = if p.payment_method_id == "pix" {
        json!({
            "type": "PIX",
            "sub_type": null,
            "application_data": { "name": null, "version": null },
            "transaction_data": {
                "qr_code": pix_code(p),
                "qr_code_base64": if pending_transfer { json!(pix_image(p)) } else { Value::Null },
                "ticket_url": format!("https://www.mercadopago.com.br/payments/{}/ticket?caller_id={}", p.id, p.user_id.get()),
            },
        })
    } else if p.payment_type_id == "ticket" || p.payment_type_id == "atm" {
        json!({ "type": "UNSPECIFIED", "business_info": { "unit": "online_payments", "sub_unit": "default" } })
    } else {
        echo("point_of_interaction", json!({}))
    };
    let ticket = p.payment_type_id == "ticket" || p.payment_type_id == "atm";
    let mut view = json!({
        "id": p.id,
        "date_created": date(p.date_created),
        "date_approved": p.date_approved.map(date),
        "date_last_updated": date(p.date_last_updated),
        "date_of_expiration": p.date_of_expiration.map(date),
        "money_release_date": p.date_approved.map(|d| date(d.plus_millis(14 * 24 * 3600 * 1000))),
        "money_release_status": if paid || p.status == Status::Authorized { json!("pending") } else { Value::Null },
        "build_version": "caja",
        "operation_type": "regular_payment",
        // A card's issuer: the one sent, else the test cards' ("24").
        "issuer_id": p.issuer_id.clone().or_else(|| p.card.as_ref().map(|_| "24".to_owned())),
        "payment_method_id": p.payment_method_id,
        "payment_type_id": p.payment_type_id,
        "payment_method": { "id": p.payment_method_id, "type": p.payment_type_id },
        "status": p.status.as_str(),
        "status_detail": p.status_detail,
        "currency_id": p.site_id.currency(),
        "description": p.description,
        "live_mode": p.live_mode,
        "sponsor_id": null,
        "authorization_code": if p.card.is_some() && paid { json!(format!("{:06}", p.id % 1_000_000)) } else { Value::Null },
        "taxes_amount": 0,
        "counter_currency": null,
        "shipping_amount": 0,
        "pos_id": null,
        "store_id": null,
        "integrator_id": null,
        "platform_id": null,
        "corporation_id": null,
        "collector_id": p.user_id.get(),
        "payer": {
            "type": payer_field("type"),
            "id": payer_field("id").as_str().map(str::to_owned).or_else(|| payer_field("id").as_i64().map(|n| n.to_string())),
            "operator_id": null,
            // The reference: shown only once the payment is approved, refunded or charged back.
            "email": if paid { payer_field("email") } else { Value::Null },
            "identification": if paid { payer_field("identification") } else { json!({ "type": null, "number": null }) },
            "phone": payer.get("phone").cloned().unwrap_or(json!({ "area_code": null, "number": null, "extension": null })),
            "first_name": payer_field("first_name"),
            "last_name": payer_field("last_name"),
            "entity_type": payer_field("entity_type"),
        },
        "metadata": echo("metadata", json!({})),
        "additional_info": echo("additional_info", json!({})),
        "order": p.merchant_order_id.map_or_else(|| echo("order", json!({})), |id| json!({ "type": "mercadopago", "id": id.to_string() })),
        "external_reference": p.external_reference,
        "transaction_amount": amount(p.transaction_amount),
        "transaction_amount_refunded": amount(p.transaction_amount_refunded),
        "coupon_amount": 0,
        "differential_pricing_id": null,
        "deduction_schema": null,
        "installments": p.installments,
        "transaction_details": {
            "payment_method_reference_id": null,
            "net_received_amount": if paid { amount(p.transaction_amount.minus(fee)) } else { json!(0) },
            "total_paid_amount": amount(p.transaction_amount),
            "overpaid_amount": 0,
            "external_resource_url": if ticket { json!(format!("https://www.mercadopago.com.br/sandbox/payments/{}/ticket?caller_id={}", p.id, p.user_id.get())) } else { Value::Null },
            "installment_amount": amount(installment),
            "financial_institution": if p.payment_method_id == "bolbradesco" { json!("bradesco") } else { Value::Null },
            "payable_deferral_period": null,
            "acquirer_reference": null,
        },
        "fee_details": fee_details,
        "charges_details": [],
        "captured": p.captured,
        "binary_mode": p.binary_mode,
        "call_for_authorize_id": null,
        "statement_descriptor": p.statement_descriptor,
        "card": card,
        "notification_url": p.notification_url,
        "refunds": p.refunds.iter().map(|r| refund_view(p, r)).collect::<Vec<_>>(),
        "processing_mode": "aggregator",
        "merchant_account_id": null,
        "merchant_number": null,
        "acquirer_reconciliation": [],
        "point_of_interaction": point_of_interaction,
    });
    if ticket {
        // A boleto's 44 digits: the bank (237, Bradesco), the currency (9), then the payment.
        view["barcode"] = json!({ "content": format!("2379{:040}", p.id) });
    }
    view
}

/// The Pix "copia e cola" code: an EMV BR Code naming the payment and its amount.
fn pix_code(p: &Payment) -> String {
    let field = |id: &str, value: &str| format!("{id}{:02}{value}", value.len());
    let account = field("00", "br.gov.bcb.pix") + &field("01", &format!("caja-{}", p.user_id.get()));
    let reference = field("05", &format!("mpqrinter{}", p.id));
    let body = [
        field("00", "01"),
        field("26", &account),
        field("52", "0000"),
        field("53", "986"),
        field("54", &p.transaction_amount.to_string()),
        field("58", "BR"),
        field("59", "CAJA TEST"),
        field("60", "Sao Paulo"),
        field("62", &reference),
    ]
    .concat()
        + "6304";
    format!("{body}{:04X}", crc16(body.as_bytes()))
}

/// CRC-16/CCITT-FALSE, the BR Code's checksum.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF_u16, |crc, &b| {
        (0..8).fold(crc ^ (u16::from(b) << 8), |c, _| if c & 0x8000 != 0 { (c << 1) ^ 0x1021 } else { c << 1 })
    })
}

/// The Pix QR code as a base64 PNG.
fn pix_image(p: &Payment) -> String {
    super::qr::png_base64(&pix_code(p)).unwrap_or_default()
}

// ---------------------------------------------------------------------------------
// Handlers.

/// `POST /v1/payments`: 201 with the payment. A declined card is still a 201, with
/// `status: rejected`.
#[utoipa::path(
    post, path = "/v1/payments", tag = "Payments",
    params(("X-Idempotency-Key" = String, Header, description = "Required (cause 4292)")),
    responses(
        (status = 201, description = "The payment (a declined card is a 201 too, status rejected)"),
        (status = 400, description = "bad_request with a numbered cause: 4002, 4003, 4037, 4004, 4005, 4033, 4006, 4050, 3028, 4000, 4001, 2006, 3003, 4020, 4021, 4022, 23, 8, 4292", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_payment(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let (principal, now) = (write.ctx.principal.clone(), write.ctx.now);
    let planned = draft_of(write.body()).and_then(|(draft, token)| {
        let payment = new_payment(draft, new_id(), &principal, now).map_err(Failure::Payment)?;
        Ok(CreatePayment { payment, token })
    });
    let op = operation(Ok(()), planned, |(), op| op);
    let success = |p: &Payment| json_response(StatusCode::CREATED, &payment_view(p));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `GET /v1/payments/{id}`.
#[utoipa::path(
    get, path = "/v1/payments/{payment_id}", tag = "Payments",
    params(("payment_id" = i64, Path)),
    responses(
        (status = 200, description = "The payment"),
        (status = 404, description = "not_found, cause 2000", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_payment(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let payment = read_payment(&state, &principal, raw).await?;
    Ok(json(StatusCode::OK, &payment_view(&payment)))
}

async fn read_payment(
    state: &AppState,
    principal: &Principal,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Payment, ApiError> {
    let id = payment_id(raw).map_err(|f| ApiError::refused(FAMILY, f))?;
    let user = principal.user_id;
    let found = state.store.read(move |r| engine::payment(r, user, id)).await.map_err(|e| read_failed(FAMILY, e))?;
    found.ok_or_else(|| ApiError::refused(FAMILY, Failure::NotFound))
}

/// `PUT /v1/payments/{id}`: `{"status":"cancelled"}`, `{"capture":true[,
/// "transaction_amount"]}`, `date_of_expiration`, `metadata`. 200 with the payment.
#[utoipa::path(
    put, path = "/v1/payments/{payment_id}", tag = "Payments",
    params(("payment_id" = i64, Path), ("X-Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, description = "The payment, cancelled, captured or with its new metadata"),
        (status = 400, description = "causes 2018, 2016, 4017, 2079, 2078, 4037, 23", body = ErrorBody),
        (status = 404, description = "not_found, cause 2000", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_payment(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    // The reference declares no key here; with one it is exactly-once.
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let op = operation(payment_id(raw), update_of(write.body()), |id, update| UpdatePayment { id, update });
    let success = |p: &Payment| json_response(StatusCode::OK, &payment_view(p));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `POST /v1/payments/{id}/refunds`: 201 with the refund.
#[utoipa::path(
    post, path = "/v1/payments/{payment_id}/refunds", tag = "Payments",
    params(("payment_id" = i64, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 201, description = "The refund (no body: all that is left)"),
        (status = 400, description = "causes 2063, 4040, 4041, 4292", body = ErrorBody),
        (status = 404, description = "not_found, cause 2000", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_refund(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(payment_id(raw), refund_of(write.body()), |id, (amount, metadata)| RefundPayment {
        id,
        amount,
        metadata,
        refund_id: new_id(),
    });
    let success = |(p, r): &(Payment, PaymentRefund)| json_response(StatusCode::CREATED, &refund_view(p, r));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `GET /v1/payments/{id}/refunds`: a bare array.
#[utoipa::path(
    get, path = "/v1/payments/{payment_id}/refunds", tag = "Payments",
    params(("payment_id" = i64, Path)),
    responses(
        (status = 200, description = "The refunds, a bare array"),
        (status = 404, description = "not_found, cause 2000", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_refunds(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let payment = read_payment(&state, &principal, raw).await?;
    let refunds: Vec<Value> = payment.refunds.iter().map(|r| refund_view(&payment, r)).collect();
    Ok(json(StatusCode::OK, &refunds))
}

/// `GET /v1/payments/{id}/refunds/{refund_id}`.
#[utoipa::path(
    get, path = "/v1/payments/{payment_id}/refunds/{refund_id}", tag = "Payments",
    params(("payment_id" = i64, Path), ("refund_id" = i64, Path)),
    responses(
        (status = 200, description = "The refund"),
        (status = 404, description = "not_found, cause 2000 or 2032", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_refund(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::refused(FAMILY, Failure::Payment(Refusal::RefundNotFound));
    let (payment, refund) = match raw {
        Ok(Path((payment, refund))) => (payment, refund),
        Err(_) => return Err(ApiError::refused(FAMILY, Failure::NotFound)),
    };
    let payment = read_payment(&state, &principal, Ok(Path(payment))).await?;
    let refund_id = refund.parse::<i64>().map_err(|_| not_found())?;
    let refund = payment.refunds.iter().find(|r| r.id == refund_id).ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &refund_view(&payment, refund)))
}

/// caja's own test helper (test accounts only): `{"status":"approved"}` (the payer paid
/// a Pix or ticket, or a review passed), `rejected`, `expired`, `charged_back`. 200 with
/// the payment.
#[utoipa::path(
    post, path = "/v1/payments/{payment_id}/events", tag = "Payments",
    params(("payment_id" = i64, Path)),
    responses(
        (status = 200, description = "caja's own test helper: the payment after the event"),
        (status = 400, description = "cause 3005 (a move the machine forbids), cause 1 (body)", body = ErrorBody),
        (status = 403, description = "forbidden, cause 3002 (a live account)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn simulate_payment(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EventBody {
        status: Option<String>,
    }
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let path = test_accounts_only(payment_id(raw), &write.ctx.principal);
    let event = parse_json::<EventBody>(write.body(), false).map_err(body_error).and_then(|b| {
        b.status
            .as_deref()
            .and_then(Simulation::parse)
            .ok_or_else(|| Failure::InvalidBody("status must be approved, rejected, expired or charged_back".into()))
    });
    let op = operation(path, event, |id, event| SimulatePayment { id, event });
    let success = |p: &Payment| json_response(StatusCode::OK, &payment_view(p));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `begin_date`/`end_date`: `NOW`, `NOW-3DAYS`, `NOW-1MONTHS`, or an ISO 8601 date.
fn search_date(raw: &str, now: Timestamp) -> Option<Timestamp> {
    const DAY: i64 = 86_400_000;
    if raw == "NOW" {
        return Some(now);
    }
    if let Some(rest) = raw.strip_prefix("NOW-") {
        let (n, unit) = rest.find(|c: char| !c.is_ascii_digit()).map(|i| rest.split_at(i))?;
        let n: i64 = n.parse().ok()?;
        let per = match unit {
            "DAYS" | "DAY" => DAY,
            "MONTHS" | "MONTH" => 30 * DAY,
            "HOURS" | "HOUR" => DAY / 24,
            _ => return None,
        };
        return Some(now.plus_millis(-n.checked_mul(per)?));
    }
    parse_date(raw).ok()
}

/// `GET /v1/payments/search`: `{"paging":{"total","limit","offset"},"results":[…]}`.
/// Filters: `external_reference`, `status`, `status_detail`, `payment_method_id`,
/// `payment_type_id`, `operation_type`, `id`, `collector.id`, `currency_id`; `range`
/// (`date_created`, `date_approved`, `date_last_updated`) with `begin_date` and
/// `end_date` (default the last 3 months); `sort` and `criteria`; `limit` (30) and
/// `offset`. Any other parameter is refused (cause 8), never ignored.
#[utoipa::path(
    get, path = "/v1/payments/search", tag = "Payments",
    params(("limit" = Option<u32>, Query), ("offset" = Option<u64>, Query), ("sort" = Option<String>, Query), ("criteria" = Option<String>, Query), ("range" = Option<String>, Query), ("begin_date" = Option<String>, Query), ("end_date" = Option<String>, Query), ("status" = Option<String>, Query), ("external_reference" = Option<String>, Query)),
    responses(
        (status = 200, description = "{paging:{total,limit,offset}, results}"),
        (status = 400, description = "causes 8, 1000, 1001, 1003, 1004, 9062", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_payments(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let refuse = |f: Failure| ApiError::refused(FAMILY, f);
    let cause =
        |code: u32, description: &'static str| refuse(Failure::Payment(Refusal::Invalid(Cause { code, description })));
    let Query(params) = params.map_err(|_| refuse(Failure::InvalidBody("the query string is malformed".into())))?;
    const PAGING: &[&str] =
        &["sort", "criteria", "range", "begin_date", "end_date", "limit", "offset", "external_reference"];
    // Documented filters caja's payments never match: no store, point of sale or payer id.
    const UNMATCHED: &[&str] = &["store_id", "pos_id", "payer.id"];
    let known = |k: &str| PAGING.contains(&k) || UNMATCHED.contains(&k) || engine::FILTERS.contains(&k);
    if let Some(unknown) = params.keys().filter(|k| !known(k)).min() {
        return Err(refuse(Failure::Property { error: PropertyError::Unsupported, detail: unknown.clone() }));
    }
    let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let field = |raw: &str| match raw {
        "date_created" => Some(DateField::Created),
        "date_approved" => Some(DateField::Approved),
        "date_last_updated" => Some(DateField::LastUpdated),
        "money_release_date" => Some(DateField::MoneyRelease),
        _ => None,
    };
    let range = match get("range") {
        None => DateField::Created,
        Some(raw) => field(&raw).ok_or_else(|| {
            refuse(Failure::InvalidBody(
                "range must be date_created, date_approved, date_last_updated or money_release_date".into(),
            ))
        })?,
    };
    let sort = match get("sort").as_deref() {
        None | Some("date_created") => Some(DateField::Created),
        Some("id") => None,
        Some(raw) => Some(field(raw).ok_or_else(|| cause(1003, "Invalid sort value."))?),
    };
    let ascending = match get("criteria").as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(cause(1004, "Invalid criteria value.")),
    };
    let now = state.account_now(&principal).await.map_err(|e| read_failed(FAMILY, e))?;
    let date_of = |name: &str, default: Timestamp| match get(name) {
        None => Ok(default),
        Some(raw) => {
            search_date(&raw, now).ok_or_else(|| cause(1001, "Date format must be yyyy-MM-dd'T'HH:mm:ss.SSSZ."))
        }
    };
    let begin = date_of("begin_date", now.plus_millis(-90 * 86_400_000))?;
    let end = date_of("end_date", now)?;
    if end.as_millis() - begin.as_millis() > SEARCH_RANGE_DAYS_MAX * 86_400_000 {
        return Err(cause(9062, "Invalid range interval - Must be less than 365 days."));
    }
    let number = |name: &str, max: u64| -> Result<Option<u64>, ApiError> {
        get(name)
            .map(|raw| {
                raw.parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| cause(1000, "Number of rows exceeded the limits."))
            })
            .transpose()
    };
    let limit = number("limit", SEARCH_LIMIT_MAX as u64)?.unwrap_or(SEARCH_LIMIT_DEFAULT as u64) as u32;
    let offset = number("offset", u64::from(u32::MAX))?.unwrap_or(0);
    let filters = params
        .iter()
        .filter(|(k, v)| engine::FILTERS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut query = PaymentSearch {
        range,
        begin,
        end,
        external_reference: get("external_reference"),
        filters,
        sort,
        ascending,
        offset,
        limit,
    };
    if UNMATCHED.iter().any(|k| params.contains_key(*k)) {
        // No payment has an empty id: nothing matches.
        query.filters.push(("id".to_owned(), String::new()));
    }
    let user = principal.user_id;
    let (payments, total) =
        state.store.read(move |r| engine::search(r, user, &query)).await.map_err(|e| read_failed(FAMILY, e))?;
    let body = json!({
        "paging": { "total": total, "limit": limit, "offset": offset },
        "results": payments.iter().map(payment_view).collect::<Vec<_>>(),
    });
    Ok(json(StatusCode::OK, &body))
}

/// `GET /v1/payment_methods`: the token's site's methods, a bare array.
#[utoipa::path(
    get, path = "/v1/payment_methods", tag = "Payments",
    params(),
    responses(
        (status = 200, description = "The site's payment methods, a bare array"),
    ),
    security(("bearer" = []))
)]
pub async fn payment_methods(Extension(principal): Extension<Principal>) -> Response {
    let methods: Vec<Value> = domain::methods(principal.site_id)
        .into_iter()
        .map(|m| {
            let settings = m.card.map_or(json!([]), |(number, cvv)| {
                json!([{
                    "card_number": { "validation": "standard", "length": number },
                    "bin": { "pattern": "", "installments_pattern": "", "exclusion_pattern": null },
                    "security_code": { "length": cvv, "card_location": if cvv == 4 { "front" } else { "back" }, "mode": "mandatory" },
                }])
            });
            json!({
                "id": m.id,
                "name": m.name,
                "payment_type_id": m.payment_type_id,
                "status": "active",
                "secure_thumbnail": null,
                "thumbnail": null,
                "deferred_capture": if m.card.is_some() { "supported" } else { "does_not_apply" },
                "settings": settings,
                "additional_info_needed": if m.card.is_some() { json!(["cardholder_name", "cardholder_identification_number"]) } else { json!([]) },
                "min_allowed_amount": amount(m.min_amount()),
                "max_allowed_amount": amount(domain::AMOUNT_MAX),
                "accreditation_time": if m.card.is_some() { 2880 } else { 0 },
                "financial_institutions": [],
                "processing_modes": ["aggregator"],
            })
        })
        .collect();
    json(StatusCode::OK, &methods)
}

/// `GET /users/me`: the token's account.
#[utoipa::path(
    get, path = "/users/me", tag = "Payments",
    params(),
    responses(
        (status = 200, description = "The token's account"),
    ),
    security(("bearer" = []))
)]
pub async fn users_me(Extension(principal): Extension<Principal>) -> Response {
    let id = principal.user_id.get();
    let body = json!({
        "id": id,
        "nickname": format!("TESTUSER{id}"),
        "first_name": "Test",
        "last_name": "User",
        "email": format!("test_user_{id}@testuser.com"),
        "site_id": principal.site_id.as_str(),
        "country_id": principal.site_id.country_codes().0,
        "user_type": "normal",
        "tags": if principal.live_mode { json!(["normal"]) } else { json!(["test_user"]) },
        "status": { "site_status": "active" },
        "identification": { "type": null, "number": null },
        "phone": { "area_code": null, "number": null, "extension": null },
        "address": { "address": null, "city": null, "state": null, "zip_code": null },
        "registration_date": null,
        "permalink": format!("http://perfil.mercadolibre.com.br/TESTUSER{id}"),
        "gender": "",
        "secure_email": "",
        "seller_experience": "NEWBIE",
        "points": 0,
        "site_status": "active",
    });
    json(StatusCode::OK, &body)
}
