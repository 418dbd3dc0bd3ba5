//! `X-Caja-Fault` (caja's faults on demand, one request at a time): each outcome as
//! the client sees it, and what the store holds afterwards; above all that a
//! "commit but lose the answer" write replays on retry and never acts twice.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{action_body, assert_error, Account, TestApp};

const TERMINAL: &str = "NEWLAND_N950__N950NCB000000050";

async fn faulted_create(
    app: &TestApp,
    account: &Account,
    key: &str,
    fault: &str,
) -> reqwest::Result<reqwest::Response> {
    app.post("/terminals/v1/actions", &account.token, Some(key))
        .header("x-caja-fault", fault)
        .json(&action_body(TERMINAL))
        .send()
        .await
}

/// The account's terminal actions, read back from the audit trail's creations.
async fn created_actions(app: &TestApp, account: &Account) -> usize {
    let user = caja::domain::UserId::new(account.user_id).unwrap();
    let filter =
        caja::store::AuditFilter { resource_type: Some(caja::domain::ResourceType::TerminalAction), resource_id: None };
    let page = app.store().audit_page(user, filter, 100, 0).await.unwrap();
    page.items.iter().filter(|r| r.event.from_status.is_none()).count()
}

#[tokio::test]
async fn a_lost_answer_committed_once_and_its_retry_replays_it() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let lost = faulted_create(&app, &account, "lost-1", "lose-answer").await;
    let err = lost.expect_err("the answer is lost: the connection closes without one");
    assert!(err.is_request() || err.is_connect() || err.is_body(), "{err:?}");
    assert_eq!(created_actions(&app, &account).await, 1, "the write committed");
    let retry = app.create_action(&account, "lost-1", &action_body(TERMINAL)).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["x-idempotency-replayed"], "true");
    assert_eq!(created_actions(&app, &account).await, 1, "the retry acted no second time");
    // The request log says what happened (the console shows it).
    let user = caja::domain::UserId::new(account.user_id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = app.store().request_log(user, caja::store::RequestLogFilter::default(), 10).await.unwrap();
        if let Some(entry) = log.iter().find(|e| e.request_headers.contains("lose-answer")) {
            assert_eq!(entry.status, 201);
            assert!(entry.response_headers.contains("x-caja-fault-outcome"), "{}", entry.response_headers);
            break;
        }
        assert!(Instant::now() < deadline, "the faulted request never reached the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn reset_and_status_faults_run_nothing() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let reset = faulted_create(&app, &account, "reset-1", "reset").await;
    assert!(reset.is_err(), "no answer");
    // The family's own 500, with an empty cause (as Mercado Pago's sandbox fails).
    let failed = faulted_create(&app, &account, "reset-1", "status=500").await.unwrap();
    let body = assert_error(failed, 500, "500").await;
    assert_eq!(body["cause"], serde_json::json!([]));
    let busy = faulted_create(&app, &account, "reset-1", "status=503").await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "1");
    let limited = faulted_create(&app, &account, "reset-1", "status=429").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(created_actions(&app, &account).await, 0);
    // The key is still free: the first real attempt creates.
    let created = app.create_action(&account, "reset-1", &action_body(TERMINAL)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(created.headers().get("x-idempotency-replayed").is_none());
}

#[tokio::test]
async fn latency_delays_and_then_answers() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let started = Instant::now();
    let slow = faulted_create(&app, &account, "slow-1", "latency=300").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_live_account_or_an_unreadable_fault_is_refused() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    let refused = faulted_create(&app, &live, "live-1", "status=500").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let account = app.test_account().await;
    let bad = faulted_create(&app, &account, "bad-1", "explode").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert!(body.to_string().contains("X-Caja-Fault"), "{body}");
    assert_eq!(created_actions(&app, &live).await + created_actions(&app, &account).await, 0);
}
