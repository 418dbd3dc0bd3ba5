//! Seed files (part of #17): `caja serve --seed FILE` (or `caja seed apply FILE`)
//! makes the accounts a file names, **with the access tokens it names**, so a CI
//! configuration can hold a fixed test token; with their notification URLs, webhook
//! secrets, terminals and payout signing keys. Applying the same file again changes
//! nothing; a file that contradicts the store (a token or terminal another account
//! holds, an account's mode changed) is refused, naming what.
//!
//! The file is JSON (which is also YAML 1.2):
//!
//! ```json
//! {"accounts": [{
//!   "user_id": 123456789, "site_id": "MLB", "live_mode": false, "payouts_enabled": true,
//!   "access_tokens": ["TEST-ci-token-123456789"],
//!   "notification_url": "http://127.0.0.1:9000/hooks", "webhook_secret": "…",
//!   "terminals": [{"id": "NEWLAND_N950__N950NCB1", "pos_id": 1, "store_id": 1, "operating_mode": "PDV"}],
//!   "signing_keys": ["-----BEGIN PUBLIC KEY-----\n…"]
//! }]}
//! ```
//!
//! Unknown fields are refused (a misspelt `acess_tokens` must not pass silently).

use serde::Deserialize;

use crate::domain::{SiteId, Timestamp, UserId};
use crate::provision::{self, AccountChange, ProvisionError, TerminalSpec};
use crate::store::{NewAccount, Store};

/// The longest access token a seed may name (as the API takes them).
pub const TOKEN_CHARS_MAX: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub user_id: i64,
    pub site_id: String,
    #[serde(default)]
    pub live_mode: bool,
    #[serde(default = "yes")]
    pub payouts_enabled: bool,
    pub access_tokens: Vec<String>,
    pub notification_url: Option<String>,
    /// Set exactly (hex or any text of 16 to 256 characters); absent: a fresh one on
    /// creation, and the store's kept afterwards.
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub terminals: Vec<SeedTerminal>,
    /// PEM (SubjectPublicKeyInfo) Ed25519 public keys for payout signatures.
    #[serde(default)]
    pub signing_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTerminal {
    pub id: String,
    pub pos_id: Option<i64>,
    pub store_id: Option<i64>,
    pub external_pos_id: Option<String>,
    #[serde(default = "pdv")]
    pub operating_mode: String,
}

fn yes() -> bool {
    true
}

fn pdv() -> String {
    "PDV".into()
}

/// Why a seed was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file is not valid: {0}")]
    Invalid(String),
    #[error("the seed contradicts the store: {0}")]
    Conflict(String),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Store(#[from] crate::engine::StoreError),
}

/// What applying a seed did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub accounts_created: usize,
    pub tokens_added: usize,
    pub terminals_registered: usize,
    pub signing_keys_added: usize,
}

/// Read a seed file's text.
pub fn parse(text: &str) -> Result<Seed, SeedError> {
    let seed: Seed = serde_json::from_str(text).map_err(|e| SeedError::Invalid(e.to_string()))?;
    for account in &seed.accounts {
        let who = account.user_id;
        UserId::new(who).ok_or_else(|| SeedError::Invalid(format!("user_id {who} is not a valid user id")))?;
        account
            .site_id
            .parse::<SiteId>()
            .ok()
            .ok_or_else(|| SeedError::Invalid(format!("account {who}: site_id {:?} is not a site", account.site_id)))?;
        if account.access_tokens.is_empty() {
            return Err(SeedError::Invalid(format!("account {who}: access_tokens is empty")));
        }
        for token in &account.access_tokens {
            let fine = !token.is_empty() && token.len() <= TOKEN_CHARS_MAX && !token.contains(char::is_whitespace);
            if !fine {
                return Err(SeedError::Invalid(format!(
                    "account {who}: an access token must be 1 to {TOKEN_CHARS_MAX} characters without spaces"
                )));
            }
        }
        if let Some(secret) = &account.webhook_secret {
            if !(16..=256).contains(&secret.len()) || secret.contains(char::is_whitespace) {
                return Err(SeedError::Invalid(format!(
                    "account {who}: webhook_secret must be 16 to 256 characters without spaces"
                )));
            }
        }
    }
    Ok(seed)
}

/// Apply a seed: create what is missing, leave what is there, refuse contradictions.
pub async fn apply(store: &dyn Store, seed: &Seed, now: Timestamp) -> Result<Applied, SeedError> {
    let mut applied = Applied::default();
    for account in &seed.accounts {
        let user = UserId::new(account.user_id).ok_or_else(|| SeedError::Invalid("user_id".into()))?;
        let site = account.site_id.parse::<SiteId>().ok().ok_or_else(|| SeedError::Invalid("site_id".into()))?;
        let hasher = store.token_hasher();
        let (first, rest) = account.access_tokens.split_first().ok_or_else(|| SeedError::Invalid("tokens".into()))?;
        match store.account_live_mode(user).await? {
            Some(live) if live != account.live_mode => {
                return Err(SeedError::Conflict(format!("account {} exists with live_mode {live}", user.get())));
            }
            Some(_) => {}
            None => {
                let hash = hasher.hash(first);
                if let Some(holder) = store.principal(hash).await? {
                    return Err(SeedError::Conflict(format!(
                        "a token of account {} is account {}'s",
                        user.get(),
                        holder.user_id.get()
                    )));
                }
                let new = NewAccount {
                    user_id: user,
                    live_mode: account.live_mode,
                    payouts_enabled: account.payouts_enabled,
                    site_id: site,
                    token_hash: hash,
                    now,
                };
                if !store.create_account(new).await? {
                    return Err(SeedError::Conflict(format!("account {} could not be created", user.get())));
                }
                applied.accounts_created += 1;
                applied.tokens_added += 1;
                if account.webhook_secret.is_none() {
                    let fresh = hex::encode(rand::random::<[u8; 32]>());
                    store.configure_notifications(user, None, true, fresh).await?;
                }
            }
        }
        for token in std::iter::once(first).chain(rest) {
            let hash = hasher.hash(token);
            match store.principal(hash).await? {
                Some(holder) if holder.user_id == user => {}
                Some(holder) => {
                    return Err(SeedError::Conflict(format!(
                        "a token of account {} is account {}'s",
                        user.get(),
                        holder.user_id.get()
                    )))
                }
                None => {
                    store.add_token(user, site, hash, now).await?;
                    applied.tokens_added += 1;
                }
            }
        }
        provision::change_account(
            store,
            user.get(),
            AccountChange {
                payouts_enabled: Some(account.payouts_enabled),
                notification_url: account.notification_url.clone(),
                rotate_secret: false,
            },
        )
        .await?;
        if let Some(secret) = &account.webhook_secret {
            store.configure_notifications(user, None, true, secret.clone()).await?;
        }
        for t in &account.terminals {
            let spec = TerminalSpec {
                terminal_id: t.id.clone(),
                pos_id: t.pos_id,
                store_id: t.store_id,
                external_pos_id: t.external_pos_id.clone(),
                operating_mode: t.operating_mode.clone(),
            };
            // Registering it again for the same account keeps it (with the seed's details).
            match provision::add_terminal(store, user.get(), spec, now).await {
                Ok(_) => applied.terminals_registered += 1,
                Err(ProvisionError::TerminalTaken(id)) => {
                    return Err(SeedError::Conflict(format!("terminal {id} is another account's")));
                }
                Err(err) => return Err(err.into()),
            }
        }
        let keys = store.signing_keys(user).await?;
        for pem in &account.signing_keys {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
                .map_err(|e| SeedError::Invalid(format!("account {}: a signing key: {e}", user.get())))?
                .to_bytes();
            if !keys.contains(&key) {
                store.add_signing_key(user, key, now).await?;
                applied.signing_keys_added += 1;
            }
        }
    }
    Ok(applied)
}
