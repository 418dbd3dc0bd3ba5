//! PostgreSQL rows of the payouts and customers families.

use postgres::{GenericClient, Row};

use super::tables::{corrupt, page_bounds, user_id, PgTables};
use crate::domain::customer::{
    self, Customer, CustomerId, Owner, PaymentMethod, Profile, ProfileId, ProfileStatus, SequenceControl,
};
use crate::domain::payout::{self, Amount, Payout, PayoutId, Transaction, TransactionId, TransactionStatus};
use crate::domain::{SiteId, Timestamp, UserId};
use crate::engine::StoreError;
use crate::store::Page;

const TRANSACTION_COLUMNS: &str = "id, payout_id, user_id, position, account, currency, amount_cents, description,
     external_reference, status, due_at, processing_since, created_at, updated_at";
const CUSTOMER_COLUMNS: &str =
    "id, user_id, site_id, email, first_name, last_name, description, created_at, updated_at";
const PROFILE_COLUMNS: &str = "id, user_id, site_id, customer_id, status, description, max_day_overdue,
     statement_descriptor, sequence_control, created_at, updated_at";

fn transaction_from_row(row: &Row) -> Result<Transaction, StoreError> {
    let currency: String = row.get(5);
    let status: String = row.get(9);
    let position: i32 = row.get(3);
    Ok(Transaction {
        id: TransactionId::new(row.get(0)).ok_or_else(|| corrupt("transaction id"))?,
        payout_id: PayoutId::new(row.get(1)).ok_or_else(|| corrupt("payout id"))?,
        user_id: user_id(row.get(2))?,
        position: u32::try_from(position).map_err(|_| corrupt("position"))?,
        account_json: row.get(4),
        amount: Amount {
            currency: SiteId::currency_code(&currency).ok_or_else(|| corrupt("currency"))?,
            cents: row.get(6),
        },
        description: row.get(7),
        external_reference: row.get(8),
        status: TransactionStatus::parse(&status).ok_or_else(|| corrupt("transaction status"))?,
        due_at: Timestamp::from_millis(row.get(10)),
        processing_since: row.get::<_, Option<i64>>(11).map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.get(12)),
        updated_at: Timestamp::from_millis(row.get(13)),
    })
}

fn owner(row: &Row, user: usize, site: usize) -> Result<Owner, StoreError> {
    let site: String = row.get(site);
    Ok(Owner { user_id: user_id(row.get(user))?, site_id: site.parse::<SiteId>().map_err(|_| corrupt("site id"))? })
}

fn customer_from_row(row: &Row) -> Result<Customer, StoreError> {
    let id: String = row.get(0);
    Ok(Customer {
        id: CustomerId::parse(&id).ok_or_else(|| corrupt("customer id"))?,
        owner: owner(row, 1, 2)?,
        email: row.get(3),
        first_name: row.get(4),
        last_name: row.get(5),
        description: row.get(6),
        created_at: Timestamp::from_millis(row.get(7)),
        updated_at: Timestamp::from_millis(row.get(8)),
    })
}

fn profile_from_row(row: &Row) -> Result<Profile, StoreError> {
    let (id, customer, status, sequence): (String, String, String, String) =
        (row.get(0), row.get(3), row.get(4), row.get(8));
    let max_day_overdue: i32 = row.get(6);
    Ok(Profile {
        id: ProfileId::parse(&id).ok_or_else(|| corrupt("profile id"))?,
        owner: owner(row, 1, 2)?,
        customer_id: CustomerId::parse(&customer).ok_or_else(|| corrupt("customer id"))?,
        status: ProfileStatus::parse(&status).ok_or_else(|| corrupt("profile status"))?,
        description: row.get(5),
        max_day_overdue: u8::try_from(max_day_overdue).map_err(|_| corrupt("max_day_overdue"))?,
        statement_descriptor: row.get(7),
        sequence_control: SequenceControl::parse(&sequence).ok_or_else(|| corrupt("sequence control"))?,
        payment_methods: Vec::new(),
        created_at: Timestamp::from_millis(row.get(9)),
        updated_at: Timestamp::from_millis(row.get(10)),
    })
}

impl<C: GenericClient> PgTables<'_, C> {
    pub fn insert_payout_rows(&mut self, p: &Payout, transactions: &[Transaction]) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO payouts (id, user_id, external_reference, description, schedule_date, notification_url,
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &p.id.get(),
                &p.user_id.get(),
                &p.external_reference,
                &p.description,
                &p.schedule_date.map(Timestamp::as_millis),
                &p.notification_url,
                &p.created_at.as_millis(),
            ],
        )?;
        let sql = format!(
            "INSERT INTO payout_transactions ({TRANSACTION_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        for t in transactions {
            let position = i32::try_from(t.position).map_err(|_| corrupt("position"))?;
            self.execute(
                &sql,
                &[
                    &t.id.get(),
                    &t.payout_id.get(),
                    &t.user_id.get(),
                    &position,
                    &t.account_json,
                    &t.amount.currency,
                    &t.amount.cents,
                    &t.description,
                    &t.external_reference,
                    &t.status.as_str(),
                    &t.due_at.as_millis(),
                    &t.processing_since.map(Timestamp::as_millis),
                    &t.created_at.as_millis(),
                    &t.updated_at.as_millis(),
                ],
            )?;
        }
        Ok(())
    }

    pub fn payout_row(&mut self, user: UserId, id: PayoutId) -> Result<Option<Payout>, StoreError> {
        let row = self.query_opt(
            "SELECT id, user_id, external_reference, description, schedule_date, notification_url, created_at
             FROM payouts WHERE id = $1 AND user_id = $2",
            &[&id.get(), &user.get()],
        )?;
        row.map(|row| {
            Ok(Payout {
                id: PayoutId::new(row.get(0)).ok_or_else(|| corrupt("payout id"))?,
                user_id: user_id(row.get(1))?,
                external_reference: row.get(2),
                description: row.get(3),
                schedule_date: row.get::<_, Option<i64>>(4).map(Timestamp::from_millis),
                notification_url: row.get(5),
                created_at: Timestamp::from_millis(row.get(6)),
            })
        })
        .transpose()
    }

    pub fn transaction_row(&mut self, id: TransactionId) -> Result<Option<Transaction>, StoreError> {
        let sql = format!("SELECT {TRANSACTION_COLUMNS} FROM payout_transactions WHERE id = $1{}", self.for_update());
        self.query_opt(&sql, &[&id.get()])?.map(|row| transaction_from_row(&row)).transpose()
    }

    pub fn update_transaction_status(
        &mut self,
        id: TransactionId,
        t: payout::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let moved = self.execute(
            "UPDATE payout_transactions SET status = $1, updated_at = $2,
                 processing_since = CASE WHEN $1 = 'in_process' THEN $2 ELSE processing_since END
             WHERE id = $3 AND status = $4",
            &[&t.to.as_str(), &now.as_millis(), &id.get(), &t.from.as_str()],
        )?;
        Ok(moved == 1)
    }

    /// Rows another process is moving are skipped, not waited for.
    pub fn due_transaction_rows(
        &mut self,
        now: Timestamp,
        delay_ms: i64,
        limit: usize,
    ) -> Result<Vec<Transaction>, StoreError> {
        let cutoff = now.as_millis().saturating_sub(delay_ms);
        let rows = self.query(
            &format!(
                "SELECT {TRANSACTION_COLUMNS} FROM payout_transactions
                 WHERE status IN ('pending', 'in_process') AND due_at <= $1
                   AND (status = 'pending' OR processing_since <= $2)
                 ORDER BY due_at, id LIMIT $3 FOR UPDATE SKIP LOCKED"
            ),
            &[&now.as_millis(), &cutoff, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        rows.iter().map(transaction_from_row).collect()
    }

    pub fn transaction_page(
        &mut self,
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
        let filter = "WHERE payout_id = $1 AND ($2::text IS NULL OR status = $2)";
        let total: i64 = self
            .query(&format!("SELECT count(*) FROM payout_transactions {filter}"), &[&payout.get(), &status])?[0]
            .get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            &format!(
                "SELECT {TRANSACTION_COLUMNS} FROM payout_transactions {filter} ORDER BY position LIMIT $3 OFFSET $4"
            ),
            &[&payout.get(), &status, &limit, &offset],
        )?;
        let items = rows.iter().map(transaction_from_row).collect::<Result<_, _>>()?;
        Ok(Some(Page { total: total as u64, items }))
    }

    pub fn customer_row(&mut self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1");
        self.query_opt(&sql, &[&id.as_str()])?.map(|row| customer_from_row(&row)).transpose()
    }

    pub fn customer_id_by_email(&mut self, user: UserId, email_key: &str) -> Result<Option<CustomerId>, StoreError> {
        let row = self
            .query_opt("SELECT id FROM customers WHERE user_id = $1 AND email_key = $2", &[&user.get(), &email_key])?;
        Ok(row.and_then(|row| CustomerId::parse(row.get(0))))
    }

    pub fn insert_customer_row(&mut self, c: &Customer) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO customers (id, user_id, site_id, email, email_key, first_name, last_name, description,
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &c.id.as_str(),
                &c.owner.user_id.get(),
                &c.owner.site_id.as_str(),
                &c.email,
                &customer::email_key(&c.email),
                &c.first_name,
                &c.last_name,
                &c.description,
                &c.created_at.as_millis(),
                &c.updated_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    pub fn customer_page(
        &mut self,
        user: UserId,
        site: SiteId,
        email: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Customer>, StoreError> {
        let email_key = email.map(customer::email_key);
        let filter = "WHERE user_id = $1 AND site_id = $2 AND ($3::text IS NULL OR email_key = $3)";
        let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&user.get(), &site.as_str(), &email_key];
        let total: i64 = self.query(&format!("SELECT count(*) FROM customers {filter}"), &params)?[0].get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            &format!("SELECT {CUSTOMER_COLUMNS} FROM customers {filter} ORDER BY created_at, id LIMIT $4 OFFSET $5"),
            &[&user.get(), &site.as_str(), &email_key, &limit, &offset],
        )?;
        Ok(Page { total: total as u64, items: rows.iter().map(customer_from_row).collect::<Result<_, _>>()? })
    }

    pub fn profile_row(&mut self, id: &ProfileId) -> Result<Option<Profile>, StoreError> {
        let sql = format!("SELECT {PROFILE_COLUMNS} FROM payment_profiles WHERE id = $1{}", self.for_update());
        let Some(row) = self.query_opt(&sql, &[&id.as_str()])? else {
            return Ok(None);
        };
        let mut profile = profile_from_row(&row)?;
        profile.payment_methods = self.payment_methods(id)?;
        Ok(Some(profile))
    }

    fn payment_methods(&mut self, id: &ProfileId) -> Result<Vec<PaymentMethod>, StoreError> {
        let rows = self.query(
            "SELECT method_id, type, card_id, created_at FROM payment_methods WHERE profile_id = $1 ORDER BY position",
            &[&id.as_str()],
        )?;
        Ok(rows
            .iter()
            .map(|row| PaymentMethod {
                id: row.get(0),
                kind: row.get(1),
                card_id: row.get(2),
                created_at: Timestamp::from_millis(row.get(3)),
            })
            .collect())
    }

    pub fn profile_page(
        &mut self,
        customer: &CustomerId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Profile>, StoreError> {
        let total: i64 = self
            .query("SELECT count(*) FROM payment_profiles WHERE customer_id = $1", &[&customer.as_str()])?[0]
            .get(0);
        let (limit, offset) = page_bounds(limit, offset);
        let rows = self.query(
            &format!(
                "SELECT {PROFILE_COLUMNS} FROM payment_profiles WHERE customer_id = $1
                 ORDER BY created_at, id LIMIT $2 OFFSET $3"
            ),
            &[&customer.as_str(), &limit, &offset],
        )?;
        let mut items: Vec<Profile> = rows.iter().map(profile_from_row).collect::<Result<_, _>>()?;
        for profile in &mut items {
            profile.payment_methods = self.payment_methods(&profile.id)?;
        }
        Ok(Page { total: total as u64, items })
    }

    pub fn insert_profile_row(&mut self, p: &Profile) -> Result<(), StoreError> {
        self.execute(
            &format!("INSERT INTO payment_profiles ({PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
            &[
                &p.id.as_str(),
                &p.owner.user_id.get(),
                &p.owner.site_id.as_str(),
                &p.customer_id.as_str(),
                &p.status.as_str(),
                &p.description,
                &i32::from(p.max_day_overdue),
                &p.statement_descriptor,
                &p.sequence_control.as_str(),
                &p.created_at.as_millis(),
                &p.updated_at.as_millis(),
            ],
        )?;
        Ok(())
    }

    pub fn update_profile_status(
        &mut self,
        id: &ProfileId,
        t: customer::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let moved = self.execute(
            "UPDATE payment_profiles SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
            &[&t.to.as_str(), &now.as_millis(), &id.as_str(), &t.from.as_str()],
        )?;
        Ok(moved == 1)
    }

    pub fn insert_payment_method(
        &mut self,
        id: &ProfileId,
        position: usize,
        m: &PaymentMethod,
    ) -> Result<(), StoreError> {
        let position = i32::try_from(position).map_err(|_| corrupt("position"))?;
        self.execute(
            "INSERT INTO payment_methods (profile_id, position, method_id, type, card_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id.as_str(), &position, &m.id, &m.kind, &m.card_id, &m.created_at.as_millis()],
        )?;
        self.execute(
            "UPDATE payment_profiles SET updated_at = $1 WHERE id = $2",
            &[&m.created_at.as_millis(), &id.as_str()],
        )?;
        Ok(())
    }
}
