//! Money Out: `POST /v1/transaction-intents/process` and `GET
//! /v1/transaction-intents/{transaction_intent_id}` (see
//! `domain::transaction_intent` for the pages followed and the choices made where
//! they disagree). Money Out is the payouts product's: the same permission, the same
//! signature rules (`X-signature` for live accounts, or for test requests that send
//! `X-Enforce-Signature: true`) and the payouts error format.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, ErrorKind, Family};
use super::payouts::{cents_number, gate};
use super::request::{json, json_response, operation, parse_json, read_failed, render, Write, WriteRequest};
use super::AppState;
use crate::domain::transaction_intent::{
    self, DestinationDraft, IntentDraft, IntentId, TransactionIntent, INTERNAL_SERVER_ERROR,
};
use crate::domain::Principal;
use crate::engine::transaction_intents::{self as engine, CreateIntent};
use crate::engine::Failure;

const FAMILY: Family = Family::Payouts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/transaction-intents/process", post(process))
        .route("/v1/transaction-intents/{transaction_intent_id}", get(get_intent))
}

// ---- bodies ----

/// The configuration page's body. Amounts are JSON numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessBody {
    /// Up to 64 letters, numbers, `-` and `_`. With `X-Test-Token: true` it selects
    /// the outcome (the test page's table: `new`, `failed_by_bank`, `reverted`, …).
    pub external_reference: Option<String>,
    /// `{"type":"PSP_TRANSFER"}`, or `"PSP_TRANSFER"` as the page's curl sends it.
    #[schema(value_type = Object)]
    pub point_of_interaction: Option<Value>,
    pub seller_configuration: Option<SellerConfiguration>,
    pub transaction: Option<TransactionBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerConfiguration {
    pub notification_info: Option<NotificationInfo>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationInfo {
    /// Up to 500 characters.
    pub notification_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionBody {
    pub from: Option<FromBody>,
    pub to: Option<ToBody>,
    #[schema(value_type = f64)]
    pub total_amount: Option<Number>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromBody {
    pub accounts: Option<Vec<FromAccount>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromAccount {
    #[schema(value_type = f64)]
    pub amount: Option<Number>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToBody {
    /// Exactly one destination account.
    pub accounts: Option<Vec<ToAccount>>,
}

/// A Pix key (`chave`) or a bank account (`bank_id`, `number`; on MLB also
/// `branch`, `holder`, `provider_id: "spi"`, `currency_id: "BRL"`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToAccount {
    /// `current` or `mercadopago`.
    #[serde(rename = "type")]
    pub account_type: Option<String>,
    #[schema(value_type = f64)]
    pub amount: Option<Number>,
    pub chave: Option<ChaveBody>,
    pub bank_id: Option<String>,
    pub branch: Option<String>,
    pub holder: Option<String>,
    pub provider_id: Option<String>,
    pub currency_id: Option<String>,
    pub number: Option<String>,
    pub owner: Option<OwnerBody>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaveBody {
    /// `EMAIL`, `PHONE`, `CPF`, `CNPJ` or `PIX_CODE`.
    #[serde(rename = "type")]
    pub chave_type: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerBody {
    pub identification: Option<IdentificationBody>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentificationBody {
    /// `CPF` or `CNPJ` (MLB), `RUT` (MLC).
    #[serde(rename = "type")]
    pub identification_type: Option<String>,
    pub number: Option<String>,
}

impl ProcessBody {
    fn into_draft(self) -> IntentDraft {
        let point_of_interaction = match self.point_of_interaction {
            Some(Value::String(kind)) => Some(kind),
            Some(Value::Object(fields)) => fields.get("type").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let transaction = self.transaction;
        let (from, to, total) = match transaction {
            Some(t) => (t.from, t.to, t.total_amount),
            None => (None, None, None),
        };
        let text = |n: Option<Number>| n.map(|n| n.to_string());
        IntentDraft {
            external_reference: self.external_reference,
            point_of_interaction,
            notification_url: self
                .seller_configuration
                .and_then(|c| c.notification_info)
                .and_then(|n| n.notification_url),
            from_amounts: from
                .and_then(|f| f.accounts)
                .unwrap_or_default()
                .into_iter()
                .map(|a| text(a.amount).unwrap_or_default())
                .collect(),
            to: to
                .and_then(|t| t.accounts)
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    let (owner_type, owner_number) = match a.owner.and_then(|o| o.identification) {
                        Some(id) => (id.identification_type, id.number),
                        None => (None, None),
                    };
                    let (chave_type, chave_value) = match a.chave {
                        Some(c) => (c.chave_type.or(Some(String::new())), c.value),
                        None => (None, None),
                    };
                    DestinationDraft {
                        account_type: a.account_type,
                        amount: text(a.amount),
                        chave_type,
                        chave_value,
                        bank_id: a.bank_id,
                        branch: a.branch,
                        holder: a.holder,
                        provider_id: a.provider_id,
                        currency_id: a.currency_id,
                        number: a.number,
                        owner_identification_type: owner_type,
                        owner_identification_number: owner_number,
                    }
                })
                .collect(),
            total_amount: text(total),
        }
    }
}

// ---- views ----

/// An intent as the configuration page's answer shows it (amounts as numbers).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntentView {
    pub id: String,
    pub status: String,
    pub created_date: String,
    pub external_reference: Option<String>,
    pub last_updated_date: String,
    pub point_of_interaction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_configuration: Option<SellerConfigurationView>,
    #[schema(value_type = Object)]
    pub transaction: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SellerConfigurationView {
    pub notification_info: NotificationInfo,
}

fn money(cents: i64) -> Value {
    Value::Number(cents_number(cents))
}

fn view(intent: &TransactionIntent) -> IntentView {
    let d = &intent.destination;
    let mut to = serde_json::json!({
        "type": d.account_type,
        "amount": money(intent.amount_cents),
        "status_detail": intent.status_detail,
        "owner": { "identification": { "number": d.owner_identification_number, "type": d.owner_identification_type } },
    });
    let fields = [
        ("bank_id", &d.bank_id),
        ("branch", &d.branch),
        ("holder", &d.holder),
        ("provider_id", &d.provider_id),
        ("currency_id", &d.currency_id),
        ("number", &d.number),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            to[name] = Value::from(value.clone());
        }
    }
    if let Some(chave) = &d.chave {
        to["chave"] = serde_json::json!({ "type": chave.chave_type, "value": chave.value });
    }
    let mut from = serde_json::json!({ "amount": money(intent.amount_cents) });
    if let Some(detail) = intent.status_detail.as_ref().filter(|_| intent.test_request) {
        from["status_detail"] = Value::from(detail.clone());
    }
    IntentView {
        id: intent.id.as_str().to_owned(),
        status: intent.status.clone(),
        created_date: intent.created_at.to_rfc3339(),
        external_reference: intent.external_reference.clone(),
        last_updated_date: intent.updated_at.to_rfc3339(),
        point_of_interaction: "PSP_TRANSFER",
        seller_configuration: intent.notification_url.as_ref().map(|url| SellerConfigurationView {
            notification_info: NotificationInfo { notification_url: Some(url.clone()) },
        }),
        transaction: serde_json::json!({
            "from": { "accounts": [from] },
            "to": { "accounts": [to] },
            "paid_amount": money(intent.paid_cents()),
            "refunded_amount": money(intent.refunded_cents),
            "payer": { "id": intent.user_id.get() },
            "total_amount": money(intent.amount_cents),
        }),
    }
}

// ---- handlers ----

/// Make and process a transfer to one destination account, in one request.
#[utoipa::path(
    post, path = "/v1/transaction-intents/process", tag = "Money Out",
    params(
        ("X-Idempotency-Key" = Option<String>, Header, description = "1 to 64 characters; optional (the test page sends none)"),
        ("X-signature" = Option<String>, Header, description = "Base64 Ed25519 signature of the raw body; required for live accounts"),
        ("X-Enforce-Signature" = Option<bool>, Header, description = "Test accounts: `true` (with X-Test-Token) to have the signature checked"),
        ("X-Test-Token" = Option<bool>, Header, description = "`true` for a test request: its external_reference selects the outcome"),
    ),
    request_body = ProcessBody,
    responses(
        (status = 202, description = "Accepted and processed", body = IntentView),
        (status = 400, description = "invalid_idempotency_key, invalid_signature, bad_request", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden: payouts are disabled for the account", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "internal_server_error (a test request whose external_reference is internal_server_error)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn process(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    // The key is taken when sent and not required (the test page sends none).
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    gate(&write.ctx.principal)?;
    write.verify_signature(&state, &request).await?;
    let principal = write.ctx.principal.clone();
    let test_request = !principal.live_mode && request.flag("x-test-token");
    let parsed = parse_json::<ProcessBody>(write.body(), false).and_then(|body| {
        transaction_intent::validate(body.into_draft(), principal.site_id).map_err(|err| Failure::InvalidBody(err.0))
    });
    // The test page's one outcome that makes nothing: a 500, never stored, so a
    // retry with the key answers it again.
    if test_request && parsed.as_ref().is_ok_and(|new| new.external_reference.as_deref() == Some(INTERNAL_SERVER_ERROR))
    {
        return Err(ApiError::new(FAMILY, ErrorKind::Internal));
    }
    let now = write.ctx.now;
    let op = operation(Ok(()), parsed, |(), new| CreateIntent {
        id: IntentId::new(principal.user_id, now, rand::random()),
        new,
        test_request,
        notification_id: rand::random::<u64>() % 1_000_000_000_000,
    });
    let success = |intent: &TransactionIntent| json_response(StatusCode::ACCEPTED, &view(intent));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// An intent of the account, by id.
#[utoipa::path(
    get, path = "/v1/transaction-intents/{transaction_intent_id}", tag = "Money Out",
    params(("transaction_intent_id" = String, Path, description = "As the creation answered it")),
    responses(
        (status = 200, description = "The intent", body = IntentView),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (also another account's, or an id that cannot be one)", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_intent(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    gate(&principal)?;
    let not_found = || ApiError::refused(FAMILY, Failure::NotFound);
    let id = path.ok().and_then(|Path(raw)| IntentId::parse(&raw)).ok_or_else(not_found)?;
    let user = principal.user_id;
    let found = state
        .store
        .read(move |r| engine::get(r, user, &id))
        .await
        .map_err(|e| read_failed(FAMILY, e))?
        .ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &view(&found)))
}
