//! Point's writes with fuzzed bodies: create an action, its test helper's event, its
//! cancel (whose body is read and ignored), and the terminals' setup.
//!
//! Input: a route byte (`'0'` the first below, `'1'` the next, …), then the body;
//! `{name}`s of the start-up resources are filled in (see `caja_fuzz::App::fill`).
#![no_main]

use caja_fuzz::{route_and_body, App, Route};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[Route] = &[
    Route::json("POST", "/terminals/v1/actions"),
    Route::json("POST", "/terminals/v1/actions/{action}/events"),
    Route::json("POST", "/terminals/v1/actions/{action}/cancel"),
    Route::json("PATCH", "/terminals/v1/setup"),
];

fuzz_target!(|data: &[u8]| {
    if let Some((route, body)) = route_and_body(ROUTES, data) {
        App::get().exchange(route, body);
    }
});
