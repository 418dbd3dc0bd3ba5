//! Customers and payment profiles: create a customer (one per email in an account),
//! create a profile, add a payment method, cancel a profile, and the reads. Every
//! access is checked for caller, site and customer mismatches in the contract's order
//! by [`customer::check_access`].

use super::resource::{self, Stored};
use super::{audit, record_change, Change, Failure, Operation, Page, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::card::Card;
use crate::domain::customer::{
    self, AddMethodRefused, CancelDecision, Customer, CustomerId, CustomerStatus, NewProfile, Owner, PaymentMethod,
    Profile, ProfileId, ProfileStatus,
};
use crate::domain::customer_data::CustomerData;
use crate::domain::{ResourceType, SiteId, UserId};

type Outcome<T> = Result<Result<T, Failure>, StoreError>;

/// Create a customer from validated data ([`CustomerData::for_create`]).
#[derive(Clone, Debug)]
pub struct CreateCustomer {
    pub id: CustomerId,
    pub data: CustomerData,
}

impl Operation for CreateCustomer {
    type Effect = Customer;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Customer> {
        let email = self.data.email.as_deref().unwrap_or_default();
        if let Some(existing) = holder_of(uow, ctx.principal.user_id, email)? {
            return Ok(Err(Failure::DuplicateEmail(existing)));
        }
        let created =
            Customer::create(self.id.clone(), owner(ctx), ctx.principal.live_mode, self.data.clone(), ctx.now);
        resource::insert(uow, &created)?;
        let event = audit(ctx, ResourceType::Customer, created.id.to_string(), None, created.status.as_str(), None);
        record_change(uow, event, None, None)?;
        Ok(Ok(created))
    }
}

/// Replace the fields an update sends; the email may not change (cause 126).
#[derive(Clone, Debug)]
pub struct UpdateCustomer {
    pub id: CustomerId,
    pub data: CustomerData,
}

impl Operation for UpdateCustomer {
    /// The customer as it is now, with its cards.
    type Effect = (Customer, Vec<Card>);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<(Customer, Vec<Card>)> {
        let Some(found) = active_customer(uow, ctx.principal.user_id, ctx.principal.site_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        if let Err(cause) = found.value.check_email_change(&self.data) {
            return Ok(Err(Failure::Invalid(cause)));
        }
        let updated = found.value.updated(self.data.clone(), ctx.now);
        resource::update(uow, &found, &updated)?;
        customer_changed(uow, ctx, &found.value, &updated)?;
        let cards = super::cards::cards(uow, &updated.id)?;
        Ok(Ok((updated, cards)))
    }
}

/// Delete a customer: it answers `deactive`, is found no more, and frees its email.
#[derive(Clone, Debug)]
pub struct DeleteCustomer {
    pub id: CustomerId,
}

impl Operation for DeleteCustomer {
    /// The customer as deleted, with the cards it had.
    type Effect = (Customer, Vec<Card>);

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<(Customer, Vec<Card>)> {
        let Some(found) = active_customer(uow, ctx.principal.user_id, ctx.principal.site_id, &self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        let deleted = Customer { status: CustomerStatus::Deactive, updated_at: ctx.now, ..found.value.clone() };
        resource::update(uow, &found, &deleted)?;
        customer_changed(uow, ctx, &found.value, &deleted)?;
        let cards = super::cards::cards(uow, &deleted.id)?;
        Ok(Ok((deleted, cards)))
    }
}

/// The audit record (and notification) of a change to a customer.
fn customer_changed(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    before: &Customer,
    after: &Customer,
) -> Result<(), StoreError> {
    let (from, to) = (Some(before.status.as_str()), after.status.as_str());
    record_change(uow, audit(ctx, ResourceType::Customer, after.id.to_string(), from, to, None), None, None)
}

/// The id of this account's active customer with this email.
fn holder_of(reads: &mut dyn Reads, user: UserId, email: &str) -> Result<Option<CustomerId>, StoreError> {
    let Some(existing) =
        resource::find_unique::<Customer>(reads, customer::BY_EMAIL, &customer::email_entry(user, email))?
    else {
        return Ok(None);
    };
    CustomerId::parse(&existing)
        .map(Some)
        .ok_or_else(|| StoreError::Database(format!("unreadable customer id {existing:?}")))
}

/// This caller's active customer on this site (to update): another account's or
/// site's, or a deleted one, is none.
fn active_customer(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    id: &CustomerId,
) -> Result<Option<Stored<Customer>>, StoreError> {
    let found = resource::load::<Customer>(reads, id.as_str())?;
    Ok(found.filter(|c| {
        c.value.owner == Owner { user_id: user, site_id: site } && c.value.status == CustomerStatus::Active
    }))
}

/// A customer, as the Customers reference answers it: `None` when it does not exist
/// for this caller on this site (or was deleted).
pub fn customer(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    id: &CustomerId,
) -> Result<Option<Customer>, StoreError> {
    Ok(active_customer(reads, user, site, id)?.map(|s| s.value))
}

#[derive(Clone, Debug)]
pub struct CreateProfile {
    pub customer: CustomerId,
    pub id: ProfileId,
    pub new: NewProfile,
    /// Payment methods sent with the profile (at most 2): with one, it is `READY`.
    pub methods: Vec<PaymentMethod>,
}

impl Operation for CreateProfile {
    type Effect = Profile;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Profile> {
        if let Err(failure) = customer_of(uow, ctx.principal.user_id, ctx.principal.site_id, &self.customer)? {
            return Ok(Err(failure));
        }
        let (mut status, mut held) = (ProfileStatus::Pending, Vec::new());
        for method in &self.methods {
            match customer::add_method(status, &held, method) {
                Ok(transition) => status = transition.map_or(status, |t| t.to),
                Err(refused) => return Ok(Err(method_refusal(refused))),
            }
            held.push(method.clone());
        }
        let profile = Profile {
            id: self.id.clone(),
            owner: owner(ctx),
            customer_id: self.customer.clone(),
            status,
            description: self.new.description.clone(),
            max_day_overdue: self.new.max_day_overdue,
            statement_descriptor: self.new.statement_descriptor.clone(),
            sequence_control: self.new.sequence_control,
            payment_methods: held,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        resource::insert(uow, &profile)?;
        let event = audit(ctx, ResourceType::PaymentProfile, self.id.to_string(), None, profile.status.as_str(), None);
        record_change(uow, event, None, None)?;
        Ok(Ok(profile))
    }
}

/// Add a payment method; the first makes a `PENDING` profile `READY`.
#[derive(Clone, Debug)]
pub struct AddPaymentMethod {
    pub customer: CustomerId,
    pub profile: ProfileId,
    pub method: PaymentMethod,
}

impl Operation for AddPaymentMethod {
    type Effect = Profile;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Profile> {
        let found = match reach_profile(uow, ctx, &self.customer, &self.profile)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        let transition = match customer::add_method(found.value.status, &found.value.payment_methods, &self.method) {
            Ok(transition) => transition,
            Err(refused) => return Ok(Err(method_refusal(refused))),
        };
        let mut updated = found.value.clone();
        updated.payment_methods.push(self.method.clone());
        Ok(Ok(save_profile(uow, ctx, &found, updated, transition)?))
    }
}

/// Remove a payment method; a `READY` profile left without any is `PENDING` again.
#[derive(Clone, Debug)]
pub struct RemovePaymentMethod {
    pub customer: CustomerId,
    pub profile: ProfileId,
    pub payment_method_id: String,
}

impl Operation for RemovePaymentMethod {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        let found = match reach_profile(uow, ctx, &self.customer, &self.profile)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        let mut updated = found.value.clone();
        let Some(position) = updated.payment_methods.iter().position(|m| m.payment_method_id == self.payment_method_id)
        else {
            return Ok(Err(Failure::PaymentMethodNotFound));
        };
        updated.payment_methods.remove(position);
        let transition = match customer::remove_method(updated.status, updated.payment_methods.len()) {
            Ok(transition) => transition,
            Err(refused) => return Ok(Err(method_refusal(refused))),
        };
        save_profile(uow, ctx, &found, updated, transition)?;
        Ok(Ok(Change::Moved))
    }
}

/// Write `updated` over the profile as loaded, moved by `transition` if any, and
/// record that move (the audit record and its notification).
fn save_profile(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    found: &Stored<Profile>,
    mut updated: Profile,
    transition: Option<customer::Transition>,
) -> Result<Profile, StoreError> {
    if let Some(t) = transition {
        updated.status = t.to;
    }
    updated.updated_at = ctx.now;
    resource::update(uow, found, &updated)?;
    if let Some(t) = transition {
        let (from, to) = (Some(t.from.as_str()), t.to.as_str());
        let event = audit(ctx, ResourceType::PaymentProfile, updated.id.to_string(), from, to, None);
        record_change(uow, event, None, None)?;
    }
    Ok(updated)
}

fn method_refusal(refused: AddMethodRefused) -> Failure {
    match refused {
        AddMethodRefused::Full => Failure::PaymentMethodsFull,
        AddMethodRefused::Cancelled => Failure::ProfileCancelled,
        AddMethodRefused::Duplicate => Failure::DuplicatePaymentMethod,
    }
}

/// Cancel a profile; cancelling a `CANCELLED` one changes nothing.
#[derive(Clone, Debug)]
pub struct CancelProfile {
    pub customer: CustomerId,
    pub profile: ProfileId,
}

impl Operation for CancelProfile {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        let found = match reach_profile(uow, ctx, &self.customer, &self.profile)? {
            Ok(found) => found,
            Err(failure) => return Ok(Err(failure)),
        };
        match customer::cancel(found.value.status) {
            CancelDecision::Move(t) => {
                save_profile(uow, ctx, &found, found.value.clone(), Some(t))?;
                Ok(Ok(Change::Moved))
            }
            CancelDecision::AlreadyCancelled => Ok(Ok(Change::Unchanged)),
        }
    }
}

/// [`customer`] with its cards.
pub fn customer_with_cards(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    id: &CustomerId,
) -> Result<Option<(Customer, Vec<Card>)>, StoreError> {
    let Some(found) = customer(reads, user, site, id)? else {
        return Ok(None);
    };
    let cards = super::cards::cards(reads, &found.id)?;
    Ok(Some((found, cards)))
}

/// [`customer_page`] with each customer's cards.
pub fn customer_page_with_cards(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    email: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Page<(Customer, Vec<Card>)>, StoreError> {
    let page = customer_page(reads, user, site, email, limit, offset)?;
    let mut items = Vec::with_capacity(page.items.len());
    for c in page.items {
        let cards = super::cards::cards(reads, &c.id)?;
        items.push((c, cards));
    }
    Ok(Page { total: page.total, items })
}

/// A customer, if this caller on this site may reach it (the payment profiles'
/// answer: another account's or site's customer is a mismatch).
pub fn customer_of(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    id: &CustomerId,
) -> Result<Result<Customer, Failure>, StoreError> {
    let found = resource::read::<Customer>(reads, id.as_str())?.filter(|c| c.status == CustomerStatus::Active);
    let Some(found) = found else {
        return Ok(Err(Failure::NotFound));
    };
    let access = customer::check_access(&found.owner, None, user, site, id);
    Ok(access.map(|()| found).map_err(Failure::Mismatch))
}

/// This caller's customers on this site, oldest first, optionally only the one with
/// `email` (compared regardless of case).
pub fn customer_page(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    email: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<Page<Customer>, StoreError> {
    let (name, value) = customer::site_entry(user, site, email);
    resource::list::<Customer>(reads, name, &value, limit, offset)
}

/// A profile, if this caller on this site may reach it through this customer.
pub fn profile_of(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer_in_path: &CustomerId,
    id: &ProfileId,
) -> Result<Result<Profile, Failure>, StoreError> {
    Ok(reach(reads, user, site, customer_in_path, id)?.map(|s| s.value))
}

/// A customer's profiles, oldest first, optionally only those in `status`, if this
/// caller on this site may reach the customer.
pub fn profile_page(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer: &CustomerId,
    status: Option<ProfileStatus>,
    limit: u32,
    offset: u64,
) -> Result<Result<Page<Profile>, Failure>, StoreError> {
    if let Err(failure) = customer_of(reads, user, site, customer)? {
        return Ok(Err(failure));
    }
    let (name, value) = match status {
        Some(status) => (customer::BY_CUSTOMER_STATUS, customer::customer_status(customer, status)),
        None => (customer::BY_CUSTOMER, customer.to_string()),
    };
    let page = resource::list::<Profile>(reads, name, &value, limit, offset)?;
    Ok(Ok(page.map(Profile::with_method_ids)))
}

fn owner(ctx: &RequestContext) -> Owner {
    Owner { user_id: ctx.principal.user_id, site_id: ctx.principal.site_id }
}

fn reach_profile(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    customer_in_path: &CustomerId,
    id: &ProfileId,
) -> Result<Result<Stored<Profile>, Failure>, StoreError> {
    reach(uow, ctx.principal.user_id, ctx.principal.site_id, customer_in_path, id)
}

fn reach(
    reads: &mut dyn Reads,
    user: UserId,
    site: SiteId,
    customer_in_path: &CustomerId,
    id: &ProfileId,
) -> Result<Result<Stored<Profile>, Failure>, StoreError> {
    let Some(found) = resource::load::<Profile>(reads, id.as_str())? else {
        return Ok(Err(Failure::NotFound));
    };
    let v = &found.value;
    let access = customer::check_access(&v.owner, Some(&v.customer_id), user, site, customer_in_path);
    let found = Stored { version: found.version, value: found.value.with_method_ids() };
    Ok(access.map(|()| found).map_err(Failure::Mismatch))
}
