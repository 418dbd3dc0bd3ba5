//! PostgreSQL rows of notifications (the outbox, attempts, account settings) and the
//! audit listing.

use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::tables::{audit_from_row, corrupt, page_bounds, user_id, PgTables};
use crate::domain::notification::{
    Attempt, NewNotification, Notification, NotificationForm, NotificationStatus, CLAIM_LEASE_MS,
};
use crate::domain::{ResourceType, Timestamp, UserId};
use crate::engine::{ClockScope, StoreError};
use crate::store::{AuditFilter, AuditRecord, Delivery, NotificationFilter, Page};

const NOTIFICATION_COLUMNS: &str = "id, user_id, live_mode, resource_type, resource_id, resource_status,
     external_reference, url, state, next_attempt_at, created_at, attempts, body, form";

fn notification_from_row(row: &Row) -> Result<Notification, StoreError> {
    let (kind, state): (String, String) = (row.get(3), row.get(8));
    Ok(Notification {
        id: row.get(0),
        change: NewNotification {
            user_id: user_id(row.get(1))?,
            live_mode: row.get(2),
            resource_type: ResourceType::parse(&kind).ok_or_else(|| corrupt("resource type"))?,
            resource_id: row.get(4),
            status: row.get(5),
            external_reference: row.get(6),
            url: row.get(7),
            created_at: Timestamp::from_millis(row.get(10)),
            body: row.get(12),
            form: NotificationForm::parse(row.get::<_, Option<String>>(13).as_deref()),
        },
        status: NotificationStatus::parse(&state).ok_or_else(|| corrupt("notification state"))?,
        attempts_made: u32::try_from(row.get::<_, i32>(11)).map_err(|_| corrupt("attempts"))?,
        attempts: Vec::new(),
        next_attempt_at: row.get::<_, Option<i64>>(9).map(Timestamp::from_millis),
    })
}

impl<C: GenericClient> PgTables<'_, C> {
    pub fn notification_target_row(&mut self, user: UserId) -> Result<(Option<String>, bool), StoreError> {
        let row =
            self.query_opt("SELECT notification_url, live_mode FROM accounts WHERE user_id = $1", &[&user.get()])?;
        Ok(row.map_or((None, false), |row| (row.get(0), row.get(1))))
    }

    pub fn insert_notification(&mut self, n: &NewNotification) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO notifications (user_id, live_mode, resource_type, resource_id, resource_status,
             external_reference, url, state, next_attempt_at, created_at, body, form)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10)",
            &[
                &n.user_id.get(),
                &n.live_mode,
                &n.resource_type.as_str(),
                &n.resource_id,
                &n.status,
                &n.external_reference,
                &n.url,
                &n.created_at.as_millis(),
                &n.body,
                &n.form.as_column(),
            ],
        )?;
        Ok(())
    }

    pub fn configure_notifications(
        &mut self,
        user: UserId,
        url: Option<&str>,
        rotate: bool,
        fresh_secret: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let Some(row) =
            self.query_opt("SELECT webhook_secret FROM accounts WHERE user_id = $1 FOR UPDATE", &[&user.get()])?
        else {
            return Ok(None);
        };
        let current: Option<String> = row.get(0);
        if let Some(url) = url {
            self.execute("UPDATE accounts SET notification_url = $1 WHERE user_id = $2", &[&url, &user.get()])?;
        }
        if rotate || current.is_none() {
            self.execute("UPDATE accounts SET webhook_secret = $1 WHERE user_id = $2", &[&fresh_secret, &user.get()])?;
            return Ok(Some(Some(fresh_secret.to_owned())));
        }
        Ok(Some(None))
    }

    /// Rows claimed by another process are skipped, not waited for.
    pub fn claim_notifications(
        &mut self,
        due_by: Timestamp,
        real_now: Timestamp,
        scope: ClockScope,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = |whose: &str| {
            format!(
                "SELECT {NOTIFICATION_COLUMNS}, (SELECT webhook_secret FROM accounts a WHERE a.user_id = n.user_id)
                 FROM notifications n
                 WHERE state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $2)
                   AND {whose}
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED"
            )
        };
        // Accounts on real time skip moved clocks; one account is read by its index.
        let rows = match scope {
            ClockScope::Real => self.query(
                &sql("NOT EXISTS (SELECT 1 FROM account_clocks c WHERE c.user_id = n.user_id)"),
                &[&due_by.as_millis(), &real_now.as_millis(), &limit],
            )?,
            ClockScope::Account(user) => {
                self.query(&sql("n.user_id = $4"), &[&due_by.as_millis(), &real_now.as_millis(), &limit, &user.get()])?
            }
        };
        let claimed = rows
            .iter()
            .map(|row| Ok(Delivery { notification: notification_from_row(row)?, secret: row.get(14) }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let ids: Vec<i64> = claimed.iter().map(|d| d.notification.id).collect();
        self.execute(
            "UPDATE notifications SET claimed_until = $1 WHERE id = ANY($2)",
            &[&real_now.plus_millis(CLAIM_LEASE_MS).as_millis(), &ids],
        )?;
        Ok(claimed)
    }

    /// When the account's next pending notification nobody holds is due.
    pub fn next_notification_at(&mut self, user: UserId, real_now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let rows = self.query(
            "SELECT min(next_attempt_at) FROM notifications
             WHERE user_id = $1 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $2)",
            &[&user.get(), &real_now.as_millis()],
        )?;
        Ok(rows.first().and_then(|row| row.get::<_, Option<i64>>(0)).map(Timestamp::from_millis))
    }

    /// Every moved clock: (account, offset in milliseconds).
    pub fn moved_clocks(&mut self) -> Result<Vec<(UserId, i64)>, StoreError> {
        let rows = self.query("SELECT user_id, offset_ms FROM account_clocks", &[])?;
        rows.iter().map(|row| Ok((user_id(row.get(0))?, row.get(1)))).collect()
    }

    pub fn finish_delivery(&mut self, id: i64, a: &Attempt, next: Option<Timestamp>) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO notification_attempts (notification_id, at, status_code, error, latency_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &a.at.as_millis(), &a.status_code.map(i32::from), &a.error, &a.latency_ms],
        )?;
        let state = match (a.succeeded(), next) {
            (true, _) => NotificationStatus::Delivered,
            (false, Some(_)) => NotificationStatus::Pending,
            (false, None) => NotificationStatus::Failed,
        };
        let next = if a.succeeded() { None } else { next.map(Timestamp::as_millis) };
        self.execute(
            "UPDATE notifications SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
             claimed_until = NULL WHERE id = $3",
            &[&state.as_str(), &next, &id],
        )?;
        Ok(())
    }

    fn attempts(&mut self, id: i64) -> Result<Vec<Attempt>, StoreError> {
        let rows = self.query(
            "SELECT at, status_code, error, latency_ms FROM notification_attempts WHERE notification_id = $1 ORDER BY at",
            &[&id],
        )?;
        rows.iter()
            .map(|row| {
                let code: Option<i32> = row.get(1);
                Ok(Attempt {
                    at: Timestamp::from_millis(row.get(0)),
                    status_code: code.map(|c| u16::try_from(c).map_err(|_| corrupt("status code"))).transpose()?,
                    error: row.get(2),
                    latency_ms: row.get(3),
                })
            })
            .collect()
    }

    pub fn notification_page(
        &mut self,
        user: UserId,
        filter: &NotificationFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Notification>, StoreError> {
        let state = filter.status.map(NotificationStatus::as_str);
        let condition =
            "WHERE user_id = $1 AND ($2::text IS NULL OR resource_id = $2) AND ($3::text IS NULL OR state = $3)";
        let params: [&(dyn ToSql + Sync); 3] = [&user.get(), &filter.resource_id, &state];
        let total: i64 = self.query(&format!("SELECT count(*) FROM notifications {condition}"), &params)?[0].get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            &format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications {condition} ORDER BY id DESC LIMIT $4 OFFSET $5"
            ),
            &[&user.get(), &filter.resource_id, &state, &limit, &offset],
        )?;
        let mut items: Vec<Notification> = rows.iter().map(notification_from_row).collect::<Result<_, _>>()?;
        for n in &mut items {
            n.attempts = self.attempts(n.id)?;
        }
        Ok(Page { total: total as u64, items })
    }

    pub fn retry_notification(
        &mut self,
        user: UserId,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        let row = self.query_opt(
            &format!(
                "UPDATE notifications SET state = 'pending', next_attempt_at = $1, claimed_until = NULL
                 WHERE id = $2 AND user_id = $3 RETURNING {NOTIFICATION_COLUMNS}"
            ),
            &[&now.as_millis(), &id, &user.get()],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut n = notification_from_row(&row)?;
        n.attempts = self.attempts(id)?;
        Ok(Some(n))
    }

    pub fn audit_page(
        &mut self,
        user: UserId,
        filter: &AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let kind = filter.resource_type.map(ResourceType::as_str);
        let condition =
            "WHERE user_id = $1 AND ($2::text IS NULL OR resource_type = $2) AND ($3::text IS NULL OR resource_id = $3)";
        let params: [&(dyn ToSql + Sync); 3] = [&user.get(), &kind, &filter.resource_id];
        let total: i64 = self.query(&format!("SELECT count(*) FROM audit_events {condition}"), &params)?[0].get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            &format!(
                "SELECT user_id, resource_type, resource_id, from_status, to_status, deleted_by, comments,
                        request_id, idempotency_key, created_at, id, hash, prev_hash
                 FROM audit_events {condition} ORDER BY id DESC LIMIT $4 OFFSET $5"
            ),
            &[&user.get(), &kind, &filter.resource_id, &limit, &offset],
        )?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(AuditRecord {
                    id: row.get(10),
                    event: audit_from_row(row)?,
                    hash: row.get(11),
                    prev_hash: row.get(12),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page { total: total as u64, items })
    }
}
