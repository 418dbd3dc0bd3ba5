//! Dates a client sends: RFC 3339 with any offset (`Timestamp::parse_rfc3339`:
//! payments' and preferences' dates) and a payout's `schedule_date`
//! (`payout::parse_schedule_date`). A date that parses is within
//! `Timestamp::CLIENT_RANGE` and prints (UTC, milliseconds) as RFC 3339 text that both
//! parse back to the same instant.
#![no_main]

use caja::domain::payout::parse_schedule_date;
use caja::domain::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(at) = Timestamp::parse_rfc3339(text) {
        assert!(Timestamp::CLIENT_RANGE.contains(&at), "{text:?} is {at:?}");
        let shown = at.to_rfc3339();
        assert_eq!(Timestamp::parse_rfc3339(&shown), Some(at), "{text:?} shown as {shown:?}");
        assert_eq!(parse_schedule_date(&shown), Some(at), "{shown:?} as a schedule date");
    }
    if let Some(at) = parse_schedule_date(text) {
        let shown = at.to_rfc3339();
        assert_eq!(parse_schedule_date(&shown), Some(at), "{text:?} shown as {shown:?}");
        assert_eq!(Timestamp::parse_rfc3339(&shown), Some(at), "{text:?} shown as {shown:?}");
    }
});
