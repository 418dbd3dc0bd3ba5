//! schemathesis (PyPI, pinned in `tests/schemathesis/requirements.txt`) against the
//! served `/openapi.json` of a live caja (#12 item 2): every operation is called with
//! generated valid and invalid requests, and every answer must be documented, match
//! its schema, and never be a 5xx. Bounded by `CAJA_SCHEMATHESIS_EXAMPLES` (default
//! 30 per operation) and seeded (`CAJA_SCHEMATHESIS_SEED`, default 1212).
//!
//! One check is left out: `positive_data_acceptance` expects every request the
//! document's schemas admit to succeed, but a schema cannot say that an id must name
//! an existing resource of the caller, or the cross-field rules of a payment; caja's
//! answers to those (404, 400 with the family's cause) are documented and checked by
//! the other checks.

use std::process::Command;
use std::time::Duration;

use crate::helpers::{Options, TestApp};
use crate::sdk::{fingerprint, installed, repo, run};

fn schemathesis_ready() -> std::path::PathBuf {
    let venv = repo().join("target/schemathesis-venv");
    let requirements = repo().join("tests/schemathesis/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).expect("requirements.txt");
    let marker = venv.join(format!("installed-{:x}", fingerprint(&pinned)));
    installed(&marker, || {
        run("python3 -m venv", Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
        run(
            "pip install schemathesis",
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        );
        std::fs::write(&marker, pinned.as_bytes()).expect("marker");
    });
    venv.join("bin/st")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_holds_for_every_generated_request() {
    let st = schemathesis_ready();
    // No rate limit in the way: schemathesis sends thousands of requests, many of
    // them without a token (which the failed-authentication limit would answer 429).
    let app = TestApp::spawn_with(Options {
        rate_limit_per_second: 1_000_000,
        auth_failures_per_second: 1_000_000,
        ..Options::default()
    })
    .await;
    let token = app.test_account().await.token;
    let examples = std::env::var("CAJA_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "30".into());
    let seed = std::env::var("CAJA_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1212".into());
    let url = format!("{}/openapi.json", app.base);
    let output = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::task::spawn_blocking(move || {
            Command::new(st)
                // It keeps a cache of what it found in its working directory.
                .current_dir(repo().join("target"))
                .args(["run", &url, "--checks", "all", "--exclude-checks", "positive_data_acceptance"])
                .args([
                    "--max-examples",
                    &examples,
                    "--seed",
                    &seed,
                    "--workers",
                    "2",
                    "--no-color",
                    "--generation-deterministic",
                ])
                .args(["-H", &format!("Authorization: Bearer {token}")])
                .output()
                .expect("schemathesis runs")
        }),
    )
    .await
    .expect("schemathesis finished within 10 minutes")
    .expect("schemathesis thread");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().filter(|l| l.contains("generated") || l.contains("=====")).collect::<Vec<_>>();
    println!("schemathesis: {}", summary.join(" | "));
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
