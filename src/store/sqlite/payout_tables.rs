//! Payout rows: payouts, their transactions, signing keys and the payouts permission.

use rusqlite::{params, OptionalExtension, Row};

use super::tables::{corrupt, user_id, Tables};
use crate::domain::payout::{self, Amount, Payout, PayoutId, Transaction, TransactionId, TransactionStatus};
use crate::domain::{SiteId, Timestamp, UserId};
use crate::engine::StoreError;
use crate::store::Page;

const TRANSACTION_COLUMNS: &str = "id, payout_id, user_id, position, account, currency, amount_cents, description,
     external_reference, status, due_at, processing_since, created_at, updated_at";

fn transaction_from_row(row: &Row<'_>) -> rusqlite::Result<Transaction> {
    let id: i64 = row.get(0)?;
    let payout_id: i64 = row.get(1)?;
    let currency: String = row.get(5)?;
    let status: String = row.get(9)?;
    Ok(Transaction {
        id: TransactionId::new(id).ok_or_else(|| corrupt("transaction id"))?,
        payout_id: PayoutId::new(payout_id).ok_or_else(|| corrupt("payout id"))?,
        user_id: user_id(row.get(2)?)?,
        position: row.get(3)?,
        account_json: row.get(4)?,
        amount: Amount {
            currency: SiteId::currency_code(&currency).ok_or_else(|| corrupt("currency"))?,
            cents: row.get(6)?,
        },
        description: row.get(7)?,
        external_reference: row.get(8)?,
        status: TransactionStatus::parse(&status).ok_or_else(|| corrupt("transaction status"))?,
        due_at: Timestamp::from_millis(row.get(10)?),
        processing_since: row.get::<_, Option<i64>>(11)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.get(12)?),
        updated_at: Timestamp::from_millis(row.get(13)?),
    })
}

impl Tables<'_> {
    pub fn insert_payout_rows(&self, payout: &Payout, transactions: &[Transaction]) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO payouts (id, user_id, external_reference, description, schedule_date, notification_url,
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                payout.id.get(),
                payout.user_id.get(),
                payout.external_reference,
                payout.description,
                payout.schedule_date.map(Timestamp::as_millis),
                payout.notification_url,
                payout.created_at.as_millis(),
            ])?;
        let mut insert = self.0.prepare_cached(&format!(
            "INSERT INTO payout_transactions ({TRANSACTION_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?;
        for t in transactions {
            insert.execute(params![
                t.id.get(),
                t.payout_id.get(),
                t.user_id.get(),
                t.position,
                t.account_json,
                t.amount.currency,
                t.amount.cents,
                t.description,
                t.external_reference,
                t.status.as_str(),
                t.due_at.as_millis(),
                t.processing_since.map(Timestamp::as_millis),
                t.created_at.as_millis(),
                t.updated_at.as_millis(),
            ])?;
        }
        Ok(())
    }

    pub fn payout_row(&self, user: UserId, id: PayoutId) -> Result<Option<Payout>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, user_id, external_reference, description, schedule_date, notification_url, created_at
             FROM payouts WHERE id = ?1 AND user_id = ?2",
        )?;
        let payout = stmt
            .query_row(params![id.get(), user.get()], |row| {
                Ok(Payout {
                    id: PayoutId::new(row.get(0)?).ok_or_else(|| corrupt("payout id"))?,
                    user_id: user_id(row.get(1)?)?,
                    external_reference: row.get(2)?,
                    description: row.get(3)?,
                    schedule_date: row.get::<_, Option<i64>>(4)?.map(Timestamp::from_millis),
                    notification_url: row.get(5)?,
                    created_at: Timestamp::from_millis(row.get(6)?),
                })
            })
            .optional()?;
        Ok(payout)
    }

    pub fn transaction_row(&self, id: TransactionId) -> Result<Option<Transaction>, StoreError> {
        let mut stmt =
            self.0.prepare_cached(&format!("SELECT {TRANSACTION_COLUMNS} FROM payout_transactions WHERE id = ?1"))?;
        Ok(stmt.query_row([id.get()], transaction_from_row).optional()?)
    }

    pub fn update_transaction_status(
        &self,
        id: TransactionId,
        transition: payout::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "UPDATE payout_transactions SET status = ?1, updated_at = ?2,
                 processing_since = CASE WHEN ?1 = 'in_process' THEN ?2 ELSE processing_since END
             WHERE id = ?3 AND status = ?4",
        )?;
        let moved =
            stmt.execute(params![transition.to.as_str(), now.as_millis(), id.get(), transition.from.as_str()])?;
        Ok(moved == 1)
    }

    pub fn due_transaction_rows(
        &self,
        now: Timestamp,
        delay_ms: i64,
        limit: usize,
    ) -> Result<Vec<Transaction>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {TRANSACTION_COLUMNS} FROM payout_transactions
             WHERE status IN ('pending', 'in_process') AND due_at <= ?1
               AND (status = 'pending' OR processing_since <= ?2)
             ORDER BY due_at, id LIMIT ?3"
        ))?;
        let cutoff = now.as_millis().saturating_sub(delay_ms);
        let rows = stmt.query_map(params![now.as_millis(), cutoff, limit as i64], transaction_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `None` when the payout is not this user's.
    pub fn transaction_page(
        &self,
        user: UserId,
        payout: PayoutId,
        status: Option<TransactionStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Option<Page<Transaction>>, StoreError> {
        if self.payout_row(user, payout)?.is_none() {
            return Ok(None);
        }
        let status = status.map(TransactionStatus::as_str);
        let total: i64 = self
            .0
            .prepare_cached(
                "SELECT count(*) FROM payout_transactions WHERE payout_id = ?1 AND (?2 IS NULL OR status = ?2)",
            )?
            .query_row(params![payout.get(), status], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {TRANSACTION_COLUMNS} FROM payout_transactions
             WHERE payout_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY position LIMIT ?3 OFFSET ?4"
        ))?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![payout.get(), status, limit, offset], transaction_from_row)?;
        Ok(Some(Page { total: total as u64, items: rows.collect::<Result<_, _>>()? }))
    }

    pub fn signing_keys(&self, user: UserId) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT public_key FROM signing_keys WHERE user_id = ?1")?;
        let rows = stmt.query_map([user.get()], |row| {
            let key: Vec<u8> = row.get(0)?;
            key.try_into().map_err(|_| corrupt("signing key"))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_signing_key(&self, user: UserId, key: [u8; 32], now: Timestamp) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR IGNORE INTO signing_keys (user_id, public_key, created_at) VALUES (?1, ?2, ?3)",
            params![user.get(), &key[..], now.as_millis()],
        )?;
        Ok(())
    }

    pub fn set_payouts_enabled(&self, user: UserId, enabled: bool) -> Result<bool, StoreError> {
        let changed = self
            .0
            .execute("UPDATE accounts SET payouts_enabled = ?1 WHERE user_id = ?2", params![enabled, user.get()])?;
        Ok(changed == 1)
    }
}
