//! `bench scale`: lookups and filtered page reads at 10,000 resources and at LARGE,
//! with the ratio between them. The store is filled through the same typed resource
//! layer the engine writes with (in transactions of `FILL_BATCH` resources), not over
//! HTTP, so a million resources take minutes, not hours; the reads are measured over
//! HTTP like any client's.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caja::domain::customer::{Customer, CustomerId, Owner};
use caja::domain::customer_data::CustomerData;
use caja::domain::payout::{Amount, Payout, PayoutId, Transaction, TransactionId, TransactionStatus};
use caja::domain::{AuditEvent, ResourceType, SiteId, Timestamp, UserId};
use caja::engine::resource;
use caja::http::HttpConfig;
use caja::provision::AccountSpec;
use caja::server::{Server, ServerConfig};
use caja::store::Store;
use caja::{provision, store};
use rand::Rng;

use super::{run, Figures};

/// Resources stored before the first measurement.
const SMALL: usize = 10_000;
/// Transactions per payout (the most a payout may have).
const PAYOUT_TRANSACTIONS: usize = 1_000;
/// Resources written per transaction while filling.
const FILL_BATCH: usize = 5_000;
/// Requests per measurement.
const READS: usize = 5_000;
/// Cancels per measurement (the 10,000 case holds 5,000 pending transactions, and a
/// measurement cancels twice: to warm up, then measured).
const CANCELS: usize = 1_000;

pub async fn main() -> anyhow::Result<()> {
    let large: usize = std::env::args().nth(2).map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("scale.db").display());
    let url = std::env::args().nth(3).unwrap_or(sqlite);
    let store = store::open(&url).await?;
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let account = provision::create_account(store.as_ref(), AccountSpec::test(SiteId::Mlb), now).await?;
    let user = UserId::new(account.user_id).ok_or_else(|| anyhow::anyhow!("user id"))?;
    let config = ServerConfig {
        http: HttpConfig {
            rate_limit_per_second: NonZeroU32::MAX,
            auth_failures_per_second: std::num::NonZeroU32::new(2).expect("non-zero"),
            idempotency_retention_ms: 86_400_000,
            request_timeout: Duration::from_secs(30),
            client_limits: caja::http::serve::ClientLimits::default(),
            request_log: caja::http::request_log::Retention::DEFAULT,
        },
        payout_processing_delay: Duration::from_secs(5),
        // The filled transactions are scheduled for 2030; the worker has nothing to do.
        worker_tick: Duration::from_secs(3600),
        webhook_retry: caja::domain::notification::RetryPolicy::DEFAULT,
    };
    let server = Server::start(store.clone(), "127.0.0.1:0", config).await?;
    let reader = Reader {
        base: format!("http://{}", server.addr()),
        token: account.access_token,
        client: reqwest::Client::builder().pool_max_idle_per_host(super::CLIENTS).build()?,
    };
    let kind = url.split("://").next().unwrap_or("?");
    println!(
        "caja bench scale: reads at {SMALL} and at {large} resources, {} concurrent clients, {kind}",
        super::CLIENTS
    );

    let mut filled = Filled::default();
    filled.grow(store.as_ref(), user, SMALL).await?;
    settle(&url).await?;
    let (small_lookup, small_page, small_cancel) = reader.measure(&mut filled, store.as_ref(), user).await?;
    let started = Instant::now();
    filled.grow(store.as_ref(), user, large).await?;
    settle(&url).await?;
    println!("filled to {large} resources in {:.0} s", started.elapsed().as_secs_f64());
    let (large_lookup, large_page, large_cancel) = reader.measure(&mut filled, store.as_ref(), user).await?;

    let measured = [
        ("lookup", small_lookup, large_lookup),
        ("page", small_page, large_page),
        ("cancel", small_cancel, large_cancel),
    ];
    for (name, small, large) in measured {
        println!(
            "{name:>6}: {large_n} / {SMALL} resources: throughput {:.2}x, p50 {:.2}x",
            large.per_second / small.per_second,
            large.p50_ms / small.p50_ms,
            large_n = filled.resources(),
        );
    }
    server.stop().await?;
    Ok(())
}

/// Do after a bulk fill what the database would do soon after it anyway, so the
/// measurement sees the steady state rather than that work running beside it: on
/// PostgreSQL autovacuum's `VACUUM ANALYZE`; on SQLite the checkpointer's copy of
/// the fill's WAL into the database file.
async fn settle(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(path)?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })
        .await??;
        return Ok(());
    }
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
        client.batch_execute("VACUUM ANALYZE")
    })
    .await??;
    Ok(())
}

/// What has been stored so far: customers' emails and payouts' ids.
#[derive(Default)]
struct Filled {
    emails: Vec<String>,
    payouts: Vec<PayoutId>,
    /// Payouts made for the cancels, left out of the page reads (their pages thin out).
    cancelled: Vec<PayoutId>,
}

impl Filled {
    fn resources(&self) -> usize {
        self.emails.len() + self.payouts.len() * (PAYOUT_TRANSACTIONS + 1)
    }

    /// Half customers, half transactions in payouts of `PAYOUT_TRANSACTIONS`.
    async fn grow(&mut self, store: &dyn Store, user: UserId, total: usize) -> anyhow::Result<()> {
        while self.resources() < total {
            if self.emails.len() * 2 < total {
                self.add_customers(store, user, FILL_BATCH.min(total / 2 - self.emails.len())).await?;
            } else {
                self.add_payout(store, user).await?;
            }
        }
        Ok(())
    }

    async fn add_customers(&mut self, store: &dyn Store, user: UserId, count: usize) -> anyhow::Result<()> {
        let first = self.emails.len();
        let emails: Vec<String> = (first..first + count.max(1)).map(|i| format!("customer-{i}@example.com")).collect();
        let batch = emails.clone();
        store
            .write(move |uow| {
                let mut rng = rand::rng();
                for email in &batch {
                    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
                    let data = CustomerData {
                        email: Some(email.clone()),
                        first_name: Some("Ana".into()),
                        ..CustomerData::default()
                    };
                    let id = CustomerId::from_random(rng.random(), rng.random());
                    let owner = Owner { user_id: user, site_id: SiteId::Mlb };
                    let customer = Customer::create(id, owner, false, data, now);
                    resource::insert(uow, &customer)?;
                }
                Ok(())
            })
            .await?;
        self.emails.extend(emails);
        Ok(())
    }

    /// A payout of `PAYOUT_TRANSACTIONS` pending transactions; returns their ids.
    async fn add_payout(&mut self, store: &dyn Store, user: UserId) -> anyhow::Result<Vec<i64>> {
        let mut rng = rand::rng();
        let mut draw = || rng.random_range(caja::domain::payout::ISSUED_ID_MIN..=caja::domain::payout::ISSUED_ID_MAX);
        let id = PayoutId::new(draw()).ok_or_else(|| anyhow::anyhow!("payout id"))?;
        let ids: Vec<i64> = (0..PAYOUT_TRANSACTIONS).map(|_| draw()).collect();
        let ids_kept = ids.clone();
        store
            .write(move |uow| {
                let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
                let due_at = Timestamp::from_millis(1_893_456_000_000); // 2030-01-01
                let payout = Payout {
                    id,
                    user_id: user,
                    external_reference: None,
                    description: None,
                    schedule_date: Some(due_at),
                    notification_url: None,
                    created_at: now,
                };
                resource::insert(uow, &payout)?;
                for (position, raw) in ids.iter().enumerate() {
                    let t = Transaction {
                        id: TransactionId::new(*raw).unwrap_or_else(|| unreachable!("drawn ids are positive")),
                        payout_id: id,
                        user_id: user,
                        position: position as u32,
                        account_json: r#"{"id":"987654"}"#.into(),
                        amount: Amount { currency: "BRL", cents: 15_025 },
                        description: None,
                        external_reference: None,
                        status: TransactionStatus::Pending,
                        due_at,
                        processing_since: None,
                        wake_at: Some(due_at),
                        created_at: now,
                        updated_at: now,
                    };
                    resource::insert(uow, &t)?;
                    // Each as a create leaves it: with its first audit record, so a
                    // cancel's link to the chain's last record is measured at size too.
                    uow.append_audit(&AuditEvent {
                        user_id: user,
                        resource_type: ResourceType::PayoutTransaction,
                        resource_id: t.id.get().to_string(),
                        from_status: None,
                        to_status: "pending".into(),
                        deleted_by: None,
                        comments: None,
                        request_id: "bench-fill".into(),
                        idempotency_key: None,
                        at: now,
                    })?;
                }
                Ok(())
            })
            .await?;
        self.payouts.push(id);
        Ok(ids_kept)
    }
}

struct Reader {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Reader {
    /// A customer search by email, and a page of a payout's pending transactions,
    /// each `READS` times at random.
    async fn measure(
        &self,
        filled: &mut Filled,
        store: &dyn Store,
        user: UserId,
    ) -> anyhow::Result<(Figures, Figures, Figures)> {
        println!("at {} resources (a first, unmeasured pass warms the caches):", filled.resources());
        self.pass(filled).await?;
        let (lookup, page) = self.pass(filled).await?;
        self.cancels(filled, store, user).await?;
        Ok((lookup, page, self.cancels(filled, store, user).await?))
    }

    /// `CANCELS` durable writes: cancels (each its own key; every one a 204) of the
    /// pending transactions of a payout made for them, as one more of the store's.
    async fn cancels(&self, filled: &mut Filled, store: &dyn Store, user: UserId) -> anyhow::Result<Figures> {
        let transactions = filled.add_payout(store, user).await?;
        let payout = *filled.payouts.last().ok_or_else(|| anyhow::anyhow!("a payout"))?;
        filled.cancelled.push(payout);
        let chosen: Vec<(PayoutId, i64)> = transactions.into_iter().take(CANCELS).map(|t| (payout, t)).collect();
        let chosen = Arc::new(chosen);
        let (_, cancels) = run("cancel", CANCELS, |i| {
            let (client, token) = (self.client.clone(), self.token.clone());
            let (payout, transaction) = chosen[i];
            let url = format!("{}/v1/payouts/{payout}/transactions/{transaction}/cancel", self.base);
            async move {
                let key = uuid::Uuid::new_v4().to_string();
                let response = client.put(url).bearer_auth(token).header("X-Idempotency-Key", key).send().await?;
                anyhow::ensure!(response.status() == 204, "cancel answered {}", response.status());
                Ok(String::new())
            }
        })
        .await?;
        Ok(cancels)
    }

    async fn pass(&self, filled: &Filled) -> anyhow::Result<(Figures, Figures)> {
        let emails = Arc::new(filled.emails.clone());
        let (_, lookup) = run("lookup", READS, |i| {
            let (client, token) = (self.client.clone(), self.token.clone());
            let url = format!("{}/v1/customers/search?email={}", self.base, emails[pick(i, emails.len())]);
            async move {
                let response = client.get(url).bearer_auth(token).send().await?;
                anyhow::ensure!(response.status() == 200, "search answered {}", response.status());
                let found: serde_json::Value = response.json().await?;
                anyhow::ensure!(found["paging"]["total"] == 1, "one customer per email: {found}");
                Ok(String::new())
            }
        })
        .await?;
        let payouts: Vec<PayoutId> = filled.payouts.iter().copied().filter(|p| !filled.cancelled.contains(p)).collect();
        let payouts = Arc::new(payouts);
        let (_, page) = run("page", READS, |i| {
            let (client, token) = (self.client.clone(), self.token.clone());
            let payout = payouts[pick(i, payouts.len())];
            let offset = pick(i.wrapping_mul(31), PAYOUT_TRANSACTIONS - 50);
            let url = format!("{}/v1/payouts/{payout}/transactions?status=pending&limit=50&offset={offset}", self.base);
            async move {
                let response = client.get(url).bearer_auth(token).send().await?;
                anyhow::ensure!(response.status() == 200, "list answered {}", response.status());
                let page: serde_json::Value = response.json().await?;
                anyhow::ensure!(page["transactions"].as_array().map(Vec::len) == Some(50), "a full page");
                Ok(String::new())
            }
        })
        .await?;
        Ok((lookup, page))
    }
}

/// A well-spread index in `0..len` for request `i`.
fn pick(i: usize, len: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % len.max(1)
}
