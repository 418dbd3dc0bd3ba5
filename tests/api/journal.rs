//! The journal tests assert on: `GET /caja/v1/requests` (filters, redaction, the
//! long-poll `wait_ms`) and `wait_ms` on `GET /v1/notifications`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{action_body, Account, TestApp};
use crate::receiver::Receiver;
use crate::webhooks::quick;

async fn journal(app: &TestApp, account: &Account, query: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(format!("{}/caja/v1/requests?{query}", app.base))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_journal_finds_a_request_by_what_it_was() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let created = app.create_action(&account, "journal-1", &action_body("NEWLAND_N950__N950NCB000000060")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (status, found) =
        journal(&app, &account, "method=post&path=/terminals/v1/actions&idempotency_key=journal-1&wait_ms=5000").await;
    assert_eq!(status, StatusCode::OK);
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{found}");
    let entry = &results[0];
    assert_eq!((entry["status"].as_u64(), entry["family"].as_str()), (Some(201), Some("point")));
    assert_eq!(entry["replayed"], false);
    assert_eq!(entry["request"]["headers"]["authorization"], "Bearer [redacted]");
    assert!(entry["request"]["body"].as_str().unwrap().contains("NEWLAND_N950__N950NCB000000060"));
    assert!(entry["response"]["body"].as_str().unwrap().contains("\"status\":\"created\""));
    // Filters narrow: another status, another family, after this entry: none.
    for query in ["status=409&idempotency_key=journal-1", "family=orders", &format!("after_id={}", entry["id"])] {
        let (_, none) = journal(&app, &account, query).await;
        let mut results = none["results"].as_array().unwrap().clone();
        // The journal's own earlier calls are requests too (family caja).
        results.retain(|r| r["family"] != "caja");
        assert!(results.is_empty(), "{query}: {none}");
    }
}

#[tokio::test]
async fn a_waiting_query_answers_when_the_request_arrives() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let started = Instant::now();
    let (status, none) = journal(&app, &account, "idempotency_key=never&wait_ms=300").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["results"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");

    let later = {
        let (base, token, client) = (app.base.clone(), account.token.clone(), app.client.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            client
                .post(format!("{base}/terminals/v1/actions"))
                .bearer_auth(token)
                .header("x-idempotency-key", "arrives-later")
                .json(&action_body("NEWLAND_N950__N950NCB000000061"))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let started = Instant::now();
    let (_, found) = journal(&app, &account, "idempotency_key=arrives-later&wait_ms=10000").await;
    assert_eq!(later.await.unwrap(), StatusCode::CREATED);
    assert_eq!(found["results"].as_array().unwrap().len(), 1, "{found}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered when it came, not at the deadline");
}

#[tokio::test]
async fn a_test_waits_for_a_delivered_notification_without_sleeping() {
    let app = TestApp::spawn_with(quick()).await;
    let account = app.test_account().await;
    let receiver = Receiver::start().await;
    app.listen(&account, &receiver.url).await;
    let id = app.new_action(&account, "NEWLAND_N950__N950NCB000000062").await;
    assert_eq!(app.action_event(&account, &id, "at_terminal").await.status(), StatusCode::NO_CONTENT);
    let response = app
        .client
        .get(format!("{}/v1/notifications?resource_id={id}&status=delivered&wait_ms=10000", app.base))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    let delivered = page["results"].as_array().unwrap();
    assert!(!delivered.is_empty(), "{page}");
    assert_eq!(delivered[0]["status"], "delivered");
    assert!(!receiver.received().is_empty());
}

#[tokio::test]
async fn the_journal_refuses_live_accounts_and_unreadable_queries() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    let (status, _) = journal(&app, &live, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let account = app.test_account().await;
    for query in ["wait_ms=99999", "limit=0", "limit=abc", "status=abc", "family=nope", "after_id=x"] {
        let (status, body) = journal(&app, &account, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}
