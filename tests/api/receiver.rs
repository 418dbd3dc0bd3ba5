//! A real webhook receiver for the tests: an HTTP server on port 0 that answers as it
//! is told (a script of statuses, a delay) and keeps what it received. Signatures are
//! checked with the documented algorithm, written here from the contract alone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub query: HashMap<String, String>,
    pub request_id: String,
    pub signature: String,
    pub body: Value,
}

impl Received {
    /// `x-signature: ts=<ts>,v1=<hex HMAC-SHA256(secret, "id:<data.id>;request-id:<x-request-id>;ts:<ts>;")>`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let parts: HashMap<&str, &str> = self.signature.split(',').filter_map(|p| p.split_once('=')).collect();
        let (Some(ts), Some(v1)) = (parts.get("ts"), parts.get("v1")) else {
            return false;
        };
        let data_id = self.query.get("data.id").map(String::as_str).unwrap_or_default();
        let manifest = format!("id:{data_id};request-id:{};ts:{ts};", self.request_id);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(manifest.as_bytes());
        hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<u16>,
    delay: Duration,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn hook(State(inner): State<Arc<Mutex<Inner>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let query = uri
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
    let (status, delay) = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(received);
        (inner.script.pop_front().unwrap_or(200), inner.delay)
    };
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().fallback(hook).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inner }
    }

    /// Answer these statuses first, then 200.
    pub fn answer(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Wait until `done` holds for what was received (or fail after 10 s).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.received());
    }
}
