//! What the fuzz targets share.
//!
//! The domain targets (`ids`, `amounts`, …) call caja's parsers directly. The body
//! targets (`body_<family>`, `request_line`) cannot: each family's body structs and
//! their conversion into a domain draft are private to its `http` module, so they
//! send the fuzzed bytes through caja's real router instead — in process, no socket —
//! over a SQLite store on tmpfs, as one test account that owns one resource of every
//! family (made at start-up with bodies from `tests/api`). That runs exactly the
//! code a client's bytes reach: `strict_json`, the family's body struct, its draft,
//! the domain's validation and the engine, and checks what every answer must be:
//!
//! - never a 5xx (a panic in a handler would be caught and answered 500; libFuzzer's
//!   panic hook aborts first, so it is reported as a crash either way),
//! - a JSON body (or none) on every JSON route,
//! - sent again under the same `X-Idempotency-Key`, the same status and the same
//!   bytes (the exactly-once promise).
//!
//! A body may name the start-up resources as `{customer}`, `{card_token}`, … (see
//! [`App::fill`]); the seeds do, so the fuzzer starts from requests that succeed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use caja::domain::{SiteId, Timestamp};
use caja::http::HttpConfig;
use caja::provision::{self, AccountSpec};
use caja::store::Store;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Read at most this much of an answer, in bytes.
const ANSWER_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Where the store's file goes: `CAJA_FUZZ_DB_DIR`, else `/dev/shm` when there is
/// one (commits there cost no disk flush), else the temporary directory.
const DB_DIR_ENV: &str = "CAJA_FUZZ_DB_DIR";

/// How a route takes its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A JSON API write: `X-Idempotency-Key`, a JSON answer, replayed byte for byte.
    Json,
    /// A payout create signed with the account's registered key (`X-Signature` over
    /// the exact body, with `X-Enforce-Signature` and `X-Test-Token`).
    Signed,
    /// The hosted checkout's form (`application/x-www-form-urlencoded`, HTML answers).
    Form,
}

/// A write a body target sends its bytes to; `{name}`s in the path are filled in.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub kind: Kind,
}

impl Route {
    pub const fn json(method: &'static str, path: &'static str) -> Route {
        Route { method, path, kind: Kind::Json }
    }
}

/// A body target's input: a route chosen by the first byte (`'0'` is the first
/// route, `'1'` the next, …; any byte picks one), then the body.
pub fn route_and_body<'a>(routes: &'a [Route], data: &'a [u8]) -> Option<(&'a Route, &'a [u8])> {
    let (&first, body) = data.split_first()?;
    Some((&routes[usize::from(first.wrapping_sub(b'0')) % routes.len()], body))
}

/// An answer as the client got it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// caja in process: its router, the account's token and the start-up resources.
pub struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    signing: SigningKey,
    keys: AtomicU64,
    /// `{name}` → a value made at start-up.
    names: Vec<(String, String)>,
    _store: Arc<dyn Store>,
}

impl App {
    /// The one app of this process, started on first use.
    pub fn get() -> &'static App {
        static APP: OnceLock<App> = OnceLock::new();
        APP.get_or_init(App::start)
    }

    fn start() -> App {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
        let dir = std::env::var_os(DB_DIR_ENV).map(std::path::PathBuf::from).unwrap_or_else(|| {
            let shm = std::path::Path::new("/dev/shm");
            if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            }
        });
        let path = dir.join(format!("caja-fuzz-{}.db", std::process::id()));
        for stale in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{stale}", path.display()));
        }
        let signing = SigningKey::from_bytes(&[7; 32]);
        let (store, token) = runtime.block_on(async {
            let store = caja::store::open(&format!("sqlite://{}", path.display())).await.expect("open the store");
            let spec = AccountSpec { site_id: SiteId::Mlb, live_mode: false, payouts_enabled: true };
            let issued = provision::create_account(store.as_ref(), spec, now()).await.expect("an account");
            let pem = signing.verifying_key().to_public_key_pem(Default::default()).expect("a PEM key");
            provision::add_signing_key(store.as_ref(), issued.user_id, &pem, now()).await.expect("a signing key");
            (store, issued.access_token)
        });
        let config = HttpConfig {
            rate_limit_per_second: std::num::NonZeroU32::MAX,
            auth_failures_per_second: std::num::NonZeroU32::MAX,
            idempotency_retention_ms: 24 * 3600 * 1000,
            request_timeout: Duration::from_secs(60),
            client_limits: caja::http::serve::ClientLimits::default(),
            // The router under fuzzing logs nothing (the state gets no log).
            request_log: caja::http::request_log::Retention { rows_max: 0, age_ms: 1 },
        };
        let state = caja::http::AppState::new(store.clone(), &config);
        let router = caja::http::router(state, config.request_timeout);
        let mut app =
            App { runtime, router, token, signing, keys: AtomicU64::new(0), names: Vec::new(), _store: store };
        app.names = app.make_resources();
        app
    }

    /// One resource of every family, made with the tests' bodies; `{name}` → its id.
    fn make_resources(&self) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = Vec::new();
        let mut name = |key: &str, value: &Value| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("{key}: no id in {other}"),
            };
            names.push((format!("{{{key}}}"), text.clone()));
            text
        };
        let action = json!({
            "type": "print", "external_reference": "order-1",
            "config": { "point": { "terminal_id": TERMINAL, "subtype": "custom" } }, "content": "Hello",
        });
        name("action", &self.made("POST", "/terminals/v1/actions", action)["id"]);
        let payout = json!({
            "external_reference": "payout-1",
            "transactions": [{
                "type": "account", "account": { "id": "123456", "holder": "Ana" },
                "amount": { "currency": "BRL", "value": 10 }, "description": "supplier", "external_reference": "tx-1",
            }],
        });
        let payout = self.made("POST", "/v1/payouts", payout);
        name("payout", &payout["id"]);
        name("transaction", &payout["transactions"][0]["id"]);

        let customer = json!({ "email": "ana@example.com", "first_name": "Ana" });
        let customer = name("customer", &self.made("POST", "/v1/customers", customer)["id"]);
        let saved = json!({ "token": self.card_token() });
        let card = name("card", &self.made("POST", &format!("/v1/customers/{customer}/cards"), saved)["id"]);
        let profiles = format!("/v1/customers/{customer}/payment-profiles");
        let profile = name("profile", &self.made("POST", &profiles, json!({ "description": "gym" }))["id"]);
        let card_id = card.parse::<i64>().expect("a numeric card id");
        let method = json!({ "id": "master", "type": "credit_card", "token": self.card_token(), "card_id": card_id });
        let ready = self.made("POST", &format!("{profiles}/{profile}/payment-methods"), method);
        name("method", &ready["payment_methods"][0]["payment_method_id"]);

        let manual = json!({
            "type": "online", "processing_mode": "manual", "total_amount": "10.00", "external_reference": "manual-1",
        });
        let order = name("order", &self.made("POST", "/v1/orders", manual)["id"]);
        let pix =
            json!({ "payments": [{ "amount": "10.00", "payment_method": { "id": "pix", "type": "bank_transfer" } }] });
        let added = self.made("POST", &format!("/v1/orders/{order}/transactions"), pix);
        name("order_payment", &added["payments"][0]["id"]);
        let paid = json!({
            "type": "online", "total_amount": "100.00", "external_reference": "paid-1",
            "payer": { "email": "test@testuser.com" },
            "transactions": { "payments": [{
                "amount": "100.00",
                "payment_method": { "id": "master", "type": "credit_card", "token": self.card_token(), "installments": 1 },
            }] },
        });
        let paid = self.made("POST", "/v1/orders", paid);
        name("paid_order", &paid["id"]);
        name("paid_order_payment", &paid["transactions"]["payments"][0]["id"]);

        let card_payment = |capture: bool| {
            json!({
                "transaction_amount": 110.5, "token": self.card_token(), "installments": 1, "capture": capture,
                "payer": { "email": "test@testuser.com" },
            })
        };
        let payment = name("payment", &self.made("POST", "/v1/payments", card_payment(true))["id"]);
        let refund = self.made("POST", &format!("/v1/payments/{payment}/refunds"), json!({ "amount": 10 }));
        name("refund", &refund["id"]);
        name("held_payment", &self.made("POST", "/v1/payments", card_payment(false))["id"]);
        let pix =
            json!({ "transaction_amount": 100, "payment_method_id": "pix", "payer": { "email": "test@testuser.com" } });
        name("pix_payment", &self.made("POST", "/v1/payments", pix)["id"]);

        let preference = json!({
            "items": [{ "id": "sku-1", "title": "Point Mini", "quantity": 2, "unit_price": 58.8 }],
            "external_reference": "cart-1",
        });
        let preference = name("preference", &self.made("POST", "/checkout/preferences", preference)["id"]);
        let merchant_order = self.made("POST", "/merchant_orders", json!({ "preference_id": preference }));
        name("merchant_order", &merchant_order["id"]);
        let page = self.send("GET", &format!("/checkout/v1/redirect?pref_id={preference}"), None, &[], Vec::new());
        let html = String::from_utf8_lossy(&page.expect("a checkout page").body).into_owned();
        let nonce = html.split("name=\"nonce\" value=\"").nth(1).and_then(|rest| rest.split('"').next());
        name("nonce", &Value::String(nonce.expect("a nonce in the checkout page").to_owned()));

        // Last, so that it stays unused until a fuzzed body spends it.
        name("card_token", &Value::String(self.card_token()));
        name("terminal", &Value::String(TERMINAL.to_owned()));
        names
    }

    fn card_token(&self) -> String {
        let body = json!({
            "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030, "security_code": "123",
            "cardholder": { "name": "APRO", "identification": { "type": "CPF", "number": "12345678909" } },
        });
        self.made("POST", "/v1/card_tokens", body)["id"].as_str().expect("a card token id").to_owned()
    }

    /// A write that must succeed during start-up, and its JSON answer.
    fn made(&self, method: &str, path: &str, body: Value) -> Value {
        let key = self.fresh_key();
        let body = serde_json::to_vec(&body).expect("JSON");
        let answer = self.send(method, path, Some(&key), &[], body).expect("a well-formed start-up request");
        let text = String::from_utf8_lossy(&answer.body);
        assert!(answer.status.is_success(), "start-up {method} {path}: {} {text}", answer.status);
        serde_json::from_slice(&answer.body).expect("a JSON answer")
    }

    /// An `X-Idempotency-Key` this process has not sent before.
    pub fn fresh_key(&self) -> String {
        format!("fuzz-{}", self.keys.fetch_add(1, Ordering::Relaxed))
    }

    /// `bytes` with every `{name}` of a start-up resource replaced by its value.
    pub fn fill(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        if !out.contains(&b'{') {
            return out;
        }
        for (name, value) in &self.names {
            out = replace(&out, name.as_bytes(), value.as_bytes());
        }
        out
    }

    /// One request, as its own client would send it. `None` when `path` is not a
    /// request target at all (no HTTP server would let it through to caja).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Option<Answer> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        let uri: axum::http::Uri = path.parse().ok()?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("x-idempotency-key", key);
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Body::from(body)).ok()?;
        let router = self.router.clone();
        let (status, body) = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
            let status = response.status();
            (status, axum::body::to_bytes(response.into_body(), ANSWER_BYTES_MAX).await)
        });
        Some(Answer { status, body: body.expect("an answer body").to_vec() })
    }

    /// The check of every body target: `body` (its `{name}`s filled in) to `route`,
    /// twice under one key; see the module's doc for what must hold.
    pub fn exchange(&self, route: &Route, body: &[u8]) {
        let path = String::from_utf8(self.fill(route.path.as_bytes())).expect("a UTF-8 route");
        let body = self.fill(body);
        let key = self.fresh_key();
        let mut headers: Vec<(&str, String)> = Vec::new();
        if route.kind == Kind::Signed {
            let signature = self.signing.sign(&body).to_bytes();
            headers.push(("x-signature", base64::engine::general_purpose::STANDARD.encode(signature)));
            headers.push(("x-enforce-signature", "true".into()));
            headers.push(("x-test-token", "true".into()));
        }
        if route.kind == Kind::Form {
            headers.push(("content-type", "application/x-www-form-urlencoded".into()));
        }
        let send = || self.send(route.method, &path, Some(&key), &headers, body.clone()).expect("a route path");
        let first = send();
        check_answer(route.method, &path, route.kind, &first, &body);
        let again = send();
        assert_eq!(
            (again.status, &again.body),
            (first.status, &first.body),
            "{} {path}: the same key answered differently the second time; body {:?}",
            route.method,
            String::from_utf8_lossy(&body)
        );
    }
}

/// A start-up terminal (any id of letters, digits and `_` is one).
const TERMINAL: &str = "NEWLAND_N950__N950NCB123456789";

/// What every answer must be: no 5xx, and JSON (or nothing) unless it is a page.
pub fn check_answer(method: &str, path: &str, kind: Kind, answer: &Answer, sent: &[u8]) {
    let what = || format!("{method} {path}, body {:?}", String::from_utf8_lossy(sent));
    assert!(
        !answer.status.is_server_error(),
        "{}: {} {}",
        what(),
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    if kind != Kind::Form && !answer.body.is_empty() {
        let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(&answer.body);
        assert!(parsed.is_ok(), "{}: not JSON: {}", what(), String::from_utf8_lossy(&answer.body));
    }
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
