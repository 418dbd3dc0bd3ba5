//! Notification rows: the outbox, attempts, account settings; and audit listings.

use rusqlite::{params, OptionalExtension, Row};

use super::tables::{audit_from_row, corrupt, user_id, Tables};
use crate::domain::notification::{
    Attempt, NewNotification, Notification, NotificationForm, NotificationStatus, CLAIM_LEASE_MS,
};
use crate::domain::{ResourceType, Timestamp, UserId};
use crate::engine::{ClockScope, StoreError};
use crate::store::{AuditFilter, AuditRecord, Delivery, NotificationFilter, Page};

const NOTIFICATION_COLUMNS: &str = "id, user_id, live_mode, resource_type, resource_id, resource_status,
     external_reference, url, state, next_attempt_at, created_at, attempts, body, form";

fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let (kind, state): (String, String) = (row.get(3)?, row.get(8)?);
    Ok(Notification {
        id: row.get(0)?,
        change: NewNotification {
            user_id: user_id(row.get(1)?)?,
            live_mode: row.get(2)?,
            resource_type: ResourceType::parse(&kind).ok_or_else(|| corrupt("resource type"))?,
            resource_id: row.get(4)?,
            status: row.get(5)?,
            external_reference: row.get(6)?,
            url: row.get(7)?,
            created_at: Timestamp::from_millis(row.get(10)?),
            body: row.get(12)?,
            form: NotificationForm::parse(row.get::<_, Option<String>>(13)?.as_deref()),
        },
        status: NotificationStatus::parse(&state).ok_or_else(|| corrupt("notification state"))?,
        attempts_made: row.get(11)?,
        attempts: Vec::new(),
        next_attempt_at: row.get::<_, Option<i64>>(9)?.map(Timestamp::from_millis),
    })
}

impl Tables<'_> {
    pub fn notification_target_row(&self, user: UserId) -> Result<(Option<String>, bool), StoreError> {
        let row = self
            .0
            .prepare_cached("SELECT notification_url, live_mode FROM accounts WHERE user_id = ?1")?
            .query_row([user.get()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(row.unwrap_or((None, false)))
    }

    pub fn insert_notification(&self, n: &NewNotification) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO notifications (user_id, live_mode, resource_type, resource_id, resource_status,
                 external_reference, url, state, next_attempt_at, created_at, body, form)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9, ?10)",
            )?
            .execute(params![
                n.user_id.get(),
                n.live_mode,
                n.resource_type.as_str(),
                n.resource_id,
                n.status,
                n.external_reference,
                n.url,
                n.created_at.as_millis(),
                n.body,
                n.form.as_column(),
            ])?;
        Ok(())
    }

    pub fn configure_notifications(
        &self,
        user: UserId,
        url: Option<&str>,
        rotate: bool,
        fresh_secret: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let current: Option<Option<String>> = self
            .0
            .query_row("SELECT webhook_secret FROM accounts WHERE user_id = ?1", [user.get()], |row| row.get(0))
            .optional()?;
        let Some(current) = current else {
            return Ok(None);
        };
        if let Some(url) = url {
            self.0.execute("UPDATE accounts SET notification_url = ?1 WHERE user_id = ?2", params![url, user.get()])?;
        }
        if rotate || current.is_none() {
            self.0.execute(
                "UPDATE accounts SET webhook_secret = ?1 WHERE user_id = ?2",
                params![fresh_secret, user.get()],
            )?;
            return Ok(Some(Some(fresh_secret.to_owned())));
        }
        Ok(Some(None))
    }

    pub fn claim_notifications(
        &self,
        due_by: Timestamp,
        real_now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        // Accounts on real time skip moved clocks; one account is read by its index.
        let whose = match scope {
            ClockScope::Real => "NOT EXISTS (SELECT 1 FROM account_clocks c WHERE c.user_id = n.user_id)",
            ClockScope::Account(_) => "n.user_id = ?4",
        };
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {NOTIFICATION_COLUMNS}, (SELECT webhook_secret FROM accounts a WHERE a.user_id = n.user_id)
             FROM notifications n
             WHERE state = 'pending' AND next_attempt_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?2)
               AND {whose}
             ORDER BY next_attempt_at, id LIMIT ?3"
        ))?;
        let delivery = |row: &Row<'_>| Ok(Delivery { notification: notification_from_row(row)?, secret: row.get(14)? });
        let (due_by, now, limit) = (due_by.as_millis(), real_now.as_millis(), limit as i64);
        let claimed: Vec<Delivery> = match scope {
            ClockScope::Real => stmt.query_map(params![due_by, now, limit], delivery)?.collect::<Result<_, _>>()?,
            ClockScope::Account(user) => {
                stmt.query_map(params![due_by, now, limit, user.get()], delivery)?.collect::<Result<_, _>>()?
            }
        };
        let mut lease = self.0.prepare_cached("UPDATE notifications SET claimed_until = ?1 WHERE id = ?2")?;
        for delivery in &claimed {
            lease.execute(params![now + CLAIM_LEASE_MS, delivery.notification.id])?;
        }
        Ok(claimed)
    }

    /// When the account's next pending notification nobody holds is due.
    pub fn next_notification_at(&self, user: UserId, real_now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<i64> = self
            .0
            .prepare_cached(
                "SELECT min(next_attempt_at) FROM notifications
                 WHERE user_id = ?1 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?2)",
            )?
            .query_row(params![user.get(), real_now.as_millis()], |row| row.get(0))?;
        Ok(at.map(Timestamp::from_millis))
    }

    /// Every moved clock: (account, offset in milliseconds).
    pub fn moved_clocks(&self) -> Result<Vec<(UserId, i64)>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT user_id, offset_ms FROM account_clocks")?;
        let rows = stmt.query_map([], |row| Ok((user_id(row.get(0)?)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn finish_delivery(&self, id: i64, a: &Attempt, next: Option<Timestamp>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO notification_attempts (notification_id, at, status_code, error, latency_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, a.at.as_millis(), a.status_code, a.error, a.latency_ms])?;
        let state = match (a.succeeded(), next) {
            (true, _) => NotificationStatus::Delivered,
            (false, Some(_)) => NotificationStatus::Pending,
            (false, None) => NotificationStatus::Failed,
        };
        let next = if a.succeeded() { None } else { next.map(Timestamp::as_millis) };
        self.0
            .prepare_cached(
                "UPDATE notifications SET state = ?1, attempts = attempts + 1, next_attempt_at = ?2,
                 claimed_until = NULL WHERE id = ?3",
            )?
            .execute(params![state.as_str(), next, id])?;
        Ok(())
    }

    fn attempts(&self, id: i64) -> Result<Vec<Attempt>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT at, status_code, error, latency_ms FROM notification_attempts WHERE notification_id = ?1 ORDER BY at",
        )?;
        let rows = stmt.query_map([id], |row| {
            Ok(Attempt {
                at: Timestamp::from_millis(row.get(0)?),
                status_code: row.get(1)?,
                error: row.get(2)?,
                latency_ms: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn notification_page(
        &self,
        user: UserId,
        filter: &NotificationFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Notification>, StoreError> {
        let state = filter.status.map(NotificationStatus::as_str);
        let condition = "WHERE user_id = ?1 AND (?2 IS NULL OR resource_id = ?2) AND (?3 IS NULL OR state = ?3)";
        let total: i64 = self
            .0
            .prepare_cached(&format!("SELECT count(*) FROM notifications {condition}"))?
            .query_row(params![user.get(), filter.resource_id, state], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications {condition} ORDER BY id DESC LIMIT ?4 OFFSET ?5"
        ))?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows =
            stmt.query_map(params![user.get(), filter.resource_id, state, limit, offset], notification_from_row)?;
        let mut items: Vec<Notification> = rows.collect::<Result<_, _>>()?;
        for n in &mut items {
            n.attempts = self.attempts(n.id)?;
        }
        Ok(Page { total: total as u64, items })
    }

    pub fn retry_notification(
        &self,
        user: UserId,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        let changed = self.0.execute(
            "UPDATE notifications SET state = 'pending', next_attempt_at = ?1, claimed_until = NULL
             WHERE id = ?2 AND user_id = ?3",
            params![now.as_millis(), id, user.get()],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        let mut stmt =
            self.0.prepare_cached(&format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1"))?;
        let mut n = stmt.query_row([id], notification_from_row)?;
        n.attempts = self.attempts(id)?;
        Ok(Some(n))
    }

    pub fn audit_page(
        &self,
        user: UserId,
        filter: &AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let kind = filter.resource_type.map(ResourceType::as_str);
        let condition =
            "WHERE user_id = ?1 AND (?2 IS NULL OR resource_type = ?2) AND (?3 IS NULL OR resource_id = ?3)";
        let total: i64 = self
            .0
            .prepare_cached(&format!("SELECT count(*) FROM audit_events {condition}"))?
            .query_row(params![user.get(), kind, filter.resource_id], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT user_id, resource_type, resource_id, from_status, to_status, deleted_by, comments,
                    request_id, idempotency_key, created_at, id, hash, prev_hash
             FROM audit_events {condition} ORDER BY id DESC LIMIT ?4 OFFSET ?5"
        ))?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![user.get(), kind, filter.resource_id, limit, offset], |row| {
            Ok(AuditRecord {
                id: row.get(10)?,
                event: audit_from_row(row)?,
                hash: row.get(11)?,
                prev_hash: row.get(12)?,
            })
        })?;
        Ok(Page { total: total as u64, items: rows.collect::<Result<_, _>>()? })
    }
}
