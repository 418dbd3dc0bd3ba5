//! Throughput and latency over real HTTP, on a fresh SQLite store in a temporary
//! directory by default, or on the (empty) database STORE_URL names, e.g.
//! `postgres://postgres@127.0.0.1:5432/caja_bench`.
//!
//! `cargo run --release --example bench [REQUESTS] [STORE_URL]`: 64 concurrent
//! clients first create REQUESTS print actions (each on its own terminal), then
//! cancel every one of them; each request is a durable, audited, idempotent write.
//! Prints requests per second and latency percentiles.
//!
//! `cargo run --release --example bench scale [LARGE] [STORE_URL]`: reads as the
//! store grows. It stores 10,000 resources (half customers, half payout transactions
//! in payouts of 1,000), measures a lookup by a declared field (a customer search by
//! email) and a filtered page read (a payout's pending transactions, 50 from a random
//! offset), then grows the store to LARGE resources (default 1,000,000) and measures
//! again, and prints each figure at LARGE as a ratio to the 10,000 case.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caja::domain::{SiteId, Timestamp};
use caja::http::HttpConfig;
use caja::provision::AccountSpec;
use caja::server::{Server, ServerConfig};
use caja::{provision, store};
use serde_json::json;
use tokio::sync::Semaphore;

const CLIENTS: usize = 64;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("scale") {
        return scale::main().await;
    }
    let requests: usize = std::env::args().nth(1).map_or(Ok(5_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let url = std::env::args().nth(2).unwrap_or(sqlite);
    let store = store::open(&url).await?;
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let account = provision::create_account(store.as_ref(), AccountSpec::test(SiteId::Mlb), now).await?;
    let config = ServerConfig {
        http: HttpConfig {
            rate_limit_per_second: NonZeroU32::MAX,
            auth_failures_per_second: std::num::NonZeroU32::new(2).expect("non-zero"),
            idempotency_retention_ms: 86_400_000,
            request_timeout: Duration::from_secs(30),
            client_limits: caja::http::serve::ClientLimits::default(),
        },
        payout_processing_delay: Duration::from_secs(5),
        worker_tick: Duration::from_millis(250),
        webhook_retry: caja::domain::notification::RetryPolicy::DEFAULT,
    };
    let server = Server::start(store, "127.0.0.1:0", config).await?;
    let base = Arc::new(format!("http://{}", server.addr()));
    let token = Arc::new(account.access_token);
    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build()?;

    let kind = url.split("://").next().unwrap_or("?");
    println!("caja bench: {requests} creates, then {requests} cancels, {CLIENTS} concurrent clients, {kind}");
    let (ids, _) = run("create", requests, |i| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            let body = json!({
                "type": "print", "external_reference": format!("bench-{i}"), "content": "receipt",
                "config": { "point": { "terminal_id": format!("BENCH__{i}"), "subtype": "custom" } },
            });
            let response = client
                .post(format!("{base}/terminals/v1/actions"))
                .bearer_auth(token.as_str())
                .header("X-Idempotency-Key", format!("create-{i}"))
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(response.status() == 201, "create answered {}", response.status());
            let created: serde_json::Value = response.json().await?;
            Ok(created["id"].as_str().unwrap_or_default().to_owned())
        }
    })
    .await?;
    let ids = Arc::new(ids);
    run("cancel", requests, |i| {
        let (client, base, token, ids) = (client.clone(), base.clone(), token.clone(), ids.clone());
        async move {
            let response = client
                .post(format!("{base}/terminals/v1/actions/{}/cancel", ids[i]))
                .bearer_auth(token.as_str())
                .header("X-Idempotency-Key", format!("cancel-{i}"))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "cancel answered {}", response.status());
            Ok(String::new())
        }
    })
    .await?;
    server.stop().await?;
    Ok(())
}

mod scale;

/// Run `requests` calls of `call` with at most CLIENTS in flight; print the figures.
async fn run<F, Fut>(name: &str, requests: usize, call: F) -> anyhow::Result<(Vec<String>, Figures)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CLIENTS));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(requests);
    for i in 0..requests {
        let permit = permits.clone().acquire_owned().await?;
        let future = call(i);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = future.await;
            drop(permit);
            result.map(|out| (out, sent.elapsed()))
        }));
    }
    let mut outputs = Vec::with_capacity(requests);
    let mut latencies = Vec::with_capacity(requests);
    for task in tasks {
        let (out, latency) = task.await??;
        outputs.push(out);
        latencies.push(latency);
    }
    let figures = Figures::of(requests, started.elapsed(), latencies);
    println!(
        "{name:>6}: {:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({requests} in {:.2} s)",
        figures.per_second, figures.p50_ms, figures.p99_ms, figures.seconds,
    );
    Ok((outputs, figures))
}

/// Throughput and latency of one measured run.
struct Figures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    seconds: f64,
}

impl Figures {
    fn of(requests: usize, elapsed: Duration, mut latencies: Vec<Duration>) -> Figures {
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        Figures {
            per_second: requests as f64 / elapsed.as_secs_f64(),
            p50_ms: pct(0.50).as_secs_f64() * 1e3,
            p99_ms: pct(0.99).as_secs_f64() * 1e3,
            seconds: elapsed.as_secs_f64(),
        }
    }
}
