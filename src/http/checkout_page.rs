//! caja's hosted test checkout: where a preference's `init_point` leads. It shows the
//! items and the total, takes a test card (the cardholder's name decides, as in
//! Mercado Pago's test environment) or Pix, makes the payment through the engine
//! (exactly once per page view, under the form's key), and sends the buyer back to
//! the preference's `back_urls` with the query parameters Mercado Pago adds. It is
//! caja's own page, server-rendered, with no script.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::json_response;
use super::AppState;
use crate::domain::card::{card_face, CardTokenDraft, Cardholder};
use crate::domain::checkout::{Closed, Preference};
use crate::domain::payment::{self, Status};
use crate::domain::payment_draft::{new_payment, PaymentDraft};
use crate::domain::{Fingerprint, IdempotencyKey, Principal, SiteId, StoredResponse, TokenHash};
use crate::engine::checkout::{self as engine, Choice, PayPreference};
use crate::engine::{Command, Executed, RequestContext};

pub fn routes() -> Router<AppState> {
    Router::new().route("/checkout/v1/redirect", get(show)).route("/checkout/v1/pay", post(pay))
}

/// The cardholder names the test-cards page lists, and what each does.
const CARDHOLDERS: &[(&str, &str)] = &[
    ("APRO", "Approved payment"),
    ("OTHE", "Declined for general error"),
    ("CONT", "Pending payment"),
    ("CALL", "Declined with validation to authorize"),
    ("FUND", "Declined for insufficient amount"),
    ("SECU", "Declined for invalid security code"),
    ("EXPI", "Declined due to due date issue"),
    ("FORM", "Declined due to form error"),
];

/// The site's test card of a brand (the test-cards page's).
fn test_card(site: SiteId, brand: &str) -> &'static str {
    match (brand, site) {
        ("visa", SiteId::Mlb) => "4235647728025682",
        ("visa", SiteId::Mlm) => "4075595716483764",
        ("visa", SiteId::Mlc) => "4168818844447115",
        ("visa", SiteId::Mco) => "4013540682746260",
        ("visa", SiteId::Mpe) => "4009175332806176",
        ("visa", SiteId::Mla | SiteId::Mlu) => "4509953566233704",
        ("amex", SiteId::Mlb) => "375365153556885",
        ("amex", _) => "371180303257522",
        (_, SiteId::Mlb) => "5031433215406351",
        (_, SiteId::Mlm) => "5474925432670366",
        (_, SiteId::Mlc) => "5416752602582580",
        (_, SiteId::Mco) => "5254133674403564",
        (_, SiteId::Mla | SiteId::Mlu | SiteId::Mpe) => "5031755734530604",
    }
}

/// The most installments the page offers: the preference's, else 12.
fn installments_max(p: &Preference) -> u32 {
    p.payment_methods.installments.unwrap_or(12).clamp(1, 36)
}

/// A form key the page issued for this preference: `<uuid>.<mac>`, the mac keyed by
/// the store's secret (so any process of the deployment can check it).
fn nonce(state: &AppState, preference: &str, fresh: &str) -> String {
    let mac = state.store.token_hasher().hash(&format!("checkout:{preference}:{fresh}"));
    format!("{fresh}.{}", hex::encode(&mac.0[..8]))
}

fn nonce_valid(state: &AppState, preference: &str, sent: &str) -> bool {
    sent.split_once('.').is_some_and(|(fresh, _)| nonce(state, preference, fresh) == sent)
}

/// A refusal in words a buyer can read.
fn refusal_text(refusal: &payment::Refusal) -> String {
    match refusal {
        payment::Refusal::Invalid(cause) => cause.description.to_owned(),
        other => format!("The payment was refused ({other:?})."),
    }
}

fn page(title: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · caja checkout" }
                style { "body{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}table{width:100%;border-collapse:collapse}td,th{padding:.3rem;border-bottom:1px solid #ddd;text-align:left}label{display:block;margin:.6rem 0 .2rem}input,select,button{font-size:1rem;padding:.3rem;width:100%}button{margin-top:1rem}.note{color:#555;font-size:.9rem}" }
            }
            body {
                p.note { "caja test checkout: no real payment is made." }
                (body)
            }
        }
    };
    Html(markup.into_string())
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (status, page("Cannot pay", html! { h1 { "Cannot pay" } p id="error" { (message) } })).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ShowParams {
    pref_id: Option<String>,
}

async fn preference(state: &AppState, id: String) -> Result<Preference, Response> {
    let found = state.store.read(move |r| engine::public_preference(r, &id)).await.map_err(|err| {
        tracing::error!(error = %err, "reading a preference failed");
        error_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. Try again.")
    })?;
    found.ok_or_else(|| error_page(StatusCode::NOT_FOUND, "There is no such preference."))
}

fn closed_message(closed: Closed) -> &'static str {
    match closed {
        Closed::NotYetOpen => "This checkout is not open yet (expiration_date_from).",
        Closed::Expired => "This checkout has expired (expiration_date_to).",
    }
}

/// `GET /checkout/v1/redirect?pref_id=…`: the checkout page.
pub async fn show(State(state): State<AppState>, params: Result<Query<ShowParams>, QueryRejection>) -> Response {
    let Ok(Query(params)) = params else {
        return error_page(StatusCode::BAD_REQUEST, "The link is malformed: it needs one pref_id.");
    };
    let Some(id) = params.pref_id else {
        return error_page(StatusCode::BAD_REQUEST, "pref_id is required.");
    };
    let p = match preference(&state, id).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(now) = state.time_of(p.user_id, p.live_mode).await else {
        return error_page(StatusCode::SERVICE_UNAVAILABLE, "The checkout is unavailable; try again.");
    };
    if let Err(closed) = p.open_at(now) {
        return error_page(StatusCode::GONE, closed_message(closed));
    }
    let rules = &p.payment_methods;
    let card_brand = ["master", "visa", "amex"].into_iter().find(|m| rules.allows(m, "credit_card"));
    let card_allowed = card_brand.is_some();
    let pix_allowed = payment::method(p.site_id, "pix").is_some() && rules.allows("pix", "bank_transfer");
    let most = installments_max(&p);
    let nonce = nonce(&state, &p.id, &uuid::Uuid::new_v4().to_string());
    let pix_nonce = self::nonce(&state, &p.id, &uuid::Uuid::new_v4().to_string());
    let body = html! {
        h1 { "Pay " (p.summary()) }
        table {
            tr { th { "Item" } th { "Qty" } th { "Price" } }
            @for item in &p.items {
                tr { td { (item.title) } td { (item.quantity) } td { (item.currency_id) " " (item.unit_price) } }
            }
            tr { th { "Total" } td {} th id="total" { (p.site_id.currency()) " " (p.total()) } }
        }
        @if card_allowed {
            form id="card" method="post" action="/checkout/v1/pay" {
                input type="hidden" name="pref_id" value=(p.id);
                input type="hidden" name="nonce" value=(nonce);
                input type="hidden" name="method" value="card";
                label for="card_number" { "Card number (test card)" }
                input id="card_number" name="card_number" value=(test_card(p.site_id, card_brand.unwrap_or("master"))) inputmode="numeric";
                label for="expiration" { "Expiration (MM/YY)" }
                input id="expiration" name="expiration" value="11/30";
                label for="security_code" { "Security code" }
                input id="security_code" name="security_code" value="123";
                label for="cardholder_name" { "Cardholder name: decides the outcome" }
                select id="cardholder_name" name="cardholder_name" {
                    @for (name, what) in CARDHOLDERS { option value=(name) { (name) " — " (what) } }
                }
                label for="identification_number" { "Document number" }
                input id="identification_number" name="identification_number" value="12345678909";
                label for="email" { "Email" }
                input id="email" name="email" value="test@testuser.com";
                label for="installments" { "Installments" }
                select id="installments" name="installments" {
                    @for n in 1..=most { option value=(n) { (n) } }
                }
                button id="pay" type="submit" { "Pay" }
            }
        }
        @if !card_allowed && !pix_allowed {
            p id="error" { "This preference excludes every payment method this checkout offers (cards and Pix)." }
        }
        @if pix_allowed {
            form id="pix" method="post" action="/checkout/v1/pay" {
                input type="hidden" name="pref_id" value=(p.id);
                input type="hidden" name="nonce" value=(pix_nonce);
                input type="hidden" name="method" value="pix";
                input type="hidden" name="email" value="test@testuser.com";
                button id="pay-pix" type="submit" { "Pay with Pix" }
            }
        }
    };
    page("Checkout", body).into_response()
}

/// The checkout form.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    pref_id: String,
    nonce: String,
    method: String,
    card_number: Option<String>,
    expiration: Option<String>,
    security_code: Option<String>,
    cardholder_name: Option<String>,
    identification_number: Option<String>,
    email: Option<String>,
    installments: Option<String>,
}

/// What the payment's outcome sends back to the page: where to go.
fn outcome(payment: &crate::domain::payment::Payment, order_id: i64) -> StoredResponse {
    json_response(
        StatusCode::OK,
        &json!({
            "payment_id": payment.id,
            "status": payment.status.as_str(),
            "payment_type": payment.payment_type_id,
            "merchant_order_id": order_id,
        }),
    )
}

/// `POST /checkout/v1/pay`: pay, then back to the preference's `back_urls`.
pub async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PayForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form is incomplete or malformed; open the checkout again.");
    };
    let p = match preference(&state, form.pref_id.clone()).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(now) = state.time_of(p.user_id, p.live_mode).await else {
        return error_page(StatusCode::SERVICE_UNAVAILABLE, "The checkout is unavailable; try again.");
    };
    if let Err(closed) = p.open_at(now) {
        return error_page(StatusCode::GONE, closed_message(closed));
    }
    if !nonce_valid(&state, &p.id, &form.nonce) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This form was not issued by this checkout; open the checkout again.",
        );
    }
    let installments = match form.installments.as_deref().map(str::parse::<u32>) {
        None => 1,
        Some(Ok(n)) if (1..=installments_max(&p)).contains(&n) => n,
        Some(_) => return error_page(StatusCode::BAD_REQUEST, "Choose one of the installments the checkout offers."),
    };
    let (choice, method_id) = match form.method.as_str() {
        "pix" => (Choice::Other, "pix".to_owned()),
        _ => {
            let (month, year) = form.expiration.as_deref().and_then(|e| e.split_once('/')).unwrap_or(("", ""));
            let year = year.parse::<u32>().map(|y| if y < 100 { 2000 + y } else { y }).ok();
            let draft = CardTokenDraft {
                card_number: form.card_number.clone().map(|n| n.replace(' ', "")),
                expiration_month: month.parse().ok(),
                expiration_year: year,
                security_code: form.security_code.clone(),
                cardholder: Cardholder {
                    name: form.cardholder_name.clone(),
                    identification_type: Some("CPF".to_owned()),
                    identification_number: form.identification_number.clone(),
                },
                card_id: None,
            };
            let year_now = chrono::Utc::now().format("%Y").to_string().parse().unwrap_or(2026);
            match card_face(&draft, year_now) {
                Ok(face) => {
                    let brand = face.payment_method_id.clone();
                    (Choice::Card(face), brand)
                }
                Err(invalid) => return error_page(StatusCode::BAD_REQUEST, &invalid.0),
            }
        }
    };
    let Some(method) = payment::method(p.site_id, &method_id) else {
        return error_page(StatusCode::BAD_REQUEST, "This payment method is not offered on this site.");
    };
    if !p.payment_methods.allows(method.id, method.payment_type_id) {
        return error_page(StatusCode::BAD_REQUEST, "This preference excludes this payment method.");
    }
    let principal = Principal {
        user_id: p.user_id,
        site_id: p.site_id,
        live_mode: p.live_mode,
        payouts_enabled: false,
        token_hash: TokenHash([0; 32]),
    };
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|i| json!({ "id": i.id, "title": i.title, "description": i.description, "category_id": i.category_id,
                          "picture_url": i.picture_url, "quantity": i.quantity.to_string(), "unit_price": i.unit_price.to_string() }))
        .collect();
    let mut echo = crate::domain::order::Echo::new();
    echo.insert("additional_info".to_owned(), json!({ "items": items }));
    echo.insert("payer".to_owned(), json!({ "email": form.email }));
    let draft = PaymentDraft {
        transaction_amount: Some(p.total().to_string()),
        installments: Some(if matches!(choice, Choice::Card(_)) { installments } else { 1 }),
        // The card was read on this page: no token resource stands between.
        token: matches!(choice, Choice::Card(_)).then(|| "hosted-checkout".to_owned()),
        payment_method_id: Some(method.id.to_owned()),
        description: Some(p.summary()),
        external_reference: p.external_reference.clone(),
        notification_url: p.notification_url.clone(),
        binary_mode: Some(p.binary_mode),
        payer_email: Some(form.email.clone()),
        echo,
        ..PaymentDraft::default()
    };
    let payment = match new_payment(draft, super::payments::new_id(), &principal, now) {
        Ok(payment) => payment,
        Err(refusal) => return error_page(StatusCode::BAD_REQUEST, &refusal_text(&refusal)),
    };
    let key_text = form.nonce.split_once('.').map_or(form.nonce.as_str(), |(fresh, _)| fresh);
    let Ok(key) = IdempotencyKey::parse(Some(key_text)) else {
        return error_page(StatusCode::BAD_REQUEST, "The form is stale; open the checkout again.");
    };
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let ctx = RequestContext {
        fingerprint: Fingerprint::of(
            "POST",
            "/checkout/v1/pay",
            format!("{}:{}", form.pref_id, form.method).as_bytes(),
        ),
        principal,
        key: Some(key),
        request_id,
        now,
        retention_ms: state.retention_ms,
    };
    let op =
        PayPreference { preference_id: p.id.clone(), payment, choice, merchant_order_id: super::payments::new_id() };
    let render = |outcome_of: &Result<
        (crate::domain::payment::Payment, crate::domain::checkout::MerchantOrder),
        crate::engine::Failure,
    >| match outcome_of {
        Ok((payment, order)) => outcome(payment, order.id),
        Err(crate::engine::Failure::Payment(refusal)) => {
            json_response(StatusCode::BAD_REQUEST, &json!({ "error": refusal_text(refusal) }))
        }
        Err(_) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": "The payment was refused." })),
    };
    let stored = match state.store.execute(Command::new(ctx, Ok(op), render)).await {
        Ok(Executed::Fresh(stored) | Executed::Replayed(stored)) => stored,
        Ok(Executed::KeyConflict) => {
            return error_page(StatusCode::CONFLICT, "This form was already used; open the checkout again.")
        }
        Err(err) => {
            tracing::error!(error = %err, "a checkout payment failed; nothing was committed");
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Something went wrong. Try again.");
        }
    };
    let result: Value = serde_json::from_slice(&stored.body).unwrap_or(Value::Null);
    if stored.status != 200 {
        return error_page(StatusCode::BAD_REQUEST, result["error"].as_str().unwrap_or("The payment was refused."));
    }
    back(&p, &result)
}

/// Back to the preference's site: to `success`, `pending` or `failure` by the
/// payment's status, with Mercado Pago's query parameters; at once when
/// `auto_return` says so, else through a page with a link.
fn back(p: &Preference, result: &Value) -> Response {
    let status = result["status"].as_str().unwrap_or("");
    let (url, approved) = match Status::parse(status) {
        Some(Status::Approved) => (&p.back_urls.success, true),
        Some(Status::Pending | Status::InProcess | Status::Authorized) => (&p.back_urls.pending, false),
        _ => (&p.back_urls.failure, false),
    };
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let query = [
        ("collection_id", text(&result["payment_id"])),
        ("collection_status", status.to_owned()),
        ("payment_id", text(&result["payment_id"])),
        ("status", status.to_owned()),
        ("external_reference", p.external_reference.clone().unwrap_or_else(|| "null".to_owned())),
        ("payment_type", text(&result["payment_type"])),
        ("merchant_order_id", text(&result["merchant_order_id"])),
        ("preference_id", p.id.clone()),
        ("site_id", p.site_id.as_str().to_owned()),
        ("processing_mode", "aggregator".to_owned()),
        ("merchant_account_id", "null".to_owned()),
    ];
    let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", crate::webhooks::form_encode(v))).collect();
    let target = url.as_deref().filter(|u| !u.is_empty()).map(|u| {
        let separator = if u.contains('?') { '&' } else { '?' };
        format!("{u}{separator}{}", encoded.join("&"))
    });
    let automatic = match p.auto_return.as_deref() {
        Some("all") => true,
        Some("approved") => approved,
        _ => false,
    };
    match target {
        Some(target) if automatic => (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response(),
        target => page(
            "Payment",
            html! {
                h1 id="result" { "Payment " (status) }
                p { "Payment " span id="payment_id" { (text(&result["payment_id"])) } " is " strong { (status) } "." }
                @if let Some(target) = target { p { a id="back" href=(target) { "Return to the site" } } }
            },
        )
        .into_response(),
    }
}
