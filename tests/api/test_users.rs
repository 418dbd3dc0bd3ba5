//! Test users as Mercado Pago's "Create test user" page documents them: `POST
//! /users/test` (and the older `/users/test_user`) make a test account, with caja's
//! own `caja_access_token` to act as it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

async fn create(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client.post(format!("{}{path}", app.base)).bearer_auth(token).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn a_test_user_is_made_as_the_page_shows_and_its_token_works() {
    let app = TestApp::spawn().await;
    let seller = app.test_account().await;
    let response =
        create(&app, "/users/test", &seller.token, json!({ "site_id": "MLA", "description": "a description" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    let fields: Vec<&str> = user.as_object().unwrap().keys().map(String::as_str).collect();
    for field in [
        "id",
        "nickname",
        "password",
        "site_status",
        "site_id",
        "description",
        "email",
        "date_created",
        "date_last_updated",
    ] {
        assert!(fields.contains(&field), "{field} in {user}");
    }
    let id = user["id"].as_i64().unwrap();
    assert_eq!((user["site_status"].as_str(), user["site_id"].as_str()), (Some("active"), Some("MLA")));
    assert_eq!(user["email"], format!("test_user_{id}@testuser.com"));
    assert!(user["password"].as_str().unwrap().starts_with("qatest"));
    assert!(user["date_created"].as_str().unwrap().ends_with("-04:00"), "{user}");

    // The new user's token is a test account of the site.
    let token = user["caja_access_token"].as_str().unwrap();
    assert!(token.starts_with("TEST-") && token.ends_with(&format!("-{id}")), "{token}");
    let me: Value =
        app.client.get(format!("{}/users/me", app.base)).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (me["id"].as_i64(), me["site_id"].as_str(), me["nickname"].clone()),
        (Some(id), Some("MLA"), user["nickname"].clone())
    );
    assert_eq!(me["tags"], json!(["test_user"]));

    // No caps: as many as a suite needs; the older endpoint takes no description.
    let older = create(&app, "/users/test_user", &seller.token, json!({ "site_id": "MLB" })).await;
    assert_eq!(older.status(), StatusCode::CREATED);
    let older: Value = older.json().await.unwrap();
    assert_ne!(older["id"], user["id"]);
    assert_eq!(older["site_id"], "MLB");
}

#[tokio::test]
async fn a_bad_test_user_request_is_400_and_needs_a_token() {
    let app = TestApp::spawn().await;
    let seller = app.test_account().await;
    for body in [
        json!({ "description": "x" }),
        json!({ "site_id": "XXX", "description": "x" }),
        json!({ "site_id": "MLA" }),
        json!({ "site_id": "MLA", "description": "" }),
        json!({ "site_id": "MLA", "description": "x", "balance": 100 }),
        json!([]),
    ] {
        let refused = create(&app, "/users/test", &seller.token, body.clone()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = refused.json().await.unwrap();
        assert_eq!((answer["error"].as_str(), answer["status"].as_u64()), (Some("bad_request"), Some(400)), "{answer}");
    }
    let anonymous =
        app.client.post(format!("{}/users/test", app.base)).json(&json!({ "site_id": "MLA", "description": "x" }));
    assert_eq!(anonymous.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
