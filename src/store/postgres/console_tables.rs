//! The request log and an account's resource listings (what the console reads).

use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::tables::{user_id, PgTables};
use crate::domain::{Timestamp, UserId};
use crate::engine::StoreError;
use crate::store::{LoggedRequest, OwnedResource, RequestLogFilter, WebhookCredentials};

const REQUEST_COLUMNS: &str = "id, user_id, at, family, method, path, status, latency_us, idempotency_key,
     replayed, request_id, source, request_headers, request_body, response_headers, response_body";

fn request_from_row(row: &Row) -> Result<LoggedRequest, StoreError> {
    Ok(LoggedRequest {
        id: row.get(0),
        user_id: user_id(row.get(1))?,
        at: Timestamp::from_millis(row.get(2)),
        family: row.get(3),
        method: row.get(4),
        path: row.get(5),
        status: u16::try_from(row.get::<_, i32>(6)).unwrap_or(0),
        latency_us: row.get(7),
        idempotency_key: row.get(8),
        replayed: row.get(9),
        request_id: row.get(10),
        source: row.get(11),
        request_headers: row.get(12),
        request_body: row.get(13),
        response_headers: row.get(14),
        response_body: row.get(15),
    })
}

const RESOURCE_COLUMNS: &str = "seq, kind, id, status, version, created_at, updated_at, document";

fn resource_from_row(row: &Row) -> OwnedResource {
    OwnedResource {
        seq: row.get(0),
        kind: row.get(1),
        id: row.get(2),
        status: row.get(3),
        version: row.get(4),
        created_at: Timestamp::from_millis(row.get(5)),
        updated_at: Timestamp::from_millis(row.get(6)),
        document: row.get(7),
    }
}

impl<C: GenericClient> PgTables<'_, C> {
    pub fn append_request_log(&mut self, entries: &[LoggedRequest]) -> Result<(), StoreError> {
        for e in entries {
            self.execute(
                "INSERT INTO request_log (user_id, at, family, method, path, status, latency_us, idempotency_key,
                 replayed, request_id, source, request_headers, request_body, response_headers, response_body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                &[
                    &e.user_id.get(),
                    &e.at.as_millis(),
                    &e.family,
                    &e.method,
                    &e.path,
                    &i32::from(e.status),
                    &e.latency_us,
                    &e.idempotency_key,
                    &e.replayed,
                    &e.request_id,
                    &e.source,
                    &e.request_headers,
                    &e.request_body,
                    &e.response_headers,
                    &e.response_body,
                ],
            )?;
        }
        Ok(())
    }

    pub fn request_log(
        &mut self,
        user: UserId,
        filter: &RequestLogFilter,
        limit: u32,
    ) -> Result<Vec<LoggedRequest>, StoreError> {
        let class = filter.status_class.map(|c| (i32::from(c) * 100, i32::from(c) * 100 + 99));
        let status = filter.status.map(i32::from);
        let params: [&(dyn ToSql + Sync); 12] = [
            &user.get(),
            &filter.family,
            &class.map(|c| c.0),
            &class.map(|c| c.1),
            &filter.idempotency_key,
            &filter.after_id,
            &filter.before_id,
            &i64::from(limit),
            &filter.request_id,
            &filter.method,
            &filter.path_prefix,
            &status,
        ];
        let rows = self.query(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM request_log
                 WHERE user_id = $1 AND ($2::text IS NULL OR family = $2)
                   AND ($3::int IS NULL OR status BETWEEN $3 AND $4)
                   AND ($5::text IS NULL OR idempotency_key = $5)
                   AND id > coalesce($6::bigint, 0) AND id < coalesce($7::bigint, 9223372036854775807)
                   AND ($9::text IS NULL OR request_id = $9) AND ($10::text IS NULL OR method = $10)
                   AND ($11::text IS NULL OR left(path, length($11)) = $11) AND ($12::int IS NULL OR status = $12)
                 ORDER BY id DESC LIMIT $8"
            ),
            &params,
        )?;
        rows.iter().map(request_from_row).collect()
    }

    pub fn logged_request(&mut self, user: UserId, id: i64) -> Result<Option<LoggedRequest>, StoreError> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM request_log WHERE user_id = $1 AND id = $2");
        self.query_opt(&sql, &[&user.get(), &id])?.as_ref().map(request_from_row).transpose()
    }

    pub fn prune_request_log(&mut self, rows_max: u64, before: Timestamp) -> Result<u64, StoreError> {
        let rows_max = i64::try_from(rows_max).unwrap_or(i64::MAX);
        // Ids rise with time: everything before the first entry young enough goes.
        let by_age = self.execute(
            "DELETE FROM request_log WHERE id < coalesce(
               (SELECT id FROM request_log WHERE at >= $1 ORDER BY id LIMIT 1),
               (SELECT max(id) + 1 FROM request_log))",
            &[&before.as_millis()],
        )?;
        let by_count =
            self.execute("DELETE FROM request_log WHERE id <= (SELECT max(id) FROM request_log) - $1", &[&rows_max])?;
        Ok(by_age + by_count)
    }

    pub fn owned_resources(
        &mut self,
        user: UserId,
        kind: &str,
        status: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OwnedResource>, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources
                 WHERE kind = $1 AND user_id = $2 AND seq < coalesce($3::bigint, 9223372036854775807)
                   AND ($4::text IS NULL OR status = $4)
                 ORDER BY seq DESC LIMIT $5"
            ),
            &[&kind, &user.get(), &before_seq, &status, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(resource_from_row).collect())
    }

    pub fn webhook_settings(&mut self, user: UserId) -> Result<Option<(Option<String>, bool)>, StoreError> {
        let row = self.query_opt(
            "SELECT notification_url, webhook_secret IS NOT NULL FROM accounts WHERE user_id = $1",
            &[&user.get()],
        )?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    pub fn webhook_credentials(&mut self, user: UserId) -> Result<Option<WebhookCredentials>, StoreError> {
        let row =
            self.query_opt("SELECT notification_url, webhook_secret FROM accounts WHERE user_id = $1", &[&user.get()])?;
        Ok(row.map(|row| WebhookCredentials { url: row.get(0), secret: row.get(1) }))
    }

    pub fn owned_resource(&mut self, user: UserId, kind: &str, id: &str) -> Result<Option<OwnedResource>, StoreError> {
        let sql = format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE kind = $1 AND id = $2 AND user_id = $3");
        Ok(self.query_opt(&sql, &[&kind, &id, &user.get()])?.as_ref().map(resource_from_row))
    }
}
