//! Rows in and out: the SQLite side of [`UnitOfWork`] (resources themselves are in
//! `resources.rs`) and of the store's account, token and key reads.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::notification::NewNotification;
use crate::domain::resource::IndexEntry;
use crate::domain::{
    AuditEvent, ChainRecord, Fingerprint, IdempotencyKey, Principal, ResourceType, SiteId, StoredResponse, Timestamp,
    TokenHash, UserId,
};
use crate::engine::{ClockScope, Envelope, Loaded, StoreError, UnitOfWork};

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

pub(super) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("unreadable {what}"), rusqlite::types::Type::Text)
}

/// All of caja's rows, reached through one connection (inside the writer's
/// transaction, or on a read connection).
pub struct Tables<'c>(pub &'c Connection);

impl UnitOfWork for Tables<'_> {
    fn idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT fingerprint, status, body, created_at FROM idempotency_records WHERE user_id = ?1 AND key = ?2",
        )?;
        let record = stmt
            .query_row(params![user.get(), key.as_str()], |row| {
                let fingerprint: Vec<u8> = row.get(0)?;
                Ok(IdempotencyRecord {
                    fingerprint: Fingerprint(fingerprint.try_into().map_err(|_| corrupt("fingerprint"))?),
                    response: StoredResponse { status: row.get(1)?, body: row.get(2)? },
                    created_at: Timestamp::from_millis(row.get(3)?),
                })
            })
            .optional()?;
        Ok(record)
    }

    fn save_idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO idempotency_records (user_id, key, fingerprint, status, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id, key) DO UPDATE SET
                fingerprint = excluded.fingerprint, status = excluded.status,
                body = excluded.body, created_at = excluded.created_at",
        )?;
        stmt.execute(params![
            user.get(),
            key.as_str(),
            &record.fingerprint.0[..],
            record.response.status,
            record.response.body,
            record.created_at.as_millis(),
        ])?;
        Ok(())
    }

    fn insert(&mut self, resource: &Envelope<'_>) -> Result<(), StoreError> {
        self.insert_resource(resource)
    }

    fn update(&mut self, resource: &Envelope<'_>, version: i64) -> Result<bool, StoreError> {
        self.update_resource(resource, version)
    }

    fn add_entry(&mut self, kind: &'static str, id: &str, entry: &IndexEntry) -> Result<(), StoreError> {
        self.add_index_entry(kind, id, entry)
    }

    fn remove_entry(&mut self, kind: &'static str, id: &str, entry: &IndexEntry) -> Result<(), StoreError> {
        self.remove_index_entry(kind, id, entry)
    }

    fn set_timer(&mut self, kind: &'static str, id: &str, wake_at: Option<Timestamp>) -> Result<(), StoreError> {
        self.set_resource_timer(kind, id, wake_at)
    }

    fn due(
        &mut self,
        kind: &'static str,
        now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Loaded>, StoreError> {
        self.due_resources(kind, now, scope, limit)
    }

    fn set_clock_offset(&mut self, user: UserId, from_ms: i64, to_ms: i64) -> Result<bool, StoreError> {
        self.set_account_clock(user, from_ms, to_ms)
    }

    fn notification_target(&mut self, user: UserId) -> Result<(Option<String>, bool), StoreError> {
        self.notification_target_row(user)
    }

    fn enqueue_notification(&mut self, notification: &NewNotification) -> Result<(), StoreError> {
        self.insert_notification(notification)
    }

    /// Chained to the resource's last record (the resource is held by this write, so
    /// no other transaction appends to its chain meanwhile).
    fn append_audit(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        let prev: Option<String> = self
            .0
            .prepare_cached(
                "SELECT hash FROM audit_events WHERE user_id = ?1 AND resource_type = ?2 AND resource_id = ?3
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![event.user_id.get(), event.resource_type.as_str(), event.resource_id], |row| row.get(0))
            .optional()?
            .flatten();
        let hash = crate::domain::audit::chain_hash(prev.as_deref(), event);
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO audit_events (user_id, resource_type, resource_id, from_status, to_status,
                 deleted_by, comments, request_id, idempotency_key, created_at, hash, prev_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        stmt.execute(params![
            event.user_id.get(),
            event.resource_type.as_str(),
            event.resource_id,
            event.from_status,
            event.to_status,
            event.deleted_by,
            event.comments,
            event.request_id,
            event.idempotency_key.as_ref().map(IdempotencyKey::as_str),
            event.at.as_millis(),
            hash,
            prev,
        ])?;
        Ok(())
    }
}

pub(super) fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let kind: String = row.get(1)?;
    let key: Option<String> = row.get(8)?;
    Ok(AuditEvent {
        user_id: user_id(row.get(0)?)?,
        resource_type: ResourceType::parse(&kind).ok_or_else(|| corrupt("resource type"))?,
        resource_id: row.get(2)?,
        from_status: row.get(3)?,
        to_status: row.get(4)?,
        deleted_by: row.get(5)?,
        comments: row.get(6)?,
        request_id: row.get(7)?,
        idempotency_key: match key {
            Some(key) => Some(IdempotencyKey::parse(Some(&key)).map_err(|_| corrupt("idempotency key"))?),
            None => None,
        },
        at: Timestamp::from_millis(row.get(9)?),
    })
}

pub(super) fn user_id(raw: i64) -> rusqlite::Result<UserId> {
    UserId::new(raw).ok_or_else(|| corrupt("user id"))
}

impl Tables<'_> {
    pub fn principal(&self, token_hash: TokenHash) -> Result<Option<Principal>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT t.user_id, t.site_id, a.live_mode, a.payouts_enabled FROM tokens t
             JOIN accounts a ON a.user_id = t.user_id WHERE t.token_hash = ?1",
        )?;
        let principal = stmt
            .query_row([&token_hash.0[..]], |row| {
                let site: String = row.get(1)?;
                Ok(Principal {
                    user_id: user_id(row.get(0)?)?,
                    site_id: site.parse::<SiteId>().map_err(|_| corrupt("site id"))?,
                    live_mode: row.get(2)?,
                    payouts_enabled: row.get(3)?,
                    token_hash,
                })
            })
            .optional()?;
        Ok(principal)
    }

    pub fn audit_trail(
        &self,
        user: UserId,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT user_id, resource_type, resource_id, from_status, to_status, deleted_by, comments,
                    request_id, idempotency_key, created_at
             FROM audit_events WHERE user_id = ?1 AND resource_type = ?2 AND resource_id = ?3 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![user.get(), resource_type.as_str(), resource_id], audit_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every audit record (of one account, or all), by resource then id, with links.
    pub fn audit_chain_records(&self, user: Option<UserId>) -> Result<Vec<ChainRecord>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            // A resource's kind is the audit record's resource_type (both are the
            // family's `Resource::KIND`), so its current status joins by (kind, id).
            "SELECT a.user_id, a.resource_type, a.resource_id, a.from_status, a.to_status, a.deleted_by,
                    a.comments, a.request_id, a.idempotency_key, a.created_at, a.id, a.hash, a.prev_hash,
                    r.status
             FROM audit_events a LEFT JOIN resources r ON r.kind = a.resource_type AND r.id = a.resource_id
             WHERE ?1 IS NULL OR a.user_id = ?1
             ORDER BY a.user_id, a.resource_type, a.resource_id, a.id",
        )?;
        let rows = stmt.query_map([user.map(UserId::get)], |row| {
            Ok(ChainRecord {
                event: audit_from_row(row)?,
                id: row.get(10)?,
                hash: row.get(11)?,
                prev_hash: row.get(12)?,
                current_status: row.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_account(
        &self,
        user: UserId,
        live_mode: bool,
        payouts_enabled: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let inserted = self.0.execute(
            "INSERT OR IGNORE INTO accounts (user_id, live_mode, payouts_enabled, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user.get(), live_mode, payouts_enabled, now.as_millis()],
        )?;
        Ok(inserted == 1)
    }

    pub fn live_mode(&self, user: UserId) -> Result<Option<bool>, StoreError> {
        Ok(self
            .0
            .query_row("SELECT live_mode FROM accounts WHERE user_id = ?1", [user.get()], |row| row.get(0))
            .optional()?)
    }

    pub fn insert_token(&self, user: UserId, site: SiteId, hash: TokenHash, now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT INTO tokens (token_hash, user_id, site_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![&hash.0[..], user.get(), site.as_str(), now.as_millis()],
        )?;
        Ok(())
    }

    pub fn has_accounts(&self) -> Result<bool, StoreError> {
        Ok(self.0.query_row("SELECT EXISTS (SELECT 1 FROM accounts)", [], |row| row.get(0))?)
    }

    pub fn purge_idempotency_records(&self, before: Timestamp) -> Result<u64, StoreError> {
        let purged = self.0.execute("DELETE FROM idempotency_records WHERE created_at < ?1", [before.as_millis()])?;
        Ok(purged as u64)
    }

    pub fn signing_keys(&self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT public_key FROM signing_keys WHERE user_id = ?1")?;
        let rows = stmt.query_map([user.get()], |row| {
            let key: Vec<u8> = row.get(0)?;
            key.try_into().map_err(|_| corrupt("signing key"))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_signing_key(&self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR IGNORE INTO signing_keys (user_id, public_key, created_at) VALUES (?1, ?2, ?3)",
            params![user.get(), &key[..], now.as_millis()],
        )?;
        Ok(())
    }

    pub fn set_payouts_enabled(&self, user: UserId, enabled: bool) -> Result<bool, StoreError> {
        let changed = self
            .0
            .execute("UPDATE accounts SET payouts_enabled = ?1 WHERE user_id = ?2", params![enabled, user.get()])?;
        Ok(changed == 1)
    }
}
