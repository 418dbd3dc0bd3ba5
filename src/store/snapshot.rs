//! An account's state as one file (#17, caja's own): `caja export --user-id N`
//! writes it, `caja import FILE` reads it back into the same account, so a test can
//! start from a snapshot. What is kept is the account's rows in the tables below,
//! table by table, column by column, with no family's knowledge: resources of every
//! kind with their unique keys, listing entries and timers, idempotency records, the
//! audit trail (its hash chain intact) and the moved clock. Deliveries already made,
//! pending notifications and the journal are history, not state: not kept.
//!
//! Both backends run the same SQL text and convert values by the column's
//! [`Column`] kind. `$1`… read the same in SQLite and PostgreSQL only while each
//! first appears in order (SQLite numbers `$N` by first appearance): every
//! statement here names `$1` first, then `$2`, and so on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The format's version, written as `caja_snapshot`.
pub const FORMAT: u32 = 1;

/// How a column's values are held in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// A 64-bit integer (a JSON number).
    Int,
    /// A 32-bit integer (PostgreSQL `INTEGER`).
    Int32,
    Text,
    /// Text or `null`.
    OptText,
    /// Bytes, as lowercase hex.
    Bytes,
}

/// One table of the snapshot: how to read the account's rows and how to write one
/// back (its values as `$1`, `$2`, … in `columns` order).
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Takes the user id as `$1`; answers `columns`, in a stable order.
    pub select: &'static str,
    pub insert: &'static str,
    pub columns: &'static [Column],
    /// The column holding the owner, if the table has one: on import it must be
    /// the snapshot's account.
    pub owner: Option<usize>,
}

use Column::*;

/// The tables, in the order an import writes them (resources before what points at
/// them).
pub const TABLES: [Table; 7] = [
    Table {
        name: "resources",
        select: "SELECT kind, id, user_id, status, version, document, created_at, updated_at
                 FROM resources WHERE user_id = $1 ORDER BY seq",
        insert: "INSERT INTO resources (kind, id, user_id, status, version, document, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        columns: &[Text, Text, Int, OptText, Int, Text, Int, Int],
        owner: Some(2),
    },
    Table {
        name: "resource_keys",
        select: "SELECT k.kind, k.name, k.value, k.resource_id FROM resource_keys k
                 JOIN resources r ON r.kind = k.kind AND r.id = k.resource_id
                 WHERE r.user_id = $1 ORDER BY k.kind, k.name, k.value",
        insert: "INSERT INTO resource_keys (kind, name, value, resource_id) VALUES ($1, $2, $3, $4)",
        columns: &[Text, Text, Text, Text],
        owner: None,
    },
    Table {
        name: "resource_index",
        select: "SELECT i.kind, i.name, i.value, i.sort_key, i.resource_id FROM resource_index i
                 JOIN resources r ON r.kind = i.kind AND r.id = i.resource_id
                 WHERE r.user_id = $1 ORDER BY i.kind, i.name, i.value, i.sort_key, i.resource_id",
        // An entry points at its resource's place in storage, which the import chose.
        insert: "INSERT INTO resource_index (kind, name, value, sort_key, resource_id, seq)
                 SELECT $1, $2, $3, $4, $5, r.seq FROM resources r WHERE r.kind = $1 AND r.id = $5",
        columns: &[Text, Text, Text, Text, Text],
        owner: None,
    },
    Table {
        name: "resource_timers",
        select: "SELECT t.kind, t.id, t.wake_at FROM resource_timers t
                 JOIN resources r ON r.kind = t.kind AND r.id = t.id
                 WHERE r.user_id = $1 ORDER BY t.kind, t.id",
        insert: "INSERT INTO resource_timers (kind, id, wake_at) VALUES ($1, $2, $3)",
        columns: &[Text, Text, Int],
        owner: None,
    },
    Table {
        name: "idempotency_records",
        select: "SELECT user_id, key, fingerprint, status, body, created_at FROM idempotency_records
                 WHERE user_id = $1 ORDER BY key",
        insert: "INSERT INTO idempotency_records (user_id, key, fingerprint, status, body, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        columns: &[Int, Text, Bytes, Int32, Bytes, Int],
        owner: Some(0),
    },
    Table {
        name: "audit_events",
        select: "SELECT user_id, resource_type, resource_id, from_status, to_status, deleted_by, comments,
                        request_id, idempotency_key, created_at, hash, prev_hash
                 FROM audit_events WHERE user_id = $1 ORDER BY id",
        insert: "INSERT INTO audit_events (user_id, resource_type, resource_id, from_status, to_status, deleted_by,
                        comments, request_id, idempotency_key, created_at, hash, prev_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        columns: &[Int, Text, Text, OptText, Text, OptText, OptText, Text, OptText, Int, OptText, OptText],
        owner: Some(0),
    },
    Table {
        name: "account_clocks",
        select: "SELECT user_id, offset_ms FROM account_clocks WHERE user_id = $1",
        insert: "INSERT INTO account_clocks (user_id, offset_ms) VALUES ($1, $2)",
        columns: &[Int, Int],
        owner: Some(0),
    },
];

/// The file: the account and its rows, table by table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// [`FORMAT`].
    pub caja_snapshot: u32,
    pub user_id: i64,
    /// Table name → rows; a row is its values in the table's column order.
    pub tables: BTreeMap<String, Vec<Vec<serde_json::Value>>>,
}

/// What an import wrote: rows per table.
pub type Imported = BTreeMap<String, u64>;

impl Snapshot {
    /// Check the file against [`TABLES`] before anything is written: its format, its
    /// tables, every row's arity and value kinds, and that every owned row is the
    /// snapshot's account's. `Err` says what is wrong, naming the table and row.
    pub fn check(&self) -> Result<(), String> {
        if self.caja_snapshot != FORMAT {
            return Err(format!("caja_snapshot must be {FORMAT}, not {}", self.caja_snapshot));
        }
        if let Some(unknown) = self.tables.keys().find(|name| !TABLES.iter().any(|t| t.name == name.as_str())) {
            return Err(format!("{unknown:?} is not a table of a snapshot"));
        }
        for table in &TABLES {
            for (i, row) in self.tables.get(table.name).into_iter().flatten().enumerate() {
                let at = || format!("{} row {i}", table.name);
                if row.len() != table.columns.len() {
                    return Err(format!("{}: {} values, not {}", at(), row.len(), table.columns.len()));
                }
                for (value, column) in row.iter().zip(table.columns) {
                    if !fits(value, *column) {
                        return Err(format!("{}: {value} is not a {column:?}", at()));
                    }
                }
                if table.owner.is_some_and(|c| row[c].as_i64() != Some(self.user_id)) {
                    return Err(format!("{}: another account's row", at()));
                }
            }
        }
        Ok(())
    }
}

fn fits(value: &serde_json::Value, column: Column) -> bool {
    match column {
        Int => value.as_i64().is_some(),
        Int32 => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        Text => value.is_string(),
        OptText => value.is_string() || value.is_null(),
        Bytes => value.as_str().is_some_and(|hex_text| hex::decode(hex_text).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(rows: Vec<Vec<serde_json::Value>>) -> Snapshot {
        Snapshot { caja_snapshot: FORMAT, user_id: 7, tables: BTreeMap::from([("account_clocks".to_owned(), rows)]) }
    }

    #[test]
    fn a_snapshot_is_checked_before_anything_is_written() {
        assert_eq!(snapshot(vec![vec![json!(7), json!(60_000)]]).check(), Ok(()));
        assert!(snapshot(vec![vec![json!(8), json!(60_000)]]).check().unwrap_err().contains("another account"));
        assert!(snapshot(vec![vec![json!(7)]]).check().unwrap_err().contains("1 values"));
        assert!(snapshot(vec![vec![json!(7), json!("soon")]]).check().unwrap_err().contains("not a Int"));
        let mut other = snapshot(vec![]);
        other.tables.insert("tokens".into(), vec![]);
        assert!(other.check().unwrap_err().contains("tokens"));
        assert!(Snapshot { caja_snapshot: 2, ..snapshot(vec![]) }.check().is_err());
        assert!(fits(&json!("00ff"), Bytes) && !fits(&json!("0g"), Bytes));
        assert!(fits(&json!(2_147_483_647), Int32) && !fits(&json!(2_147_483_648_i64), Int32));
    }
}
