//! The Point terminal actions family: `/terminals/v1/actions…`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody, Family};
use super::paging::{self, Paging};
use super::request::{
    json, json_response, moved, operation, parse_json, query, read_failed, render, test_accounts_only, Write,
    WriteRequest,
};
use super::AppState;
use crate::domain::terminal::Terminal;
use crate::domain::terminal_action::{ActionDraft, ActionId, ActionStatus, NewAction, PropertyError, TerminalAction};
use crate::domain::Principal;
use crate::engine::point::{self as engine, CancelAction, CreateAction, MoveAction, SetupTerminals};
use crate::engine::{Failure, PathParam};

const FAMILY: Family = Family::Point;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/terminals/v1/actions", post(create_action))
        .route("/terminals/v1/actions/{action_id}", get(get_action))
        .route("/terminals/v1/actions/{action_id}/cancel", post(cancel_action))
        .route("/terminals/v1/actions/{action_id}/events", post(action_event))
        .route("/terminals/v1/list", get(list_terminals))
        .route("/terminals/v1/setup", patch(setup_terminals))
}

/// `PATCH /terminals/v1/setup` body: the terminals whose operating mode changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    pub terminals: Option<Vec<SetupTerminalBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupTerminalBody {
    #[schema(example = "NEWLAND_N950__N950NCB801293324")]
    pub id: Option<String>,
    /// `PDV` or `STANDALONE`.
    #[schema(example = "PDV")]
    pub operating_mode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupTerminalView {
    pub id: String,
    pub operating_mode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupView {
    pub terminals: Vec<SetupTerminalView>,
}

fn setup_terminals_of(body: SetupBody) -> Result<Vec<(String, String)>, Failure> {
    let property = |error, detail: &str| Failure::Property { error, detail: detail.to_owned() };
    let terminals = body.terminals.filter(|t| !t.is_empty());
    let Some(terminals) = terminals else {
        return Err(property(PropertyError::Required, "terminals is required"));
    };
    terminals
        .into_iter()
        .map(|t| {
            let id = t.id.ok_or_else(|| property(PropertyError::Required, "terminals[].id is required"))?;
            let mode = t
                .operating_mode
                .ok_or_else(|| property(PropertyError::Required, "terminals[].operating_mode is required"))?;
            if !["PDV", "STANDALONE"].contains(&mode.as_str()) {
                return Err(property(PropertyError::Value, "terminals[].operating_mode must be PDV or STANDALONE"));
            }
            Ok((id, mode))
        })
        .collect()
}

/// Change the operating mode of the caller's terminals.
#[utoipa::path(
    patch, path = "/terminals/v1/setup", tag = "Point terminal actions",
    params(("X-Idempotency-Key" = Option<String>, Header, description = "Optional; 1 to 64 characters")),
    request_body = SetupBody,
    responses(
        (status = 200, description = "The terminals with their new mode", body = SetupView),
        (status = 400, description = "required_properties, property_value, unsupported_properties, property_type, bad_request (not JSON)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "not_found (a terminal that is not the caller's)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn setup_terminals(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    // The setup page declares no idempotency key: with one it is exactly-once.
    let write = Write::begin_with(&state, FAMILY, &request, true).await?;
    let terminals = parse_json::<SetupBody>(write.body(), false).map_err(property_error).and_then(setup_terminals_of);
    let op = operation(Ok(()), terminals, |(), terminals| SetupTerminals { terminals });
    let success = |changed: &Vec<Terminal>| {
        let terminals = changed
            .iter()
            .map(|t| SetupTerminalView { id: t.id.clone(), operating_mode: t.operating_mode.clone() })
            .collect();
        json_response(StatusCode::OK, &SetupView { terminals })
    };
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// Terminals per page when the request names none, and the most (the list page's).
pub const TERMINAL_PAGE_LIMIT_MAX: u32 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerminalListParams {
    /// 1 to 50; 50 when absent.
    pub limit: Option<String>,
    /// From 0.
    pub offset: Option<String>,
    /// Only the terminals of this store.
    pub store_id: Option<String>,
    /// Only the terminal of this point of sale.
    pub pos_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalView {
    #[schema(example = "NEWLAND_N950__N950NCB123456789")]
    pub id: String,
    pub pos_id: Option<i64>,
    pub store_id: Option<i64>,
    pub external_pos_id: Option<String>,
    /// `PDV`, `STANDALONE` or `UNDEFINED`.
    pub operating_mode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalsData {
    pub terminals: Vec<TerminalView>,
}

/// `{"data":{"terminals":[…]},"paging":{"total","offset","limit"}}`, as the list page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TerminalList {
    pub data: TerminalsData,
    pub paging: Paging,
}

/// List the caller's Point terminals.
#[utoipa::path(
    get, path = "/terminals/v1/list", tag = "Point terminal actions",
    params(TerminalListParams),
    responses(
        (status = 200, description = "A page of terminals, oldest first", body = TerminalList),
        (status = 400, description = "bad_request (limit, offset, store_id or pos_id)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_terminals(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<TerminalListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let refuse = |failure| ApiError::refused(FAMILY, failure);
    let params = query(FAMILY, params)?;
    let limit_param = params.limit.as_deref().filter(|l| !l.is_empty());
    if limit_param.and_then(|l| l.parse::<u32>().ok()).is_some_and(|l| l > TERMINAL_PAGE_LIMIT_MAX) {
        return Err(refuse(Failure::InvalidBody("limit must be an integer from 1 to 50".into())));
    }
    let (limit, offset) =
        paging::parse_with(TERMINAL_PAGE_LIMIT_MAX, limit_param, params.offset.as_deref()).map_err(refuse)?;
    let number = |raw: Option<String>, name: &str| match raw.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => {
            raw.parse::<i64>().map(Some).map_err(|_| refuse(Failure::InvalidBody(format!("{name} must be a number"))))
        }
    };
    let (store_id, pos_id) = (number(params.store_id, "store_id")?, number(params.pos_id, "pos_id")?);
    let user = principal.user_id;
    let page = state
        .store
        .read(move |r| engine::terminal_page(r, user, store_id, pos_id, limit, offset))
        .await
        .map_err(|e| read_failed(FAMILY, e))?;
    let terminals = page
        .items
        .into_iter()
        .map(|t| TerminalView {
            id: t.id,
            pos_id: t.pos_id,
            store_id: t.store_id,
            external_pos_id: t.external_pos_id,
            operating_mode: t.operating_mode,
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &TerminalList { data: TerminalsData { terminals }, paging: Paging { limit, offset, total: page.total } },
    ))
}

/// A body the JSON reader refused, in the create page's terms: a property the action
/// does not have is `unsupported_properties`, one of the wrong type `property_type`.
fn property_error(failure: Failure) -> Failure {
    match failure {
        Failure::InvalidBody(detail) if detail.contains("unknown field") => {
            Failure::Property { error: PropertyError::Unsupported, detail }
        }
        Failure::InvalidBody(detail) => Failure::Property { error: PropertyError::Type, detail },
        other => other,
    }
}

/// `POST /terminals/v1/actions` body. Every field is required except
/// `external_reference`; each missing one is named in the 400 message. A property
/// not listed here is refused (`unsupported_properties`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActionBody {
    /// Always `print`.
    #[serde(rename = "type")]
    #[schema(example = "print")]
    pub kind: Option<String>,
    /// Up to 64 letters, digits, `_` or `-`.
    pub external_reference: Option<String>,
    pub config: Option<ActionConfigBody>,
    /// What to print: text for `custom`, base64 for `image`; 1 to 65536 characters.
    pub content: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionConfigBody {
    pub point: Option<PointConfigBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointConfigBody {
    /// `<brand>_<model>__<serial>`, 1 to 64 letters, digits or underscores.
    #[schema(example = "NEWLAND_N950__N950NCB123456789")]
    pub terminal_id: Option<String>,
    /// `custom` or `image`.
    #[schema(example = "custom")]
    pub subtype: Option<String>,
}

impl CreateActionBody {
    fn into_draft(self) -> ActionDraft {
        let point = self.config.and_then(|c| c.point);
        let (terminal_id, subtype) = point.map_or((None, None), |p| (p.terminal_id, p.subtype));
        ActionDraft {
            kind: self.kind,
            external_reference: self.external_reference,
            terminal_id,
            subtype,
            content: self.content,
        }
    }
}

/// A terminal action as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionView {
    #[schema(example = "4f6d3a1e-2b7c-4d8e-9f01-23456789abcd")]
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "print")]
    pub kind: &'static str,
    pub external_reference: Option<String>,
    /// `created`, `at_terminal`, `processed`, `failed` or `canceled`.
    #[schema(example = "created")]
    pub status: &'static str,
    pub config: ActionConfigView,
    #[schema(example = "2026-11-24T10:00:00.000Z")]
    pub created_date: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionConfigView {
    pub point: PointConfigView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointConfigView {
    pub terminal_id: String,
    pub subtype: &'static str,
}

impl From<&TerminalAction> for ActionView {
    fn from(action: &TerminalAction) -> Self {
        ActionView {
            id: action.id.to_string(),
            kind: "print",
            external_reference: action.external_reference.clone(),
            status: action.status.as_str(),
            config: ActionConfigView {
                point: PointConfigView { terminal_id: action.terminal_id.clone(), subtype: action.subtype.as_str() },
            },
            created_date: action.created_at.to_rfc3339(),
        }
    }
}

/// Test helper body: the status the simulated terminal moves the action to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionEventBody {
    /// `at_terminal`, `processed`, `failed` or `canceled`.
    #[schema(example = "at_terminal")]
    pub status: Option<String>,
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<ActionId, Failure> {
    path.ok().and_then(|Path(raw)| ActionId::parse(&raw)).ok_or(Failure::InvalidPathParam(PathParam::ActionId))
}

/// Create a print action on a terminal.
#[utoipa::path(
    post, path = "/terminals/v1/actions", tag = "Point terminal actions",
    params(("X-Idempotency-Key" = String, Header, description = "1 to 64 characters; retries with the same key replay the first response")),
    request_body = CreateActionBody,
    responses(
        (status = 201, description = "Created", body = ActionView),
        (status = 400, description = "empty_required_header, invalid_idempotency_key, required_properties, property_value, unsupported_properties, property_type, bad_request (not JSON)", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 409, description = "already_queued_order_for_terminal, idempotency_key_already_used", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "idempotency_validation_failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_action(State(state): State<AppState>, request: WriteRequest) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let parsed = parse_json::<CreateActionBody>(write.body(), false).map_err(property_error).and_then(|body| {
        NewAction::parse(body.into_draft()).map_err(|err| Failure::Property { error: err.error, detail: err.message })
    });
    let op = operation(Ok(()), parsed, |(), new| CreateAction { id: ActionId::from_random(rand::random()), new });
    let success = |action: &TerminalAction| json_response(StatusCode::CREATED, &ActionView::from(action));
    Ok(write.execute(&state, op, render(FAMILY, success)).await)
}

/// Read an action of the caller's.
#[utoipa::path(
    get, path = "/terminals/v1/actions/{action_id}", tag = "Point terminal actions",
    params(("action_id" = String, Path, description = "Lowercase UUID v4")),
    responses(
        (status = 200, description = "The action", body = ActionView),
        (status = 400, description = "invalid_path_param", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "order_not_found (also for another account's action)", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "500", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_action(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path).map_err(|failure| ApiError::refused(FAMILY, failure))?;
    let user = principal.user_id;
    let action = state.store.read(move |r| engine::action(r, user, id)).await.map_err(|e| read_failed(FAMILY, e))?;
    let action = action.ok_or_else(|| ApiError::refused(FAMILY, Failure::NotFound))?;
    Ok(json(StatusCode::OK, &ActionView::from(&action)))
}

/// Cancel an action. Only a `created` action can be canceled through the API.
#[utoipa::path(
    post, path = "/terminals/v1/actions/{action_id}/cancel", tag = "Point terminal actions",
    params(
        ("action_id" = String, Path, description = "Lowercase UUID v4"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    responses(
        (status = 200, description = "Canceled; empty body"),
        (status = 400, description = "empty_required_header, invalid_idempotency_key, invalid_path_param, bad_request", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 404, description = "order_not_found", body = ErrorBody),
        (status = 409, description = "cannot_cancel_order, idempotency_key_already_used", body = ErrorBody),
        (status = 429, description = "too_many_requests", body = ErrorBody),
        (status = 500, description = "idempotency_validation_failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_action(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    // The cancel takes no body; one that is sent must still be JSON.
    let body = parse_json::<serde_json::Value>(write.body(), true);
    let op = operation(path_id(path), body, |id, _| CancelAction { id });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::OK))).await)
}

/// Test helper: move an action as its terminal would (test accounts only).
#[utoipa::path(
    post, path = "/terminals/v1/actions/{action_id}/events", tag = "Test helpers",
    params(
        ("action_id" = String, Path, description = "Lowercase UUID v4"),
        ("X-Idempotency-Key" = String, Header, description = "1 to 64 characters"),
    ),
    request_body = ActionEventBody,
    responses(
        (status = 204, description = "Moved"),
        (status = 400, description = "bad_request (also a transition the machine forbids), invalid_path_param, empty_required_header", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: live accounts cannot use test helpers", body = ErrorBody),
        (status = 404, description = "order_not_found", body = ErrorBody),
        (status = 409, description = "idempotency_key_already_used", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn action_event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    request: WriteRequest,
) -> Result<Response, ApiError> {
    let write = Write::begin(&state, FAMILY, &request).await?;
    let path = test_accounts_only(path_id(path), &write.ctx.principal);
    let body = parse_json::<ActionEventBody>(write.body(), false).and_then(event_target);
    let op = operation(path, body, |id, to| MoveAction { id, to });
    Ok(write.execute(&state, op, render(FAMILY, moved(StatusCode::NO_CONTENT))).await)
}

fn event_target(body: ActionEventBody) -> Result<ActionStatus, Failure> {
    body.status.as_deref().and_then(ActionStatus::parse).ok_or_else(|| {
        Failure::InvalidBody("status must be one of created, at_terminal, processed, failed, canceled".into())
    })
}
