//! `TestApp`: a real caja on port 0 over a fresh SQLite file, with one helper per
//! request so the tests read like the contract.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use caja::domain::notification::RetryPolicy;
use caja::domain::{ResourceType, SiteId, Timestamp, UserId};
use caja::http::HttpConfig;
use caja::provision::{self, AccountSpec};
use caja::seed::{Applied, Seed, SeedError};
use caja::server::{Server, ServerConfig, StartError};
use caja::store::{self, Store};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub const TERMINAL: &str = "NEWLAND_N950__N950NCB123456789";

/// An account as the tests use it.
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: i64,
    pub token: String,
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: TestDb,
    server: Option<Server>,
    store: Arc<dyn Store>,
    options: Options,
}

#[derive(Clone, Copy)]
pub struct Options {
    pub rate_limit_per_second: u32,
    pub idempotency_retention_ms: i64,
    pub payout_processing_delay_ms: u64,
    pub worker_tick_ms: u64,
    pub webhook_retry_base_ms: i64,
    pub webhook_attempts: u32,
    pub client_limits: caja::http::serve::ClientLimits,
    pub auth_failures_per_second: u32,
    pub request_log: caja::http::request_log::Retention,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rate_limit_per_second: 100_000,
            idempotency_retention_ms: 24 * 3600 * 1000,
            // Long enough that tests see `pending` and `in_process` before the worker moves on.
            payout_processing_delay_ms: 60_000,
            worker_tick_ms: 3_600_000,
            webhook_retry_base_ms: 60_000,
            webhook_attempts: 8,
            client_limits: caja::http::serve::ClientLimits::default(),
            auth_failures_per_second: 2,
            request_log: caja::http::request_log::Retention::DEFAULT,
        }
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        TestApp::spawn_on(TestDb::new(), options).await
    }

    /// A server whose store was seeded with `seed` (its accounts, then its resources
    /// through the server's router before it serves); and what the seed did.
    pub async fn spawn_seeded(seed: &Seed) -> (TestApp, Applied) {
        let (db, options) = (TestDb::new(), Options::default());
        let (server, store, applied) = start_seeded(&db.url, options, Some(seed)).await.expect("the seed applies");
        (TestApp::serving(server, store, db, options), applied)
    }

    /// Stop, and start again with `seed` applied (or why it was refused).
    pub async fn restart_seeded(&mut self, seed: &Seed) -> Result<Applied, SeedError> {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
        let (server, store, applied) = start_seeded(&self.db.url, self.options, Some(seed)).await?;
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
        self.store = store;
        Ok(applied)
    }

    /// A server on a store made beforehand (say, by an earlier release).
    pub async fn spawn_on(db: TestDb, options: Options) -> TestApp {
        let (server, store) = start(&db.url, options).await;
        TestApp::serving(server, store, db, options)
    }

    fn serving(server: Server, store: Arc<dyn Store>, db: TestDb, options: Options) -> TestApp {
        TestApp {
            base: format!("http://{}", server.addr()),
            client: Client::new(),
            db,
            server: Some(server),
            store,
            options,
        }
    }

    /// Run SQL on the test's database, behind the server's back (fault injection).
    pub fn sql(&self, statements: &str) {
        self.db.sql(statements);
    }

    /// Rows in a table of the test's database (`table` may carry a `WHERE` clause).
    pub fn count(&self, table: &str) -> i64 {
        self.db.count(table)
    }

    /// Stop gracefully and start again on the same file (on a new port).
    pub async fn restart(&mut self) {
        self.restart_after(Duration::ZERO).await;
    }

    /// Stop, stay down for `downtime`, start again.
    pub async fn restart_after(&mut self, downtime: Duration) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
        tokio::time::sleep(downtime).await;
        let (server, store) = start(&self.db.url, self.options).await;
        self.base = format!("http://{}", server.addr());
        self.server = Some(server);
        self.store = store;
    }

    pub async fn account(&self, live: bool) -> Account {
        self.account_with(AccountSpec { site_id: SiteId::Mlb, live_mode: live, payouts_enabled: true }).await
    }

    pub async fn account_with(&self, spec: AccountSpec) -> Account {
        let issued = provision::create_account(self.store.as_ref(), spec, now()).await.expect("account");
        Account { user_id: issued.user_id, token: issued.access_token }
    }

    /// Another token of the same account, for another site.
    pub async fn token_for(&self, account: &Account, site: SiteId) -> Account {
        let issued = provision::create_token(self.store.as_ref(), account.user_id, site, now()).await.expect("token");
        Account { user_id: issued.user_id, token: issued.access_token }
    }

    /// `GET path` with the account's token: asserts a 200 and returns the JSON body.
    pub async fn ok_json(&self, account: &Account, path: &str) -> Value {
        let response =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(&account.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn test_account(&self) -> Account {
        self.account(false).await
    }

    /// The audit trail of one action, oldest first, as (from, to, idempotency key).
    pub async fn action_audit(&self, account: &Account, action_id: &str) -> Vec<(Option<String>, String, String)> {
        self.audit(account, ResourceType::TerminalAction, action_id)
            .await
            .into_iter()
            .map(|e| (e.from_status, e.to_status, e.idempotency_key.map(|k| k.as_str().to_owned()).unwrap_or_default()))
            .collect()
    }

    pub async fn audit(&self, account: &Account, kind: ResourceType, id: &str) -> Vec<caja::domain::AuditEvent> {
        let user = UserId::new(account.user_id).expect("user id");
        self.store.audit_trail(user, kind, id).await.expect("audit trail")
    }

    pub fn post(&self, path: &str, token: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let mut request = self.client.post(format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(key) = key {
            request = request.header("X-Idempotency-Key", key);
        }
        request
    }

    pub async fn create_action(&self, account: &Account, key: &str, body: &Value) -> Response {
        self.post("/terminals/v1/actions", &account.token, Some(key)).json(body).send().await.expect("request")
    }

    /// Create a print action on `terminal` and return its id.
    pub async fn new_action(&self, account: &Account, terminal: &str) -> String {
        let response = self.create_action(account, &unique_key(), &action_body(terminal)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    pub async fn get_action(&self, account: &Account, id: &str) -> Response {
        self.client
            .get(format!("{}/terminals/v1/actions/{id}", self.base))
            .bearer_auth(&account.token)
            .send()
            .await
            .expect("request")
    }

    pub async fn action_status(&self, account: &Account, id: &str) -> String {
        let body: Value = self.get_action(account, id).await.json().await.expect("json");
        body["status"].as_str().expect("status").to_owned()
    }

    pub async fn cancel_action(&self, account: &Account, id: &str, key: &str) -> Response {
        self.post(&format!("/terminals/v1/actions/{id}/cancel"), &account.token, Some(key))
            .send()
            .await
            .expect("request")
    }

    pub async fn action_event(&self, account: &Account, id: &str, status: &str) -> Response {
        self.post(&format!("/terminals/v1/actions/{id}/events"), &account.token, Some(&unique_key()))
            .json(&json!({ "status": status }))
            .send()
            .await
            .expect("request")
    }
}

pub async fn start(url: &str, options: Options) -> (Server, Arc<dyn Store>) {
    let (server, store, _) = start_seeded(url, options, None).await.expect("server starts");
    (server, store)
}

/// [`start`], with a seed applied: its accounts, then its resources as the server
/// starts. A refused seed leaves the store closed.
pub async fn start_seeded(
    url: &str,
    options: Options,
    seed: Option<&Seed>,
) -> Result<(Server, Arc<dyn Store>, Applied), SeedError> {
    let store = store::open(url).await.expect("open store");
    let mut accounts = Applied::default();
    if let Some(seed) = seed {
        match caja::seed::apply(store.as_ref(), seed, now()).await {
            Ok(applied) => accounts = applied,
            Err(err) => {
                store.close().await;
                return Err(err);
            }
        }
    }
    let config = ServerConfig {
        http: HttpConfig {
            rate_limit_per_second: NonZeroU32::new(options.rate_limit_per_second).expect("non-zero"),
            auth_failures_per_second: NonZeroU32::new(options.auth_failures_per_second).expect("non-zero"),
            idempotency_retention_ms: options.idempotency_retention_ms,
            request_timeout: Duration::from_secs(30),
            client_limits: options.client_limits,
            request_log: options.request_log,
        },
        payout_processing_delay: Duration::from_millis(options.payout_processing_delay_ms),
        worker_tick: Duration::from_millis(options.worker_tick_ms),
        webhook_retry: RetryPolicy {
            base_ms: options.webhook_retry_base_ms,
            attempts_max: options.webhook_attempts,
            ..RetryPolicy::DEFAULT
        },
    };
    match Server::start_seeded(store.clone(), "127.0.0.1:0", config, seed.map(|s| Arc::new(s.clone()))).await {
        Ok((server, resources)) => Ok((server, store, accounts.and(resources))),
        Err(StartError::Seed(err)) => {
            store.close().await;
            Err(err)
        }
        Err(StartError::Listen(err)) => panic!("server starts: {err}"),
    }
}

/// The store under test: SQLite in a temporary directory, or, when
/// `CAJA_TEST_STORE=postgres`, a fresh database on `CAJA_TEST_POSTGRES_URL`'s server
/// (dropped at the end of the test).
pub struct TestDb {
    pub url: String,
    kind: DbKind,
}

enum DbKind {
    Sqlite { path: PathBuf, _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

pub const STORE_ENV: &str = "CAJA_TEST_STORE";
pub const POSTGRES_URL_ENV: &str = "CAJA_TEST_POSTGRES_URL";

pub fn on_postgres() -> bool {
    std::env::var(STORE_ENV).is_ok_and(|v| v == "postgres")
}

/// The sync PostgreSQL client must not run on a Tokio thread: give it its own.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join().expect("database helper thread"))
}

fn pg_admin(admin_url: &str) -> postgres::Client {
    postgres::Client::connect(admin_url, postgres::NoTls).expect("connect to CAJA_TEST_POSTGRES_URL")
}

impl TestDb {
    pub fn new() -> TestDb {
        if !on_postgres() {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("caja.db");
            return TestDb { url: format!("sqlite://{}", path.display()), kind: DbKind::Sqlite { path, _dir: dir } };
        }
        let admin_url = std::env::var(POSTGRES_URL_ENV).expect("CAJA_TEST_POSTGRES_URL for the PostgreSQL half");
        let name = format!("caja_test_{}", uuid::Uuid::new_v4().simple());
        off_runtime(|| {
            pg_admin(&admin_url).batch_execute(&format!("CREATE DATABASE {name}")).expect("create database")
        });
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        TestDb { url: format!("{base}/{name}"), kind: DbKind::Postgres { admin_url: admin_url.clone(), name } }
    }

    /// A store written by an earlier release: a copy of the SQLite file, or a fresh
    /// PostgreSQL database loaded from a plain-SQL dump (`pg_dump --inserts`).
    pub fn from_files(sqlite_file: &std::path::Path, postgres_dump: &str) -> TestDb {
        let db = TestDb::new();
        match &db.kind {
            DbKind::Sqlite { path, .. } => {
                std::fs::copy(sqlite_file, path).expect("copy the SQLite fixture");
            }
            DbKind::Postgres { .. } => db.sql(postgres_dump),
        }
        db
    }

    pub fn sql(&self, statements: &str) {
        match &self.kind {
            DbKind::Sqlite { path, .. } => {
                rusqlite::Connection::open(path).expect("open").execute_batch(statements).expect("sql");
            }
            DbKind::Postgres { .. } => off_runtime(|| {
                postgres::Client::connect(&self.url, postgres::NoTls)
                    .expect("connect")
                    .batch_execute(statements)
                    .expect("sql")
            }),
        }
    }

    /// Every resource document and every stored response, as one text: what a
    /// test searches for data that must never be kept (a card number, a CVV).
    pub fn stored_text(&self) -> String {
        let documents = "SELECT document FROM resources";
        match &self.kind {
            DbKind::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("open");
                let mut text = String::new();
                for sql in [documents, "SELECT CAST(body AS TEXT) FROM idempotency_records"] {
                    let mut statement = connection.prepare(sql).expect("prepare");
                    let rows = statement.query_map([], |row| row.get::<_, String>(0)).expect("query");
                    text.extend(rows.map(|r| r.expect("row")));
                }
                text
            }
            DbKind::Postgres { .. } => off_runtime(|| {
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
                let mut text = String::new();
                for sql in [
                    "SELECT document::text FROM resources",
                    "SELECT convert_from(body, 'UTF8') FROM idempotency_records",
                ] {
                    text.extend(client.query(sql, &[]).expect("query").iter().map(|r| r.get::<_, String>(0)));
                }
                text
            }),
        }
    }

    /// Every row of `sql`, each column read as optional text (text columns only).
    pub fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.kind {
            DbKind::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("open");
                let mut statement = connection.prepare(sql).expect("prepare");
                let columns = statement.column_count();
                let rows = statement
                    .query_map([], |row| (0..columns).map(|i| row.get::<_, Option<String>>(i)).collect())
                    .expect("query");
                rows.map(|r| r.expect("row")).collect()
            }
            DbKind::Postgres { .. } => off_runtime(|| {
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
                let rows = client.query(sql, &[]).expect("query");
                rows.iter().map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i)).collect()).collect()
            }),
        }
    }

    /// The plan the database makes for `sql`, as text: SQLite's `EXPLAIN QUERY
    /// PLAN` details, or PostgreSQL's `EXPLAIN`, a line per node.
    pub fn query_plan(&self, sql: &str) -> String {
        match &self.kind {
            DbKind::Sqlite { path, .. } => {
                let connection = rusqlite::Connection::open(path).expect("open");
                let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("prepare");
                let details = statement.query_map([], |row| row.get::<_, String>(3)).expect("explain");
                details.map(|d| d.expect("row")).collect::<Vec<_>>().join("\n")
            }
            DbKind::Postgres { .. } => off_runtime(|| {
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
                let rows = client.query(&format!("EXPLAIN {sql}"), &[]).expect("explain");
                rows.iter().map(|row| row.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
            }),
        }
    }

    pub fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.kind {
            DbKind::Sqlite { path, .. } => {
                rusqlite::Connection::open(path).expect("open").query_row(&sql, [], |row| row.get(0)).expect("count")
            }
            DbKind::Postgres { .. } => off_runtime(|| {
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
                client.query_one(sql.as_str(), &[]).expect("count").get(0)
            }),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let DbKind::Postgres { admin_url, name } = &self.kind {
            off_runtime(|| {
                let _ = pg_admin(admin_url).batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            });
        }
    }
}

pub fn unique_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn action_body(terminal: &str) -> Value {
    json!({
        "type": "print",
        "external_reference": "order-1",
        "config": { "point": { "terminal_id": terminal, "subtype": "custom" } },
        "content": "Hello",
    })
}

/// Assert a 400 `bad_request` whose `cause` is the reference's numbered cause, and
/// return the body.
pub async fn assert_cause(response: Response, cause: &str, description: &str) -> Value {
    assert_eq!(response.status().as_u16(), 400, "status for cause {cause}");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], "bad_request", "{body}");
    assert_eq!(body["status"], 400, "{body}");
    assert_eq!(body["cause"], json!([{ "code": cause, "description": description, "data": null }]), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// Assert the contract's error body and return it.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "content type for {code}"
    );
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["cause"], json!([]), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// Run futures together on this task (every request in flight before any answer is
/// read) and return their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *out = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().map(|o| o.expect("every future finished")).collect()
}
