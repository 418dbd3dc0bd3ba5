//! Payment profiles (and the customers they hang from): the lifecycle, every error
//! row of the profiles page (each mismatch reached as an integrator would reach it),
//! rate limits, concurrency. The Customers reference page itself is checked in
//! `customer_reference.rs`.

use std::sync::Arc;
use std::time::Duration;

use caja::domain::{ResourceType, SiteId};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_cause, assert_error, unique_key, Account, Options, TestApp};

/// A card payment method; each call names another card.
fn card() -> Value {
    let card_id = 1_000_000_000 + u64::from(rand::random::<u32>());
    json!({ "id": "visa", "type": "credit_card", "token": "9b2d63e00d66a8c721607214ceda233a", "card_id": card_id })
}

impl TestApp {
    pub(crate) async fn create_customer(&self, account: &Account, email: &str) -> reqwest::Response {
        self.post("/v1/customers", &account.token, Some(&unique_key()))
            .json(&json!({ "email": email, "first_name": "Ana" }))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn new_customer(&self, account: &Account) -> String {
        let response = self.create_customer(account, &format!("{}@example.com", unique_key())).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn create_profile(&self, account: &Account, customer: &str, body: &Value) -> reqwest::Response {
        self.post(&format!("/v1/customers/{customer}/payment-profiles"), &account.token, Some(&unique_key()))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn new_profile(&self, account: &Account, customer: &str) -> String {
        let body = json!({ "description": "gym", "max_day_overdue": 5, "statement_descriptor": "GYM", "sequence_control": "AUTO" });
        let response = self.create_profile(account, customer, &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    async fn get_profile(&self, account: &Account, customer: &str, profile: &str) -> reqwest::Response {
        let url = format!("{}/v1/customers/{customer}/payment-profiles/{profile}", self.base);
        self.client.get(url).bearer_auth(&account.token).send().await.unwrap()
    }

    async fn profile_status(&self, account: &Account, customer: &str, profile: &str) -> String {
        let body: Value = self.get_profile(account, customer, profile).await.json().await.unwrap();
        body["status"].as_str().unwrap().to_owned()
    }

    async fn add_method(&self, account: &Account, customer: &str, profile: &str) -> reqwest::Response {
        let path = format!("/v1/customers/{customer}/payment-profiles/{profile}/payment-methods");
        self.post(&path, &account.token, Some(&unique_key())).json(&card()).send().await.unwrap()
    }

    async fn cancel_profile(&self, account: &Account, customer: &str, profile: &str, key: &str) -> reqwest::Response {
        let path = format!("/v1/customers/{customer}/payment-profiles/{profile}/cancel");
        self.post(&path, &account.token, Some(key)).send().await.unwrap()
    }

    async fn profile_audit(&self, account: &Account, profile: &str) -> Vec<(Option<String>, String)> {
        self.audit(account, ResourceType::PaymentProfile, profile)
            .await
            .into_iter()
            .map(|e| (e.from_status, e.to_status))
            .collect()
    }
}

#[tokio::test]
async fn customers_are_created_read_and_searched() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let response = app.create_customer(&account, "Ana@Example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 25);
    assert_eq!(created["email"], "Ana@Example.com");
    assert_eq!(created["status"], "active");
    let read = app.client.get(format!("{}/v1/customers/{id}", app.base)).bearer_auth(&account.token).send().await;
    assert_eq!(read.unwrap().json::<Value>().await.unwrap(), created);

    for i in 0..3 {
        app.create_customer(&account, &format!("other{i}@example.com")).await;
    }
    let search = |query: &str| {
        app.client.get(format!("{}/v1/customers/search{query}", app.base)).bearer_auth(&account.token).send()
    };
    let found: Value = search("?email=ana@example.com").await.unwrap().json().await.unwrap();
    assert_eq!(found["paging"], json!({ "limit": 30, "offset": 0, "total": 1 }));
    assert_eq!(found["results"][0]["id"], id);
    let page: Value = search("?limit=2&offset=1").await.unwrap().json().await.unwrap();
    assert_eq!(page["paging"], json!({ "limit": 2, "offset": 1, "total": 4 }));
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert_cause(search("?limit=500").await.unwrap(), "125", "invalid parameters.").await;
    // Another account sees none of them.
    let stranger = app.test_account().await;
    let theirs: Value = app
        .client
        .get(format!("{}/v1/customers/search", app.base))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["paging"]["total"], 0);
}

#[tokio::test]
async fn a_duplicate_or_invalid_email_is_a_clear_400() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let first: Value = app.create_customer(&account, "ana@example.com").await.json().await.unwrap();
    let duplicate = app.create_customer(&account, "ANA@example.com").await;
    let error = assert_cause(duplicate, "101", "the customer already exist.").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("already") && message.contains(first["id"].as_str().unwrap()), "{message}");
    for bad in ["", "ana", "ana@example", "a na@example.com"] {
        assert_cause(app.create_customer(&account, bad).await, "106", "the email format is invalid.").await;
    }
    let no_email = app.post("/v1/customers", &account.token, Some(&unique_key())).json(&json!({})).send().await;
    assert_cause(no_email.unwrap(), "106", "the email format is invalid.").await;
    // Another account may use the same email.
    let other = app.test_account().await;
    assert_eq!(app.create_customer(&other, "ana@example.com").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn profile_lifecycle_pending_ready_cancelled() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let response =
        app.create_profile(&account, &customer, &json!({ "max_day_overdue": 5, "sequence_control": "MANUAL" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["payment_methods"], json!([]));
    assert_eq!(created["customer_id"], customer.as_str());
    assert_eq!(created["sequence_control"], "MANUAL");
    let profile = created["id"].as_str().unwrap();
    assert_eq!(profile.len(), 32);

    let added = app.add_method(&account, &customer, profile).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let ready: Value = added.json().await.unwrap();
    assert_eq!(ready["status"], "READY");
    assert_eq!(ready["payment_methods"][0]["id"], "visa");
    assert!(ready["payment_methods"][0].get("token").is_none(), "the token is never shown");
    assert_eq!(app.add_method(&account, &customer, profile).await.status(), StatusCode::CREATED);
    let third = app.add_method(&account, &customer, profile).await;
    assert_error(third, 400, "more_than_two_payment_methods_not_allowed").await;

    let cancel = app.cancel_profile(&account, &customer, profile, "c1").await;
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert!(cancel.bytes().await.unwrap().is_empty());
    assert_eq!(app.profile_status(&account, &customer, profile).await, "CANCELLED");
    let trail = app.profile_audit(&account, profile).await;
    assert_eq!(
        trail,
        [
            (None, "PENDING".into()),
            (Some("PENDING".into()), "READY".into()),
            (Some("READY".into()), "CANCELLED".into())
        ]
    );

    let list: Value = app
        .client
        .get(format!("{}/v1/customers/{customer}/payment-profiles", app.base))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["paging"]["total"], 1);
    assert_eq!(list["data"][0]["status"], "CANCELLED");
}

#[tokio::test]
async fn pending_to_cancelled_and_cancelled_is_final() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    assert_eq!(app.cancel_profile(&account, &customer, &profile, "c1").await.status(), StatusCode::NO_CONTENT);
    // Again, with a new key: 204, no change, no new audit record.
    assert_eq!(app.cancel_profile(&account, &customer, &profile, "c2").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.profile_audit(&account, &profile).await.len(), 2);
    let error = assert_error(app.add_method(&account, &customer, &profile).await, 400, "validation_error").await;
    assert!(error["message"].as_str().unwrap().contains("CANCELLED"));
    assert_eq!(app.profile_status(&account, &customer, &profile).await, "CANCELLED");
}

#[tokio::test]
async fn a_retried_cancel_replays_and_concurrent_cancels_audit_once() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    app.cancel_profile(&account, &customer, &profile, "same").await;
    let replay = app.cancel_profile(&account, &customer, &profile, "same").await;
    assert_eq!(replay.status(), StatusCode::NO_CONTENT);
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");

    let fresh = app.new_profile(&account, &customer).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, account, customer, fresh) = (app.clone(), account.clone(), customer.clone(), fresh.clone());
        tasks.push(tokio::spawn(async move {
            app.cancel_profile(&account, &customer, &fresh, &unique_key()).await.status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::NO_CONTENT);
    }
    let cancels = app.profile_audit(&account, &fresh).await.into_iter().filter(|(_, to)| to == "CANCELLED").count();
    assert_eq!(cancels, 1, "exactly one audit record");
}

#[tokio::test]
async fn header_missing_for_no_authorization_or_no_idempotency_key() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    let cancel = format!("{}/v1/customers/{customer}/payment-profiles/{profile}/cancel", app.base);
    let no_auth = app.client.post(&cancel).header("X-Idempotency-Key", "k").send().await.unwrap();
    assert_error(no_auth, 401, "header_missing").await;
    let no_key = app.client.post(&cancel).bearer_auth(&account.token).send().await.unwrap();
    assert_error(no_key, 401, "header_missing").await;
    let empty_key = app.client.post(&cancel).bearer_auth(&account.token).header("X-Idempotency-Key", "").send().await;
    assert_error(empty_key.unwrap(), 401, "header_missing").await;
    let get = app.client.get(format!("{}/v1/customers/{customer}/payment-profiles", app.base)).send().await.unwrap();
    assert_error(get, 401, "header_missing").await;
    assert_eq!(app.profile_status(&account, &customer, &profile).await, "PENDING");
}

#[tokio::test]
async fn an_unknown_token_is_401_unauthorized_access_token() {
    let app = TestApp::spawn().await;
    let stranger = Account { user_id: 1, token: "TEST-1-112410-00000000000000000000000000000000-1".into() };
    let customer = "123456789-abcdefghijklmno";
    let profile = app.create_profile(&stranger, customer, &json!({})).await;
    let error = assert_error(profile, 401, "Unauthorized Access Token").await;
    assert_eq!(error["error"], "Unauthorized Access Token");
}

#[tokio::test]
async fn a_key_over_64_characters_is_400_invalid_idempotency_key() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    let long = "k".repeat(65);
    assert_error(app.cancel_profile(&account, &customer, &profile, &long).await, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn malformed_or_unknown_ids_are_404_resource_not_found() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    let unknown_profile = "0123456789abcdef0123456789abcdef";
    let unknown_customer = "123456789-abcdefghijklmno";
    let cases = [
        ("nope", profile.as_str()),
        (customer.as_str(), "nope"),
        (customer.as_str(), &profile.to_uppercase()),
        (customer.as_str(), unknown_profile),
    ];
    for (c, p) in cases {
        assert_error(app.cancel_profile(&account, c, p, &unique_key()).await, 404, "resource_not_found").await;
        assert_error(app.get_profile(&account, c, p).await, 404, "resource_not_found").await;
        assert_error(app.add_method(&account, c, p).await, 404, "resource_not_found").await;
    }
    let list = |id: &str| {
        let url = format!("{}/v1/customers/{id}/payment-profiles", app.base);
        app.client.get(url).bearer_auth(&account.token).send()
    };
    assert_error(list(unknown_customer).await.unwrap(), 404, "resource_not_found").await;
    assert_error(list("12-x").await.unwrap(), 404, "resource_not_found").await;
    let orphan = app.create_profile(&account, unknown_customer, &json!({})).await;
    assert_error(orphan, 404, "resource_not_found").await;
}

#[tokio::test]
async fn another_accounts_profile_is_400_caller_id_mismatch() {
    let app = TestApp::spawn().await;
    let owner = app.test_account().await;
    let intruder = app.test_account().await;
    let customer = app.new_customer(&owner).await;
    let profile = app.new_profile(&owner, &customer).await;
    assert_error(app.cancel_profile(&intruder, &customer, &profile, &unique_key()).await, 400, "caller_id_mismatch")
        .await;
    assert_error(app.get_profile(&intruder, &customer, &profile).await, 400, "caller_id_mismatch").await;
    assert_error(app.add_method(&intruder, &customer, &profile).await, 400, "caller_id_mismatch").await;
    assert_error(app.create_profile(&intruder, &customer, &json!({})).await, 400, "caller_id_mismatch").await;
    assert_eq!(app.profile_status(&owner, &customer, &profile).await, "PENDING");
}

#[tokio::test]
async fn the_same_account_with_a_token_of_another_site_is_400_site_id_mismatch() {
    let app = TestApp::spawn().await;
    let brazil = app.test_account().await;
    let argentina = app.token_for(&brazil, SiteId::Mla).await;
    let customer = app.new_customer(&brazil).await;
    let profile = app.new_profile(&brazil, &customer).await;
    assert_error(app.cancel_profile(&argentina, &customer, &profile, &unique_key()).await, 400, "site_id_mismatch")
        .await;
    assert_error(app.get_profile(&argentina, &customer, &profile).await, 400, "site_id_mismatch").await;
    assert_eq!(app.profile_status(&brazil, &customer, &profile).await, "PENDING");
}

#[tokio::test]
async fn a_profile_reached_through_another_customer_is_400_customer_id_mismatch() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let ana = app.new_customer(&account).await;
    let bob = app.new_customer(&account).await;
    let anas = app.new_profile(&account, &ana).await;
    assert_error(app.cancel_profile(&account, &bob, &anas, &unique_key()).await, 400, "customer_id_mismatch").await;
    assert_error(app.get_profile(&account, &bob, &anas).await, 400, "customer_id_mismatch").await;
    assert_error(app.add_method(&account, &bob, &anas).await, 400, "customer_id_mismatch").await;
    assert_eq!(app.profile_status(&account, &ana, &anas).await, "PENDING");
}

#[tokio::test]
async fn the_same_key_for_another_request_is_409_and_malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    let other = app.new_profile(&account, &customer).await;
    assert_eq!(app.cancel_profile(&account, &customer, &profile, "k").await.status(), StatusCode::NO_CONTENT);
    assert_error(app.cancel_profile(&account, &customer, &other, "k").await, 409, "idempotency_key_already_used").await;
    let raw = app
        .post(&format!("/v1/customers/{customer}/payment-profiles"), &account.token, Some(&unique_key()))
        .body("{\"max_day_overdue\": ")
        .send()
        .await
        .unwrap();
    assert_error(raw, 400, "bad_request").await;
    for body in [
        json!({ "max_day_overdue": 11 }),
        json!({ "sequence_control": "SOMETIMES" }),
        json!({ "statement_descriptor": "x".repeat(23) }),
    ] {
        assert_error(app.create_profile(&account, &customer, &body).await, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn a_store_failure_is_500_internal_server_error() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    app.sql("ALTER TABLE audit_events RENAME TO audit_events_away");
    let response = app.cancel_profile(&account, &customer, &profile, "k").await;
    assert_error(response, 500, "internal_server_error").await;
    app.sql("ALTER TABLE audit_events_away RENAME TO audit_events");
    assert_eq!(app.profile_status(&account, &customer, &profile).await, "PENDING");
}

#[tokio::test]
async fn over_the_limit_is_429_too_many_requests_then_it_recovers() {
    let app = TestApp::spawn_with(Options { rate_limit_per_second: 3, ..Options::default() }).await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // the bucket fills again
    let list = format!("{}/v1/customers/{customer}/payment-profiles", app.base);
    let search = || app.client.get(&list).bearer_auth(&account.token).send();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = search().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        remaining.push(response.headers()["x-ratelimit-remaining"].to_str().unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(remaining, [2, 1, 0]);
    let limited = search().await.unwrap();
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_error(limited, 429, "Too Many Requests").await;
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(search().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn payment_methods_are_shown_as_the_profile_pages_show_them_and_can_be_removed() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let profile = app.new_profile(&account, &customer).await;
    let path = format!("/v1/customers/{customer}/payment-profiles/{profile}/payment-methods");
    let with_card = |card_id: Value| json!({ "id": "master", "type": "credit_card", "token": "9b2d63e00d66a8c721607214ceda233a", "card_id": card_id });
    let add = |body: Value| app.post(&path, &account.token, Some(&unique_key())).json(&body).send();
    let first: Value = add(with_card(json!(1234567890))).await.unwrap().json().await.unwrap();
    let method = &first["payment_methods"][0];
    assert_eq!(method["card_id"], 1234567890, "a number, as sent");
    assert_eq!((method["status"].clone(), method["default_method"].clone()), (json!("READY"), json!(true)));
    let method_id = method["payment_method_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&method_id).is_ok(), "{method_id}");

    // The same card again is a duplicate; a card id as a string of digits is the same card.
    assert_error(add(with_card(json!("1234567890"))).await.unwrap(), 400, "duplicate_payment_method_not_allowed").await;
    let second: Value = add(with_card(json!(987))).await.unwrap().json().await.unwrap();
    assert_eq!(second["payment_methods"][1]["default_method"], false);
    for bad in
        [json!({ "id": "visa", "type": "credit_card", "token": "short" }), json!({ "id": "visa", "type": "pix" })]
    {
        assert_error(add(bad).await.unwrap(), 400, "validation_error").await;
    }

    // Removing: 204; the last one gone makes a READY profile PENDING again.
    let remove = |id: &str| {
        let url = format!("{}{path}/{id}", app.base);
        app.client.delete(url).bearer_auth(&account.token).header("X-Idempotency-Key", unique_key()).send()
    };
    assert_eq!(remove(&method_id).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_error(remove(&method_id).await.unwrap(), 404, "resource_not_found").await;
    let left: Value = app.get_profile(&account, &customer, &profile).await.json().await.unwrap();
    assert_eq!(left["payment_methods"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (left["status"].clone(), left["payment_methods"][0]["default_method"].clone()),
        (json!("READY"), json!(true))
    );
    let last = left["payment_methods"][0]["payment_method_id"].as_str().unwrap().to_owned();
    assert_eq!(remove(&last).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.profile_status(&account, &customer, &profile).await, "PENDING");
    let trail = app.profile_audit(&account, &profile).await;
    assert_eq!(trail.last(), Some(&(Some("READY".to_owned()), "PENDING".to_owned())));
}

#[tokio::test]
async fn the_profile_list_is_keyed_data_fifty_by_default_and_filtered_by_status() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let (a, b, c) = (
        app.new_profile(&account, &customer).await,
        app.new_profile(&account, &customer).await,
        app.new_profile(&account, &customer).await,
    );
    app.add_method(&account, &customer, &b).await;
    app.cancel_profile(&account, &customer, &c, &unique_key()).await;
    let list = |query: &str| {
        let url = format!("{}/v1/customers/{customer}/payment-profiles{query}", app.base);
        app.client.get(url).bearer_auth(&account.token).send()
    };
    let all: Value = list("").await.unwrap().json().await.unwrap();
    assert_eq!(all["paging"], json!({ "limit": 50, "offset": 0, "total": 3 }));
    assert!(all.get("results").is_none(), "{all}");
    assert_eq!(all["data"].as_array().map(Vec::len), Some(3));
    for (status, id) in [("PENDING", &a), ("READY", &b), ("CANCELLED", &c)] {
        let page: Value = list(&format!("?status={status}")).await.unwrap().json().await.unwrap();
        assert_eq!((page["paging"]["total"].clone(), page["data"][0]["id"].clone()), (json!(1), json!(id)), "{status}");
    }
    assert_error(list("?status=ready").await.unwrap(), 400, "bad_request").await;
}

#[tokio::test]
async fn a_profile_created_with_payment_methods_is_ready_with_them() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let customer = app.new_customer(&account).await;
    let body = json!({ "description": "gym", "payment_methods": [card(), { "id": "master", "type": "debit_card", "card_id": 42 }] });
    let created = app.create_profile(&account, &customer, &body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["status"], "READY");
    assert_eq!(created["payment_methods"].as_array().map(Vec::len), Some(2));
    assert_eq!(created["payment_methods"][1]["card_id"], 42);
    let trail = app.profile_audit(&account, created["id"].as_str().unwrap()).await;
    assert_eq!(trail, [(None, "READY".to_owned())]);

    let three = json!({ "payment_methods": [card(), card(), card()] });
    assert_error(
        app.create_profile(&account, &customer, &three).await,
        400,
        "more_than_two_payment_methods_not_allowed",
    )
    .await;
    let two_tokens = json!({ "payment_methods": [card(), card()] });
    assert_error(app.create_profile(&account, &customer, &two_tokens).await, 400, "two_cards_with_token_not_allowed")
        .await;
    let bad = json!({ "payment_methods": [{ "id": "visa", "type": "credit_card", "token": "short" }] });
    assert_error(app.create_profile(&account, &customer, &bad).await, 400, "validation_error").await;
}
