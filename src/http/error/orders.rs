//! The Orders family's error table: the Orders platform's `{"errors":[{"code",
//! "message","details"}]}` envelope, and its flat 401.

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::{body_timeout, payload_too_large, rate_limited, ErrorKind, Row, Shape};
use crate::domain::StoredResponse;
use crate::engine::{Failure, PathParam};

/// Orders, online and Point (the Orders reference pages' error tables; the envelope
/// as integrators measured it: `docs/fidelity.md`).
/// The Orders error body, as the OpenAPI document describes it:
/// `{"errors":[{"code","message","details"}]}` (and, for a declined payment, the
/// order under `data`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersErrorBody {
    pub errors: Vec<OrdersError>,
}

/// `{"code","message"}`: what the Orders platform's authentication layer answers
/// (401), instead of the envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersAuthErrorBody {
    /// `unauthorized`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrdersError {
    /// The page's code, e.g. `order_not_found`.
    pub code: String,
    pub message: String,
    /// What exactly was wrong, e.g. `missing properties: '$.transactions'`.
    pub details: Option<Vec<String>>,
}

pub(super) fn orders_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    let row = |status, code, message: &str| Row::orders(status, code, message, Vec::new());
    match kind {
        ErrorKind::MissingToken | ErrorKind::InvalidToken => Row {
            shape: Shape::Flat,
            ..Row::new(
                S::UNAUTHORIZED,
                "unauthorized",
                "The value sent as Access Token is incorrect. Please check and try again with the correct value.",
            )
        },
        ErrorKind::RateLimited { retry_after_secs } => {
            Row { shape: Shape::Orders { details: Vec::new() }, ..rate_limited("too_many_requests", *retry_after_secs) }
        }
        ErrorKind::IdempotencyKeyMissing => row(
            S::BAD_REQUEST,
            "empty_required_header",
            "The \"X-Idempotency-Key\" header is required and was not sent. Make the requisition again including it.",
        ),
        ErrorKind::IdempotencyKeyInvalid => row(
            S::BAD_REQUEST,
            "invalid_idempotency_key_length",
            "The value sent in the \"X-Idempotency-Key\" header exceeded the allowed size. The header accepts values between 1 and 64 characters.",
        ),
        ErrorKind::IdempotencyKeyReused => row(
            S::CONFLICT,
            "idempotency_key_already_used",
            "The value sent as the idempotency header has already been used with a different request within the last 24 hours. Please try the request again sending a new value.",
        ),
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            row(S::FORBIDDEN, "forbidden", "No permission to access the resource.")
        }
        ErrorKind::PayloadTooLarge => {
            Row { shape: Shape::Orders { details: Vec::new() }, ..payload_too_large() }
        }
        ErrorKind::BodyTimeout => Row { shape: Shape::Orders { details: Vec::new() }, ..body_timeout() },
        ErrorKind::IdempotencyStoreFailure => row(
            S::INTERNAL_SERVER_ERROR,
            "idempotency_validation_failed",
            "Validation fail. Please try submitting the request again.",
        ),
        ErrorKind::Internal => {
            row(S::INTERNAL_SERVER_ERROR, "internal_error", "Generic error. Please try submitting the request again.")
        }
        ErrorKind::Refused(failure) => orders_refusal(failure),
    }
}

fn orders_refusal(failure: &Failure) -> Row {
    use crate::domain::order::Refusal as R;
    use StatusCode as S;
    let row = |status, code, message: &str| Row::orders(status, code, message, Vec::new());
    let detailed =
        |status, code, message: &str, detail: &str| Row::orders(status, code, message, vec![detail.to_owned()]);
    match failure {
        Failure::NotFound | Failure::Mismatch(_) => {
            row(S::NOT_FOUND, "order_not_found", "Order not found. Please check if you provided the correct order ID.")
        }
        Failure::InvalidPathParam(PathParam::TransactionId) => row(
            S::BAD_REQUEST,
            "invalid_transaction_id",
            "The \"transaction_id\" provided in the request path is not correct. Please confirm it and provide a valid ID to try again.",
        ),
        Failure::InvalidPathParam(_) => row(
            S::BAD_REQUEST,
            "invalid_path_param",
            "The order_id provided in the request path is not correct. Please confirm it and provide a valid ID to try again.",
        ),
        Failure::MalformedJson(detail) => detailed(
            S::BAD_REQUEST,
            "json_syntax_error",
            "An incorrect JSON was sent. Check the message returned in the error details to find out what the problem was and try again.",
            detail,
        ),
        Failure::Property { error, detail } => {
            use crate::domain::terminal_action::PropertyError as P;
            let message = match error {
                P::Required => "There are some required properties missing. Check the message returned in the error details to find out what the problem was and try again.",
                P::Unsupported => "An unsupported property was sent. Check the message returned in the error details to find out what the problem was and try again.",
                P::Type => "The wrong property type was submitted. For example, an \"integer\" value for a \"string\" property. Check the message returned in the error details to find out what the problem was and try again.",
                P::Value => "An incorrect value for some property was sent. Check the message returned in the error details to find out what the problem was and try again.",
                P::MinimumItems => "The minimum number of items for some property was not sent. Check the message returned in the error details to find out what the problem was and try again.",
                P::MaximumItems => "A greater number of items were sent than allowed for some property. Check the message returned in the error details to find out what the problem was and try again.",
                P::MinimumProperties => "The minimum number of properties required to execute the request was not sent. Check the message returned in the error details to find out what the problem was and try again.",
            };
            detailed(S::BAD_REQUEST, error.code(), message, detail)
        }
        Failure::InvalidBody(detail) => detailed(
            S::BAD_REQUEST,
            "property_type",
            "The wrong property type was submitted. Check the message returned in the error details to find out what the problem was and try again.",
            detail,
        ),
        Failure::TestAccountsOnly => row(S::FORBIDDEN, "forbidden", "No permission to access the resource."),
        Failure::TerminalNotOwned => row(
            S::FORBIDDEN,
            "forbidden_checking_terminal_owner",
            "The Point terminal does not belong to the user who submitted the request. Check if the value sent for terminal_id is correct or if the terminal is linked to your account.",
        ),
        Failure::TerminalBusy => row(
            S::CONFLICT,
            "already_queued_order_for_terminal",
            "The terminal already has an order waiting. It is necessary to finalize or cancel it to send new orders.",
        ),
        Failure::Order(refusal) => match refusal {
            R::CannotCancel { status, point: true } => row(
                S::CONFLICT,
                "cannot_cancel_order",
                &format!("There is a conflict trying to cancel the order due to its current status (\"{}\"). Orders can only be canceled via API when \"status=created\"; an order with \"status=at_terminal\" must be canceled from the terminal.", status.as_str()),
            ),
            R::CannotCancel { point: false, .. } => row(
                S::CONFLICT,
                "cannot_cancel_order",
                "The status of the order does not allow its cancelation. Only orders with \"status=action_required\" or \"status=created\" can be canceled.",
            ),
            R::AlreadyCanceled => row(S::CONFLICT, "order_already_canceled", "The order has already been canceled."),
            R::CannotCapture => row(
                S::CONFLICT,
                "cannot_capture_order",
                "Error. Order cannot be captured. The status of the order does not allow its capture. Only orders with \"status=action_required\" and \"status_detail=waiting_capture\" can be captured.",
            ),
            R::CannotRefund => row(
                S::CONFLICT,
                "cannot_refund_order",
                "Cannot refund order. Only orders with \"status=processed\" can be refunded.",
            ),
            R::AlreadyRefunded => row(S::CONFLICT, "order_already_refunded", "Order already refunded."),
            R::NotSupported => row(
                S::CONFLICT,
                "operation_not_supported",
                "The operation is not supported for this order. Please check the order \"status\" and \"status_detail\" and try again.",
            ),
            R::WrongMode => row(
                S::BAD_REQUEST,
                "invalid_order_mode_for_operation",
                "This operation is not allowed in the mode defined for order processing.",
            ),
            R::TotalMismatch => row(
                S::BAD_REQUEST,
                "invalid_total_amount",
                "The value entered in \"total_amount\" is not equivalent to the sum of the \"transactions.payments.amount\" field of the total transactions. Please verify if the values are correct.",
            ),
            R::TooManyTransactions => row(
                S::BAD_REQUEST,
                "exceeded_number_of_transactions",
                "The number of transactions exceeded the allowed limit. The order accepts a maximum of one transaction.",
            ),
            R::NoTransactions => row(
                S::BAD_REQUEST,
                "order_builder_without_transactions",
                "The \"transactions\" node of the order created in \"manual\" mode cannot be an empty array. Send it with the value \"null\" to try again.",
            ),
            R::RefundExceeds => row(
                S::BAD_REQUEST,
                "refund_amount_exceeds",
                "The requested refund amount is greater than the available amount.",
            ),
            R::TransactionNotFound => row(
                S::NOT_FOUND,
                "transaction_not_found",
                "Transaction not found. Please check if you provided the correct Transaction ID.",
            ),
            R::SandboxEmail => row(
                S::BAD_REQUEST,
                "invalid_email_for_sandbox",
                "Email format is invalid for sandbox environment, must contains \"@testuser.com\".",
            ),
            R::InvalidOrderType => row(
                S::BAD_REQUEST,
                "invalid_order_type",
                "The order type provided is invalid or not supported. Expected one of: \"online\", \"point\".",
            ),
            R::InvalidTransition => row(
                S::BAD_REQUEST,
                "bad_request",
                "Invalid order status transition. The status change you are trying to simulate is not allowed by the status machine.",
            ),
            R::BadRequest(message) => row(S::BAD_REQUEST, "bad_request", message),
            R::RequiredSearchParams => row(
                S::BAD_REQUEST,
                "required_search_params",
                "Required search parameters are missing. The \"begin_date\" and \"end_date\" parameters are mandatory for the search.",
            ),
            R::InvalidSearchParams(detail) => detailed(
                S::BAD_REQUEST,
                "invalid_search_params",
                "One or more search parameters are invalid. This can occur with invalid date formats (must use RFC3339 format, e.g.: \"2023-01-01T00:00:00Z\"), invalid pagination values (\"page\" and \"page_size\"), invalid sorting values (\"sort_by\", \"sort_order\") or invalid filter values (\"status\", \"type\", \"payment_method_id\", etc.). Check the error message details for specific information.",
                detail,
            ),
        },
        // Other families' refusals never reach this family.
        other => detailed(S::BAD_REQUEST, "property_value", "An incorrect value for some property was sent.", &format!("{other:?}")),
    }
}

/// The Orders platform's body for a payment that failed (HTTP 402): the order was
/// still created (or processed) and comes under `data`.
pub fn orders_payment_failed(details: Vec<String>, data: serde_json::Value) -> StoredResponse {
    let body = serde_json::json!({
        "errors": [{ "code": "failed", "message": "The following transactions failed", "details": details }],
        "data": data,
    });
    StoredResponse {
        status: StatusCode::PAYMENT_REQUIRED.as_u16(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}
