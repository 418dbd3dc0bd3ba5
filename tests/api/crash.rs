//! Crash consistency (#12 item 1): `caja serve` under concurrent load of every family
//! is killed with SIGKILL at seeded random moments and restarted on the same store;
//! on PostgreSQL the database's backends are also terminated mid-load. Afterwards:
//!
//! - every request that got an answer (a 2xx or a stored 4xx) replays byte for byte
//!   with `X-Idempotency-Replayed: true`;
//! - every request whose answer was lost runs once when retried, then replays;
//! - every audit record made under a key belongs to a request answered 2xx, and every
//!   2xx write left one; a create's key made exactly the resources its answer names;
//! - every notification has the state change it announces; for the families that
//!   announce every change, each change has exactly one;
//! - `caja audit verify` finds every chain intact and ending in its resource's status;
//! - the server came back every time with no manual step.
//!
//! Bounded by `CAJA_CRASH_KILLS` (default 20) and seeded by `CAJA_CRASH_SEED`
//! (default 12); it prints its figures.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{on_postgres, TestDb};

const CLIENTS: usize = 8;
const VIRTUAL_TERMINAL: &str = "NEWLAND_N950__SBX0000001";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `caja` on the command line, on the test's store.
fn caja(db: &TestDb, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(args)
        .args(["--database", &db.url])
        .env_remove("CAJA_DATABASE_URL")
        .output()
        .expect("caja runs");
    assert!(output.status.success(), "caja {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// One `caja serve` process, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db: &TestDb) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url, "--rate-limit", "1000000"])
            .args(["--payout-processing-delay", "0"])
            .env_remove("CAJA_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("caja serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let line = BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.starts_with("caja listening on "));
        let line = line.expect("caja serve came back on its own and printed its address");
        let base = line.split_whitespace().nth(3).expect("address").to_owned();
        Server { child, base }
    }

    fn kill(mut self) {
        // std's kill is SIGKILL on Unix: no graceful stop, no flush.
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A write as sent, and the first answer it got (`None`: the answer was lost).
#[derive(Clone, Debug)]
struct Sent {
    method: Method,
    path: String,
    key: String,
    body: Option<Value>,
    answer: Option<(StatusCode, Vec<u8>)>,
}

/// What the clients have learnt so far: ids to move, and every write sent.
#[derive(Default)]
struct Known {
    actions: Vec<String>,
    transactions: Vec<(String, String)>,
    customers: Vec<String>,
    profiles: Vec<(String, String)>,
    orders: Vec<String>,
    payments: Vec<String>,
    sent: Vec<Sent>,
}

fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())].clone())
}

/// The next write a client sends: a create, a move of something created earlier, or
/// a retry of an earlier write under its own key.
fn next_write(rng: &mut StdRng, known: &Known, n: u64) -> (Method, String, String, Option<Value>) {
    let key = format!("crash-{n}-{}", rng.random::<u32>());
    let post = |path: String, body: Option<Value>| (Method::POST, path, key.clone(), body);
    let choice = rng.random_range(0..16);
    let moved = match choice {
        0 => pick(rng, &known.actions).map(|id| post(format!("/terminals/v1/actions/{id}/cancel"), None)),
        1 => pick(rng, &known.actions).map(|id| {
            let status = ["at_terminal", "processed", "failed"][rng.random_range(0..3)];
            post(format!("/terminals/v1/actions/{id}/events"), Some(json!({ "status": status })))
        }),
        2 => pick(rng, &known.transactions).map(|(p, t)| {
            let note = json!({ "deleted_by": "crash", "comments": "killed" });
            (Method::PUT, format!("/v1/payouts/{p}/transactions/{t}/cancel"), key.clone(), Some(note))
        }),
        3 => pick(rng, &known.transactions).map(|(p, t)| {
            let status = ["in_process", "processed", "failed"][rng.random_range(0..3)];
            post(format!("/v1/payouts/{p}/transactions/{t}/events"), Some(json!({ "status": status })))
        }),
        4 => pick(rng, &known.customers).map(|c| {
            let body = json!({ "description": "gym", "max_day_overdue": 5, "sequence_control": "MANUAL" });
            post(format!("/v1/customers/{c}/payment-profiles"), Some(body))
        }),
        5 => pick(rng, &known.profiles)
            .map(|(c, p)| post(format!("/v1/customers/{c}/payment-profiles/{p}/cancel"), None)),
        6 => pick(rng, &known.orders).map(|id| {
            let status = ["at_terminal", "processed", "canceled", "failed"][rng.random_range(0..4)];
            post(format!("/v1/orders/{id}/events"), Some(json!({ "status": status })))
        }),
        7 => pick(rng, &known.orders).map(|id| post(format!("/v1/orders/{id}/refund"), None)),
        8 => pick(rng, &known.payments)
            .map(|id| post(format!("/v1/payments/{id}/events"), Some(json!({ "status": "approved" })))),
        9 => pick(rng, &known.payments)
            .map(|id| post(format!("/v1/payments/{id}/refunds"), Some(json!({ "amount": 10 })))),
        10 | 11 => pick(rng, &known.sent).map(|s| (s.method, s.path, s.key, s.body)),
        _ => None,
    };
    moved.unwrap_or_else(|| match rng.random_range(0..5) {
        0 => {
            let terminal = format!("NEWLAND_N950__N950NCB{:09}", rng.random_range(0..40));
            let body = json!({ "type": "print", "external_reference": "crash",
                               "config": { "point": { "terminal_id": terminal, "subtype": "custom" } }, "content": "Hi" });
            post("/terminals/v1/actions".into(), Some(body))
        }
        1 => {
            let transaction = |value: u32| {
                json!({ "type": "account", "account": { "id": "123456", "holder": "Ana" },
                        "amount": { "currency": "BRL", "value": value }, "external_reference": "tx" })
            };
            let body = json!({ "external_reference": "crash", "config": { "notification_url": "http://127.0.0.1:9/payout" },
                               "transactions": [transaction(10), transaction(11)] });
            post("/v1/payouts".into(), Some(body))
        }
        2 => post("/v1/customers".into(), Some(json!({ "email": format!("{key}@example.com") }))),
        3 => {
            let body = json!({ "type": "point", "external_reference": "crash",
                               "transactions": { "payments": [{ "amount": "50.00" }] },
                               "config": { "point": { "terminal_id": VIRTUAL_TERMINAL } } });
            post("/v1/orders".into(), Some(body))
        }
        _ => {
            let body = json!({ "transaction_amount": 100, "payment_method_id": "pix",
                               "payer": { "email": "test@testuser.com" } });
            post("/v1/payments".into(), Some(body))
        }
    })
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    (method, path, key, body): &(Method, String, String, Option<Value>),
) -> Result<(StatusCode, bool, Vec<u8>), reqwest::Error> {
    let mut request =
        client.request(method.clone(), format!("{base}{path}")).bearer_auth(token).header("X-Idempotency-Key", key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let replayed = response.headers().get("x-idempotency-replayed").is_some_and(|v| v == "true");
    Ok((status, replayed, response.bytes().await?.to_vec()))
}

/// Learn the ids a successful create answered with.
fn learn(known: &mut Known, path: &str, body: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(body) else { return };
    let id = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string()));
    match path {
        "/terminals/v1/actions" => known.actions.extend(id(&body["id"])),
        "/v1/payouts" => {
            let payout = id(&body["id"]).unwrap_or_default();
            for t in body["transactions"].as_array().into_iter().flatten() {
                known.transactions.extend(id(&t["id"]).map(|t| (payout.clone(), t)));
            }
        }
        "/v1/customers" => known.customers.extend(id(&body["id"])),
        "/v1/orders" => known.orders.extend(id(&body["id"])),
        "/v1/payments" => known.payments.extend(id(&body["id"])),
        p if p.ends_with("/payment-profiles") => {
            let customer = p.split('/').nth(3).unwrap_or_default().to_owned();
            known.profiles.extend(id(&body["id"]).map(|p| (customer, p)));
        }
        _ => {}
    }
}

/// Clients write until `stop`; a failed request (the server died) ends a client.
async fn load(base: String, token: String, known: Arc<Mutex<Known>>, stop: Arc<AtomicBool>, seed: u64) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let write = next_write(&mut rng, &known.lock().expect("known"), seed * 100_000 + n);
        let outcome = send(&client, &base, &token, &write).await;
        let (method, path, key, body) = write;
        let mut known = known.lock().expect("known");
        // A 5xx is not an answer a client may rely on (a terminated backend): it
        // retries later, as it would after a lost answer.
        let (answer, dead) = match outcome {
            Ok((status, _, bytes)) if !status.is_server_error() => (Some((status, bytes)), false),
            Ok(_) => (None, false),
            Err(_) => (None, true),
        };
        if let Some((status, bytes)) = &answer {
            if status.is_success() && method == Method::POST {
                learn(&mut known, &path, bytes);
            }
        }
        // A retry of an earlier key is not a new write: its first answer is kept, or
        // filled in when the first was lost.
        match known.sent.iter_mut().find(|s| s.key == key) {
            None => known.sent.push(Sent { method, path, key, body, answer }),
            Some(first) if first.answer.is_none() => first.answer = answer,
            Some(_) => {}
        }
        if dead {
            return;
        }
    }
}

/// Terminate every backend of the test's database but this one.
fn terminate_backends(db: &TestDb) {
    db.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_answer_survives_and_nothing_acts_twice() {
    let kills = env_or("CAJA_CRASH_KILLS", 20);
    let seed = env_or("CAJA_CRASH_SEED", 12);
    let db = TestDb::new();
    let account = caja(&db, &["account", "create", "--site", "MLB"]);
    let token = account["access_token"].as_str().expect("token").to_owned();
    let user_id = account["user_id"].to_string();
    caja(&db, &["account", "set", "--user-id", &user_id, "--notification-url", "http://127.0.0.1:9/hook"]);

    let known = Arc::new(Mutex::new(Known::default()));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut terminations = 0;
    for round in 0..kills {
        let server = Server::start(&db);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS as u64)
            .map(|c| {
                let seed = seed * 1_000 + round * CLIENTS as u64 + c;
                tokio::spawn(load(server.base.clone(), token.clone(), known.clone(), stop.clone(), seed))
            })
            .collect();
        let until_kill = Duration::from_millis(rng.random_range(80..600));
        if on_postgres() && round % 3 == 1 {
            tokio::time::sleep(until_kill / 2).await;
            let db = &db;
            std::thread::scope(|s| s.spawn(|| terminate_backends(db)).join().expect("terminate"));
            terminations += 1;
            tokio::time::sleep(until_kill / 2).await;
        } else {
            tokio::time::sleep(until_kill).await;
        }
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.await.expect("client");
        }
    }

    // Back up once more, and check every write ever sent.
    let server = Server::start(&db);
    let client = reqwest::Client::new();
    let sent = std::mem::take(&mut known.lock().expect("known").sent);
    let mut violations: Vec<String> = Vec::new();
    let mut finals: Vec<(Sent, StatusCode, Vec<u8>)> = Vec::new();
    let (mut acknowledged, mut lost) = (0, 0);
    for s in sent {
        let write = (s.method.clone(), s.path.clone(), s.key.clone(), s.body.clone());
        let (status, replayed, bytes) = send(&client, &server.base, &token, &write).await.expect("retry answered");
        match &s.answer {
            Some((first_status, first_bytes)) => {
                acknowledged += 1;
                if (status, replayed, &bytes) != (*first_status, true, first_bytes) {
                    violations.push(format!(
                        "{} {} key {}: answered {first_status} {}, replayed as {status} (replayed: {replayed}) {}",
                        s.method,
                        s.path,
                        s.key,
                        String::from_utf8_lossy(first_bytes),
                        String::from_utf8_lossy(&bytes)
                    ));
                }
            }
            None => {
                lost += 1;
                assert!(!status.is_server_error(), "a retry after the crash failed: {status} {s:?}");
                let (again, replayed, again_bytes) = send(&client, &server.base, &token, &write).await.expect("again");
                if (again, replayed, &again_bytes) != (status, true, &bytes) {
                    violations
                        .push(format!("{} {} key {}: a lost answer's retry does not replay", s.method, s.path, s.key));
                }
            }
        }
        finals.push((s, status, bytes));
    }

    // Audit records made under a key, by key; creations among them.
    let audit =
        db.text_rows("SELECT idempotency_key, resource_type, resource_id, from_status, to_status FROM audit_events");
    let mut audited_keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut created_by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut moves_to: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in &audit {
        let (id, to) = (row[2].clone().unwrap_or_default(), row[4].clone().unwrap_or_default());
        *moves_to.entry((id, to)).or_default() += 1;
        if let Some(key) = &row[0] {
            *audited_keys.entry(key.clone()).or_default() += 1;
            if row[3].is_none() {
                created_by_key.entry(key.clone()).or_default().insert(row[2].clone().unwrap_or_default());
            }
        }
    }
    let mut writes_2xx = 0;
    for (s, status, bytes) in &finals {
        let audited = audited_keys.contains_key(&s.key);
        // Cancelling a CANCELLED profile is a documented 204 that changes nothing; the
        // profile then has exactly one move to CANCELLED.
        let profile_cancel = s.path.contains("/payment-profiles/") && s.path.ends_with("/cancel");
        let profile = s.path.split('/').nth(5).unwrap_or_default().to_owned();
        if status.is_success() && profile_cancel {
            writes_2xx += 1;
            let cancels = moves_to.get(&(profile.clone(), "CANCELLED".to_owned())).copied().unwrap_or(0);
            if cancels != 1 {
                violations.push(format!("profile {profile}: {cancels} moves to CANCELLED after a 204"));
            }
        } else if status.is_success() {
            writes_2xx += 1;
            if !audited {
                violations.push(format!("{} {} key {}: a 2xx left no audit record", s.method, s.path, s.key));
            }
        } else if audited {
            violations.push(format!("{} {} key {}: refused ({status}) yet audited", s.method, s.path, s.key));
        }
        let creates = ["/terminals/v1/actions", "/v1/payouts", "/v1/customers", "/v1/orders", "/v1/payments"];
        if status.is_success() && (creates.contains(&s.path.as_str()) || s.path.ends_with("/payment-profiles")) {
            let mut learnt = Known::default();
            learn(&mut learnt, &s.path, bytes);
            let mut named: BTreeSet<String> = learnt.actions.into_iter().collect();
            named.extend(learnt.transactions.into_iter().map(|(_, t)| t));
            named.extend(learnt.customers);
            named.extend(learnt.orders);
            named.extend(learnt.payments);
            named.extend(learnt.profiles.into_iter().map(|(_, p)| p));
            // A payment also opens no other resource here; an order's payments live inside it.
            let made = created_by_key.get(&s.key).cloned().unwrap_or_default();
            if made != named {
                violations.push(format!("{} key {}: created {made:?}, answered {named:?}", s.path, s.key));
            }
        }
    }
    let sent_keys: BTreeSet<&str> = finals.iter().map(|(s, _, _)| s.key.as_str()).collect();
    for key in audited_keys.keys() {
        if !sent_keys.contains(key.as_str()) {
            violations.push(format!("an audit record under key {key}, which no client sent"));
        }
    }

    // Notifications: each announces a recorded change; families that announce every
    // change announce each once.
    let changes = db.text_rows("SELECT resource_type, resource_id, to_status FROM audit_events");
    let notices = db.text_rows("SELECT resource_type, resource_id, resource_status FROM notifications");
    let mut change_count: BTreeMap<Vec<Option<String>>, i64> = BTreeMap::new();
    for row in changes {
        *change_count.entry(row).or_default() += 1;
    }
    let mut notice_count: BTreeMap<Vec<Option<String>>, i64> = BTreeMap::new();
    for row in notices {
        *notice_count.entry(row).or_default() += 1;
    }
    let every_change = ["terminal_action", "payout_transaction", "payment_profile", "payment"];
    for (change, n) in &change_count {
        let notified = notice_count.get(change).copied().unwrap_or(0);
        let always = every_change.contains(&change[0].as_deref().unwrap_or_default());
        if notified > *n || (always && notified != *n) {
            violations.push(format!("{change:?}: {n} change(s), {notified} notification(s)"));
        }
    }
    for notice in notice_count.keys() {
        if !change_count.contains_key(notice) {
            violations.push(format!("a notification of {notice:?}, a change never recorded"));
        }
    }

    let verify = Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["audit", "verify", "--database", &db.url])
        .env_remove("CAJA_DATABASE_URL")
        .output()
        .expect("caja audit verify runs");
    if !verify.status.success() {
        violations.push(format!("caja audit verify: {}", String::from_utf8_lossy(&verify.stdout)));
    }
    drop(server);

    let store = if on_postgres() { "PostgreSQL" } else { "SQLite" };
    println!(
        "crash ({store}, seed {seed}): {kills} kill points, {terminations} backend terminations, {} writes sent, \
         {acknowledged} answered before a kill, {lost} answers lost, {writes_2xx} writes with a 2xx, \
         {} audit records checked, {} violations",
        finals.len(),
        audit.len(),
        violations.len()
    );
    assert!(violations.is_empty(), "{} violations:\n{}", violations.len(), violations.join("\n"));
    assert!(acknowledged > 100 && lost > 0, "the load was too small to mean anything");
}
