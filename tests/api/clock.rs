//! caja's movable clock (#17): `POST /caja/v1/clock/advance` moves a test account's
//! time, and what fell due by then is played out before the answer, in order and
//! dated in the account's time: a scheduled payout, an expiring Point order, a
//! webhook's whole retry schedule. Other accounts keep real time; a second process
//! on the same store sees the move.

use std::time::Instant;

use caja::domain::ResourceType;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, unique_key, Account, Options, TestApp};
use crate::payouts::payout_body;
use crate::point_orders::{point_body, VIRTUAL_TERMINAL};
use crate::receiver::Receiver;

/// The worker does nothing on its own in these tests (it ticks hourly), so whatever
/// moves, the clock move moved.
fn still() -> Options {
    Options { payout_processing_delay_ms: 5_000, ..Options::default() }
}

async fn advance(app: &TestApp, account: &Account, body: Value, key: Option<&str>) -> reqwest::Response {
    let mut request =
        app.client.post(format!("{}/caja/v1/clock/advance", app.base)).bearer_auth(&account.token).json(&body);
    if let Some(key) = key {
        request = request.header("x-idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn advanced(app: &TestApp, account: &Account, by: &str) -> Value {
    let started = Instant::now();
    let response = advance(app, account, json!({ "by": by }), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    eprintln!("advance {by}: {:?}, {body}", started.elapsed());
    body
}

async fn clock(app: &TestApp, account: &Account) -> Value {
    app.ok_json(account, "/caja/v1/clock").await
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis()
}

#[tokio::test]
async fn a_scheduled_payout_is_processed_by_one_clock_move() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let mut body = payout_body(2);
    body["schedule_date"] = json!(tomorrow.format("%Y-%m-%dT%H:%M:%S%.3f").to_string());
    let p = app.new_payout(&account, &body).await;
    let due = millis(&format!("{}Z", tomorrow.format("%Y-%m-%dT%H:%M:%S%.3f")));
    assert_eq!(app.transaction_status(&account, &p.payout, &p.transactions[0]).await, "pending");

    let moved = advanced(&app, &account, "PT25H").await;
    assert_eq!(moved["offset_ms"], 25 * 3_600_000);
    assert!(moved["played_out"]["moved"].as_u64().unwrap() >= 4, "two steps of two transactions: {moved}");
    for tid in &p.transactions {
        assert_eq!(app.transaction_status(&account, &p.payout, tid).await, "processed");
        let trail = app.audit(&account, ResourceType::PayoutTransaction, tid).await;
        let moves: Vec<_> = trail.iter().map(|e| (e.to_status.as_str(), e.at.as_millis())).collect();
        // Dated in the account's time: in process when it fell due, processed the
        // processing delay (5 s) later.
        assert_eq!(&moves[1..], &[("in_process", due), ("processed", due + 5_000)], "{moves:?}");
    }
    // The account's time moved; a new request is dated in it.
    let now = millis(clock(&app, &account).await["now"].as_str().unwrap());
    let real = chrono::Utc::now().timestamp_millis();
    assert!((now - real - 25 * 3_600_000).abs() < 60_000, "account time {now}, real {real}");
}

#[tokio::test]
async fn an_expiring_order_expires_at_its_time_and_the_next_is_dated_in_the_accounts_time() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    let mut body = point_body(VIRTUAL_TERMINAL);
    body["expiration_time"] = json!("PT30M");
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let created = millis(order["created_date"].as_str().unwrap());

    advanced(&app, &account, "PT29M").await;
    assert_eq!(app.read_order(&account, id).await["status"], "created", "not before its time");
    let moved = advanced(&app, &account, "PT2M").await;
    assert_eq!(moved["played_out"]["moved"], 1, "{moved}");
    let read = app.read_order(&account, id).await;
    assert_eq!((read["status"].as_str(), read["status_detail"].as_str()), (Some("expired"), Some("expired")));
    let trail = app.audit(&account, ResourceType::Order, id).await;
    let expired = trail.last().unwrap();
    assert_eq!(
        (expired.request_id.as_str(), expired.at.as_millis()),
        (caja::engine::WORKER_REQUEST_ID, created + 1_800_000)
    );

    // The terminal is free again, and a new order is created 31 minutes later.
    let next: Value = app
        .orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL)))
        .await
        .json()
        .await
        .unwrap();
    let next_created = millis(next["created_date"].as_str().unwrap());
    assert!(next_created - created >= 31 * 60_000, "{created} then {next_created}");
}

#[tokio::test]
async fn a_webhooks_whole_retry_schedule_plays_out_in_one_move() {
    // The default schedule: 8 attempts, waits of about 1, 3, 9, 27, 81 minutes,
    // 4 and 12 hours (±20%).
    let app = TestApp::spawn_with(still()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 16]);
    let (account, bystander) = (app.test_account().await, app.test_account().await);
    app.listen(&account, &receiver.url).await;
    app.listen(&bystander, &receiver.url).await;
    let action = app.new_action(&account, "NEWLAND_N950__N950NCB000000071").await;
    let untouched = app.new_action(&bystander, "NEWLAND_N950__N950NCB000000072").await;
    for (who, id) in [(&account, &action), (&bystander, &untouched)] {
        let canceled = app.cancel_action(who, id, &unique_key()).await;
        assert_eq!(canceled.status(), StatusCode::OK);
    }

    let moved = advanced(&app, &account, "P1D").await;
    // Two notifications (the action's creation and its cancel), eight attempts each.
    assert_eq!(moved["played_out"]["deliveries"], 16, "{moved}");
    let list = app.ok_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
    let notifications = list["results"].as_array().unwrap();
    assert_eq!(notifications.len(), 2, "{list}");
    for n in notifications {
        assert_eq!(n["status"], "failed", "{n}");
        let attempts: Vec<i64> =
            n["attempts"].as_array().unwrap().iter().map(|a| millis(a["date"].as_str().unwrap())).collect();
        assert_eq!(attempts.len(), 8);
        let waits: Vec<i64> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
        for (i, wait) in waits.iter().enumerate() {
            let planned = 60_000 * 3_i64.pow(i as u32);
            assert!((planned * 8 / 10..=planned * 12 / 10).contains(wait), "wait {i}: {wait} ms, planned {planned}");
        }
    }
    assert_eq!(receiver.received().len(), 16, "the receiver got every attempt");

    // The other account kept real time: its notification has not been tried yet.
    assert_eq!(clock(&app, &bystander).await["offset_ms"], 0);
    let theirs = app.ok_json(&bystander, &format!("/v1/notifications?resource_id={untouched}")).await;
    assert_eq!(
        (theirs["results"][0]["status"].as_str(), theirs["results"][0]["attempts"].as_array().map(Vec::len)),
        (Some("pending"), Some(0))
    );
}

#[tokio::test]
async fn a_retried_move_under_one_key_moves_once() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    let first = advance(&app, &account, json!({ "seconds": 3600 }), Some("move-once")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = advance(&app, &account, json!({ "seconds": 3600 }), Some("move-once")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["x-idempotency-replayed"], "true");
    assert_eq!(clock(&app, &account).await["offset_ms"], 3_600_000);
    let other = advance(&app, &account, json!({ "seconds": 60 }), Some("move-once")).await;
    assert_error(other, 409, "idempotency_key_already_used").await;
    // Without a key each move moves.
    advance(&app, &account, json!({ "seconds": 60 }), None).await;
    assert_eq!(clock(&app, &account).await["offset_ms"], 3_660_000);
}

#[tokio::test]
async fn a_bad_move_is_400_and_a_live_clock_does_not_move() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    for body in [
        json!({}),
        json!({ "seconds": 0 }),
        json!({ "seconds": -5 }),
        json!({ "seconds": 400_000_000 }),
        json!({ "seconds": 5, "by": "PT5S" }),
        json!({ "by": "five minutes" }),
        json!({ "by": "PT5S", "to": "tomorrow" }),
        json!([1]),
    ] {
        assert_error(advance(&app, &account, body.clone(), None).await, 400, "bad_request").await;
    }
    let not_json = app
        .client
        .post(format!("{}/caja/v1/clock/advance", app.base))
        .bearer_auth(&account.token)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(clock(&app, &account).await["offset_ms"], 0, "nothing moved");

    let live = app.account(true).await;
    assert_error(advance(&app, &live, json!({ "seconds": 60 }), None).await, 403, "forbidden").await;
    let read = app.client.get(format!("{}/caja/v1/clock", app.base)).bearer_auth(&live.token).send().await.unwrap();
    assert_error(read, 403, "forbidden").await;
    let anonymous = app.client.post(format!("{}/caja/v1/clock/advance", app.base)).json(&json!({ "seconds": 1 }));
    assert_error(anonymous.send().await.unwrap(), 401, "unauthorized").await;
}

/// Another process of the deployment (a second server on the same store) sees the
/// move at once: its commands are dated in the account's time.
#[tokio::test]
async fn a_move_in_one_process_is_seen_by_another() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    let (second, _store) = crate::helpers::start(&app.db.url, still()).await;
    advanced(&app, &account, "P7D").await;
    let base = format!("http://{}", second.addr());
    let read: Value = app
        .client
        .get(format!("{base}/caja/v1/clock"))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["offset_ms"], 7 * 86_400_000);
    let created: Value = app
        .client
        .post(format!("{base}/v1/orders"))
        .bearer_auth(&account.token)
        .header("x-idempotency-key", unique_key())
        .json(&point_body(VIRTUAL_TERMINAL))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lead = millis(created["created_date"].as_str().unwrap()) - chrono::Utc::now().timestamp_millis();
    assert!((lead - 7 * 86_400_000).abs() < 60_000, "created {lead} ms ahead of real time");
    second.stop().await.unwrap();
}

/// Concurrent moves without keys all count (each is a conditional update of the
/// offset): ten moves of a minute are ten minutes, on either store.
#[tokio::test]
async fn concurrent_moves_all_count() {
    let app = std::sync::Arc::new(TestApp::spawn_with(still()).await);
    let account = app.test_account().await;
    let moves = (0..10).map(|_| {
        let (app, account) = (app.clone(), account.clone());
        async move { advance(&app, &account, json!({ "seconds": 60 }), None).await.status() }
    });
    let statuses = crate::helpers::join_all(moves.collect()).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(clock(&app, &account).await["offset_ms"], 600_000);
}

/// A notification sent again after a move is due at the account's time, not
/// before its earlier attempts.
#[tokio::test]
async fn a_resend_after_a_move_is_due_at_the_accounts_time() {
    let app = TestApp::spawn_with(still()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 16]);
    let account = app.test_account().await;
    app.listen(&account, &receiver.url).await;
    let action = app.new_action(&account, "NEWLAND_N950__N950NCB000000073").await;
    advanced(&app, &account, "P1D").await;
    let list = app.ok_json(&account, &format!("/v1/notifications?resource_id={action}")).await;
    let n = &list["results"][0];
    assert_eq!(n["status"], "failed", "{n}");
    let last = n["attempts"].as_array().unwrap().iter().map(|a| millis(a["date"].as_str().unwrap())).max().unwrap();
    let retried = app
        .client
        .post(format!("{}/v1/notifications/{}/retry", app.base, n["id"]))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let retried: Value = retried.json().await.unwrap();
    let due = millis(retried["next_attempt_date"].as_str().unwrap());
    assert!(due >= last, "due {due}, after the last attempt {last}");
    let now = millis(clock(&app, &account).await["now"].as_str().unwrap());
    assert!((now - due).abs() < 60_000, "due at the account's time: {due} vs {now}");
}

/// The trigger's card and payout dates come from the account's time, so a clock
/// years ahead still triggers.
#[tokio::test]
async fn a_trigger_works_years_ahead() {
    let app = TestApp::spawn_with(still()).await;
    let account = app.test_account().await;
    advanced(&app, &account, "P2190D").await;
    for event in ["payment.approved", "payout.transaction.failed"] {
        let response = app
            .client
            .post(format!("{}/caja/v1/trigger", app.base))
            .bearer_auth(&account.token)
            .json(&json!({ "event": event }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::CREATED, "{event}: {}", response.text().await.unwrap());
    }
}
