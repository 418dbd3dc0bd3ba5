//! The `caja` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn caja(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caja")).args(args).env_remove("CAJA_DATABASE_URL").output().expect("caja runs")
}

fn db_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cli.db").display())
}

/// A failure is one line on stderr, a non-zero exit, and no panic.
fn assert_one_line_failure(output: &Output, mentions: &str) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(mentions), "{stderr} should mention {mentions}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn account_create_and_token_create_print_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let output = caja(&["account", "create", "--site", "MLA", "--database", &db]);
    assert!(output.status.success(), "{output:?}");
    let account: Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys: Vec<_> = account.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 5, "{account}");
    assert_eq!(account["site_id"], "MLA");
    assert_eq!(account["webhook_secret"].as_str().map(str::len), Some(64));
    assert_eq!(account["live_mode"], false);
    let user_id = account["user_id"].as_i64().unwrap();
    let token = account["access_token"].as_str().unwrap();
    assert!(token.starts_with("TEST-") && token.ends_with(&format!("-{user_id}")), "{token}");

    let output = caja(&["token", "create", "--user-id", &user_id.to_string(), "--site", "MLB", "--database", &db]);
    assert!(output.status.success(), "{output:?}");
    let second: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(second["user_id"], user_id);
    assert_eq!(second["site_id"], "MLB");
    assert_ne!(second["access_token"], account["access_token"]);
    assert!(second.get("webhook_secret").is_none(), "a token has no secret of its own: {second}");

    let live = caja(&["account", "create", "--site", "MLM", "--live", "--database", &db]);
    let live: Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(live["live_mode"], true);
    assert!(live["access_token"].as_str().unwrap().starts_with("APP_USR-"));
}

#[test]
fn bad_input_is_a_one_line_error_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    assert_one_line_failure(&caja(&["serve", "--bogus"]), "--bogus");
    assert_one_line_failure(&caja(&["account", "create", "--site", "XXX", "--database", &db]), "XXX");
    assert_one_line_failure(&caja(&["token", "create", "--user-id", "42", "--site", "MLA", "--database", &db]), "42");
    assert_one_line_failure(
        &caja(&["account", "create", "--site", "MLA", "--database", "sqlite:///no/such/dir/caja.db"]),
        "/no/such/dir",
    );
    assert_one_line_failure(&caja(&["account", "create", "--site", "MLA", "--database", "mysql://x"]), "mysql");
    assert_one_line_failure(&caja(&["serve", "--rate-limit", "0", "--database", &db]), "rate-limit");
}

#[test]
fn serve_on_an_empty_store_prints_a_working_token_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db_url(&dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let curl = loop {
        let line = lines.next().expect("serve prints a curl line").unwrap();
        printed.push(line.clone());
        if line.starts_with("curl ") {
            break line;
        }
    };
    let listening = printed.iter().find(|l| l.starts_with("caja listening on http://")).expect("address");
    let addr = listening.split_whitespace().nth(3).unwrap();
    assert!(curl.contains(addr), "{curl} targets {addr}");
    let token = curl.split("Bearer ").nth(1).unwrap().split('\'').next().unwrap();
    assert!(token.starts_with("TEST-"));

    // The printed call works, twice, with the second a replay: it cancels nothing.
    let run = || Command::new("bash").args(["-c", &curl]).output().unwrap();
    let first = String::from_utf8(run().stdout).unwrap();
    assert!(first.starts_with("HTTP/1.1 201"), "{first}");
    let second = String::from_utf8(run().stdout).unwrap();
    assert!(second.contains("x-idempotency-replayed: true"), "{second}");

    // The console link comes next; it signs the account in and carries no token.
    let link = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim().strip_prefix("http://").filter(|l| l.contains("/console/sign-in?ticket=")).map(str::to_owned)
        })
        .expect("a console link");
    assert!(!link.contains(token));
    let signed_in = Command::new("curl").args(["-si", &format!("http://{link}")]).output().unwrap();
    let signed_in = String::from_utf8(signed_in.stdout).unwrap();
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    assert!(signed_in.contains("set-cookie: caja_console="), "{signed_in}");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let rest: Vec<_> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "caja stopped"), "{rest:?}");
}

#[test]
fn signing_keys_and_the_payouts_permission_are_managed_from_the_cli() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let output = caja(&["account", "create", "--site", "MLB", "--live", "--no-payouts", "--database", &db]);
    let account: Value = serde_json::from_slice(&output.stdout).unwrap();
    let user = account["user_id"].to_string();

    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let pem_path = dir.path().join("public.pem");
    let pem = key.verifying_key().to_public_key_pem(Default::default()).unwrap();
    std::fs::write(&pem_path, pem).unwrap();
    let pem_arg = pem_path.to_str().unwrap();
    let added = caja(&["signing-key", "add", "--user-id", &user, "--public-key", pem_arg, "--database", &db]);
    assert!(added.status.success(), "{added:?}");

    let not_pem = dir.path().join("junk.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let junk =
        caja(&["signing-key", "add", "--user-id", &user, "--public-key", not_pem.to_str().unwrap(), "--database", &db]);
    assert_one_line_failure(&junk, "PEM");
    let missing = caja(&["signing-key", "add", "--user-id", &user, "--public-key", "/no/such.pem", "--database", &db]);
    assert_one_line_failure(&missing, "/no/such.pem");
    let stranger = caja(&["signing-key", "add", "--user-id", "7", "--public-key", pem_arg, "--database", &db]);
    assert_one_line_failure(&stranger, "7");

    let set = caja(&["account", "set", "--user-id", &user, "--enable-payouts", "--database", &db]);
    assert!(set.status.success(), "{set:?}");
    let shown: Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(shown["payouts_enabled"], true);
    assert_one_line_failure(&caja(&["account", "set", "--user-id", &user, "--database", &db]), "nothing to set");
}

#[test]
fn account_create_prints_the_webhook_secret_once_and_set_rotates_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let account: Value =
        serde_json::from_slice(&caja(&["account", "create", "--site", "MLA", "--database", &db]).stdout).unwrap();
    let user = account["user_id"].to_string();
    let secret = account["webhook_secret"].as_str().expect("every account has a secret from its creation").to_owned();
    assert_eq!(secret.len(), 64);
    let set = |extra: &[&str]| {
        let mut args = vec!["account", "set", "--user-id", &user, "--database", &db];
        args.extend_from_slice(extra);
        let output = caja(&args);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let first = set(&["--notification-url", "https://example.com/hooks"]);
    assert!(first.get("webhook_secret").is_none(), "shown only when made: {first}");
    assert_eq!(first["notification_url"], "https://example.com/hooks");
    let rotated = set(&["--rotate-secret"]);
    assert_ne!(rotated["webhook_secret"].as_str().unwrap(), secret);
    assert_one_line_failure(
        &caja(&["account", "set", "--user-id", &user, "--notification-url", "ftp://x", "--database", &db]),
        "ftp://x",
    );
}

/// The first start on an empty store shows the new test account's token and webhook
/// secret, each once.
#[test]
fn the_first_serve_shows_the_new_accounts_token_and_webhook_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Up to the welcome's last line, the curl to try (so a shorter welcome ends the read too).
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        let last = line.starts_with("curl ");
        lines.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    let after = |label: &str| {
        let at = lines.iter().position(|l| l.contains(label)).unwrap_or_else(|| panic!("no {label:?} in {text}"));
        lines[at + 2].trim().to_owned()
    };
    assert!(after("access token").starts_with("TEST-"), "{text}");
    let secret = after("webhook secret");
    assert!(secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
}

/// Tokens and webhook secrets never reach the logs: a server at the most verbose log
/// level is driven through good and bad tokens, writes, errors and webhook deliveries,
/// and its whole log is searched for them.
#[test]
fn tokens_and_webhook_secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let account: Value =
        serde_json::from_slice(&caja(&["account", "create", "--site", "MLB", "--database", &db]).stdout).unwrap();
    let (token, secret) =
        (account["access_token"].as_str().unwrap().to_owned(), account["webhook_secret"].as_str().unwrap().to_owned());
    let user = account["user_id"].to_string();
    // Notifications go to a closed port: delivery is attempted, fails and is logged.
    let set = caja(&[
        "account",
        "set",
        "--user-id",
        &user,
        "--notification-url",
        "http://127.0.0.1:9/hooks",
        "--database",
        &db,
    ]);
    assert!(set.status.success(), "{set:?}");
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db, "--webhook-retry-base", "1"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let address = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("caja listening on ").map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        })
        .expect("caja serve prints its address");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let post = |path: &str, token: &str, body: Value| {
            client.post(format!("{address}{path}")).bearer_auth(token).header("X-Idempotency-Key", uuid::Uuid::new_v4().to_string()).json(&body).send()
        };
        let order = json_body(post("/v1/orders", &token, serde_json::json!({ "type": "point", "external_reference": "log-1", "transactions": { "payments": [{ "amount": "5" }] }, "config": { "point": { "terminal_id": "NEWLAND_N950__SBX0000001" } } })).await).await;
        let id = order["id"].as_str().unwrap().to_owned();
        post(&format!("/v1/orders/{id}/events"), &token, serde_json::json!({ "status": "processed" })).await.unwrap();
        post("/v1/orders", &token, serde_json::json!({ "type": 1 })).await.unwrap();
        post("/v1/orders", &format!("{token}x"), serde_json::json!({})).await.unwrap();
        client.get(format!("{address}/v1/orders/{id}")).header("Authorization", format!("Basic {token}")).send().await.unwrap();
        // Let the worker try the webhook (and fail) at least once.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    });
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("webhook") || text.contains("notification") || text.contains("/v1/orders"),
        "the log was written: {text:.300}"
    );
    let token_secret = token.rsplit('-').nth(1).unwrap_or(&token);
    for (what, value) in
        [("access token", token.as_str()), ("token's secret part", token_secret), ("webhook secret", secret.as_str())]
    {
        assert!(!text.contains(value), "the {what} is in the log");
    }
}

async fn json_body(response: Result<reqwest::Response, reqwest::Error>) -> Value {
    response.unwrap().json().await.unwrap()
}

/// Nobody reading `serve`'s output any more (`caja serve | head -1`) must not stop it:
/// a restart prints more than the address line.
#[test]
fn serve_keeps_serving_when_its_output_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let url = db_url(&dir);
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let first = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
        // The reader is gone now: the pipe is closed.
        (child, first.split_whitespace().nth(3).unwrap().to_owned())
    };
    let (mut first, _) = start();
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut again, addr) = start();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let health = Command::new("curl").args(["-s", &format!("{addr}/health")]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), r#"{"status":"ok"}"#);
    assert!(again.try_wait().unwrap().is_none(), "serve exited when its output closed");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// `caja clock advance` moves a test account's clock and plays out what fell due;
/// `caja clock show` reads it; a live account's clock does not move.
#[test]
fn clock_advance_and_reset_act_on_a_test_account_and_refuse_a_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let created = |live: bool| {
        let mut args = vec!["account", "create", "--site", "MLA", "--database", &db];
        if live {
            args.push("--live");
        }
        let account: Value = serde_json::from_slice(&caja(&args).stdout).unwrap();
        account["user_id"].as_i64().unwrap().to_string()
    };
    let (test, live) = (created(false), created(true));
    let output = caja(&["clock", "advance", "--user-id", &test, "--by", "P1D", "--database", &db]);
    assert!(output.status.success(), "{output:?}");
    let moved: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((moved["offset_ms"].as_i64(), moved["played_out"]["events"].as_u64()), (Some(86_400_000), Some(0)));
    let shown: Value =
        serde_json::from_slice(&caja(&["clock", "show", "--user-id", &test, "--database", &db]).stdout).unwrap();
    assert_eq!(shown["offset_ms"], 86_400_000);
    let lead = chrono::DateTime::parse_from_rfc3339(shown["now"].as_str().unwrap()).unwrap().timestamp_millis()
        - chrono::Utc::now().timestamp_millis();
    assert!((lead - 86_400_000).abs() < 60_000, "{shown}");

    assert_one_line_failure(&caja(&["clock", "advance", "--user-id", &live, "--by", "P1D", "--database", &db]), "live");
    assert_one_line_failure(
        &caja(&["clock", "advance", "--user-id", &test, "--by", "tomorrow", "--database", &db]),
        "--by",
    );
    assert_one_line_failure(&caja(&["clock", "advance", "--user-id", "42", "--by", "P1D", "--database", &db]), "42");

    // `caja reset` empties the test account (its clock back at real time), never a live one.
    let output = caja(&["reset", "--user-id", &test, "--database", &db]);
    assert!(output.status.success(), "{output:?}");
    let removed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(removed["resources"], 0, "{removed}");
    let shown: Value =
        serde_json::from_slice(&caja(&["clock", "show", "--user-id", &test, "--database", &db]).stdout).unwrap();
    assert_eq!(shown["offset_ms"], 0);
    assert_one_line_failure(&caja(&["reset", "--user-id", &live, "--database", &db]), "live");
}

/// `caja listen` receives the account's webhooks and checks their signatures;
/// `caja trigger` makes the event that sends one, on a running server.
#[tokio::test]
async fn caja_trigger_sends_a_webhook_that_caja_listen_prints_verified() {
    let app = crate::helpers::TestApp::spawn_with(crate::webhooks::quick()).await;
    let account = app.test_account().await;
    let secret = app.listen(&account, "http://127.0.0.1:9/not-yet").await;
    let mut listener = Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["listen", "--listen", "127.0.0.1:0", "--secret", &secret])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = listener.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let first = received.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    let address = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("{first}")).to_owned();
    let change = caja::provision::AccountChange {
        notification_url: Some(format!("{address}/hooks")),
        ..caja::provision::AccountChange::default()
    };
    caja::provision::change_account(app.store().as_ref(), account.user_id, change).await.unwrap();

    let base = app.base.clone();
    let token = account.token.clone();
    let triggered = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_caja"))
            .args(["trigger", "payment.approved", "--base", &base, "--token", &token])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(triggered.status.success(), "{triggered:?}");
    let done: Value = serde_json::from_slice(&triggered.stdout).unwrap();
    let id = done["resource_id"].as_str().unwrap().to_owned();

    let delivery = tokio::task::spawn_blocking(move || loop {
        let line = received.recv_timeout(std::time::Duration::from_secs(20)).expect("a delivery within 20 s");
        let printed: Value = serde_json::from_str(&line).unwrap();
        if printed["path"].as_str().is_some_and(|p| p.contains(&format!("data.id={id}"))) {
            return printed;
        }
    })
    .await
    .unwrap();
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(delivery["signature"], "valid", "{delivery}");
    assert!(delivery["x-signature"].as_str().unwrap().starts_with("ts="), "{delivery}");
    assert!(delivery["path"].as_str().unwrap().starts_with("/hooks?"), "{delivery}");

    // Without the right secret, the same kind of delivery is shown as invalid.
    let bad = caja::domain::notification::signature_valid(
        delivery["x-signature"].as_str().unwrap(),
        "another-secret",
        delivery["body"]["data"]["id"].as_str().unwrap_or_default(),
        delivery["x-request-id"].as_str().unwrap(),
    );
    assert!(!bad);
}

/// `caja export` writes a test account's state as one file; `caja import` puts it
/// back, whatever happened in between; a broken file is refused before anything is
/// written.
#[test]
fn export_then_import_restores_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(&dir);
    let account: Value =
        serde_json::from_slice(&caja(&["account", "create", "--site", "MLB", "--database", &db]).stdout).unwrap();
    let user = account["user_id"].as_i64().unwrap().to_string();
    let moved = caja(&["clock", "advance", "--user-id", &user, "--by", "PT1H", "--database", &db]);
    assert!(moved.status.success(), "{moved:?}");
    let exported = caja(&["export", "--user-id", &user, "--database", &db]);
    assert!(exported.status.success(), "{exported:?}");
    let file = dir.path().join("snapshot.json");
    std::fs::write(&file, &exported.stdout).unwrap();
    assert!(caja(&["reset", "--user-id", &user, "--database", &db]).status.success());
    let imported = caja(&["import", file.to_str().unwrap(), "--database", &db]);
    assert!(imported.status.success(), "{imported:?}");
    let counts: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(counts["account_clocks"], 1, "{counts}");
    let shown: Value =
        serde_json::from_slice(&caja(&["clock", "show", "--user-id", &user, "--database", &db]).stdout).unwrap();
    assert_eq!(shown["offset_ms"], 3_600_000);

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{\"caja_snapshot\":1,\"user_id\":5,\"tables\":{\"tokens\":[]}}").unwrap();
    assert_one_line_failure(&caja(&["import", broken.to_str().unwrap(), "--database", &db]), "tokens");
    assert_one_line_failure(&caja(&["import", "/no/such/file.json", "--database", &db]), "/no/such/file.json");
}
