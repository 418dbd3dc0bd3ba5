//! PostgreSQL restarted under load. It restarts the machine's PostgreSQL server, so it
//! is ignored by default; `.ci/run` runs it on its own, after the rest:
//! `CAJA_TEST_STORE=postgres cargo test --test api -- --ignored --test-threads 1`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::helpers::{action_body, on_postgres, Account, TestApp};

const CLIENTS: usize = 8;
const LOAD_SECS: u64 = 8;
/// The Point family's two documented 500s: the write failed (`idempotency_validation_failed`),
/// or something before it did, such as the token lookup (`500`).
const POINT_500S: [&str; 2] = ["idempotency_validation_failed", "500"];

/// `pg_ctlcluster … main ACTION` (start, stop, restart) on the machine's cluster.
fn postgres(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .next()
        .expect("a PostgreSQL version");
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "PostgreSQL {action}");
}

async fn create(app: &TestApp, account: &Account, key: &str) -> Result<(StatusCode, Value), reqwest::Error> {
    let response = app
        .client
        .post(format!("{}/terminals/v1/actions", app.base))
        .bearer_auth(&account.token)
        .header("X-Idempotency-Key", key)
        .timeout(Duration::from_secs(20))
        .json(&action_body(key))
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the PostgreSQL server; .ci/run runs it on its own"]
async fn a_postgres_restart_under_load_loses_no_acknowledged_write() {
    assert!(on_postgres(), "run with CAJA_TEST_STORE=postgres");
    let app = Arc::new(TestApp::spawn().await);
    let account = app.test_account().await;
    // key -> the action id it was acknowledged with; failures are retried at the end.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECS);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (app, account, acknowledged, failed) = (app.clone(), account.clone(), acknowledged.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let key = format!("T{c}_{n}");
                n += 1;
                match create(&app, &account, &key).await {
                    Ok((StatusCode::CREATED, body)) => {
                        acknowledged.lock().await.insert(key, body["id"].as_str().unwrap().to_owned());
                    }
                    Ok((status, body)) => {
                        // Down: the family's 500, in the contract's format, and nothing half-written.
                        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
                        assert!(POINT_500S.contains(&body["error"].as_str().unwrap_or_default()), "{body}");
                        failed.lock().await.push(key);
                    }
                    Err(_) => failed.lock().await.push(key),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(|| postgres("restart")).await.unwrap();
    for client in clients {
        client.await.unwrap();
    }

    let acknowledged = acknowledged.lock().await.clone();
    let failed = failed.lock().await.clone();
    println!(
        "restart under load: {} acknowledged, {} failed while the database was away",
        acknowledged.len(),
        failed.len()
    );
    assert!(acknowledged.len() > CLIENTS, "the server served again after the restart");
    // Every acknowledged write is there.
    for (key, id) in &acknowledged {
        let response = app.get_action(&account, id).await;
        assert_eq!(response.status(), StatusCode::OK, "acknowledged {key} ({id}) is missing");
    }
    // A failed request retried with its key either runs now or replays a commit whose
    // answer was lost; never a second action.
    for key in &failed {
        let (status, _) = create(&app, &account, key).await.expect("the server answers again");
        assert_eq!(status, StatusCode::CREATED, "retry of {key}");
    }
    assert_eq!(
        app.count("resources WHERE kind = 'terminal_action'"),
        (acknowledged.len() + failed.len()) as i64,
        "one action per key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the PostgreSQL server; .ci/run runs it on its own"]
async fn while_postgres_is_down_requests_fail_fast_and_service_resumes_by_itself() {
    assert!(on_postgres(), "run with CAJA_TEST_STORE=postgres");
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, "BEFORE_OUTAGE").await;
    tokio::task::spawn_blocking(|| postgres("stop")).await.unwrap();
    let started = Instant::now();
    let outcome = create(&app, &account, "DURING_OUTAGE").await;
    let waited = started.elapsed();
    tokio::task::spawn_blocking(|| postgres("start")).await.unwrap();
    let (status, body) = outcome.expect("an answer, not a hang");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(POINT_500S.contains(&body["error"].as_str().unwrap_or_default()), "{body}");
    assert!(waited < Duration::from_secs(10), "failed fast: {waited:?}");
    // Back by itself: the same key now creates the action, and older data is intact.
    let mut resumed = None;
    for _ in 0..60 {
        if let Ok((StatusCode::CREATED, body)) = create(&app, &account, "DURING_OUTAGE").await {
            resumed = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(resumed.is_some(), "the server reconnected by itself");
    assert_eq!(app.action_status(&account, &id).await, "created");
    assert_eq!(app.count("resources WHERE kind = 'terminal_action'"), 2);
}
