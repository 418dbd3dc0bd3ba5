//! Fault rules (#17, caja's own): create, delete, list, and take a step when a
//! request matches. A step is taken in a write of its own, conditional on the rule's
//! version, so with several processes each step is taken by exactly one request.
//! Rules are test configuration, not payment resources: they are not audited or
//! notified.

use super::resource::{self, Stored};
use super::{Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::fault::{self, Fault, FaultRule, RequestFacts, RuleDraft, ACTIVE_RULES_MAX};
use crate::domain::resource::{scoped, Resource};
use crate::domain::{Timestamp, UserId};

/// Make a rule (`POST /caja/v1/faults`).
pub struct CreateRule {
    pub draft: RuleDraft,
    /// Drawn by the caller: `fr_<32 hex>`.
    pub id: String,
}

impl Operation for CreateRule {
    type Effect = FaultRule;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<Result<FaultRule, Failure>, StoreError> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let user = ctx.principal.user_id;
        // Rules whose time ran out leave the active listing now, so they neither
        // count against the limit nor hide newer rules from `test_state`.
        let mut active = 0;
        let listed = resource::list::<FaultRule>(uow, fault::BY_ACCOUNT, &scoped(user, &[]), LISTED_MAX, 0)?;
        for rule in listed.items {
            if rule.live_at(ctx.now) {
                active += 1;
            } else if let Some(stored) = resource::load::<FaultRule>(uow, &rule.id)? {
                resource::update(uow, &stored, &stored.value.expired(ctx.now))?;
            }
        }
        if active >= ACTIVE_RULES_MAX {
            return Ok(Err(Failure::InvalidBody(format!("an account has at most {ACTIVE_RULES_MAX} active rules"))));
        }
        let rule = match FaultRule::new(self.draft.clone(), self.id.clone(), user, ctx.now) {
            Ok(rule) => rule,
            Err(why) => return Ok(Err(Failure::InvalidBody(why))),
        };
        resource::insert(uow, &rule)?;
        Ok(Ok(rule))
    }
}

/// Delete a rule (`DELETE /caja/v1/faults/{id}`): it matches nothing from now on.
pub struct DeleteRule {
    pub id: String,
}

impl Operation for DeleteRule {
    type Effect = FaultRule;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Result<Result<FaultRule, Failure>, StoreError> {
        let found: Option<Stored<FaultRule>> = resource::load(uow, &self.id)?;
        let Some(stored) = found.filter(|s| s.value.user_id == ctx.principal.user_id) else {
            return Ok(Err(Failure::NotFound));
        };
        if stored.value.status == fault::RuleStatus::Deleted {
            return Ok(Err(Failure::NotFound));
        }
        let deleted = stored.value.deleted(ctx.now);
        resource::update(uow, &stored, &deleted)?;
        Ok(Ok(deleted))
    }
}

/// Rules read from the active listing at most: the live ones (at most
/// `ACTIVE_RULES_MAX`) and as many whose time ran out since the account last made
/// a rule.
const LISTED_MAX: u32 = 2 * ACTIVE_RULES_MAX;

/// The account's active rules (expired ones included, shown as such), oldest first.
pub fn active_rules(reads: &mut dyn Reads, user: UserId) -> Result<Vec<FaultRule>, StoreError> {
    let limit = LISTED_MAX;
    Ok(resource::list::<FaultRule>(reads, fault::BY_ACCOUNT, &scoped(user, &[]), limit, 0)?.items)
}

/// What a test account's request needs to know before it runs: the account's time
/// offset (see [`super::clock`]) and the first of its live rules that matches it.
#[derive(Clone, Debug, Default)]
pub struct TestState {
    pub clock_offset_ms: i64,
    pub matching_rule: Option<String>,
}

/// One read for a test account's request: its clock and its matching rule.
pub fn test_state(
    reads: &mut dyn Reads,
    user: UserId,
    real_now: Timestamp,
    request: &RequestFacts<'_>,
) -> Result<TestState, StoreError> {
    let clock_offset_ms = reads.clock_offset(user)?;
    // Most accounts have no rules: one index probe says so.
    if !reads.listed_any(FaultRule::KIND, fault::BY_ACCOUNT, &scoped(user, &[]))? {
        return Ok(TestState { clock_offset_ms, matching_rule: None });
    }
    let now = real_now.plus_millis(clock_offset_ms);
    let matching_rule = active_rules(reads, user)?
        .into_iter()
        .find(|rule| rule.live_at(now) && rule.matcher.matches(request))
        .map(|rule| rule.id);
    Ok(TestState { clock_offset_ms, matching_rule })
}

/// A step a request took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// `None` for a `pass` step.
    pub fault: Option<Fault>,
    /// Which step (1-based), of how many.
    pub step: usize,
    pub steps: usize,
}

/// Take the rule's next step at `now` (the account's time); `None` when the rule
/// takes no more (used up, deleted or expired meanwhile, or another request took the
/// last step).
pub fn take_step(
    uow: &mut dyn UnitOfWork,
    user: UserId,
    rule_id: &str,
    now: Timestamp,
) -> Result<Option<Taken>, StoreError> {
    let found: Option<Stored<FaultRule>> = resource::load(uow, rule_id)?;
    let Some(stored) = found.filter(|s| s.value.user_id == user) else { return Ok(None) };
    let Some((after, fault)) = stored.value.take(now) else { return Ok(None) };
    resource::update(uow, &stored, &after)?;
    Ok(Some(Taken { fault, step: after.taken, steps: after.steps.len() }))
}
