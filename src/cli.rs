//! The `caja` command line: `serve`, `account create`, `token create`.
//!
//! Every failure is one line on stderr and a non-zero exit; nothing panics.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::domain::notification::RetryPolicy;
use crate::domain::UserId;
use crate::domain::{SiteId, Timestamp};
use crate::http::HttpConfig;
use crate::provision::{self, AccountSpec, Issued};
use crate::server::{self, Server, ServerConfig, StartError};
use crate::store;

const DATABASE_DEFAULT: &str = "sqlite://caja.db";
/// "A generous limit": enough for any test suite, low enough to stop a runaway loop.
const RATE_LIMIT_PER_SECOND_DEFAULT: &str = "1000";
const IDEMPOTENCY_RETENTION_SECS_DEFAULT: &str = "86400";
const REQUEST_TIMEOUT_SECS: u64 = 30;
const PAYOUT_PROCESSING_DELAY_SECS_DEFAULT: &str = "5";

#[derive(Debug, Parser)]
#[command(name = "caja", version, about = "A self-hosted, Mercado Pago-compatible payments API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API server.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the Ed25519 keys that sign payout requests.
    #[command(subcommand, name = "signing-key")]
    SigningKey(SigningKeyCommand),
    /// Manage the Point terminals accounts own.
    #[command(subcommand)]
    Terminal(TerminalCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Apply seed files (accounts with fixed tokens, notification URLs, secrets,
    /// terminals, signing keys).
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Move a test account's clock (caja's own test feature).
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Make an event happen on a running caja (the documented requests that produce
    /// it, on the token's account), so its signed webhook is sent. Prints what was sent.
    Trigger {
        /// point.action.canceled, point.action.processed, order.processed,
        /// order.canceled, payment.approved, payment.rejected,
        /// payout.transaction.processed, payout.transaction.failed.
        event: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// A local webhook receiver: prints each delivery (path, x-request-id,
    /// x-signature and whether it is valid, body) as one JSON line, and with
    /// --forward-to passes it on to your app and prints its answer and latency.
    Listen {
        /// Address to listen on (port 0 picks a free one; the first line says which).
        #[arg(long, env = "CAJA_LISTEN_ON", default_value = "127.0.0.1:9000")]
        listen: String,
        /// The account's webhook secret, to check each x-signature.
        #[arg(long, env = "CAJA_WEBHOOK_SECRET")]
        secret: Option<String>,
        /// Pass each delivery on to this URL (its path and query appended).
        #[arg(long)]
        forward_to: Option<String>,
    },
    /// Write a test account's whole state (resources, keys, audit trail, clock) as
    /// one JSON file to standard output, for `caja import`.
    Export {
        #[arg(long)]
        user_id: i64,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Replace a test account's state with a snapshot written by `caja export` (the
    /// account must exist, e.g. from a seed), in one transaction. Prints the rows
    /// written per table.
    Import {
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Empty a test account (its resources, keys, notifications, audit records, clock
    /// and journal; the account and its tokens stay), in one transaction. Prints what
    /// was removed as JSON.
    Reset {
        #[arg(long)]
        user_id: i64,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum ClockCommand {
    /// Move a test account's clock forward, then play out what fell due by its new
    /// time (payouts processed, orders and payments expired, webhooks delivered and
    /// retried), in order. Prints the clock and what was played out as JSON.
    Advance {
        #[arg(long)]
        user_id: i64,
        /// An ISO 8601 duration: PT90S, PT1H, P1D (a month is 30 days, a year 365).
        #[arg(long)]
        by: String,
        #[command(flatten)]
        worker: WorkerArgs,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Print a test account's time and its clock's offset as JSON.
    Show {
        #[arg(long)]
        user_id: i64,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// A running caja to talk to, and the token to talk with.
#[derive(Debug, Args)]
struct ApiArgs {
    /// The server's base URL.
    #[arg(long, env = "CAJA_BASE_URL", default_value = "http://127.0.0.1:8080")]
    base: String,
    /// A test account's access token.
    #[arg(long, env = "CAJA_TOKEN")]
    token: String,
}

/// How the worker processes payouts and retries webhooks (the same for `serve` and
/// for a clock move's play-out, from the same environment variables).
#[derive(Debug, Args)]
struct WorkerArgs {
    /// Seconds a payout transaction stays in_process before it is processed.
    #[arg(long, env = "CAJA_PAYOUT_PROCESSING_DELAY", default_value = PAYOUT_PROCESSING_DELAY_SECS_DEFAULT)]
    payout_processing_delay: f64,
    /// Seconds before the first retry of a failed webhook; each later wait is 3 times longer.
    #[arg(long, env = "CAJA_WEBHOOK_RETRY_BASE", default_value = "60")]
    webhook_retry_base: f64,
    /// Delivery attempts per notification, the first included.
    #[arg(long, env = "CAJA_WEBHOOK_ATTEMPTS", default_value = "8",
          value_parser = clap::value_parser!(u32).range(1..=50))]
    webhook_attempts: u32,
}

impl WorkerArgs {
    /// The payout processing delay and the webhook retry policy.
    fn parse(&self) -> anyhow::Result<(Duration, RetryPolicy)> {
        let delay = self.payout_processing_delay;
        anyhow::ensure!(
            delay.is_finite() && (0.0..=86_400.0).contains(&delay),
            "--payout-processing-delay must be 0 to 86400 seconds"
        );
        Ok((Duration::from_secs_f64(delay), retry_policy(self.webhook_retry_base, self.webhook_attempts)?))
    }
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// Apply a seed file (YAML or JSON; see README "Testing with caja: seeds"): makes
    /// what is missing (accounts, then resources through a server of its own on a
    /// free loopback port), leaves what is there, refuses a contradiction. Prints
    /// what it did as JSON.
    Apply {
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every resource's hash chain of audit records (of one account, or all):
    /// prints `{"chains","records","unchained","broken":[…]}` and fails when a link is
    /// broken (a record edited, removed or reordered in the database).
    Verify {
        #[arg(long)]
        user_id: Option<i64>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// Register a terminal for an account (live accounts must; a test account owns the
    /// terminals it first uses). Prints it as JSON.
    Add {
        #[arg(long)]
        user_id: i64,
        /// `<brand>_<model>__<serial>`, e.g. NEWLAND_N950__N950NCB123456789.
        #[arg(long)]
        terminal_id: String,
        #[arg(long)]
        pos_id: Option<i64>,
        #[arg(long)]
        store_id: Option<i64>,
        #[arg(long)]
        external_pos_id: Option<String>,
        /// PDV, STANDALONE or UNDEFINED.
        #[arg(long, default_value = "PDV")]
        operating_mode: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// Store URL: sqlite://FILE (relative), sqlite:///ABS/PATH.
    #[arg(long, env = "CAJA_DATABASE_URL", default_value = DATABASE_DEFAULT)]
    database: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "CAJA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// A seed file applied before serving (accounts with the tokens it names, …);
    /// applying it again on a restart changes nothing.
    #[arg(long, env = "CAJA_SEED")]
    seed: Option<std::path::PathBuf>,
    #[command(flatten)]
    database: DatabaseArg,
    /// Requests per second allowed per access token (the burst is the same size).
    #[arg(long, env = "CAJA_RATE_LIMIT", default_value = RATE_LIMIT_PER_SECOND_DEFAULT)]
    rate_limit: NonZeroU32,
    /// How long an idempotency key binds its first request, in seconds.
    #[arg(long, env = "CAJA_IDEMPOTENCY_RETENTION", default_value = IDEMPOTENCY_RETENTION_SECS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..))]
    idempotency_retention: u32,
    #[command(flatten)]
    worker: WorkerArgs,
    /// Failed authentications allowed per client address and second, in bursts of ten
    /// times that; past them the address gets 429 (so tokens cannot be guessed at speed).
    #[arg(long, env = "CAJA_AUTH_FAILURES_PER_SECOND", default_value = "2")]
    auth_failures_per_second: NonZeroU32,
    /// Seconds a client has to send a request's headers; a slower one is disconnected.
    #[arg(long, env = "CAJA_HEADER_READ_TIMEOUT", default_value = "10",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    header_read_timeout: u32,
    /// Seconds a client has to send a write's whole body; a slower one gets 408.
    #[arg(long, env = "CAJA_BODY_READ_TIMEOUT", default_value = "10",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    body_read_timeout: u32,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "CAJA_MAX_CONNECTIONS", default_value = "10000",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Entries the console's request log keeps at most, over all accounts; 0 turns
    /// the log off.
    #[arg(long, env = "CAJA_REQUEST_LOG_ROWS", default_value = "10000",
          value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    request_log_rows: u64,
    /// Seconds the console's request log keeps an entry at most.
    #[arg(long, env = "CAJA_REQUEST_LOG_AGE", default_value = "86400",
          value_parser = clap::value_parser!(u32).range(1..=31_536_000))]
    request_log_age: u32,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account with a token for one site; prints it as JSON.
    Create {
        /// MLA, MLB, MLM, MLC, MCO, MPE or MLU.
        #[arg(long)]
        site: SiteId,
        /// A production account (APP_USR- tokens); test otherwise.
        #[arg(long)]
        live: bool,
        /// Create the account with payouts disabled (payout calls get 403 forbidden).
        #[arg(long)]
        no_payouts: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Change an account's settings.
    Set {
        #[arg(long)]
        user_id: i64,
        /// Where this account's notifications go (http or https). The first time, a
        /// webhook secret is made and printed, once.
        #[arg(long)]
        notification_url: Option<String>,
        /// Make a new webhook secret and print it (the old one stops working).
        #[arg(long)]
        rotate_secret: bool,
        /// Allow the payouts family.
        #[arg(long, conflicts_with = "disable_payouts")]
        enable_payouts: bool,
        /// Forbid the payouts family (403 forbidden).
        #[arg(long)]
        disable_payouts: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum SigningKeyCommand {
    /// Register an Ed25519 public key (PEM, SubjectPublicKeyInfo) for an account.
    Add {
        #[arg(long)]
        user_id: i64,
        /// The PEM file, as `openssl pkey -pubout` writes it.
        #[arg(long)]
        public_key: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create another token for an account and site; prints it as JSON.
    Create {
        #[arg(long)]
        user_id: i64,
        #[arg(long)]
        site: SiteId,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

/// The binary's whole life.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let rendered = err.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("caja: {} (see caja --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("caja: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("caja: {}", format!("{err:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("caja=info,tower_http=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Account(AccountCommand::Create { site, live, no_payouts, database }) => {
            let store = store::open(&database.database).await?;
            let spec = AccountSpec { site_id: site, live_mode: live, payouts_enabled: !no_payouts };
            let issued = provision::create_account(store.as_ref(), spec, now()).await;
            store.close().await;
            print_issued(&issued?)
        }
        Command::Account(AccountCommand::Set {
            user_id,
            notification_url,
            rotate_secret,
            enable_payouts,
            disable_payouts,
            database,
        }) => {
            let payouts = (enable_payouts || disable_payouts).then_some(enable_payouts);
            let change = provision::AccountChange { payouts_enabled: payouts, notification_url, rotate_secret };
            anyhow::ensure!(
                !change.is_empty(),
                "nothing to set: pass --notification-url, --rotate-secret, --enable-payouts or --disable-payouts"
            );
            let store = store::open(&database.database).await?;
            let result = provision::change_account(store.as_ref(), user_id, change).await;
            store.close().await;
            println!("{}", serde_json::to_string(&result?)?);
            Ok(())
        }
        Command::SigningKey(SigningKeyCommand::Add { user_id, public_key, database }) => {
            let pem = std::fs::read_to_string(&public_key)
                .with_context(|| format!("cannot read {}", public_key.display()))?;
            let store = store::open(&database.database).await?;
            let result = provision::add_signing_key(store.as_ref(), user_id, &pem, now()).await;
            store.close().await;
            result?;
            println!("{}", serde_json::json!({ "user_id": user_id, "public_key": public_key.display().to_string() }));
            Ok(())
        }
        Command::Terminal(TerminalCommand::Add {
            user_id,
            terminal_id,
            pos_id,
            store_id,
            external_pos_id,
            operating_mode,
            database,
        }) => {
            let store = store::open(&database.database).await?;
            let spec = provision::TerminalSpec { terminal_id, pos_id, store_id, external_pos_id, operating_mode };
            let result = provision::add_terminal(store.as_ref(), user_id, spec, now()).await;
            store.close().await;
            println!("{}", serde_json::to_string(&result?)?);
            Ok(())
        }
        Command::Seed(SeedCommand::Apply { file, database }) => {
            let seed = std::sync::Arc::new(read_seed(&file)?);
            let store = store::open(&database.database).await?;
            let applied = apply_seed(store.clone(), seed).await;
            store.close().await;
            say(serde_json::to_string(&applied?)?);
            Ok(())
        }
        Command::Clock(ClockCommand::Advance { user_id, by, worker, database }) => {
            let (delay, policy) = worker.parse()?;
            let by_ms = crate::domain::order_money::parse_duration_ms(&by)
                .ok_or_else(|| anyhow::anyhow!("--by must be an ISO 8601 duration, e.g. PT1H or P1D"))?;
            let store = store::open(&database.database).await?;
            let result = advance_clock(store.clone(), user_id, by_ms, delay, policy).await;
            store.close().await;
            say(serde_json::to_string(&result?)?);
            Ok(())
        }
        Command::Trigger { event, api } => {
            let url = format!("{}/caja/v1/trigger", api.base.trim_end_matches('/'));
            let response = reqwest::Client::new()
                .post(&url)
                .bearer_auth(&api.token)
                .json(&serde_json::json!({ "event": event }))
                .send()
                .await
                .with_context(|| format!("cannot reach caja at {url}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            anyhow::ensure!(status.is_success(), "{url} answered {}: {text}", status.as_u16());
            say(text);
            Ok(())
        }
        Command::Listen { listen, secret, forward_to } => {
            let listener =
                tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            say(format!("listening on http://{}", listener.local_addr()?));
            let config = crate::http::listen::ListenConfig { secret, forward_to };
            crate::http::listen::listen(listener, config, Box::new(std::io::stdout()), server::shutdown_signal())
                .await?;
            Ok(())
        }
        Command::Export { user_id, database } => {
            let store = store::open(&database.database).await?;
            let result = match test_account(store.as_ref(), user_id).await {
                Ok(user) => store.export_account(user).await.map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            store.close().await;
            let snapshot = result?.ok_or_else(|| anyhow::anyhow!("no account has user id {user_id}"))?;
            say(serde_json::to_string(&snapshot)?);
            Ok(())
        }
        Command::Import { file, database } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the snapshot {}", file.display()))?;
            let snapshot: crate::store::snapshot::Snapshot =
                serde_json::from_str(&text).with_context(|| format!("{} is not a caja snapshot", file.display()))?;
            snapshot.check().map_err(|why| anyhow::anyhow!("snapshot {}: {why}", file.display()))?;
            let store = store::open(&database.database).await?;
            let result = match test_account(store.as_ref(), snapshot.user_id).await {
                Ok(_) => store.import_account(snapshot).await.map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            store.close().await;
            let imported = result?.ok_or_else(|| anyhow::anyhow!("the snapshot's account does not exist"))?;
            say(serde_json::to_string(&imported)?);
            Ok(())
        }
        Command::Reset { user_id, database } => {
            let store = store::open(&database.database).await?;
            let result = match test_account(store.as_ref(), user_id).await {
                Ok(user) => store
                    .reset_account(user, <crate::domain::terminal::Terminal as crate::domain::resource::Resource>::KIND)
                    .await
                    .map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            store.close().await;
            let counts = result?.ok_or_else(|| anyhow::anyhow!("no account has user id {user_id}"))?;
            say(serde_json::to_string(&counts)?);
            Ok(())
        }
        Command::Clock(ClockCommand::Show { user_id, database }) => {
            let store = store::open(&database.database).await?;
            let result = test_account(store.as_ref(), user_id).await;
            let result = match result {
                Ok(user) => store.read(move |r| r.clock_offset(user)).await.map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            store.close().await;
            let offset_ms = result?;
            let now = now().plus_millis(offset_ms).to_rfc3339();
            say(serde_json::json!({ "user_id": user_id, "now": now, "offset_ms": offset_ms }).to_string());
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { user_id, database }) => {
            let user = match user_id {
                None => None,
                Some(raw) => Some(UserId::new(raw).ok_or_else(|| anyhow::anyhow!("no account has user id {raw}"))?),
            };
            let store = store::open(&database.database).await?;
            let records = store.audit_chain_records(user).await;
            store.close().await;
            let found = crate::domain::audit::verify(&records?);
            let broken: Vec<_> = found
                .broken
                .iter()
                .map(|b| serde_json::json!({ "record_id": b.record_id, "resource_type": b.resource_type, "resource_id": b.resource_id, "why": b.why }))
                .collect();
            let report = serde_json::json!({
                "chains": found.chains, "records": found.records, "unchained": found.unchained, "broken": broken,
            });
            println!("{report}");
            if found.broken.is_empty() {
                Ok(())
            } else {
                anyhow::bail!(
                    "{} audit chain(s) broken; the first broken link of each is listed above",
                    found.broken.len()
                )
            }
        }
        Command::Token(TokenCommand::Create { user_id, site, database }) => {
            let store = store::open(&database.database).await?;
            let issued = provision::create_token(store.as_ref(), user_id, site, now()).await;
            store.close().await;
            print_issued(&issued?)
        }
    }
}

fn print_issued(issued: &Issued) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(issued)?);
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let url = &args.database.database;
    let seed = args.seed.as_deref().map(read_seed).transpose()?.map(std::sync::Arc::new);
    let store = store::open(url).await?;
    let accounts = match &seed {
        Some(seed) => Some(crate::seed::apply(store.as_ref(), seed, now()).await?),
        None => None,
    };
    let first_account = if store.has_accounts().await? {
        None
    } else {
        Some(provision::create_account(store.as_ref(), AccountSpec::test(SiteId::Mlb), now()).await?)
    };
    let config = server_config(&args)?;
    let (server, resources) =
        Server::start_seeded(store.clone(), &args.listen, config, seed).await.map_err(|err| match err {
            StartError::Listen(err) => anyhow::Error::new(err).context(format!("cannot listen on {}", args.listen)),
            StartError::Seed(err) => anyhow::Error::new(err).context("the seed's resources"),
        })?;
    if let Some(accounts) = accounts {
        say(format!("seed applied: {}", serde_json::to_string(&accounts.and(resources))?));
    }
    let addr = server.addr();
    say(format!("caja listening on http://{addr} (store: {url})"));
    let host = if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
    match first_account {
        Some(account) => {
            let hasher = store.token_hasher();
            let ticket = crate::http::console::session::ticket(hasher, &hasher.hash(&account.access_token), now());
            print_welcome(&account, &host);
            say(format!(
                "Watch your requests, resources and webhooks in the console (this link signs the account in; it works for 7 days):\n\n    http://{host}/console/sign-in?ticket={ticket}\n"
            ));
        }
        None => say(format!("console: http://{host}/console (sign in with an access token)")),
    }
    server.run_until(server::shutdown_signal()).await?;
    say("caja stopped".to_owned());
    Ok(())
}

/// A server's settings from `serve`'s arguments.
fn server_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let (delay, webhook_retry) = args.worker.parse()?;
    Ok(ServerConfig {
        http: HttpConfig {
            rate_limit_per_second: args.rate_limit,
            auth_failures_per_second: args.auth_failures_per_second,
            idempotency_retention_ms: i64::from(args.idempotency_retention) * 1000,
            request_timeout: Duration::from_secs(REQUEST_TIMEOUT_SECS),
            client_limits: crate::http::serve::ClientLimits {
                header_read_timeout: Duration::from_secs(args.header_read_timeout.into()),
                body_read_timeout: Duration::from_secs(args.body_read_timeout.into()),
                max_connections: args.max_connections as usize,
            },
            request_log: crate::http::request_log::Retention {
                rows_max: args.request_log_rows,
                age_ms: i64::from(args.request_log_age) * 1000,
            },
        },
        payout_processing_delay: delay,
        worker_tick: Duration::from_millis(server::WORKER_TICK_MS_DEFAULT),
        webhook_retry,
    })
}

/// `caja seed apply`: the accounts, then the resources through a server of caja's
/// own (on a free loopback port, with `serve`'s settings from the environment or
/// their defaults), stopped once they are applied.
async fn apply_seed(
    store: std::sync::Arc<dyn store::Store>,
    seed: std::sync::Arc<crate::seed::Seed>,
) -> anyhow::Result<crate::seed::Applied> {
    let accounts = crate::seed::apply(store.as_ref(), &seed, now()).await?;
    let Command::Serve(defaults) = Cli::parse_from(["caja", "serve"]).command else {
        anyhow::bail!("serve's settings could not be read");
    };
    let (server, resources) = Server::start_seeded(store, "127.0.0.1:0", server_config(&defaults)?, Some(seed))
        .await
        .map_err(|err| match err {
        StartError::Listen(err) => anyhow::Error::new(err),
        StartError::Seed(err) => anyhow::Error::new(err).context("the seed's resources"),
    })?;
    server.stop().await?;
    Ok(accounts.and(resources))
}

/// The user id of a test account, or why not.
async fn test_account(store: &dyn store::Store, raw: i64) -> anyhow::Result<UserId> {
    let user = UserId::new(raw).ok_or_else(|| anyhow::anyhow!("no account has user id {raw}"))?;
    match store.account_live_mode(user).await? {
        None => anyhow::bail!("no account has user id {raw}"),
        Some(true) => anyhow::bail!("account {raw} is live: caja's test features are for test accounts"),
        Some(false) => Ok(user),
    }
}

/// `caja clock advance`: the move (one transaction), then its play-out.
async fn advance_clock(
    store: std::sync::Arc<dyn store::Store>,
    raw: i64,
    by_ms: i64,
    delay: Duration,
    policy: RetryPolicy,
) -> anyhow::Result<serde_json::Value> {
    let user = test_account(store.as_ref(), raw).await?;
    let real_now = now();
    let moved = store.write(move |uow| crate::engine::clock::advance(uow, user, by_ms, real_now)).await?;
    let clock = moved.map_err(|refused| anyhow::anyhow!("{refused}"))?;
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let worker =
        crate::worker::Worker::new(store.clone(), crate::webhooks::Deliverer::new(store.clone(), policy), delay_ms);
    let played = worker.play_out(user).await?;
    Ok(serde_json::json!({
        "user_id": raw,
        "now": clock.now.to_rfc3339(),
        "offset_ms": clock.offset_ms,
        "played_out": { "events": played.events, "moved": played.moved, "deliveries": played.deliveries },
    }))
}

/// A seed file, read and checked.
fn read_seed(path: &std::path::Path) -> anyhow::Result<crate::seed::Seed> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the seed file {}", path.display()))?;
    crate::seed::parse(&text).with_context(|| format!("seed file {}", path.display()))
}

/// A line on stdout for whoever watches `serve`; never fails the server when
/// nobody reads any more (a closed pipe, as after `caja serve | head -1`, would make
/// `println!` panic).
fn say(text: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn retry_policy(base_secs: f64, attempts_max: u32) -> anyhow::Result<RetryPolicy> {
    anyhow::ensure!(
        base_secs.is_finite() && (0.01..=86_400.0).contains(&base_secs),
        "--webhook-retry-base must be 0.01 to 86400 seconds"
    );
    Ok(RetryPolicy { base_ms: (base_secs * 1000.0) as i64, attempts_max, ..RetryPolicy::DEFAULT })
}

/// The first start: the new test account's token and a call to try.
fn print_welcome(account: &Issued, host: &str) {
    let body = r#"{"type":"print","external_reference":"quickstart","config":{"point":{"terminal_id":"NEWLAND_N950__N950NCB123456789","subtype":"custom"}},"content":"Hello from caja"}"#;
    let secret = account.webhook_secret.as_deref().unwrap_or("(none)");
    say(format!(
        "\nThe store was empty, so caja created a test account: user_id {}, site {}.\n\
         Its access token (shown only now; `caja token create` makes more):\n\n    {}\n\n\
         Its webhook secret, which signs every notification (shown only now; `caja account set --rotate-secret` makes a new one):\n\n    {secret}\n\n\
         Queue a print action on a terminal (pasting it twice shows idempotency: the same key replays the first answer):\n\n\
         curl -si -X POST http://{host}/terminals/v1/actions -H 'Authorization: Bearer {}' -H 'X-Idempotency-Key: quickstart-1' -H 'Content-Type: application/json' -d '{body}'\n",
        account.user_id, account.site_id, account.access_token, account.access_token,
    ));
}
