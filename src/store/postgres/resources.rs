//! Resources of every kind on PostgreSQL: the envelope and document in `resources`,
//! unique entries in `resource_keys`, listing entries in `resource_index`, timers in
//! `resource_timers`. Inside a write
//! every loaded resource is locked `FOR UPDATE`; the worker's due resources are taken
//! with `SKIP LOCKED`, so several processes never wake the same one; a unique entry
//! taken by a concurrent command is a unique violation, and the command runs again.

use postgres::{GenericClient, Row};

use super::tables::{page_bounds, PgTables};
use crate::domain::resource::IndexEntry;
use crate::domain::{Timestamp, UserId};
use crate::engine::{ClockScope, Envelope, LoadFor, Loaded, Page, Reads, StoreError};

fn loaded(row: &Row) -> Loaded {
    Loaded { version: row.get(0), document: row.get(1) }
}

impl<C: GenericClient> Reads for PgTables<'_, C> {
    fn load(&mut self, kind: &'static str, id: &str, purpose: LoadFor) -> Result<Option<Loaded>, StoreError> {
        let lock = if purpose == LoadFor::Update { self.for_update() } else { "" };
        let sql = format!("SELECT version, document FROM resources WHERE kind = $1 AND id = $2{lock}");
        Ok(self.query_opt(&sql, &[&kind, &id])?.map(|row| loaded(&row)))
    }

    fn find_unique(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self.query_opt(
            "SELECT resource_id FROM resource_keys WHERE kind = $1 AND name = $2 AND value = $3",
            &[&kind, &name, &value],
        )?;
        Ok(row.map(|row| row.get(0)))
    }

    fn list(
        &mut self,
        kind: &'static str,
        name: &'static str,
        value: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Loaded>, StoreError> {
        let total: i64 = self.query(
            "SELECT count(*) FROM resource_index WHERE kind = $1 AND name = $2 AND value = $3",
            &[&kind, &name, &value],
        )?[0]
            .get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            // The page is cut from the index alone, then joined: the rows skipped by
            // OFFSET are never looked up.
            "SELECT r.version, r.document FROM (
                 SELECT sort_key, resource_id, seq FROM resource_index
                 WHERE kind = $1 AND name = $2 AND value = $3
                 ORDER BY sort_key, resource_id LIMIT $4 OFFSET $5
             ) i JOIN resources r ON r.seq = i.seq
             ORDER BY i.sort_key, i.resource_id",
            &[&kind, &name, &value, &limit, &offset],
        )?;
        Ok(Page { total: total as u64, items: rows.iter().map(loaded).collect() })
    }

    fn listed_any(&mut self, kind: &'static str, name: &'static str, value: &str) -> Result<bool, StoreError> {
        let row = self.query_opt(
            "SELECT 1 FROM resource_index WHERE kind = $1 AND name = $2 AND value = $3 LIMIT 1",
            &[&kind, &name, &value],
        )?;
        Ok(row.is_some())
    }

    fn clock_offset(&mut self, user: UserId) -> Result<i64, StoreError> {
        let row = self.query_opt("SELECT offset_ms FROM account_clocks WHERE user_id = $1", &[&user.get()])?;
        Ok(row.map_or(0, |row| row.get(0)))
    }

    fn next_wake(&mut self, kind: &'static str, user: UserId) -> Result<Option<Timestamp>, StoreError> {
        let rows = self.query(
            "SELECT min(t.wake_at) FROM resources r JOIN resource_timers t ON t.kind = r.kind AND t.id = r.id
             WHERE r.kind = $1 AND r.user_id = $2",
            &[&kind, &user.get()],
        )?;
        Ok(rows.first().and_then(|row| row.get::<_, Option<i64>>(0)).map(Timestamp::from_millis))
    }
}

impl<C: GenericClient> PgTables<'_, C> {
    pub fn insert_resource(&mut self, r: &Envelope<'_>) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 1, $5, $6, $7)",
            &[
                &r.kind,
                &r.id,
                &r.user_id.get(),
                &r.status,
                &r.document,
                &r.created_at.as_millis(),
                &r.updated_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    pub fn update_resource(&mut self, r: &Envelope<'_>, version: i64) -> Result<bool, StoreError> {
        let updated = self.execute(
            "UPDATE resources SET status = $1, version = version + 1, document = $2, updated_at = $3
             WHERE kind = $4 AND id = $5 AND version = $6",
            &[&r.status, &r.document, &r.updated_at.as_millis(), &r.kind, &r.id, &version],
        )?;
        Ok(updated == 1)
    }

    pub fn add_index_entry(&mut self, kind: &str, id: &str, e: &IndexEntry) -> Result<(), StoreError> {
        if e.unique {
            self.execute(
                "INSERT INTO resource_keys (kind, name, value, resource_id) VALUES ($1, $2, $3, $4)",
                &[&kind, &e.name, &e.value, &id],
            )?;
        } else {
            self.execute(
                "INSERT INTO resource_index (kind, name, value, sort_key, resource_id, seq)
                 SELECT $1, $2, $3, $4, $5, seq FROM resources WHERE kind = $1 AND id = $5",
                &[&kind, &e.name, &e.value, &e.sort, &id],
            )?;
        }
        Ok(())
    }

    pub fn remove_index_entry(&mut self, kind: &str, id: &str, e: &IndexEntry) -> Result<(), StoreError> {
        if e.unique {
            self.execute(
                "DELETE FROM resource_keys WHERE kind = $1 AND name = $2 AND value = $3 AND resource_id = $4",
                &[&kind, &e.name, &e.value, &id],
            )?;
        } else {
            self.execute(
                "DELETE FROM resource_index
                 WHERE kind = $1 AND name = $2 AND value = $3 AND sort_key = $4 AND resource_id = $5",
                &[&kind, &e.name, &e.value, &e.sort, &id],
            )?;
        }
        Ok(())
    }

    pub fn set_resource_timer(&mut self, kind: &str, id: &str, wake_at: Option<Timestamp>) -> Result<(), StoreError> {
        match wake_at {
            Some(at) => self.execute(
                "INSERT INTO resource_timers (kind, id, wake_at) VALUES ($1, $2, $3)
                 ON CONFLICT (kind, id) DO UPDATE SET wake_at = excluded.wake_at",
                &[&kind, &id, &at.as_millis()],
            )?,
            None => self.execute("DELETE FROM resource_timers WHERE kind = $1 AND id = $2", &[&kind, &id])?,
        };
        Ok(())
    }

    pub fn due_resources(
        &mut self,
        kind: &str,
        now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Loaded>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match scope {
            // Accounts on real time: by the timers' index, skipping moved clocks.
            ClockScope::Real => self.query(
                "SELECT r.version, r.document FROM resource_timers t
                 JOIN resources r ON r.kind = t.kind AND r.id = t.id
                 WHERE t.kind = $1 AND t.wake_at <= $2
                   AND NOT EXISTS (SELECT 1 FROM account_clocks c WHERE c.user_id = r.user_id)
                 ORDER BY t.wake_at, t.id LIMIT $3
                 FOR UPDATE OF r SKIP LOCKED",
                &[&kind, &now.as_millis(), &limit],
            )?,
            // One account: by the owner index.
            ClockScope::Account(user) => self.query(
                "SELECT r.version, r.document FROM resources r
                 JOIN resource_timers t ON t.kind = r.kind AND t.id = r.id
                 WHERE r.kind = $1 AND r.user_id = $4 AND t.wake_at <= $2
                 ORDER BY t.wake_at, t.id LIMIT $3
                 FOR UPDATE OF r SKIP LOCKED",
                &[&kind, &now.as_millis(), &limit, &user.get()],
            )?,
        };
        Ok(rows.iter().map(loaded).collect())
    }

    /// Under a concurrent move, the row lock makes this wait, and the `WHERE` then
    /// sees the other's offset: nothing is written, and the command runs again.
    pub fn set_account_clock(&mut self, user: UserId, from_ms: i64, to_ms: i64) -> Result<bool, StoreError> {
        let moved = self.execute(
            "INSERT INTO account_clocks (user_id, offset_ms) VALUES ($1, $3)
             ON CONFLICT (user_id) DO UPDATE SET offset_ms = excluded.offset_ms
             WHERE account_clocks.offset_ms = $2",
            &[&user.get(), &from_ms, &to_ms],
        )?;
        Ok(moved == 1)
    }
}
