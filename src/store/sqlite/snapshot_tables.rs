//! An account's snapshot on SQLite (see [`crate::store::snapshot`]).

use std::collections::BTreeMap;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use serde_json::Value;

use crate::domain::UserId;
use crate::engine::StoreError;
use crate::store::snapshot::{Column, Imported, Snapshot, FORMAT, TABLES};

fn unreadable(table: &str, column: usize) -> StoreError {
    StoreError::Database(format!("{table}: column {column} holds a value of another kind"))
}

/// The account's rows, table by table (run in one transaction).
pub fn export(conn: &Connection, user: UserId) -> Result<Snapshot, StoreError> {
    let mut tables = BTreeMap::new();
    for table in &TABLES {
        let mut stmt = conn.prepare_cached(table.select)?;
        let mut rows = stmt.query([user.get()])?;
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, column) in table.columns.iter().enumerate() {
                let value = match (column, row.get_ref(i)?) {
                    (Column::OptText, ValueRef::Null) => Value::Null,
                    (Column::Int | Column::Int32, ValueRef::Integer(n)) => n.into(),
                    (Column::Text | Column::OptText, ValueRef::Text(text)) => {
                        String::from_utf8_lossy(text).into_owned().into()
                    }
                    (Column::Bytes, ValueRef::Blob(bytes) | ValueRef::Text(bytes)) => hex::encode(bytes).into(),
                    _ => return Err(unreadable(table.name, i)),
                };
                values.push(value);
            }
            read.push(values);
        }
        tables.insert(table.name.to_owned(), read);
    }
    Ok(Snapshot { caja_snapshot: FORMAT, user_id: user.get(), tables })
}

/// Write a checked snapshot's rows (the account already emptied, in the same
/// transaction).
pub fn import(conn: &Connection, snapshot: &Snapshot) -> Result<Imported, StoreError> {
    let mut imported = Imported::new();
    for table in &TABLES {
        let rows = snapshot.tables.get(table.name).map(Vec::as_slice).unwrap_or_default();
        let mut stmt = conn.prepare_cached(table.insert)?;
        for row in rows {
            let values = row
                .iter()
                .zip(table.columns)
                .enumerate()
                .map(|(i, (value, column))| {
                    Ok(match column {
                        Column::Int | Column::Int32 => {
                            SqlValue::Integer(value.as_i64().ok_or_else(|| unreadable(table.name, i))?)
                        }
                        Column::Text | Column::OptText => match value.as_str() {
                            Some(text) => SqlValue::Text(text.to_owned()),
                            None => SqlValue::Null,
                        },
                        Column::Bytes => SqlValue::Blob(
                            value
                                .as_str()
                                .and_then(|h| hex::decode(h).ok())
                                .ok_or_else(|| unreadable(table.name, i))?,
                        ),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            stmt.execute(rusqlite::params_from_iter(values))?;
        }
        imported.insert(table.name.to_owned(), rows.len() as u64);
    }
    Ok(imported)
}
