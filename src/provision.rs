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
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("no account with user id {0}")]
    UnknownUser(i64),
    #[error("could not draw a free user id")]
    NoFreeUserId,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn issue_token(live_mode: bool, user_id: UserId, now: Timestamp) -> AccessToken {
    let mut rng = rand::rng();
    let app_id = rng.random_range(1_000_000_000_000_000..10_000_000_000_000_000);
    AccessToken::issue(live_mode, app_id, rng.random(), user_id, now)
}

pub async fn create_account(
    store: &dyn Store,
    site_id: SiteId,
    live_mode: bool,
    now: Timestamp,
) -> Result<Issued, ProvisionError> {
    for _ in 0..USER_ID_DRAWS_MAX {
        let raw = rand::rng().random_range(UserId::ISSUED_MIN..UserId::ISSUED_MAX);
        let user_id = UserId::new(raw).ok_or(ProvisionError::NoFreeUserId)?;
        let token = issue_token(live_mode, user_id, now);
        let token_hash = store.token_hasher().hash(token.expose());
        let account = NewAccount { user_id, live_mode, site_id, token_hash, now };
        if store.create_account(account).await? {
            return Ok(issued(user_id, site_id, live_mode, token));
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
    Issued { user_id: user_id.get(), site_id: site_id.as_str(), live_mode, access_token: token.expose().to_owned() }
}
