//! The payouts family: every row of its error table, signatures, processing by the
//! worker (also across a restart and racing cancels), and paging.

use std::time::Duration;

use base64::Engine;
use caja::domain::{ResourceType, SiteId};
use caja::provision::AccountSpec;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, unique_key, Account, TestApp};

pub(crate) fn transaction(value: Value) -> Value {
    json!({
        "type": "account",
        "account": { "id": "123456", "holder": "Ana" },
        "amount": { "currency": "BRL", "value": value },
        "description": "supplier",
        "external_reference": "tx-ref",
    })
}

pub(crate) fn payout_body(transactions: usize) -> Value {
    json!({
        "external_reference": "payout-ref",
        "description": "weekly",
        "config": { "notification_url": "http://127.0.0.1:9/hook" },
        "transactions": (0..transactions).map(|i| transaction(json!(10 + i))).collect::<Vec<_>>(),
    })
}

fn sign(key: &SigningKey, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.sign(body).to_bytes())
}

pub(crate) struct Created {
    pub(crate) payout: String,
    pub(crate) transactions: Vec<String>,
}

impl TestApp {
    fn payouts_request(&self, method: reqwest::Method, path: &str, account: &Account) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&account.token)
    }

    pub(crate) async fn create_payout(&self, account: &Account, key: &str, body: &Value) -> reqwest::Response {
        self.payouts_request(reqwest::Method::POST, "/v1/payouts", account)
            .header("X-Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn new_payout(&self, account: &Account, body: &Value) -> Created {
        let response = self.create_payout(account, &unique_key(), body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let created: Value = response.json().await.unwrap();
        Created {
            payout: created["id"].as_str().unwrap().to_owned(),
            transactions: created["transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect(),
        }
    }

    pub(crate) async fn cancel_transaction(
        &self,
        account: &Account,
        payout: &str,
        tid: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let path = format!("/v1/payouts/{payout}/transactions/{tid}/cancel");
        let mut request =
            self.payouts_request(reqwest::Method::PUT, &path, account).header("X-Idempotency-Key", unique_key());
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn get_transaction(&self, account: &Account, payout: &str, tid: &str) -> reqwest::Response {
        let path = format!("/v1/payouts/{payout}/transactions/{tid}");
        self.payouts_request(reqwest::Method::GET, &path, account).send().await.unwrap()
    }

    pub(crate) async fn transaction_status(&self, account: &Account, payout: &str, tid: &str) -> String {
        let body: Value = self.get_transaction(account, payout, tid).await.json().await.unwrap();
        body["status"].as_str().unwrap().to_owned()
    }

    async fn list_transactions(&self, account: &Account, payout: &str, query: &str) -> reqwest::Response {
        let path = format!("/v1/payouts/{payout}/transactions{query}");
        self.payouts_request(reqwest::Method::GET, &path, account).send().await.unwrap()
    }

    async fn transaction_event(&self, account: &Account, payout: &str, tid: &str, status: &str) -> reqwest::Response {
        let path = format!("/v1/payouts/{payout}/transactions/{tid}/events");
        self.payouts_request(reqwest::Method::POST, &path, account)
            .header("X-Idempotency-Key", unique_key())
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn wait_for_status(&self, account: &Account, payout: &str, tid: &str, want: &str) {
        for _ in 0..200 {
            if self.transaction_status(account, payout, tid).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("transaction {tid} never reached {want}");
    }
}

#[tokio::test]
async fn create_is_202_with_pending_transactions_readable_one_by_one() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut body = payout_body(2);
    body["transactions"][1]["amount"]["value"] = json!(10.5);
    let response = app.create_payout(&account, "p1", &body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(id.parse::<i64>().unwrap() > 0);
    assert_eq!(created["status"], "pending");
    assert_eq!(created["external_reference"], "payout-ref");
    assert_eq!(created["schedule_date"], Value::Null);
    let transactions = created["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2);
    assert_eq!(transactions[0]["status"], "pending");
    assert_eq!(transactions[0]["status_detail"], Value::Null, "the statuses page's \"-\" for a pending one");
    assert_eq!(transactions[0]["amount"], json!({ "currency": "BRL", "value": 10 }));
    assert_eq!(transactions[1]["amount"], json!({ "currency": "BRL", "value": 10.5 }));
    for key in [
        "id",
        "status",
        "status_detail",
        "amount",
        "description",
        "external_reference",
        "created_date",
        "last_update_date",
    ] {
        assert!(transactions[0].get(key).is_some(), "{key}");
    }
    let tid = transactions[1]["id"].as_str().unwrap();
    let read = app.get_transaction(&account, id, tid).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap(), transactions[1]);
}

#[tokio::test]
async fn cancel_from_pending_and_from_in_process_is_204_and_audited_with_the_note() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(2)).await;
    let note = json!({ "comments": "delete because the payment was canceled", "deleted_by": "user_123" });
    let response = app.cancel_transaction(&account, &p.payout, &p.transactions[0], Some(&note)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(app.transaction_status(&account, &p.payout, &p.transactions[0]).await, "canceled");
    let trail = app.audit(&account, ResourceType::PayoutTransaction, &p.transactions[0]).await;
    let last = trail.last().unwrap();
    assert_eq!((last.from_status.as_deref(), last.to_status.as_str()), (Some("pending"), "canceled"));
    assert_eq!(last.comments.as_deref(), Some("delete because the payment was canceled"));
    assert_eq!(last.deleted_by.as_deref(), Some("user_123"));

    let second = &p.transactions[1];
    assert_eq!(app.transaction_event(&account, &p.payout, second, "in_process").await.status(), StatusCode::NO_CONTENT);
    let response = app.cancel_transaction(&account, &p.payout, second, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.transaction_status(&account, &p.payout, second).await, "canceled");
}

#[tokio::test]
async fn cancel_from_each_final_status_is_412_precondition_failed() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(4)).await;
    let paths: [&[&str]; 3] = [&["in_process", "processed"], &["in_process", "failed"], &["in_process", "rejected"]];
    for (tid, events) in p.transactions.iter().zip(paths) {
        for status in events {
            assert_eq!(app.transaction_event(&account, &p.payout, tid, status).await.status(), StatusCode::NO_CONTENT);
        }
    }
    let canceled = &p.transactions[3];
    assert_eq!(app.cancel_transaction(&account, &p.payout, canceled, None).await.status(), StatusCode::NO_CONTENT);
    for tid in &p.transactions {
        let before = app.transaction_status(&account, &p.payout, tid).await;
        let error =
            assert_error(app.cancel_transaction(&account, &p.payout, tid, None).await, 412, "precondition_failed")
                .await;
        assert!(error["message"].as_str().unwrap().contains(&before));
        assert_eq!(app.transaction_status(&account, &p.payout, tid).await, before);
    }
}

#[tokio::test]
async fn no_token_or_an_unknown_one_is_401_invalid_token() {
    let app = TestApp::spawn().await;
    let response = app.client.post(format!("{}/v1/payouts", app.base)).json(&payout_body(1)).send().await.unwrap();
    assert_error(response, 401, "invalid_token").await;
    let stranger = Account { user_id: 1, token: "TEST-1-112410-00000000000000000000000000000000-1".into() };
    assert_error(app.list_transactions(&stranger, "1", "").await, 401, "invalid_token").await;
    assert_error(app.cancel_transaction(&stranger, "1", "2", None).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn idempotency_key_rows() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(1)).await;
    let path = format!("/v1/payouts/{}/transactions/{}/cancel", p.payout, p.transactions[0]);
    let absent = app.payouts_request(reqwest::Method::PUT, &path, &account).send().await.unwrap();
    assert_error(absent, 400, "idempotency_key_required").await;
    let created =
        app.payouts_request(reqwest::Method::POST, "/v1/payouts", &account).json(&payout_body(1)).send().await;
    assert_error(created.unwrap(), 400, "idempotency_key_required").await;
    let long = app.create_payout(&account, &"k".repeat(65), &payout_body(1)).await;
    assert_error(long, 400, "invalid_idempotency_key").await;
    // The same key for another request.
    assert_eq!(app.create_payout(&account, "reused", &payout_body(1)).await.status(), StatusCode::ACCEPTED);
    assert_error(app.create_payout(&account, "reused", &payout_body(2)).await, 409, "idempotency_key_already_used")
        .await;
}

#[tokio::test]
async fn a_retried_create_and_cancel_replay_without_a_second_effect() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let first = app.create_payout(&account, "create", &payout_body(3)).await.bytes().await.unwrap();
    let again = app.create_payout(&account, "create", &payout_body(3)).await;
    assert_eq!(again.headers()["x-idempotency-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first);
    let created: Value = serde_json::from_slice(&first).unwrap();
    let (payout, tid) = (created["id"].as_str().unwrap(), created["transactions"][0]["id"].as_str().unwrap());
    let path = format!("/v1/payouts/{payout}/transactions/{tid}/cancel");
    for _ in 0..2 {
        let response =
            app.payouts_request(reqwest::Method::PUT, &path, &account).header("X-Idempotency-Key", "c").send().await;
        assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.audit(&account, ResourceType::PayoutTransaction, tid).await.len(), 2, "pending + one cancel");
}

#[tokio::test]
async fn malformed_ids_are_invalid_payout_id_and_invalid_transaction_id() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(1)).await;
    let tid = &p.transactions[0];
    for bad in ["abc", "0", "-5", "1.5", "99999999999999999999"] {
        assert_error(app.list_transactions(&account, bad, "").await, 400, "invalid_payout_id").await;
        assert_error(app.get_transaction(&account, bad, tid).await, 400, "invalid_payout_id").await;
        assert_error(app.cancel_transaction(&account, bad, tid, None).await, 400, "invalid_payout_id").await;
        assert_error(app.get_transaction(&account, &p.payout, bad).await, 400, "invalid_transaction_id").await;
        assert_error(app.cancel_transaction(&account, &p.payout, bad, None).await, 400, "invalid_transaction_id").await;
        assert_error(
            app.transaction_event(&account, &p.payout, bad, "in_process").await,
            400,
            "invalid_transaction_id",
        )
        .await;
    }
}

#[tokio::test]
async fn a_transaction_of_another_payout_is_400_invalid_transaction_id() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let a = app.new_payout(&account, &payout_body(1)).await;
    let b = app.new_payout(&account, &payout_body(1)).await;
    let foreign = &b.transactions[0];
    assert_error(app.get_transaction(&account, &a.payout, foreign).await, 400, "invalid_transaction_id").await;
    assert_error(app.cancel_transaction(&account, &a.payout, foreign, None).await, 400, "invalid_transaction_id").await;
    assert_error(app.get_transaction(&account, &a.payout, "123").await, 400, "invalid_transaction_id").await;
    assert_eq!(app.transaction_status(&account, &b.payout, foreign).await, "pending");
}

#[tokio::test]
async fn an_unknown_payout_or_another_accounts_is_404_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.test_account().await;
    let stranger = app.test_account().await;
    let p = app.new_payout(&owner, &payout_body(1)).await;
    let tid = &p.transactions[0];
    for (account, payout) in [(&owner, "123456789"), (&stranger, p.payout.as_str())] {
        assert_error(app.list_transactions(account, payout, "").await, 404, "not_found").await;
        assert_error(app.get_transaction(account, payout, tid).await, 404, "not_found").await;
        assert_error(app.cancel_transaction(account, payout, tid, None).await, 404, "not_found").await;
        assert_error(app.transaction_event(account, payout, tid, "in_process").await, 404, "not_found").await;
    }
    assert_eq!(app.transaction_status(&owner, &p.payout, tid).await, "pending");
}

#[tokio::test]
async fn an_account_without_payouts_gets_403_forbidden() {
    let app = TestApp::spawn().await;
    let spec = AccountSpec { site_id: SiteId::Mlb, live_mode: false, payouts_enabled: false };
    let account = app.account_with(spec).await;
    assert_error(app.create_payout(&account, &unique_key(), &payout_body(1)).await, 403, "forbidden").await;
    assert_error(app.list_transactions(&account, "1", "").await, 403, "forbidden").await;
    assert_error(app.cancel_transaction(&account, "1", "2", None).await, 403, "forbidden").await;
    // Enabled again, the same key works: the 403 was not stored.
    let user = caja::domain::UserId::new(account.user_id).unwrap();
    app.store().set_payouts_enabled(user, true).await.unwrap();
    assert_eq!(app.create_payout(&account, "after", &payout_body(1)).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_400_bad_request() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let raw = app
        .payouts_request(reqwest::Method::POST, "/v1/payouts", &account)
        .header("X-Idempotency-Key", unique_key())
        .body("{\"transactions\": [")
        .send()
        .await
        .unwrap();
    assert_error(raw, 400, "bad_request").await;
    let mut cases = vec![
        (json!({ "transactions": [] }), "transactions"),
        (payout_body(1001), "transactions"),
        (json!({ "transactions": [transaction(json!(10.123))] }), "at most 2 decimals"),
        (json!({ "transactions": [transaction(json!(0))] }), "positive"),
        (json!({ "transactions": [transaction(json!(-3))] }), "amount.value"),
        (json!({ "transactions": [transaction(json!("10"))] }), "value"),
        (json!({ "schedule_date": "2020-01-01T00:00:00", "transactions": [transaction(json!(1))] }), "future"),
        (json!({ "schedule_date": "soon", "transactions": [transaction(json!(1))] }), "schedule_date"),
        (
            json!({ "config": { "notification_url": "ftp://x" }, "transactions": [transaction(json!(1))] }),
            "notification_url",
        ),
    ];
    let mut wrong_currency = transaction(json!(1));
    wrong_currency["amount"]["currency"] = json!("ARS");
    cases.push((json!({ "transactions": [wrong_currency] }), "BRL"));
    let mut no_account = transaction(json!(1));
    no_account["account"] = json!("nope");
    cases.push((json!({ "transactions": [no_account] }), "account"));
    for (body, mention) in cases {
        let error = assert_error(app.create_payout(&account, &unique_key(), &body).await, 400, "bad_request").await;
        assert!(error["message"].as_str().unwrap().contains(mention), "{error} should mention {mention}");
    }
    let p = app.new_payout(&account, &payout_body(1)).await;
    let bad_note = json!({ "comments": 5 });
    let response = app.cancel_transaction(&account, &p.payout, &p.transactions[0], Some(&bad_note)).await;
    assert_error(response, 400, "bad_request").await;
}

#[tokio::test]
async fn a_store_failure_is_500_internal_server_error_with_nothing_written() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(1)).await;
    app.sql("ALTER TABLE audit_events RENAME TO audit_events_away");
    let response = app.cancel_transaction(&account, &p.payout, &p.transactions[0], None).await;
    assert_error(response, 500, "internal_server_error").await;
    assert_eq!(app.transaction_status(&account, &p.payout, &p.transactions[0]).await, "pending");
    app.sql("ALTER TABLE audit_events_away RENAME TO audit_events");
}

#[tokio::test]
async fn the_events_helper_moves_along_the_machine_for_test_accounts_only() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(1)).await;
    let tid = &p.transactions[0];
    for status in ["processed", "failed", "rejected", "canceled", "pending", "bogus"] {
        assert_error(app.transaction_event(&account, &p.payout, tid, status).await, 400, "bad_request").await;
    }
    assert_eq!(app.transaction_event(&account, &p.payout, tid, "in_process").await.status(), StatusCode::NO_CONTENT);
    assert_error(app.transaction_event(&account, &p.payout, tid, "in_process").await, 400, "bad_request").await;
    assert_eq!(app.transaction_event(&account, &p.payout, tid, "rejected").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.transaction_status(&account, &p.payout, tid).await, "rejected");

    let live = app.account(true).await;
    let key = SigningKey::from_bytes(&[9; 32]);
    let user = caja::domain::UserId::new(live.user_id).unwrap();
    app.store()
        .add_signing_key(user, key.verifying_key().to_bytes(), caja::domain::Timestamp::from_millis(0))
        .await
        .unwrap();
    let body = serde_json::to_vec(&payout_body(1)).unwrap();
    let created = app
        .payouts_request(reqwest::Method::POST, "/v1/payouts", &live)
        .header("X-Idempotency-Key", unique_key())
        .header("X-signature", sign(&key, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let created: Value = created.json().await.unwrap();
    let (payout, tid) = (created["id"].as_str().unwrap(), created["transactions"][0]["id"].as_str().unwrap());
    let path = format!("/v1/payouts/{payout}/transactions/{tid}/events");
    let event = br#"{"status":"in_process"}"#.to_vec();
    let response = app
        .payouts_request(reqwest::Method::POST, &path, &live)
        .header("X-Idempotency-Key", unique_key())
        .header("X-signature", sign(&key, &event))
        .body(event)
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden").await;
}

#[tokio::test]
async fn signatures_are_checked_for_live_accounts_and_on_request_for_test_accounts() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    let key = SigningKey::from_bytes(&[3; 32]);
    let other_key = SigningKey::from_bytes(&[4; 32]);
    let user = caja::domain::UserId::new(live.user_id).unwrap();
    app.store()
        .add_signing_key(user, key.verifying_key().to_bytes(), caja::domain::Timestamp::from_millis(0))
        .await
        .unwrap();
    let body = serde_json::to_vec(&payout_body(1)).unwrap();
    let post = |signature: Option<String>, body: Vec<u8>, account: &Account| {
        let mut request = app
            .payouts_request(reqwest::Method::POST, "/v1/payouts", account)
            .header("X-Idempotency-Key", unique_key())
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-signature", signature);
        }
        request
    };
    // Missing, wrong key, garbage, and a signature over a different body.
    assert_error(post(None, body.clone(), &live).send().await.unwrap(), 400, "invalid_signature").await;
    let wrong = sign(&other_key, &body);
    assert_error(post(Some(wrong), body.clone(), &live).send().await.unwrap(), 400, "invalid_signature").await;
    assert_error(post(Some("!!".into()), body.clone(), &live).send().await.unwrap(), 400, "invalid_signature").await;
    let over_other = sign(&key, b"{\"transactions\":[]}");
    assert_error(post(Some(over_other), body.clone(), &live).send().await.unwrap(), 400, "invalid_signature").await;
    // The right one is accepted.
    let accepted = post(Some(sign(&key, &body)), body.clone(), &live).send().await.unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);

    // A signed cancel with an empty body signs the empty string.
    let created: Value = accepted.json().await.unwrap();
    let path = format!(
        "/v1/payouts/{}/transactions/{}/cancel",
        created["id"].as_str().unwrap(),
        created["transactions"][0]["id"].as_str().unwrap()
    );
    let cancel = |signature: String| {
        app.payouts_request(reqwest::Method::PUT, &path, &live)
            .header("X-Idempotency-Key", unique_key())
            .header("X-signature", signature)
    };
    assert_error(cancel(sign(&key, b"{}")).send().await.unwrap(), 400, "invalid_signature").await;
    assert_eq!(cancel(sign(&key, b"")).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // Test accounts: not checked unless both headers say so.
    let test = app.test_account().await;
    assert_eq!(post(None, body.clone(), &test).send().await.unwrap().status(), StatusCode::ACCEPTED);
    let enforced = post(None, body.clone(), &test).header("X-Enforce-Signature", "true");
    assert_eq!(enforced.send().await.unwrap().status(), StatusCode::ACCEPTED, "without X-Test-Token");
    let enforced = post(None, body.clone(), &test).header("X-Enforce-Signature", "true").header("X-Test-Token", "true");
    assert_error(enforced.send().await.unwrap(), 400, "invalid_signature").await;
}

#[tokio::test]
async fn a_thousand_transactions_are_created_and_listed_page_by_page() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(1000)).await;
    assert_eq!(p.transactions.len(), 1000);
    let mut listed = Vec::new();
    for offset in (0..1000).step_by(100) {
        let page: Value = app
            .list_transactions(&account, &p.payout, &format!("?limit=100&offset={offset}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["paging"], json!({ "limit": 100, "offset": offset, "total": 1000 }));
        listed.extend(page["transactions"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(listed, p.transactions, "every transaction once, in creation order");
    let default: Value = app.list_transactions(&account, &p.payout, "").await.json().await.unwrap();
    assert_eq!(default["paging"], json!({ "limit": 30, "offset": 0, "total": 1000 }));
    let past_end: Value = app.list_transactions(&account, &p.payout, "?offset=5000").await.json().await.unwrap();
    assert_eq!(past_end["transactions"], json!([]));

    app.cancel_transaction(&account, &p.payout, &p.transactions[7], None).await;
    let filtered: Value = app.list_transactions(&account, &p.payout, "?status=canceled").await.json().await.unwrap();
    assert_eq!(filtered["paging"]["total"], 1);
    assert_eq!(filtered["transactions"][0]["id"], p.transactions[7]);
    for query in ["?limit=101", "?limit=0", "?limit=x", "?offset=-1", "?status=done"] {
        assert_error(app.list_transactions(&account, &p.payout, query).await, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn the_currency_is_the_one_of_the_tokens_site() {
    let app = TestApp::spawn().await;
    let brazil = app.test_account().await;
    let argentina = app.token_for(&brazil, SiteId::Mla).await;
    let error =
        assert_error(app.create_payout(&argentina, &unique_key(), &payout_body(1)).await, 400, "bad_request").await;
    assert!(error["message"].as_str().unwrap().contains("ARS"), "{error}");
    let mut pesos = payout_body(1);
    pesos["transactions"][0]["amount"]["currency"] = json!("ARS");
    assert_eq!(app.create_payout(&argentina, &unique_key(), &pesos).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_payout_reads_back_with_its_status_and_summary() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut body = payout_body(4);
    body["config"] = json!({ "notification_url": "http://127.0.0.1:9/hooks" });
    let p = app.new_payout(&account, &body).await;
    let read = |app: &TestApp| {
        let path = format!("/v1/payouts/{}", p.payout);
        let request = app.payouts_request(reqwest::Method::GET, &path, &account);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let fresh = read(&app).await;
    assert_eq!(fresh["id"], p.payout.as_str());
    assert_eq!(fresh["status"], "pending");
    assert_eq!(fresh["config"], json!({ "notification_url": "http://127.0.0.1:9/hooks" }));
    let items = |v: &Value| {
        ["pending", "canceled", "success", "error"].map(|k| v["summary"][k]["items"].as_u64().unwrap_or(99))
    };
    assert_eq!(items(&fresh), [4, 0, 0, 0]);

    assert_eq!(app.transaction_event(&account, &p.payout, &p.transactions[0], "in_process").await.status(), 204);
    assert_eq!(read(&app).await["status"], "in_process");
    app.cancel_transaction(&account, &p.payout, &p.transactions[1], None).await;
    app.transaction_event(&account, &p.payout, &p.transactions[0], "processed").await;
    app.transaction_event(&account, &p.payout, &p.transactions[2], "in_process").await;
    app.transaction_event(&account, &p.payout, &p.transactions[2], "rejected").await;
    app.cancel_transaction(&account, &p.payout, &p.transactions[3], None).await;
    let done = read(&app).await;
    assert_eq!((done["status"].clone(), items(&done)), (json!("completed"), [0, 2, 1, 1]));

    let all_canceled = app.new_payout(&account, &payout_body(1)).await;
    app.cancel_transaction(&account, &all_canceled.payout, &all_canceled.transactions[0], None).await;
    let path = format!("/v1/payouts/{}", all_canceled.payout);
    let canceled: Value =
        app.payouts_request(reqwest::Method::GET, &path, &account).send().await.unwrap().json().await.unwrap();
    assert_eq!(canceled["status"], "canceled");

    let stranger = app.test_account().await;
    let theirs = app.payouts_request(reqwest::Method::GET, &format!("/v1/payouts/{}", p.payout), &stranger);
    assert_error(theirs.send().await.unwrap(), 404, "not_found").await;
    let malformed = app.payouts_request(reqwest::Method::GET, "/v1/payouts/0x12", &account);
    assert_error(malformed.send().await.unwrap(), 400, "invalid_payout_id").await;
}

#[tokio::test]
async fn the_list_takes_every_documented_status() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(2)).await;
    let total = |query: &'static str| {
        let (app, account, payout) = (&app, &account, p.payout.clone());
        async move {
            let response = app.list_transactions(account, &payout, query).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            response.json::<Value>().await.unwrap()["paging"]["total"].clone()
        }
    };
    assert_eq!(total("?status=pending").await, 2);
    // The reference's own example, and statuses caja never holds: a page of none.
    for never in ["?status=created", "?status=approved", "?status=success", "?status=error", "?status=refunded"] {
        assert_eq!(total(never).await, 0, "{never}");
    }
    assert_error(app.list_transactions(&account, &p.payout, "?status=paid").await, 400, "bad_request").await;
}

#[tokio::test]
async fn status_detail_says_why_as_the_statuses_page_does() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let p = app.new_payout(&account, &payout_body(3)).await;
    let detail = |tid: &str| {
        let path = format!("/v1/payouts/{}/transactions/{tid}", p.payout);
        let request = app.payouts_request(reqwest::Method::GET, &path, &account);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["status_detail"].clone() }
    };
    for (tid, end) in p.transactions.iter().zip(["processed", "failed", "rejected"]) {
        app.transaction_event(&account, &p.payout, tid, "in_process").await;
        assert_eq!(detail(tid).await, Value::Null);
        app.transaction_event(&account, &p.payout, tid, end).await;
    }
    let expected = [json!("approved"), json!("failed"), json!("other_reason")];
    for (tid, want) in p.transactions.iter().zip(expected) {
        assert_eq!(detail(tid).await, want);
    }
}

#[tokio::test]
async fn payouts_disabled_after_the_token_was_used_elsewhere_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    // Authenticated once through another family: its principal is now cached.
    let list = |token: String| app.client.get(format!("{}/terminals/v1/list", app.base)).bearer_auth(token).send();
    assert_eq!(list(account.token.clone()).await.unwrap().status(), StatusCode::OK);
    let user = caja::domain::UserId::new(account.user_id).unwrap();
    app.store().set_payouts_enabled(user, false).await.unwrap();
    assert_error(app.create_payout(&account, &unique_key(), &payout_body(1)).await, 403, "forbidden").await;
    // And a token made after the server started (as another process would) works at once.
    let fresh = app.token_for(&account, SiteId::Mlb).await;
    assert_eq!(list(fresh.token.clone()).await.unwrap().status(), StatusCode::OK);
}
