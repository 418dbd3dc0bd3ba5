//! Checkout Pro over HTTP: preferences and merchant orders as their references show
//! them, and caja's hosted checkout form posted as a browser would (the browser test,
//! `browser.rs`, clicks through the same page in Chromium).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{unique_key, Account, TestApp};

pub fn preference_body(back: &str) -> Value {
    json!({
        "items": [{ "id": "sku-1", "title": "Point Mini", "quantity": 2, "unit_price": 58.8 }],
        "back_urls": { "success": format!("{back}?page=success"), "failure": format!("{back}?page=failure"), "pending": format!("{back}?page=pending") },
        "auto_return": "approved",
        "external_reference": "cart-1",
    })
}

impl TestApp {
    pub async fn api(&self, method: Method, path: &str, account: &Account, body: Option<Value>) -> (StatusCode, Value) {
        let response = self.orders_keyed(method, path, account, Some(&unique_key()), body).await;
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    pub async fn preference(&self, account: &Account, body: Value) -> Value {
        let (status, preference) = self.api(Method::POST, "/checkout/preferences", account, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{preference}");
        preference
    }

    /// The card form's key, as the checkout page issues it.
    pub async fn page_nonce(&self, preference: &Value) -> String {
        let html =
            self.client.get(preference["init_point"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
        let at = html.find("name=\"nonce\" value=\"").expect("a nonce in the page") + "name=\"nonce\" value=\"".len();
        html[at..].split('"').next().unwrap().to_owned()
    }

    /// Post the hosted checkout's form with `cardholder`; returns the answer unfollowed.
    async fn pay_on_page(&self, preference_id: &str, cardholder: &str, nonce: &str) -> reqwest::Response {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let form = [
            ("pref_id", preference_id),
            ("nonce", nonce),
            ("method", "card"),
            ("card_number", "5031 4332 1540 6351"),
            ("expiration", "11/30"),
            ("security_code", "123"),
            ("cardholder_name", cardholder),
            ("identification_number", "12345678909"),
            ("email", "test@testuser.com"),
            ("installments", "1"),
        ];
        client.post(format!("{}/checkout/v1/pay", self.base)).form(&form).send().await.unwrap()
    }
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| {
            q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_preference_is_created_read_updated_and_searched() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.preference(&account, preference_body("https://shop.example/back")).await;
    let id = p["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{}-", account.user_id)), "{id}");
    assert_eq!(p["init_point"], format!("{}/checkout/v1/redirect?pref_id={id}", app.base));
    assert_eq!(p["sandbox_init_point"], p["init_point"]);
    assert_eq!(p["client_id"], account.user_id.to_string());
    assert_eq!(p["collector_id"], account.user_id);
    assert_eq!(
        p["items"][0],
        json!({ "id": "sku-1", "category_id": "", "currency_id": "BRL", "description": "", "picture_url": null, "title": "Point Mini", "quantity": 2, "unit_price": 58.8 })
    );
    let (status, read) = app.api(Method::GET, &format!("/checkout/preferences/{id}"), &account, None).await;
    assert_eq!((status, &read), (StatusCode::OK, &p));
    let (status, updated) = app
        .api(
            Method::PUT,
            &format!("/checkout/preferences/{id}"),
            &account,
            Some(json!({ "items": [{ "title": "Point Smart", "quantity": 1, "unit_price": 100 }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["items"][0]["title"], "Point Smart");
    assert_eq!(updated["id"], id);
    let (_, found) =
        app.api(Method::GET, "/checkout/preferences/search?external_reference=cart-1", &account, None).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["elements"][0]["items"], json!(["Point Smart"]));
    let (_, past) = app.api(Method::GET, "/checkout/preferences/search?offset=5", &account, None).await;
    assert_eq!(past["elements"], json!([]), "an empty page past the end ends the Python SDK's pager");
    let other = app.test_account().await;
    let (status, error) = app.api(Method::GET, &format!("/checkout/preferences/{id}"), &other, None).await;
    assert_eq!((status, error["message"].as_str()), (StatusCode::NOT_FOUND, Some("Preference not found")));
    // The SDK's Items type names more fields: kept and shown.
    let item = json!({ "title": "Ticket", "quantity": 1, "unit_price": 10, "warranty": false, "event_date": "2026-12-24T20:00:00.000-03:00", "type": "tickets" });
    let p2 = app.preference(&account, json!({ "items": [item] })).await;
    assert_eq!((p2["items"][0]["warranty"].clone(), p2["items"][0]["type"].clone()), (json!(false), json!("tickets")));
}

#[tokio::test]
async fn a_preference_refuses_what_its_reference_refuses() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for body in [
        json!({}),
        json!({ "items": [] }),
        json!({ "items": [{ "quantity": 1, "unit_price": 1 }] }),
        json!({ "items": [{ "title": "A", "quantity": 0, "unit_price": 1 }] }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": -1 }] }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1, "currency_id": "ARS" }] }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "auto_return": "approved" }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "colour": "red" }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "expiration_date_to": "soon" }),
        json!({ "items": [{ "title": "A", "quantity": 4_294_967_295_u64, "unit_price": 9_999_999_999_999.99 }] }),
        json!({ "items": [{ "title": "A", "quantity": 1000, "unit_price": 999_999 }] }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "back_urls": { "success": "http://" } }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "back_urls": { "success": "https://x:99999/" } }),
        json!({ "items": [{ "title": "A", "quantity": 1, "unit_price": 1 }], "marketplace_fee": -5 }),
    ] {
        let (status, error) = app.api(Method::POST, "/checkout/preferences", &account, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {error}");
        assert_eq!(error["error"], "bad_request", "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn the_hosted_checkout_pays_and_sends_the_buyer_back_with_mercado_pagos_parameters() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.preference(&account, preference_body("https://shop.example/back")).await;
    let id = p["id"].as_str().unwrap();
    let page = app.client.get(p["init_point"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Point Mini") && html.contains("BRL 117.60"), "the items and the total");

    let nonce = app.page_nonce(&p).await;
    let approved = app.pay_on_page(id, "APRO", &nonce).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER, "auto_return approved: straight back");
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("https://shop.example/back?page=success&"), "{location}");
    let q = query_of(&location);
    for (key, value) in [
        ("status", "approved"),
        ("collection_status", "approved"),
        ("external_reference", "cart-1"),
        ("payment_type", "credit_card"),
        ("site_id", "MLB"),
        ("processing_mode", "aggregator"),
        ("merchant_account_id", "null"),
    ] {
        assert_eq!(q.get(key).map(String::as_str), Some(value), "{key} in {location}");
    }
    assert_eq!(q["preference_id"], id);
    assert_eq!(q["payment_id"], q["collection_id"]);
    // The same form again (a double click) makes no second payment.
    let again = app.pay_on_page(id, "APRO", &nonce).await;
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);

    let (_, payment) = app.api(Method::GET, &format!("/v1/payments/{}", q["payment_id"]), &account, None).await;
    assert_eq!((payment["status"].as_str(), payment["transaction_amount"].clone()), (Some("approved"), json!(117.6)));
    assert_eq!(payment["order"], json!({ "type": "mercadopago", "id": q["merchant_order_id"] }));
    assert_eq!(payment["external_reference"], "cart-1");
    assert_eq!(payment["additional_info"]["items"][0]["quantity"], "2", "as the Payments API shows items");
    let (_, order) =
        app.api(Method::GET, &format!("/merchant_orders/{}", q["merchant_order_id"]), &account, None).await;
    assert_eq!((order["status"].as_str(), order["order_status"].as_str()), (Some("closed"), Some("paid")));
    assert_eq!(order["paid_amount"], json!(117.6));
    assert_eq!(order["preference_id"], id);
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);

    // A refund reverts the merchant order.
    let (status, _) = app.api(Method::POST, &format!("/v1/payments/{}/refunds", q["payment_id"]), &account, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, order) =
        app.api(Method::GET, &format!("/merchant_orders/{}", q["merchant_order_id"]), &account, None).await;
    assert_eq!(order["order_status"], "reverted");
    assert_eq!(order["refunded_amount"], json!(117.6));

    // A declined card shows the outcome, with a link to the failure URL (auto_return is "approved").
    let declined = app.pay_on_page(id, "OTHE", &app.page_nonce(&p).await).await;
    assert_eq!(declined.status(), StatusCode::OK);
    let html = declined.text().await.unwrap();
    assert!(
        html.contains("rejected") && html.contains("https://shop.example/back?page=failure&amp;collection_id="),
        "{html}"
    );
}

#[tokio::test]
async fn the_hosted_checkout_refuses_expired_preferences_and_excluded_methods() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut body = preference_body("https://shop.example/back");
    body["expires"] = json!(true);
    body["expiration_date_from"] = json!("2020-01-01T00:00:00.000-04:00");
    body["expiration_date_to"] = json!("2020-01-02T00:00:00.000-04:00");
    let expired = app.preference(&account, body).await;
    let page = app.client.get(expired["init_point"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert_eq!(
        app.pay_on_page(expired["id"].as_str().unwrap(), "APRO", &unique_key()).await.status(),
        StatusCode::GONE
    );

    let mut body = preference_body("https://shop.example/back");
    body["payment_methods"] = json!({ "excluded_payment_types": [{ "id": "credit_card" }] });
    let no_cards = app.preference(&account, body).await;
    let html = app.client.get(no_cards["init_point"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("id=\"card\"") && html.contains("id=\"pix\""), "only Pix is offered");
    let pix_nonce = {
        let at = html.find("name=\"nonce\" value=\"").unwrap() + "name=\"nonce\" value=\"".len();
        html[at..].split('"').next().unwrap().to_owned()
    };
    let refused = app.pay_on_page(no_cards["id"].as_str().unwrap(), "APRO", &pix_nonce).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let made_up = app.pay_on_page("1-nope", "APRO", "x").await;
    assert_eq!(made_up.status(), StatusCode::NOT_FOUND);

    // A key the page did not issue, installments above the preference's, a malformed form.
    let mut body = preference_body("https://shop.example/back");
    body["payment_methods"] = json!({ "installments": 3, "excluded_payment_methods": [{ "id": "master" }] });
    let three = app.preference(&account, body).await;
    let page = app.client.get(three["init_point"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("4235647728025682"), "Mastercard excluded: the Visa test card is offered");
    assert!(page.contains("<option value=\"3\">") && !page.contains("<option value=\"4\">"), "at most 3 installments");
    let three_id = three["id"].as_str().unwrap();
    let forged = app.pay_on_page(three_id, "APRO", "made-up").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(forged.text().await.unwrap().contains("not issued by this checkout"));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let nonce = app.page_nonce(&three).await;
    let form = [
        ("pref_id", three_id),
        ("nonce", nonce.as_str()),
        ("method", "card"),
        ("card_number", "4235647728025682"),
        ("expiration", "11/30"),
        ("security_code", "123"),
        ("cardholder_name", "APRO"),
        ("email", "test@testuser.com"),
        ("installments", "12"),
    ];
    let too_many = client.post(format!("{}/checkout/v1/pay", app.base)).form(&form).send().await.unwrap();
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    let broken =
        client.post(format!("{}/checkout/v1/pay", app.base)).form(&[("installments", "abc")]).send().await.unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert!(broken.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let unknown = app.client.get(format!("{}/checkout/v1/redirect?pref_id=nope", app.base)).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn merchant_orders_are_created_updated_and_searched() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.preference(&account, preference_body("https://shop.example/back")).await;
    let (status, order) = app
        .api(
            Method::POST,
            "/merchant_orders",
            &account,
            Some(json!({ "preference_id": p["id"], "additional_info": "Info 1" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!((order["status"].as_str(), order["order_status"].as_str()), (Some("opened"), Some("payment_required")));
    assert_eq!(order["total_amount"], json!(117.6));
    assert_eq!(order["is_test"], true);
    assert_eq!(order["items"][0]["title"], "Point Mini", "the preference's items");
    let (status, _) =
        app.api(Method::POST, "/merchant_orders", &account, Some(json!({ "preference_id": p["id"] }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one merchant order per preference");
    let path = format!("/merchant_orders/{}", order["id"]);
    let (status, updated) = app
        .api(
            Method::PUT,
            &path,
            &account,
            Some(json!({ "notification_url": "https://www.test.com", "additional_info": "Info 2" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (updated["notification_url"].as_str(), updated["additional_info"].as_str()),
        (Some("https://www.test.com"), Some("Info 2"))
    );
    assert_eq!(updated["preference_id"], p["id"]);
    let (_, found) = app
        .api(
            Method::GET,
            &format!("/merchant_orders/search?preference_id={}", p["id"].as_str().unwrap()),
            &account,
            None,
        )
        .await;
    assert_eq!((found["total"].clone(), found["elements"][0]["id"].clone()), (json!(1), order["id"].clone()));
    let (status, _) = app.api(Method::GET, "/merchant_orders/search?colour=red", &account, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (query, total) in
        [("site_id=MLA", 0), ("site_id=MLB", 1), ("payer_id=1", 0), ("last_udpated_from=2020-01-01T00:00:00.000Z", 1)]
    {
        let (_, found) = app.api(Method::GET, &format!("/merchant_orders/search?{query}"), &account, None).await;
        assert_eq!(found["total"], total, "{query}");
    }
    let (status, error) = app.api(Method::GET, "/merchant_orders/1", &account, None).await;
    assert_eq!((status, error["message"].as_str()), (StatusCode::NOT_FOUND, Some("Merchant order not found")));
}

/// A Pix payment made on the hosted checkout waits in its merchant order; when it
/// expires (the worker), the merchant order shows it cancelled.
#[tokio::test]
async fn an_expired_checkout_pix_shows_in_its_merchant_order() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.preference(&account, preference_body("https://shop.example/back")).await;
    let html = app.client.get(p["init_point"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    let pix_form = &html[html.find("id=\"pix\"").expect("a Pix form")..];
    let at = pix_form.find("name=\"nonce\" value=\"").unwrap() + "name=\"nonce\" value=\"".len();
    let nonce = pix_form[at..].split('"').next().unwrap();
    let form =
        [("pref_id", p["id"].as_str().unwrap()), ("nonce", nonce), ("method", "pix"), ("email", "test@testuser.com")];
    let paid = app.client.post(format!("{}/checkout/v1/pay", app.base)).form(&form).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::OK, "pending, and auto_return is for approved payments only");
    let search = format!("/merchant_orders/search?preference_id={}", p["id"].as_str().unwrap());
    let (_, found) = app.api(Method::GET, &search, &account, None).await;
    let order = &found["elements"][0];
    assert_eq!(order["payments"][0]["status"], "pending");
    let (_, payment) =
        app.api(Method::GET, &format!("/v1/payments/{}", order["payments"][0]["id"]), &account, None).await;
    let expires = chrono::DateTime::parse_from_rfc3339(payment["date_of_expiration"].as_str().unwrap()).unwrap();
    let at = caja::domain::Timestamp::from_millis(expires.timestamp_millis());
    assert_eq!(app.store().expire_payments(at).await.unwrap(), 1);
    let (_, found) = app.api(Method::GET, &search, &account, None).await;
    assert_eq!(found["elements"][0]["payments"][0]["status"], "cancelled");
    assert_eq!(found["elements"][0]["order_status"], "payment_required");
}
