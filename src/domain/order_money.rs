//! The Orders API's amounts and durations, as its pages write them.

/// An amount in hundredths (cents), shown as the Orders API shows money: a decimal
/// string with two decimals (`"24.50"`). Parsed from "up to 2 decimal places, and
/// the decimal separator is optional. Valid examples: `10`, `10.5`, and `10.00`"
/// (Point create-order page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(i64);

/// Integer digits of an amount, at most (the online page's `unit_price` limit is 18
/// characters).
pub const MONEY_INTEGER_DIGITS_MAX: usize = 15;

crate::serde_as_text!(Money, Money::parse, |m: &Money| m.to_string());

impl Money {
    pub const ZERO: Money = Money(0);

    /// `10`, `10.5`, `10.00`; never a sign, an exponent or a third decimal.
    pub fn parse(raw: &str) -> Option<Money> {
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let fraction_ok = if raw.contains('.') { (1..=2).contains(&fraction.len()) } else { true };
        if whole.is_empty()
            || whole.len() > MONEY_INTEGER_DIGITS_MAX
            || !digits(whole)
            || !digits(fraction)
            || !fraction_ok
        {
            return None;
        }
        let units: i64 = whole.parse().ok()?;
        let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
        Some(Money(units * 100 + cents))
    }

    pub const fn from_cents(cents: i64) -> Money {
        Money(cents)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn plus(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn minus(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// An ISO 8601 duration (`PT30S`, `PT1H15M`, `P3D`, `P1Y2M10DT2H30M`) in
/// milliseconds; a year counts 365 days and a month 30. `None` if malformed.
pub fn parse_duration_ms(raw: &str) -> Option<i64> {
    let rest = raw.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    const DAY: i64 = 86_400_000;
    let date_units = [('Y', 365 * DAY), ('M', 30 * DAY), ('W', 7 * DAY), ('D', DAY)];
    let time_units = [('H', 3_600_000), ('M', 60_000), ('S', 1000)];
    let total = sum_units(date, &date_units)?.checked_add(time.map_or(Some(0), |t| sum_units(t, &time_units))?)?;
    (!(date.is_empty() && time.is_none())).then_some(total)
}

/// `3D2W…` with the units in the order given, each at most once.
fn sum_units(part: &str, units: &[(char, i64)]) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut next_unit = 0;
    for c in part.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let position = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
        let n: i64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(units[position].1)?)?;
        number.clear();
        next_unit = position + 1;
    }
    number.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_as_the_page_lists_them() {
        assert_eq!(Money::parse("10").map(Money::cents), Some(1000));
        assert_eq!(Money::parse("10.5").map(Money::cents), Some(1050));
        assert_eq!(Money::parse("10.00").map(|m| m.to_string()), Some("10.00".into()));
        for bad in ["", ".5", "10.", "10.005", "-1", "1e3", "1,00", " 1", "1234567890123456"] {
            assert_eq!(Money::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("PT30S"), Some(30_000));
        assert_eq!(parse_duration_ms("PT1H15M"), Some(4_500_000));
        assert_eq!(parse_duration_ms("P1D"), Some(86_400_000));
        assert!(parse_duration_ms("P3Y6M4DT12H30M5S").is_some());
        for bad in ["", "P", "PT", "30S", "PT30", "PTS", "PT1S1M", "P1H"] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }
}
