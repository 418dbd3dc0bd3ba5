//! The Payments family's error table (payments, their refunds, payment methods,
//! `/users/me`): the classic body, each refusal with the Payments reference's numbered
//! cause (`{"code":2006,"description":"Card Token not found","data":null}`).

use axum::http::StatusCode;

use super::{
    body_timeout, idempotency_key_invalid, idempotency_key_reused, payload_too_large, rate_limited, ErrorKind, Row,
    Shape,
};
use crate::domain::payment::{Cause, Refusal, PARAMS_ERROR};
use crate::domain::terminal_action::PropertyError;
use crate::engine::Failure;

fn numbered(status: StatusCode, error: &'static str, code: u32, message: impl Into<String>) -> Row {
    Row { shape: Shape::Numbered(code), ..Row::new(status, error, message) }
}

fn bad_request(cause: Cause) -> Row {
    numbered(StatusCode::BAD_REQUEST, "bad_request", cause.code, cause.description)
}

pub(super) fn payments_table(kind: &ErrorKind) -> Row {
    use StatusCode as S;
    match kind {
        ErrorKind::MissingToken => {
            Row::new(S::UNAUTHORIZED, "unauthorized", "Must provide your access_token to proceed.")
        }
        ErrorKind::InvalidToken => Row::new(S::UNAUTHORIZED, "unauthorized", "invalid access token"),
        ErrorKind::RateLimited { retry_after_secs } => rate_limited("too_many_requests", *retry_after_secs),
        ErrorKind::IdempotencyKeyMissing => {
            numbered(S::BAD_REQUEST, "bad_request", 4292, "Header X-Idempotency-Key can't be null")
        }
        ErrorKind::IdempotencyKeyInvalid => idempotency_key_invalid(),
        ErrorKind::IdempotencyKeyReused => idempotency_key_reused(),
        ErrorKind::InvalidSignature | ErrorKind::PayoutsDisabled => {
            numbered(S::FORBIDDEN, "forbidden", 4, "The caller is not authorized to access this resource.")
        }
        ErrorKind::PayloadTooLarge => payload_too_large(),
        ErrorKind::BodyTimeout => body_timeout(),
        ErrorKind::IdempotencyStoreFailure | ErrorKind::Internal => {
            Row::new(S::INTERNAL_SERVER_ERROR, "internal_error", "internal_error")
        }
        ErrorKind::Refused(failure) => payments_refusal(failure),
    }
}

fn payments_refusal(failure: &Failure) -> Row {
    use StatusCode as S;
    let params = |detail: &str| {
        numbered(S::BAD_REQUEST, "bad_request", PARAMS_ERROR.code, format!("{} {detail}", PARAMS_ERROR.description))
    };
    match failure {
        Failure::NotFound | Failure::InvalidPathParam(_) | Failure::Mismatch(_) => {
            numbered(S::NOT_FOUND, "not_found", 2000, "Payment not found")
        }
        Failure::MalformedJson(detail) | Failure::InvalidBody(detail) => params(detail),
        Failure::Property { error: PropertyError::Unsupported, detail } => numbered(
            S::BAD_REQUEST,
            "bad_request",
            8,
            format!("The name of the following parameters is wrong [{detail}]"),
        ),
        Failure::Property { detail, .. } => params(detail),
        Failure::TestAccountsOnly => {
            numbered(S::FORBIDDEN, "forbidden", 3002, "The caller is not authorized to perform this action.")
        }
        Failure::Payment(refusal) => match refusal {
            Refusal::Invalid(cause) => bad_request(*cause),
            Refusal::CannotCancel => numbered(
                S::BAD_REQUEST,
                "bad_request",
                2018,
                "The action requested is not valid for the current payment state.",
            ),
            Refusal::CannotCapture => numbered(S::BAD_REQUEST, "bad_request", 2079, "Invalid value for capture attribute."),
            Refusal::InvalidStatus => numbered(S::BAD_REQUEST, "bad_request", 2016, "Invalid Status for Update."),
            Refusal::CannotRefund => numbered(
                S::BAD_REQUEST,
                "bad_request",
                2063,
                "The action requested is not valid for the current payment state",
            ),
            Refusal::RefundExceeds => numbered(
                S::BAD_REQUEST,
                "bad_request",
                2063,
                "The action requested is not valid for the current payment state: the amount is more than is left to refund",
            ),
            Refusal::RefundNotFound => numbered(S::NOT_FOUND, "not_found", 2032, "Refund not found"),
            Refusal::PreferenceNotFound => Row::new(S::NOT_FOUND, "not_found", "Preference not found"),
            Refusal::MerchantOrderNotFound => Row::new(S::NOT_FOUND, "not_found", "Merchant order not found"),
            Refusal::TokenNotFound => numbered(S::BAD_REQUEST, "bad_request", 2006, "Card Token not found"),
            Refusal::TokenUsed => numbered(S::BAD_REQUEST, "bad_request", 3003, "Invalid card_token_id"),
            Refusal::InvalidTransition => numbered(
                S::BAD_REQUEST,
                "bad_request",
                3005,
                "Not valid action, the resource is in a state that does not allow this operation. For more information see the state that has the resource.",
            ),
        },
        // Other families' refusals never reach this family.
        other => params(&format!("{other:?}")),
    }
}
