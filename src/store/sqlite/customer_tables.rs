//! Customer rows: customers, payment profiles and payment methods.

use rusqlite::{params, OptionalExtension, Row};

use super::tables::{corrupt, user_id, Tables};
use crate::domain::customer::{
    self, Customer, CustomerId, Owner, PaymentMethod, Profile, ProfileId, ProfileStatus, SequenceControl,
};
use crate::domain::{SiteId, Timestamp, UserId};
use crate::engine::StoreError;
use crate::store::Page;

const CUSTOMER_COLUMNS: &str =
    "id, user_id, site_id, email, first_name, last_name, description, created_at, updated_at";
const PROFILE_COLUMNS: &str = "id, user_id, site_id, customer_id, status, description, max_day_overdue,
     statement_descriptor, sequence_control, created_at, updated_at";

fn owner(row: &Row<'_>, user: usize, site: usize) -> rusqlite::Result<Owner> {
    let site: String = row.get(site)?;
    Ok(Owner { user_id: user_id(row.get(user)?)?, site_id: site.parse::<SiteId>().map_err(|_| corrupt("site id"))? })
}

fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    let id: String = row.get(0)?;
    Ok(Customer {
        id: CustomerId::parse(&id).ok_or_else(|| corrupt("customer id"))?,
        owner: owner(row, 1, 2)?,
        email: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        description: row.get(6)?,
        created_at: Timestamp::from_millis(row.get(7)?),
        updated_at: Timestamp::from_millis(row.get(8)?),
    })
}

/// A profile without its payment methods (those are read separately).
fn profile_from_row(row: &Row<'_>) -> rusqlite::Result<Profile> {
    let (id, customer, status, sequence): (String, String, String, String) =
        (row.get(0)?, row.get(3)?, row.get(4)?, row.get(8)?);
    Ok(Profile {
        id: ProfileId::parse(&id).ok_or_else(|| corrupt("profile id"))?,
        owner: owner(row, 1, 2)?,
        customer_id: CustomerId::parse(&customer).ok_or_else(|| corrupt("customer id"))?,
        status: ProfileStatus::parse(&status).ok_or_else(|| corrupt("profile status"))?,
        description: row.get(5)?,
        max_day_overdue: row.get(6)?,
        statement_descriptor: row.get(7)?,
        sequence_control: SequenceControl::parse(&sequence).ok_or_else(|| corrupt("sequence control"))?,
        payment_methods: Vec::new(),
        created_at: Timestamp::from_millis(row.get(9)?),
        updated_at: Timestamp::from_millis(row.get(10)?),
    })
}

impl Tables<'_> {
    pub fn customer_row(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let mut stmt = self.0.prepare_cached(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?1"))?;
        Ok(stmt.query_row([id.as_str()], customer_from_row).optional()?)
    }

    pub fn customer_id_by_email(&self, user: UserId, email_key: &str) -> Result<Option<CustomerId>, StoreError> {
        let mut stmt = self.0.prepare_cached("SELECT id FROM customers WHERE user_id = ?1 AND email_key = ?2")?;
        let id: Option<String> = stmt.query_row(params![user.get(), email_key], |row| row.get(0)).optional()?;
        Ok(id.and_then(|id| CustomerId::parse(&id)))
    }

    pub fn insert_customer_row(&self, c: &Customer) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO customers (id, user_id, site_id, email, email_key, first_name, last_name, description,
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                c.id.as_str(),
                c.owner.user_id.get(),
                c.owner.site_id.as_str(),
                c.email,
                customer::email_key(&c.email),
                c.first_name,
                c.last_name,
                c.description,
                c.created_at.as_millis(),
                c.updated_at.as_millis(),
            ])?;
        Ok(())
    }

    /// This caller's customers on this site, oldest first, optionally by email.
    pub fn customer_page(
        &self,
        user: UserId,
        site: SiteId,
        email: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Customer>, StoreError> {
        let email_key = email.map(customer::email_key);
        let filter = "WHERE user_id = ?1 AND site_id = ?2 AND (?3 IS NULL OR email_key = ?3)";
        let total: i64 = self
            .0
            .prepare_cached(&format!("SELECT count(*) FROM customers {filter}"))?
            .query_row(params![user.get(), site.as_str(), email_key], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers {filter} ORDER BY created_at, id LIMIT ?4 OFFSET ?5"
        ))?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![user.get(), site.as_str(), email_key, limit, offset], customer_from_row)?;
        Ok(Page { total: total as u64, items: rows.collect::<Result<_, _>>()? })
    }

    pub fn profile_row(&self, id: &ProfileId) -> Result<Option<Profile>, StoreError> {
        let mut stmt =
            self.0.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM payment_profiles WHERE id = ?1"))?;
        let Some(mut profile) = stmt.query_row([id.as_str()], profile_from_row).optional()? else {
            return Ok(None);
        };
        profile.payment_methods = self.payment_methods(id)?;
        Ok(Some(profile))
    }

    fn payment_methods(&self, id: &ProfileId) -> Result<Vec<PaymentMethod>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT method_id, type, card_id, created_at FROM payment_methods WHERE profile_id = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([id.as_str()], |row| {
            Ok(PaymentMethod {
                id: row.get(0)?,
                kind: row.get(1)?,
                card_id: row.get(2)?,
                created_at: Timestamp::from_millis(row.get(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A customer's profiles, oldest first.
    pub fn profile_page(&self, customer: &CustomerId, limit: u32, offset: u64) -> Result<Page<Profile>, StoreError> {
        let total: i64 = self
            .0
            .prepare_cached("SELECT count(*) FROM payment_profiles WHERE customer_id = ?1")?
            .query_row([customer.as_str()], |row| row.get(0))?;
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {PROFILE_COLUMNS} FROM payment_profiles WHERE customer_id = ?1
             ORDER BY created_at, id LIMIT ?2 OFFSET ?3"
        ))?;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut items: Vec<Profile> =
            stmt.query_map(params![customer.as_str(), limit, offset], profile_from_row)?.collect::<Result<_, _>>()?;
        for profile in &mut items {
            profile.payment_methods = self.payment_methods(&profile.id)?;
        }
        Ok(Page { total: total as u64, items })
    }

    pub fn insert_profile_row(&self, p: &Profile) -> Result<(), StoreError> {
        self.0
            .prepare_cached(&format!(
                "INSERT INTO payment_profiles ({PROFILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                p.id.as_str(),
                p.owner.user_id.get(),
                p.owner.site_id.as_str(),
                p.customer_id.as_str(),
                p.status.as_str(),
                p.description,
                p.max_day_overdue,
                p.statement_descriptor,
                p.sequence_control.as_str(),
                p.created_at.as_millis(),
                p.updated_at.as_millis(),
            ])?;
        Ok(())
    }

    pub fn update_profile_status(
        &self,
        id: &ProfileId,
        transition: customer::Transition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let moved = self
            .0
            .prepare_cached("UPDATE payment_profiles SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = ?4")?
            .execute(params![transition.to.as_str(), now.as_millis(), id.as_str(), transition.from.as_str()])?;
        Ok(moved == 1)
    }

    pub fn insert_payment_method(&self, id: &ProfileId, position: usize, m: &PaymentMethod) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO payment_methods (profile_id, position, method_id, type, card_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id.as_str(), position as i64, m.id, m.kind, m.card_id, m.created_at.as_millis()])?;
        self.0
            .prepare_cached("UPDATE payment_profiles SET updated_at = ?1 WHERE id = ?2")?
            .execute(params![m.created_at.as_millis(), id.as_str()])?;
        Ok(())
    }
}
