//! A test account's clock: real time plus an offset that only grows. Moving it is
//! caja's own test feature (`POST /caja/v1/clock/advance`, `caja clock advance`);
//! Mercado Pago has no such thing. Live accounts' clocks never move.

/// The most one move may advance a clock: 10 years, in milliseconds.
pub const ADVANCE_MS_MAX: i64 = 10 * 366 * 86_400_000;
/// The furthest a clock may run ahead of real time: 100 years, in milliseconds (so
/// every account's time stays a printable date).
pub const OFFSET_MS_MAX: i64 = 100 * 366 * 86_400_000;

/// Why a move was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the clock only moves forward: advance by 1 ms to {ADVANCE_MS_MAX} ms")]
    OutOfRange,
    #[error("the clock would run more than {OFFSET_MS_MAX} ms ahead of real time")]
    TooFarAhead,
}

/// The offset after moving a clock at `offset_ms` forward by `by_ms`.
pub fn advance(offset_ms: i64, by_ms: i64) -> Result<i64, Refused> {
    if !(1..=ADVANCE_MS_MAX).contains(&by_ms) {
        return Err(Refused::OutOfRange);
    }
    let after = offset_ms.saturating_add(by_ms);
    if after > OFFSET_MS_MAX {
        return Err(Refused::TooFarAhead);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_moves_forward_within_its_bounds() {
        assert_eq!(advance(0, 1_000), Ok(1_000));
        assert_eq!(advance(5, ADVANCE_MS_MAX), Ok(5 + ADVANCE_MS_MAX));
        assert_eq!(advance(0, 0), Err(Refused::OutOfRange));
        assert_eq!(advance(0, -1), Err(Refused::OutOfRange));
        assert_eq!(advance(0, ADVANCE_MS_MAX + 1), Err(Refused::OutOfRange));
        assert_eq!(advance(OFFSET_MS_MAX - 1, 2), Err(Refused::TooFarAhead));
    }
}
