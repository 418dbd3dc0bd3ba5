//! Point orders (`reference/in-person-payments/point/orders/…`: create, get, cancel,
//! refund, and the simulate page's `POST /v1/orders/{id}/events`), row by row: one
//! open order per terminal, cancel only while `created` (the seed page's
//! `cannot_cancel_order`), the terminal played by the test helper, expiry, and the
//! `order` webhooks.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{join_all, unique_key, Account, TestApp};
use crate::orders::{assert_orders_error, UNKNOWN_ORDER};
use crate::receiver::Receiver;
use caja::domain::{ResourceType, Timestamp};

pub(crate) const VIRTUAL_TERMINAL: &str = "NEWLAND_N950__SBX0000001";

pub(crate) fn point_body(terminal: &str) -> Value {
    json!({
        "type": "point",
        "external_reference": "ext_ref_1234",
        "expiration_time": "PT16M",
        "transactions": { "payments": [{ "amount": "50.00" }] },
        "config": { "point": { "terminal_id": terminal }, "payment_method": { "default_type": "credit_card" } },
        "description": "Smartphone",
        "integration_data": { "platform_id": "dev_1234567890", "integrator_id": "dev_123456", "sponsor": { "id": "446566691" } },
    })
}

impl TestApp {
    async fn point_order(&self, account: &Account, terminal: &str) -> Value {
        let response = self.orders(Method::POST, "/v1/orders", account, Some(point_body(terminal))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn play(&self, account: &Account, id: &str, event: Value) -> reqwest::Response {
        self.orders(Method::POST, &format!("/v1/orders/{id}/events"), account, Some(event)).await
    }

    pub(crate) async fn read_order(&self, account: &Account, id: &str) -> Value {
        let response = self.orders(Method::GET, &format!("/v1/orders/{id}"), account, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn order_moves(&self, account: &Account, id: &str) -> Vec<String> {
        self.audit(account, ResourceType::Order, id).await.into_iter().map(|e| e.to_status).collect()
    }
}

#[tokio::test]
async fn a_point_order_is_created_as_the_page_shows() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let order = app.point_order(&account, VIRTUAL_TERMINAL).await;
    assert_eq!(order["type"], "point");
    assert_eq!((order["status"].as_str(), order["status_detail"].as_str()), (Some("created"), Some("created")));
    assert_eq!(order["processing_mode"], "automatic");
    assert!(order.get("capture_mode").is_none());
    assert_eq!(order["expiration_time"], "PT16M");
    assert_eq!(order["country_code"], "BRA");
    assert_eq!(order["total_amount"], "50.00");
    assert_eq!(
        order["config"],
        json!({ "point": { "terminal_id": VIRTUAL_TERMINAL, "print_on_terminal": "seller_ticket" }, "payment_method": { "default_type": "credit_card" } })
    );
    assert_eq!(order["integration_data"]["sponsor"]["id"], "446566691");
    let payment = &order["transactions"]["payments"][0];
    assert_eq!((payment["amount"].as_str(), payment["status"].as_str()), (Some("50.00"), Some("created")));
    assert!(payment.get("status_detail").is_none(), "the create page shows none: {payment}");

    let mut minimal = point_body("NEWLAND_N950__N950NCB000000001");
    minimal.as_object_mut().unwrap().remove("expiration_time");
    minimal["transactions"]["payments"][0]["amount"] = json!("10");
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(minimal)).await.json().await.unwrap();
    assert_eq!(order["expiration_time"], "PT15M", "the default period");
    assert_eq!(order["transactions"]["payments"][0]["amount"], "10.00");
}

#[tokio::test]
async fn point_create_refuses_each_documented_row() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let other = app.test_account().await;
    let change = |edit: &dyn Fn(&mut Value)| {
        let mut body = point_body(VIRTUAL_TERMINAL);
        edit(&mut body);
        body
    };
    let rows: Vec<(Value, u16, &str)> = vec![
        (change(&|b| drop(b.as_object_mut().unwrap().remove("external_reference"))), 400, "required_properties"),
        (change(&|b| b["config"]["point"] = json!({})), 400, "required_properties"),
        (change(&|b| drop(b.as_object_mut().unwrap().remove("transactions"))), 400, "required_properties"),
        (
            change(&|b| b["transactions"]["payments"][0]["payment_method"] = json!({ "id": "master" })),
            400,
            "unsupported_properties",
        ),
        (change(&|b| b["capture_mode"] = json!("manual")), 400, "unsupported_properties"),
        (change(&|b| b["config"]["point"]["color"] = json!("red")), 400, "unsupported_properties"),
        (change(&|b| b["expiration_time"] = json!("PT10S")), 400, "property_value"),
        (change(&|b| b["expiration_time"] = json!("PT4H")), 400, "property_value"),
        (change(&|b| b["config"]["point"]["print_on_terminal"] = json!("always")), 400, "property_value"),
        (change(&|b| b["description"] = json!("x".repeat(151))), 400, "property_value"),
        (change(&|b| b["transactions"]["payments"][0]["amount"] = json!("1.234")), 400, "property_value"),
        (change(&|b| b["transactions"]["payments"][0]["amount"] = json!(50)), 400, "property_type"),
        (change(&|b| b["transactions"]["payments"] = json!([])), 400, "minimum_items"),
        (
            change(&|b| b["transactions"]["payments"] = json!([{ "amount": "1" }, { "amount": "1" }])),
            400,
            "maximum_items",
        ),
    ];
    for (body, status, code) in rows {
        let response = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await;
        assert_orders_error(response, status, code).await;
    }
    // A terminal is the first user's: another account may not send it orders.
    let terminal = "NEWLAND_N950__N950NCB000000007";
    app.point_order(&account, terminal).await;
    let theirs = app.orders(Method::POST, "/v1/orders", &other, Some(point_body(terminal))).await;
    assert_orders_error(theirs, 403, "forbidden_checking_terminal_owner").await;
}

#[tokio::test]
async fn every_test_account_shares_the_virtual_terminal() {
    let app = TestApp::spawn().await;
    let (first, second) = (app.test_account().await, app.test_account().await);
    // Any terminal type with the virtual serial, one open order per account on it.
    app.point_order(&first, VIRTUAL_TERMINAL).await;
    app.point_order(&second, VIRTUAL_TERMINAL).await;
    app.point_order(&second, "PAX_A910__SBX0000001").await;
    let busy = app.orders(Method::POST, "/v1/orders", &second, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_orders_error(busy, 409, "already_queued_order_for_terminal").await;
}

#[tokio::test]
async fn one_open_order_per_terminal_until_it_is_cancelled() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    // Eight creates at once, each under its own key: exactly one takes the terminal.
    let calls: Vec<_> =
        (0..8).map(|_| app.orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL)))).collect();
    let mut created = Vec::new();
    for response in join_all(calls).await {
        match response.status() {
            StatusCode::CREATED => created.push(response.json::<Value>().await.unwrap()),
            _ => {
                assert_orders_error(response, 409, "already_queued_order_for_terminal").await;
            }
        }
    }
    assert_eq!(created.len(), 1, "exactly one order takes the terminal");
    let id = created[0]["id"].as_str().unwrap();
    let canceled = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let body: Value = canceled.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["status_detail"].as_str()), (Some("canceled"), Some("canceled")));
    assert_eq!(body["transactions"]["payments"][0]["status_detail"], "canceled_by_api");
    // The terminal is free again.
    app.point_order(&account, VIRTUAL_TERMINAL).await;
    let again = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    assert_orders_error(again, 409, "order_already_canceled").await;
}

#[tokio::test]
async fn an_order_at_the_terminal_is_cancelled_there_not_through_the_api() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let order = app.point_order(&account, VIRTUAL_TERMINAL).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.play(&account, id, json!({ "status": "at_terminal" })).await.status(), StatusCode::NO_CONTENT);
    let refused = app.orders(Method::POST, &format!("/v1/orders/{id}/cancel"), &account, None).await;
    let error = assert_orders_error(refused, 409, "cannot_cancel_order").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("\"status=created\"") && message.contains("from the terminal"), "{message}");
    assert_eq!(app.play(&account, id, json!({ "status": "canceled" })).await.status(), StatusCode::NO_CONTENT);
    let read = app.read_order(&account, id).await;
    assert_eq!(read["status"], "canceled");
    assert_eq!(read["transactions"]["payments"][0]["status_detail"], "canceled_on_terminal");
    assert_eq!(app.order_moves(&account, id).await, ["created", "at_terminal", "canceled"]);
}

#[tokio::test]
async fn the_helper_plays_the_terminal_through_at_terminal_then_refunds() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let order = app.point_order(&account, VIRTUAL_TERMINAL).await;
    let id = order["id"].as_str().unwrap();
    let event = json!({ "status": "processed", "payment_method_type": "credit_card", "installments": 1, "payment_method_id": "master", "status_detail": "accredited" });
    assert_eq!(app.play(&account, id, event).await.status(), StatusCode::NO_CONTENT);
    let read = app.read_order(&account, id).await;
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("processed"), Some("accredited")));
    assert_eq!(read["total_paid_amount"], "50.00");
    let payment = &read["transactions"]["payments"][0];
    assert_eq!(
        payment["payment_method"],
        json!({ "id": "master", "type": "credit_card", "installments": 1, "installment_amount": "50.00" })
    );
    assert_eq!(payment["paid_amount"], "50.00");
    assert_eq!(app.order_moves(&account, id).await, ["created", "at_terminal", "processed"]);
    // The terminal is free once the order is processed.
    app.point_order(&account, VIRTUAL_TERMINAL).await;

    let refused = app.play(&account, id, json!({ "status": "failed" })).await;
    assert_orders_error(refused, 400, "bad_request").await;

    let partial = json!({ "transactions": [{ "id": payment["id"], "amount": "20.00" }] });
    let refund = app.orders(Method::POST, &format!("/v1/orders/{id}/refund"), &account, Some(partial)).await;
    assert_eq!(refund.status(), StatusCode::CREATED);
    assert_eq!(app.play(&account, id, json!({ "status": "refunded" })).await.status(), StatusCode::NO_CONTENT);
    let read = app.read_order(&account, id).await;
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("refunded"), Some("refunded")));
    let refunds = read["transactions"]["refunds"].as_array().unwrap();
    assert_eq!(refunds.iter().map(|r| r["amount"].as_str().unwrap()).collect::<Vec<_>>(), ["20.00", "30.00"]);
}

#[tokio::test]
async fn the_helper_refuses_what_the_simulate_page_refuses() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let order = app.point_order(&account, VIRTUAL_TERMINAL).await;
    let id = order["id"].as_str().unwrap();
    for body in [
        json!({}),
        json!({ "status": "paid" }),
        json!({ "status": "created" }),
        json!({ "status": "canceled", "payment_method_id": "master" }),
        json!({ "status": "processed", "status_detail": "rejected_other_reason" }),
        json!({ "status": "failed", "status_detail": "because" }),
        json!({ "status": "processed", "installments": 3 }),
        json!({ "status": "processed", "color": "red" }),
    ] {
        assert_orders_error(app.play(&account, id, body.clone()).await, 400, "bad_request").await;
    }
    let bad_path = app.play(&account, "ORD123", json!({ "status": "processed" })).await;
    assert_orders_error(bad_path, 400, "bad_request").await;
    let unknown = app.play(&account, UNKNOWN_ORDER, json!({ "status": "processed" })).await;
    assert_orders_error(unknown, 404, "order_not_found").await;
    let refund_first = app.play(&account, id, json!({ "status": "refunded" })).await;
    assert_orders_error(refund_first, 400, "bad_request").await;
    let failed = json!({ "status": "failed", "status_detail": "high_risk" });
    assert_eq!(app.play(&account, id, failed).await.status(), StatusCode::NO_CONTENT);
    let read = app.read_order(&account, id).await;
    assert_eq!(
        (read["status"].as_str(), read["transactions"]["payments"][0]["status_detail"].as_str()),
        (Some("failed"), Some("high_risk"))
    );

    let live = app.account(true).await;
    for event in [
        json!({ "status": "processed", "payment_method_type": "credit_card", "installments": 37 }),
        json!({ "status": "processed", "payment_method_type": "credit_card", "installments": 0 }),
        json!({ "status": "processed", "payment_method_type": "debit_card", "payment_method_id": "amex" }),
    ] {
        let other = app.point_order(&account, "NEWLAND_N950__N950NCB000000003").await;
        let other_id = other["id"].as_str().unwrap();
        assert_orders_error(app.play(&account, other_id, event).await, 400, "bad_request").await;
        app.orders(Method::POST, &format!("/v1/orders/{other_id}/cancel"), &account, None).await;
    }
    // The virtual terminal is for test accounts only.
    let virtual_live = app.orders(Method::POST, "/v1/orders", &live, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_orders_error(virtual_live, 403, "forbidden_checking_terminal_owner").await;
    let live_order = app.point_order(&live, "NEWLAND_N950__N950NCB000000002").await;
    let forbidden = app.play(&live, live_order["id"].as_str().unwrap(), json!({ "status": "processed" })).await;
    assert_orders_error(forbidden, 403, "forbidden").await;
}

#[tokio::test]
async fn an_unpaid_point_order_expires_and_frees_its_terminal() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut body = point_body(VIRTUAL_TERMINAL);
    body["expiration_time"] = json!("PT30S");
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(order["created_date"].as_str().unwrap()).unwrap();
    let at = |ms: i64| Timestamp::from_millis(created.timestamp_millis() + ms);
    assert_eq!(app.store().expire_orders(at(29_000)).await.unwrap(), 0, "not before its time");
    assert_eq!(app.read_order(&account, id).await["status"], "created");
    assert_eq!(app.store().expire_orders(at(30_000)).await.unwrap(), 1);
    let read = app.read_order(&account, id).await;
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("expired"), Some("expired")));
    assert_eq!(read["transactions"]["payments"][0]["status"], "expired");
    let trail = app.audit(&account, ResourceType::Order, id).await;
    assert_eq!(trail.last().map(|e| e.request_id.as_str()), Some(caja::engine::WORKER_REQUEST_ID));
    assert_eq!(app.store().expire_orders(at(60_000)).await.unwrap(), 0, "expired once");
    app.point_order(&account, VIRTUAL_TERMINAL).await;
}

#[tokio::test]
async fn order_webhooks_announce_the_documented_moves_only() {
    let app = TestApp::spawn_with(crate::webhooks::quick()).await;
    let receiver = Receiver::start().await;
    let account = app.test_account().await;
    let secret = app.listen(&account, &receiver.url).await;
    let order = app.point_order(&account, VIRTUAL_TERMINAL).await;
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(app.play(&account, &id, json!({ "status": "processed" })).await.status(), StatusCode::NO_CONTENT);
    let (path, key) = (format!("/v1/orders/{id}/refund"), unique_key());
    let refund = app.orders_keyed(Method::POST, &path, &account, Some(&key), None);
    assert_eq!(refund.await.status(), StatusCode::CREATED, "a refund with no body at all");
    let received = receiver
        .wait_for("order.processed and order.refunded", |r| {
            r.iter().filter(|n| n.query.get("data.id") == Some(&id)).count() >= 2
        })
        .await;
    let mine: Vec<_> = received.iter().filter(|n| n.query.get("data.id") == Some(&id)).collect();
    let actions: Vec<&str> = mine.iter().map(|n| n.body["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["order.processed", "order.refunded"], "created and at_terminal are not announced");
    for n in mine {
        assert_eq!(n.query["type"], "order");
        assert_eq!(n.body["type"], "order");
        assert_eq!(n.body["data"]["id"], id.as_str());
        assert!(n.signed_with(&secret));
    }
}
