//! Idempotency decisions, as the contract's Idempotency section states them.
//!
//! Scope is `(user_id, key)`; a record lives for a retention period (24 hours by
//! default) and may then be reused. The fingerprint is method, path and a hash of the
//! raw body. The decision is pure: the storage layer loads the record and acts on it
//! inside the same transaction as the work, which is what makes concurrent
//! duplicates run once.

use sha2::{Digest, Sha256};

use super::Timestamp;

/// The longest key accepted, in characters.
pub const KEY_CHARS_MAX: usize = 64;

/// Default retention of a record: 24 hours.
pub const RETENTION_MS_DEFAULT: i64 = 24 * 60 * 60 * 1000;

/// A valid `X-Idempotency-Key` value: 1 to 64 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the X-Idempotency-Key header is required")]
    Missing,
    #[error("the X-Idempotency-Key header must be 1 to 64 visible ASCII characters")]
    Invalid,
}

impl IdempotencyKey {
    /// `None` is an absent header; blank counts as absent.
    pub fn parse(raw: Option<&str>) -> Result<Self, KeyError> {
        let raw = raw.map(str::trim).unwrap_or_default();
        if raw.is_empty() {
            return Err(KeyError::Missing);
        }
        if raw.chars().count() > KEY_CHARS_MAX || !raw.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(KeyError::Invalid);
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What makes two requests "the same request": method, path and body hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(method: &str, path_and_query: &str, body: &[u8]) -> Self {
        let body_hash = Sha256::digest(body);
        let mut hasher = Sha256::new();
        hasher.update(method.as_bytes());
        hasher.update([0]);
        hasher.update(path_and_query.as_bytes());
        hasher.update([0]);
        hasher.update(body_hash);
        Fingerprint(hasher.finalize().into())
    }
}

/// A response exactly as it was sent, to be replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A finished request remembered under its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: Fingerprint,
    pub response: StoredResponse,
    pub created_at: Timestamp,
}

/// What to do with a request, given what is stored under its key.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No live record: do the work and store its response.
    Execute,
    /// The same request finished before: send its response again.
    Replay(StoredResponse),
    /// The key was used for another request.
    Conflict,
}

/// Decide, given the record under the key (if any), the request's fingerprint, the
/// current time and the retention period.
pub fn decide(
    existing: Option<&IdempotencyRecord>,
    fingerprint: Fingerprint,
    now: Timestamp,
    retention_ms: i64,
) -> Decision {
    match existing {
        None => Decision::Execute,
        Some(record) if is_expired(record, now, retention_ms) => Decision::Execute,
        Some(record) if record.fingerprint == fingerprint => Decision::Replay(record.response.clone()),
        Some(_) => Decision::Conflict,
    }
}

/// A record older than the retention period no longer binds its key.
pub fn is_expired(record: &IdempotencyRecord, now: Timestamp, retention_ms: i64) -> bool {
    record.created_at.plus_millis(retention_ms) <= now
}

/// Only responses the client should not retry for a different result are kept:
/// everything below 500. A 5xx means the work rolled back, so a retry may succeed.
pub fn is_storable(status: u16) -> bool {
    status < 500
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fingerprint: Fingerprint, at: i64) -> IdempotencyRecord {
        IdempotencyRecord {
            fingerprint,
            response: StoredResponse { status: 201, body: b"{}".to_vec() },
            created_at: Timestamp::from_millis(at),
        }
    }

    #[test]
    fn keys_are_one_to_sixty_four_visible_characters() {
        assert_eq!(IdempotencyKey::parse(None), Err(KeyError::Missing));
        assert_eq!(IdempotencyKey::parse(Some("")), Err(KeyError::Missing));
        assert_eq!(IdempotencyKey::parse(Some("   ")), Err(KeyError::Missing));
        assert!(IdempotencyKey::parse(Some(&"k".repeat(64))).is_ok());
        assert_eq!(IdempotencyKey::parse(Some(&"k".repeat(65))), Err(KeyError::Invalid));
        assert_eq!(IdempotencyKey::parse(Some("tab\there")), Err(KeyError::Invalid));
    }

    #[test]
    fn fingerprint_covers_method_path_and_body() {
        let base = Fingerprint::of("POST", "/a", b"{}");
        assert_eq!(base, Fingerprint::of("POST", "/a", b"{}"));
        assert_ne!(base, Fingerprint::of("PUT", "/a", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/b", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/a", b"{ }"));
        // The separator keeps method and path from bleeding into each other.
        assert_ne!(Fingerprint::of("POS", "T/a", b""), Fingerprint::of("POST", "/a", b""));
    }

    #[test]
    fn decisions() {
        let fp = Fingerprint::of("POST", "/a", b"");
        let other = Fingerprint::of("POST", "/b", b"");
        let now = Timestamp::from_millis(10_000);
        assert_eq!(decide(None, fp, now, 1_000), Decision::Execute);
        let fresh = record(fp, 9_500);
        assert!(matches!(decide(Some(&fresh), fp, now, 1_000), Decision::Replay(_)));
        assert_eq!(decide(Some(&fresh), other, now, 1_000), Decision::Conflict);
        let old = record(fp, 9_000);
        assert_eq!(decide(Some(&old), other, now, 1_000), Decision::Execute);
    }

    #[test]
    fn five_hundreds_are_not_stored() {
        assert!(is_storable(201));
        assert!(is_storable(409));
        assert!(!is_storable(500));
    }
}
