//! The rules of `POST /v1/orders` and of a new transaction: what the create pages
//! require of each field, in the order caja checks them.

use super::order::{
    CaptureMode, Echo, Order, OrderId, OrderType, Payment, PaymentId, PaymentMethod, PaymentType, ProcessingMode,
    Refusal, Status, DESCRIPTION_CHARS_MAX, EXTERNAL_REFERENCE_CHARS_MAX, INSTALLMENTS_MAX, PAYMENTS_PER_ORDER_MAX,
    POINT_EXPIRATION_DEFAULT, POINT_EXPIRATION_MAX_MS, POINT_EXPIRATION_MIN_MS,
};
use super::order_money::{parse_duration_ms, Money};
use super::terminal_action::PropertyError;
use super::{Principal, Timestamp};

/// A create request's fields, as the HTTP layer read them (JSON types already
/// checked). `payments` is `None` when `transactions` or its `payments` was absent
/// or `null`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderDraft {
    pub order_type: Option<String>,
    pub external_reference: Option<String>,
    pub total_amount: Option<String>,
    pub processing_mode: Option<String>,
    pub capture_mode: Option<String>,
    pub description: Option<String>,
    pub expiration_time: Option<String>,
    pub payments: Option<Vec<PaymentDraft>>,
    pub point: Option<PointDraft>,
    pub payer_email: Option<String>,
    /// `currency`: the site's own, if sent.
    pub currency: Option<String>,
    /// Fields kept as sent (`items`, `payer`, `config`, `integration_data`, …).
    pub echo: Echo,
}

/// `config.point` and `config.payment_method.default_type` of a Point order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PointDraft {
    pub terminal_id: Option<String>,
    pub print_on_terminal: Option<String>,
    pub default_type: Option<String>,
}

/// One `transactions.payments[]` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PaymentDraft {
    pub amount: Option<String>,
    pub payment_method: Option<PaymentMethod>,
    pub echo: Echo,
}

/// Why a request was refused: a property in the create page's terms, or one of the
/// Orders rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    Property(PropertyError, String),
    Refused(Refusal),
}

fn property(error: PropertyError, detail: impl Into<String>) -> Invalid {
    Invalid::Property(error, detail.into())
}

fn required(field: &str) -> Invalid {
    property(PropertyError::Required, format!("missing properties: '$.{field}'"))
}

fn value(field: &str, rule: &str) -> Invalid {
    property(PropertyError::Value, format!("'$.{field}' - {rule}"))
}

/// Build a new order (status `created`; an automatic one is decided next) from a
/// create request, with ids drawn by the caller (`payment_ids` has at least as many
/// as the request has payments).
pub fn new_order(
    draft: OrderDraft,
    id: OrderId,
    payment_ids: &[PaymentId],
    principal: &Principal,
    now: Timestamp,
) -> Result<Order, Invalid> {
    let order_type = match draft.order_type.as_deref() {
        None => return Err(required("type")),
        Some(raw) => OrderType::parse(raw).ok_or(Invalid::Refused(Refusal::InvalidOrderType))?,
    };
    let point = order_type == OrderType::Point;
    if let Some(reference) = &draft.external_reference {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if reference.is_empty()
            || reference.chars().count() > EXTERNAL_REFERENCE_CHARS_MAX
            || !reference.chars().all(allowed)
        {
            return Err(value("external_reference", "must be 1 to 64 letters, digits, '-' or '_'"));
        }
    } else if point {
        return Err(required("external_reference"));
    }
    if point && draft.description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_CHARS_MAX) {
        return Err(value("description", "must be at most 150 characters"));
    }
    let processing_mode = match draft.processing_mode.as_deref() {
        None => ProcessingMode::Automatic,
        Some(raw) => {
            ProcessingMode::parse(raw).ok_or_else(|| value("processing_mode", "must be automatic or manual"))?
        }
    };
    if point && processing_mode != ProcessingMode::Automatic {
        return Err(value("processing_mode", "for point orders, the only allowed value is automatic"));
    }
    let capture_mode = match (point, draft.capture_mode.as_deref()) {
        (true, None) => None,
        (true, Some(_)) => {
            return Err(property(PropertyError::Unsupported, "additionalProperties '$.capture_mode' not allowed"))
        }
        (false, None) => Some(CaptureMode::AutomaticAsync),
        (false, Some(raw)) => Some(
            CaptureMode::parse(raw)
                .ok_or_else(|| value("capture_mode", "must be automatic, automatic_async or manual"))?,
        ),
    };
    let payments = match draft.payments {
        None if point || processing_mode == ProcessingMode::Automatic => return Err(required("transactions")),
        None => Vec::new(),
        Some(list) if list.is_empty() && !point && processing_mode == ProcessingMode::Manual => {
            return Err(Invalid::Refused(Refusal::NoTransactions))
        }
        Some(list) if list.is_empty() => {
            return Err(property(PropertyError::MinimumItems, "'$.transactions.payments' - minimum 1 items allowed"))
        }
        Some(list) if list.len() > PAYMENTS_PER_ORDER_MAX => {
            return Err(property(PropertyError::MaximumItems, "'$.transactions.payments' - maximum 1 items allowed"))
        }
        Some(list) => list,
    };
    let payments = payments
        .into_iter()
        .zip(payment_ids)
        .enumerate()
        .map(|(i, (p, id))| new_payment(p, id.clone(), order_type, &format!("transactions.payments[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let sum = payments.iter().map(|p| p.amount).fold(Money::ZERO, Money::plus);
    let total_amount = match draft.total_amount.as_deref() {
        Some(raw) => Some(
            Money::parse(raw).ok_or_else(|| value("total_amount", "must be a decimal with up to 2 decimal places"))?,
        ),
        None if point => Some(sum),
        None => return Err(required("total_amount")),
    };
    if !payments.is_empty() && total_amount != Some(sum) {
        return Err(Invalid::Refused(Refusal::TotalMismatch));
    }
    if draft.currency.as_deref().is_some_and(|c| c != principal.site_id.currency()) {
        return Err(value(
            "currency",
            &format!("must be {}, the currency of the account's site", principal.site_id.currency()),
        ));
    }
    let (expiration_time, expires_at) = expiration(point, draft.expiration_time, now)?;
    let terminal_id = match &draft.point {
        _ if !point => None,
        None => return Err(required("config.point.terminal_id")),
        Some(p) => Some(point_config(p)?),
    };
    if !point && !principal.live_mode && draft.payer_email.as_ref().is_some_and(|e| !e.contains("@testuser.com")) {
        return Err(Invalid::Refused(Refusal::SandboxEmail));
    }
    Ok(Order {
        id,
        user_id: principal.user_id,
        site_id: principal.site_id,
        live_mode: principal.live_mode,
        order_type,
        external_reference: draft.external_reference,
        description: draft.description,
        total_amount,
        processing_mode,
        capture_mode,
        status: Status::Created,
        status_detail: "created".to_owned(),
        expiration_time,
        expires_at,
        terminal_id,
        payments,
        refunds: Vec::new(),
        echo: draft.echo,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

fn expiration(
    point: bool,
    sent: Option<String>,
    now: Timestamp,
) -> Result<(Option<String>, Option<Timestamp>), Invalid> {
    let sent = if point { Some(sent.unwrap_or_else(|| POINT_EXPIRATION_DEFAULT.to_owned())) } else { sent };
    let Some(raw) = sent else {
        return Ok((None, None));
    };
    let ms = parse_duration_ms(&raw).ok_or_else(|| value("expiration_time", "must be an ISO 8601 duration"))?;
    if !point {
        return Ok((Some(raw), None));
    }
    if !(POINT_EXPIRATION_MIN_MS..=POINT_EXPIRATION_MAX_MS).contains(&ms) {
        return Err(value("expiration_time", "must be between PT30S and PT3H"));
    }
    Ok((Some(raw), Some(now.plus_millis(ms))))
}

fn point_config(p: &PointDraft) -> Result<String, Invalid> {
    let terminal =
        p.terminal_id.clone().filter(|t| !t.is_empty()).ok_or_else(|| required("config.point.terminal_id"))?;
    if p.print_on_terminal.as_deref().is_some_and(|v| !["seller_ticket", "no_ticket"].contains(&v)) {
        return Err(value("config.point.print_on_terminal", "must be seller_ticket or no_ticket"));
    }
    if p.default_type.as_deref().is_some_and(|v| !["credit_card", "debit_card", "qr"].contains(&v)) {
        return Err(value("config.payment_method.default_type", "must be credit_card, debit_card or qr"));
    }
    Ok(terminal)
}

/// A new payment (`created`) from a request's entry: an amount for Point; an amount
/// and a payment method for online orders.
pub fn new_payment(draft: PaymentDraft, id: PaymentId, order_type: OrderType, field: &str) -> Result<Payment, Invalid> {
    let amount = draft.amount.as_deref().ok_or_else(|| required(&format!("{field}.amount")))?;
    let amount = Money::parse(amount)
        .filter(|m| *m > Money::ZERO)
        .ok_or_else(|| value(&format!("{field}.amount"), "must be a positive decimal with up to 2 decimal places"))?;
    match (order_type, &draft.payment_method) {
        (OrderType::Point, Some(_)) => {
            return Err(property(
                PropertyError::Unsupported,
                format!("additionalProperties '$.{field}.payment_method' not allowed"),
            ))
        }
        (OrderType::Online, None) => return Err(required(&format!("{field}.payment_method"))),
        (OrderType::Online, Some(method)) => {
            // An Automatic Payments charge pays with its payment profile's card: no token.
            let recurring = draft.echo.contains_key("automatic_payments");
            check_method(method, &format!("{field}.payment_method"), recurring)?;
        }
        (OrderType::Point, None) => {}
    }
    Ok(Payment {
        id,
        amount,
        paid_amount: None,
        refunded_amount: Money::ZERO,
        reference_id: None,
        status: Status::Created,
        status_detail: "created".to_owned(),
        payment_method: draft.payment_method,
        card: None,
        echo: draft.echo,
    })
}

/// An online payment method: `id` and `type` required, a `token` for cards (unless a
/// payment profile pays: `recurring`), 1 to 36 installments.
pub fn check_method(method: &PaymentMethod, field: &str, recurring: bool) -> Result<PaymentType, Invalid> {
    method.id.as_ref().filter(|id| !id.is_empty()).ok_or_else(|| required(&format!("{field}.id")))?;
    let kind = method.kind.as_deref().ok_or_else(|| required(&format!("{field}.type")))?;
    let kind = PaymentType::parse(kind).ok_or_else(|| {
        value(&format!("{field}.type"), "must be credit_card, debit_card, prepaid_card, bank_transfer or ticket")
    })?;
    if kind.is_card() && !recurring && method.token.as_ref().is_none_or(|t| t.is_empty()) {
        return Err(required(&format!("{field}.token")));
    }
    if method.installments.is_some_and(|n| n == 0 || n > INSTALLMENTS_MAX) {
        return Err(value(&format!("{field}.installments"), "must be between 1 and 36"));
    }
    Ok(kind)
}
