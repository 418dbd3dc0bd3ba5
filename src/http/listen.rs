//! `caja listen` (#17, caja's own, like `stripe listen`): a local webhook receiver
//! that prints every delivery as it arrives — its path and query, `x-request-id`,
//! `x-signature` (checked when given the account's secret), body — and, with
//! `--forward-to`, passes it on to your app unchanged and prints its answer and
//! latency. Point an account's notification URL at it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;

use crate::domain::notification::{signature_valid, DELIVERY_TIMEOUT_MS};

/// What `caja listen` is started with.
pub struct ListenConfig {
    /// The account's webhook secret, to check each `x-signature`.
    pub secret: Option<String>,
    /// Where to pass each delivery on (its path and query appended).
    pub forward_to: Option<String>,
}

#[derive(Clone)]
struct Listener {
    config: Arc<ListenConfig>,
    client: reqwest::Client,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

/// Serve on `listener` until `stop` resolves, printing one JSON line per delivery
/// to `out`.
pub async fn listen(
    listener: TcpListener,
    config: ListenConfig,
    out: Box<dyn Write + Send>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(DELIVERY_TIMEOUT_MS))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let state = Listener { config: Arc::new(config), client, out: Arc::new(Mutex::new(out)) };
    let app = Router::new().fallback(receive).with_state(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(stop).await
}

async fn receive(State(l): State<Listener>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let query: Vec<(String, String)> =
        uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let data_id = query.iter().find(|(k, _)| k == "data.id").map(|(_, v)| v.clone()).unwrap_or_default();
    let (request_id, signature) = (header("x-request-id"), header("x-signature"));
    let verified = match (&l.config.secret, &signature) {
        (None, _) => "not checked (no --secret)",
        (Some(_), None) => "missing",
        (Some(secret), Some(sig)) if signature_valid(sig, secret, &data_id, request_id.as_deref().unwrap_or("")) => {
            "valid"
        }
        (Some(_), Some(_)) => "INVALID",
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut line = serde_json::json!({
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "path": uri.path_and_query().map_or(uri.path(), |pq| pq.as_str()),
        "x-request-id": request_id,
        "x-signature": signature,
        "signature": verified,
        "body": serde_json::from_str::<serde_json::Value>(&text).unwrap_or(serde_json::Value::String(text)),
    });
    let response = match &l.config.forward_to {
        None => StatusCode::OK.into_response(),
        Some(target) => {
            let url = format!("{}{}", target.trim_end_matches('/'), uri.path_and_query().map_or("", |pq| pq.as_str()));
            let mut request = l.client.post(&url).body(body.clone());
            for name in ["content-type", "x-request-id", "x-signature"] {
                if let Some(value) = headers.get(name) {
                    request = request.header(name, value);
                }
            }
            let started = Instant::now();
            let answer = request.send().await;
            line["forwarded_to"] = url.into();
            line["latency_ms"] = (started.elapsed().as_millis() as u64).into();
            match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    line["status"] = status.into();
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY).into_response()
                }
                Err(err) => {
                    line["error"] = err.to_string().into();
                    StatusCode::BAD_GATEWAY.into_response()
                }
            }
        }
    };
    if let Ok(mut out) = l.out.lock() {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    response
}
