//! The payout worker: due transactions are processed, also after a restart, and a
//! cancel racing the worker has exactly one winner.

use std::sync::Arc;
use std::time::Duration;

use caja::domain::ResourceType;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{unique_key, Options, TestApp};
use crate::payouts::payout_body;

#[tokio::test]
async fn the_worker_processes_due_transactions_and_leaves_scheduled_ones() {
    let app =
        TestApp::spawn_with(Options { payout_processing_delay_ms: 100, worker_tick_ms: 20, ..Options::default() })
            .await;
    let account = app.test_account().await;
    let now = app.new_payout(&account, &payout_body(2)).await;
    let mut later = payout_body(1);
    later["schedule_date"] = json!("2099-12-01T10:00:00");
    let response = app.create_payout(&account, &unique_key(), &later).await;
    let later: Value = response.json().await.unwrap();
    assert_eq!(later["schedule_date"], "2099-12-01T10:00:00.000Z");
    for tid in &now.transactions {
        app.wait_for_status(&account, &now.payout, tid, "processed").await;
        let trail: Vec<_> = app
            .audit(&account, ResourceType::PayoutTransaction, tid)
            .await
            .into_iter()
            .map(|e| (e.to_status, e.request_id))
            .collect();
        assert_eq!(trail[1], ("in_process".to_owned(), "caja-worker".to_owned()));
        assert_eq!(trail[2], ("processed".to_owned(), "caja-worker".to_owned()));
    }
    let tid = later["transactions"][0]["id"].as_str().unwrap();
    assert_eq!(app.transaction_status(&account, later["id"].as_str().unwrap(), tid).await, "pending");
}

#[tokio::test]
async fn what_fell_due_while_the_server_was_down_is_processed_after_a_restart() {
    let options = Options { payout_processing_delay_ms: 50, worker_tick_ms: 20, ..Options::default() };
    let mut app = TestApp::spawn_with(options).await;
    let account = app.test_account().await;
    let due = chrono::Utc::now() + chrono::Duration::milliseconds(700);
    let mut body = payout_body(3);
    body["schedule_date"] = json!(due.format("%Y-%m-%dT%H:%M:%S%.3f").to_string());
    let p = app.new_payout(&account, &body).await;
    // Stop at once (nothing is due yet), and stay down past the schedule date.
    app.restart_after(Duration::from_millis(900)).await;
    for tid in &p.transactions {
        app.wait_for_status(&account, &p.payout, tid, "processed").await;
    }
}

#[tokio::test]
async fn a_cancel_racing_the_worker_has_exactly_one_winner_in_200_pairs() {
    // The worker moves every transaction to in_process at once, and to processed
    // 100 ms later; the cancels are spread over 0–1000 ms (wide enough that a busy
    // machine's late worker still lands among them), so the deadline falls among
    // them and each pair near it is decided by the order of two commits.
    let options = Options { payout_processing_delay_ms: 100, worker_tick_ms: 1, ..Options::default() };
    let app = Arc::new(TestApp::spawn_with(options).await);
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(200)).await;
    let mut tasks = Vec::new();
    for (i, tid) in p.transactions.clone().into_iter().enumerate() {
        let (app, account, payout) = (app.clone(), account.clone(), p.payout.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
            let status = app.cancel_transaction(&account, &payout, &tid, None).await.status();
            (tid, status)
        }));
    }
    let (mut canceled, mut processed) = (0, 0);
    for task in tasks {
        let (tid, status) = task.await.unwrap();
        let final_status = loop {
            let s = app.transaction_status(&account, &p.payout, &tid).await;
            if s == "canceled" || s == "processed" {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let trail = app.audit(&account, ResourceType::PayoutTransaction, &tid).await;
        // The trail is one unbroken chain ending in the final status.
        for pair in trail.windows(2) {
            assert_eq!(pair[1].from_status.as_deref(), Some(pair[0].to_status.as_str()), "{trail:?}");
        }
        assert_eq!(trail.last().unwrap().to_status, final_status);
        let cancels = trail.iter().filter(|e| e.to_status == "canceled").count();
        let processings = trail.iter().filter(|e| e.to_status == "processed").count();
        match status {
            StatusCode::NO_CONTENT => {
                assert_eq!((final_status.as_str(), cancels, processings), ("canceled", 1, 0));
                canceled += 1;
            }
            StatusCode::PRECONDITION_FAILED => {
                assert_eq!((final_status.as_str(), cancels, processings), ("processed", 0, 1));
                processed += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(canceled + processed, 200);
    println!("race: {canceled} canceled, {processed} processed first");
    assert!(canceled > 0 && processed > 0, "both sides won some: {canceled} / {processed}");
}
