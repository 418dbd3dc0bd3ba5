//! The Customers reference page (`reference/api-json/customers.json`) and the
//! official SDKs' live tests, row by row: every documented field kept and answered,
//! the dates as Mercado Pago names them, update and delete, the search's one
//! documented filter, the numbered causes of the error table, and an idempotency key
//! that is optional.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_cause, assert_error, unique_key, Account, TestApp};

/// The body the Node SDK's live create test sends.
fn full_body(email: &str) -> Value {
    json!({
        "email": email,
        "first_name": "Jhon",
        "last_name": "Doe",
        "phone": { "area_code": "55", "number": "991234567" },
        "identification": { "type": "CPF", "number": "12345678900" },
        "default_address": "Home",
        "address": { "id": "123123", "zip_code": "25065172", "street_name": "Rua Exemplo", "street_number": 123, "city": {} },
        "date_registered": "2023-10-20T11:37:30.000-04:00",
        "description": "Description del user",
        "default_card": "None",
        "metadata": { "source_sync": "source_ws" }
    })
}

impl TestApp {
    async fn customer_call(
        &self,
        method: Method,
        path: &str,
        account: &Account,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&account.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_customer_keeps_and_answers_every_documented_field() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let created = app.customer_call(Method::POST, "/v1/customers", &account, Some(full_body("jhon@example.com"))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    for (field, value) in [
        ("email", json!("jhon@example.com")),
        ("first_name", json!("Jhon")),
        ("last_name", json!("Doe")),
        ("phone", json!({ "area_code": "55", "number": "991234567" })),
        ("identification", json!({ "type": "CPF", "number": "12345678900" })),
        (
            "address",
            json!({ "id": "123123", "zip_code": "25065172", "street_name": "Rua Exemplo", "street_number": 123 }),
        ),
        ("date_registered", json!("2023-10-20T11:37:30.000-04:00")),
        ("description", json!("Description del user")),
        ("default_card", json!("None")),
        ("default_address", json!("Home")),
        ("metadata", json!({ "source_sync": "source_ws" })),
        ("cards", json!([])),
        ("addresses", json!([])),
        ("live_mode", json!(false)),
        ("user_id", json!(account.user_id)),
        ("merchant_id", json!(account.user_id)),
        ("client_id", json!(account.user_id)),
        ("status", json!("active")),
    ] {
        assert_eq!(created[field], value, "{field} in {created}");
    }
    for date in ["date_created", "date_last_updated"] {
        assert!(created[date].as_str().is_some_and(|d| d.ends_with('Z')), "{date} in {created}");
    }
    for invented in ["site_id", "created_date", "last_updated_date"] {
        assert!(created.get(invented).is_none(), "no {invented} in {created}");
    }
    let id = created["id"].as_str().unwrap();
    let read: Value =
        app.customer_call(Method::GET, &format!("/v1/customers/{id}"), &account, None).await.json().await.unwrap();
    assert_eq!(read, created);

    // A customer made with an email only still answers every object.
    let bare: Value = app
        .customer_call(Method::POST, "/v1/customers", &account, Some(json!({ "email": "bare@example.com" })))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bare["phone"], json!({ "area_code": null, "number": null }));
    assert_eq!(bare["identification"], json!({ "type": null, "number": null }));
    assert_eq!(bare["metadata"], json!({}));
}

#[tokio::test]
async fn an_update_replaces_what_it_sends_and_never_the_email() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let created: Value = app
        .customer_call(Method::POST, "/v1/customers", &account, Some(json!({ "email": "ana@example.com" })))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let update = json!({ "first_name": "Jhon", "last_name": "Doe", "phone": { "area_code": "11", "number": "5555" } });
    let updated = app.customer_call(Method::PUT, &path, &account, Some(update)).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!((updated["id"].clone(), updated["first_name"].clone()), (created["id"].clone(), json!("Jhon")));
    assert_eq!(updated["phone"], json!({ "area_code": "11", "number": "5555" }));
    assert_eq!((updated["email"].clone(), updated["status"].clone()), (json!("ana@example.com"), json!("active")));
    assert_eq!(app.customer_call(Method::GET, &path, &account, None).await.json::<Value>().await.unwrap(), updated);

    let same_email = json!({ "email": "ANA@example.com", "description": "vip" });
    assert_eq!(app.customer_call(Method::PUT, &path, &account, Some(same_email)).await.status(), StatusCode::OK);
    let other_email =
        app.customer_call(Method::PUT, &path, &account, Some(json!({ "email": "bob@example.com" }))).await;
    assert_cause(other_email, "126", "invalid parameter. You cannot update the email.").await;
    let bad_date = json!({ "date_registered": "yesterday" });
    assert_cause(
        app.customer_call(Method::PUT, &path, &account, Some(bad_date)).await,
        "115",
        "the date_registered format is invalid.",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_customer_answers_deactive_then_is_gone_and_frees_its_email() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body = json!({ "email": "gone@example.com" });
    let created: Value =
        app.customer_call(Method::POST, "/v1/customers", &account, Some(body.clone())).await.json().await.unwrap();
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let deleted = app.customer_call(Method::DELETE, &path, &account, None).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let deleted: Value = deleted.json().await.unwrap();
    assert_eq!((deleted["id"].clone(), deleted["status"].clone()), (created["id"].clone(), json!("deactive")));
    assert_error(app.customer_call(Method::GET, &path, &account, None).await, 404, "not_found").await;
    assert_error(app.customer_call(Method::DELETE, &path, &account, None).await, 404, "not_found").await;
    let search = app.customer_call(Method::GET, "/v1/customers/search?email=gone@example.com", &account, None).await;
    assert_eq!(search.json::<Value>().await.unwrap()["paging"]["total"], 0);
    let again = app.customer_call(Method::POST, "/v1/customers", &account, Some(body)).await;
    assert_eq!(again.status(), StatusCode::CREATED, "the email is free again");

    // Every change is audited: the creation and the delete.
    let id = created["id"].as_str().unwrap();
    let trail = app.audit(&account, caja::domain::ResourceType::Customer, id).await;
    let moves: Vec<_> = trail.iter().map(|e| (e.from_status.clone(), e.to_status.clone())).collect();
    assert_eq!(moves, [(None, "active".to_owned()), (Some("active".to_owned()), "deactive".to_owned())]);
}

#[tokio::test]
async fn the_idempotency_key_is_optional_and_binding_when_sent() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let url = format!("{}/v1/customers", app.base);
    let without = app.client.post(&url).bearer_auth(&account.token).json(&json!({ "email": "k1@example.com" })).send();
    assert_eq!(without.await.unwrap().status(), StatusCode::CREATED);
    let key = unique_key();
    let with = || {
        app.client
            .post(&url)
            .bearer_auth(&account.token)
            .header("X-Idempotency-Key", &key)
            .json(&json!({ "email": "k2@example.com" }))
            .send()
    };
    let first = with().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.bytes().await.unwrap();
    let replay = with().await.unwrap();
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");
    assert_eq!(replay.bytes().await.unwrap(), first);
    let long = app.client.post(&url).bearer_auth(&account.token).header("X-Idempotency-Key", "k".repeat(65));
    let long = long.json(&json!({ "email": "k3@example.com" })).send().await.unwrap();
    assert_error(long, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn each_refused_field_carries_its_numbered_cause() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let long = "x".repeat(300);
    let rows = [
        (json!({ "email": "a@example.com", "first_name": long }), "107", "the first_name is invalid."),
        (json!({ "email": "a@example.com", "last_name": "" }), "108", "the last_name is invalid."),
        (json!({ "email": "a@example.com", "phone": { "area_code": long } }), "109", "the phone.area_code is invalid."),
        (json!({ "email": "a@example.com", "phone": { "number": long } }), "110", "the phone.number is invalid."),
        (
            json!({ "email": "a@example.com", "identification": { "type": long } }),
            "111",
            "the identification.type is invalid.",
        ),
        (
            json!({ "email": "a@example.com", "identification": { "number": long } }),
            "112",
            "the identification.number is invalid.",
        ),
        (
            json!({ "email": "a@example.com", "address": { "zip_code": long } }),
            "113",
            "the address.zip_code is invalid.",
        ),
        (
            json!({ "email": "a@example.com", "address": { "street_name": long } }),
            "114",
            "the address.street_name is invalid.",
        ),
        (
            json!({ "email": "a@example.com", "date_registered": "2023-10-20" }),
            "115",
            "the date_registered format is invalid.",
        ),
        (json!({ "email": "a@example.com", "description": long }), "116", "the description is invalid."),
        (json!({ "email": "a@example.com", "metadata": [1, 2] }), "117", "the metadata is invalid."),
        (json!([{ "email": "a@example.com" }]), "118", "the body must be a Json Object."),
        (json!({ "email": "a@example.com", "nickname": "x" }), "125", "invalid parameters."),
        (json!({ "email": "a@example.com", "phone": "11 5555" }), "125", "invalid parameters."),
        // An array is never read as an object, field by field.
        (json!({ "email": "a@example.com", "phone": ["11", "5555"] }), "125", "invalid parameters."),
    ];
    for (body, code, description) in rows {
        let response = app.customer_call(Method::POST, "/v1/customers", &account, Some(body.clone())).await;
        assert_cause(response, code, description).await;
    }
    let not_json = app.client.post(format!("{}/v1/customers", app.base)).bearer_auth(&account.token).body("{");
    assert_cause(not_json.send().await.unwrap(), "118", "the body must be a Json Object.").await;
}

#[tokio::test]
async fn search_takes_its_documented_parameters_and_refuses_others() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    app.customer_call(
        Method::POST,
        "/v1/customers",
        &account,
        Some(json!({ "email": "ana@example.com", "first_name": "Ana" })),
    )
    .await;
    app.customer_call(
        Method::POST,
        "/v1/customers",
        &account,
        Some(json!({ "email": "bob@example.com", "first_name": "Bob" })),
    )
    .await;
    let (app, account) = (&app, &account);
    let search = |query: &str| {
        let path = format!("/v1/customers/search{query}");
        async move { app.customer_call(Method::GET, &path, account, None).await }
    };
    let all: Value = search("").await.json().await.unwrap();
    assert_eq!(all["paging"]["total"], 2);
    let ana: Value = search("?email=ANA@example.com&limit=10&offset=0").await.json().await.unwrap();
    assert_eq!((ana["paging"]["total"].clone(), ana["results"][0]["first_name"].clone()), (json!(1), json!("Ana")));
    for unsupported in ["?first_name=Ana", "?email=ana@example.com&sort=date_created", "?criteria=desc"] {
        assert_cause(search(unsupported).await, "204", "invalid filters format.").await;
    }
}

#[tokio::test]
async fn a_customer_that_is_not_the_callers_is_404_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.test_account().await;
    let created: Value = app
        .customer_call(Method::POST, "/v1/customers", &owner, Some(json!({ "email": "mine@example.com" })))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let stranger = app.test_account().await;
    for method in [Method::GET, Method::DELETE] {
        let error = assert_error(app.customer_call(method, &path, &stranger, None).await, 404, "not_found").await;
        assert_eq!(error["message"], "customer not found");
    }
    let put = app.customer_call(Method::PUT, &path, &stranger, Some(json!({ "first_name": "x" }))).await;
    assert_error(put, 404, "not_found").await;
    let other_site = app.token_for(&owner, caja::domain::SiteId::Mla).await;
    assert_error(app.customer_call(Method::GET, &path, &other_site, None).await, 404, "not_found").await;
    for unknown in ["/v1/customers/123456789-abcdefghijklmno", "/v1/customers/12-x"] {
        assert_error(app.customer_call(Method::GET, unknown, &owner, None).await, 404, "not_found").await;
    }
    let no_token = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_error(no_token, 401, "unauthorized").await;
}
