//! The HTTP layer's one error type, and the one place where errors become each
//! family's documented status and code.
//!
//! Every error body has the shape every official SDK parses:
//! `{"message":"…","error":"<code>","status":<status>,"cause":[…]}`; `cause` holds
//! the reference's numbered cause (`{"code":"101","description":"…","data":null}`)
//! where the family's page documents one, and is empty otherwise.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::customer::Mismatch;
use crate::domain::customer_data::Cause;
use crate::domain::StoredResponse;
use crate::engine::{Failure, PathParam};

mod orders;
mod payments;

use orders::orders_table;
pub use orders::{orders_payment_failed, OrdersAuthErrorBody, OrdersErrorBody};
use payments::payments_table;

/// A resource family: each has its own error codes, spelled as its page spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Point,
    Payouts,
    /// Customers (`/v1/customers`, its search, one customer and its cards) and card
    /// tokens (`/v1/card_tokens`): the classic codes with numbered causes.
    Customers,
    /// A customer's payment profiles (`/v1/customers/{id}/payment-profiles…`).
    Profiles,
    /// Orders (`/v1/orders…`): the Orders platform's `{"errors":[…]}` envelope.
    Orders,
    /// Payments (`/v1/payments…`), payment methods and `/users/me`: the classic body
    /// with the Payments reference's numbered causes.
    Payments,
    /// caja's own endpoints: notifications and audit events.
    Caja,
}

impl Family {
    /// Every family, in the order the console lists them.
    pub const ALL: [Family; 7] = [
        Family::Point,
        Family::Payouts,
        Family::Customers,
        Family::Profiles,
        Family::Orders,
        Family::Payments,
        Family::Caja,
    ];

    /// The family's name in the request log and the console's filter.
    pub fn name(self) -> &'static str {
        match self {
            Family::Point => "point",
            Family::Payouts => "payouts",
            Family::Customers => "customers",
            Family::Profiles => "profiles",
            Family::Orders => "orders",
            Family::Payments => "payments",
            Family::Caja => "caja",
        }
    }

    /// Whether a write may come without `X-Idempotency-Key` (its reference declares
    /// none); with one, it is exactly-once as everywhere.
    pub fn idempotency_key_optional(self) -> bool {
        match self {
            Family::Customers => true,
            Family::Point | Family::Payouts | Family::Profiles | Family::Orders | Family::Payments | Family::Caja => {
                false
            }
        }
    }

    /// The family a path belongs to; `None` outside the API (health, OpenAPI).
    pub fn of_path(path: &str) -> Option<Family> {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/terminals") {
            Some(Family::Point)
        } else if under("/v1/orders") {
            Some(Family::Orders)
        } else if under("/v1/payments")
            || under("/v1/payment_methods")
            || under("/users")
            || under("/checkout/preferences")
            || under("/merchant_orders")
        {
            Some(Family::Payments)
        } else if under("/v1/payouts") || under("/v1/transaction-intents") {
            Some(Family::Payouts)
        } else if under("/v1/customers") && path.contains("/payment-profiles") {
            Some(Family::Profiles)
        } else if under("/v1/customers") || under("/v1/card_tokens") {
            Some(Family::Customers)
        } else if under("/v1/notifications") || under("/v1/audit-events") || under("/caja") {
            Some(Family::Caja)
        } else {
            None
        }
    }
}

/// Everything that can go wrong with a request, before the family names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No `Authorization` header.
    MissingToken,
    /// A token that is malformed or unknown.
    InvalidToken,
    RateLimited {
        retry_after_secs: u64,
    },
    IdempotencyKeyMissing,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    /// A payout request whose `X-signature` is required and absent or wrong.
    InvalidSignature,
    /// The account may not use the payouts family.
    PayoutsDisabled,
    PayloadTooLarge,
    /// The body did not arrive within the body-read deadline (`--body-read-timeout`).
    BodyTimeout,
    /// A refusal decided by the engine or at the edge.
    Refused(Failure),
    /// The store failed while applying a write command (nothing was committed).
    IdempotencyStoreFailure,
    /// Any other fault of ours.
    Internal,
}

/// Errors that belong to no family: unknown routes, panics, timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenericError {
    RouteNotFound,
    MethodNotAllowed,
    Timeout,
    /// The write queue is full (`StoreError::Busy`): 503 at once, with `Retry-After`.
    Busy,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub family: Family,
    pub kind: ErrorKind,
}

impl ApiError {
    pub fn new(family: Family, kind: ErrorKind) -> Self {
        ApiError { family, kind }
    }

    pub fn refused(family: Family, failure: Failure) -> Self {
        ApiError::new(family, ErrorKind::Refused(failure))
    }

    /// The exact bytes of this error, for storing under an idempotency key.
    pub fn to_stored(&self) -> StoredResponse {
        let row = table(self.family, &self.kind);
        StoredResponse { status: row.status.as_u16(), body: row.body() }
    }
}

/// The error body, as serialized (and as the OpenAPI document describes it).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A sentence for people.
    pub message: String,
    /// The family's documented code.
    pub error: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// The documented cause, where there is one.
    pub cause: Vec<CauseBody>,
}

/// One entry of an error's `cause`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CauseBody {
    /// The reference's code: a string (e.g. `"101"`) in most families, a number
    /// (e.g. `4020`) in the Payments reference's numbered causes.
    #[schema(schema_with = cause_code_schema)]
    pub code: String,
    /// The reference's text, e.g. `"the customer already exist."`.
    pub description: String,
    pub data: Option<String>,
}

/// `string | integer`: a cause's `code` as the families send it.
fn cause_code_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .description(Some("The reference's code: `\"101\"`, or a number such as `4020` in Payments."))
        .build()
        .into()
}

/// How an error body is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `{"message","error","status","cause"}`: the classic APIs.
    Classic,
    /// `{"errors":[{"code","message","details"}]}`: the Orders platform (`details`
    /// left out when empty).
    Orders { details: Vec<String> },
    /// `{"code","message"}`: the Orders platform's authentication layer.
    Flat,
    /// The classic body whose `cause` is one numbered cause, its `code` a number and
    /// its `description` the message: the Payments reference's errors.
    Numbered(u32),
}

/// One row of a family's error table.
struct Row {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
    cause: Option<Cause>,
    shape: Shape,
}

impl Row {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Row { status, code, message: message.into(), retry_after_secs: None, cause: None, shape: Shape::Classic }
    }

    /// A row in the Orders envelope, with its `details`.
    fn orders(status: StatusCode, code: &'static str, message: impl Into<String>, details: Vec<String>) -> Self {
        Row { shape: Shape::Orders { details }, ..Row::new(status, code, message) }
    }

    /// A 400 `bad_request` carrying a documented cause.
    fn caused(cause: Cause, message: impl Into<String>) -> Self {
        Row { cause: Some(cause), ..Row::new(StatusCode::BAD_REQUEST, "bad_request", message) }
    }

    fn with_cause(self, cause: Cause) -> Self {
        Row { cause: Some(cause), ..self }
    }

    fn body(&self) -> Vec<u8> {
        match &self.shape {
            Shape::Classic => {}
            Shape::Orders { details } => {
                let mut error = serde_json::json!({ "code": self.code, "message": self.message });
                if !details.is_empty() {
                    error["details"] = serde_json::json!(details);
                }
                return serde_json::to_vec(&serde_json::json!({ "errors": [error] })).unwrap_or_default();
            }
            Shape::Flat => {
                return serde_json::to_vec(&serde_json::json!({ "code": self.code, "message": self.message }))
                    .unwrap_or_default()
            }
            Shape::Numbered(code) => {
                let body = serde_json::json!({
                    "message": self.message, "error": self.code, "status": self.status.as_u16(),
                    "cause": [{ "code": code, "description": self.message, "data": null }],
                });
                return serde_json::to_vec(&body).unwrap_or_default();
            }
        }
        let cause = self.cause.map(|c| CauseBody {
            code: c.code.to_owned(),
            description: c.description.to_owned(),
            data: None,
        });
        let body = ErrorBody {
            message: self.message.clone(),
            error: self.code.to_owned(),
            status: self.status.as_u16(),
            cause: cause.into_iter().collect(),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn into_response(self) -> Response {
        let mut response = (self.status, [(header::CONTENT_TYPE, "application/json")], self.body()).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn table(family: Family, kind: &ErrorKind) -> Row {
    match family {
        Family::Point => point_table(kind),
        Family::Payouts => payouts_table(kind),
        Family::Customers => customers_table(kind),
        Family::Profiles => profiles_table(kind),
        Family::Orders => orders_table(kind),
        Family::Payments => payments_table(kind),
        Family::Caja => caja_table(kind),
    }
}

/// The Point terminal actions family (000_1e575fb8f89fa40d.txt and CONTRACT.md).
fn point_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    match kind {
        ErrorKind::MissingToken | ErrorKind::InvalidToken => Row::new(
            S::UNAUTHORIZED,
            "unauthorized",
            "The value provided as the Access Token is incorrect. Please check and resubmit the request with the correct value.",
        ),
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("too_many_requests", *retry_after_secs),
        ErrorKind::IdempotencyKeyMissing => Row::new(
            S::BAD_REQUEST,
            "empty_required_header",
            "The 'X-Idempotency-Key' header is required and was not sent. Make the requisition again including it.",
        ),
        ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        // Not Point concerns; listed so that every kind has a row in every table.
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            Row::new(S::FORBIDDEN, "forbidden", "No permission to access the resource.")
        }
        ErrorKind::IdempotencyStoreFailure => Row::new(
            S::INTERNAL_SERVER_ERROR,
            "idempotency_validation_failed",
            "Validation fail. Please try submitting the request again.",
        ),
        ErrorKind::Internal => Row::new(
            S::INTERNAL_SERVER_ERROR,
            "500",
            "Internal server error. Please try submitting the request again.",
        ),
        ErrorKind::Refused(failure) => point_refusal(failure),
    }
}

fn point_refusal(failure: &Failure) -> Row {
    use StatusCode as S;
    match failure {
        Failure::NotFound | Failure::TransactionNotInPayout | Failure::Mismatch(_) => Row::new(
            S::NOT_FOUND,
            "order_not_found",
            "Order not found. Please check if you provided the correct order ID.",
        ),
        Failure::InvalidPathParam(_) => Row::new(
            S::BAD_REQUEST,
            "invalid_path_param",
            "The action_id provided in the request path is not correct. Please confirm it and provide a valid ID to try again.",
        ),
        Failure::MalformedJson(detail) => malformed_json(detail),
        Failure::InvalidBody(detail) => invalid_body(detail),
        Failure::Property { error, detail } => Row::new(S::BAD_REQUEST, error.code(), format!("{detail}.")),
        Failure::TestAccountsOnly => test_accounts_only(),
        Failure::CannotCancel { status } => Row::new(
            S::CONFLICT,
            "cannot_cancel_order",
            format!(
                "There is a conflict trying to cancel the order due to its current status (\"{status}\"). Orders can only be canceled via API when \"status=created\"; an order with \"status=at_terminal\" must be canceled from the terminal."
            ),
        ),
        Failure::TerminalNotFound => Row::new(
            S::NOT_FOUND,
            "not_found",
            "Resource not found or the value sent is inexistent. Validate the information sent in the parameters and try the request again.",
        ),
        Failure::TerminalNotOwned => Row::new(
            S::FORBIDDEN,
            "forbidden_checking_terminal_owner",
            "The terminal does not belong to this account. Use a terminal associated with your account.",
        ),
        Failure::TerminalBusy => Row::new(
            S::CONFLICT,
            "already_queued_order_for_terminal",
            "The terminal already has a queued action (status \"created\" or \"at_terminal\"). Cancel it or wait until it finishes.",
        ),
        Failure::ForbiddenTransition { from, to } => forbidden_transition("An action", from, to),
        // Other families' refusals never reach this family.
        _ => invalid_body("not a terminal action request"),
    }
}

/// The payouts family (002_029bf44d4a55be55.txt and CONTRACT.md).
fn payouts_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    match kind {
        ErrorKind::MissingToken | ErrorKind::InvalidToken => Row::new(
            S::UNAUTHORIZED,
            "invalid_token",
            "The value sent as Access Token is incorrect. Please check and try again with the correct value.",
        ),
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("too_many_requests", *retry_after_secs),
        ErrorKind::IdempotencyKeyMissing => Row::new(
            S::BAD_REQUEST,
            "idempotency_key_required",
            "The idempotency key (\"X-Idempotency-Key\") is missing. Try sending the request again, validating all fields.",
        ),
        ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::InvalidSignature => Row::new(
            S::BAD_REQUEST,
            "invalid_signature",
            "The X-signature header is missing or does not sign this body. Sign the exact body bytes with the Ed25519 key registered for this account, base64-encoded.",
        ),
        ErrorKind::PayoutsDisabled => Row::new(S::FORBIDDEN, "forbidden", "No permission to access the resource."),
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        ErrorKind::IdempotencyStoreFailure | ErrorKind::Internal => Row::new(
            S::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "An unexpected error occurred on the server. Try the request again.",
        ),
        ErrorKind::Refused(failure) => payouts_refusal(failure),
    }
}

fn payouts_refusal(failure: &Failure) -> Row {
    use StatusCode as S;
    let invalid_transaction = || {
        Row::new(
            S::BAD_REQUEST,
            "invalid_transaction_id",
            "The transaction was not found in this payout. Check the transaction ID and try again.",
        )
    };
    match failure {
        Failure::NotFound | Failure::Mismatch(_) => Row::new(
            S::NOT_FOUND,
            "not_found",
            "Payout not found. Please check if you provided the correct payout ID.",
        ),
        Failure::InvalidPathParam(PathParam::TransactionId) | Failure::TransactionNotInPayout => invalid_transaction(),
        Failure::InvalidPathParam(
            PathParam::PayoutId | PathParam::ActionId | PathParam::CustomerId | PathParam::ProfileId,
        ) => Row::new(
            S::BAD_REQUEST,
            "invalid_payout_id",
            "The payout ID is not valid: it must be the decimal id returned when the payout was created.",
        ),
        Failure::MalformedJson(detail) => malformed_json(detail),
        Failure::InvalidBody(detail) => invalid_body(detail),
        Failure::TestAccountsOnly => test_accounts_only(),
        Failure::CannotCancel { status } => Row::new(
            S::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "The status of the transaction (\"{status}\") does not allow its cancelation. Only transactions with \"status=pending\" or \"status=in_process\" can be canceled."
            ),
        ),
        Failure::ForbiddenTransition { from, to } => forbidden_transition("A transaction", from, to),
        Failure::Property { detail, .. } => invalid_body(detail),
        // Other families' refusals never reach this family.
        _ => invalid_body("not a payout request"),
    }
}

/// Customers (`reference/api-json/customers.json`): the classic codes, with the
/// numbered cause of each refused field.
fn customers_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    match kind {
        ErrorKind::MissingToken | ErrorKind::InvalidToken => Row::new(S::UNAUTHORIZED, "unauthorized", "unauthorized."),
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("too_many_requests", *retry_after_secs),
        // The key is optional here; a malformed one is still refused.
        ErrorKind::IdempotencyKeyMissing | ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            Row::new(S::FORBIDDEN, "forbidden", "No permission to access the resource.")
        }
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        ErrorKind::IdempotencyStoreFailure | ErrorKind::Internal => generic_row(GenericError::Internal),
        ErrorKind::Refused(failure) => customer_refusal(failure),
    }
}

fn customer_refusal(failure: &Failure) -> Row {
    use crate::domain::customer_data as causes;
    match failure {
        Failure::NotFound | Failure::InvalidPathParam(_) | Failure::Mismatch(_) | Failure::TransactionNotInPayout => {
            Row::new(StatusCode::NOT_FOUND, "not_found", "customer not found")
        }
        Failure::CardNotFound => {
            Row::new(StatusCode::NOT_FOUND, "not_found", "card not found").with_cause(causes::CARD_NOT_FOUND)
        }
        Failure::CardTokenNotFound => Row::new(StatusCode::NOT_FOUND, "not_found", "card token not found"),
        Failure::Invalid(cause) => Row::caused(*cause, cause.description),
        Failure::DuplicateEmail(existing) => Row::caused(
            causes::ALREADY_EXISTS,
            format!(
                "{} An active customer of this account has this email: {existing}.",
                causes::ALREADY_EXISTS.description
            ),
        ),
        Failure::MalformedJson(detail) => {
            Row::caused(causes::BODY_NOT_OBJECT, format!("{} ({detail})", causes::BODY_NOT_OBJECT.description))
        }
        Failure::InvalidBody(detail) | Failure::Property { detail, .. } => {
            Row::caused(causes::PARAMETERS_INVALID, format!("invalid parameters: {detail}."))
        }
        Failure::TestAccountsOnly => test_accounts_only(),
        // Other families' refusals never reach this family.
        _ => invalid_body("not a customer request"),
    }
}

/// Payment profiles (004_9d80cb417b54b09d.txt and CONTRACT.md). The codes are spelled
/// as the page spells them, spaces and capitals included.
fn profiles_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    let header_missing = || {
        Row::new(
            S::UNAUTHORIZED,
            "header_missing",
            "Request failed because a required header is missing. Make sure that all necessary authentication headers (Authorization, X-Idempotency-Key) are being sent.",
        )
    };
    match kind {
        ErrorKind::MissingToken | ErrorKind::IdempotencyKeyMissing => header_missing(),
        ErrorKind::InvalidToken => Row::new(
            S::UNAUTHORIZED,
            "Unauthorized Access Token",
            "The value sent as Access Token is incorrect. Please check and try again with the correct value.",
        ),
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("Too Many Requests", *retry_after_secs),
        ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            Row::new(S::FORBIDDEN, "forbidden", "No permission to access the resource.")
        }
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        ErrorKind::IdempotencyStoreFailure | ErrorKind::Internal => Row::new(
            S::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Request failed due to an internal server error. Please try again later and, if the problem persists, contact Support with error details.",
        ),
        ErrorKind::Refused(failure) => profiles_refusal(failure),
    }
}

fn profiles_refusal(failure: &Failure) -> Row {
    use StatusCode as S;
    let not_found = || {
        Row::new(
            S::NOT_FOUND,
            "resource_not_found",
            "Request failed because the payment profile was not found. Verify that the payment profile ID, customer ID and caller ID are correct.",
        )
    };
    let validation_error = |detail: &str| {
        Row::new(
            S::BAD_REQUEST,
            "validation_error",
            format!("The request failed due to a validation error for the senti fields. More details can be found in \"details\". Verify that the data sent is correct and try again. ({detail})"),
        )
    };
    match failure {
        Failure::NotFound
        | Failure::InvalidPathParam(_)
        | Failure::TransactionNotInPayout
        | Failure::PaymentMethodNotFound
        | Failure::CardNotFound
        | Failure::CardTokenNotFound => not_found(),
        Failure::Mismatch(Mismatch::Caller) => Row::new(
            S::BAD_REQUEST,
            "caller_id_mismatch",
            "Request failed because the \"caller_id\" sent does not match the payment profile. Verify if the correct value was sent and try again.",
        ),
        Failure::Mismatch(Mismatch::Site) => Row::new(
            S::BAD_REQUEST,
            "site_id_mismatch",
            "Request failed because the \"site_id\" does not match the payment profile. Verify if the correct value was sent and try again.",
        ),
        Failure::Mismatch(Mismatch::Customer) => Row::new(
            S::BAD_REQUEST,
            "customer_id_mismatch",
            "Request failed because the \"customer_id\" sent does not match the payment profile. Verify if the correct value was sent and try again.",
        ),
        // The contract's row for a malformed body, on every endpoint of the family.
        Failure::MalformedJson(detail) => malformed_json(detail),
        Failure::InvalidBody(detail) => invalid_body(detail),
        // A payment method refused as the add-payment-method page says.
        Failure::Property { detail, .. } => validation_error(detail),
        Failure::Invalid(cause) => validation_error(cause.description),
        Failure::PaymentMethodsFull => Row::new(
            S::BAD_REQUEST,
            "more_than_two_payment_methods_not_allowed",
            "The request failed because more than two objects containing payment method information were sent, which is the maximum allowed for the profile creation. Review the request and verify that you have sent that node correctly.",
        ),
        Failure::TwoCardTokens => Row::new(
            S::BAD_REQUEST,
            "two_cards_with_token_not_allowed",
            "Request failed because it is not allowed to create a payment profile with two cards containing \"card_token\" as payment methods. Review the request to send both objects correctly.",
        ),
        Failure::DuplicatePaymentMethod => Row::new(
            S::BAD_REQUEST,
            "duplicate_payment_method_not_allowed",
            "Request failed due to a duplicated payment method. It is not allowed to add a payment method that already exists in the payment profile.",
        ),
        Failure::ProfileCancelled => validation_error("a CANCELLED payment profile's payment methods cannot change"),
        Failure::TestAccountsOnly => test_accounts_only(),
        Failure::ForbiddenTransition { from, to } => forbidden_transition("A payment profile", from, to),
        // Other families' refusals never reach this family.
        _ => invalid_body("not a payment profile request"),
    }
}

fn rate_limited(code: &'static str, retry_after_secs: u64) -> Row {
    Row {
        retry_after_secs: Some(retry_after_secs),
        ..Row::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            format!("Too many requests for this access token. Try again in {retry_after_secs} s."),
        )
    }
}

fn idempotency_key_invalid() -> Row {
    Row::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "The 'X-Idempotency-Key' header must be 1 to 64 visible ASCII characters.",
    )
}

fn idempotency_key_reused() -> Row {
    Row::new(
        StatusCode::CONFLICT,
        "idempotency_key_already_used",
        "The value sent as the idempotency header has already been used. Please try the request again sending a new value.",
    )
}

/// caja's own endpoints (not in Mercado Pago's API): plain, stable codes.
fn caja_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    match kind {
        ErrorKind::MissingToken | ErrorKind::InvalidToken => {
            Row::new(S::UNAUTHORIZED, "unauthorized", "A valid access token is required (Authorization: Bearer …).")
        }
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("too_many_requests", *retry_after_secs),
        ErrorKind::IdempotencyKeyMissing | ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            Row::new(S::FORBIDDEN, "forbidden", "No permission to access the resource.")
        }
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        ErrorKind::IdempotencyStoreFailure | ErrorKind::Internal => generic_row(GenericError::Internal),
        ErrorKind::Refused(Failure::NotFound | Failure::InvalidPathParam(_)) => {
            Row::new(S::NOT_FOUND, "not_found", "No such notification for this account.")
        }
        ErrorKind::Refused(Failure::MalformedJson(detail)) => malformed_json(detail),
        ErrorKind::Refused(Failure::InvalidBody(detail)) => invalid_body(detail),
        ErrorKind::Refused(Failure::TestAccountsOnly) => test_accounts_only(),
        ErrorKind::Refused(other) => invalid_body(&format!("{other:?}")),
    }
}

fn invalid_body(detail: &str) -> Row {
    Row::new(StatusCode::BAD_REQUEST, "bad_request", format!("Invalid request body: {detail}."))
}

fn forbidden_transition(what: &str, from: &str, to: &str) -> Row {
    Row::new(StatusCode::BAD_REQUEST, "bad_request", format!("{what} cannot move from \"{from}\" to \"{to}\"."))
}

fn payload_too_large() -> Row {
    Row::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than {} bytes.", super::BODY_BYTES_MAX),
    )
}

fn body_timeout() -> Row {
    Row::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "The request body did not arrive in time. Send it again, under the same X-Idempotency-Key.",
    )
}

fn malformed_json(detail: &str) -> Row {
    Row::new(StatusCode::BAD_REQUEST, "bad_request", format!("The request body is not valid JSON: {detail}."))
}

fn test_accounts_only() -> Row {
    Row::new(StatusCode::FORBIDDEN, "forbidden", "Test helpers are available to test accounts only.")
}

fn generic_row(error: GenericError) -> Row {
    use StatusCode as S;
    match error {
        GenericError::RouteNotFound => Row::new(S::NOT_FOUND, "not_found", "No such route."),
        GenericError::MethodNotAllowed => {
            Row::new(S::METHOD_NOT_ALLOWED, "method_not_allowed", "This route does not accept that method.")
        }
        GenericError::Timeout => Row::new(
            S::SERVICE_UNAVAILABLE,
            "timeout",
            "The request took too long. Retry it with the same X-Idempotency-Key.",
        ),
        GenericError::Busy => Row::new(
            S::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "caja is busy: its write queue is full. Retry in a moment with the same X-Idempotency-Key.",
        ),
        GenericError::Internal => Row::new(
            S::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "An unexpected error occurred on the server. Try the request again.",
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        table(self.family, &self.kind).into_response()
    }
}

impl IntoResponse for GenericError {
    fn into_response(self) -> Response {
        generic_row(self).into_response()
    }
}

impl GenericError {
    /// The error for a request to `path`: in the envelope of the family the path
    /// belongs to (the Orders envelope under `/v1/orders`), the classic one elsewhere.
    pub fn at(self, path: &str) -> Response {
        match Family::of_path(path) {
            Some(family) => self.of(family),
            None => generic_row(self).into_response(),
        }
    }

    /// The error in `family`'s envelope; a busy store's answer says when to retry.
    pub fn of(self, family: Family) -> Response {
        let row = generic_row(self);
        let mut response = match family {
            Family::Orders => Row { shape: Shape::Orders { details: Vec::new() }, ..row }.into_response(),
            _ => row.into_response(),
        };
        if self == GenericError::Busy {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod busy_tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    /// A full write queue: 503 at once, `Retry-After: 1`, in the family's envelope.
    #[tokio::test]
    async fn a_busy_store_is_503_with_retry_after_in_the_familys_envelope() {
        for family in [Family::Point, Family::Orders] {
            let response = GenericError::Busy.of(family);
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers().get(axum::http::header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"1"[..]));
            let body = body_of(response).await;
            let code = if family == Family::Orders { &body["errors"][0]["code"] } else { &body["error"] };
            assert_eq!(code, "service_unavailable", "{body}");
        }
    }
}
