//! Instants as the domain sees them: milliseconds since the Unix epoch, UTC.
//!
//! The contract prints every date as RFC 3339 UTC with exactly three fractional
//! digits (`2026-11-24T10:00:00.000Z`); that formatting lives here so it is the same
//! for every family.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant, in whole milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
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
    /// millisecond; `None` if it is not one.
    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(raw).ok().map(|d| Timestamp(d.timestamp_millis()))
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

    #[test]
    fn token_stamp_is_month_day_hour() {
        assert_eq!(Timestamp::from_millis(1_795_514_400_123).token_stamp(), "112410");
    }
}
