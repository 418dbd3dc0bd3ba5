//! An account's snapshot on PostgreSQL (see [`crate::store::snapshot`]).

use std::collections::BTreeMap;

use postgres::types::ToSql;
use postgres::GenericClient;
use serde_json::Value;

use super::tables::PgTables;
use crate::domain::UserId;
use crate::engine::StoreError;
use crate::store::snapshot::{Column, Imported, Snapshot, FORMAT, TABLES};

fn unreadable(table: &str, column: usize) -> StoreError {
    StoreError::Database(format!("{table}: column {column} holds a value of another kind"))
}

impl<C: GenericClient> PgTables<'_, C> {
    /// Run [`crate::store::RESET_STATEMENTS`] for `user`, keeping resources of
    /// `keep_kind`.
    pub fn reset(&mut self, user: UserId, keep_kind: &str) -> Result<crate::store::ResetCounts, StoreError> {
        use crate::store::ResetBinds;
        let mut counts = crate::store::ResetCounts::default();
        for (label, sql, binds) in crate::store::RESET_STATEMENTS {
            let removed = match binds {
                ResetBinds::UserAndKeptKind => self.execute(sql, &[&user.get(), &keep_kind])?,
                ResetBinds::User => self.execute(sql, &[&user.get()])?,
                ResetBinds::Nothing => self.execute(sql, &[])?,
            };
            counts.add(label, removed);
        }
        Ok(counts)
    }

    /// The account's rows, table by table (run in one transaction).
    pub fn export_account(&mut self, user: UserId) -> Result<Snapshot, StoreError> {
        let mut tables = BTreeMap::new();
        for table in &TABLES {
            let rows = self.query(table.select, &[&user.get()])?;
            let mut read = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut values = Vec::with_capacity(table.columns.len());
                for (i, column) in table.columns.iter().enumerate() {
                    values.push(
                        match column {
                            Column::Int => row.try_get::<_, i64>(i).map(Value::from),
                            Column::Int32 => row.try_get::<_, i32>(i).map(Value::from),
                            Column::Text => row.try_get::<_, String>(i).map(Value::from),
                            Column::OptText => row.try_get::<_, Option<String>>(i).map(Value::from),
                            Column::Bytes => row.try_get::<_, Vec<u8>>(i).map(|b| Value::from(hex::encode(b))),
                        }
                        .map_err(|_| unreadable(table.name, i))?,
                    );
                }
                read.push(values);
            }
            tables.insert(table.name.to_owned(), read);
        }
        Ok(Snapshot { caja_snapshot: FORMAT, user_id: user.get(), tables })
    }

    /// Write a checked snapshot's rows (the account already emptied, in the same
    /// transaction).
    pub fn import_account(&mut self, snapshot: &Snapshot) -> Result<Imported, StoreError> {
        let mut imported = Imported::new();
        for table in &TABLES {
            let rows = snapshot.tables.get(table.name).map(Vec::as_slice).unwrap_or_default();
            for row in rows {
                let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(row.len());
                for (i, (value, column)) in row.iter().zip(table.columns).enumerate() {
                    let bad = || unreadable(table.name, i);
                    values.push(match column {
                        Column::Int => Box::new(value.as_i64().ok_or_else(bad)?),
                        Column::Int32 => Box::new(value.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(bad)?),
                        Column::Text => Box::new(value.as_str().ok_or_else(bad)?.to_owned()),
                        Column::OptText => Box::new(value.as_str().map(str::to_owned)),
                        Column::Bytes => Box::new(value.as_str().and_then(|h| hex::decode(h).ok()).ok_or_else(bad)?),
                    });
                }
                let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
                self.execute(table.insert, &params)?;
            }
            imported.insert(table.name.to_owned(), rows.len() as u64);
        }
        Ok(imported)
    }
}
