//! `POST /caja/v1/webhooks/check`: a correct receiver passes all five checks, one
//! that accepts everything fails the three it should refuse, an unreachable one fails
//! every check (still a 200 report), and the 400/401/403 rows.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, Account, TestApp};
use crate::receiver::{Received, Receiver};

const CHECK: &str = "/caja/v1/webhooks/check";
/// The strict receiver's tolerance for `ts`, in seconds.
const TS_TOLERANCE_SECS: i64 = 300;

impl TestApp {
    fn check_request(&self, account: &Account) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{CHECK}", self.base)).bearer_auth(&account.token)
    }

    async fn check_receiver(&self, account: &Account, body: Value) -> Value {
        let response = self.check_request(account).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// A receiver that does what the documentation asks: verifies `x-signature` with the
/// secret from the query's `data.id`, refuses a `ts` more than 5 minutes off, and
/// acknowledges a repeated `x-request-id` with 200 without acting on it again.
#[derive(Clone)]
struct StrictReceiver {
    url: String,
    secret: Arc<Mutex<String>>,
    seen: Arc<Mutex<HashSet<String>>>,
    /// The `data.id`s it acted on, once per notification.
    acted: Arc<Mutex<Vec<String>>>,
}

async fn strict_hook(State(r): State<StrictReceiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let received = Received {
        path: uri.path().to_owned(),
        query,
        request_id: header("x-request-id"),
        signature: header("x-signature"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let secret = r.secret.lock().unwrap().clone();
    if !received.signed_with(&secret) {
        return AxumStatus::UNAUTHORIZED;
    }
    let ts: i64 = received
        .signature
        .split(',')
        .find_map(|part| part.strip_prefix("ts="))
        .and_then(|ts| ts.parse().ok())
        .unwrap_or_default();
    if (chrono::Utc::now().timestamp() - ts).abs() > TS_TOLERANCE_SECS {
        return AxumStatus::UNAUTHORIZED;
    }
    if r.seen.lock().unwrap().insert(received.request_id.clone()) {
        r.acted.lock().unwrap().push(received.query["data.id"].clone());
    }
    AxumStatus::OK
}

impl StrictReceiver {
    async fn start() -> StrictReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = StrictReceiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            secret: Arc::default(),
            seen: Arc::default(),
            acted: Arc::default(),
        };
        let app = Router::new().fallback(strict_hook).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{report}"))
}

#[tokio::test]
async fn a_receiver_that_verifies_signatures_passes_every_check() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let receiver = StrictReceiver::start().await;
    // The configured URL is used when none is given.
    *receiver.secret.lock().unwrap() = app.listen(&account, &receiver.url).await;

    let response = app.check_request(&account).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["url"], receiver.url.as_str());
    assert_eq!(report["passed"], true, "{report:#}");
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["valid", "tampered_data_id", "wrong_secret", "stale_ts", "duplicate"]);
    for (name, expected, status) in [
        ("valid", "accepted", 200),
        ("tampered_data_id", "refused", 401),
        ("wrong_secret", "refused", 401),
        ("stale_ts", "refused", 401),
        ("duplicate", "accepted_or_duplicate", 200),
    ] {
        let c = check(&report, name);
        assert_eq!((c["expected"].as_str(), c["status_code"].as_u64()), (Some(expected), Some(status)), "{c}");
        assert_eq!((&c["passed"], &c["error"]), (&json!(true), &Value::Null), "{c}");
        assert!(!c["reason"].as_str().unwrap().is_empty());
    }
    // The valid notification was acted on once, the repeat and the forgeries never.
    let acted = receiver.acted.lock().unwrap().clone();
    assert_eq!(acted.len(), 1, "{acted:?}");
    assert!(acted[0].starts_with("check-"), "{acted:?}");

    // An explicit URL wins over the configured one.
    let report = app.check_receiver(&account, json!({ "url": receiver.url })).await;
    assert_eq!(report["passed"], true, "{report:#}");
}

#[tokio::test]
async fn a_receiver_that_accepts_everything_fails_the_forgeries() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let secret = app.listen(&account, "http://127.0.0.1:9/configured").await;
    let receiver = Receiver::start().await;

    let report = app.check_receiver(&account, json!({ "url": receiver.url })).await;
    assert_eq!(report["url"], receiver.url.as_str());
    assert_eq!(report["passed"], false, "{report:#}");
    for name in ["valid", "duplicate"] {
        assert_eq!(check(&report, name)["passed"], true, "{report:#}");
    }
    for (name, words) in [
        ("tampered_data_id", "data.id was changed"),
        ("wrong_secret", "signed with the wrong secret: it does not verify x-signature"),
        ("stale_ts", "stale"),
    ] {
        let c = check(&report, name);
        assert_eq!((&c["passed"], c["status_code"].as_u64()), (&json!(false), Some(200)), "{c}");
        assert!(c["reason"].as_str().unwrap().contains(words), "{c}");
    }

    // What it got is shaped like a real payment delivery, signed as each case says.
    let received = receiver.received();
    assert_eq!(received.len(), 5);
    let [valid, tampered, wrong, stale, duplicate] = received.try_into().unwrap();
    let data_id = valid.query["data.id"].clone();
    assert!(data_id.starts_with("check-"));
    assert_eq!(valid.query["type"], "payment");
    assert_eq!(valid.path, "/hook");
    assert!(valid.signed_with(&secret));
    assert_eq!(valid.body["data"]["id"], data_id.as_str());
    assert_eq!(
        (valid.body["type"].as_str(), valid.body["action"].as_str()),
        (Some("payment"), Some("payment.updated"))
    );
    assert_eq!(valid.body["user_id"], account.user_id);
    assert_eq!(valid.body["live_mode"], false);

    assert_ne!(tampered.query["data.id"], data_id);
    assert_eq!(tampered.body["data"]["id"], tampered.query["data.id"].as_str());
    assert!(!tampered.signed_with(&secret), "signed for the original id");
    assert!(!wrong.signed_with(&secret));
    assert!(stale.signed_with(&secret), "signed correctly, only old");
    let ts = |r: &Received| -> i64 { r.signature[3..r.signature.find(',').unwrap()].parse().unwrap() };
    assert_eq!(ts(&valid) - ts(&stale), 600);
    assert_eq!(
        (&duplicate.request_id, &duplicate.signature, &duplicate.body, &duplicate.query),
        (&valid.request_id, &valid.signature, &valid.body, &valid.query)
    );
    let ids: HashSet<&str> = [&valid, &tampered, &wrong, &stale].iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn a_receiver_that_refuses_repeats_or_everything_fails() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let receiver = Receiver::start().await;
    app.listen(&account, &receiver.url).await;
    // Accepts the first, then answers 500 to everything (the repeat included).
    receiver.answer(&[200, 500, 500, 500, 500]);
    let report = app.check_receiver(&account, json!({})).await;
    assert_eq!(report["passed"], false);
    let repeat = check(&report, "duplicate");
    assert_eq!((&repeat["passed"], repeat["status_code"].as_u64()), (&json!(false), Some(500)), "{repeat}");
    assert!(repeat["reason"].as_str().unwrap().contains("at least once"), "{repeat}");
    // A 409 for the repeat is a refusal as a duplicate: it passes.
    receiver.answer(&[200, 401, 401, 401, 409]);
    let report = app.check_receiver(&account, json!({})).await;
    assert_eq!(report["passed"], true, "{report:#}");
}

#[tokio::test]
async fn an_unreachable_receiver_fails_every_check_in_a_report() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let report = app.check_receiver(&account, json!({ "url": "http://127.0.0.1:9/hook" })).await;
    assert_eq!(report["passed"], false);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    for c in checks {
        assert_eq!((&c["passed"], &c["status_code"]), (&json!(false), &Value::Null), "{c}");
        assert!(c["error"].as_str().is_some_and(|e| !e.is_empty()), "{c}");
        assert!(c["reason"].as_str().unwrap().contains("did not answer"), "{c}");
    }
}

#[tokio::test]
async fn the_check_refuses_what_it_cannot_use() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    // No URL given and none configured.
    assert_error(app.check_request(&account).send().await.unwrap(), 400, "bad_request").await;
    assert_error(app.check_request(&account).json(&json!({})).send().await.unwrap(), 400, "bad_request").await;
    for body in [
        json!({ "url": "ftp://example.com/hook" }),
        json!({ "url": "not a url" }),
        json!({ "url": format!("http://example.com/{}", "a".repeat(2048)) }),
        json!({ "url": 7 }),
        json!({ "url": "http://example.com/hook", "secret": "mine" }),
        json!(["http://example.com/hook"]),
        json!("http://example.com/hook"),
    ] {
        let response = app.check_request(&account).json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "bad_request").await;
        assert!(!error["message"].as_str().unwrap().is_empty(), "{body}: {error}");
    }
    let response = app.check_request(&account).header("content-type", "application/json").body("{").send();
    assert_error(response.await.unwrap(), 400, "bad_request").await;

    let anonymous = app.client.post(format!("{}{CHECK}", app.base)).json(&json!({ "url": "http://127.0.0.1:9/" }));
    assert_error(anonymous.send().await.unwrap(), 401, "unauthorized").await;
    let live = app.account(true).await;
    let response = app.check_request(&live).json(&json!({ "url": "http://127.0.0.1:9/" })).send().await.unwrap();
    assert_error(response, 403, "forbidden").await;
}
