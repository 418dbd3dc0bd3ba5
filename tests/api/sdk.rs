//! Mercado Pago's official SDKs as clients: Node `mercadopago@3.6.1` (npm) and Python
//! `mercadopago==3.6.0` (PyPI), pinned in `tests/sdk/`, unmodified but for their base
//! URL, drive a live caja through every SDK method whose path caja serves (orders,
//! card tokens, customers and their cards: `run.js`/`run.py`; payments, refunds,
//! payment methods and the user: `payments.js`/`payments.py`; preferences and merchant
//! orders: `checkout.js`/`checkout.py`, under `tests/sdk/`) and
//! check what the SDK hands back.
//!
//! The packages are installed on first use (`npm ci` into `tests/sdk/node`, a venv at
//! `target/sdk-venv`); a missing `node`, `npm` or `python3` fails the test loudly,
//! never skips it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::helpers::{Options, TestApp};

/// How long one SDK script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// How long to wait for another test process that is installing the packages.
const INSTALL_LOCK_WAIT: Duration = Duration::from_secs(600);

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn run(what: &str, command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| {
        panic!("{what}: could not start {:?} ({e}); install it: the SDK tests need Node 18+ with npm, and Python 3 with venv", command.get_program())
    });
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Install under a directory lock: the SQLite and the PostgreSQL halves of the suite
/// run at once, in two processes.
pub(crate) fn installed(marker: &Path, install: impl FnOnce()) {
    if marker.exists() {
        return;
    }
    let lock = repo().join("target").join("sdk-install.lock");
    std::fs::create_dir_all(repo().join("target")).expect("target dir");
    let start = Instant::now();
    while std::fs::create_dir(&lock).is_err() {
        assert!(start.elapsed() < INSTALL_LOCK_WAIT, "{} held too long; remove it if no test runs", lock.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if !marker.exists() {
            install();
        }
    }));
    let _ = std::fs::remove_dir(&lock);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// `node` with the pinned `mercadopago` installed from the lock file.
fn node_ready() -> PathBuf {
    let dir = repo().join("tests/sdk/node");
    let marker = dir.join("node_modules/mercadopago/package.json");
    let pinned = |m: &Path| std::fs::read_to_string(m).is_ok_and(|p| p.contains("\"version\": \"3.6.1\""));
    if !pinned(&marker) {
        let _ = std::fs::remove_file(&marker);
    }
    installed(&marker, || {
        run("npm ci (tests/sdk/node)", Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir));
    });
    assert!(pinned(&marker), "tests/sdk/node has mercadopago 3.6.1 installed");
    dir
}

/// A venv with the pinned `mercadopago` from `tests/sdk/python/requirements.txt`;
/// returns its `python`.
fn python_ready() -> PathBuf {
    let venv = repo().join("target/sdk-venv");
    let requirements = repo().join("tests/sdk/python/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).expect("requirements.txt");
    let marker = venv.join(format!("installed-{:x}", fingerprint(&pinned)));
    installed(&marker, || {
        run("python3 -m venv", Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
        let pip = venv.join("bin/pip");
        run(
            "pip install",
            Command::new(&pip).args(["install", "--quiet", "--disable-pip-version-check", "-r"]).arg(&requirements),
        );
        std::fs::write(&marker, pinned.as_bytes()).expect("marker");
    });
    venv.join("bin/python")
}

pub(crate) fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Run an SDK script against `app` with two test accounts' tokens; fails with its
/// output unless it exits 0 within [`SCRIPT_TIMEOUT`].
async fn script(app: &TestApp, program: PathBuf, args: Vec<String>) -> String {
    let (token, other) = (app.test_account().await.token, app.test_account().await.token);
    let base = app.base.clone();
    let what = format!("{} {}", program.display(), args.join(" "));
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&program)
            .args(&args)
            .current_dir(repo())
            .env("CAJA_URL", base)
            .env("CAJA_TOKEN", token)
            .env("CAJA_OTHER_TOKEN", other)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {} ({e})", program.display()));
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > SCRIPT_TIMEOUT {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    })
    .await
    .expect("script thread");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_node_sdk_drives_every_method_caja_serves() {
    let dir = tokio::task::spawn_blocking(node_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let out = script(&app, PathBuf::from("node"), vec![dir.join("run.js").display().to_string()]).await;
    assert!(out.contains("Order.create") && out.contains("steps passed"), "the script ran its order steps:\n{out}");
}

#[tokio::test]
async fn the_python_sdk_drives_every_method_caja_serves() {
    let python = tokio::task::spawn_blocking(python_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let run = repo().join("tests/sdk/python/run.py").display().to_string();
    let out = script(&app, python, vec![run]).await;
    assert!(out.contains("order().create") && out.contains("steps passed"), "the script ran its order steps:\n{out}");
}

/// The Node SDK retries a 429 after `Retry-After` with the same idempotency key: every
/// call ends with its order, and no order is made twice.
#[tokio::test]
async fn the_node_sdk_retries_a_429_after_retry_after_without_acting_twice() {
    let dir = tokio::task::spawn_blocking(node_ready).await.unwrap();
    let app = TestApp::spawn_with(Options { rate_limit_per_second: 1, ..Options::default() }).await;
    let run = dir.join("run.js").display().to_string();
    let out = script(&app, PathBuf::from("node"), vec![run, "retry".to_owned()]).await;
    assert!(out.contains("429"), "the script saw a 429 and retried:\n{out}");
}

#[tokio::test]
async fn the_node_sdk_drives_every_payment_method() {
    let dir = tokio::task::spawn_blocking(node_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let out = script(&app, PathBuf::from("node"), vec![dir.join("payments.js").display().to_string()]).await;
    assert!(out.contains("Payment.create") && out.contains("steps passed"), "the script ran its payment steps:\n{out}");
}

#[tokio::test]
async fn the_python_sdk_drives_every_payment_method() {
    let python = tokio::task::spawn_blocking(python_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let run = repo().join("tests/sdk/python/payments.py").display().to_string();
    let out = script(&app, python, vec![run]).await;
    assert!(
        out.contains("payment().create") && out.contains("steps passed"),
        "the script ran its payment steps:\n{out}"
    );
}

#[tokio::test]
async fn the_node_sdk_drives_every_preference_and_merchant_order_method() {
    let dir = tokio::task::spawn_blocking(node_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let out = script(&app, PathBuf::from("node"), vec![dir.join("checkout.js").display().to_string()]).await;
    assert!(
        out.contains("Preference.create") && out.contains("steps passed"),
        "the script ran its checkout steps:\n{out}"
    );
}

#[tokio::test]
async fn the_python_sdk_drives_every_preference_and_merchant_order_method() {
    let python = tokio::task::spawn_blocking(python_ready).await.unwrap();
    let app = TestApp::spawn().await;
    let run = repo().join("tests/sdk/python/checkout.py").display().to_string();
    let out = script(&app, python, vec![run]).await;
    assert!(
        out.contains("preference().create") && out.contains("steps passed"),
        "the script ran its checkout steps:\n{out}"
    );
}
