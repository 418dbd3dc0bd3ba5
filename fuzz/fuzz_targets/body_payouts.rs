//! Payouts' writes with fuzzed bodies: create (unsigned, and signed with the account's
//! key over the exact fuzzed bytes, so the signature check passes and the body is
//! read), cancel a transaction, its test helper's event.
//!
//! Input: a route byte (`'0'` the first below, `'1'` the next, …), then the body;
//! `{name}`s of the start-up resources are filled in (see `caja_fuzz::App::fill`).
#![no_main]

use caja_fuzz::{route_and_body, App, Kind, Route};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[Route] = &[
    Route::json("POST", "/v1/payouts"),
    Route { method: "POST", path: "/v1/payouts", kind: Kind::Signed },
    Route::json("PUT", "/v1/payouts/{payout}/transactions/{transaction}/cancel"),
    Route::json("POST", "/v1/payouts/{payout}/transactions/{transaction}/events"),
];

fuzz_target!(|data: &[u8]| {
    if let Some((route, body)) = route_and_body(ROUTES, data) {
        App::get().exchange(route, body);
    }
});
