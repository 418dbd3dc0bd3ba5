//! Rows in and out on PostgreSQL: the `UnitOfWork` implementation, and the reads.
//!
//! `PgTables` runs over a transaction (writes: rows it loads are locked `FOR UPDATE`
//! until commit) or over a plain connection (reads: no locks, so a read never waits
//! for a writer).

use postgres::types::ToSql;
use std::collections::HashMap;

use postgres::{GenericClient, Row, Statement};
use sha2::{Digest, Sha256};

use super::pg_error;
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::notification::NewNotification;
use crate::domain::resource::IndexEntry;
use crate::domain::{
    AuditEvent, ChainRecord, Fingerprint, IdempotencyKey, Principal, ResourceType, SiteId, StoredResponse, Timestamp,
    TokenHash, UserId,
};
use crate::engine::{ClockScope, Envelope, Loaded, StoreError, UnitOfWork};

/// The statements a connection has prepared, by SQL text.
pub type Statements = HashMap<String, Statement>;

/// Prepared statements kept per connection at most (the SQL is a fixed set, well below).
const STATEMENTS_CACHED_MAX: usize = 256;

pub struct PgTables<'c, C: GenericClient> {
    pub client: &'c mut C,
    /// The connection's prepared statements: each SQL text is prepared once per
    /// connection (a round trip saved on every later use).
    statements: &'c mut Statements,
    /// Lock loaded rows for the rest of the transaction (writes only).
    lock: bool,
}

pub fn corrupt(what: &str) -> StoreError {
    StoreError::Database(format!("unreadable {what} in the database"))
}

/// `LIMIT` and `OFFSET` as PostgreSQL takes them.
pub fn page_bounds(limit: u32, offset: u64) -> (i64, i64) {
    (i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX))
}

pub fn user_id(raw: i64) -> Result<UserId, StoreError> {
    UserId::new(raw).ok_or_else(|| corrupt("user id"))
}

/// A 64-bit advisory-lock id for an idempotency key of a user.
fn key_lock(user: UserId, key: &IdempotencyKey) -> i64 {
    let digest = Sha256::new().chain_update(user.get().to_be_bytes()).chain_update(key.as_str()).finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl<'c, C: GenericClient> PgTables<'c, C> {
    pub fn writer(client: &'c mut C, statements: &'c mut Statements) -> Self {
        PgTables { client, statements, lock: true }
    }

    pub fn reader(client: &'c mut C, statements: &'c mut Statements) -> Self {
        PgTables { client, statements, lock: false }
    }

    /// The prepared statement for `sql`, preparing it on first use. Prepared
    /// statements outlive transactions, rolled back or not.
    pub fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        if self.statements.len() >= STATEMENTS_CACHED_MAX {
            self.statements.clear();
        }
        let statement = self.client.prepare(sql).map_err(pg_error)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn for_update(&self) -> &'static str {
        if self.lock {
            " FOR UPDATE"
        } else {
            ""
        }
    }

    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        self.client.query(&statement, params).map_err(pg_error)
    }

    pub fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql)?;
        self.client.query_opt(&statement, params).map_err(pg_error)
    }

    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        self.client.execute(&statement, params).map_err(pg_error)
    }

    pub fn principal(&mut self, token_hash: TokenHash) -> Result<Option<Principal>, StoreError> {
        let row = self.query_opt(
            "SELECT t.user_id, t.site_id, a.live_mode, a.payouts_enabled FROM tokens t
             JOIN accounts a ON a.user_id = t.user_id WHERE t.token_hash = $1",
            &[&&token_hash.0[..]],
        )?;
        row.map(|row| {
            let site: String = row.get(1);
            Ok(Principal {
                user_id: user_id(row.get(0))?,
                site_id: site.parse::<SiteId>().map_err(|_| corrupt("site id"))?,
                live_mode: row.get(2),
                payouts_enabled: row.get(3),
                token_hash,
            })
        })
        .transpose()
    }

    pub fn audit_trail(
        &mut self,
        user: UserId,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = self.query(
            "SELECT user_id, resource_type, resource_id, from_status, to_status, deleted_by, comments,
                    request_id, idempotency_key, created_at
             FROM audit_events WHERE user_id = $1 AND resource_type = $2 AND resource_id = $3 ORDER BY id",
            &[&user.get(), &resource_type.as_str(), &resource_id],
        )?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Every audit record (of one account, or all), by resource then id, with links.
    pub fn audit_chain_records(&mut self, user: Option<UserId>) -> Result<Vec<ChainRecord>, StoreError> {
        let rows = self.query(
            // A resource's kind is the audit record's resource_type (both are the
            // family's `Resource::KIND`), so its current status joins by (kind, id).
            "SELECT a.user_id, a.resource_type, a.resource_id, a.from_status, a.to_status, a.deleted_by,
                    a.comments, a.request_id, a.idempotency_key, a.created_at, a.id, a.hash, a.prev_hash,
                    r.status
             FROM audit_events a LEFT JOIN resources r ON r.kind = a.resource_type AND r.id = a.resource_id
             WHERE $1::BIGINT IS NULL OR a.user_id = $1
             ORDER BY a.user_id, a.resource_type, a.resource_id, a.id",
            &[&user.map(UserId::get)],
        )?;
        rows.iter()
            .map(|row| {
                Ok(ChainRecord {
                    event: audit_from_row(row)?,
                    id: row.get(10),
                    hash: row.get(11),
                    prev_hash: row.get(12),
                    current_status: row.get(13),
                })
            })
            .collect()
    }

    pub fn insert_account(
        &mut self,
        user: UserId,
        live_mode: bool,
        payouts_enabled: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let inserted = self.execute(
            "INSERT INTO accounts (user_id, live_mode, payouts_enabled, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO NOTHING",
            &[&user.get(), &live_mode, &payouts_enabled, &now.as_millis()],
        )?;
        Ok(inserted == 1)
    }

    pub fn live_mode(&mut self, user: UserId) -> Result<Option<bool>, StoreError> {
        Ok(self.query_opt("SELECT live_mode FROM accounts WHERE user_id = $1", &[&user.get()])?.map(|row| row.get(0)))
    }

    pub fn insert_token(
        &mut self,
        user: UserId,
        site: SiteId,
        hash: TokenHash,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tokens (token_hash, user_id, site_id, created_at) VALUES ($1, $2, $3, $4)",
            &[&&hash.0[..], &user.get(), &site.as_str(), &now.as_millis()],
        )?;
        Ok(())
    }

    pub fn has_accounts(&mut self) -> Result<bool, StoreError> {
        Ok(self.query("SELECT EXISTS (SELECT 1 FROM accounts)", &[])?[0].get(0))
    }

    pub fn purge_idempotency_records(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        self.execute("DELETE FROM idempotency_records WHERE created_at < $1", &[&before.as_millis()])
    }

    pub fn set_payouts_enabled(&mut self, user: UserId, enabled: bool) -> Result<bool, StoreError> {
        Ok(self.execute("UPDATE accounts SET payouts_enabled = $1 WHERE user_id = $2", &[&enabled, &user.get()])? == 1)
    }

    pub fn signing_keys(&mut self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows = self.query("SELECT public_key FROM signing_keys WHERE user_id = $1", &[&user.get()])?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.get(0);
                key.try_into().map_err(|_| corrupt("signing key"))
            })
            .collect()
    }

    pub fn insert_signing_key(&mut self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO signing_keys (user_id, public_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&user.get(), &&key[..], &now.as_millis()],
        )?;
        Ok(())
    }
}

pub fn audit_from_row(row: &Row) -> Result<AuditEvent, StoreError> {
    let kind: String = row.get(1);
    let key: Option<String> = row.get(8);
    Ok(AuditEvent {
        user_id: user_id(row.get(0))?,
        resource_type: ResourceType::parse(&kind).ok_or_else(|| corrupt("resource type"))?,
        resource_id: row.get(2),
        from_status: row.get(3),
        to_status: row.get(4),
        deleted_by: row.get(5),
        comments: row.get(6),
        request_id: row.get(7),
        idempotency_key: match key {
            Some(key) => Some(IdempotencyKey::parse(Some(&key)).map_err(|_| corrupt("idempotency key"))?),
            None => None,
        },
        at: Timestamp::from_millis(row.get(9)),
    })
}

impl<C: GenericClient> UnitOfWork for PgTables<'_, C> {
    /// Takes the key's advisory lock first: a concurrent duplicate (in this process
    /// or another) waits here until the first commits, then reads its record.
    fn idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&key_lock(user, key)])?;
        let row = self.query_opt(
            "SELECT fingerprint, status, body, created_at FROM idempotency_records WHERE user_id = $1 AND key = $2",
            &[&user.get(), &key.as_str()],
        )?;
        row.map(|row| {
            let fingerprint: Vec<u8> = row.get(0);
            let status: i32 = row.get(1);
            Ok(IdempotencyRecord {
                fingerprint: Fingerprint(fingerprint.try_into().map_err(|_| corrupt("fingerprint"))?),
                response: StoredResponse {
                    status: u16::try_from(status).map_err(|_| corrupt("status"))?,
                    body: row.get(2),
                },
                created_at: Timestamp::from_millis(row.get(3)),
            })
        })
        .transpose()
    }

    fn save_idempotency_record(
        &mut self,
        user: UserId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO idempotency_records (user_id, key, fingerprint, status, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, key) DO UPDATE SET
                fingerprint = excluded.fingerprint, status = excluded.status,
                body = excluded.body, created_at = excluded.created_at",
            &[
                &user.get(),
                &key.as_str(),
                &&record.fingerprint.0[..],
                &i32::from(record.response.status),
                &record.response.body,
                &record.created_at.as_millis(),
            ],
        )?;
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

    /// Chained to the resource's last record (the resource's row is locked by this
    /// write, so no other transaction appends to its chain meanwhile).
    fn append_audit(&mut self, e: &AuditEvent) -> Result<(), StoreError> {
        let prev: Option<String> = self
            .query_opt(
                "SELECT hash FROM audit_events WHERE user_id = $1 AND resource_type = $2 AND resource_id = $3
                 ORDER BY id DESC LIMIT 1",
                &[&e.user_id.get(), &e.resource_type.as_str(), &e.resource_id],
            )?
            .and_then(|row| row.get(0));
        let hash = crate::domain::audit::chain_hash(prev.as_deref(), e);
        self.execute(
            "INSERT INTO audit_events (user_id, resource_type, resource_id, from_status, to_status,
                 deleted_by, comments, request_id, idempotency_key, created_at, hash, prev_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &e.user_id.get(),
                &e.resource_type.as_str(),
                &e.resource_id,
                &e.from_status,
                &e.to_status,
                &e.deleted_by,
                &e.comments,
                &e.request_id,
                &e.idempotency_key.as_ref().map(IdempotencyKey::as_str),
                &e.at.as_millis(),
                &hash,
                &prev,
            ],
        )?;
        Ok(())
    }
}
