//! Checkout Pro's writes with fuzzed bodies: create and update a preference
//! (`checkout_draft`), create and update a merchant order, and the hosted checkout's
//! public form.
//!
//! Input: a route byte (`'0'` the first below, `'1'` the next, …), then the body;
//! `{name}`s of the start-up resources are filled in (see `caja_fuzz::App::fill`).
#![no_main]

use caja_fuzz::{route_and_body, App, Kind, Route};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[Route] = &[
    Route::json("POST", "/checkout/preferences"),
    Route::json("PUT", "/checkout/preferences/{preference}"),
    Route::json("POST", "/merchant_orders"),
    Route::json("PUT", "/merchant_orders/{merchant_order}"),
    Route { method: "POST", path: "/checkout/v1/pay", kind: Kind::Form },
];

fuzz_target!(|data: &[u8]| {
    if let Some((route, body)) = route_and_body(ROUTES, data) {
        App::get().exchange(route, body);
    }
});
