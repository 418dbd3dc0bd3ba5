//! Several `caja serve` processes on one database: exactly-once across processes.
//! Runs on SQLite (processes share the file) and, in the PostgreSQL half, on one
//! PostgreSQL database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use reqwest::StatusCode;

use crate::helpers::{action_body, assert_error, unique_key, Account, TestApp};
use crate::receiver::Receiver;

const PROCESSES: usize = 3;
const CLIENTS: usize = 64;

/// Child servers, killed when dropped.
struct Cluster {
    children: Vec<Child>,
    bases: Vec<String>,
}

impl Cluster {
    fn start(url: &str) -> Cluster {
        let mut children = Vec::new();
        let mut bases = Vec::new();
        for _ in 0..PROCESSES {
            let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
                .args(["serve", "--listen", "127.0.0.1:0", "--database", url, "--rate-limit", "100000"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("caja serve starts");
            let stdout = child.stdout.take().expect("stdout");
            let line =
                BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.starts_with("caja listening on "));
            let line = line.expect("caja serve prints its address");
            let addr = line.split_whitespace().nth(3).expect("address").to_owned();
            bases.push(addr);
            children.push(child);
        }
        Cluster { children, bases }
    }

    fn base(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn cancel(client: &reqwest::Client, base: &str, account: &Account, id: &str, key: &str) -> reqwest::Response {
    client
        .post(format!("{base}/terminals/v1/actions/{id}/cancel"))
        .bearer_auth(&account.token)
        .header("X-Idempotency-Key", key)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_over_three_processes_has_one_effect() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, "MULTI_ONE").await;
    let cluster = Arc::new(Cluster::start(&app.db.url));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (cluster, account, id, client) = (cluster.clone(), account.clone(), id.clone(), app.client.clone());
        tasks.push(tokio::spawn(async move {
            let response = cancel(&client, cluster.base(i), &account, &id, "one-key-everywhere").await;
            (response.status(), response.headers().contains_key("x-idempotency-replayed"))
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        let (status, replayed) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        fresh += usize::from(!replayed);
    }
    assert_eq!(fresh, 1, "one process ran it; every other answer was a replay");
    let cancels = app.action_audit(&account, &id).await.into_iter().filter(|(_, to, _)| to == "canceled").count();
    assert_eq!(cancels, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_keys_over_three_processes_cancel_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, "MULTI_MANY").await;
    let cluster = Arc::new(Cluster::start(&app.db.url));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (cluster, account, id, client) = (cluster.clone(), account.clone(), id.clone(), app.client.clone());
        tasks.push(tokio::spawn(async move { cancel(&client, cluster.base(i), &account, &id, &unique_key()).await }));
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
    assert_eq!(ok, 1, "exactly one cancel won across processes");
    let cancels = app.action_audit(&account, &id).await.into_iter().filter(|(_, to, _)| to == "canceled").count();
    assert_eq!(cancels, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_replayed_through_another_process() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let cluster = Arc::new(Cluster::start(&app.db.url));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (cluster, account, client) = (cluster.clone(), account.clone(), app.client.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(format!("{}/terminals/v1/actions", cluster.base(i)))
                .bearer_auth(&account.token)
                .header("X-Idempotency-Key", "create-everywhere")
                .json(&action_body("MULTI_CREATE"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            response.bytes().await.unwrap()
        }));
    }
    let mut bodies = Vec::new();
    for task in tasks {
        bodies.push(task.await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every process answered with the same action");
    assert_eq!(app.count("resources WHERE kind = 'terminal_action'"), 1);
    // Later retries, through each process in turn, replay it too.
    for i in 0..PROCESSES {
        let response = app
            .client
            .post(format!("{}/terminals/v1/actions", cluster.base(i)))
            .bearer_auth(&account.token)
            .header("X-Idempotency-Key", "create-everywhere")
            .json(&action_body("MULTI_CREATE"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-idempotency-replayed"], "true");
        assert_eq!(response.bytes().await.unwrap(), bodies[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_notification_is_delivered_by_one_process() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let account = app.test_account().await;
    let change = caja::provision::AccountChange { notification_url: Some(receiver.url.clone()), ..Default::default() };
    caja::provision::change_account(app.store().as_ref(), account.user_id, change).await.unwrap();
    let cluster = Cluster::start(&app.db.url);
    const ACTIONS: usize = 30;
    for i in 0..ACTIONS {
        let response = app
            .client
            .post(format!("{}/terminals/v1/actions", cluster.base(i)))
            .bearer_auth(&account.token)
            .header("X-Idempotency-Key", unique_key())
            .json(&action_body(&format!("NOTIFY_{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    receiver.wait_for("every notification", |r| r.len() >= ACTIONS).await;
    // Let any second delivery show up before counting.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let received = receiver.received();
    let mut ids: Vec<i64> = received.iter().map(|r| r.body["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ACTIONS);
    assert_eq!(received.len(), ACTIONS, "no notification was delivered twice");
}

/// Orders across processes: 64 partial refunds of 10.00, each under its own key, on
/// one paid order of 100.00 through three processes: exactly ten are made, and the
/// order ends refunded, never refunded past what was paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partial_refunds_over_three_processes_never_refund_more_than_was_paid() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (status, order) = app.card_order(&account, "APRO", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = order["id"].as_str().unwrap().to_owned();
    let payment = order["transactions"]["payments"][0]["id"].as_str().unwrap().to_owned();
    let cluster = Arc::new(Cluster::start(&app.db.url));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (cluster, account, client) = (cluster.clone(), account.clone(), app.client.clone());
        let (id, payment) = (id.clone(), payment.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{}/v1/orders/{id}/refund", cluster.base(i)))
                .bearer_auth(&account.token)
                .header("X-Idempotency-Key", unique_key())
                .json(&serde_json::json!({ "transactions": [{ "id": payment, "amount": "10.00" }] }))
                .send()
                .await
                .unwrap()
        }));
    }
    let mut made = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status() {
            StatusCode::CREATED => made += 1,
            StatusCode::CONFLICT => {
                crate::orders::assert_orders_error(response, 409, "order_already_refunded").await;
            }
            _ => {
                crate::orders::assert_orders_error(response, 400, "refund_amount_exceeds").await;
            }
        }
    }
    assert_eq!(made, 10, "ten refunds of 10.00 fit in 100.00");
    let read: serde_json::Value = app
        .client
        .get(format!("{}/v1/orders/{id}", app.base))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "refunded");
    assert_eq!(read["transactions"]["refunds"].as_array().unwrap().len(), 10);
    assert_eq!(read["transactions"]["payments"][0]["refunded_amount"], "100.00");
}
