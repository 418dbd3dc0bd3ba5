//! ISO 8601 durations (`domain::order_money::parse_duration_ms`, an order's
//! `expiration_time`): a duration that parses is not negative, and its whole seconds
//! written as `PT<n>S` parse to the same milliseconds.
#![no_main]

use caja::domain::order_money::parse_duration_ms;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(ms) = parse_duration_ms(text) else { return };
    assert!(ms >= 0, "{text:?} is {ms} ms");
    assert_eq!(ms % 1000, 0, "{text:?}: every unit is whole seconds");
    assert_eq!(parse_duration_ms(&format!("PT{}S", ms / 1000)), Some(ms), "{text:?}");
});
