//! Orders: `/v1/orders…`, online and Point, as the Orders reference pages and the
//! official SDKs' order clients call them. Bodies are read here into the domain's
//! drafts; answers are the pages' shapes (amounts as decimal strings, ids `ORD…`,
//! `PAY…`, `REF…`, dates with milliseconds).

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{orders_payment_failed, ApiError, Family, OrdersErrorBody};
use super::request::{
    echo_of, empty_response, json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest,
};
use super::AppState;
use crate::domain::order::{
    simulation_status, Order, OrderId, OrderType, Payment, PaymentId, PaymentMethod, PaymentType, Refund, RefundId,
    Refusal, Simulation, Status, INSTALLMENTS_MAX, SIMULATED_FAILURES,
};
use crate::domain::order_draft::{new_order, new_payment, OrderDraft, PaymentDraft, PointDraft};
use crate::domain::order_money::{parse_duration_ms, Money};
use crate::domain::terminal_action::PropertyError;
use crate::domain::{Principal, SiteId, StoredResponse, Timestamp};
use crate::engine::orders::{
    self as engine, AddTransaction, CreateOrder, DeleteTransaction, Move, MoveOrder, OrderSearch, ProcessOrder,
    RefundOrder, SimulateOrder, UpdateTransaction,
};
use crate::engine::{Change, Failure, PathParam};

const FAMILY: Family = Family::Orders;

/// Orders per search page when `page_size` is not sent, and the most.
pub const SEARCH_PAGE_SIZE_DEFAULT: u32 = 20;
pub const SEARCH_PAGE_SIZE_MAX: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(create_order).get(search_orders))
        .route("/v1/orders/{order_id}", get(get_order))
        .route("/v1/orders/{order_id}/process", post(process_order))
        .route("/v1/orders/{order_id}/capture", post(capture_order))
        .route("/v1/orders/{order_id}/cancel", post(cancel_order))
        .route("/v1/orders/{order_id}/refund", post(refund_order))
        .route("/v1/orders/{order_id}/transactions", post(add_transaction))
        .route(
            "/v1/orders/{order_id}/transactions/{transaction_id}",
            put(update_transaction).delete(delete_transaction),
        )
        .route("/v1/orders/{order_id}/events", post(simulate_order))
}

// ---------------------------------------------------------------------------------
// Bodies. Every object refuses properties it does not have (`unsupported_properties`)
// and every field is typed (`property_type`), as the Orders schemas are; the fields
// caja keeps without reading are typed only as objects or strings.

/// `POST /v1/orders`, with the fields the SDKs' `CreateOrderRequest` names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // The opaque fields are read for their types; their values come from the raw JSON.
struct CreateOrderBody {
    #[serde(rename = "type")]
    order_type: Option<String>,
    external_reference: Option<String>,
    total_amount: Option<String>,
    processing_mode: Option<String>,
    capture_mode: Option<String>,
    description: Option<String>,
    expiration_time: Option<String>,
    transactions: Option<TransactionsBody>,
    config: Option<ConfigBody>,
    payer: Option<PayerBody>,
    items: Option<Vec<Map<String, Value>>>,
    integration_data: Option<Map<String, Value>>,
    shipment: Option<Map<String, Value>>,
    additional_info: Option<Map<String, Value>>,
    marketplace: Option<String>,
    marketplace_fee: Option<String>,
    checkout_available_at: Option<String>,
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionsBody {
    payments: Option<Vec<PaymentBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PaymentBody {
    amount: Option<String>,
    payment_method: Option<PaymentMethodBody>,
    expiration_time: Option<String>,
    date_of_expiration: Option<String>,
    automatic_payments: Option<Map<String, Value>>,
    stored_credential: Option<Map<String, Value>>,
    subscription_data: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PaymentMethodBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
    installments: Option<u32>,
    statement_descriptor: Option<String>,
    transaction_security: Option<Map<String, Value>>,
    financial_institution: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ConfigBody {
    point: Option<PointConfigBody>,
    payment_method: Option<Map<String, Value>>,
    online: Option<Map<String, Value>>,
    statement_descriptor: Option<String>,
    default_payment_due_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PointConfigBody {
    terminal_id: Option<String>,
    print_on_terminal: Option<String>,
    ticket_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PayerBody {
    email: Option<String>,
    customer_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    entity_type: Option<String>,
    identification: Option<Map<String, Value>>,
    phone: Option<Map<String, Value>>,
    address: Option<Map<String, Value>>,
}

/// The fields of the create body the domain reads; every other field is kept as
/// sent.
const READ_FIELDS: &[&str] = &[
    "type",
    "external_reference",
    "total_amount",
    "processing_mode",
    "capture_mode",
    "description",
    "expiration_time",
    "transactions",
];

/// A JSON error from the body reader, in the Orders pages' terms: an unknown field is
/// `unsupported_properties`, a wrong type `property_type`.
/// The detail reads as the Orders validator's (`additionalProperties '$.foo' not
/// allowed`, `'$.total_amount' - invalid type: …`).
fn property_error(failure: Failure) -> Failure {
    let Failure::InvalidBody(detail) = failure else {
        return failure;
    };
    // `path: why` from the typed reader; a whole-body error has no path.
    let (path, why) = match detail.split_once(": ") {
        Some((path, why)) if !path.contains(' ') => (path, why),
        _ => ("", detail.as_str()),
    };
    let path = if path.is_empty() || path == "." { "$".to_owned() } else { format!("$.{path}") };
    let (error, detail) = if why.starts_with("unknown field") {
        (PropertyError::Unsupported, format!("additionalProperties '{path}' not allowed"))
    } else if why.starts_with("invalid value") {
        (PropertyError::Value, format!("'{path}' - {why}"))
    } else {
        (PropertyError::Type, format!("'{path}' - {why}"))
    };
    Failure::Property { error, detail }
}

fn type_error(path: &str, expected: &str) -> Failure {
    Failure::Property { error: PropertyError::Type, detail: format!("'$.{path}' - invalid type, expected {expected}") }
}

/// Read a body: typed (for the checks), and as raw JSON (for what is kept as sent).
fn read_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<(T, Map<String, Value>), Failure> {
    let typed = parse_json::<T>(body, false).map_err(property_error)?;
    let raw: Map<String, Value> = serde_json::from_slice(body).map_err(|e| Failure::MalformedJson(e.to_string()))?;
    Ok((typed, raw))
}

/// A Point order's schema: what it may hold besides the common fields.
const POINT_FIELDS: &[&str] = &[
    "type",
    "external_reference",
    "expiration_time",
    "transactions",
    "config",
    "description",
    "integration_data",
    "total_amount",
    "processing_mode",
];

/// Properties of the other order type's schema: `unsupported_properties`.
fn foreign_properties(raw: &Map<String, Value>) -> Result<(), Failure> {
    let unsupported = |path: &str| Failure::Property {
        error: PropertyError::Unsupported,
        detail: format!("additionalProperties '$.{path}' not allowed"),
    };
    let config = raw.get("config").and_then(Value::as_object);
    match raw.get("type").and_then(Value::as_str) {
        Some("point") => {
            if let Some(key) = raw.keys().find(|k| !POINT_FIELDS.contains(&k.as_str())) {
                return Err(unsupported(key));
            }
            if let Some(key) =
                config.and_then(|c| c.keys().find(|k| !["point", "payment_method"].contains(&k.as_str())))
            {
                return Err(unsupported(&format!("config.{key}")));
            }
        }
        Some("online") if config.is_some_and(|c| c.contains_key("point")) => return Err(unsupported("config.point")),
        _ => {}
    }
    Ok(())
}

/// A payment's own dates, when sent: `expiration_time` an ISO 8601 duration,
/// `date_of_expiration` an RFC 3339 date.
fn payment_dates(body: &PaymentBody, at: &str) -> Result<(), Failure> {
    let invalid = |field: &str, rule: &str| Failure::Property {
        error: PropertyError::Value,
        detail: if at.is_empty() { format!("'$.{field}' - {rule}") } else { format!("'$.{at}.{field}' - {rule}") },
    };
    if body.expiration_time.as_deref().is_some_and(|d| parse_duration_ms(d).is_none()) {
        return Err(invalid("expiration_time", "must be an ISO 8601 duration"));
    }
    if body.date_of_expiration.as_deref().is_some_and(|d| Timestamp::parse_rfc3339(d).is_none()) {
        return Err(invalid("date_of_expiration", "must be an RFC 3339 date"));
    }
    Ok(())
}

fn payment_draft(body: PaymentBody, raw: Option<&Value>) -> PaymentDraft {
    let raw = raw.and_then(Value::as_object).cloned().unwrap_or_default();
    let method_raw = raw.get("payment_method").and_then(Value::as_object).cloned().unwrap_or_default();
    let payment_method = body.payment_method.map(|m| PaymentMethod {
        id: m.id,
        kind: m.kind,
        token: m.token,
        installments: m.installments,
        statement_descriptor: m.statement_descriptor,
        echo: echo_of(&method_raw, &["id", "type", "token", "installments", "statement_descriptor"]),
    });
    PaymentDraft { amount: body.amount, payment_method, echo: echo_of(&raw, &["amount", "payment_method"]) }
}

fn order_draft(body: &[u8]) -> Result<OrderDraft, Failure> {
    let (typed, raw): (CreateOrderBody, _) = read_body(body)?;
    foreign_properties(&raw)?;
    if raw.get("payer").and_then(Value::as_object).is_some_and(Map::is_empty) {
        return Err(Failure::Property {
            error: PropertyError::MinimumProperties,
            detail: "'$.payer' - minimum 1 properties allowed".into(),
        });
    }
    if let Some(payments) = typed.transactions.as_ref().and_then(|t| t.payments.as_ref()) {
        for (i, payment) in payments.iter().enumerate() {
            payment_dates(payment, &format!("transactions.payments[{i}]"))?;
        }
    }
    let raw_payments = raw.get("transactions").and_then(|t| t.get("payments")).and_then(Value::as_array);
    let payments = typed.transactions.and_then(|t| t.payments).map(|list| {
        list.into_iter().enumerate().map(|(i, p)| payment_draft(p, raw_payments.and_then(|r| r.get(i)))).collect()
    });
    let point_config = typed.config.as_ref().and_then(|c| c.point.as_ref());
    let default_type = match raw.get("config").and_then(|c| c.get("payment_method")).and_then(|m| m.get("default_type"))
    {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(type_error("config.payment_method.default_type", "a string")),
    };
    let point = point_config.map(|p| PointDraft {
        terminal_id: p.terminal_id.clone(),
        print_on_terminal: p.print_on_terminal.clone(),
        default_type,
    });
    let mut echo = echo_of(&raw, READ_FIELDS);
    // A Point order shows the ticket setting it prints with, sent or not.
    if typed.order_type.as_deref() == Some("point") {
        if let Some(Value::Object(point)) = echo.get_mut("config").and_then(|c| c.get_mut("point")) {
            point.entry("print_on_terminal").or_insert_with(|| json!("seller_ticket"));
        }
    }
    Ok(OrderDraft {
        order_type: typed.order_type,
        external_reference: typed.external_reference,
        total_amount: typed.total_amount,
        processing_mode: typed.processing_mode,
        capture_mode: typed.capture_mode,
        description: typed.description,
        expiration_time: typed.expiration_time,
        payments,
        point,
        payer_email: typed.payer.and_then(|p| p.email),
        currency: typed.currency,
        echo,
    })
}

/// `POST /v1/orders/{id}/refund`: no body (or none of these) refunds everything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    transactions: Option<Vec<RefundTransactionBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundTransactionBody {
    id: Option<String>,
    amount: Option<String>,
}

fn refund_of(body: &[u8]) -> Result<Option<(PaymentId, Money)>, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let (body, _): (RefundBody, _) = read_body(body)?;
    let property = |error, detail: &str| Failure::Property { error, detail: detail.to_owned() };
    let Some(transactions) = body.transactions else {
        return Ok(None);
    };
    let [transaction] = <[RefundTransactionBody; 1]>::try_from(transactions).map_err(|list| match list.len() {
        0 => property(PropertyError::MinimumItems, "'$.transactions' - minimum 1 items allowed"),
        _ => property(PropertyError::MaximumItems, "'$.transactions' - maximum 1 items allowed"),
    })?;
    let id = transaction
        .id
        .ok_or_else(|| property(PropertyError::Required, "missing properties: '$.transactions[0].id'"))?;
    let id = PaymentId::parse(&id).ok_or(Failure::Order(Refusal::TransactionNotFound))?;
    let amount = transaction
        .amount
        .ok_or_else(|| property(PropertyError::Required, "missing properties: '$.transactions[0].amount'"))?;
    let amount = Money::parse(&amount).filter(|m| *m > Money::ZERO).ok_or_else(|| {
        property(
            PropertyError::Value,
            "'$.transactions[0].amount' - must be a positive decimal with up to 2 decimal places",
        )
    })?;
    Ok(Some((id, amount)))
}

/// `POST /v1/orders/{id}/transactions`: one payment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionsRequest {
    payments: Option<Vec<PaymentBody>>,
}

fn new_transaction(body: &[u8]) -> Result<PaymentDraft, Failure> {
    let (typed, raw): (TransactionsRequest, _) = read_body(body)?;
    let property = |error, detail: &str| Failure::Property { error, detail: detail.to_owned() };
    let payments =
        typed.payments.ok_or_else(|| property(PropertyError::Required, "missing properties: '$.payments'"))?;
    let raw_payments = raw.get("payments").and_then(Value::as_array);
    let mut payments = payments.into_iter();
    match (payments.next(), payments.next()) {
        (None, _) => Err(property(PropertyError::MinimumItems, "'$.payments' - minimum 1 items allowed")),
        (Some(_), Some(_)) => Err(Failure::Order(Refusal::TooManyTransactions)),
        (Some(p), None) => {
            payment_dates(&p, "payments[0]")?;
            Ok(payment_draft(p, raw_payments.and_then(|r| r.first())))
        }
    }
}

/// The order id of a path; a segment that is not even text (`%FF`) is malformed too.
fn order_id(raw: Result<Path<String>, PathRejection>) -> Result<OrderId, Failure> {
    let malformed = Failure::InvalidPathParam(PathParam::OrderId);
    let Path(raw) = raw.map_err(|_| malformed.clone())?;
    OrderId::parse(&raw).ok_or(malformed)
}

/// The order and transaction ids of a path.
fn transaction_path(raw: Result<Path<(String, String)>, PathRejection>) -> Result<(OrderId, PaymentId), Failure> {
    let Path((order, transaction)) = raw.map_err(|_| Failure::InvalidPathParam(PathParam::OrderId))?;
    let order = OrderId::parse(&order).ok_or(Failure::InvalidPathParam(PathParam::OrderId))?;
    let transaction = PaymentId::parse(&transaction).ok_or(Failure::InvalidPathParam(PathParam::TransactionId))?;
    Ok((order, transaction))
}

/// A new id's randomness, and a payments-network number (`reference_id`).
fn random() -> u128 {
    rand::random::<u128>()
}

fn reference_id() -> String {
    format!("{:012}", rand::random::<u64>() % 1_000_000_000_000)
}

// ---------------------------------------------------------------------------------
// Views.

/// The online pages show two letters, the Point pages three.
fn country(site: SiteId, point: bool) -> &'static str {
    let (two, three) = site.country_codes();
    if point {
        three
    } else {
        two
    }
}

fn put_some(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

/// A payment as the pages show it. A Point order's payment not yet at the terminal
/// shows no `status_detail` (the create page's answer).
fn payment_view(p: &Payment, point: bool) -> Value {
    let mut view = Map::new();
    view.insert("id".into(), json!(p.id.as_str()));
    view.insert("amount".into(), json!(p.amount.to_string()));
    put_some(&mut view, "paid_amount", p.paid_amount.map(|m| json!(m.to_string())));
    if p.refunded_amount > Money::ZERO {
        view.insert("refunded_amount".into(), json!(p.refunded_amount.to_string()));
    }
    put_some(&mut view, "reference_id", p.reference_id.as_ref().map(|r| json!(r)));
    view.insert("status".into(), json!(p.status.as_str()));
    if !(point && p.status == Status::Created) {
        view.insert("status_detail".into(), json!(p.status_detail));
    }
    put_some(&mut view, "payment_method", p.payment_method.as_ref().map(|m| method_view(m, p.amount)));
    for (k, v) in &p.echo {
        view.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(view)
}

fn method_view(m: &PaymentMethod, amount: Money) -> Value {
    let mut view = Map::new();
    put_some(&mut view, "id", m.id.as_ref().map(|v| json!(v)));
    put_some(&mut view, "type", m.kind.as_ref().map(|v| json!(v)));
    put_some(&mut view, "token", m.token.as_ref().map(|v| json!(v)));
    put_some(&mut view, "installments", m.installments.map(|v| json!(v)));
    let card = m.kind.as_deref().and_then(PaymentType::parse).is_some_and(PaymentType::is_card);
    if let Some(n) = m.installments.filter(|n| *n > 0 && card) {
        let each = Money::from_cents((amount.cents() + i64::from(n) - 1) / i64::from(n));
        view.insert("installment_amount".into(), json!(each.to_string()));
    }
    put_some(&mut view, "statement_descriptor", m.statement_descriptor.as_ref().map(|v| json!(v)));
    for (k, v) in &m.echo {
        view.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(view)
}

fn refund_view(r: &Refund) -> Value {
    json!({
        "id": r.id.as_str(),
        "transaction_id": r.transaction_id.as_str(),
        "reference_id": r.reference_id,
        "amount": r.amount.to_string(),
        "status": r.status,
    })
}

/// The order as `GET /v1/orders/{id}` shows it. `payer` is kept but not shown: the
/// real API does not return it.
pub fn order_view(o: &Order) -> Value {
    let point = o.order_type == OrderType::Point;
    let mut view = Map::new();
    view.insert("id".into(), json!(o.id.as_str()));
    view.insert("type".into(), json!(o.order_type.as_str()));
    view.insert("user_id".into(), json!(o.user_id.get().to_string()));
    put_some(&mut view, "external_reference", o.external_reference.as_ref().map(|v| json!(v)));
    put_some(&mut view, "description", o.description.as_ref().map(|v| json!(v)));
    view.insert("processing_mode".into(), json!(o.processing_mode.as_str()));
    put_some(&mut view, "capture_mode", o.capture_mode.map(|c| json!(c.as_str())));
    put_some(&mut view, "total_amount", o.total_amount.map(|m| json!(m.to_string())));
    put_some(&mut view, "total_paid_amount", o.total_paid_amount().map(|m| json!(m.to_string())));
    view.insert("country_code".into(), json!(country(o.site_id, point)));
    view.insert("currency".into(), json!(o.site_id.currency()));
    view.insert("status".into(), json!(o.status.as_str()));
    view.insert("status_detail".into(), json!(o.status_detail));
    view.insert("created_date".into(), json!(o.created_at.to_rfc3339()));
    view.insert("last_updated_date".into(), json!(o.updated_at.to_rfc3339()));
    put_some(&mut view, "expiration_time", o.expiration_time.as_ref().map(|v| json!(v)));
    for (k, v) in o.echo.iter().filter(|(k, _)| k.as_str() != "payer") {
        view.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut transactions = Map::new();
    transactions.insert("payments".into(), Value::Array(o.payments.iter().map(|p| payment_view(p, point)).collect()));
    if !o.refunds.is_empty() {
        transactions.insert("refunds".into(), Value::Array(o.refunds.iter().map(refund_view).collect()));
    }
    view.insert("transactions".into(), Value::Object(transactions));
    Value::Object(view)
}

/// A decided order: 201/200 with the order, or 402 with it under `data` when its
/// payment failed (the order exists all the same).
fn decided(status: StatusCode) -> impl Fn(&Order) -> StoredResponse + Send + Sync {
    move |order| {
        if order.status == Status::Failed {
            orders_payment_failed(order.failures(), order_view(order))
        } else {
            json_response(status, &order_view(order))
        }
    }
}

// ---------------------------------------------------------------------------------
// Handlers.

/// `POST /v1/orders`: create an online or a Point order. 201 with the order; 402
/// (the Orders `failed` error, the order under `data`) when an automatic order's
/// payment is declined.
#[utoipa::path(
    post, path = "/v1/orders", tag = "Orders",
    params(("X-Idempotency-Key" = String, Header, description = "Required; 1 to 64 characters")),
    responses(
        (status = 201, description = "The order (online: decided at once in automatic mode; point: created)"),
        (status = 400, description = "empty_required_header, invalid_idempotency_key_length, json_syntax_error, required_properties, unsupported_properties, property_type, property_value, minimum_items, maximum_items, invalid_total_amount, invalid_email_for_sandbox, order_builder_without_transactions, invalid_order_type", body = OrdersErrorBody),
        (status = 401, description = "unauthorized (flat {code,message})"),
        (status = 402, description = "failed: the payment was declined; the order is under data", body = OrdersErrorBody),
        (status = 403, description = "forbidden_checking_terminal_owner", body = OrdersErrorBody),
        (status = 409, description = "idempotency_key_already_used, already_queued_order_for_terminal", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_order(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let (principal, now) = (write.ctx.principal.clone(), write.ctx.now);
    let order = order_draft(write.body()).and_then(|draft| {
        let payment_ids: Vec<PaymentId> =
            (0..draft.payments.as_ref().map_or(0, Vec::len)).map(|_| PaymentId::new(now, random())).collect();
        new_order(draft, OrderId::new(now, random()), &payment_ids, &principal, now).map_err(Failure::from)
    });
    let op = operation(Ok(()), order, |(), order| CreateOrder { order, reference_id: reference_id() });
    Ok(write.execute(&state, op, render(FAMILY, decided(StatusCode::CREATED))).await)
}

/// `GET /v1/orders/{id}`.
#[utoipa::path(
    get, path = "/v1/orders/{order_id}", tag = "Orders",
    params(("order_id" = String, Path, description = "ORD followed by 26 characters")),
    responses(
        (status = 200, description = "The order"),
        (status = 400, description = "invalid_path_param", body = OrdersErrorBody),
        (status = 404, description = "order_not_found (also another account's)", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(raw).map_err(|f| ApiError::refused(FAMILY, f))?;
    let user = principal.user_id;
    let found = state.store.read(move |r| engine::order(r, user, &id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let order = found.ok_or_else(|| ApiError::refused(FAMILY, Failure::NotFound))?;
    Ok(json(StatusCode::OK, &order_view(&order)))
}

/// `POST /v1/orders/{id}/process`: decide a manual order (no body). 200, or 402.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/process", tag = "Orders",
    params(("order_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 200, description = "The decided order"),
        (status = 400, description = "invalid_path_param, invalid_order_mode_for_operation, invalid_total_amount, order_builder_without_transactions", body = OrdersErrorBody),
        (status = 402, description = "failed: the payment was declined; the order is under data", body = OrdersErrorBody),
        (status = 404, description = "order_not_found", body = OrdersErrorBody),
        (status = 409, description = "operation_not_supported, idempotency_key_already_used", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn process_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(order_id(raw), Ok(()), |id, ()| ProcessOrder { id, reference_id: reference_id() });
    Ok(write.execute(&state, op, render(FAMILY, decided(StatusCode::OK))).await)
}

/// `POST /v1/orders/{id}/capture`: capture an authorized order (no body). 200 with
/// the order's id, status and payments, as the capture page shows.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/capture", tag = "Orders",
    params(("order_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 200, description = "id, status, status_detail and the payments"),
        (status = 404, description = "order_not_found", body = OrdersErrorBody),
        (status = 409, description = "cannot_capture_order, idempotency_key_already_used", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn capture_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(order_id(raw), Ok(()), |id, ()| MoveOrder { id, what: Move::Capture });
    let success = |o: &Order| {
        let payments: Vec<Value> = o
            .payments
            .iter()
            .map(|p| {
                json!({
                    "id": p.id.as_str(), "amount": p.amount.to_string(), "status": p.status.as_str(),
                    "status_detail": p.status_detail, "reference_id": p.reference_id,
                })
            })
            .collect();
        let body = json!({
            "id": o.id.as_str(), "status": o.status.as_str(), "status_detail": o.status_detail,
            "transactions": { "payments": payments },
        });
        json_response(StatusCode::OK, &body)
    };
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `POST /v1/orders/{id}/cancel` (no body): 200 with the order.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/cancel", tag = "Orders",
    params(("order_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 200, description = "The canceled order"),
        (status = 404, description = "order_not_found", body = OrdersErrorBody),
        (status = 409, description = "cannot_cancel_order, order_already_canceled, idempotency_key_already_used", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let op = operation(order_id(raw), Ok(()), |id, ()| MoveOrder { id, what: Move::Cancel });
    Ok(write.execute(&state, op, render(FAMILY, |o: &Order| json_response(StatusCode::OK, &order_view(o)))).await)
}

/// `POST /v1/orders/{id}/refund`: no body refunds everything; `{"transactions":[{"id",
/// "amount"}]}` part of one payment. 201 with the order's status and the new refunds.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/refund", tag = "Orders",
    params(("order_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 201, description = "id, status, status_detail and the new refunds"),
        (status = 400, description = "refund_amount_exceeds, minimum_items, maximum_items, required_properties, property_value", body = OrdersErrorBody),
        (status = 404, description = "order_not_found, transaction_not_found", body = OrdersErrorBody),
        (status = 409, description = "cannot_refund_order, order_already_refunded, idempotency_key_already_used", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn refund_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let now = write.ctx.now;
    let op = operation(order_id(raw), refund_of(write.body()), |id, partial| RefundOrder {
        id,
        partial,
        refund_ids: (0..crate::domain::order::PAYMENTS_PER_ORDER_MAX).map(|_| RefundId::new(now, random())).collect(),
    });
    let success = |(o, refunds): &(Order, Vec<Refund>)| {
        let body = json!({
            "id": o.id.as_str(), "status": o.status.as_str(), "status_detail": o.status_detail,
            "transactions": { "refunds": refunds.iter().map(refund_view).collect::<Vec<_>>() },
        });
        json_response(StatusCode::CREATED, &body)
    };
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `POST /v1/orders/{id}/transactions`: add a payment to a manual order. 201 with
/// `{"payments":[…]}`.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/transactions", tag = "Orders",
    params(("order_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 201, description = "{\"payments\":[the new payment]}"),
        (status = 400, description = "invalid_order_mode_for_operation, exceeded_number_of_transactions, and the create page's property codes", body = OrdersErrorBody),
        (status = 404, description = "order_not_found", body = OrdersErrorBody),
        (status = 409, description = "operation_not_supported (the order is no longer created)", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn add_transaction(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let now = write.ctx.now;
    let payment = new_transaction(write.body()).and_then(|draft| {
        new_payment(draft, PaymentId::new(now, random()), OrderType::Online, "payments[0]").map_err(Failure::from)
    });
    let op = operation(order_id(raw), payment, |id, payment| AddTransaction { id, payment });
    let success = |p: &Payment| json_response(StatusCode::CREATED, &json!({ "payments": [payment_view(p, false)] }));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `PUT /v1/orders/{id}/transactions/{transaction_id}`: change a manual order's
/// payment. 200 with its `payment_method`, as the update page shows.
#[utoipa::path(
    put, path = "/v1/orders/{order_id}/transactions/{transaction_id}", tag = "Orders",
    params(("order_id" = String, Path), ("transaction_id" = String, Path), ("X-Idempotency-Key" = String, Header)),
    responses(
        (status = 200, description = "{\"payment_method\":{…}}"),
        (status = 400, description = "invalid_transaction_id, invalid_order_mode_for_operation, property codes", body = OrdersErrorBody),
        (status = 404, description = "order_not_found, transaction_not_found", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_transaction(
    State(state): State<AppState>,
    raw: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let change = read_body::<PaymentBody>(write.body()).and_then(|(typed, raw)| {
        payment_dates(&typed, "")?;
        Ok(payment_draft(typed, Some(&Value::Object(raw))))
    });
    let path = transaction_path(raw);
    let op = operation(path, change, |(id, transaction), change| UpdateTransaction { id, transaction, change });
    let success = |p: &Payment| {
        let method = p.payment_method.as_ref().map(|m| method_view(m, p.amount));
        json_response(StatusCode::OK, &json!({ "payment_method": method }))
    };
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `DELETE /v1/orders/{id}/transactions/{transaction_id}`: 204. The page declares no
/// `X-Idempotency-Key`; with one it is exactly-once.
#[utoipa::path(
    delete, path = "/v1/orders/{order_id}/transactions/{transaction_id}", tag = "Orders",
    params(("order_id" = String, Path), ("transaction_id" = String, Path), ("X-Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "invalid_path_param, invalid_transaction_id, invalid_order_mode_for_operation", body = OrdersErrorBody),
        (status = 404, description = "order_not_found, transaction_not_found", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_transaction(
    State(state): State<AppState>,
    raw: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let path = transaction_path(raw);
    let op = operation(path, Ok(()), |(id, transaction), ()| DeleteTransaction { id, transaction });
    let success = |_: &Change| empty_response(StatusCode::NO_CONTENT);
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `POST /v1/orders/{id}/events` body (the simulate page's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    status: Option<String>,
    payment_method_type: Option<String>,
    installments: Option<u32>,
    payment_method_id: Option<String>,
    status_detail: Option<String>,
}

const EVENT_BODY_INVALID: &str = "Invalid data was sent in the request body. For example, invalid status values, or fields like payment_method_id or installments with status values different from those mentioned in the field description, or additional fields not allowed.";

fn simulation_of(body: &[u8], now: Timestamp) -> Result<Simulation, Failure> {
    let invalid = |why: &str| Failure::Order(Refusal::BadRequest(format!("{EVENT_BODY_INVALID} ({why})")));
    let body: EventBody = parse_json(body, false).map_err(|f| match f {
        Failure::MalformedJson(why) | Failure::InvalidBody(why) => invalid(&why),
        other => other,
    })?;
    let status = body.status.as_deref().ok_or_else(|| invalid("status is required"))?;
    let status = simulation_status(status).ok_or_else(|| invalid("unknown status"))?;
    let final_with_method = matches!(status, Status::Processed | Status::Failed);
    if body.payment_method_id.as_ref().is_some_and(|id| {
        !["amex", "master", "visa", "debmaster", "debvisa"].contains(&id.as_str()) || !final_with_method
    }) {
        return Err(invalid("payment_method_id"));
    }
    if body.payment_method_type.as_ref().is_some_and(|t| !["debit_card", "credit_card"].contains(&t.as_str())) {
        return Err(invalid("payment_method_type"));
    }
    if body.installments.is_some() && body.payment_method_type.as_deref() != Some("credit_card") {
        return Err(invalid("installments applies to credit_card only"));
    }
    if body.installments.is_some_and(|n| n == 0 || n > INSTALLMENTS_MAX) {
        return Err(invalid("installments must be from 1 to 36"));
    }
    let debit = |id: &str| id.starts_with("deb");
    if let (Some(id), Some(kind)) = (body.payment_method_id.as_deref(), body.payment_method_type.as_deref()) {
        if debit(id) != (kind == "debit_card") {
            return Err(invalid("payment_method_id does not match payment_method_type"));
        }
    }
    let detail_ok = match (status, body.status_detail.as_deref()) {
        (_, None) => true,
        (Status::Processed, Some(d)) => d == "accredited",
        (Status::Failed, Some(d)) => SIMULATED_FAILURES.contains(&d),
        _ => false,
    };
    if !detail_ok {
        return Err(invalid("status_detail"));
    }
    Ok(Simulation {
        status,
        payment_method_type: body.payment_method_type,
        payment_method_id: body.payment_method_id,
        installments: body.installments,
        status_detail: body.status_detail,
        refund_ids: (0..crate::domain::order::PAYMENTS_PER_ORDER_MAX).map(|_| RefundId::new(now, random())).collect(),
    })
}

/// `POST /v1/orders/{id}/events`: the simulate page's test helper (test accounts
/// only). Moves the order at once (Mercado Pago's takes up to 10 s) and answers 204.
/// caja also takes `"status":"at_terminal"`, to leave a Point order at the terminal.
#[utoipa::path(
    post, path = "/v1/orders/{order_id}/events", tag = "Orders",
    params(("order_id" = String, Path)),
    responses(
        (status = 204, description = "The order moved"),
        (status = 400, description = "bad_request (path, body, or a move the machine forbids)", body = OrdersErrorBody),
        (status = 403, description = "forbidden (a live account)", body = OrdersErrorBody),
        (status = 404, description = "order_not_found", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn simulate_order(
    State(state): State<AppState>,
    raw: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let path = order_id(raw).map_err(|_| {
        Failure::Order(Refusal::BadRequest(
            "The order_id provided in the path is not a valid ULID. Check the value and try again.".into(),
        ))
    });
    let path = super::request::test_accounts_only(path, &write.ctx.principal);
    let event = simulation_of(write.body(), write.ctx.now);
    let op = operation(path, event, |id, event| SimulateOrder { id, event, reference_id: reference_id() });
    let success = |_: &Change| empty_response(StatusCode::NO_CONTENT);
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// `GET /v1/orders?begin_date&end_date&…`: the account's orders created in the range,
/// newest first unless `sort_order=asc`. `page`/`page_size` (1–100, 20), or
/// `limit`/`offset` as the Python SDK's pager sends them. Paging values are strings,
/// as the search page shows them.
#[utoipa::path(
    get, path = "/v1/orders", tag = "Orders",
    params(
        ("begin_date" = String, Query, description = "RFC 3339; required"),
        ("end_date" = String, Query, description = "RFC 3339; required"),
        ("page" = Option<u32>, Query), ("page_size" = Option<u32>, Query, description = "1 to 100; 20"),
        ("status" = Option<String>, Query), ("type" = Option<String>, Query), ("external_reference" = Option<String>, Query),
        ("sort_by" = Option<String>, Query, description = "created_date or last_updated_date"),
        ("sort_order" = Option<String>, Query, description = "asc or desc (the default)"),
    ),
    responses(
        (status = 200, description = "{\"data\":[orders],\"paging\":{total,total_pages,offset,limit} as strings}"),
        (status = 400, description = "required_search_params, invalid_search_params", body = OrdersErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_orders(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let refuse = |r: Refusal| ApiError::refused(FAMILY, Failure::Order(r));
    let invalid = |what: &str| refuse(Refusal::InvalidSearchParams(what.to_owned()));
    let Query(params) = params.map_err(|_| invalid("the query string is malformed"))?;
    const KNOWN: &[&str] = &[
        "begin_date",
        "end_date",
        "external_reference",
        "type",
        "status",
        "status_detail",
        "payment_method_id",
        "payment_method_type",
        "page",
        "page_size",
        "limit",
        "offset",
        "sort_by",
        "sort_order",
    ];
    if let Some(unknown) = params.keys().filter(|k| !KNOWN.contains(&k.as_str())).min() {
        return Err(invalid(&format!("unknown parameter {unknown}")));
    }
    let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let date = |name: &str| -> Result<Timestamp, ApiError> {
        let raw = get(name).ok_or_else(|| refuse(Refusal::RequiredSearchParams))?;
        Timestamp::parse_rfc3339(&raw).ok_or_else(|| invalid(&format!("{name} must be an RFC 3339 date")))
    };
    let (begin, end) = (date("begin_date")?, date("end_date")?);
    let number = |name: &str, min: u64, max: u64| -> Result<Option<u64>, ApiError> {
        get(name)
            .map(|raw| {
                raw.parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| invalid(&format!("{name} must be from {min} to {max}")))
            })
            .transpose()
    };
    let size = number("page_size", 1, SEARCH_PAGE_SIZE_MAX as u64)?;
    let limit = number("limit", 1, SEARCH_PAGE_SIZE_MAX as u64)?;
    let page = number("page", 1, u32::MAX as u64)?;
    let offset = number("offset", 0, u64::MAX / 2)?;
    let limit = size.or(limit).unwrap_or(SEARCH_PAGE_SIZE_DEFAULT as u64) as u32;
    let offset = match page {
        Some(page) => (page - 1) * limit as u64,
        None => offset.unwrap_or(0),
    };
    let by_last_update = match get("sort_by").as_deref() {
        None | Some("created_date") => false,
        Some("last_updated_date") => true,
        Some(_) => return Err(invalid("sort_by must be created_date or last_updated_date")),
    };
    let ascending = match get("sort_order").as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(invalid("sort_order must be asc or desc")),
    };
    let order_type =
        get("type").map(|t| OrderType::parse(&t).ok_or_else(|| invalid("type must be online or point"))).transpose()?;
    let status = get("status").map(|s| Status::parse(&s).ok_or_else(|| invalid("unknown status"))).transpose()?;
    let query = OrderSearch {
        begin,
        end,
        external_reference: get("external_reference"),
        order_type,
        status,
        status_detail: get("status_detail"),
        payment_method_id: get("payment_method_id"),
        payment_method_type: get("payment_method_type"),
        by_last_update,
        ascending,
        offset,
        limit,
    };
    let user = principal.user_id;
    let (orders, total) =
        state.store.read(move |r| engine::search(r, user, &query)).await.map_err(|e| read_failed(FAMILY, e))?;
    let body = json!({
        "data": orders.iter().map(order_view).collect::<Vec<_>>(),
        "paging": {
            "total": total.to_string(),
            "total_pages": total.div_ceil(limit as u64).to_string(),
            "offset": offset.to_string(),
            "limit": limit.to_string(),
        },
    });
    Ok(json(StatusCode::OK, &body))
}
