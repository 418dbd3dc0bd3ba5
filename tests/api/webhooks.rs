//! Signed webhook notifications (an outbox and a worker), and reading notifications
//! and the audit trail back through the API.

use std::time::{Duration, Instant};

use caja::provision::{self, AccountChange};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{action_body, assert_error, unique_key, Account, Options, TestApp, TERMINAL};
use crate::receiver::{Received, Receiver};

pub fn quick() -> Options {
    Options { worker_tick_ms: 20, webhook_retry_base_ms: 100, webhook_attempts: 4, ..Options::default() }
}

impl TestApp {
    /// Point the account's notifications at `url`; returns the webhook secret.
    pub async fn listen(&self, account: &Account, url: &str) -> String {
        // Every account has a secret from its creation; rotating it shows a fresh one.
        let change =
            AccountChange { notification_url: Some(url.to_owned()), rotate_secret: true, ..AccountChange::default() };
        let changed = provision::change_account(self.store().as_ref(), account.user_id, change).await.unwrap();
        changed.webhook_secret.expect("a new secret, shown once")
    }

    async fn get_json(&self, account: &Account, path: &str) -> (StatusCode, Value) {
        let response =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(&account.token).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post_json(&self, account: &Account, path: &str, body: Value) -> Value {
        let response = self.post(path, &account.token, Some(&unique_key())).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }
}

/// The notifications about one resource (its id is in every one's `data.id` query).
fn about<'a>(received: &'a [Received], resource_id: &str) -> Vec<&'a Received> {
    received.iter().filter(|r| r.query.get("data.id").is_some_and(|id| id == resource_id)).collect()
}

/// The announced status: in the generic envelope's `data`, or, for a payout
/// transaction, in the transaction itself.
fn status_of(n: &Received) -> &serde_json::Value {
    if n.body.get("data").is_some() {
        &n.body["data"]["status"]
    } else {
        &n.body["status"]
    }
}

#[tokio::test]
async fn every_familys_cancel_sends_exactly_one_signed_notification() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    let account = app.test_account().await;
    let secret = app.listen(&account, &receiver.url).await;

    let action = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.cancel_action(&account, &action, &unique_key()).await.status(), StatusCode::OK);

    let payout = app
        .post_json(&account, "/v1/payouts", json!({ "transactions": [{ "type": "account", "account": {}, "amount": { "currency": "BRL", "value": 5 }, "external_reference": "tx-9" }] }))
        .await;
    let (payout_id, transaction) = (payout["id"].as_str().unwrap(), payout["transactions"][0]["id"].as_str().unwrap());
    let cancel = format!("{}/v1/payouts/{payout_id}/transactions/{transaction}/cancel", app.base);
    let response =
        app.client.put(cancel).bearer_auth(&account.token).header("X-Idempotency-Key", unique_key()).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);

    let customer = app.post_json(&account, "/v1/customers", json!({ "email": "w@example.com" })).await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let profile = app.post_json(&account, &format!("/v1/customers/{customer}/payment-profiles"), json!({})).await;
    let profile = profile["id"].as_str().unwrap().to_owned();
    let response = app
        .post(
            &format!("/v1/customers/{customer}/payment-profiles/{profile}/cancel"),
            &account.token,
            Some(&unique_key()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let cancels = [
        (action.as_str(), "terminal_action", "canceled"),
        (transaction, "payout_transaction", "canceled"),
        (profile.as_str(), "payment_profile", "CANCELLED"),
    ];
    let received = receiver
        .wait_for("every cancel", |r| {
            cancels.iter().all(|(id, _, status)| about(r, id).iter().any(|n| status_of(n) == *status))
        })
        .await;
    for (id, family, status) in cancels {
        let mine = about(&received, id);
        let cancel: Vec<_> = mine.iter().filter(|n| status_of(n) == status).collect();
        assert_eq!(cancel.len(), 1, "exactly one notification of {family} {id}'s cancel");
        let n = cancel[0];
        assert!(n.signed_with(&secret), "signature of {family}");
        assert!(!n.signed_with("another secret"));
        assert_eq!(n.path, "/hook");
        assert_eq!(n.query["data.id"], id);
        assert_eq!(n.query["type"], family);
        assert!(!n.request_id.is_empty());
        if family == "payout_transaction" {
            // The payouts notifications page's body: the transaction with its payout.
            assert_eq!(n.body["id"], id);
            assert_eq!(n.body["payout"]["id"], payout_id);
            assert_eq!(n.body["payout"]["notification_url"], serde_json::Value::Null);
            assert!(n.body["created_date"].as_str().unwrap().ends_with('Z'));
            assert!(n.body["last_updated_date"].is_string());
            continue;
        }
        assert_eq!(n.body["action"], format!("{family}.{status}"));
        assert_eq!(n.body["type"], family);
        assert_eq!(n.body["api_version"], "v1");
        assert_eq!(n.body["live_mode"], false);
        assert_eq!(n.body["user_id"], account.user_id);
        assert!(n.body["id"].as_i64().is_some());
        assert!(n.body["date_created"].as_str().unwrap().ends_with('Z'));
        assert!(n.body["data"].as_object().unwrap().contains_key("external_reference"));
    }
    assert_eq!(about(&received, &action)[0].body["data"]["external_reference"], "order-1");
    assert_eq!(about(&received, transaction)[0].body["external_reference"], "tx-9");
}

#[tokio::test]
async fn a_payouts_own_notification_url_takes_precedence() {
    let app = TestApp::spawn_with(quick()).await;
    let account_receiver = Receiver::start().await;
    let payout_receiver = Receiver::start().await;
    let account = app.test_account().await;
    app.listen(&account, &account_receiver.url).await;
    let body = json!({
        "config": { "notification_url": payout_receiver.url },
        "transactions": [{ "type": "account", "account": {}, "amount": { "currency": "BRL", "value": 5 } }],
    });
    let payout = app.post_json(&account, "/v1/payouts", body).await;
    let transaction = payout["transactions"][0]["id"].as_str().unwrap().to_owned();
    let got = payout_receiver.wait_for("the payout's notification", |r| !about(r, &transaction).is_empty()).await;
    let body = &about(&got, &transaction)[0].body;
    assert_eq!((body["status"].clone(), body["payout"]["id"].clone()), (json!("pending"), payout["id"].clone()));
    assert_eq!(body["payout"]["notification_url"], payout_receiver.url.as_str());
    app.new_action(&account, TERMINAL).await;
    account_receiver.wait_for("the action's notification", |r| !r.is_empty()).await;
    assert!(about(&account_receiver.received(), &transaction).is_empty(), "not sent to the account's URL");
}

/// Every account has a webhook secret from its creation: a payout's own URL gets
/// signed notifications though the account never set a URL of its own.
#[tokio::test]
async fn notifications_are_signed_with_the_secret_the_account_was_made_with() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    let spec = provision::AccountSpec { site_id: caja::domain::SiteId::Mlb, live_mode: false, payouts_enabled: true };
    let issued =
        provision::create_account(app.store().as_ref(), spec, caja::domain::Timestamp::from_millis(0)).await.unwrap();
    let secret = issued.webhook_secret.clone().expect("made with the account");
    let account = Account { user_id: issued.user_id, token: issued.access_token };
    let body = json!({
        "config": { "notification_url": receiver.url },
        "transactions": [{ "type": "account", "account": {}, "amount": { "currency": "BRL", "value": 5 } }],
    });
    let payout = app.post_json(&account, "/v1/payouts", body).await;
    let transaction = payout["transactions"][0]["id"].as_str().unwrap().to_owned();
    let got = receiver.wait_for("the payout's notification", |r| !about(r, &transaction).is_empty()).await;
    assert!(about(&got, &transaction)[0].signed_with(&secret), "signed with the account's secret");
}

#[tokio::test]
async fn a_receiver_failing_then_answering_gets_it_on_retry_with_every_attempt_recorded() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500]);
    let account = app.test_account().await;
    app.listen(&account, &receiver.url).await;
    let action = app.new_action(&account, TERMINAL).await;
    let received = receiver.wait_for("a retry", |r| r.len() >= 2).await;
    assert_eq!(received[0].body["id"], received[1].body["id"], "the same notification, retried");
    assert_ne!(received[0].request_id, received[1].request_id);
    let (status, list) = app.get_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
    assert_eq!(status, StatusCode::OK);
    let n = &list["results"][0];
    for _ in 0..100 {
        let (_, list) = app.get_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
        if list["results"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, list) = app.get_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
    let n2 = &list["results"][0];
    assert_eq!(n2["id"], n["id"]);
    assert_eq!(n2["status"], "delivered");
    let attempts = n2["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
    assert_eq!(attempts[1]["status_code"], 200);
    assert!(attempts[1]["latency_ms"].as_i64().unwrap() >= 0);
    assert_eq!(n2["action"], "terminal_action.created");
}

#[tokio::test]
async fn after_the_last_attempt_it_is_failed_until_retried_through_the_api() {
    let app = TestApp::spawn_with(Options { webhook_attempts: 2, ..quick() }).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503, 503]);
    let account = app.test_account().await;
    app.listen(&account, &receiver.url).await;
    let action = app.new_action(&account, TERMINAL).await;
    let mut failed = Value::Null;
    for _ in 0..200 {
        let (_, list) = app.get_json(&account, &format!("/v1/notifications?resource_id={action}&status=failed")).await;
        if list["paging"]["total"] == 1 {
            failed = list["results"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(failed["attempts"].as_array().map(Vec::len), Some(2), "{failed}");
    let id = failed["id"].as_i64().unwrap();
    let retried =
        app.client.post(format!("{}/v1/notifications/{id}/retry", app.base)).bearer_auth(&account.token).send().await;
    let retried = retried.unwrap();
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(retried.json::<Value>().await.unwrap()["status"], "pending");
    receiver.wait_for("the retried delivery", |r| r.len() >= 3).await;
}

#[tokio::test]
async fn a_receiver_down_across_a_caja_restart_gets_it_afterwards() {
    let mut app = TestApp::spawn_with(quick()).await;
    // Reserve a port, then leave it closed: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let account = app.test_account().await;
    app.listen(&account, &format!("http://127.0.0.1:{port}/hook")).await;
    let action = app.new_action(&account, TERMINAL).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.restart().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let receiver = Receiver::start_on(listener).await;
    receiver.wait_for("the notification, after the restart", |r| !about(r, &action).is_empty()).await;
    let (_, list) = app.get_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
    let attempts = list["results"][0]["attempts"].as_array().unwrap().clone();
    assert!(attempts.len() >= 2, "failed attempts while down are recorded: {attempts:?}");
    assert!(attempts[0]["status_code"].is_null() && attempts[0]["error"].is_string());
}

#[tokio::test]
async fn a_slow_receiver_does_not_slow_the_api() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_secs(20));
    let account = app.test_account().await;
    app.listen(&account, &receiver.url).await;
    app.new_action(&account, "SLOW_0").await;
    receiver.wait_for("a first delivery, now hanging", |r| !r.is_empty()).await;
    let mut slowest = Duration::ZERO;
    for i in 1..20 {
        let started = Instant::now();
        let response = app.create_action(&account, &unique_key(), &action_body(&format!("SLOW_{i}"))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_secs(2), "the API waited on the receiver: {slowest:?}");
}

#[tokio::test]
async fn the_audit_trail_reads_back_newest_first_with_the_cancel_note() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let payout = app
        .post_json(&account, "/v1/payouts", json!({ "transactions": [{ "type": "account", "account": {}, "amount": { "currency": "BRL", "value": 5 } }] }))
        .await;
    let (payout_id, transaction) = (payout["id"].as_str().unwrap(), payout["transactions"][0]["id"].as_str().unwrap());
    let response = app
        .client
        .put(format!("{}/v1/payouts/{payout_id}/transactions/{transaction}/cancel", app.base))
        .bearer_auth(&account.token)
        .header("X-Idempotency-Key", "audited-cancel")
        .header("X-Request-Id", "req-audit-1")
        .json(&json!({ "comments": "duplicate", "deleted_by": "ops@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.new_action(&account, TERMINAL).await;

    let (status, trail) = app.get_json(&account, &format!("/v1/audit-events?resource_id={transaction}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trail["paging"]["total"], 2);
    let newest = &trail["results"][0];
    assert_eq!(newest["resource_type"], "payout_transaction");
    assert_eq!((newest["from_status"].as_str(), newest["to_status"].as_str()), (Some("pending"), Some("canceled")));
    assert_eq!(newest["deleted_by"], "ops@example.com");
    assert_eq!(newest["comments"], "duplicate");
    assert_eq!(newest["request_id"], "req-audit-1");
    assert_eq!(newest["idempotency_key"], "audited-cancel");
    assert_eq!(newest["user_id"], account.user_id);
    assert_eq!(trail["results"][1]["from_status"], Value::Null);

    let (_, everything) = app.get_json(&account, "/v1/audit-events?limit=1").await;
    assert_eq!(everything["paging"], json!({ "limit": 1, "offset": 0, "total": 3 }));
    assert_eq!(everything["results"][0]["resource_type"], "terminal_action", "newest first");
    let (_, actions) = app.get_json(&account, "/v1/audit-events?resource_type=terminal_action").await;
    assert_eq!(actions["paging"]["total"], 1);
    let (status, bad) = app.get_json(&account, "/v1/audit-events?resource_type=nope").await;
    assert_eq!((status, bad["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
}

#[tokio::test]
async fn notifications_and_audit_records_of_another_account_are_invisible() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    let owner = app.test_account().await;
    let stranger = app.test_account().await;
    app.listen(&owner, &receiver.url).await;
    let action = app.new_action(&owner, TERMINAL).await;
    receiver.wait_for("the owner's notification", |r| !r.is_empty()).await;
    let (_, mine) = app.get_json(&owner, "/v1/notifications").await;
    assert_eq!(mine["paging"]["total"], 1);
    let id = mine["results"][0]["id"].as_i64().unwrap();

    for path in [
        "/v1/notifications".to_owned(),
        format!("/v1/notifications?resource_id={action}"),
        "/v1/audit-events".to_owned(),
    ] {
        let (status, theirs) = app.get_json(&stranger, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(theirs["paging"]["total"], 0, "{path}");
    }
    let retry =
        app.client.post(format!("{}/v1/notifications/{id}/retry", app.base)).bearer_auth(&stranger.token).send().await;
    assert_error(retry.unwrap(), 404, "not_found").await;
    let anonymous = app.client.get(format!("{}/v1/audit-events", app.base)).send().await.unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
}
