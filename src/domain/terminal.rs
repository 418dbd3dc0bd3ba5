//! Point terminals: which account a terminal belongs to, and how the terminal list
//! (`GET /terminals/v1/list`) shows it.
//!
//! A terminal belongs to the account that registers it (`caja terminal add`) or that
//! first queues an action on it, so tests need no set-up. Another account's terminal
//! is refused (403 `forbidden_checking_terminal_owner`).

use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{Timestamp, UserId};

/// Terminals of an account (`account`), by store (`account_store`) and by point of
/// sale (`account_pos`), oldest first.
pub const BY_ACCOUNT: &str = "account";
pub const BY_STORE: &str = "account_store";
pub const BY_POS: &str = "account_pos";

/// `PDV` (integrated with a point of sale), `STANDALONE` or `UNDEFINED`.
pub const OPERATING_MODES: [&str; 3] = ["PDV", "STANDALONE", "UNDEFINED"];

/// A registered terminal; its id is the terminal id (`NEWLAND_N950__N950NCB…`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Terminal {
    pub id: String,
    pub user_id: UserId,
    pub pos_id: Option<i64>,
    pub store_id: Option<i64>,
    pub external_pos_id: Option<String>,
    pub operating_mode: String,
    pub created_at: Timestamp,
}

impl Terminal {
    /// A terminal an account starts using: integrated (`PDV`), in no store yet.
    pub fn first_used(id: &str, user_id: UserId, now: Timestamp) -> Terminal {
        Terminal {
            id: id.to_owned(),
            user_id,
            pos_id: None,
            store_id: None,
            external_pos_id: None,
            operating_mode: "PDV".to_owned(),
            created_at: now,
        }
    }
}

/// Stored as kind `terminal`: one per terminal id, whoever holds it.
impl Resource for Terminal {
    const KIND: &'static str = "terminal";

    fn id(&self) -> String {
        self.id.clone()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        None
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.created_at
    }

    fn index(&self) -> Vec<IndexEntry> {
        let created = sort_number(self.created_at.as_millis());
        let mut entries = vec![IndexEntry::list(BY_ACCOUNT, scoped(self.user_id, &[]), created.clone())];
        if let Some(store) = self.store_id {
            entries.push(IndexEntry::list(BY_STORE, scoped(self.user_id, &[&store.to_string()]), created.clone()));
        }
        if let Some(pos) = self.pos_id {
            entries.push(IndexEntry::list(BY_POS, scoped(self.user_id, &[&pos.to_string()]), created));
        }
        entries
    }
}
