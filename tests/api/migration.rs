//! A store written by the release before the resource store (commit 590d1dc,
//! `tests/fixtures/previous_release/make.sh`) is opened by this release, migrated at
//! start, and serves everything it had: every resource byte for byte, every stored
//! response replayed under its key, the audit trail, the pending notifications, the
//! uniqueness rules and the payout worker's timers.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{on_postgres, Options, TestApp, TestDb};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous_release")
}

/// What the previous release answered, for the store under test.
fn expected() -> Value {
    let raw = std::fs::read_to_string(fixture_dir().join("expected.json")).expect("expected.json");
    let all: Value = serde_json::from_str(&raw).expect("expected.json is JSON");
    all[if on_postgres() { "postgres" } else { "sqlite" }].clone()
}

async fn migrated_app() -> TestApp {
    let dump = std::fs::read_to_string(fixture_dir().join("postgres.sql")).expect("postgres.sql");
    let db = TestDb::from_files(&fixture_dir().join("caja.db"), &dump);
    // The fixture's keys were stored when it was made: keep them binding.
    let options = Options { idempotency_retention_ms: 100 * 365 * 24 * 3600 * 1000, ..Options::default() };
    TestApp::spawn_on(db, options).await
}

fn token(expected: &Value, account: &str) -> String {
    expected["accounts"][account]["access_token"].as_str().expect("token").to_owned()
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, String) {
    let response = app.client.get(format!("{}{path}", app.base)).bearer_auth(token).send().await.expect("GET");
    (response.status(), response.text().await.expect("body"))
}

#[tokio::test]
async fn a_store_of_the_previous_release_serves_every_resource_and_response_it_had() {
    let app = migrated_app().await;
    let expected = expected();

    for read in expected["gets"].as_array().expect("gets") {
        let token = token(&expected, read["account"].as_str().expect("account"));
        let (status, body) = get(&app, &token, read["path"].as_str().expect("path")).await;
        let (name, before) = (read["name"].as_str().expect("name"), read["body"].as_str().expect("body"));
        assert_eq!(status.as_u16(), read["status"], "{name}");
        if name.starts_with("customer-") {
            // Customers now answer as the Customers reference does (dates renamed,
            // every documented field): the same customers, in the new shape.
            assert_same_customers(before, &body, name);
        } else if name.starts_with("profile") {
            // So do payment profiles (the list keyed `data`, 50 by default; methods
            // with `payment_method_id`, `status`, `default_method`).
            assert_same_profiles(before, &body, name);
        } else if name.starts_with("payout-") {
            // Transactions now give `status_detail` as the statuses page lists it.
            assert_same_transactions(before, &body, name);
        } else if name.starts_with("audit-events") {
            // Audit events now show their hash-chain links: none for records written
            // before the chain existed; the rest reads as it did.
            let mut now: Value = serde_json::from_str(&body).expect("json");
            for record in now["results"].as_array_mut().expect("results") {
                let record = record.as_object_mut().expect("record");
                assert_eq!(
                    (record.remove("hash"), record.remove("prev_hash")),
                    (Some(Value::Null), Some(Value::Null)),
                    "{name}"
                );
            }
            assert_eq!(now, serde_json::from_str::<Value>(before).expect("json"), "{name} reads as it did");
        } else {
            assert_eq!(body, before, "{name} reads as it did");
        }
    }

    for request in expected["requests"].as_array().expect("requests") {
        let method = Method::from_bytes(request["method"].as_str().expect("method").as_bytes()).expect("method");
        let mut builder =
            app.client.request(method, format!("{}{}", app.base, request["path"].as_str().expect("path")));
        for (name, value) in request["headers"].as_object().expect("headers") {
            builder = builder.header(name.as_str(), value.as_str().expect("header value"));
        }
        if let Some(body) = request["body"].as_str() {
            builder = builder.body(body.to_owned());
        }
        let response = builder.send().await.expect("replay");
        assert_eq!(response.status().as_u16(), request["status"], "{}", request["name"]);
        assert_eq!(response.headers()["x-idempotency-replayed"], "true", "{} is replayed", request["name"]);
        let body = response.text().await.expect("body");
        assert_eq!(body, request["response_body"].as_str().expect("response body"), "{}", request["name"]);
    }
}

/// A customer read (or search) of the previous release and of this one hold the same
/// customers: same ids, emails, names and dates.
fn assert_same_customers(before: &str, after: &str, name: &str) {
    let (before, after): (Value, Value) =
        (serde_json::from_str(before).expect("before"), serde_json::from_str(after).expect("after"));
    let pairs: Vec<(&Value, &Value)> = match (before.get("results"), after.get("results")) {
        (Some(old), Some(new)) => {
            assert_eq!(before["paging"], after["paging"], "{name}");
            old.as_array().expect("results").iter().zip(new.as_array().expect("results")).collect()
        }
        _ => vec![(&before, &after)],
    };
    assert!(!pairs.is_empty(), "{name}");
    for (old, new) in pairs {
        for field in ["id", "email", "first_name", "last_name", "description"] {
            assert_eq!(old[field], new[field], "{name}: {field}");
        }
        assert_eq!(old["created_date"], new["date_created"], "{name}");
        assert_eq!(old["last_updated_date"], new["date_last_updated"], "{name}");
        assert_eq!(new["status"], "active", "{name}");
    }
}

/// A transaction read (or list) of the previous release and of this one are the same
/// but for `status_detail`, which is the statuses page's now.
fn assert_same_transactions(before: &str, after: &str, name: &str) {
    let strip = |raw: &str| {
        let mut value: Value = serde_json::from_str(raw).expect("json");
        let items = match value.get_mut("transactions") {
            Some(list) => list.as_array_mut().map(|a| a.iter_mut().collect::<Vec<_>>()).unwrap_or_default(),
            None => vec![&mut value],
        };
        let details: Vec<Value> = items
            .into_iter()
            .map(|t| t.as_object_mut().and_then(|o| o.remove("status_detail")).unwrap_or(Value::Null))
            .collect();
        (value, details)
    };
    let ((old, _), (new, details)) = (strip(before), strip(after));
    assert_eq!(old, new, "{name} reads as it did, status_detail aside");
    for detail in details {
        assert!(detail.is_null() || detail.is_string(), "{name}: {detail}");
    }
}

/// A profile read (or list) of the previous release and of this one hold the same
/// profiles and payment methods.
fn assert_same_profiles(before: &str, after: &str, name: &str) {
    let (before, after): (Value, Value) =
        (serde_json::from_str(before).expect("before"), serde_json::from_str(after).expect("after"));
    let pairs: Vec<(&Value, &Value)> = match (before.get("results"), after.get("data")) {
        (Some(old), Some(new)) => {
            assert_eq!(before["paging"]["total"], after["paging"]["total"], "{name}");
            old.as_array().expect("results").iter().zip(new.as_array().expect("data")).collect()
        }
        _ => vec![(&before, &after)],
    };
    assert!(!pairs.is_empty(), "{name}");
    for (old, new) in pairs {
        for field in [
            "id",
            "status",
            "customer_id",
            "description",
            "max_day_overdue",
            "statement_descriptor",
            "sequence_control",
            "created_date",
            "last_updated_date",
        ] {
            assert_eq!(old[field], new[field], "{name}: {field}");
        }
        let (old_methods, new_methods) = (old["payment_methods"].as_array(), new["payment_methods"].as_array());
        assert_eq!(old_methods.map(Vec::len), new_methods.map(Vec::len), "{name}");
        for (m, n) in old_methods.into_iter().flatten().zip(new_methods.into_iter().flatten()) {
            assert_eq!((&m["id"], &m["type"]), (&n["id"], &n["type"]), "{name}");
            assert!(n["payment_method_id"].as_str().is_some_and(|id| id.len() == 36), "{name}: {n}");
        }
    }
}

#[tokio::test]
async fn the_migrated_store_keeps_its_rules_and_timers() {
    let app = migrated_app().await;
    let expected = expected();
    let mlb = token(&expected, "mlb");
    let ids = &expected["ids"];
    let id = |group: &str, name: &str| ids[group][name].as_str().expect("id").to_owned();

    // One live action per terminal: action A still holds its terminal.
    let body = serde_json::json!({
        "type": "print", "config": {"point": {"terminal_id": id("terminals", "A"), "subtype": "custom"}},
        "content": "again"
    });
    let busy = app
        .client
        .post(format!("{}/terminals/v1/actions", app.base))
        .bearer_auth(&mlb)
        .header("X-Idempotency-Key", "after-migration-1")
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert_eq!(busy.json::<Value>().await.expect("json")["error"], "already_queued_order_for_terminal");

    // One customer per email, regardless of case: customer X still holds it.
    let duplicate = app
        .client
        .post(format!("{}/v1/customers", app.base))
        .bearer_auth(&mlb)
        .header("X-Idempotency-Key", "after-migration-2")
        .json(&serde_json::json!({"email": "ANA@example.com"}))
        .send()
        .await
        .expect("create");
    assert_eq!(duplicate.status(), StatusCode::BAD_REQUEST);
    assert!(duplicate.text().await.expect("body").contains(&id("customers", "X")), "names the existing customer");

    // Listings by status read the migrated index entries.
    let scheduled = id("payouts", "scheduled");
    let (status, body) = get(&app, &mlb, &format!("/v1/payouts/{scheduled}/transactions?status=canceled")).await;
    assert_eq!(status, StatusCode::OK);
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["paging"]["total"], 1);
    assert_eq!(page["transactions"][0]["id"], ids["transactions"]["scheduled"][1]);

    // The worker's timers came along: what was in process finishes, what is
    // scheduled for 2030 waits.
    let now = caja::domain::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    assert_eq!(app.store().advance_payouts(now, 0).await.expect("advance"), 2);
    let tx_status =
        |payout: &str, tx: &Value| format!("/v1/payouts/{payout}/transactions/{}", tx.as_str().unwrap_or(""));
    let status_of = |body: String| serde_json::from_str::<Value>(&body).expect("json")["status"].clone();
    let txs = &ids["transactions"];
    let (_, pending) = get(&app, &mlb, &tx_status(&scheduled, &txs["scheduled"][0])).await;
    assert_eq!(status_of(pending), "pending");
    let (_, in_process) = get(&app, &mlb, &tx_status(&scheduled, &txs["scheduled"][2])).await;
    assert_eq!(status_of(in_process), "processed");
    let immediate = id("payouts", "immediate");
    let (_, immediate_tx) = get(&app, &mlb, &tx_status(&immediate, &txs["immediate"][0])).await;
    assert_eq!(status_of(immediate_tx), "processed");

    // And new work lands beside the old: action A cancels, and is audited once more.
    let cancel = app
        .cancel_action(
            &crate::helpers::Account { user_id: 0, token: mlb.clone() },
            &id("actions", "A"),
            "after-migration-3",
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::OK);
    let (_, trail) = get(&app, &mlb, &format!("/v1/audit-events?resource_id={}", id("actions", "A"))).await;
    let trail: Value = serde_json::from_str(&trail).expect("json");
    assert_eq!(trail["paging"]["total"], 2, "{trail}");
}

#[tokio::test]
async fn several_processes_opening_the_old_store_at_once_migrate_it_once() {
    let dump = std::fs::read_to_string(fixture_dir().join("postgres.sql")).expect("postgres.sql");
    let db = TestDb::from_files(&fixture_dir().join("caja.db"), &dump);
    let opens: Vec<_> = (0..3).map(|_| tokio::spawn(caja::store::open_owned(db.url.clone()))).collect();
    for open in opens {
        let store = open.await.expect("task").expect("each opener migrates or finds it migrated");
        store.close().await;
    }
    let app = TestApp::spawn_on(db, Options::default()).await;
    assert_eq!(app.count("resources WHERE kind = 'terminal_action'"), 3);
    assert_eq!(app.count("resources WHERE kind = 'payout_transaction'"), 4);
    assert_eq!(app.count("resources WHERE kind = 'payment_profile'"), 3);
    assert_eq!(app.count("resource_keys WHERE name = 'live_terminal'"), 2, "A and C hold their terminals");
}
