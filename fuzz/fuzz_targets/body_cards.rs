//! Cards' writes with fuzzed bodies: create a card token (from a card or a saved card),
//! save a card, update a saved card.
//!
//! Input: a route byte (`'0'` the first below, `'1'` the next, …), then the body;
//! `{name}`s of the start-up resources are filled in (see `caja_fuzz::App::fill`).
#![no_main]

use caja_fuzz::{route_and_body, App, Route};
use libfuzzer_sys::fuzz_target;

const ROUTES: &[Route] = &[
    Route::json("POST", "/v1/card_tokens"),
    Route::json("POST", "/v1/customers/{customer}/cards"),
    Route::json("PUT", "/v1/customers/{customer}/cards/{card}"),
];

fuzz_target!(|data: &[u8]| {
    if let Some((route, body)) = route_and_body(ROUTES, data) {
        App::get().exchange(route, body);
    }
});
