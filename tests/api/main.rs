#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! caja's API tests: each starts the real server on port 0 with a fresh store in a
//! temporary directory and talks HTTP to it.
//!
//! Reference pages and the modules that check them row by row: Point terminal
//! actions (create, get, cancel, terminal list) `point`; payouts (create, get, list,
//! transaction, cancel, statuses) `payouts` and `payout_worker`; customers
//! `customer_reference`; cards and card tokens `card_reference`; payment profiles
//! (create, list, get, add and delete a method, cancel) `customers`; notifications
//! `webhooks`. `docs/fidelity.md` says where caja differs, and why.

mod audit_chain;
mod browser;
mod card_reference;
mod checkout_pro;
mod cli;
mod clock;
mod console;
mod crash;
mod cross_account;
mod customer_reference;
mod customers;
mod fault_header;
mod fault_rules;
mod faults;
mod fuzz_regressions;
mod helpers;
mod hostile;
mod idempotency;
mod journal;
mod metrics;
mod migration;
mod openapi;
mod orders;
mod payment_reference;
mod payout_worker;
mod payouts;
mod pipeline;
mod point;
mod point_orders;
mod processes;
mod receiver;
mod reset;
mod resource_store;
mod schemathesis;
mod sdk;
mod seed;
mod snapshot;
mod test_users;
mod transaction_intents;
mod trigger;
mod webhook_check;
mod webhooks;

use std::io::Write;

/// The PostgreSQL half: this same binary, run again with `CAJA_TEST_STORE=postgres`,
/// so every API test also runs against PostgreSQL (each in a fresh database). Without
/// `CAJA_TEST_POSTGRES_URL` it says loudly that it was skipped.
#[test]
fn postgres_half() {
    if helpers::on_postgres() {
        return; // we are the PostgreSQL half
    }
    let mut out = std::io::stderr().lock();
    let Ok(url) = std::env::var(helpers::POSTGRES_URL_ENV) else {
        let _ = writeln!(
            out,
            "\n*** PostgreSQL half SKIPPED: set {}=postgres://postgres@127.0.0.1:5432/postgres to run every API test on PostgreSQL too ***\n",
            helpers::POSTGRES_URL_ENV
        );
        return;
    };
    let _ = writeln!(out, "\n*** PostgreSQL half: running every API test again on {url} ***");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .env(helpers::STORE_ENV, "postgres")
        .args(["--skip", "postgres_half"])
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .status()
        .expect("run the PostgreSQL half");
    assert!(status.success(), "the PostgreSQL half failed (its output is above)");
}
