//! caja's benchmarks.
//!
//! `cargo run --release --example bench [-- OPTIONS]`: the load benchmark (#11). It
//! starts caja as a separate process (this program re-run as `caja serve`) on a fresh
//! store, drives it over HTTP, and prints for each scenario requests per second,
//! p50/p99/max latency, errors, caja's peak RSS and the ratio to `GET /health`
//! measured in the same run; on PostgreSQL also `pgbench -N` at the same client
//! count, and caja's ratio to it. See `load.rs` for the scenarios and options.
//!
//! `cargo run --release --example bench scale [LARGE] [STORE_URL]`: reads as the
//! store grows. It stores 10,000 resources (half customers, half payout transactions
//! in payouts of 1,000), measures a lookup by a declared field (a customer search by
//! email) and a filtered page read (a payout's pending transactions, 50 from a random
//! offset), then grows the store to LARGE resources (default 1,000,000) and measures
//! again, and prints each figure at LARGE as a ratio to the 10,000 case; it also
//! cancels 1,000 pending transactions spread over the store (durable writes) at each size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

const CLIENTS: usize = 64;

fn main() -> anyhow::Result<()> {
    // The server half of the load benchmark: this program, run again as `caja`.
    if std::env::var_os(load::CHILD_ENV).is_some() {
        // It runs until the benchmark kills it; a failure to start shows as no
        // "caja listening on" line, which the benchmark reports.
        let _ = caja::cli::main();
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if std::env::args().nth(1).as_deref() == Some("scale") {
        return runtime.block_on(scale::main());
    }
    runtime.block_on(load::main())
}

mod load;
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
