//! Instants as the domain sees them: milliseconds since the Unix epoch, UTC.
//!
//! The contract prints every date as RFC 3339 UTC with exactly three fractional
//! digits (`2026-11-24T10:00:00.000Z`); that formatting lives here so it is the same
//! for every family.

use std::ops::RangeInclusive;

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant, in whole milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instants a client may send: years 0001 to 9999, UTC. Each prints with a
    /// four-digit year, as RFC 3339 requires, in UTC and at the Payments API's
    /// `-04:00` alike (a date RFC 3339 allows, `0000-01-01T00:00:00+01:00`, is an
    /// instant in year -1; caja printed it `-0001-12-31T23:00:00.000Z`).
    pub const CLIENT_RANGE: RangeInclusive<Timestamp> = Timestamp(-62_135_596_800_000)..=Timestamp(253_402_300_799_999);

    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The instant `millis` later (saturating, never panics).
    pub const fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// An RFC 3339 date with any offset (`2026-11-24T07:00:00.000-03:00`), to the
    /// millisecond; `None` if it is not one, or not in [`Self::CLIENT_RANGE`].
    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        let at = Timestamp(DateTime::parse_from_rfc3339(raw).ok()?.timestamp_millis());
        Self::CLIENT_RANGE.contains(&at).then_some(at)
    }

    /// `2026-11-24T10:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// `MMDDhh` of the instant, as Mercado Pago puts it in its access tokens.
    pub fn token_stamp(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            .format("%m%d%H")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_exactly_three_fractional_digits() {
        assert_eq!(Timestamp::from_millis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::from_millis(1_795_514_400_123).to_rfc3339(), "2026-11-24T10:00:00.123Z");
    }

    /// Found by `fuzz/` (target `dates`): a date past 9999 in UTC was taken and shown
    /// as `+10000-01-01T13:17:59.000Z`, which no RFC 3339 reader takes back.
    #[test]
    fn only_dates_that_print_back_are_taken() {
        assert_eq!(Timestamp::parse_rfc3339("9999-12-31T23:18:59-13:59"), None);
        assert_eq!(Timestamp::parse_rfc3339("0000-01-01T00:00:00+01:00"), None);
        assert_eq!(Timestamp::parse_rfc3339("0000-12-31T23:59:59.999Z"), None);
        for edge in ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            let at = Timestamp::parse_rfc3339(edge).unwrap();
            assert_eq!(at.to_rfc3339(), edge);
        }
        let first = DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z").unwrap().timestamp_millis();
        let last = DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999Z").unwrap().timestamp_millis();
        assert_eq!(Timestamp::CLIENT_RANGE, Timestamp(first)..=Timestamp(last));
    }

    #[test]
    fn token_stamp_is_month_day_hour() {
        assert_eq!(Timestamp::from_millis(1_795_514_400_123).token_stamp(), "112410");
    }
}
