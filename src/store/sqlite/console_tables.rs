//! The request log and an account's resource listings (what the console reads).

use rusqlite::{params, OptionalExtension, Row};

use super::tables::{user_id, Tables};
use crate::domain::{Timestamp, UserId};
use crate::engine::StoreError;
use crate::store::{LoggedRequest, OwnedResource, RequestLogFilter, WebhookCredentials};

const REQUEST_COLUMNS: &str = "id, user_id, at, family, method, path, status, latency_us, idempotency_key,
     replayed, request_id, source, request_headers, request_body, response_headers, response_body";

fn request_from_row(row: &Row<'_>) -> rusqlite::Result<LoggedRequest> {
    Ok(LoggedRequest {
        id: row.get(0)?,
        user_id: user_id(row.get(1)?)?,
        at: Timestamp::from_millis(row.get(2)?),
        family: row.get(3)?,
        method: row.get(4)?,
        path: row.get(5)?,
        status: row.get(6)?,
        latency_us: row.get(7)?,
        idempotency_key: row.get(8)?,
        replayed: row.get(9)?,
        request_id: row.get(10)?,
        source: row.get(11)?,
        request_headers: row.get(12)?,
        request_body: row.get(13)?,
        response_headers: row.get(14)?,
        response_body: row.get(15)?,
    })
}

const RESOURCE_COLUMNS: &str = "seq, kind, id, status, version, created_at, updated_at, document";

fn resource_from_row(row: &Row<'_>) -> rusqlite::Result<OwnedResource> {
    Ok(OwnedResource {
        seq: row.get(0)?,
        kind: row.get(1)?,
        id: row.get(2)?,
        status: row.get(3)?,
        version: row.get(4)?,
        created_at: Timestamp::from_millis(row.get(5)?),
        updated_at: Timestamp::from_millis(row.get(6)?),
        document: row.get(7)?,
    })
}

impl Tables<'_> {
    pub fn append_request_log(&self, entries: &[LoggedRequest]) -> Result<(), StoreError> {
        let mut insert = self.0.prepare_cached(
            "INSERT INTO request_log (user_id, at, family, method, path, status, latency_us, idempotency_key,
             replayed, request_id, source, request_headers, request_body, response_headers, response_body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for e in entries {
            insert.execute(params![
                e.user_id.get(),
                e.at.as_millis(),
                e.family,
                e.method,
                e.path,
                e.status,
                e.latency_us,
                e.idempotency_key,
                e.replayed,
                e.request_id,
                e.source,
                e.request_headers,
                e.request_body,
                e.response_headers,
                e.response_body,
            ])?;
        }
        Ok(())
    }

    pub fn request_log(
        &self,
        user: UserId,
        filter: &RequestLogFilter,
        limit: u32,
    ) -> Result<Vec<LoggedRequest>, StoreError> {
        let class = filter.status_class.map(|c| (i64::from(c) * 100, i64::from(c) * 100 + 99));
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM request_log
             WHERE user_id = ?1 AND (?2 IS NULL OR family = ?2) AND (?3 IS NULL OR status BETWEEN ?3 AND ?4)
               AND (?5 IS NULL OR idempotency_key = ?5) AND id > coalesce(?6, 0) AND id < coalesce(?7, 9223372036854775807)
               AND (?9 IS NULL OR request_id = ?9) AND (?10 IS NULL OR method = ?10)
               AND (?11 IS NULL OR substr(path, 1, length(?11)) = ?11) AND (?12 IS NULL OR status = ?12)
             ORDER BY id DESC LIMIT ?8"
        ))?;
        let rows = stmt.query_map(
            params![
                user.get(),
                filter.family,
                class.map(|c| c.0),
                class.map(|c| c.1),
                filter.idempotency_key,
                filter.after_id,
                filter.before_id,
                limit,
                filter.request_id,
                filter.method,
                filter.path_prefix,
                filter.status
            ],
            request_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn logged_request(&self, user: UserId, id: i64) -> Result<Option<LoggedRequest>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!("SELECT {REQUEST_COLUMNS} FROM request_log WHERE user_id = ?1 AND id = ?2"))?
            .query_row(params![user.get(), id], request_from_row)
            .optional()?)
    }

    pub fn prune_request_log(&self, rows_max: u64, before: Timestamp) -> Result<u64, StoreError> {
        let rows_max = i64::try_from(rows_max).unwrap_or(i64::MAX);
        // Ids rise with time: everything before the first entry young enough goes.
        let by_age = self
            .0
            .prepare_cached(
                "DELETE FROM request_log WHERE id < coalesce(
                   (SELECT id FROM request_log WHERE at >= ?1 ORDER BY id LIMIT 1),
                   (SELECT max(id) + 1 FROM request_log))",
            )?
            .execute([before.as_millis()])?;
        let by_count = self
            .0
            .prepare_cached("DELETE FROM request_log WHERE id <= (SELECT max(id) FROM request_log) - ?1")?
            .execute([rows_max])?;
        Ok((by_age + by_count) as u64)
    }

    pub fn owned_resources(
        &self,
        user: UserId,
        kind: &str,
        status: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OwnedResource>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources
             WHERE kind = ?1 AND user_id = ?2 AND seq < coalesce(?3, 9223372036854775807) AND (?4 IS NULL OR status = ?4)
             ORDER BY seq DESC LIMIT ?5"
        ))?;
        let rows = stmt.query_map(params![kind, user.get(), before_seq, status, limit], resource_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn webhook_settings(&self, user: UserId) -> Result<Option<(Option<String>, bool)>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT notification_url, webhook_secret IS NOT NULL FROM accounts WHERE user_id = ?1")?
            .query_row([user.get()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }

    pub fn webhook_credentials(&self, user: UserId) -> Result<Option<WebhookCredentials>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT notification_url, webhook_secret FROM accounts WHERE user_id = ?1")?
            .query_row([user.get()], |row| Ok(WebhookCredentials { url: row.get(0)?, secret: row.get(1)? }))
            .optional()?)
    }

    pub fn owned_resource(&self, user: UserId, kind: &str, id: &str) -> Result<Option<OwnedResource>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = ?1 AND id = ?2 AND user_id = ?3"
            ))?
            .query_row(params![kind, id, user.get()], resource_from_row)
            .optional()?)
    }
}
