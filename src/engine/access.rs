//! Finding a resource on behalf of a caller: the checks every read and write of a
//! family shares, written once and run inside the store's transaction (or read).
//!
//! A refusal is `Ok(Err(failure))`; a store fault is `Err`.

use super::{Failure, StoreError, UnitOfWork};
use crate::domain::customer::{self, Customer, CustomerId, Profile, ProfileId};
use crate::domain::payout::{PayoutId, Transaction, TransactionId};
use crate::domain::{SiteId, UserId};

pub type Found<T> = Result<Result<T, Failure>, StoreError>;

/// A transaction of a payout of this user: `NotFound` for the payout,
/// `TransactionNotInPayout` for the transaction.
pub fn transaction(uow: &mut dyn UnitOfWork, user: UserId, payout: PayoutId, id: TransactionId) -> Found<Transaction> {
    if uow.payout(user, payout)?.is_none() {
        return Ok(Err(Failure::NotFound));
    }
    Ok(match uow.transaction(id)? {
        Some(t) if t.payout_id == payout => Ok(t),
        Some(_) | None => Err(Failure::TransactionNotInPayout),
    })
}

/// A customer, if this caller on this site may reach it.
pub fn customer(uow: &mut dyn UnitOfWork, user: UserId, site: SiteId, id: &CustomerId) -> Found<Customer> {
    let Some(found) = uow.customer(id)? else {
        return Ok(Err(Failure::NotFound));
    };
    Ok(customer::check_access(&found.owner, None, user, site, id).map(|()| found).map_err(Failure::Mismatch))
}

/// A profile, if this caller on this site may reach it through this customer.
pub fn profile(
    uow: &mut dyn UnitOfWork,
    user: UserId,
    site: SiteId,
    customer_in_path: &CustomerId,
    id: &ProfileId,
) -> Found<Profile> {
    let Some(found) = uow.profile(id)? else {
        return Ok(Err(Failure::NotFound));
    };
    let access = customer::check_access(&found.owner, Some(&found.customer_id), user, site, customer_in_path);
    Ok(access.map(|()| found).map_err(Failure::Mismatch))
}
