//! `X-Idempotency-Key` (`domain::idempotency::IdempotencyKey::parse`): a key that
//! parses is 1 to 64 visible ASCII characters (or spaces), is the header trimmed, and
//! parses again to itself.
#![no_main]

use caja::domain::idempotency::{IdempotencyKey, KeyError, KEY_CHARS_MAX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match IdempotencyKey::parse(Some(text)) {
        Ok(key) => {
            let kept = key.as_str();
            assert_eq!(kept, text.trim());
            assert!((1..=KEY_CHARS_MAX).contains(&kept.len()));
            assert!(kept.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            assert_eq!(IdempotencyKey::parse(Some(kept)), Ok(key.clone()));
        }
        Err(KeyError::Missing) => assert!(text.trim().is_empty()),
        Err(KeyError::Invalid) => assert!(!text.trim().is_empty()),
    }
    assert_eq!(IdempotencyKey::parse(None), Err(KeyError::Missing));
});
