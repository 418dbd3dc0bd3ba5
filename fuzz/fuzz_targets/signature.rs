//! The payout request signature (`domain::signature::verify`): arbitrary signature
//! text and body. Input: the signature text, a NUL byte, the body. Nothing verifies
//! against no key, and the key's real signature of the fuzzed body verifies, with the
//! header's surrounding whitespace trimmed.
#![no_main]

use base64::Engine;
use caja::domain::signature::verify;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, body) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let signing = SigningKey::from_bytes(&[7; 32]);
    let keys = [signing.verifying_key()];
    assert!(!verify(body, text, &[]));
    let real = base64::engine::general_purpose::STANDARD.encode(signing.sign(body).to_bytes());
    let _ = verify(body, text, &keys);
    assert!(verify(body, &real, &keys));
    assert!(verify(body, &format!(" {real}\t"), &keys));
});
