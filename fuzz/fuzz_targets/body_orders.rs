//! Orders' writes with fuzzed bodies: create (online and Point, `order_draft`), refund,
//! add and update a transaction, the simulate helper's event.
//!
//! Input: a route byte (`'0'` the first below, `'1'` the next, …), then the body;
//! `{name}`s of the start-up resources are filled in (see `caja_fuzz::App::fill`).
#![no_main]

use caja_fuzz::{route_and_body, App, Route};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[Route] = &[
    Route::json("POST", "/v1/orders"),
    Route::json("POST", "/v1/orders/{paid_order}/refund"),
    Route::json("POST", "/v1/orders/{order}/transactions"),
    Route::json("PUT", "/v1/orders/{order}/transactions/{order_payment}"),
    Route::json("POST", "/v1/orders/{order}/events"),
];

fuzz_target!(|data: &[u8]| {
    if let Some((route, body)) = route_and_body(ROUTES, data) {
        App::get().exchange(route, body);
    }
});
