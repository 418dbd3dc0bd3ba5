//! Issuing accounts and tokens, for the CLI and for `serve`'s first start.
//!
//! This is where randomness enters: user ids, app ids and token secrets are drawn
//! here and handed to the domain, which only formats them.

use rand::Rng;
use serde::Serialize;

use crate::domain::{AccessToken, SiteId, Timestamp, UserId};
use crate::store::{NewAccount, Store, StoreError};

/// Draws of a fresh user id before giving up (ids are sparse, so one almost always does).
const USER_ID_DRAWS_MAX: usize = 16;

/// What `caja account create` and `caja token create` print.
#[derive(Debug, Serialize)]
pub struct Issued {
    pub user_id: i64,
    pub site_id: &'static str,
    pub live_mode: bool,
    pub access_token: String,
    /// The account's webhook secret, made with it so that every notification is
    /// signed: shown by `account create` only (`account set --rotate-secret` makes a
    /// new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("no account with user id {0}")]
    UnknownUser(i64),
    #[error("not an Ed25519 public key in PEM (SubjectPublicKeyInfo): {0}")]
    InvalidKey(String),
    #[error("not an http(s) URL: {0:?}")]
    InvalidUrl(String),
    #[error("could not draw a free user id")]
    NoFreeUserId,
    #[error("{0}")]
    InvalidTerminal(String),
    #[error("terminal {0} belongs to another account")]
    TerminalTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn issue_token(live_mode: bool, user_id: UserId, now: Timestamp) -> AccessToken {
    let mut rng = rand::rng();
    let app_id = rng.random_range(1_000_000_000_000_000..10_000_000_000_000_000);
    AccessToken::issue(live_mode, app_id, rng.random(), user_id, now)
}

/// What an account is made with.
#[derive(Clone, Copy, Debug)]
pub struct AccountSpec {
    pub site_id: SiteId,
    pub live_mode: bool,
    pub payouts_enabled: bool,
}

impl AccountSpec {
    /// A test account on a site, with payouts enabled.
    pub fn test(site_id: SiteId) -> Self {
        AccountSpec { site_id, live_mode: false, payouts_enabled: true }
    }
}

pub async fn create_account(store: &dyn Store, spec: AccountSpec, now: Timestamp) -> Result<Issued, ProvisionError> {
    let AccountSpec { site_id, live_mode, payouts_enabled } = spec;
    for _ in 0..USER_ID_DRAWS_MAX {
        let raw = rand::rng().random_range(UserId::ISSUED_MIN..UserId::ISSUED_MAX);
        let user_id = UserId::new(raw).ok_or(ProvisionError::NoFreeUserId)?;
        let token = issue_token(live_mode, user_id, now);
        let token_hash = store.token_hasher().hash(token.expose());
        let account = NewAccount { user_id, live_mode, payouts_enabled, site_id, token_hash, now };
        if store.create_account(account).await? {
            let fresh = hex::encode(rand::random::<[u8; 32]>());
            let secret = store.configure_notifications(user_id, None, true, fresh).await?.flatten();
            return Ok(Issued { webhook_secret: secret, ..issued(user_id, site_id, live_mode, token) });
        }
    }
    Err(ProvisionError::NoFreeUserId)
}

pub async fn create_token(
    store: &dyn Store,
    user_id: i64,
    site_id: SiteId,
    now: Timestamp,
) -> Result<Issued, ProvisionError> {
    let user = UserId::new(user_id).ok_or(ProvisionError::UnknownUser(user_id))?;
    let live_mode = store.account_live_mode(user).await?.ok_or(ProvisionError::UnknownUser(user_id))?;
    let token = issue_token(live_mode, user, now);
    let hash = store.token_hasher().hash(token.expose());
    if !store.add_token(user, site_id, hash, now).await? {
        return Err(ProvisionError::UnknownUser(user_id));
    }
    Ok(issued(user, site_id, live_mode, token))
}

fn issued(user_id: UserId, site_id: SiteId, live_mode: bool, token: AccessToken) -> Issued {
    Issued {
        user_id: user_id.get(),
        site_id: site_id.as_str(),
        live_mode,
        access_token: token.expose().to_owned(),
        webhook_secret: None,
    }
}

/// Register an Ed25519 public key (PEM, SubjectPublicKeyInfo) for payout signatures.
pub async fn add_signing_key(store: &dyn Store, user_id: i64, pem: &str, now: Timestamp) -> Result<(), ProvisionError> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
        .map_err(|e| ProvisionError::InvalidKey(e.to_string()))?;
    let user = UserId::new(user_id).ok_or(ProvisionError::UnknownUser(user_id))?;
    if store.add_signing_key(user, key.to_bytes(), now).await? {
        Ok(())
    } else {
        Err(ProvisionError::UnknownUser(user_id))
    }
}

/// A terminal to register (`caja terminal add`).
#[derive(Clone, Debug)]
pub struct TerminalSpec {
    pub terminal_id: String,
    pub pos_id: Option<i64>,
    pub store_id: Option<i64>,
    pub external_pos_id: Option<String>,
    pub operating_mode: String,
}

/// Register a terminal for an account; returns it as `GET /terminals/v1/list` shows it.
pub async fn add_terminal(
    store: &dyn Store,
    user_id: i64,
    spec: TerminalSpec,
    now: Timestamp,
) -> Result<serde_json::Value, ProvisionError> {
    use crate::domain::terminal::{Terminal, OPERATING_MODES};
    let user = UserId::new(user_id).ok_or(ProvisionError::UnknownUser(user_id))?;
    store.account_live_mode(user).await?.ok_or(ProvisionError::UnknownUser(user_id))?;
    let id = &spec.terminal_id;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ProvisionError::InvalidTerminal(
            "--terminal-id must be 1 to 64 letters, digits or underscores".into(),
        ));
    }
    if !OPERATING_MODES.contains(&spec.operating_mode.as_str()) {
        return Err(ProvisionError::InvalidTerminal("--operating-mode must be PDV, STANDALONE or UNDEFINED".into()));
    }
    let terminal = Terminal {
        id: spec.terminal_id.clone(),
        user_id: user,
        pos_id: spec.pos_id,
        store_id: spec.store_id,
        external_pos_id: spec.external_pos_id.clone(),
        operating_mode: spec.operating_mode.clone(),
        created_at: now,
    };
    let registered = terminal.clone();
    if !store.write(move |uow| crate::engine::point::register_terminal(uow, &registered)).await? {
        return Err(ProvisionError::TerminalTaken(spec.terminal_id));
    }
    Ok(serde_json::json!({
        "user_id": user_id, "id": terminal.id, "pos_id": terminal.pos_id, "store_id": terminal.store_id,
        "external_pos_id": terminal.external_pos_id, "operating_mode": terminal.operating_mode,
    }))
}

/// What `caja account set` changes; `None`/`false` leaves a setting alone.
#[derive(Clone, Debug, Default)]
pub struct AccountChange {
    pub payouts_enabled: Option<bool>,
    pub notification_url: Option<String>,
    pub rotate_secret: bool,
}

impl AccountChange {
    pub fn is_empty(&self) -> bool {
        self.payouts_enabled.is_none() && self.notification_url.is_none() && !self.rotate_secret
    }
}

/// What `caja account set` prints: what changed, and a new webhook secret, once.
#[derive(Debug, Serialize)]
pub struct AccountChanged {
    pub user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payouts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub async fn change_account(
    store: &dyn Store,
    user_id: i64,
    change: AccountChange,
) -> Result<AccountChanged, ProvisionError> {
    let user = UserId::new(user_id).ok_or(ProvisionError::UnknownUser(user_id))?;
    if let Some(url) = &change.notification_url {
        let http = url.starts_with("http://") || url.starts_with("https://");
        if !http || url.len() > crate::domain::payout::NOTIFICATION_URL_CHARS_MAX || url.contains(char::is_whitespace) {
            return Err(ProvisionError::InvalidUrl(url.clone()));
        }
    }
    let mut changed = AccountChanged { user_id, payouts_enabled: None, notification_url: None, webhook_secret: None };
    if let Some(enabled) = change.payouts_enabled {
        if !store.set_payouts_enabled(user, enabled).await? {
            return Err(ProvisionError::UnknownUser(user_id));
        }
        changed.payouts_enabled = Some(enabled);
    }
    if change.notification_url.is_some() || change.rotate_secret {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        let secret = store
            .configure_notifications(user, change.notification_url.clone(), change.rotate_secret, fresh)
            .await?
            .ok_or(ProvisionError::UnknownUser(user_id))?;
        changed.notification_url = change.notification_url;
        changed.webhook_secret = secret;
    }
    Ok(changed)
}
