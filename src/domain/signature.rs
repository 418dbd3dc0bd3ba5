//! Payout request signatures: Ed25519 over the exact raw body bytes, standard base64.

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

/// Does `signature_b64` sign `body` under any of the account's keys?
pub fn verify(body: &[u8], signature_b64: &str, keys: &[VerifyingKey]) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return false;
    };
    keys.iter().any(|key| key.verify(body, &signature).is_ok())
}

/// Is a signature required? Always for live accounts; for test accounts only when
/// they ask with `X-Enforce-Signature: true` and `X-Test-Token: true`.
pub fn required(live_mode: bool, enforce_signature: bool, test_token: bool) -> bool {
    live_mode || (enforce_signature && test_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn verifies_exact_bytes_only() {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let keys = [signing.verifying_key()];
        let sig = base64::engine::general_purpose::STANDARD.encode(signing.sign(b"{\"a\":1}").to_bytes());
        assert!(verify(b"{\"a\":1}", &sig, &keys));
        assert!(!verify(b"{\"a\": 1}", &sig, &keys));
        assert!(!verify(b"{\"a\":1}", "not base64!", &keys));
        assert!(!verify(b"{\"a\":1}", &sig, &[]));
        let empty = base64::engine::general_purpose::STANDARD.encode(signing.sign(b"").to_bytes());
        assert!(verify(b"", &empty, &keys));
    }

    #[test]
    fn when_required() {
        assert!(required(true, false, false));
        assert!(!required(false, true, false));
        assert!(!required(false, false, true));
        assert!(required(false, true, true));
    }
}
