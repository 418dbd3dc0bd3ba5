//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, OrdersErrorBody};
use super::{cards, checkout, customers, notifications, orders, payments, payouts, point, profiles};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "caja",
        description = "A self-hosted, Mercado Pago-compatible payments API with safe, audited cancels.",
        license(name = "MIT")
    ),
    paths(
        point::create_action,
        point::get_action,
        point::cancel_action,
        point::list_terminals,
        point::setup_terminals,
        point::action_event,
        payouts::create_payout,
        payouts::get_payout,
        payouts::list_transactions,
        payouts::get_transaction,
        payouts::cancel_transaction,
        payouts::transaction_event,
        customers::create_customer,
        customers::search_customers,
        customers::get_customer,
        customers::update_customer,
        customers::delete_customer,
        cards::create_card_token,
        cards::get_card_token,
        cards::save_card,
        cards::list_cards,
        cards::get_card,
        cards::update_card,
        cards::delete_card,
        profiles::create_profile,
        profiles::list_profiles,
        profiles::get_profile,
        profiles::add_payment_method,
        profiles::remove_payment_method,
        profiles::cancel_profile,
        orders::create_order,
        orders::search_orders,
        orders::get_order,
        orders::process_order,
        orders::capture_order,
        orders::cancel_order,
        orders::refund_order,
        orders::add_transaction,
        orders::update_transaction,
        orders::delete_transaction,
        orders::simulate_order,
        payments::create_payment,
        payments::search_payments,
        payments::get_payment,
        payments::update_payment,
        payments::create_refund,
        payments::list_refunds,
        payments::get_refund,
        payments::simulate_payment,
        payments::payment_methods,
        payments::users_me,
        checkout::create_preference,
        checkout::search_preferences,
        checkout::get_preference,
        checkout::update_preference,
        checkout::create_merchant_order,
        checkout::search_merchant_orders,
        checkout::get_merchant_order,
        checkout::update_merchant_order,
        notifications::list_notifications,
        notifications::retry_notification,
        notifications::list_audit_events,
        super::health,
    ),
    components(schemas(ErrorBody, OrdersErrorBody)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document as pretty JSON.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    // The version is the crate's, so a release shows in the document.
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
}

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
