//! Accounts, sites and access tokens.
//!
//! A token is shown once, when it is made; the store keeps only a keyed hash
//! (HMAC-SHA256 under a per-store key) and compares hashes in constant time.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Timestamp;

/// A Mercado Pago user id: the caller id, a positive integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UserId(i64);

impl UserId {
    /// Range of the ids caja hands out: nine or ten digits, like real user ids.
    pub const ISSUED_MIN: i64 = 100_000_000;
    pub const ISSUED_MAX: i64 = 2_000_000_000;

    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(UserId(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Mercado Pago site (country).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SiteId {
    Mla,
    Mlb,
    Mlm,
    Mlc,
    Mco,
    Mpe,
    Mlu,
}

crate::serde_as_text!(SiteId, |raw: &str| raw.parse::<SiteId>().ok(), |s: &SiteId| s.as_str());

impl SiteId {
    pub const ALL: [SiteId; 7] =
        [SiteId::Mla, SiteId::Mlb, SiteId::Mlm, SiteId::Mlc, SiteId::Mco, SiteId::Mpe, SiteId::Mlu];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteId::Mla => "MLA",
            SiteId::Mlb => "MLB",
            SiteId::Mlm => "MLM",
            SiteId::Mlc => "MLC",
            SiteId::Mco => "MCO",
            SiteId::Mpe => "MPE",
            SiteId::Mlu => "MLU",
        }
    }

    /// The site whose currency this is.
    pub fn currency_code(currency: &str) -> Option<&'static str> {
        SiteId::ALL.into_iter().map(SiteId::currency).find(|c| *c == currency)
    }

    /// The site's country as ISO 3166 codes: two letters and three (`BR`, `BRA`).
    pub fn country_codes(self) -> (&'static str, &'static str) {
        match self {
            SiteId::Mla => ("AR", "ARG"),
            SiteId::Mlb => ("BR", "BRA"),
            SiteId::Mlm => ("MX", "MEX"),
            SiteId::Mlc => ("CL", "CHL"),
            SiteId::Mco => ("CO", "COL"),
            SiteId::Mpe => ("PE", "PER"),
            SiteId::Mlu => ("UY", "URY"),
        }
    }

    /// The currency amounts must be in on this site.
    pub fn currency(self) -> &'static str {
        match self {
            SiteId::Mla => "ARS",
            SiteId::Mlb => "BRL",
            SiteId::Mlm => "MXN",
            SiteId::Mlc => "CLP",
            SiteId::Mco => "COP",
            SiteId::Mpe => "PEN",
            SiteId::Mlu => "UYU",
        }
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown site {0:?}: expected one of MLA, MLB, MLM, MLC, MCO, MPE, MLU")]
pub struct UnknownSite(pub String);

impl FromStr for SiteId {
    type Err = UnknownSite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteId::ALL.into_iter().find(|site| site.as_str() == s).ok_or_else(|| UnknownSite(s.to_owned()))
    }
}

/// Who is calling: the account and site behind a valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    /// May this account use the payouts family?
    pub payouts_enabled: bool,
    /// The hash of the token used, so per-token limits need not keep the token.
    pub token_hash: TokenHash,
}

/// A freshly made access token, in the shape of Mercado Pago's:
/// `APP_USR-<app_id>-<MMDDhh>-<32 hex>-<user_id>` (live) or `TEST-…` (test).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// `app_id` and `secret` come from the caller's random source.
    pub fn issue(live_mode: bool, app_id: u64, secret: [u8; 16], user_id: UserId, now: Timestamp) -> Self {
        let prefix = if live_mode { "APP_USR" } else { "TEST" };
        AccessToken(format!(
            "{prefix}-{app_id}-{stamp}-{secret}-{user_id}",
            stamp = now.token_stamp(),
            secret = hex::encode(secret),
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never print a token by accident.
impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

/// The keyed hash under which a token is stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// HMAC-SHA256 under the store's secret key.
#[derive(Clone)]
pub struct TokenHasher {
    key: Vec<u8>,
}

impl TokenHasher {
    pub fn new(key: Vec<u8>) -> Self {
        TokenHasher { key }
    }

    fn mac(&self, token: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts a key of any length");
        mac.update(token.as_bytes());
        mac
    }

    pub fn hash(&self, token: &str) -> TokenHash {
        TokenHash(self.mac(token).finalize().into_bytes().into())
    }

    /// Constant-time check that `token` hashes to `stored`.
    pub fn verify(&self, token: &str, stored: &TokenHash) -> bool {
        self.mac(token).verify_slice(&stored.0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_mercado_pago_shape() {
        let user = UserId::new(123_456_789).unwrap();
        let now = Timestamp::from_millis(1_795_514_400_123);
        let test = AccessToken::issue(false, 4_242, [0xab; 16], user, now);
        assert_eq!(test.expose(), "TEST-4242-112410-abababababababababababababababab-123456789");
        let live = AccessToken::issue(true, 4_242, [0xab; 16], user, now);
        assert!(live.expose().starts_with("APP_USR-4242-"));
        assert_eq!(format!("{live:?}"), "AccessToken(…)");
    }

    #[test]
    fn hash_depends_on_key_and_verifies() {
        let a = TokenHasher::new(b"key-a".to_vec());
        let b = TokenHasher::new(b"key-b".to_vec());
        assert_ne!(a.hash("TEST-1"), b.hash("TEST-1"));
        assert!(a.verify("TEST-1", &a.hash("TEST-1")));
        assert!(!a.verify("TEST-2", &a.hash("TEST-1")));
    }

    #[test]
    fn sites_parse_exactly() {
        assert_eq!("MLB".parse::<SiteId>().unwrap(), SiteId::Mlb);
        assert!("mlb".parse::<SiteId>().is_err());
        assert!("XXX".parse::<SiteId>().is_err());
        assert_eq!(SiteId::Mla.currency(), "ARS");
    }
}
