//! `GET /metrics`: caja's own figures in Prometheus text format (caja's, not a
//! Mercado Pago endpoint; no token, no ids or secrets in it). Recorded through the
//! `metrics` facade wherever they happen, rendered by `metrics-exporter-prometheus`.
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `caja_http_requests_total{method,route,status}` | counter | requests answered, by route template |
//! | `caja_http_request_duration_seconds{method,route}` | histogram | time to the response head |
//! | `caja_idempotency_replays_total` | counter | answers replayed under an earlier key |
//! | `caja_idempotency_conflicts_total` | counter | a key reused for another request (409) |
//! | `caja_write_queue_depth` | gauge | SQLite: commands waiting for the writer |
//! | `caja_commit_batch_size` | histogram | SQLite: commands per group commit |
//! | `caja_webhook_claimed` | gauge | notifications due and claimed at the last tick (the backlog in reach) |
//! | `caja_webhook_deliveries_total{outcome}` | counter | attempts: `delivered`, `retry` (failed, tried again later), `failed` (no attempt left) |
//! | `caja_webhook_delivery_seconds` | histogram | time of each attempt |
//! | `caja_worker_moved_total{step}` | counter | payouts advanced, orders and payments expired |
//! | `caja_worker_last_success_timestamp_seconds` | gauge | when the worker last finished a step without error: `time() - this` is its lag |

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Commands per group commit (the writer takes at most 256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process's recorder, installed on first use (one per process: every server in
/// it shares the figures).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("caja_commit_batch_size".into()), BATCH_BUCKETS))
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a program embedding caja): then
        // this handle renders what caja records through its own recorder only.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Install the recorder; called when a server starts, so figures from the first
/// request on are kept.
pub fn install() {
    handle();
}

/// The `/metrics` handler.
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// Count and time every routed request, labelled by its route template (never the
/// raw path, which holds ids).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let seconds = started.elapsed().as_secs_f64();
    metrics::counter!("caja_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("caja_http_request_duration_seconds", "method" => method, "route" => route).record(seconds);
    if response.headers().contains_key(super::request::REPLAYED_HEADER) {
        metrics::counter!("caja_idempotency_replays_total").increment(1);
    }
    response
}
