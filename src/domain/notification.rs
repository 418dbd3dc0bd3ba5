//! Webhook notifications: the outbox row, the retry schedule, and the signature.
//!
//! Signed as Mercado Pago signs its webhooks: `x-signature: ts=<unix s>,v1=<hex
//! HMAC-SHA256(secret, "id:<data.id>;request-id:<x-request-id>;ts:<ts>;")>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ResourceType, Timestamp, UserId};

/// How long a delivery may take before it counts as failed.
pub const DELIVERY_TIMEOUT_MS: u64 = 10_000;
/// A claimed notification is another process's to deliver for this long.
pub const CLAIM_LEASE_MS: i64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Every attempt failed; `POST /v1/notifications/{id}/retry` queues it again.
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Delivered => "delivered",
            NotificationStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [NotificationStatus::Pending, NotificationStatus::Delivered, NotificationStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A state change to announce, as the engine enqueues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: UserId,
    pub live_mode: bool,
    pub resource_type: ResourceType,
    pub resource_id: String,
    /// The resource's new status.
    pub status: String,
    pub external_reference: Option<String>,
    pub url: String,
    pub created_at: Timestamp,
    /// The body to send, when the family's webhook body is the resource itself
    /// (payout transactions); `None`: the generic envelope.
    pub body: Option<String>,
    /// A webhook, or the legacy IPN form.
    pub form: NotificationForm,
}

/// How a notification is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NotificationForm {
    /// `POST <url>?data.id=<id>&type=<type>`, signed (`x-signature`).
    #[default]
    Webhook,
    /// The legacy IPN: `POST <url>?topic=<type>&id=<id>` with
    /// `{"resource","topic"}`, unsigned (the IPN page; "will be discontinued").
    Ipn,
}

impl NotificationForm {
    /// As stored: `NULL` for a webhook, `ipn`.
    pub fn as_column(self) -> Option<&'static str> {
        match self {
            NotificationForm::Webhook => None,
            NotificationForm::Ipn => Some("ipn"),
        }
    }

    pub fn parse(raw: Option<&str>) -> Self {
        if raw == Some("ipn") {
            NotificationForm::Ipn
        } else {
            NotificationForm::Webhook
        }
    }
}

impl NewNotification {
    /// `<family>.<new status>`, e.g. `terminal_action.canceled`.
    pub fn action(&self) -> String {
        format!("{}.{}", self.resource_type.as_str(), self.status)
    }
}

/// A stored notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub change: NewNotification,
    pub status: NotificationStatus,
    /// How many attempts were made so far (drives the retry schedule).
    pub attempts_made: u32,
    /// The attempts themselves, when loaded (listings).
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<Timestamp>,
}

/// One try at delivering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed, when it did without an answer (or with a non-2xx one).
    pub error: Option<String>,
    pub latency_ms: i64,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|code| (200..300).contains(&code))
    }
}

/// Exponential backoff with jitter, bounded in attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// The wait after the first failure.
    pub base_ms: i64,
    pub factor: i64,
    /// Attempts in all, the first included.
    pub attempts_max: u32,
}

impl RetryPolicy {
    /// 8 attempts: waits of about 1, 3, 9, 27, 81 minutes, 4 and 12 hours (≈ 18 h in all).
    pub const DEFAULT: RetryPolicy = RetryPolicy { base_ms: 60_000, factor: 3, attempts_max: 8 };

    /// When to try again after `attempts_made` failed attempts, or `None` to give up.
    /// `jitter` in [0, 1) spreads retries by ±20% so receivers are not stampeded.
    pub fn next_attempt(&self, attempts_made: u32, now: Timestamp, jitter: f64) -> Option<Timestamp> {
        if attempts_made >= self.attempts_max {
            return None;
        }
        let exponent = attempts_made.saturating_sub(1);
        let delay = (0..exponent).fold(self.base_ms, |d, _| d.saturating_mul(self.factor));
        let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        Some(now.plus_millis((delay as f64 * spread) as i64))
    }
}

/// The `x-signature` header value.
pub fn signature(secret: &str, data_id: &str, request_id: &str, ts_secs: i64) -> String {
    let manifest = format!("id:{data_id};request-id:{request_id};ts:{ts_secs};");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(manifest.as_bytes());
    format!("ts={ts_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an `x-signature` header is `secret`'s signature of the delivery of
/// `data_id` with request id `request_id` (at the `ts` the header carries; how old
/// that may be is the receiver's to judge). Compared in constant time.
pub fn signature_valid(header: &str, secret: &str, data_id: &str, request_id: &str) -> bool {
    let mut ts = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("ts", value)) => ts = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(ts), Some(v1)) = (ts, v1) else { return false };
    let manifest = format!("id:{data_id};request-id:{request_id};ts:{ts};");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(manifest.as_bytes());
    mac.verify_slice(&v1).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_valid_for_its_own_delivery_only() {
        let header = signature("secret", "123", "abc", 1_700_000_000);
        assert!(signature_valid(&header, "secret", "123", "abc"));
        assert!(!signature_valid(&header, "other", "123", "abc"));
        assert!(!signature_valid(&header, "secret", "124", "abc"));
        assert!(!signature_valid(&header, "secret", "123", "abd"));
        assert!(!signature_valid("ts=1,v1=zz", "secret", "123", "abc"));
        assert!(!signature_valid("", "secret", "123", "abc"));
    }

    #[test]
    fn the_default_schedule_is_eight_attempts_over_most_of_a_day() {
        let policy = RetryPolicy::DEFAULT;
        let mut now = Timestamp::from_millis(0);
        let mut waits = Vec::new();
        for made in 1..=8 {
            match policy.next_attempt(made, now, 0.5) {
                Some(next) => {
                    waits.push((next.as_millis() - now.as_millis()) / 60_000);
                    now = next;
                }
                None => assert_eq!(made, 8, "gives up after the eighth"),
            }
        }
        assert_eq!(waits, [1, 3, 9, 27, 81, 243, 729]);
        let hours = now.as_millis() as f64 / 3_600_000.0;
        assert!((17.0..24.0).contains(&hours), "{hours}");
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let policy = RetryPolicy { base_ms: 1_000, factor: 2, attempts_max: 5 };
        let at = |jitter| policy.next_attempt(1, Timestamp::from_millis(0), jitter).unwrap().as_millis();
        assert_eq!((at(0.0), at(0.5), at(0.999_999)), (800, 1_000, 1_199));
    }

    #[test]
    fn signature_follows_mercado_pagos_manifest() {
        // HMAC-SHA256("secret", "id:123;request-id:abc;ts:1700000000;"), computed
        // independently with Python's hmac module.
        let header = signature("secret", "123", "abc", 1_700_000_000);
        assert_eq!(header, "ts=1700000000,v1=b322251005843689e32e3f032ab420e11cceb10368a62518f497c23a10860569");
        assert_ne!(signature("secret", "124", "abc", 1_700_000_000), header);
        assert_ne!(signature("other", "123", "abc", 1_700_000_000), header);
    }
}
