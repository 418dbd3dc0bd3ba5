//! The per-token rate limiter (GCRA, from `governor`), and the headers that show it.
//!
//! Buckets live in this process's memory: N processes on one database allow up to N
//! times the limit in all.

use std::num::NonZeroU32;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;

use crate::domain::TokenHash;

type Limiter =
    governor::RateLimiter<TokenHash, DefaultKeyedStateStore<TokenHash>, DefaultClock, StateInformationMiddleware>;

pub struct RateLimiter {
    limiter: Limiter,
    clock: DefaultClock,
    per_second: NonZeroU32,
}

/// Where a token stands after a request was counted.
#[derive(Clone, Copy, Debug)]
pub struct Standing {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds to wait (at least 1) when over the limit.
    pub retry_after_secs: Option<u64>,
}

impl Standing {
    /// `X-RateLimit-Limit` and `X-RateLimit-Remaining`.
    pub fn stamp(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
    }
}

impl RateLimiter {
    /// `per_second` requests a second per token, with a burst of the same size.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        let limiter =
            governor::RateLimiter::keyed(Quota::per_second(per_second)).with_middleware::<StateInformationMiddleware>();
        RateLimiter { limiter, clock: DefaultClock::default(), per_second }
    }

    /// Count one request of `token`.
    pub fn check(&self, token: &TokenHash) -> Standing {
        let limit = self.per_second.get();
        match self.limiter.check_key(token) {
            Ok(snapshot) => Standing { limit, remaining: snapshot.remaining_burst_capacity(), retry_after_secs: None },
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                Standing { limit, remaining: 0, retry_after_secs: Some(secs) }
            }
        }
    }

    /// Drop buckets that have refilled, so memory stays bounded by active tokens.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}
