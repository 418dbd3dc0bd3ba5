//! Versioned migrations for PostgreSQL, recorded in `schema_migrations` and applied
//! at open under an advisory lock, so several processes starting at once take turns
//! and each applies only what is missing.

use postgres::Client;

use super::pg_error;
use crate::engine::StoreError;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_notifications.sql"),
    include_str!("migrations/0003_resources.sql"),
    include_str!("migrations/0004_notification_body.sql"),
    include_str!("migrations/0005_notification_form.sql"),
    include_str!("migrations/0006_webhook_secrets.sql"),
    include_str!("migrations/0007_audit_chain.sql"),
    include_str!("migrations/0008_request_log.sql"),
    include_str!("migrations/0009_account_clocks.sql"),
    include_str!("migrations/0010_audit_chain_head.sql"),
];
/// Any constant; it names caja's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x6361_6a61_5f6d_6967; // "caja_mig"

pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .map_err(pg_error)?;
    let version: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).map_err(pg_error)?.get(0);
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database is at schema version {version}, newer than this caja knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.batch_execute(sql).map_err(pg_error)?;
        let applied = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
            &[&applied],
        )
        .map_err(pg_error)?;
    }
    tx.commit().map_err(pg_error)
}

/// The secret key of the token hasher, made once per store.
pub fn token_hash_key(client: &mut Client, fresh_key: [u8; 32]) -> Result<Vec<u8>, StoreError> {
    client
        .execute(
            "INSERT INTO settings (name, value) VALUES ('token_hash_key', $1) ON CONFLICT (name) DO NOTHING",
            &[&&fresh_key[..]],
        )
        .map_err(pg_error)?;
    let row = client.query_one("SELECT value FROM settings WHERE name = 'token_hash_key'", &[]).map_err(pg_error)?;
    Ok(row.get(0))
}
