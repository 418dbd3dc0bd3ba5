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

/// Failed authentications a client address may make at once, and how many it gets
/// back each second: beyond them it is shut out (429) until its bucket refills, so
/// tokens cannot be guessed at the full request rate.
pub const AUTH_FAILURES_BURST: u32 = 20;
pub const AUTH_FAILURES_PER_SECOND: u32 = 2;

/// Failed authentications per client address (GCRA, from `governor`), and the
/// addresses shut out until a given instant. In this process's memory.
pub struct AuthFailures {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    clock: DefaultClock,
    shut_out: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, std::time::Instant>>,
}

impl Default for AuthFailures {
    fn default() -> Self {
        AuthFailures::per_second(NonZeroU32::new(AUTH_FAILURES_PER_SECOND).unwrap_or(NonZeroU32::MIN))
    }
}

impl AuthFailures {
    /// `per_second` failed authentications per address, in bursts of ten times that
    /// (the defaults: 2 and 20; `caja serve --auth-failures-per-second`).
    pub fn per_second(per_second: NonZeroU32) -> Self {
        let burst = per_second
            .saturating_mul(NonZeroU32::new(AUTH_FAILURES_BURST / AUTH_FAILURES_PER_SECOND).unwrap_or(NonZeroU32::MIN));
        let quota = Quota::per_second(per_second).allow_burst(burst);
        AuthFailures {
            limiter: governor::RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            shut_out: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl AuthFailures {
    /// Seconds `ip` must still wait (at least 1), if it is shut out now.
    pub fn waiting(&self, ip: std::net::IpAddr) -> Option<u64> {
        let now = std::time::Instant::now();
        let shut_out = self.shut_out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        shut_out.get(&ip).filter(|until| **until > now).map(|until| until.duration_since(now).as_secs().max(1))
    }

    /// Count a failed authentication of `ip`: `Some(seconds)` when this one went over
    /// the budget (and `ip` is now shut out for that long).
    pub fn failed(&self, ip: std::net::IpAddr) -> Option<u64> {
        let Err(not_until) = self.limiter.check_key(&ip) else {
            return None;
        };
        let wait = not_until.wait_time_from(self.clock.now()).max(std::time::Duration::from_secs(1));
        let mut shut_out = self.shut_out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        shut_out.insert(ip, std::time::Instant::now() + wait);
        Some(wait.as_secs().max(1))
    }

    /// Forget refilled buckets and ended shut-outs.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        let now = std::time::Instant::now();
        self.shut_out.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, until| *until > now);
    }
}
