//! The Payments reference (`reference/payments/_payments/*`, the refunds reference and
//! the payment results page), row by row: cards decided by the cardholder name, Pix and
//! tickets pending, cancel, capture, refunds, search, payment methods and `/users/me`,
//! each refusal with its numbered cause.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{unique_key, Account, TestApp};

impl TestApp {
    /// A Payments call, with a fresh key on POSTs.
    async fn payments(&self, method: Method, path: &str, account: &Account, body: Option<Value>) -> Response {
        let key = (method == Method::POST).then(unique_key);
        self.orders_keyed(method, path, account, key.as_deref(), body).await
    }

    /// A card payment for `cardholder`'s card: status and body.
    async fn card_payment(&self, account: &Account, cardholder: &str, extra: Value) -> (StatusCode, Value) {
        let token = self.card_token_named(account, cardholder).await;
        let mut body = json!({ "transaction_amount": 110.5, "token": token, "installments": 1, "payer": { "email": "test@testuser.com" } });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let response = self.payments(Method::POST, "/v1/payments", account, Some(body)).await;
        (response.status(), response.json().await.unwrap())
    }
}

/// Assert a Payments error: the classic body with one numbered cause.
async fn assert_cause_code(response: Response, status: u16, code: u64) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for cause {code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["cause"][0]["code"], code, "{body}");
    assert_eq!(body["cause"][0]["description"], body["message"], "{body}");
    body
}

#[tokio::test]
async fn an_approved_card_payment_shows_the_reference_fields() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (status, p) = app
        .card_payment(&account, "APRO", json!({ "metadata": { "order_number": "o-1" }, "external_reference": "ref-1" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert!(p["id"].as_i64().is_some_and(|id| id > 0 && id < 1 << 53), "a number exact in JavaScript");
    assert_eq!((p["status"].as_str(), p["status_detail"].as_str()), (Some("approved"), Some("accredited")));
    assert_eq!(p["transaction_amount"], json!(110.5));
    assert_eq!(p["payment_method_id"], "master", "the card's brand when none is named");
    assert_eq!(p["payment_type_id"], "credit_card");
    assert_eq!(p["captured"], true);
    assert_eq!(p["currency_id"], "BRL");
    assert_eq!(p["collector_id"], account.user_id);
    assert_eq!(p["metadata"], json!({ "order_number": "o-1" }));
    assert_eq!(p["payer"]["email"], "test@testuser.com", "shown once approved");
    assert_eq!(p["card"]["first_six_digits"], "503143");
    assert_eq!(p["card"]["last_four_digits"], "6351");
    assert_eq!(p["card"]["cardholder"]["name"], "APRO");
    let created = p["date_created"].as_str().unwrap();
    assert!(created.ends_with("-04:00") && created.len() == 29, "{created}");
    assert!(p["date_approved"].is_string());
    assert_eq!(p["transaction_details"]["total_paid_amount"], json!(110.5));
    let read = app.payments(Method::GET, &format!("/v1/payments/{}", p["id"]), &account, None).await;
    assert_eq!(read.json::<Value>().await.unwrap(), p);
}

#[tokio::test]
async fn the_cardholder_name_decides_and_a_decline_is_still_a_201() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for (name, status, detail) in [
        ("OTHE", "rejected", "cc_rejected_other_reason"),
        ("CALL", "rejected", "cc_rejected_call_for_authorize"),
        ("FUND", "rejected", "cc_rejected_insufficient_amount"),
        ("SECU", "rejected", "cc_rejected_bad_filled_security_code"),
        ("EXPI", "rejected", "cc_rejected_bad_filled_date"),
        ("FORM", "rejected", "cc_rejected_bad_filled_other"),
        ("CARD", "rejected", "cc_rejected_bad_filled_card_number"),
        ("INST", "rejected", "cc_rejected_invalid_installments"),
        ("DUPL", "rejected", "cc_rejected_duplicated_payment"),
        ("LOCK", "rejected", "cc_rejected_card_disabled"),
        ("CTNA", "rejected", "cc_rejected_card_type_not_allowed"),
        ("ATTE", "rejected", "cc_rejected_max_attempts"),
        ("BLAC", "rejected", "cc_rejected_blacklist"),
        ("UNSU", "rejected", "cc_rejected_other_reason"),
        ("CONT", "in_process", "pending_contingency"),
    ] {
        let (code, p) = app.card_payment(&account, name, json!({})).await;
        assert_eq!(code, StatusCode::CREATED, "{name}");
        assert_eq!((p["status"].as_str(), p["status_detail"].as_str()), (Some(status), Some(detail)), "{name}");
        assert_eq!(p["payer"]["email"], Value::Null, "not shown unless approved");
    }
    let (_, p) = app.card_payment(&account, "CONT", json!({ "binary_mode": true })).await;
    assert_eq!(p["status"], "rejected", "binary mode never leaves it in process");
}

#[tokio::test]
async fn create_refuses_each_documented_row_with_its_cause() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let token = app.card_token_named(&account, "APRO").await;
    let good = json!({ "transaction_amount": 10, "token": token, "installments": 1, "payer": { "email": "test@testuser.com" } });
    let with = |change: Value| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let rows: Vec<(Value, u64)> = vec![
        (without("transaction_amount"), 4002),
        (with(json!({ "transaction_amount": "10" })), 4003),
        (with(json!({ "transaction_amount": -1 })), 4037),
        (with(json!({ "transaction_amount": 10.001 })), 4037),
        (without("installments"), 4004),
        (with(json!({ "installments": "1" })), 4005),
        (with(json!({ "installments": 37 })), 4033),
        (without("payer"), 4006),
        (with(json!({ "payer": { "email": "not-an-email" } })), 4050),
        (with(json!({ "payer": ["x"] })), 4006),
        (with(json!({ "payment_method_id": "bitcoin" })), 3028),
        (without("token"), 4001),
        (with(json!({ "payment_method_id": "master", "token": null })), 4000),
        (with(json!({ "token": "0123456789abcdef0123456789abcdef" })), 2006),
        (with(json!({ "notification_url": "not a url" })), 4020),
        (with(json!({ "notification_url": format!("https://example.com/{}", "x".repeat(500)) })), 4021),
        (with(json!({ "metadata": "x" })), 4022),
        (with(json!({ "date_of_expiration": "tomorrow", "payment_method_id": "pix", "token": null })), 23),
        (with(json!({ "colour": "red" })), 8),
        (with(json!({ "transaction_amount": 70368744177664.01 })), 4037),
        (with(json!({ "transaction_amount": 0.3 })), 4037),
        (with(json!({ "installments": -1 })), 4033),
        (with(json!({ "payment_method_id": "visa" })), 3028),
        (with(json!({ "application_fee": 1 })), 2059),
    ];
    for (body, code) in rows {
        let response = app.payments(Method::POST, "/v1/payments", &account, Some(body.clone())).await;
        assert_cause_code(response, 400, code).await;
    }
    let no_key = app.orders_keyed(Method::POST, "/v1/payments", &account, None, Some(good.clone())).await;
    assert_cause_code(no_key, 400, 4292).await;
    // None of the refusals spent the token; the payment spends it.
    assert_eq!(
        app.payments(Method::POST, "/v1/payments", &account, Some(good.clone())).await.status(),
        StatusCode::CREATED
    );
    let used = app.payments(Method::POST, "/v1/payments", &account, Some(good)).await;
    assert_cause_code(used, 400, 3003).await;
}

#[tokio::test]
async fn a_reserve_is_captured_in_part_or_cancelled() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, p) = app.card_payment(&account, "APRO", json!({ "capture": false })).await;
    assert_eq!((p["status"].as_str(), p["status_detail"].as_str()), (Some("authorized"), Some("pending_capture")));
    assert_eq!(p["captured"], false);
    let path = format!("/v1/payments/{}", p["id"]);
    let over =
        app.payments(Method::PUT, &path, &account, Some(json!({ "capture": true, "transaction_amount": 200 }))).await;
    assert_cause_code(over, 400, 2079).await;
    let captured =
        app.payments(Method::PUT, &path, &account, Some(json!({ "capture": true, "transaction_amount": 40 }))).await;
    assert_eq!(captured.status(), StatusCode::OK);
    let captured: Value = captured.json().await.unwrap();
    assert_eq!((captured["status"].as_str(), captured["transaction_amount"].clone()), (Some("approved"), json!(40)));
    assert_eq!(captured["captured"], true);
    let again = app.payments(Method::PUT, &path, &account, Some(json!({ "capture": true }))).await;
    assert_cause_code(again, 400, 2079).await;
    let cancel_approved = app.payments(Method::PUT, &path, &account, Some(json!({ "status": "cancelled" }))).await;
    assert_cause_code(cancel_approved, 400, 2018).await;
    assert_cause_code(
        app.payments(Method::PUT, &path, &account, Some(json!({ "status": "approved" }))).await,
        400,
        2016,
    )
    .await;
    assert_cause_code(app.payments(Method::PUT, &path, &account, Some(json!({ "status": "" }))).await, 400, 4017).await;
    assert_cause_code(app.payments(Method::PUT, &path, &account, Some(json!({ "capture": "yes" }))).await, 400, 2078)
        .await;

    let (_, reserve) = app.card_payment(&account, "APRO", json!({ "capture": false })).await;
    let path = format!("/v1/payments/{}", reserve["id"]);
    let cancelled: Value =
        app.payments(Method::PUT, &path, &account, Some(json!({ "status": "cancelled" }))).await.json().await.unwrap();
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["status_detail"].as_str()),
        (Some("cancelled"), Some("by_collector"))
    );
    let metadata: Value = app
        .payments(Method::PUT, &path, &account, Some(json!({ "metadata": { "note": "kept" } })))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["metadata"], json!({ "note": "kept" }));
}

#[tokio::test]
async fn refunds_partial_then_total_as_the_refunds_reference_says() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (_, p) = app.card_payment(&account, "APRO", json!({})).await;
    let refunds = format!("/v1/payments/{}/refunds", p["id"]);
    let zero = app.payments(Method::POST, &refunds, &account, Some(json!({ "amount": 0 }))).await;
    assert_cause_code(zero, 400, 4040).await;
    let text = app.payments(Method::POST, &refunds, &account, Some(json!({ "amount": "5" }))).await;
    assert_cause_code(text, 400, 4041).await;
    let over = app.payments(Method::POST, &refunds, &account, Some(json!({ "amount": 200 }))).await;
    assert_cause_code(over, 400, 2063).await;

    let partial = app
        .payments(Method::POST, &refunds, &account, Some(json!({ "amount": 10, "metadata": { "why": "size" } })))
        .await;
    assert_eq!(partial.status(), StatusCode::CREATED);
    let partial: Value = partial.json().await.unwrap();
    assert_eq!(partial["payment_id"], p["id"]);
    assert_eq!(partial["amount"], json!(10));
    assert_eq!(partial["amount_refunded_to_payer"], json!(10));
    assert_eq!(partial["status"], "approved");
    assert_eq!(partial["metadata"], json!({ "why": "size" }));
    let read: Value =
        app.payments(Method::GET, &format!("/v1/payments/{}", p["id"]), &account, None).await.json().await.unwrap();
    assert_eq!(
        (read["status"].as_str(), read["status_detail"].as_str()),
        (Some("approved"), Some("partially_refunded"))
    );
    assert_eq!(read["transaction_amount_refunded"], json!(10));

    let total = app.orders_keyed(Method::POST, &refunds, &account, Some(&unique_key()), None).await;
    assert_eq!(total.status(), StatusCode::CREATED, "no body at all: the rest");
    assert_eq!(total.json::<Value>().await.unwrap()["amount"], json!(100.5));
    let read: Value =
        app.payments(Method::GET, &format!("/v1/payments/{}", p["id"]), &account, None).await.json().await.unwrap();
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("refunded"), Some("refunded")));
    assert_cause_code(app.payments(Method::POST, &refunds, &account, None).await, 400, 2063).await;

    let list: Value = app.payments(Method::GET, &refunds, &account, None).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], partial["id"], "in the order they were made");
    let one = app.payments(Method::GET, &format!("{refunds}/{}", partial["id"]), &account, None).await;
    assert_eq!(one.json::<Value>().await.unwrap(), partial);
    assert_cause_code(app.payments(Method::GET, &format!("{refunds}/1"), &account, None).await, 404, 2032).await;

    let (_, pending) = app.card_payment(&account, "CONT", json!({})).await;
    let refuse = app.payments(Method::POST, &format!("/v1/payments/{}/refunds", pending["id"]), &account, None).await;
    assert_cause_code(refuse, 400, 2063).await;
}

#[tokio::test]
async fn pix_and_boleto_wait_and_the_helper_pays_or_expires_them() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body =
        json!({ "transaction_amount": 100, "payment_method_id": "pix", "payer": { "email": "test@testuser.com" } });
    let pix: Value = app.payments(Method::POST, "/v1/payments", &account, Some(body)).await.json().await.unwrap();
    assert_eq!(
        (pix["status"].as_str(), pix["status_detail"].as_str()),
        (Some("pending"), Some("pending_waiting_transfer"))
    );
    assert_eq!(pix["payment_type_id"], "bank_transfer");
    let data = &pix["point_of_interaction"]["transaction_data"];
    assert!(data["qr_code"].as_str().unwrap().starts_with("000201"));
    let png = base64_decode(data["qr_code_base64"].as_str().unwrap());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(data["ticket_url"].as_str().unwrap().contains(&pix["id"].to_string()));
    let paid = app
        .payments(
            Method::POST,
            &format!("/v1/payments/{}/events", pix["id"]),
            &account,
            Some(json!({ "status": "approved" })),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    assert_eq!(paid.json::<Value>().await.unwrap()["status"], "approved");

    let body = json!({ "transaction_amount": 50, "payment_method_id": "bolbradesco", "payer": { "email": "test@testuser.com" } });
    let boleto: Value = app.payments(Method::POST, "/v1/payments", &account, Some(body)).await.json().await.unwrap();
    assert_eq!(boleto["status_detail"], "pending_waiting_payment");
    assert_eq!(boleto["barcode"]["content"].as_str().unwrap().len(), 44);
    let expires = chrono::DateTime::parse_from_rfc3339(boleto["date_of_expiration"].as_str().unwrap()).unwrap();
    let at = caja::domain::Timestamp::from_millis(expires.timestamp_millis());
    assert_eq!(app.store().expire_payments(at.plus_millis(-1)).await.unwrap(), 0);
    assert_eq!(app.store().expire_payments(at).await.unwrap(), 1);
    let read: Value = app
        .payments(Method::GET, &format!("/v1/payments/{}", boleto["id"]), &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("cancelled"), Some("expired")));
    let late = app
        .payments(
            Method::POST,
            &format!("/v1/payments/{}/events", boleto["id"]),
            &account,
            Some(json!({ "status": "approved" })),
        )
        .await;
    assert_cause_code(late, 400, 3005).await;

    let live = app.account(true).await;
    let (_, theirs) = app.card_payment(&live, "APRO", json!({})).await;
    let forbidden = app
        .payments(
            Method::POST,
            &format!("/v1/payments/{}/events", theirs["id"]),
            &live,
            Some(json!({ "status": "charged_back" })),
        )
        .await;
    assert_cause_code(forbidden, 403, 3002).await;
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

#[tokio::test]
async fn search_filters_pages_and_refuses_unknown_parameters() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut ids = Vec::new();
    for name in ["APRO", "OTHE", "APRO"] {
        let (_, p) = app.card_payment(&account, name, json!({ "external_reference": format!("ref-{name}") })).await;
        ids.push(p["id"].clone());
    }
    let page: Value = app.payments(Method::GET, "/v1/payments/search", &account, None).await.json().await.unwrap();
    assert_eq!(page["paging"], json!({ "total": 3, "limit": 30, "offset": 0 }));
    assert_eq!(page["results"][0]["id"], ids[2], "newest first");
    let approved: Value = app
        .payments(Method::GET, "/v1/payments/search?status=approved&criteria=asc&limit=1", &account, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approved["paging"]["total"], 2);
    assert_eq!(approved["results"][0]["id"], ids[0]);
    let by_reference: Value = app
        .payments(
            Method::GET,
            "/v1/payments/search?external_reference=ref-OTHE&begin_date=NOW-1DAYS&end_date=NOW",
            &account,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_reference["results"][0]["id"], ids[1]);
    for (query, code) in [
        ("colour=red", 8),
        ("sort=amount", 1003),
        ("criteria=up", 1004),
        ("begin_date=NOW-400DAYS", 9062),
        ("begin_date=yesterday", 1001),
        ("limit=1001", 1000),
    ] {
        let response = app.payments(Method::GET, &format!("/v1/payments/search?{query}"), &account, None).await;
        assert_cause_code(response, 400, code).await;
    }
    let other = app.test_account().await;
    let theirs: Value = app.payments(Method::GET, "/v1/payments/search", &other, None).await.json().await.unwrap();
    assert_eq!(theirs["paging"]["total"], 0);
    let unknown = app.payments(Method::GET, &format!("/v1/payments/{}", ids[0]), &other, None).await;
    assert_cause_code(unknown, 404, 2000).await;
    assert_cause_code(app.payments(Method::GET, "/v1/payments/abc", &account, None).await, 404, 2000).await;
}

#[tokio::test]
async fn payment_methods_and_the_account_as_the_sdks_read_them() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let methods: Value = app.payments(Method::GET, "/v1/payment_methods", &account, None).await.json().await.unwrap();
    let ids: Vec<&str> = methods.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["master", "visa", "amex", "pix", "bolbradesco"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let pix = methods.as_array().unwrap().iter().find(|m| m["id"] == "pix").unwrap();
    assert_eq!(pix["payment_type_id"], "bank_transfer");
    let me: Value = app.payments(Method::GET, "/users/me", &account, None).await.json().await.unwrap();
    assert_eq!(me["id"], account.user_id);
    assert_eq!(me["site_id"], "MLB");
    let unauthorized =
        app.client.get(format!("{}/v1/payments/1", app.base)).bearer_auth("APP_USR-0").send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorized.json::<Value>().await.unwrap()["error"], "unauthorized");
}

#[tokio::test]
async fn payment_webhooks_say_created_then_updated() {
    let app = TestApp::spawn_with(crate::webhooks::quick()).await;
    let receiver = crate::receiver::Receiver::start().await;
    let account = app.test_account().await;
    let secret = app.listen(&account, &receiver.url).await;
    let (_, p) = app.card_payment(&account, "APRO", json!({})).await;
    let id = p["id"].to_string();
    let refunds = format!("/v1/payments/{id}/refunds");
    assert_eq!(app.payments(Method::POST, &refunds, &account, None).await.status(), StatusCode::CREATED);
    let received = receiver
        .wait_for("payment.created and payment.updated", |r| {
            r.iter().filter(|n| n.query.get("data.id") == Some(&id)).count() >= 2
        })
        .await;
    let mine: Vec<_> = received.iter().filter(|n| n.query.get("data.id") == Some(&id)).collect();
    let actions: Vec<&str> = mine.iter().map(|n| n.body["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["payment.created", "payment.updated"]);
    for n in mine {
        assert_eq!(n.query["type"], "payment");
        assert_eq!(n.body["type"], "payment");
        assert_eq!(n.body["data"], json!({ "id": id }));
        assert_eq!(n.body["user_id"], account.user_id);
        assert!(n.signed_with(&secret));
    }
}

/// A payment's own `notification_url` gets the webhook and the legacy IPN
/// (`?topic=payment&id=`, unsigned); `source_news=webhooks` asks for webhooks only.
#[tokio::test]
async fn a_payments_notification_url_gets_the_webhook_and_the_ipn() {
    let app = TestApp::spawn_with(crate::webhooks::quick()).await;
    let receiver = crate::receiver::Receiver::start().await;
    let account = app.test_account().await;
    let (_, both) =
        app.card_payment(&account, "APRO", json!({ "notification_url": format!("{}/both", receiver.url) })).await;
    let (_, webhook_only) = app
        .card_payment(
            &account,
            "APRO",
            json!({ "notification_url": format!("{}/only?source_news=webhooks", receiver.url) }),
        )
        .await;
    let (both, webhook_only) = (both["id"].to_string(), webhook_only["id"].to_string());
    let received = receiver
        .wait_for("a webhook and an IPN", |r| {
            r.iter().any(|n| n.query.contains_key("topic") && n.query.get("id") == Some(&both))
                && r.iter().any(|n| n.query.get("data.id") == Some(&webhook_only))
        })
        .await;
    let ipn = received.iter().find(|n| n.query.get("id") == Some(&both)).unwrap();
    assert_eq!(ipn.query["topic"], "payment");
    assert_eq!(ipn.body, json!({ "resource": both, "topic": "payment" }));
    assert!(ipn.signature.is_empty(), "an IPN is not signed");
    assert!(received.iter().any(|n| n.query.get("data.id") == Some(&both) && n.query["type"] == "payment"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ipns_for_webhook_only = receiver.received().iter().filter(|n| n.query.get("id") == Some(&webhook_only)).count();
    assert_eq!(ipns_for_webhook_only, 0, "source_news=webhooks: no IPN");
}
