//! The idempotency engine, through the Point family: replay, conflicts, concurrency,
//! retention and durability across restarts.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{action_body, assert_error, unique_key, Options, TestApp, TERMINAL};

fn count_rows(app: &TestApp, table: &str) -> i64 {
    app.count(table)
}

#[tokio::test]
async fn a_retried_create_replays_the_same_bytes_and_creates_nothing_new() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let first = app.create_action(&account, "create-1", &action_body(TERMINAL)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("x-idempotency-replayed").is_none());
    let first_bytes = first.bytes().await.unwrap();
    let again = app.create_action(&account, "create-1", &action_body(TERMINAL)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["x-idempotency-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.bytes().await.unwrap(), first_bytes, "byte for byte");
    assert_eq!(count_rows(&app, "resources WHERE kind = 'terminal_action'"), 1);
    assert_eq!(count_rows(&app, "audit_events"), 1);
}

#[tokio::test]
async fn a_retried_cancel_replays_200_and_audits_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.cancel_action(&account, &id, "cancel-1").await.status(), StatusCode::OK);
    let again = app.cancel_action(&account, &id, "cancel-1").await;
    assert_eq!(again.status(), StatusCode::OK, "a replay, not cannot_cancel_order");
    assert_eq!(again.headers()["x-idempotency-replayed"], "true");
    assert!(again.bytes().await.unwrap().is_empty());
    assert_eq!(app.action_audit(&account, &id).await.len(), 2);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_409_idempotency_key_already_used() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.create_action(&account, "shared", &action_body("T2")).await.status(), StatusCode::CREATED);
    // Another body, another path, another method-and-path: all refused.
    assert_error(app.create_action(&account, "shared", &action_body("T3")).await, 409, "idempotency_key_already_used")
        .await;
    assert_error(app.cancel_action(&account, &id, "shared").await, 409, "idempotency_key_already_used").await;
    assert_eq!(app.action_status(&account, &id).await, "created");
    assert_eq!(count_rows(&app, "resources WHERE kind = 'terminal_action'"), 2);
}

#[tokio::test]
async fn keys_are_scoped_to_the_account() {
    let app = TestApp::spawn().await;
    let alice = app.test_account().await;
    let bob = app.test_account().await;
    let a = app.create_action(&alice, "same-key", &action_body(TERMINAL)).await;
    let b = app.create_action(&bob, "same-key", &action_body("BOBS_TERMINAL")).await;
    assert_eq!(a.status(), StatusCode::CREATED);
    assert_eq!(b.status(), StatusCode::CREATED);
    assert!(b.headers().get("x-idempotency-replayed").is_none());
    assert_ne!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
}

#[tokio::test]
async fn four_hundreds_are_stored_and_replayed() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_error(app.cancel_action(&account, &unknown, "k404").await, 404, "order_not_found").await;
    let replay = app.cancel_action(&account, &unknown, "k404").await;
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");
    assert_error(replay, 404, "order_not_found").await;

    // A malformed path id is answered before the lookup, and remembered too.
    assert_error(app.cancel_action(&account, "nope", "kpath").await, 400, "invalid_path_param").await;
    let id = app.new_action(&account, TERMINAL).await;
    assert_error(app.cancel_action(&account, &id, "kpath").await, 409, "idempotency_key_already_used").await;
    // ...and wins over a key conflict, as the order of checks puts it first.
    assert_error(app.cancel_action(&account, "nope", "k404").await, 400, "invalid_path_param").await;
}

#[tokio::test]
async fn thirty_two_concurrent_cancels_with_distinct_keys_cancel_once() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, account, id) = (app.clone(), account.clone(), id.clone());
        tasks.push(tokio::spawn(async move { app.cancel_action(&account, &id, &unique_key()).await }));
    }
    let mut ok = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status() == StatusCode::OK {
            ok += 1;
        } else {
            assert_error(response, 409, "cannot_cancel_order").await;
        }
    }
    assert_eq!(ok, 1, "exactly one cancel wins");
    let cancels = app.action_audit(&account, &id).await.into_iter().filter(|(_, to, _)| to == "canceled").count();
    assert_eq!(cancels, 1);
}

#[tokio::test]
async fn thirty_two_concurrent_cancels_with_one_key_have_one_effect() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, account, id) = (app.clone(), account.clone(), id.clone());
        tasks.push(tokio::spawn(async move { app.cancel_action(&account, &id, "one-key").await }));
    }
    let mut fresh = 0;
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        if response.headers().get("x-idempotency-replayed").is_none() {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "one ran, the rest replayed");
    assert_eq!(app.action_audit(&account, &id).await.len(), 2, "created + one cancel");
}

#[tokio::test]
async fn concurrent_creates_with_one_key_create_one_action() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (app, account) = (app.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            let response = app.create_action(&account, "create-once", &action_body(TERMINAL)).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            response.bytes().await.unwrap()
        }));
    }
    let mut bodies = Vec::new();
    for task in tasks {
        bodies.push(task.await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every caller saw the same action");
    assert_eq!(count_rows(&app, "resources WHERE kind = 'terminal_action'"), 1);
}

#[tokio::test]
async fn a_restart_keeps_actions_and_idempotency_records() {
    let mut app = TestApp::spawn().await;
    let account = app.test_account().await;
    let created = app.create_action(&account, "before-restart", &action_body(TERMINAL)).await;
    let created_bytes = created.bytes().await.unwrap();
    let id = serde_json::from_slice::<serde_json::Value>(&created_bytes).unwrap()["id"].as_str().unwrap().to_owned();
    let other = app.new_action(&account, "T2").await;
    assert_eq!(app.cancel_action(&account, &other, "cancel-before").await.status(), StatusCode::OK);

    app.restart().await;

    assert_eq!(app.action_status(&account, &id).await, "created");
    assert_eq!(app.action_status(&account, &other).await, "canceled");
    let replay = app.create_action(&account, "before-restart", &action_body(TERMINAL)).await;
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");
    assert_eq!(replay.bytes().await.unwrap(), created_bytes);
    let replay = app.cancel_action(&account, &other, "cancel-before").await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");
    assert_error(app.cancel_action(&account, &id, "before-restart").await, 409, "idempotency_key_already_used").await;
}

#[tokio::test]
async fn a_key_may_be_reused_once_its_record_expired() {
    let app = TestApp::spawn_with(Options { idempotency_retention_ms: 300, ..Options::default() }).await;
    let account = app.test_account().await;
    let first = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.cancel_action(&account, &first, "reused").await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let second = app.create_action(&account, "reused", &json!(action_body("T2"))).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert!(second.headers().get("x-idempotency-replayed").is_none());
}
