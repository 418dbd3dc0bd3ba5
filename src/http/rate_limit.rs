//! The per-token rate limiter (GCRA, from `governor`).
//!
//! Buckets live in this process's memory: N processes on one database allow up to N
//! times the limit in all.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::TokenHash;

pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<TokenHash>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `per_second` requests a second per token, with a burst of the same size.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds)` to wait (at least 1) when the token is over its limit.
    pub fn check(&self, token: &TokenHash) -> Result<(), u64> {
        self.limiter
            .check_key(token)
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
            .map_err(|secs| secs.max(1))
    }

    /// Drop buckets that have refilled, so memory stays bounded by active tokens.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}
