//! Point terminal actions: create, cancel, the terminal's test-helper moves, and the
//! read. One live action per terminal is the `live_terminal` unique entry.

use super::resource::{self, Stored};
use super::{audit, record_change, Change, Failure, Operation, Reads, RequestContext, StoreError, UnitOfWork};
use crate::domain::resource::scoped;
use crate::domain::terminal::{self, Terminal};
use crate::domain::terminal_action::{self, ActionId, ActionStatus, NewAction, TerminalAction};
use crate::domain::{ResourceType, UserId};

type Outcome<T> = Result<Result<T, Failure>, StoreError>;

/// Queue an action on a terminal that holds no live one.
#[derive(Clone, Debug)]
pub struct CreateAction {
    pub id: ActionId,
    pub new: NewAction,
}

impl Operation for CreateAction {
    type Effect = TerminalAction;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<TerminalAction> {
        let user = ctx.principal.user_id;
        match resource::read::<Terminal>(uow, &self.new.terminal_id)? {
            Some(terminal) if terminal.user_id == user => {}
            Some(_) => return Ok(Err(Failure::TerminalNotOwned)),
            // An account owns the terminals it registers (`caja terminal add`) or
            // first uses, so tests need no set-up.
            None => resource::insert(uow, &Terminal::first_used(&self.new.terminal_id, user, ctx.now))?,
        }
        let live = terminal_action::live_terminal(user, &self.new.terminal_id);
        if resource::find_unique::<TerminalAction>(uow, terminal_action::LIVE_TERMINAL, &live)?.is_some() {
            return Ok(Err(Failure::TerminalBusy));
        }
        let action = TerminalAction::create(self.id, user, self.new.clone(), ctx.now);
        resource::insert(uow, &action)?;
        let event = audit(ctx, ResourceType::TerminalAction, self.id.to_string(), None, "created", None);
        record_change(uow, event, action.external_reference.as_deref(), None)?;
        Ok(Ok(action))
    }
}

/// Cancel through the API: only a `created` action.
#[derive(Clone, Debug)]
pub struct CancelAction {
    pub id: ActionId,
}

impl Operation for CancelAction {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        let Some(action) = owned(uow, ctx.principal.user_id, self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        match terminal_action::cancel(action.value.status) {
            Ok(t) => move_action(uow, ctx, &action, t),
            Err(refused) => Ok(Err(Failure::CannotCancel { status: refused.0.as_str() })),
        }
    }
}

/// The test helper: move an action along its machine, as the terminal would.
#[derive(Clone, Debug)]
pub struct MoveAction {
    pub id: ActionId,
    pub to: ActionStatus,
}

impl Operation for MoveAction {
    type Effect = Change;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Change> {
        if ctx.principal.live_mode {
            return Ok(Err(Failure::TestAccountsOnly));
        }
        let Some(action) = owned(uow, ctx.principal.user_id, self.id)? else {
            return Ok(Err(Failure::NotFound));
        };
        match terminal_action::simulate(action.value.status, self.to) {
            Ok(t) => move_action(uow, ctx, &action, t),
            Err(refused) => {
                Ok(Err(Failure::ForbiddenTransition { from: refused.0.from.as_str(), to: refused.0.to.as_str() }))
            }
        }
    }
}

/// A page of this account's terminals, optionally of one store or point of sale.
pub fn terminal_page(
    reads: &mut dyn Reads,
    user: UserId,
    store_id: Option<i64>,
    pos_id: Option<i64>,
    limit: u32,
    offset: u64,
) -> Result<super::Page<Terminal>, StoreError> {
    let (name, value) = match (store_id, pos_id) {
        (_, Some(pos)) => (terminal::BY_POS, scoped(user, &[&pos.to_string()])),
        (Some(store), None) => (terminal::BY_STORE, scoped(user, &[&store.to_string()])),
        (None, None) => (terminal::BY_ACCOUNT, scoped(user, &[])),
    };
    let page = resource::list::<Terminal>(reads, name, &value, limit, offset)?;
    // Both filters at once: the point of sale's page, kept to the store.
    Ok(match (store_id, pos_id) {
        (Some(store), Some(_)) => {
            let items: Vec<Terminal> = page.items.into_iter().filter(|t| t.store_id == Some(store)).collect();
            super::Page { total: items.len() as u64, items }
        }
        _ => page,
    })
}

/// `PATCH /terminals/v1/setup`: set the operating mode of some of this account's
/// terminals, all or none.
#[derive(Clone, Debug)]
pub struct SetupTerminals {
    /// `(terminal id, operating mode)`, modes already checked.
    pub terminals: Vec<(String, String)>,
}

impl Operation for SetupTerminals {
    type Effect = Vec<Terminal>;

    fn run(&self, uow: &mut dyn UnitOfWork, ctx: &RequestContext) -> Outcome<Vec<Terminal>> {
        let mut changed = Vec::with_capacity(self.terminals.len());
        for (id, mode) in &self.terminals {
            let found = resource::load::<Terminal>(uow, id)?.filter(|t| t.value.user_id == ctx.principal.user_id);
            let Some(found) = found else {
                return Ok(Err(Failure::TerminalNotFound));
            };
            let updated = Terminal { operating_mode: mode.clone(), ..found.value.clone() };
            resource::update(uow, &found, &updated)?;
            changed.push(updated);
        }
        Ok(Ok(changed))
    }
}

/// Register a terminal for an account (`caja terminal add`): `Ok(false)` when another
/// account holds it. Registering it again for the same account replaces its details.
pub fn register_terminal(uow: &mut dyn UnitOfWork, terminal: &Terminal) -> Result<bool, StoreError> {
    match resource::load::<Terminal>(uow, &terminal.id)? {
        Some(held) if held.value.user_id != terminal.user_id => Ok(false),
        Some(held) => {
            let kept = Terminal { created_at: held.value.created_at, ..terminal.clone() };
            resource::update(uow, &held, &kept)?;
            Ok(true)
        }
        None => {
            resource::insert(uow, terminal)?;
            Ok(true)
        }
    }
}

/// An action of this account (another account's is none).
pub fn action(reads: &mut dyn Reads, user: UserId, id: ActionId) -> Result<Option<TerminalAction>, StoreError> {
    Ok(owned(reads, user, id)?.map(|s| s.value))
}

fn owned(reads: &mut dyn Reads, user: UserId, id: ActionId) -> Result<Option<Stored<TerminalAction>>, StoreError> {
    Ok(resource::load::<TerminalAction>(reads, &id.to_string())?.filter(|a| a.value.user_id == user))
}

fn move_action(
    uow: &mut dyn UnitOfWork,
    ctx: &RequestContext,
    action: &Stored<TerminalAction>,
    transition: terminal_action::Transition,
) -> Outcome<Change> {
    resource::update(uow, action, &action.value.moved(transition, ctx.now))?;
    let (from, to) = (Some(transition.from.as_str()), transition.to.as_str());
    let event = audit(ctx, ResourceType::TerminalAction, action.value.id.to_string(), from, to, None);
    record_change(uow, event, action.value.external_reference.as_deref(), None)?;
    Ok(Ok(Change::Moved))
}
