//! The rules of `POST /v1/payments`: what the create reference requires of each field,
//! in the order its error table suggests, each refusal with its numbered cause.

use super::order::Echo;
use super::order_money::Money;
use super::payment::{
    self, method, Cause, Payment, Refusal, Status, AMOUNT_INVALID, AMOUNT_NULL, DATE_FORMAT, EMAIL_INVALID,
    INSTALLMENTS_INVALID, INSTALLMENTS_NULL, METHOD_INVALID, NOTIFICATION_URL_INVALID, NOTIFICATION_URL_LONG,
    PAYER_MALFORMED, PIX_EXPIRATION_MS, TICKET_EXPIRATION_MS,
};
use super::{Principal, Timestamp};

/// `notification_url`, at most this many characters (cause 4021).
pub const NOTIFICATION_URL_CHARS_MAX: usize = 500;

/// A create request's fields as the HTTP layer read them (JSON types checked).
/// `transaction_amount` is the JSON number's literal text, so no float ever holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaymentDraft {
    pub transaction_amount: Option<String>,
    pub installments: Option<u32>,
    pub token: Option<String>,
    pub payment_method_id: Option<String>,
    pub issuer_id: Option<String>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub statement_descriptor: Option<String>,
    pub notification_url: Option<String>,
    pub capture: Option<bool>,
    pub binary_mode: Option<bool>,
    /// `None`: no `payer` object at all.
    pub payer_email: Option<Option<String>>,
    /// Already parsed by the HTTP layer; `Err` keeps the text that was not a date.
    pub date_of_expiration: Option<Result<Timestamp, String>>,
    pub echo: Echo,
}

fn invalid(cause: Cause) -> Refusal {
    Refusal::Invalid(cause)
}

/// A new payment, not yet decided: `pending` with its method's details. Card payments
/// are decided by the engine once it has read the token.
pub fn new_payment(draft: PaymentDraft, id: i64, principal: &Principal, now: Timestamp) -> Result<Payment, Refusal> {
    let amount = draft.transaction_amount.as_deref().ok_or(invalid(AMOUNT_NULL))?;
    let amount = Money::parse(amount)
        .filter(|m| *m > Money::ZERO && *m <= payment::AMOUNT_MAX)
        .ok_or(invalid(AMOUNT_INVALID))?;
    let email = match &draft.payer_email {
        None => return Err(invalid(PAYER_MALFORMED)),
        Some(email) => email.as_deref().unwrap_or(""),
    };
    if !valid_email(email) {
        return Err(invalid(EMAIL_INVALID));
    }
    // A card token names its brand; anything else must name its method.
    let method_id = match (&draft.payment_method_id, &draft.token) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(_)) => None,
        (None, None) => return Err(invalid(payment::METHOD_NULL)),
    };
    let known =
        method_id.as_deref().map(|id| method(principal.site_id, id).ok_or(invalid(METHOD_INVALID))).transpose()?;
    if known.is_some_and(|m| !m.allows_amount(amount)) {
        return Err(invalid(AMOUNT_INVALID));
    }
    let card = known.is_none_or(|m| m.card.is_some());
    if card && draft.token.as_ref().is_none_or(|t| t.is_empty()) {
        return Err(invalid(payment::TOKEN_NULL));
    }
    let installments = match draft.installments {
        None if card => return Err(invalid(INSTALLMENTS_NULL)),
        None => 1,
        Some(n) if n == 0 || n > payment::INSTALLMENTS_MAX || (!card && n != 1) => {
            return Err(invalid(INSTALLMENTS_INVALID))
        }
        Some(n) => n,
    };
    if let Some(url) = &draft.notification_url {
        if url.chars().count() > NOTIFICATION_URL_CHARS_MAX {
            return Err(invalid(NOTIFICATION_URL_LONG));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
            return Err(invalid(NOTIFICATION_URL_INVALID));
        }
    }
    let expiration = match draft.date_of_expiration {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(_)) => return Err(invalid(DATE_FORMAT)),
    };
    let (status, detail, default_expiry) = match known.map(|m| m.payment_type_id) {
        Some("bank_transfer") => (Status::Pending, "pending_waiting_transfer", Some(PIX_EXPIRATION_MS)),
        Some("ticket" | "atm") => (Status::Pending, "pending_waiting_payment", Some(TICKET_EXPIRATION_MS)),
        // Decided by the engine from the card token.
        _ => (Status::Pending, "pending", None),
    };
    Ok(Payment {
        id,
        user_id: principal.user_id,
        site_id: principal.site_id,
        live_mode: principal.live_mode,
        status,
        status_detail: detail.to_owned(),
        transaction_amount: amount,
        authorized_amount: amount,
        transaction_amount_refunded: Money::ZERO,
        // A card's `capture` (false: reserve only) until the engine decides it.
        captured: !card || draft.capture.unwrap_or(true),
        binary_mode: draft.binary_mode.unwrap_or(false),
        installments,
        payment_type_id: known.map_or("credit_card", |m| m.payment_type_id).to_owned(),
        payment_method_id: method_id.unwrap_or_default(),
        issuer_id: draft.issuer_id,
        description: draft.description,
        external_reference: draft.external_reference,
        statement_descriptor: draft.statement_descriptor,
        notification_url: draft.notification_url,
        card: None,
        refunds: Vec::new(),
        date_created: now,
        date_approved: None,
        date_last_updated: now,
        date_of_expiration: default_expiry.map(|ms| expiration.unwrap_or(now.plus_millis(ms))),
        merchant_order_id: None,
        echo: draft.echo,
    })
}

/// `something@host.tld`, no spaces, under 254 characters (causes 4050, 4051).
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() < 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
}
