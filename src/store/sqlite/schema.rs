//! Versioned migrations, tracked in SQLite's `user_version`, applied at open in one
//! immediate transaction (so two processes opening one file do not race).

use rusqlite::{Connection, TransactionBehavior};

use crate::engine::StoreError;

/// Migration `i` moves the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_payouts.sql"),
    include_str!("migrations/0003_customers.sql"),
    include_str!("migrations/0004_notifications.sql"),
    include_str!("migrations/0005_resources.sql"),
    include_str!("migrations/0006_notification_body.sql"),
    include_str!("migrations/0007_notification_form.sql"),
    include_str!("migrations/0008_webhook_secrets.sql"),
    include_str!("migrations/0009_audit_chain.sql"),
    include_str!("migrations/0010_request_log.sql"),
    include_str!("migrations/0011_account_clocks.sql"),
];

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database is at schema version {version}, newer than this caja knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// The secret key of the token hasher, made once per store.
pub fn token_hash_key(conn: &Connection, fresh_key: [u8; 32]) -> Result<Vec<u8>, StoreError> {
    conn.execute("INSERT OR IGNORE INTO settings (name, value) VALUES ('token_hash_key', ?1)", [&fresh_key[..]])?;
    Ok(conn.query_row("SELECT value FROM settings WHERE name = 'token_hash_key'", [], |row| row.get(0))?)
}
