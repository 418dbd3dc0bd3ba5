//! The cards reference (`reference/api-json/cards.json`), card tokens as the official
//! SDKs make them, and the customer's `cards`, row by row: a token never shows (or
//! keeps) the whole number, is used once, and becomes a saved card that can be read,
//! listed, changed and deleted.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_cause, assert_error, Account, TestApp};

/// The body the Node SDK's live card-token mock sends (month and year as strings).
fn sdk_token_body() -> Value {
    json!({
        "site_id": "MLB", "card_number": "5031433215406351", "expiration_year": "2099", "expiration_month": "11",
        "security_code": "123", "cardholder": { "identification": { "type": "CPF", "number": "01234567890" }, "name": "APRO" }
    })
}

impl TestApp {
    async fn call(&self, method: Method, path: &str, account: &Account, body: Option<Value>) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&account.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn token(&self, account: &Account) -> String {
        let created = self.call(Method::POST, "/v1/card_tokens", account, Some(sdk_token_body())).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_card_token_shows_the_cards_ends_never_its_number() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let created = app.call(Method::POST, "/v1/card_tokens", &account, Some(sdk_token_body())).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let raw = created.text().await.unwrap();
    assert!(!raw.contains("5031433215406351") && !raw.contains("\"123\""), "{raw}");
    let token: Value = serde_json::from_str(&raw).unwrap();
    assert!(token["id"].as_str().is_some_and(|id| id.len() == 32), "{token}");
    for (field, value) in [
        ("first_six_digits", json!("503143")),
        ("last_four_digits", json!("6351")),
        ("expiration_month", json!(11)),
        ("expiration_year", json!(2099)),
        ("status", json!("active")),
        ("luhn_validation", json!(true)),
        ("live_mode", json!(false)),
        ("require_esc", json!(false)),
        ("card_number_length", json!(16)),
        ("security_code_length", json!(3)),
        ("cardholder", json!({ "name": "APRO", "identification": { "type": "CPF", "number": "01234567890" } })),
    ] {
        assert_eq!(token[field], value, "{field}");
    }
    for date in ["date_created", "date_last_updated", "date_due"] {
        assert!(token[date].is_string(), "{date}");
    }
    let path = format!("/v1/card_tokens/{}", token["id"].as_str().unwrap());
    let read: Value = app.call(Method::GET, &path, &account, None).await.json().await.unwrap();
    assert_eq!(read, token);
    let stranger = app.test_account().await;
    let theirs = assert_error(app.call(Method::GET, &path, &stranger, None).await, 404, "not_found").await;
    assert_eq!(theirs["message"], "card token not found");

    for (body, field) in [
        (
            json!({ "card_number": "5031433215406352", "expiration_month": 11, "expiration_year": 2099, "security_code": "123" }),
            "card_number",
        ),
        (
            json!({ "card_number": "5031433215406351", "expiration_month": 13, "expiration_year": 2099, "security_code": "123" }),
            "expiration_month",
        ),
        (
            json!({ "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2099, "security_code": "12" }),
            "security_code",
        ),
        (
            json!({ "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2099, "security_code": "123", "site_id": "MLA" }),
            "site_id",
        ),
    ] {
        let error = assert_cause(
            app.call(Method::POST, "/v1/card_tokens", &account, Some(body)).await,
            "125",
            "invalid parameters.",
        )
        .await;
        assert!(error["message"].as_str().unwrap().contains(field), "{error} should name {field}");
    }
}

#[tokio::test]
async fn a_token_becomes_a_saved_card_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let cards = format!("/v1/customers/{customer}/cards");
    let token = app.token(&account).await;
    let saved = app.call(Method::POST, &cards, &account, Some(json!({ "token": token }))).await;
    assert_eq!(saved.status(), StatusCode::CREATED);
    let card: Value = saved.json().await.unwrap();
    assert!(card["id"].as_str().is_some_and(|id| id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())), "{card}");
    assert_eq!(card["customer_id"], customer.as_str());
    assert_eq!(card["user_id"], account.user_id.to_string(), "a string, as the cards reference shows it");
    assert_eq!((card["first_six_digits"].clone(), card["last_four_digits"].clone()), (json!("503143"), json!("6351")));
    assert_eq!(card["payment_method"]["id"], "master");
    assert_eq!(card["payment_method"]["payment_type_id"], "credit_card");
    assert_eq!(card["security_code"], json!({ "length": 3, "card_location": "back" }));
    assert_eq!(card["issuer"], json!({ "id": 24, "name": "Mastercard" }));
    assert_eq!(card["cardholder"]["name"], "APRO");

    let used = app.call(Method::POST, &cards, &account, Some(json!({ "token": token }))).await;
    assert_cause(used, "121", "the card is invalid.").await;
    let unknown =
        app.call(Method::POST, &cards, &account, Some(json!({ "token": "0123456789abcdef0123456789abcdef" }))).await;
    assert_cause(unknown, "121", "the card is invalid.").await;
    assert_cause(app.call(Method::POST, &cards, &account, Some(json!({}))).await, "119", "the card is required.").await;
    let token_path = format!("/v1/card_tokens/{token}");
    let spent: Value = app.call(Method::GET, &token_path, &account, None).await.json().await.unwrap();
    assert_eq!(spent["status"], "used");

    let list: Value = app.call(Method::GET, &cards, &account, None).await.json().await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "a bare array: {list}");
    let holder: Value =
        app.call(Method::GET, &format!("/v1/customers/{customer}"), &account, None).await.json().await.unwrap();
    assert_eq!(holder["cards"][0]["id"], card["id"]);

    // A token of the saved card, as the SDKs make one to pay with it.
    let again = json!({ "card_id": card["id"], "security_code": "123", "customer_id": customer });
    let reuse: Value = app.call(Method::POST, "/v1/card_tokens", &account, Some(again)).await.json().await.unwrap();
    assert_eq!((reuse["card_id"].clone(), reuse["status"].clone()), (card["id"].clone(), json!("active")));
}

#[tokio::test]
async fn a_saved_card_is_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let cards = format!("/v1/customers/{customer}/cards");
    let token = app.token(&account).await;
    let card: Value =
        app.call(Method::POST, &cards, &account, Some(json!({ "token": token }))).await.json().await.unwrap();
    let path = format!("{cards}/{}", card["id"].as_str().unwrap());
    let change = json!({ "expiration_month": 1, "expiration_year": 2031, "cardholder": { "name": "Test", "identification": { "type": "CNPJ" } } });
    let changed = app.call(Method::PUT, &path, &account, Some(change)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!((changed["expiration_month"].clone(), changed["expiration_year"].clone()), (json!(1), json!(2031)));
    assert_eq!(changed["cardholder"]["name"], "Test");
    assert_eq!(changed["cardholder"]["identification"]["type"], "CNPJ");
    assert_eq!(app.call(Method::GET, &path, &account, None).await.json::<Value>().await.unwrap(), changed);

    let stranger = app.test_account().await;
    assert_error(app.call(Method::GET, &path, &stranger, None).await, 404, "not_found").await;

    let deleted = app.call(Method::DELETE, &path, &account, None).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(deleted.json::<Value>().await.unwrap()["id"], card["id"]);
    let gone = app.call(Method::GET, &path, &account, None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["error"], "not_found");
    assert_eq!(gone["cause"], json!([{ "code": "120", "description": "card not found.", "data": null }]));
    let list: Value = app.call(Method::GET, &cards, &account, None).await.json().await.unwrap();
    assert_eq!(list, json!([]));

    // Saved, changed, deleted: each audited.
    let trail = app.audit(&account, caja::domain::ResourceType::CustomerCard, card["id"].as_str().unwrap()).await;
    let moves: Vec<_> = trail.iter().map(|e| (e.from_status.clone(), e.to_status.clone())).collect();
    let (active, deleted) = ("active".to_owned(), "deleted".to_owned());
    assert_eq!(moves, [(None, active.clone()), (Some(active.clone()), active.clone()), (Some(active), deleted)]);
}

#[tokio::test]
async fn paths_are_taken_with_a_trailing_slash_as_the_sdks_send_them() {
    // The Python SDK saves a card at `/v1/customers/{id}/cards/`.
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let token = app.token(&account).await;
    let saved = app
        .call(Method::POST, &format!("/v1/customers/{customer}/cards/"), &account, Some(json!({ "token": token })))
        .await;
    assert_eq!(saved.status(), StatusCode::CREATED);
    let listed: Value =
        app.call(Method::GET, &format!("/v1/customers/{customer}/cards/"), &account, None).await.json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let search = app.call(Method::GET, "/v1/customers/search/?limit=5", &account, None).await;
    assert_eq!(search.status(), StatusCode::OK);
}
