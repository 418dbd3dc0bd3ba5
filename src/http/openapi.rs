//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, OrdersAuthErrorBody, OrdersErrorBody};
use super::{
    cards, checkout, customers, notifications, orders, payments, payouts, point, profiles, transaction_intents,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "caja",
        description = "A self-hosted, Mercado Pago-compatible payments API with safe, audited cancels.\n\ncaja's own, test accounts only: any API request may carry `X-Caja-Fault: <item>[, <item>]` to misbehave on purpose. Items: `latency=MS` (0-30000, wait first); `status=500` (the family's internal error, empty cause), `status=503` (busy, Retry-After: 1), `status=429` (rate limited, Retry-After: 1), each running nothing; `reset` (close the connection unanswered, running nothing); `lose-answer` (run the request, then close the connection unanswered: a retry with the same X-Idempotency-Key replays it). At most one of status, reset and lose-answer. A live account gets the family's 403, an unreadable header its 400.",
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
        transaction_intents::process,
        transaction_intents::get_intent,
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
        super::test_users::create_test_user,
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
        super::journal::list_requests,
        super::webhook_check::check_receiver,
        super::clock::read_clock,
        super::clock::advance_clock,
        super::faults::create_rule,
        super::faults::list_rules,
        super::faults::delete_rule,
        super::reset::reset,
        super::trigger::trigger,
        super::health,
    ),
    components(schemas(ErrorBody, OrdersErrorBody, OrdersAuthErrorBody)),
    modifiers(&BearerAuth, &CommonResponses),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The answers any operation can give besides its own table, added where an
/// operation does not list them itself: 401 and 429 where a token is required (the
/// failed-authentication limit and the token's rate limit), 400, 408, 409 and 413 on
/// writes (key and body checks), 404 where the path names a resource, and 500 and
/// 503 everywhere. Each in the envelope of the operation's
/// family (the Orders envelope under `/v1/orders`).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            let schema = if path.starts_with("/v1/orders") { "OrdersErrorBody" } else { "ErrorBody" };
            let answer = |description: &str, schema: &str| {
                let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
                ResponseBuilder::new().description(description).content("application/json", content).build()
            };
            // Every write reads its body (if any), whether or not it declares one.
            let operations = [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ];
            for (reads_body, operation) in operations {
                let Some(operation) = operation else { continue };
                let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut common = vec![
                    ("500", "An unexpected error; nothing was committed. Retry under the same key."),
                    ("503", "The request took too long or the store is unavailable. Retry under the same key."),
                ];
                if authenticated {
                    common.push(("401", "No token, or not a valid one."));
                    common.push(("429", "Over the token's rate limit, or too many failed authentications from this address (`Retry-After`)."));
                }
                if reads_body {
                    common.push((
                        "400",
                        "A malformed body, or an X-Idempotency-Key missing or not 1 to 64 visible ASCII characters.",
                    ));
                    common.push(("408", "The body did not arrive within the body-read deadline."));
                    common.push(("409", "The X-Idempotency-Key was already used for another request."));
                    common.push(("413", "The body is larger than 1 MiB."));
                }
                if path.contains('{') {
                    common.push(("404", "No such resource for this account."));
                }
                for (status, description) in common {
                    let entry = operation.responses.responses.entry(status.to_owned());
                    entry.or_insert_with(|| answer(description, schema).into());
                }
                if authenticated && path.starts_with("/v1/orders") {
                    // The Orders platform's authentication layer answers flat.
                    let flat =
                        answer("No token, or not a valid one (`{\"code\",\"message\"}`).", "OrdersAuthErrorBody");
                    operation.responses.responses.insert("401".to_owned(), flat.into());
                }
            }
        }
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
