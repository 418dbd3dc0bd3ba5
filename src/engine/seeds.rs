//! A seed's resource steps (#17, caja's own; see `domain::seed_step`): found by id,
//! and kept once their request answered. Steps are test set-up, not payment
//! resources: they are neither audited nor notified (the requests they sent were).

use super::resource;
use super::{Reads, StoreError, UnitOfWork};
use crate::domain::seed_step::SeedStep;

/// The applied step `id` (see [`SeedStep::id_for`]), if any.
pub fn find(reads: &mut dyn Reads, id: &str) -> Result<Option<SeedStep>, StoreError> {
    resource::read::<SeedStep>(reads, id)
}

/// Keep `step` unless a step with its id is kept already (another process applying
/// the same seed got there first): the kept one is returned either way.
pub fn record(uow: &mut dyn UnitOfWork, step: &SeedStep) -> Result<SeedStep, StoreError> {
    if let Some(kept) = resource::load::<SeedStep>(uow, &step.id)? {
        return Ok(kept.value);
    }
    resource::insert(uow, step)?;
    Ok(step.clone())
}
