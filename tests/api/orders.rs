//! The online Orders reference pages (`reference/online-payments/checkout-api/…`:
//! create, get, search, process, capture, cancel, refund, add, update and delete a
//! transaction), row by row, in the Orders envelope `{"errors":[{code,message,
//! details}]}`. Card payments are decided by the card token's cardholder name, as
//! Mercado Pago's test environment decides them.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{join_all, unique_key, Account, Options, TestApp};

/// An id in the Orders format that no order has.
pub const UNKNOWN_ORDER: &str = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";

impl TestApp {
    /// A request to the Orders API with a fresh `X-Idempotency-Key` on writes.
    pub async fn orders(&self, method: Method, path: &str, account: &Account, body: Option<Value>) -> Response {
        let key = (method != Method::GET).then(unique_key);
        self.orders_keyed(method, path, account, key.as_deref(), body).await
    }

    pub async fn orders_keyed(
        &self,
        method: Method,
        path: &str,
        account: &Account,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&account.token);
        if let Some(key) = key {
            request = request.header("X-Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A card token for a test card whose cardholder name decides the payment.
    pub async fn card_token_named(&self, account: &Account, cardholder: &str) -> String {
        let body = json!({
            "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
            "security_code": "123", "cardholder": { "name": cardholder, "identification": { "type": "CPF", "number": "12345678909" } },
        });
        let response = self.orders(Method::POST, "/v1/card_tokens", account, Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// Create an online card order for `cardholder`'s card; returns the status and body.
    pub async fn card_order(&self, account: &Account, cardholder: &str, extra: Value) -> (StatusCode, Value) {
        let token = self.card_token_named(account, cardholder).await;
        let mut body = card_order_body(&token, "100.00");
        merge(&mut body, extra);
        let response = self.orders(Method::POST, "/v1/orders", account, Some(body)).await;
        (response.status(), response.json().await.unwrap())
    }
}

pub fn card_order_body(token: &str, amount: &str) -> Value {
    json!({
        "type": "online",
        "external_reference": "ext_ref_1234",
        "total_amount": amount,
        "payer": { "email": "test@testuser.com" },
        "transactions": { "payments": [
            { "amount": amount, "payment_method": { "id": "master", "type": "credit_card", "token": token, "installments": 1 } }
        ] },
    })
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// Assert an error in the Orders envelope and return its one entry.
pub async fn assert_orders_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let body: Value = response.json().await.unwrap();
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("no errors list: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], code, "{body}");
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    errors[0].clone()
}

fn payment(order: &Value) -> &Value {
    &order["transactions"]["payments"][0]
}

#[tokio::test]
async fn an_approved_card_order_is_processed_with_amounts_as_strings() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (status, order) = app.card_order(&account, "APRO", json!({ "description": "Smartphone" })).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap();
    assert!(id.starts_with("ORD") && id.len() == 29, "{id}");
    assert_eq!(order["type"], "online");
    assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("processed"), Some("accredited")));
    assert_eq!(order["total_amount"], "100.00");
    assert_eq!(order["total_paid_amount"], "100.00");
    assert_eq!(order["processing_mode"], "automatic");
    assert_eq!(order["capture_mode"], "automatic_async");
    assert_eq!(order["country_code"], "BR");
    assert_eq!(order["currency"], "BRL");
    assert_eq!(order["user_id"], account.user_id.to_string());
    assert_eq!(order["description"], "Smartphone");
    assert!(order.get("payer").is_none(), "the real API does not show the payer: {order}");
    let created = order["created_date"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "milliseconds and Z: {created}");
    let p = payment(&order);
    assert!(p["id"].as_str().unwrap().starts_with("PAY"));
    assert_eq!((p["status"].as_str(), p["status_detail"].as_str()), (Some("processed"), Some("accredited")));
    assert_eq!(p["amount"], "100.00");
    assert_eq!(p["paid_amount"], "100.00");
    assert_eq!(p["payment_method"]["installment_amount"], "100.00");
    assert!(p["reference_id"].as_str().is_some_and(|r| !r.is_empty()));

    let read = app.orders(Method::GET, &format!("/v1/orders/{id}"), &account, None).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap(), order, "a read shows what the create answered");
}

#[tokio::test]
async fn the_cardholder_name_decides_as_the_test_cards_table_says() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for (name, detail) in [
        ("OTHE", "rejected_by_issuer"),
        ("CALL", "required_call_for_authorize"),
        ("FUND", "insufficient_amount"),
        ("SECU", "bad_filled_card_data"),
        ("EXPI", "bad_filled_card_data"),
        ("FORM", "bad_filled_card_data"),
        ("CARD", "bad_filled_card_data"),
        ("INST", "invalid_installments"),
        ("LOCK", "card_disabled"),
        ("BLAC", "high_risk"),
        ("ATTE", "max_attempts_exceeded"),
        ("DUPL", "rejected_by_issuer"),
        ("CTNA", "rejected_by_issuer"),
        ("UNSU", "processing_error"),
    ] {
        let token = app.card_token_named(&account, name).await;
        let response = app.orders(Method::POST, "/v1/orders", &account, Some(card_order_body(&token, "10.00"))).await;
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED, "{name}");
        let body: Value = response.json().await.unwrap();
        let order = &body["data"];
        let payment_id = payment(order)["id"].as_str().unwrap();
        assert_eq!(
            body["errors"],
            json!([{ "code": "failed", "message": "The following transactions failed", "details": [format!("{payment_id}: {detail}")] }])
        );
        assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("failed"), Some("failed")));
        assert_eq!(payment(order)["status_detail"], detail);
        // The declined order exists all the same.
        let read =
            app.orders(Method::GET, &format!("/v1/orders/{}", order["id"].as_str().unwrap()), &account, None).await;
        assert_eq!(read.json::<Value>().await.unwrap()["status"], "failed");
    }
    let (status, order) = app.card_order(&account, "CONT", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("processing"), Some("in_process")));
}

#[tokio::test]
async fn a_card_token_pays_once_and_never_leaves_the_whole_number() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let token = app.card_token_named(&account, "APRO").await;
    let first = app.orders(Method::POST, "/v1/orders", &account, Some(card_order_body(&token, "5"))).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = app.orders(Method::POST, "/v1/orders", &account, Some(card_order_body(&token, "5"))).await;
    assert_eq!(again.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = again.json().await.unwrap();
    assert_eq!(payment(&body["data"])["status_detail"], "invalid_card_token");
    let dump = app.db.stored_text();
    assert!(!dump.contains("5031433215406351") && !dump.contains("\"123\""), "a card number or CVV was stored");
}

#[tokio::test]
async fn a_manual_capture_waits_for_capture() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (status, order) = app.card_order(&account, "APRO", json!({ "capture_mode": "manual" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (order["status"].as_str(), order["status_detail"].as_str()),
        (Some("action_required"), Some("waiting_capture"))
    );
    assert!(order.get("total_paid_amount").is_none(), "nothing is paid before the capture: {order}");
    let id = order["id"].as_str().unwrap();
    let captured = app.orders(Method::POST, &format!("/v1/orders/{id}/capture"), &account, None).await;
    assert_eq!(captured.status(), StatusCode::OK);
    let body: Value = captured.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["status_detail"].as_str()), (Some("processed"), Some("accredited")));
    assert_eq!(payment(&body)["status"], "processed");
    assert_eq!(payment(&body)["amount"], "100.00");

    let twice = app.orders(Method::POST, &format!("/v1/orders/{id}/capture"), &account, None).await;
    assert_orders_error(twice, 409, "cannot_capture_order").await;
}

#[tokio::test]
async fn a_manual_order_takes_one_transaction_then_is_processed() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body =
        json!({ "type": "online", "processing_mode": "manual", "total_amount": "200.00", "external_reference": "m-1" });
    let created = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let order: Value = created.json().await.unwrap();
    assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("created"), Some("created")));
    assert_eq!(order["transactions"]["payments"], json!([]));
    let id = order["id"].as_str().unwrap().to_owned();
    let path = |rest: &str| format!("/v1/orders/{id}{rest}");

    let early = app.orders(Method::POST, &path("/process"), &account, None).await;
    assert_orders_error(early, 400, "order_builder_without_transactions").await;

    let token = app.card_token_named(&account, "APRO").await;
    let tx = json!({ "payments": [{ "amount": "150.00", "payment_method": { "id": "master", "type": "credit_card", "token": token, "installments": 1 } }] });
    let added = app.orders(Method::POST, &path("/transactions"), &account, Some(tx.clone())).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    let payment_id = added["payments"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(added["payments"][0]["status"], "created");
    assert_eq!(added["payments"][0]["amount"], "150.00");

    let second = app.orders(Method::POST, &path("/transactions"), &account, Some(tx)).await;
    assert_orders_error(second, 400, "exceeded_number_of_transactions").await;

    let mismatch = app.orders(Method::POST, &path("/process"), &account, None).await;
    assert_orders_error(mismatch, 400, "invalid_total_amount").await;

    let change = json!({ "amount": "200.00", "payment_method": { "installments": 3 } });
    let updated = app.orders(Method::PUT, &path(&format!("/transactions/{payment_id}")), &account, Some(change)).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["payment_method"]["installments"], 3);
    assert_eq!(updated["payment_method"]["installment_amount"], "66.67");
    assert_eq!(updated["payment_method"]["id"], "master", "fields not sent stay");

    let malformed = app.orders(Method::PUT, &path("/transactions/pay_1"), &account, Some(json!({}))).await;
    assert_orders_error(malformed, 400, "invalid_transaction_id").await;
    let unknown =
        app.orders(Method::DELETE, &path(&format!("/transactions/PAY{}", &UNKNOWN_ORDER[3..])), &account, None).await;
    assert_orders_error(unknown, 404, "transaction_not_found").await;

    let processed = app.orders(Method::POST, &path("/process"), &account, None).await;
    assert_eq!(processed.status(), StatusCode::OK);
    let processed: Value = processed.json().await.unwrap();
    assert_eq!(
        (processed["status"].as_str(), processed["status_detail"].as_str()),
        (Some("processed"), Some("accredited"))
    );
    assert_eq!(processed["total_paid_amount"], "200.00");

    let again = app.orders(Method::POST, &path("/process"), &account, None).await;
    assert_orders_error(again, 409, "operation_not_supported").await;
    let late = app.orders(Method::DELETE, &path(&format!("/transactions/{payment_id}")), &account, None).await;
    assert_orders_error(late, 409, "operation_not_supported").await;
}

#[tokio::test]
async fn a_transaction_is_deleted_with_204_and_without_a_key() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body = json!({ "type": "online", "processing_mode": "manual", "total_amount": "10.00" });
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let tx = json!({ "payments": [{ "amount": "10.00", "payment_method": { "id": "pix", "type": "bank_transfer" } }] });
    let added: Value = app
        .orders(Method::POST, &format!("/v1/orders/{id}/transactions"), &account, Some(tx))
        .await
        .json()
        .await
        .unwrap();
    let payment_id = added["payments"][0]["id"].as_str().unwrap();
    let path = format!("/v1/orders/{id}/transactions/{payment_id}");
    let deleted = app.orders_keyed(Method::DELETE, &path, &account, None, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().await.unwrap().is_empty());
    let read: Value = app.orders(Method::GET, &format!("/v1/orders/{id}"), &account, None).await.json().await.unwrap();
    assert_eq!(read["transactions"]["payments"], json!([]));
}

#[tokio::test]
async fn transactions_belong_to_manual_orders_only() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, order) = app.card_order(&account, "APRO", json!({})).await;
    let id = order["id"].as_str().unwrap();
    let tx = json!({ "payments": [{ "amount": "1.00", "payment_method": { "id": "pix", "type": "bank_transfer" } }] });
    let refused = app.orders(Method::POST, &format!("/v1/orders/{id}/transactions"), &account, Some(tx)).await;
    assert_orders_error(refused, 400, "invalid_order_mode_for_operation").await;
    let process = app.orders(Method::POST, &format!("/v1/orders/{id}/process"), &account, None).await;
    assert_orders_error(process, 400, "invalid_order_mode_for_operation").await;
}

#[tokio::test]
async fn cancel_takes_created_and_action_required_orders_only() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let manual = json!({ "type": "online", "processing_mode": "manual", "total_amount": "10.00" });
    let created: Value = app.orders(Method::POST, "/v1/orders", &account, Some(manual)).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let canceled = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let body: Value = canceled.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["status_detail"].as_str()), (Some("canceled"), Some("canceled")));
    let again = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    assert_orders_error(again, 409, "order_already_canceled").await;

    let (_, reserved) = app.card_order(&account, "APRO", json!({ "capture_mode": "manual" })).await;
    let id = reserved["id"].as_str().unwrap();
    let canceled: Value =
        app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await.json().await.unwrap();
    assert_eq!(payment(&canceled)["status"], "canceled");
    assert_eq!(payment(&canceled)["status_detail"], "canceled_transaction");

    let (_, processed) = app.card_order(&account, "APRO", json!({})).await;
    let id = processed["id"].as_str().unwrap();
    let refused = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    let error = assert_orders_error(refused, 409, "cannot_cancel_order").await;
    assert!(error["message"].as_str().unwrap().contains("status=action_required"), "{error}");
}

#[tokio::test]
async fn refunds_partial_then_total_then_refused() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, order) = app.card_order(&account, "APRO", json!({})).await;
    let id = order["id"].as_str().unwrap();
    let payment_id = payment(&order)["id"].as_str().unwrap();
    let refund_path = format!("/v1/orders/{id}/refund");
    let refund = |body: Option<Value>| app.orders(Method::POST, &refund_path, &account, body);

    let exceeds = refund(Some(json!({ "transactions": [{ "id": payment_id, "amount": "100.01" }] }))).await;
    assert_orders_error(exceeds, 400, "refund_amount_exceeds").await;
    let unknown =
        refund(Some(json!({ "transactions": [{ "id": format!("PAY{}", &UNKNOWN_ORDER[3..]), "amount": "1" }] }))).await;
    assert_orders_error(unknown, 404, "transaction_not_found").await;
    let none = refund(Some(json!({ "transactions": [] }))).await;
    assert_orders_error(none, 400, "minimum_items").await;
    let two = json!({ "transactions": [{ "id": payment_id, "amount": "1" }, { "id": payment_id, "amount": "1" }] });
    assert_orders_error(refund(Some(two)).await, 400, "maximum_items").await;

    let partial = refund(Some(json!({ "transactions": [{ "id": payment_id, "amount": "25.00" }] }))).await;
    assert_eq!(partial.status(), StatusCode::CREATED);
    let partial: Value = partial.json().await.unwrap();
    assert_eq!(
        (partial["status"].as_str(), partial["status_detail"].as_str()),
        (Some("processed"), Some("partially_refunded"))
    );
    let refunds = partial["transactions"]["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1);
    assert!(refunds[0]["id"].as_str().unwrap().starts_with("REF"));
    assert_eq!(refunds[0]["transaction_id"], payment_id);
    assert_eq!(refunds[0]["amount"], "25.00");
    assert_eq!(refunds[0]["status"], "processed");

    // No body at all (as both SDKs send it): the rest.
    let total = refund(None).await;
    assert_eq!(total.status(), StatusCode::CREATED);
    let total: Value = total.json().await.unwrap();
    assert_eq!((total["status"].as_str(), total["status_detail"].as_str()), (Some("refunded"), Some("refunded")));
    assert_eq!(total["transactions"]["refunds"][0]["amount"], "75.00");

    assert_orders_error(refund(None).await, 409, "order_already_refunded").await;
    let read: Value = app.orders(Method::GET, &format!("/v1/orders/{id}"), &account, None).await.json().await.unwrap();
    assert_eq!(read["transactions"]["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(payment(&read)["refunded_amount"], "100.00");

    let manual = json!({ "type": "online", "processing_mode": "manual", "total_amount": "10.00" });
    let created: Value = app.orders(Method::POST, "/v1/orders", &account, Some(manual)).await.json().await.unwrap();
    let unpaid = app
        .orders(Method::POST, &format!("/v1/orders/{}/refund", created["id"].as_str().unwrap()), &account, None)
        .await;
    assert_orders_error(unpaid, 409, "cannot_refund_order").await;
}

#[tokio::test]
async fn create_refuses_each_documented_row() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let token = app.card_token_named(&account, "APRO").await;
    let good = card_order_body(&token, "10.00");
    let with = |change: Value| {
        let mut body = good.clone();
        merge(&mut body, change);
        body
    };
    let create = |body: Value| app.orders(Method::POST, "/v1/orders", &account, Some(body));

    let no_key = app.orders_keyed(Method::POST, "/v1/orders", &account, None, Some(good.clone())).await;
    assert_orders_error(no_key, 400, "empty_required_header").await;
    let long_key =
        app.orders_keyed(Method::POST, "/v1/orders", &account, Some(&"k".repeat(65)), Some(good.clone())).await;
    assert_orders_error(long_key, 400, "invalid_idempotency_key_length").await;

    let rows: Vec<(Value, &str)> = vec![
        (json!({ "total_amount": "10.00" }), "required_properties"),
        (with(json!({ "notification_url": "https://example.com" })), "unsupported_properties"),
        (with(json!({ "total_amount": 10 })), "property_type"),
        (with(json!({ "external_reference": "has spaces" })), "property_value"),
        (with(json!({ "capture_mode": "later" })), "property_value"),
        (with(json!({ "transactions": { "payments": [] } })), "minimum_items"),
        (
            with(json!({ "transactions": { "payments": [
                { "amount": "5.00", "payment_method": { "id": "pix", "type": "bank_transfer" } },
                { "amount": "5.00", "payment_method": { "id": "pix", "type": "bank_transfer" } }] } })),
            "maximum_items",
        ),
        (with(json!({ "total_amount": "11.00" })), "invalid_total_amount"),
        (with(json!({ "payer": { "email": "someone@example.com" } })), "invalid_email_for_sandbox"),
        (with(json!({ "type": "qr" })), "invalid_order_type"),
        (
            json!({ "type": "online", "processing_mode": "manual", "total_amount": "1.00", "transactions": { "payments": [] } }),
            "order_builder_without_transactions",
        ),
    ];
    for (body, code) in rows {
        let error = assert_orders_error(create(body.clone()).await, 400, code).await;
        if code.starts_with("required") || code.starts_with("unsupported") || code.starts_with("property") {
            assert!(error["details"][0].as_str().is_some_and(|d| d.contains("'$.")), "{code}: {error}");
        }
    }
    let broken = app
        .client
        .post(format!("{}/v1/orders", app.base))
        .bearer_auth(&account.token)
        .header("X-Idempotency-Key", unique_key())
        .body("{\"type\":")
        .send()
        .await
        .unwrap();
    assert_orders_error(broken, 400, "json_syntax_error").await;
    // The token was never spent by the refusals.
    assert_eq!(create(good).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_unknown_token_gets_the_flat_401_and_a_live_account_may_use_any_email() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/v1/orders/{UNKNOWN_ORDER}", app.base))
        .bearer_auth("APP_USR-0000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let live = app.account(true).await;
    let token = app.card_token_named(&live, "APRO").await;
    let mut body = card_order_body(&token, "3.00");
    body["payer"]["email"] = json!("buyer@example.com");
    let created = app.orders(Method::POST, "/v1/orders", &live, Some(body)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn get_refuses_a_malformed_id_and_another_accounts_order() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let other = app.test_account().await;
    let (_, order) = app.card_order(&account, "APRO", json!({})).await;
    let id = order["id"].as_str().unwrap();
    assert_orders_error(
        app.orders(Method::GET, "/v1/orders/not-an-id", &account, None).await,
        400,
        "invalid_path_param",
    )
    .await;
    let unknown = app.orders(Method::GET, &format!("/v1/orders/{UNKNOWN_ORDER}"), &account, None).await;
    assert_orders_error(unknown, 404, "order_not_found").await;
    let theirs = app.orders(Method::GET, &format!("/v1/orders/{id}"), &other, None).await;
    assert_orders_error(theirs, 404, "order_not_found").await;
    let cancel = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &other, None).await;
    assert_orders_error(cancel, 404, "order_not_found").await;
    let bad_cancel = app.orders(Method::POST, "/v1/orders/ORD123/cancel", &account, None).await;
    assert_orders_error(bad_cancel, 400, "invalid_path_param").await;
}

#[tokio::test]
async fn a_retry_replays_and_a_reused_key_is_refused() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let token = app.card_token_named(&account, "APRO").await;
    let body = card_order_body(&token, "7.00");
    let key = unique_key();
    let first = app.orders_keyed(Method::POST, "/v1/orders", &account, Some(&key), Some(body.clone())).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let replay = app.orders_keyed(Method::POST, "/v1/orders", &account, Some(&key), Some(body)).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers().get("x-idempotency-replayed").unwrap(), "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first, "the same order, not a second one");
    let other =
        app.orders_keyed(Method::POST, "/v1/orders", &account, Some(&key), Some(card_order_body(&token, "8.00"))).await;
    assert_orders_error(other, 409, "idempotency_key_already_used").await;
    // The Node SDK's sticky key: the same key on another path is another request.
    let path = format!("/v1/orders/{}/cancel", first["id"].as_str().unwrap());
    let sticky = app.orders_keyed(Method::POST, &path, &account, Some(&key), None).await;
    assert_orders_error(sticky, 409, "idempotency_key_already_used").await;
}

#[tokio::test]
async fn concurrent_captures_under_one_key_capture_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, order) = app.card_order(&account, "APRO", json!({ "capture_mode": "manual" })).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let key = unique_key();
    let path = format!("/v1/orders/{id}/capture");
    let calls = (0..16).map(|_| app.orders_keyed(Method::POST, &path, &account, Some(&key), None)).collect();
    let statuses: Vec<StatusCode> = join_all(calls).await.iter().map(Response::status).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let trail = app.audit(&account, caja::domain::ResourceType::Order, &id).await;
    let moves: Vec<(Option<String>, String)> = trail.into_iter().map(|e| (e.from_status, e.to_status)).collect();
    assert_eq!(
        moves,
        vec![
            (None, "created".to_owned()),
            (Some("created".to_owned()), "action_required".to_owned()),
            (Some("action_required".to_owned()), "processed".to_owned()),
        ]
    );
}

#[tokio::test]
async fn search_needs_its_dates_and_pages_newest_first() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, order) = app.card_order(&account, "APRO", json!({})).await;
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    let manual = json!({ "type": "online", "processing_mode": "manual", "total_amount": "1.00", "external_reference": "only-me" });
    let created: Value = app.orders(Method::POST, "/v1/orders", &account, Some(manual)).await.json().await.unwrap();
    let range = "begin_date=2020-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z";

    let missing = app.orders(Method::GET, "/v1/orders?begin_date=2020-01-01T00:00:00Z", &account, None).await;
    assert_orders_error(missing, 400, "required_search_params").await;
    for bad in [
        "begin_date=yesterday&end_date=2100-01-01T00:00:00Z",
        &format!("{range}&page_size=101"),
        &format!("{range}&sort_by=amount"),
        &format!("{range}&color=red"),
    ] {
        let response = app.orders(Method::GET, &format!("/v1/orders?{bad}"), &account, None).await;
        assert_orders_error(response, 400, "invalid_search_params").await;
    }

    let page: Value = app
        .orders(Method::GET, &format!("/v1/orders?{range}&page=1&page_size=2"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["paging"], json!({ "total": "4", "total_pages": "2", "offset": "0", "limit": "2" }));
    assert_eq!(page["data"][0]["id"], created["id"], "newest first");
    let page2: Value = app
        .orders(Method::GET, &format!("/v1/orders?{range}&page=2&page_size=2"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["data"][1]["id"], ids[0].as_str());

    let filtered: Value = app
        .orders(Method::GET, &format!("/v1/orders?{range}&status=created"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["paging"]["total"], "1");
    let by_reference: Value = app
        .orders(Method::GET, &format!("/v1/orders?{range}&external_reference=only-me"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_reference["data"][0]["id"], created["id"]);
    let oldest: Value = app
        .orders(Method::GET, &format!("/v1/orders?{range}&sort_order=asc&limit=1&offset=0"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oldest["data"][0]["id"], ids[0].as_str());
    let outside: Value = app
        .orders(Method::GET, "/v1/orders?begin_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z", &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outside["data"], json!([]));
    let other = app.test_account().await;
    let theirs: Value =
        app.orders(Method::GET, &format!("/v1/orders?{range}"), &other, None).await.json().await.unwrap();
    assert_eq!(theirs["paging"]["total"], "0");
}

#[tokio::test]
async fn a_rate_limited_order_call_says_when_to_retry_in_the_orders_envelope() {
    let app = TestApp::spawn_with(Options { rate_limit_per_second: 1, ..Options::default() }).await;
    let account = app.test_account().await;
    let mut limited = None;
    for _ in 0..5 {
        let response = app.orders(Method::GET, &format!("/v1/orders/{UNKNOWN_ORDER}"), &account, None).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a 429 within 5 calls at 1 per second");
    assert!(limited.headers().get("retry-after").is_some());
    assert_orders_error(limited, 429, "too_many_requests").await;
}

#[tokio::test]
async fn pix_and_tickets_wait_for_the_payment_and_the_helper_pays_them() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let pix = json!({
        "type": "online", "total_amount": "30.00", "external_reference": "pix-1",
        "transactions": { "payments": [{ "amount": "30.00", "payment_method": { "id": "pix", "type": "bank_transfer" }, "expiration_time": "P1D" }] },
    });
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(pix)).await.json().await.unwrap();
    assert_eq!(
        (order["status"].as_str(), order["status_detail"].as_str()),
        (Some("action_required"), Some("waiting_transfer"))
    );
    assert_eq!(payment(&order)["expiration_time"], "P1D", "kept as sent");
    let id = order["id"].as_str().unwrap();
    let paid = app
        .orders(Method::POST, &format!("/v1/orders/{id}/events"), &account, Some(json!({ "status": "processed" })))
        .await;
    assert_eq!(paid.status(), StatusCode::NO_CONTENT);
    let read: Value = app.orders(Method::GET, &format!("/v1/orders/{id}"), &account, None).await.json().await.unwrap();
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("processed"), Some("accredited")));

    let ticket = json!({
        "type": "online", "total_amount": "30.00",
        "transactions": { "payments": [{ "amount": "30.00", "payment_method": { "id": "boleto", "type": "ticket" } }] },
    });
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(ticket)).await.json().await.unwrap();
    assert_eq!(order["status_detail"], "waiting_payment");
}

/// What a hostile or careless client sends gets the Orders envelope and the right code:
/// paths that are not text, routes and methods the API lacks, arrays where objects go,
/// and fields of the wrong site or shape.
#[tokio::test]
async fn careless_requests_get_the_orders_envelope_and_code() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, order) = app.card_order(&account, "APRO", json!({})).await;
    let id = order["id"].as_str().unwrap();
    let payment_id = payment(&order)["id"].as_str().unwrap();

    for (method, path) in [(Method::GET, "/v1/orders/%FF"), (Method::POST, "/v1/orders/%FF/cancel")] {
        assert_orders_error(app.orders(method, path, &account, None).await, 400, "invalid_path_param").await;
    }
    let bad_transaction =
        app.orders(Method::PUT, &format!("/v1/orders/{id}/transactions/%C0"), &account, Some(json!({}))).await;
    assert_orders_error(bad_transaction, 400, "invalid_path_param").await;
    assert_orders_error(
        app.orders(Method::GET, &format!("/v1/orders/{id}/foo"), &account, None).await,
        404,
        "not_found",
    )
    .await;
    let patch = app.orders(Method::PATCH, &format!("/v1/orders/{id}"), &account, None).await;
    assert_orders_error(patch, 405, "method_not_allowed").await;
    let huge = json!({ "type": "online", "description": "x".repeat(2 * 1024 * 1024) });
    assert_orders_error(app.orders(Method::POST, "/v1/orders", &account, Some(huge)).await, 413, "payload_too_large")
        .await;

    // serde would fill a struct from an array, field by field: refused instead.
    let arrays = [
        ("/v1/orders".to_owned(), json!({ "type": "online", "total_amount": "1.00", "transactions": [[["1.00"]]] })),
        (format!("/v1/orders/{id}/refund"), json!({ "transactions": [[payment_id, "1"]] })),
    ];
    for (path, body) in arrays {
        assert_orders_error(app.orders(Method::POST, &path, &account, Some(body)).await, 400, "property_type").await;
    }
    let not_object = app.orders(Method::POST, "/v1/orders", &account, Some(json!([]))).await;
    let error = assert_orders_error(not_object, 400, "property_type").await;
    assert!(error["details"][0].as_str().unwrap().starts_with("'$' - "), "{error}");

    let token = app.card_token_named(&account, "APRO").await;
    let mut wrong_currency = card_order_body(&token, "1.00");
    wrong_currency["currency"] = json!("ARS");
    let refused = app.orders(Method::POST, "/v1/orders", &account, Some(wrong_currency)).await;
    assert_orders_error(refused, 400, "property_value").await;
    let mut empty_payer = card_order_body(&token, "1.00");
    empty_payer["payer"] = json!({});
    assert_orders_error(
        app.orders(Method::POST, "/v1/orders", &account, Some(empty_payer)).await,
        400,
        "minimum_properties",
    )
    .await;
    let mut bad_expiry = card_order_body(&token, "1.00");
    bad_expiry["transactions"]["payments"][0]["expiration_time"] = json!("soon");
    assert_orders_error(
        app.orders(Method::POST, "/v1/orders", &account, Some(bad_expiry)).await,
        400,
        "property_value",
    )
    .await;
    let mut with_point = card_order_body(&token, "1.00");
    with_point["config"] = json!({ "point": { "terminal_id": "NEWLAND_N950__SBX0000001" } });
    let error = assert_orders_error(
        app.orders(Method::POST, "/v1/orders", &account, Some(with_point)).await,
        400,
        "unsupported_properties",
    )
    .await;
    assert_eq!(error["details"][0], "additionalProperties '$.config.point' not allowed");

    let manual = json!({ "type": "online", "processing_mode": "manual", "total_amount": "1.00" });
    let created: Value = app.orders(Method::POST, "/v1/orders", &account, Some(manual)).await.json().await.unwrap();
    let tx = json!({ "payments": [{ "amount": "1.00" }] });
    let missing = app
        .orders(
            Method::POST,
            &format!("/v1/orders/{}/transactions", created["id"].as_str().unwrap()),
            &account,
            Some(tx),
        )
        .await;
    let error = assert_orders_error(missing, 400, "required_properties").await;
    assert_eq!(error["details"][0], "missing properties: '$.payments[0].payment_method'");
}

/// Automatic Payments: an order whose payment names a READY payment profile
/// (`automatic_payments.payment_profile_id`) is paid with the profile's saved card, no
/// token; a cancelled profile cannot pay.
#[tokio::test]
async fn an_automatic_payment_charges_the_payment_profiles_card() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer: Value = app
        .orders(Method::POST, "/v1/customers", &account, Some(json!({ "email": "sub@example.com" })))
        .await
        .json()
        .await
        .unwrap();
    let customer = customer["id"].as_str().unwrap().to_owned();
    let token = app.card_token_named(&account, "APRO").await;
    let card: Value = app
        .orders(Method::POST, &format!("/v1/customers/{customer}/cards"), &account, Some(json!({ "token": token })))
        .await
        .json()
        .await
        .unwrap();
    let profiles = format!("/v1/customers/{customer}/payment-profiles");
    let profile: Value = app
        .orders(Method::POST, &profiles, &account, Some(json!({ "description": "gym" })))
        .await
        .json()
        .await
        .unwrap();
    let profile = profile["id"].as_str().unwrap().to_owned();
    let second_token = app.card_token_named(&account, "APRO").await;
    let card_id: i64 = card["id"].as_str().unwrap().parse().unwrap();
    let method = json!({ "id": "master", "type": "credit_card", "token": second_token, "card_id": card_id });
    let added =
        app.orders(Method::POST, &format!("{profiles}/{profile}/payment-methods"), &account, Some(method)).await;
    assert_eq!(added.status(), StatusCode::CREATED);

    let charge = |profile: &str| {
        json!({
            "type": "online", "total_amount": "49.90", "external_reference": "month-1",
            "transactions": { "payments": [{
                "amount": "49.90",
                "payment_method": { "id": "master", "type": "credit_card" },
                "automatic_payments": { "payment_profile_id": profile, "retries": 3 },
                "stored_credential": { "payment_initiator": "merchant", "reason": "recurring", "store_payment_method": false, "first_payment": false },
            }] },
        })
    };
    let paid = app.orders(Method::POST, "/v1/orders", &account, Some(charge(&profile))).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let order: Value = paid.json().await.unwrap();
    assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("processed"), Some("accredited")));
    assert_eq!(payment(&order)["automatic_payments"]["payment_profile_id"], profile.as_str(), "kept as sent");

    let cancel = app.orders(Method::POST, &format!("{profiles}/{profile}/cancel"), &account, None).await;
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    let refused = app.orders(Method::POST, "/v1/orders", &account, Some(charge(&profile))).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(payment(&body["data"])["status_detail"], "invalid_card_token");
}
