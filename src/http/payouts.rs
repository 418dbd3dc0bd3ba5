//! The payouts family: `/v1/payouts…`.
//!
//! Beyond the shared pipeline, every request checks the account's payouts permission
//! right after authentication, and every POST and PUT checks `X-signature` right
//! after the required headers.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody, ErrorKind, Family};
use super::paging::{self, Paging};
use super::request::{
    json, json_response, moved, operation, parse_json, query, read_failed, render, test_accounts_only, Write,
    WriteRequest,
};
use super::AppState;
use crate::domain::payout::{
    self, Amount, CancelNote, NewPayout, Payout, PayoutDraft, PayoutId, Transaction, TransactionDraft, TransactionId,
    TransactionStatus,
};
use crate::domain::Principal;
use crate::engine::payouts::{self as engine, CancelTransaction, CreatePayout, MoveTransaction};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Payouts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/payouts", post(create_payout))
        .route("/v1/payouts/{payout_id}", get(get_payout))
        .route("/v1/payouts/{payout_id}/transactions", get(list_transactions))
        .route("/v1/payouts/{payout_id}/transactions/{transaction_id}", get(get_transaction))
        .route("/v1/payouts/{payout_id}/transactions/{transaction_id}/cancel", put(cancel_transaction))
        .route("/v1/payouts/{payout_id}/transactions/{transaction_id}/events", post(transaction_event))
}

// ---- bodies and views ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePayoutBody {
    pub external_reference: Option<String>,
    pub description: Option<String>,
    /// UTC, in the future: `2026-12-01T10:00:00`. Absent: processed at once.
    #[schema(example = "2026-12-01T10:00:00")]
    pub schedule_date: Option<String>,
    pub config: Option<PayoutConfigBody>,
    /// 1 to 1000 transactions.
    pub transactions: Option<Vec<TransactionBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PayoutConfigBody {
    /// Where this payout's notifications go (overrides the account's).
    pub notification_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransactionBody {
    /// Always `account`.
    #[serde(rename = "type")]
    #[schema(example = "account")]
    pub kind: Option<String>,
    /// The destination account, kept as given.
    #[schema(value_type = Object)]
    pub account: Option<serde_json::Value>,
    pub amount: Option<AmountBody>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AmountBody {
    /// The currency of the token's site (`ARS` on MLA, `BRL` on MLB, …).
    #[schema(example = "BRL")]
    pub currency: Option<String>,
    /// Positive, at most 2 decimals.
    #[schema(value_type = f64, example = 10.5)]
    pub value: Option<serde_json::Number>,
}

impl CreatePayoutBody {
    fn into_draft(self) -> PayoutDraft {
        PayoutDraft {
            external_reference: self.external_reference,
            description: self.description,
            schedule_date: self.schedule_date,
            notification_url: self.config.and_then(|c| c.notification_url),
            transactions: self.transactions.map(|ts| ts.into_iter().map(TransactionBody::into_draft).collect()),
        }
    }
}

impl TransactionBody {
    fn into_draft(self) -> TransactionDraft {
        let (currency, value) = self.amount.map_or((None, None), |a| (a.currency, a.value.map(|v| v.to_string())));
        TransactionDraft {
            kind: self.kind,
            account_json: self.account.filter(serde_json::Value::is_object).map(|a| a.to_string()),
            currency,
            value,
            description: self.description,
            external_reference: self.external_reference,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutView {
    #[schema(example = "48213576901234")]
    pub id: String,
    /// `pending` when created.
    pub status: &'static str,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub schedule_date: Option<String>,
    pub created_date: String,
    pub transactions: Vec<TransactionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    #[schema(example = "73019283746501")]
    pub id: String,
    /// `pending`, `in_process`, `processed`, `failed`, `rejected` or `canceled`.
    pub status: &'static str,
    /// Why it is in its status, as the transaction statuses page lists the details:
    /// `approved` once processed, `failed` on error, `other_reason` when rejected;
    /// `null` while pending, in process or after a cancel (the page's "-").
    pub status_detail: Option<&'static str>,
    pub amount: AmountView,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub created_date: String,
    pub last_update_date: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AmountView {
    pub currency: &'static str,
    #[schema(value_type = f64, example = 10.5)]
    pub value: serde_json::Number,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionList {
    pub paging: Paging,
    pub transactions: Vec<TransactionView>,
}

fn amount_view(amount: Amount) -> AmountView {
    AmountView { currency: amount.currency, value: cents_number(amount.cents) }
}

/// Cents as the JSON number the payouts pages show (`150`, `150.25`); Money Out's too.
pub(super) fn cents_number(cents: i64) -> serde_json::Number {
    if cents % 100 == 0 {
        serde_json::Number::from(cents / 100)
    } else {
        serde_json::Number::from_f64(cents as f64 / 100.0).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

impl From<&Transaction> for TransactionView {
    fn from(t: &Transaction) -> Self {
        TransactionView {
            id: t.id.to_string(),
            status: t.status.as_str(),
            status_detail: payout::status_detail(t.status),
            amount: amount_view(t.amount),
            description: t.description.clone(),
            external_reference: t.external_reference.clone(),
            created_date: t.created_at.to_rfc3339(),
            last_update_date: t.updated_at.to_rfc3339(),
        }
    }
}

fn payout_view(payout: &Payout, transactions: &[Transaction]) -> PayoutView {
    PayoutView {
        id: payout.id.to_string(),
        status: TransactionStatus::Pending.as_str(),
        external_reference: payout.external_reference.clone(),
        description: payout.description.clone(),
        schedule_date: payout.schedule_date.map(|d| d.to_rfc3339()),
        created_date: payout.created_at.to_rfc3339(),
        transactions: transactions.iter().map(TransactionView::from).collect(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelBody {
    /// Why: kept in the audit record (up to 1000 characters).
    pub comments: Option<String>,
    /// Who: kept in the audit record (up to 255 characters).
    pub deleted_by: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransactionEventBody {
    /// `in_process`, `processed`, `failed` or `rejected`.
    #[schema(example = "in_process")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only transactions in this status.
    pub status: Option<String>,
    /// 1 to 100; 30 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
}

// ---- shared steps ----

/// The account's payouts permission (Money Out's too): 403 `forbidden` without it.
pub(super) fn gate(principal: &Principal) -> Result<(), ApiError> {
    if principal.payouts_enabled {
        Ok(())
    } else {
        Err(ApiError::new(FAMILY, ErrorKind::PayoutsDisabled))
    }
}

fn path_ids(path: Result<Path<(String, String)>, PathRejection>) -> Result<(PayoutId, TransactionId), Failure> {
    let Ok(Path((payout, transaction))) = path else {
        return Err(Failure::InvalidPathParam(PathParam::PayoutId));
    };
    let payout = PayoutId::parse(&payout).ok_or(Failure::InvalidPathParam(PathParam::PayoutId))?;
    let transaction = TransactionId::parse(&transaction).ok_or(Failure::InvalidPathParam(PathParam::TransactionId))?;
    Ok((payout, transaction))
}

/// Authenticate, gate, check the key and the signature.
async fn begin(state: &AppState, request: &WriteRequest) -> Result<Write, ApiError> {
    let write = Write::begin(state, FAMILY, request).await?;
    gate(&write.ctx.principal)?;
    write.verify_signature(state, request).await?;
    Ok(write)
}

// ---- handlers ----

/// Create a payout of 1 to 1000 transactions, processed at `schedule_date` (or at once).
#[utoipa::path(
    post, path = "/v1/payouts", tag = "Payouts",
    params(
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
        ("X-signature" = Option<String>, Header, description = "Base64 Ed25519 signature of the raw body; required for live accounts"),
        ("X-Enforce-Signature" = Option<bool>, Header, description = "Test accounts: `true` (with X-Test-Token) to have the signature checked"),
        ("X-Test-Token" = Option<bool>, Header, description = "`true` for test requests"),
    ),
    request_body = CreatePayoutBody,
    responses(
        (status = 202, description = "Accepted", body = PayoutView),
        (status = 400, description = "idempotency_key_required, invalid_idempotency_key, invalid_signature, bad_request", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden: payouts are disabled for the account", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "internal_server_error", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_payout(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let (site, now) = (write.ctx.principal.site_id, write.ctx.now);
    let parsed = parse_json::<CreatePayoutBody>(write.body(), false)
        .and_then(|body| NewPayout::parse(body.into_draft(), site, now).map_err(|err| Failure::InvalidBody(err.0)));
    let op = operation(Ok(()), parsed, |(), new| {
        let mut rng = rand::rng();
        let mut draw = || rng.random_range(payout::ISSUED_ID_MIN..=payout::ISSUED_ID_MAX);
        let id = PayoutId::new(draw()).unwrap_or_else(|| unreachable!("drawn ids are positive"));
        let transaction_ids = new
            .transactions
            .iter()
            .map(|_| TransactionId::new(draw()).unwrap_or_else(|| unreachable!("drawn ids are positive")))
            .collect();
        CreatePayout { id, transaction_ids, new }
    });
    let success = |(payout, transactions): &(Payout, Vec<Transaction>)| {
        json_response(StatusCode::ACCEPTED, &payout_view(payout, transactions))
    };
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// List a payout's transactions, in creation order.
#[utoipa::path(
    get, path = "/v1/payouts/{payout_id}/transactions", tag = "Payouts",
    params(("payout_id" = String, Path, description = "The payout's decimal id"), ListParams),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionList),
        (status = 400, description = "invalid_payout_id, bad_request (status, limit or offset)", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (also another account's payout)", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_transactions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    gate(&principal)?;
    let refuse = |failure| ApiError::refused(FAMILY, failure);
    let payout = path
        .ok()
        .and_then(|Path(raw)| PayoutId::parse(&raw))
        .ok_or_else(|| refuse(Failure::InvalidPathParam(PathParam::PayoutId)))?;
    let params = query(FAMILY, params)?;
    let (status, limit, offset) = list_params(params).map_err(refuse)?;
    let user = principal.user_id;
    let page = state
        .store
        .read(move |r| engine::transaction_page(r, user, payout, status.as_deref(), limit, offset))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let page = page.ok_or_else(|| refuse(Failure::NotFound))?;
    Ok(json(
        StatusCode::OK,
        &TransactionList {
            paging: Paging { limit, offset, total: page.total },
            transactions: page.items.iter().map(TransactionView::from).collect(),
        },
    ))
}

fn list_params(params: ListParams) -> Result<(Option<String>, u32, u64), Failure> {
    let status = match params.status {
        None => None,
        Some(raw) if raw.is_empty() => None,
        Some(raw) if payout::DOCUMENTED_STATUSES.contains(&raw.as_str()) => Some(raw),
        Some(_) => {
            return Err(Failure::InvalidBody(format!(
                "status must be one of {}",
                payout::DOCUMENTED_STATUSES.join(", ")
            )))
        }
    };
    let (limit, offset) = paging::parse(params.limit.as_deref(), params.offset.as_deref())?;
    Ok((status, limit, offset))
}

/// A payout as `GET /v1/payouts/{payout_id}` answers it (P3).
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutSummaryView {
    #[schema(example = "48213576901234")]
    pub id: String,
    /// `pending`, `in_process`, `completed` or `canceled`, from its transactions.
    pub status: &'static str,
    pub external_reference: Option<String>,
    pub config: PayoutConfigView,
    pub summary: SummaryView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutConfigView {
    pub notification_url: Option<String>,
}

/// Transactions by outcome: waiting, canceled, paid, refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    pub pending: Items,
    pub canceled: Items,
    pub success: Items,
    pub error: Items,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Items {
    pub items: u64,
}

/// Read a payout: its status and a summary of its transactions.
#[utoipa::path(
    get, path = "/v1/payouts/{payout_id}", tag = "Payouts",
    params(("payout_id" = String, Path, description = "The payout's decimal id")),
    responses(
        (status = 200, description = "The payout", body = PayoutSummaryView),
        (status = 400, description = "invalid_payout_id", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (also another account's payout)", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_payout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    gate(&principal)?;
    let refuse = |failure| ApiError::refused(FAMILY, failure);
    let id = path
        .ok()
        .and_then(|Path(raw)| PayoutId::parse(&raw))
        .ok_or_else(|| refuse(Failure::InvalidPathParam(PathParam::PayoutId)))?;
    let user = principal.user_id;
    let found =
        state.store.read(move |r| engine::payout_summary(r, user, id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let (payout, summary, status) = found.ok_or_else(|| refuse(Failure::NotFound))?;
    Ok(json(
        StatusCode::OK,
        &PayoutSummaryView {
            id: payout.id.to_string(),
            status,
            external_reference: payout.external_reference,
            config: PayoutConfigView { notification_url: payout.notification_url },
            summary: SummaryView {
                pending: Items { items: summary.pending },
                canceled: Items { items: summary.canceled },
                success: Items { items: summary.success },
                error: Items { items: summary.error },
            },
        },
    ))
}

/// Read one transaction of a payout.
#[utoipa::path(
    get, path = "/v1/payouts/{payout_id}/transactions/{transaction_id}", tag = "Payouts",
    params(
        ("payout_id" = String, Path, description = "The payout's decimal id"),
        ("transaction_id" = String, Path, description = "The transaction's decimal id"),
    ),
    responses(
        (status = 200, description = "The transaction", body = TransactionView),
        (status = 400, description = "invalid_payout_id, invalid_transaction_id (malformed, or not in this payout)", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_transaction(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    gate(&principal)?;
    let (payout, transaction) = path_ids(path).map_err(|f| ApiError::refused(FAMILY, f))?;
    let user = principal.user_id;
    let found = state
        .store
        .read(move |r| engine::transaction(r, user, payout, transaction))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let t = found.map_err(|f| ApiError::refused(FAMILY, f))?;
    Ok(json(StatusCode::OK, &TransactionView::from(&t)))
}

/// Cancel a transaction that is `pending` or `in_process`.
#[utoipa::path(
    put, path = "/v1/payouts/{payout_id}/transactions/{transaction_id}/cancel", tag = "Payouts",
    params(
        ("payout_id" = String, Path, description = "The payout's decimal id"),
        ("transaction_id" = String, Path, description = "The transaction's decimal id"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
        ("X-signature" = Option<String>, Header, description = "Base64 Ed25519 signature of the raw body (of the empty string when there is none)"),
        ("X-Enforce-Signature" = Option<bool>, Header, description = "Test accounts: `true` (with X-Test-Token) to have the signature checked"),
        ("X-Test-Token" = Option<bool>, Header, description = "`true` for test requests"),
    ),
    request_body(content = Option<CancelBody>, description = "Optional; kept in the audit record"),
    responses(
        (status = 204, description = "Canceled"),
        (status = 400, description = "idempotency_key_required, invalid_idempotency_key, invalid_signature, invalid_payout_id, invalid_transaction_id, bad_request", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
        (status = 412, description = "precondition_failed: the transaction is processed, failed, rejected or canceled", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "internal_server_error", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_transaction(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let note = parse_json::<CancelBody>(write.body(), true)
        .and_then(|b| CancelNote::parse(b.comments, b.deleted_by).map_err(|e| Failure::InvalidBody(e.0)));
    let op =
        operation(path_ids(path), note, |(payout, transaction), note| CancelTransaction { payout, transaction, note });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::NO_CONTENT))).await)
}

/// Test helper: move a transaction as processing would (test accounts only).
#[utoipa::path(
    post, path = "/v1/payouts/{payout_id}/transactions/{transaction_id}/events", tag = "Test helpers",
    params(
        ("payout_id" = String, Path, description = "The payout's decimal id"),
        ("transaction_id" = String, Path, description = "The transaction's decimal id"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    request_body = TransactionEventBody,
    responses(
        (status = 204, description = "Moved"),
        (status = 400, description = "bad_request (also a transition the machine forbids), invalid_payout_id, invalid_transaction_id", body = ErrorBody),
        (status = 401, description = "invalid_token", body = ErrorBody),
        (status = 403, description = "forbidden: live account, or payouts disabled", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn transaction_event(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = begin(&state, &request).await?;
    let path = test_accounts_only(path_ids(path), &write.ctx.principal);
    let body = parse_json::<TransactionEventBody>(write.body(), false).and_then(event_target);
    let processing_delay_ms = state.payout_processing_delay_ms();
    let op = operation(path, body, |(payout, transaction), to| MoveTransaction {
        payout,
        transaction,
        to,
        processing_delay_ms,
    });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::NO_CONTENT))).await)
}

fn event_target(body: TransactionEventBody) -> Result<TransactionStatus, Failure> {
    body.status
        .as_deref()
        .and_then(TransactionStatus::parse)
        .filter(|s| *s != TransactionStatus::Pending && *s != TransactionStatus::Canceled)
        .ok_or_else(|| Failure::InvalidBody("status must be one of in_process, processed, failed, rejected".into()))
}
