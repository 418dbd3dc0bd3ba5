//! Resources of every kind on SQLite: the envelope and document in `resources`,
//! unique entries in `resource_keys`, listing entries in `resource_index`, timers in
//! `resource_timers`. The writer thread
//! is the only writer, so a conditional update never loses a race here; unique
//! entries are still backed by a unique index.

use rusqlite::{params, OptionalExtension, Row};

use super::tables::Tables;
use crate::domain::resource::IndexEntry;
use crate::domain::{Timestamp, UserId};
use crate::engine::{ClockScope, Envelope, LoadFor, Loaded, Page, Reads, StoreError};

fn loaded(row: &Row<'_>) -> rusqlite::Result<Loaded> {
    Ok(Loaded { version: row.get(0)?, document: row.get(1)? })
}

impl Reads for Tables<'_> {
    /// The writer thread is the only writer: nothing needs a row lock.
    fn load(&mut self, kind: &'static str, id: &str, _purpose: LoadFor) -> Result<Option<Loaded>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT version, document FROM resources WHERE kind = ?1 AND id = ?2")?;
        Ok(stmt.query_row(params![kind, id], loaded).optional()?)
    }

    fn find_unique(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT resource_id FROM resource_keys WHERE kind = ?1 AND name = ?2 AND value = ?3")?;
        Ok(stmt.query_row(params![kind, name, value], |row| row.get(0)).optional()?)
    }

    fn list(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Loaded>, StoreError> {
        let total: i64 = self
            .0
            .prepare_cached("SELECT count(*) FROM resource_index WHERE kind = ?1 AND name = ?2 AND value = ?3")?
            .query_row(params![kind, name, value], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(
            // The page is cut from the index alone, then joined: the rows skipped by
            // OFFSET are never looked up.
            "SELECT r.version, r.document FROM (
                 SELECT sort_key, resource_id, seq FROM resource_index
                 WHERE kind = ?1 AND name = ?2 AND value = ?3
                 ORDER BY sort_key, resource_id LIMIT ?4 OFFSET ?5
             ) i JOIN resources r ON r.seq = i.seq
             ORDER BY i.sort_key, i.resource_id",
        )?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![kind, name, value, limit, offset], loaded)?;
        Ok(Page { total: total as u64, items: rows.collect::<Result<_, _>>()? })
    }

    fn listed_any(&mut self, kind: &'static str, name: &'static str, value: &str) -> Result<bool, StoreError> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT 1 FROM resource_index WHERE kind = ?1 AND name = ?2 AND value = ?3 LIMIT 1")?;
        Ok(stmt.exists(params![kind, name, value])?)
    }

    fn clock_offset(&mut self, user: UserId) -> Result<i64, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT offset_ms FROM account_clocks WHERE user_id = ?1")?;
        Ok(stmt.query_row([user.get()], |row| row.get(0)).optional()?.unwrap_or(0))
    }

    fn next_wake(&mut self, kind: &'static str, user: UserId) -> Result<Option<Timestamp>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT min(t.wake_at) FROM resources r JOIN resource_timers t ON t.kind = r.kind AND t.id = r.id
             WHERE r.kind = ?1 AND r.user_id = ?2",
        )?;
        let at: Option<i64> = stmt.query_row(params![kind, user.get()], |row| row.get(0))?;
        Ok(at.map(Timestamp::from_millis))
    }
}

impl Tables<'_> {
    pub fn insert_resource(&self, r: &Envelope<'_>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
            )?
            .execute(params![
                r.kind,
                r.id,
                r.user_id.get(),
                r.status,
                r.document,
                r.created_at.as_millis(),
                r.updated_at.as_millis()
            ])?;
        Ok(())
    }

    pub fn update_resource(&self, r: &Envelope<'_>, version: i64) -> Result<bool, StoreError> {
        let updated = self
            .0
            .prepare_cached(
                "UPDATE resources SET status = ?1, version = version + 1, document = ?2, updated_at = ?3
                 WHERE kind = ?4 AND id = ?5 AND version = ?6",
            )?
            .execute(params![r.status, r.document, r.updated_at.as_millis(), r.kind, r.id, version])?;
        Ok(updated == 1)
    }

    pub fn add_index_entry(&self, kind: &str, id: &str, e: &IndexEntry) -> Result<(), StoreError> {
        let inserted = if e.unique {
            self.0
                .prepare_cached("INSERT INTO resource_keys (kind, name, value, resource_id) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![kind, e.name, e.value, id])
        } else {
            self.0
                .prepare_cached(
                    "INSERT INTO resource_index (kind, name, value, sort_key, resource_id, seq)
                     SELECT ?1, ?2, ?3, ?4, ?5, seq FROM resources WHERE kind = ?1 AND id = ?5",
                )?
                .execute(params![kind, e.name, e.value, e.sort, id])
        };
        inserted.map_err(|err| match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                StoreError::Contention(format!("{kind} {id}: {} {} is taken", e.name, e.value))
            }
            _ => err.into(),
        })?;
        Ok(())
    }

    pub fn remove_index_entry(&self, kind: &str, id: &str, e: &IndexEntry) -> Result<(), StoreError> {
        if e.unique {
            self.0
                .prepare_cached(
                    "DELETE FROM resource_keys WHERE kind = ?1 AND name = ?2 AND value = ?3 AND resource_id = ?4",
                )?
                .execute(params![kind, e.name, e.value, id])?;
        } else {
            self.0
                .prepare_cached(
                    "DELETE FROM resource_index
                     WHERE kind = ?1 AND name = ?2 AND value = ?3 AND sort_key = ?4 AND resource_id = ?5",
                )?
                .execute(params![kind, e.name, e.value, e.sort, id])?;
        }
        Ok(())
    }

    pub fn set_resource_timer(&self, kind: &str, id: &str, wake_at: Option<Timestamp>) -> Result<(), StoreError> {
        match wake_at {
            Some(at) => self
                .0
                .prepare_cached(
                    "INSERT INTO resource_timers (kind, id, wake_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, id) DO UPDATE SET wake_at = excluded.wake_at",
                )?
                .execute(params![kind, id, at.as_millis()])?,
            None => self
                .0
                .prepare_cached("DELETE FROM resource_timers WHERE kind = ?1 AND id = ?2")?
                .execute(params![kind, id])?,
        };
        Ok(())
    }

    pub fn due_resources(
        &self,
        kind: &str,
        now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Loaded>, StoreError> {
        let rows = match scope {
            // Accounts on real time: by the timers' index, skipping moved clocks.
            ClockScope::Real => self
                .0
                .prepare_cached(
                    "SELECT r.version, r.document FROM resource_timers t
                     JOIN resources r ON r.kind = t.kind AND r.id = t.id
                     WHERE t.kind = ?1 AND t.wake_at <= ?2
                       AND NOT EXISTS (SELECT 1 FROM account_clocks c WHERE c.user_id = r.user_id)
                     ORDER BY t.wake_at, t.id LIMIT ?3",
                )?
                .query_map(params![kind, now.as_millis(), limit as i64], loaded)?
                .collect::<Result<Vec<_>, _>>()?,
            // One account: by the owner index.
            ClockScope::Account(user) => self
                .0
                .prepare_cached(
                    "SELECT r.version, r.document FROM resources r
                     JOIN resource_timers t ON t.kind = r.kind AND t.id = r.id
                     WHERE r.kind = ?1 AND r.user_id = ?4 AND t.wake_at <= ?2
                     ORDER BY t.wake_at, t.id LIMIT ?3",
                )?
                .query_map(params![kind, now.as_millis(), limit as i64, user.get()], loaded)?
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(rows)
    }

    pub fn set_account_clock(&self, user: UserId, from_ms: i64, to_ms: i64) -> Result<bool, StoreError> {
        let moved = self
            .0
            .prepare_cached(
                "INSERT INTO account_clocks (user_id, offset_ms) VALUES (?1, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET offset_ms = excluded.offset_ms
                 WHERE account_clocks.offset_ms = ?2",
            )?
            .execute(params![user.get(), from_ms, to_ms])?;
        Ok(moved == 1)
    }
}
