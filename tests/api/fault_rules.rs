//! Fault rules (#17): `POST /caja/v1/faults` makes the next matching requests of a
//! test account misbehave, one step each, exactly once across processes; rules are
//! listed, deleted and expire; each request a rule took is marked in the journal.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{action_body, assert_error, join_all, unique_key, Account, TestApp};
use crate::point_orders::{point_body, VIRTUAL_TERMINAL};

async fn rule(app: &TestApp, account: &Account, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/caja/v1/faults", app.base))
        .bearer_auth(&account.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn new_rule(app: &TestApp, account: &Account, body: Value) -> Value {
    let response = rule(app, account, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn rules(app: &TestApp, account: &Account) -> Vec<Value> {
    app.ok_json(account, "/caja/v1/faults").await["results"].as_array().unwrap().clone()
}

async fn create_order(base: &str, app: &TestApp, account: &Account) -> StatusCode {
    app.client
        .post(format!("{base}/v1/orders"))
        .bearer_auth(&account.token)
        .header("x-idempotency-key", unique_key())
        .json(&point_body(VIRTUAL_TERMINAL))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_next_two_order_creates_answer_500_and_the_third_runs() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let made = new_rule(
        &app,
        &account,
        json!({ "method": "post", "path": "/v1/orders", "sequence": ["status=500", "status=500", "pass"] }),
    )
    .await;
    assert_eq!(
        (made["status"].as_str(), made["method"].as_str(), made["taken"].as_u64()),
        (Some("active"), Some("POST"), Some(0))
    );
    let id = made["id"].as_str().unwrap();

    // Another route is untouched by the rule.
    let read = app.orders(Method::GET, "/v1/orders/ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", &account, None).await;
    assert_eq!(read.status(), StatusCode::NOT_FOUND);
    let first = app.orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL))).await;
    let body: Value = {
        assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
        first.json().await.unwrap()
    };
    assert_eq!(body["errors"][0]["code"], "internal_error", "the Orders envelope: {body}");
    assert_eq!(create_order(&app.base, &app, &account).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(create_order(&app.base, &app, &account).await, StatusCode::CREATED, "the third runs");
    assert!(rules(&app, &account).await.is_empty(), "a used rule is no longer listed");
    // A fourth order would queue on the same terminal: 409, the rule is not in the way.
    assert_eq!(create_order(&app.base, &app, &account).await, StatusCode::CONFLICT);

    // Each request the rule took is marked in the journal.
    let journal = app.ok_json(&account, "/caja/v1/requests?path=/v1/orders&method=POST&wait_ms=5000").await;
    let mut marks: Vec<String> = journal["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["request"]["headers"]["x-caja-fault-rule"].as_str().map(str::to_owned))
        .collect();
    marks.sort();
    let want: Vec<String> = (1..=3).map(|n| format!("{id}; step={n}/3")).collect();
    assert_eq!(marks, want, "{journal}");
}

/// "Commit but lose the answer", for one idempotency key: the client's retry under
/// the same key is replayed and acts once.
#[tokio::test]
async fn a_lost_answer_rule_proves_a_retry_is_replayed() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    new_rule(&app, &account, json!({ "idempotency_key": "pay-once", "fault": "lose-answer" })).await;
    let body = action_body("NEWLAND_N950__N950NCB000000081");
    let lost = app.post("/terminals/v1/actions", &account.token, Some("pay-once")).json(&body).send().await;
    assert!(lost.is_err(), "the connection closes without an answer: {lost:?}");
    let retried = app.create_action(&account, "pay-once", &body).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(retried.headers()["x-idempotency-replayed"], "true");
    let listed = app.ok_json(&account, "/terminals/v1/list").await;
    assert!(listed.to_string().contains("NEWLAND_N950__N950NCB000000081"), "{listed}");
    assert_eq!(app.count("resources WHERE kind = 'terminal_action'"), 1, "acted once");
}

/// Five faults for twenty concurrent requests, some of them through a second
/// process on the same store: exactly five are faulted.
#[tokio::test]
async fn each_step_is_taken_once_across_processes() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    let (second, _store) = crate::helpers::start(&app.db.url, crate::helpers::Options::default()).await;
    let second_base = format!("http://{}", second.addr());
    new_rule(
        &app,
        &account,
        json!({ "method": "GET", "path": "/v1/customers/search", "fault": "status=503", "count": 5 }),
    )
    .await;
    let requests = (0..20).map(|i| {
        let (app, account) = (app.clone(), account.clone());
        let base = if i % 2 == 0 { app.base.clone() } else { second_base.clone() };
        async move {
            let url = format!("{base}/v1/customers/search");
            app.client.get(url).bearer_auth(&account.token).send().await.unwrap().status()
        }
    });
    let statuses = join_all(requests.collect()).await;
    let faulted = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
    assert_eq!(faulted, 5, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::SERVICE_UNAVAILABLE || *s == StatusCode::OK), "{statuses:?}");
    second.stop().await.unwrap();
}

#[tokio::test]
async fn a_rule_is_listed_deleted_and_expires() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let kept =
        new_rule(&app, &account, json!({ "path": "/v1/customers/search", "fault": "status=429", "count": 3 })).await;
    let short =
        new_rule(&app, &account, json!({ "path": "/v1/payments/**", "fault": "reset", "expires_in": "PT1M" })).await;
    let listed: Vec<Value> = rules(&app, &account).await;
    assert_eq!(
        listed.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        vec![kept["id"].clone(), short["id"].clone()]
    );

    let search = || app.client.get(format!("{}/v1/customers/search", app.base)).bearer_auth(&account.token).send();
    let limited = search().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    let deleted = app
        .client
        .delete(format!("{}/caja/v1/faults/{}", app.base, kept["id"].as_str().unwrap()))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(deleted.json::<Value>().await.unwrap()["status"], "deleted");
    assert_eq!(search().await.unwrap().status(), StatusCode::OK, "a deleted rule matches nothing");
    let again = app
        .client
        .delete(format!("{}/caja/v1/faults/{}", app.base, kept["id"].as_str().unwrap()))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_error(again, 404, "not_found").await;

    // A minute later (the account's clock moved), the other rule has expired.
    let moved = app
        .client
        .post(format!("{}/caja/v1/clock/advance", app.base))
        .bearer_auth(&account.token)
        .json(&json!({ "seconds": 61 }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let listed = rules(&app, &account).await;
    assert_eq!((listed.len(), listed[0]["status"].as_str()), (1, Some("expired")));
    let payment = app.client.get(format!("{}/v1/payments/1", app.base)).bearer_auth(&account.token).send().await;
    assert_eq!(payment.unwrap().status(), StatusCode::NOT_FOUND, "an expired rule resets nothing");
}

/// A rule matching everything still leaves caja's own endpoints alone (so it can be
/// listed and deleted), and another account's requests.
#[tokio::test]
async fn a_rule_touches_only_its_accounts_api_requests() {
    let app = TestApp::spawn().await;
    let (account, other) = (app.test_account().await, app.test_account().await);
    new_rule(&app, &account, json!({ "fault": "status=500", "count": 100 })).await;
    let search =
        |who: &Account| app.client.get(format!("{}/v1/customers/search", app.base)).bearer_auth(&who.token).send();
    assert_eq!(search(&account).await.unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(search(&other).await.unwrap().status(), StatusCode::OK);
    assert_eq!(rules(&app, &account).await.len(), 1, "caja's own endpoints are never faulted");
}

#[tokio::test]
async fn a_bad_rule_is_400_and_live_accounts_have_none() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for body in [
        json!({}),
        json!({ "fault": "explode" }),
        json!({ "fault": "status=404" }),
        json!({ "fault": "reset", "count": 0 }),
        json!({ "fault": "reset", "count": 101 }),
        json!({ "fault": "reset", "sequence": ["pass"] }),
        json!({ "sequence": [] }),
        json!({ "sequence": ["pass", "status=418"] }),
        json!({ "fault": "reset", "family": "caja" }),
        json!({ "fault": "reset", "path": "v1/orders" }),
        json!({ "fault": "reset", "expires_in": "soon" }),
        json!({ "fault": "reset", "expires_in": "P8D" }),
        json!({ "fault": "reset", "colour": "red" }),
        json!({ "fault": format!("latency=1{}", ",".repeat(70)) }),
        json!(["reset"]),
    ] {
        assert_error(rule(&app, &account, body.clone()).await, 400, "bad_request").await;
    }
    assert!(rules(&app, &account).await.is_empty());
    let live = app.account(true).await;
    assert_error(rule(&app, &live, json!({ "fault": "reset" })).await, 403, "forbidden").await;
    let listed = app.client.get(format!("{}/caja/v1/faults", app.base)).bearer_auth(&live.token).send().await;
    assert_error(listed.unwrap(), 403, "forbidden").await;
    let anonymous = app.client.post(format!("{}/caja/v1/faults", app.base)).json(&json!({ "fault": "reset" }));
    assert_error(anonymous.send().await.unwrap(), 401, "unauthorized").await;
    let missing = app.client.delete(format!("{}/caja/v1/faults/fr_nope", app.base)).bearer_auth(&account.token);
    assert_error(missing.send().await.unwrap(), 404, "not_found").await;
}

/// Rules whose time ran out leave room for new ones: the limit counts live rules.
#[tokio::test]
async fn expired_rules_do_not_count_against_the_limit() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for i in 0..50 {
        new_rule(&app, &account, json!({ "path": format!("/nowhere/{i}"), "fault": "reset", "expires_in": "PT1M" }))
            .await;
    }
    assert_error(rule(&app, &account, json!({ "fault": "reset" })).await, 400, "bad_request").await;
    let moved = app
        .client
        .post(format!("{}/caja/v1/clock/advance", app.base))
        .bearer_auth(&account.token)
        .json(&json!({ "seconds": 120 }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let fresh = new_rule(&app, &account, json!({ "path": "/v1/customers/search", "fault": "status=503" })).await;
    let listed = rules(&app, &account).await;
    assert_eq!(listed.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), vec![fresh["id"].clone()]);
    let search = app.client.get(format!("{}/v1/customers/search", app.base)).bearer_auth(&account.token).send().await;
    assert_eq!(search.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE, "the new rule matches");
}
