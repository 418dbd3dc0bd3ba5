//! The load benchmark: caja in its own process on a fresh store, driven over HTTP.
//!
//! ```text
//! cargo run --release --example bench -- [--store sqlite|postgres|URL] [--requests N] [--clients C]
//! ```
//!
//! - `--store sqlite` (default): a temporary SQLite file (WAL, `synchronous = FULL`).
//! - `--store postgres`: a fresh database on `CAJA_BENCH_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`), dropped afterwards; `pgbench -N`
//!   then runs against a scratch database on the same server, with the same client
//!   count, for the ratio.
//! - `--requests` per scenario (default 20,000 on SQLite, 5,000 on PostgreSQL);
//!   `--clients` connections at once (default 64).
//!
//! Scenarios, in order (each write is durable, audited and idempotent, with its own
//! key): `GET /health`; Point action create and cancel; the cancels again under their
//! keys (idempotent replays); payout create (one transaction) and transaction cancel;
//! payment profile create and cancel; online order (manual) create and cancel.
//!
//! The load generator is purpose-built (reqwest over kept-alive HTTP/1.1
//! connections, one task per client) because every write needs its own key and the
//! id an earlier scenario created; `/health` goes through the same client, so the
//! ratio compares like with like.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Set in the server process's environment: it runs `caja::cli::main`.
pub const CHILD_ENV: &str = "CAJA_BENCH_CHILD";

struct Options {
    store: String,
    requests: usize,
    clients: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { store: "sqlite".into(), requests: 0, clients: 64 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--store" => options.store = value()?,
            "--requests" => options.requests = value()?.parse()?,
            "--clients" => options.clients = value()?.parse()?,
            other => anyhow::bail!("unknown option {other} (see examples/bench/load.rs)"),
        }
    }
    if options.requests == 0 {
        options.requests = if options.store == "sqlite" { 20_000 } else { 5_000 };
    }
    Ok(options)
}

/// The store the server runs on, removed when dropped.
enum Store {
    Sqlite { url: String, _dir: tempfile::TempDir },
    Postgres { url: String, admin: String, name: String },
}

impl Store {
    fn create(kind: &str) -> anyhow::Result<Store> {
        Ok(match kind {
            "sqlite" => {
                let dir = tempfile::tempdir()?;
                Store::Sqlite { url: format!("sqlite://{}", dir.path().join("bench.db").display()), _dir: dir }
            }
            "postgres" => {
                let admin = std::env::var("CAJA_BENCH_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("caja_bench_{}", uuid::Uuid::new_v4().simple());
                psql(&admin, &format!("CREATE DATABASE {name}"))?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_owned();
                Store::Postgres { url: format!("{base}/{name}"), admin, name }
            }
            url => anyhow::bail!("--store is sqlite or postgres, not {url}"),
        })
    }

    fn url(&self) -> &str {
        match self {
            Store::Sqlite { url, .. } | Store::Postgres { url, .. } => url,
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres { admin, name, .. } = self {
            let _ = psql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let output = Command::new("psql").args([url, "-qAtc", sql]).output()?;
    anyhow::ensure!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

/// caja in its own process: this program, run again as `caja serve`.
struct Server {
    child: Child,
    base: String,
    token: String,
}

impl Server {
    fn start(url: &str) -> anyhow::Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(CHILD_ENV, "1")
            .env_remove("RUST_LOG")
            .args(["serve", "--listen", "127.0.0.1:0", "--database", url, "--rate-limit", "1000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let (mut base, mut token) = (None, None);
        for line in lines.by_ref() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("caja listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("TEST-")) {
                token = Some(t.trim_matches('\'').to_owned());
                break;
            }
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let base = base.ok_or_else(|| anyhow::anyhow!("caja serve did not start"))?;
        let token = token.ok_or_else(|| anyhow::anyhow!("caja serve printed no token"))?;
        Ok(Server { child, base, token })
    }

    /// The most resident memory the server has had, in MiB (`VmHWM`).
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok());
        kib.unwrap_or(0.0) / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request of a scenario: method, path, key, body, and the status that counts
/// as success.
struct Call {
    method: reqwest::Method,
    path: String,
    key: Option<String>,
    body: Option<Value>,
    expect: u16,
}

/// What one scenario measured.
struct Measured {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: usize,
    bodies: Vec<Value>,
}

/// Send `calls` from `clients` connections at once, each taking the next call as
/// soon as its last one was answered (closed loop: the peak rate).
async fn drive(client: &reqwest::Client, server: &Server, clients: usize, calls: Vec<Call>) -> Measured {
    drive_at(client, server, clients, calls, None).await
}

/// [`drive`], or, with `rate`, open loop: call `i` is sent at `i / rate` seconds from
/// the start whatever came before, so latency is measured at that offered load.
async fn drive_at(
    client: &reqwest::Client,
    server: &Server,
    clients: usize,
    calls: Vec<Call>,
    rate: Option<f64>,
) -> Measured {
    let calls = Arc::new(calls);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients = if rate.is_some() { clients.max(256) } else { clients };
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, calls, next) = (client.clone(), calls.clone(), next.clone());
        let (base, token) = (server.base.clone(), server.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = calls.get(i) else { break };
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let mut request =
                    client.request(call.method.clone(), format!("{base}{}", call.path)).bearer_auth(&token);
                if let Some(key) = &call.key {
                    request = request.header("X-Idempotency-Key", key);
                }
                if let Some(body) = &call.body {
                    request = request.json(body);
                }
                let sent = Instant::now();
                let outcome = match request.send().await {
                    Ok(response) => {
                        let ok = response.status().as_u16() == call.expect;
                        let body = response.json::<Value>().await.unwrap_or(Value::Null);
                        (ok, body)
                    }
                    Err(_) => (false, Value::Null),
                };
                seen.push((i, sent.elapsed(), outcome));
            }
            seen
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    results.sort_by_key(|(i, _, _)| *i);
    let mut latencies: Vec<Duration> = results.iter().map(|(_, l, _)| *l).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    Measured {
        per_second: results.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().map_or(0.0, |l| l.as_secs_f64() * 1e3),
        errors: results.iter().filter(|(_, _, (ok, _))| !ok).count(),
        bodies: results.into_iter().map(|(_, _, (_, body))| body).collect(),
    }
}

fn post(path: String, key: String, body: Option<Value>, expect: u16) -> Call {
    Call { method: reqwest::Method::POST, path, key: Some(key), body, expect }
}

/// An id as text, whether the API gives it as a string or a number.
fn text(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_owned)
}

fn ids(measured: &Measured, field: &str) -> Vec<String> {
    measured.bodies.iter().map(|b| text(&b[field])).collect()
}

pub async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let store = Store::create(&options.store)?;
    let server = Server::start(store.url())?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(options.clients).build()?;
    let (n, clients) = (options.requests, options.clients);
    println!(
        "caja load benchmark: {} store, {n} requests per scenario, {clients} clients, server pid {}",
        options.store,
        server.child.id()
    );
    println!(
        "{:<26} {:>9} {:>8} {:>8} {:>8} {:>7} {:>10}",
        "scenario", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "/ health"
    );
    let (health_rate, cancel_rate) = (std::cell::Cell::new(0.0), std::cell::Cell::new(0.0));
    let report = |name: &str, m: &Measured| {
        if name == "GET /health" {
            health_rate.set(m.per_second);
        }
        if name == "Point action cancel" {
            cancel_rate.set(m.per_second);
        }
        println!(
            "{name:<26} {:>9.0} {:>8.2} {:>8.2} {:>8.1} {:>7} {:>9.1}%",
            m.per_second,
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            m.errors,
            100.0 * m.per_second / health_rate.get().max(1.0)
        );
    };

    // Warm the connections up, then measure the HTTP stack alone.
    let warm = (0..clients * 10).map(|_| Call {
        method: reqwest::Method::GET,
        path: "/health".into(),
        key: None,
        body: None,
        expect: 200,
    });
    drive(&client, &server, clients, warm.collect()).await;
    let health = (0..n).map(|_| Call {
        method: reqwest::Method::GET,
        path: "/health".into(),
        key: None,
        body: None,
        expect: 200,
    });
    report("GET /health", &drive(&client, &server, clients, health.collect()).await);

    let creates = (0..n).map(|i| {
        let body = json!({ "type": "print", "external_reference": format!("bench-{i}"), "content": "receipt",
                           "config": { "point": { "terminal_id": format!("BENCH__{i}"), "subtype": "custom" } } });
        post("/terminals/v1/actions".into(), format!("action-{i}"), Some(body), 201)
    });
    let created = drive(&client, &server, clients, creates.collect()).await;
    report("Point action create", &created);
    let actions = ids(&created, "id");
    let cancels = || {
        actions
            .iter()
            .enumerate()
            .map(|(i, id)| post(format!("/terminals/v1/actions/{id}/cancel"), format!("cancel-{i}"), None, 200))
    };
    report("Point action cancel", &drive(&client, &server, clients, cancels().collect()).await);
    report("replay (cancel again)", &drive(&client, &server, clients, cancels().collect()).await);
    // Latency at half the peak: fresh actions (made first, not measured), cancelled
    // at a steady half of the cancel rate just measured.
    let creates = (0..n).map(|i| {
        let body = json!({ "type": "print", "external_reference": format!("half-{i}"), "content": "receipt",
                           "config": { "point": { "terminal_id": format!("HALF__{i}"), "subtype": "custom" } } });
        post("/terminals/v1/actions".into(), format!("half-action-{i}"), Some(body), 201)
    });
    let more = ids(&drive(&client, &server, clients, creates.collect()).await, "id");
    let half = cancel_rate.get() / 2.0;
    let paced = more
        .iter()
        .enumerate()
        .map(|(i, id)| post(format!("/terminals/v1/actions/{id}/cancel"), format!("half-cancel-{i}"), None, 200));
    let at_half = drive_at(&client, &server, clients, paced.collect(), Some(half)).await;
    report(&format!("cancel at {half:.0}/s (half)"), &at_half);

    let payouts = (0..n).map(|i| {
        // Scheduled far ahead, so the worker leaves them pending for the cancels.
        let body = json!({ "external_reference": format!("bench-{i}"), "schedule_date": "2030-01-01T10:00:00", "transactions": [{
            "type": "account", "account": { "id": "123456", "holder": "Ana" },
            "amount": { "currency": "BRL", "value": 10 }, "external_reference": "tx" }] });
        post("/v1/payouts".into(), format!("payout-{i}"), Some(body), 202)
    });
    let created = drive(&client, &server, clients, payouts.collect()).await;
    report("payout create", &created);
    let cancels = created.bodies.iter().enumerate().map(|(i, b)| {
        let path = format!("/v1/payouts/{}/transactions/{}/cancel", text(&b["id"]), text(&b["transactions"][0]["id"]));
        Call { method: reqwest::Method::PUT, path, key: Some(format!("tx-cancel-{i}")), body: None, expect: 204 }
    });
    report("payout transaction cancel", &drive(&client, &server, clients, cancels.collect()).await);

    // Payment profiles hang off customers: 100 made first, not measured.
    let customers = (0..100).map(|i| {
        post(
            "/v1/customers".into(),
            format!("customer-{i}"),
            Some(json!({ "email": format!("bench-{i}@example.com") })),
            201,
        )
    });
    let customers = ids(&drive(&client, &server, clients, customers.collect()).await, "id");
    let profiles = (0..n).map(|i| {
        let body = json!({ "max_day_overdue": 5, "sequence_control": "MANUAL" });
        post(
            format!("/v1/customers/{}/payment-profiles", customers[i % customers.len()]),
            format!("profile-{i}"),
            Some(body),
            201,
        )
    });
    let created = drive(&client, &server, clients, profiles.collect()).await;
    report("payment profile create", &created);
    let cancels = ids(&created, "id").into_iter().enumerate().map(|(i, id)| {
        let path = format!("/v1/customers/{}/payment-profiles/{id}/cancel", customers[i % customers.len()]);
        post(path, format!("profile-cancel-{i}"), None, 204)
    });
    report("payment profile cancel", &drive(&client, &server, clients, cancels.collect()).await);

    let orders = (0..n).map(|i| {
        let body = json!({ "type": "online", "processing_mode": "manual", "total_amount": "10.00", "external_reference": format!("bench-{i}") });
        post("/v1/orders".into(), format!("order-{i}"), Some(body), 201)
    });
    let created = drive(&client, &server, clients, orders.collect()).await;
    report("order create", &created);
    let cancels = ids(&created, "id")
        .into_iter()
        .enumerate()
        .map(|(i, id)| post(format!("/v1/orders/{id}/cancel"), format!("order-cancel-{i}"), None, 200));
    report("order cancel", &drive(&client, &server, clients, cancels.collect()).await);

    println!("caja peak RSS: {:.0} MiB", server.peak_rss_mib());
    let (cancel_rate, health_rate) = (cancel_rate.get(), health_rate.get());
    println!("Point action cancel / GET /health: {:.1}%", 100.0 * cancel_rate / health_rate.max(1.0));
    println!("Point action cancel at half its peak rate: p99 {:.2} ms", at_half.p99_ms);
    if let Store::Postgres { admin, .. } = &store {
        let tps = pgbench(admin, clients)?;
        println!("pgbench -N -c {clients} -j 2 -T 10 on the same server: {tps:.0} tps");
        println!("Point action cancel / pgbench -N: {:.2}x", cancel_rate / tps.max(1.0));
    }
    Ok(())
}

/// `pgbench -N` (simple updates, no branch contention) on a scratch database of the
/// same server, with `clients` clients: its tps.
fn pgbench(admin: &str, clients: usize) -> anyhow::Result<f64> {
    let name = format!("caja_pgbench_{}", uuid::Uuid::new_v4().simple());
    psql(admin, &format!("CREATE DATABASE {name}"))?;
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    let url = format!("{base}/{name}");
    let run = || -> anyhow::Result<f64> {
        let init = Command::new("pgbench").args(["-i", "-q", "-s", "10", &url]).output()?;
        anyhow::ensure!(init.status.success(), "pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
        let clients = clients.to_string();
        let out = Command::new("pgbench").args(["-N", "-c", &clients, "-j", "2", "-T", "10", &url]).output()?;
        anyhow::ensure!(out.status.success(), "pgbench: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {text}"))
    };
    let tps = run();
    let _ = psql(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    tps
}
