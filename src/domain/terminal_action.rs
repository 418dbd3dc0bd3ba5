//! Point terminal actions: what a valid action is, and its state machine.
//!
//! `created → at_terminal → processed | failed`; `created → canceled` through the API;
//! `at_terminal → canceled` from the terminal only. `processed`, `failed` and
//! `canceled` are final. A terminal holds at most one `created` or `at_terminal` action.

use std::fmt;

use base64::Engine;
use uuid::Uuid;

use super::resource::{scoped, IndexEntry, Resource};
use super::{Timestamp, UserId};

pub const EXTERNAL_REFERENCE_CHARS_MAX: usize = 64;
pub const TERMINAL_ID_CHARS_MAX: usize = 64;
pub const CONTENT_CHARS_MAX: usize = 65_536;

/// An action id: a lowercase UUID v4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionId(Uuid);

crate::serde_as_text!(ActionId, ActionId::parse, ActionId::to_string);

impl ActionId {
    /// Accepts only the canonical lowercase, hyphenated form of a version 4 UUID.
    pub fn parse(raw: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(raw).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (uuid.get_version_num() == 4 && canonical == raw).then_some(ActionId(uuid))
    }

    /// Wraps freshly drawn random bytes as an id.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        ActionId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionStatus {
    Created,
    AtTerminal,
    Processed,
    Failed,
    Canceled,
}

crate::serde_as_text!(ActionStatus, ActionStatus::parse, |s: &ActionStatus| s.as_str());

impl ActionStatus {
    pub const ALL: [ActionStatus; 5] = [
        ActionStatus::Created,
        ActionStatus::AtTerminal,
        ActionStatus::Processed,
        ActionStatus::Failed,
        ActionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Created => "created",
            ActionStatus::AtTerminal => "at_terminal",
            ActionStatus::Processed => "processed",
            ActionStatus::Failed => "failed",
            ActionStatus::Canceled => "canceled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        ActionStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Does an action in this status keep its terminal busy?
    pub fn occupies_terminal(self) -> bool {
        match self {
            ActionStatus::Created | ActionStatus::AtTerminal => true,
            ActionStatus::Processed | ActionStatus::Failed | ActionStatus::Canceled => false,
        }
    }
}

/// The whole machine: may an action move from `from` to `to` (by anyone)?
pub fn can_move(from: ActionStatus, to: ActionStatus) -> bool {
    use ActionStatus::*;
    match from {
        Created => matches!(to, AtTerminal | Canceled),
        AtTerminal => matches!(to, Processed | Failed | Canceled),
        Processed | Failed | Canceled => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: ActionStatus,
    pub to: ActionStatus,
}

/// The API may cancel only a `created` action; `at_terminal` is cancelled at the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelRefused(pub ActionStatus);

pub fn cancel(current: ActionStatus) -> Result<Transition, CancelRefused> {
    match current {
        ActionStatus::Created => Ok(Transition { from: current, to: ActionStatus::Canceled }),
        ActionStatus::AtTerminal | ActionStatus::Processed | ActionStatus::Failed | ActionStatus::Canceled => {
            Err(CancelRefused(current))
        }
    }
}

/// A simulated terminal event asked for a move the machine forbids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForbiddenTransition(pub Transition);

/// The test helper: move along any edge of the machine.
pub fn simulate(current: ActionStatus, to: ActionStatus) -> Result<Transition, ForbiddenTransition> {
    let transition = Transition { from: current, to };
    if can_move(current, to) {
        Ok(transition)
    } else {
        Err(ForbiddenTransition(transition))
    }
}

/// What a print action prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintSubtype {
    Custom,
    Image,
}

crate::serde_as_text!(PrintSubtype, PrintSubtype::parse, |s: &PrintSubtype| s.as_str());

impl PrintSubtype {
    pub fn as_str(self) -> &'static str {
        match self {
            PrintSubtype::Custom => "custom",
            PrintSubtype::Image => "image",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "custom" => Some(PrintSubtype::Custom),
            "image" => Some(PrintSubtype::Image),
            _ => None,
        }
    }
}

/// A create request as it arrived, every field optional so each gets its own message.
#[derive(Clone, Debug, Default)]
pub struct ActionDraft {
    pub kind: Option<String>,
    pub external_reference: Option<String>,
    pub terminal_id: Option<String>,
    pub subtype: Option<String>,
    pub content: Option<String>,
}

/// A validated create request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAction {
    pub external_reference: Option<String>,
    pub terminal_id: String,
    pub subtype: PrintSubtype,
    pub content: String,
}

/// Why a create request is not a valid action, in the create page's terms (S4): a
/// required property missing, a property with a wrong value, a property the action
/// does not have, or one of the wrong JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyError {
    Required,
    Value,
    Unsupported,
    Type,
    /// Fewer items than the property needs (the Orders pages' `minimum_items`).
    MinimumItems,
    /// More items than the property allows (`maximum_items`).
    MaximumItems,
    /// An object with fewer properties than it needs (`minimum_properties`).
    MinimumProperties,
}

impl PropertyError {
    /// The code the Point and Orders pages give it.
    pub fn code(self) -> &'static str {
        match self {
            PropertyError::Required => "required_properties",
            PropertyError::Value => "property_value",
            PropertyError::Unsupported => "unsupported_properties",
            PropertyError::Type => "property_type",
            PropertyError::MinimumItems => "minimum_items",
            PropertyError::MaximumItems => "maximum_items",
            PropertyError::MinimumProperties => "minimum_properties",
        }
    }
}

/// A refused create request: what is wrong, and a message naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidAction {
    pub error: PropertyError,
    pub message: String,
}

/// `external_reference`: at most 64 of `[A-Za-z0-9_-]` (S1).
fn valid_external_reference(reference: &str) -> bool {
    reference.len() <= EXTERNAL_REFERENCE_CHARS_MAX
        && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl NewAction {
    pub fn parse(draft: ActionDraft) -> Result<Self, InvalidAction> {
        let refuse = |error, msg: &str| Err(InvalidAction { error, message: msg.to_owned() });
        let invalid = |msg: &str| refuse(PropertyError::Value, msg);
        let required = |msg: &str| refuse(PropertyError::Required, msg);
        match draft.kind.as_deref() {
            Some("print") => {}
            Some(_) => return invalid("type must be \"print\""),
            None => return required("type is required"),
        }
        let Some(terminal_id) = draft.terminal_id else {
            return required("config.point.terminal_id is required");
        };
        if terminal_id.is_empty()
            || terminal_id.chars().count() > TERMINAL_ID_CHARS_MAX
            || !terminal_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return invalid("config.point.terminal_id must be 1 to 64 letters, digits or underscores");
        }
        let subtype = match draft.subtype.as_deref() {
            None => return required("config.point.subtype is required"),
            Some(raw) => match PrintSubtype::parse(raw) {
                Some(subtype) => subtype,
                None => return invalid("config.point.subtype must be \"custom\" or \"image\""),
            },
        };
        let Some(content) = draft.content else {
            return required("content is required");
        };
        if content.is_empty() || content.chars().count() > CONTENT_CHARS_MAX {
            return invalid("content must be 1 to 65536 characters");
        }
        if subtype == PrintSubtype::Image && base64::engine::general_purpose::STANDARD.decode(&content).is_err() {
            return invalid("content must be base64 for an image");
        }
        if draft.external_reference.as_deref().is_some_and(|r| !valid_external_reference(r)) {
            return invalid("external_reference must be at most 64 letters, digits, '_' or '-'");
        }
        Ok(NewAction { external_reference: draft.external_reference, terminal_id, subtype, content })
    }
}

/// A stored action.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TerminalAction {
    pub id: ActionId,
    pub user_id: UserId,
    pub external_reference: Option<String>,
    pub terminal_id: String,
    pub subtype: PrintSubtype,
    pub content: String,
    pub status: ActionStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Stored as kind `terminal_action`. A terminal holds at most one live action: the
/// unique `live_terminal` entry exists while the action is `created` or `at_terminal`.
impl Resource for TerminalAction {
    const KIND: &'static str = "terminal_action";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        Some(self.status.as_str())
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    fn index(&self) -> Vec<IndexEntry> {
        if self.status.occupies_terminal() {
            vec![IndexEntry::unique(LIVE_TERMINAL, live_terminal(self.user_id, &self.terminal_id))]
        } else {
            Vec::new()
        }
    }
}

/// The unique index of live actions by terminal.
pub const LIVE_TERMINAL: &str = "live_terminal";

/// The `live_terminal` value of an account's terminal.
pub fn live_terminal(user: UserId, terminal_id: &str) -> String {
    scoped(user, &[terminal_id])
}

impl TerminalAction {
    /// The action after `transition`, at `now`.
    pub fn moved(&self, transition: Transition, now: Timestamp) -> TerminalAction {
        TerminalAction { status: transition.to, updated_at: now, ..self.clone() }
    }

    pub fn create(id: ActionId, user_id: UserId, new: NewAction, now: Timestamp) -> Self {
        TerminalAction {
            id,
            user_id,
            external_reference: new.external_reference,
            terminal_id: new.terminal_id,
            subtype: new.subtype,
            content: new.content,
            status: ActionStatus::Created,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ActionStatus::*;

    fn stored(status: ActionStatus) -> TerminalAction {
        let user = UserId::new(7).unwrap_or_else(|| unreachable!());
        let new = NewAction {
            external_reference: None,
            terminal_id: "T_1".into(),
            subtype: PrintSubtype::Custom,
            content: "x".into(),
        };
        TerminalAction {
            status,
            ..TerminalAction::create(ActionId::from_random([1; 16]), user, new, Timestamp::from_millis(5))
        }
    }

    #[test]
    fn an_action_holds_its_terminal_only_while_live() {
        for status in [Created, AtTerminal] {
            assert_eq!(stored(status).index(), vec![IndexEntry::unique(LIVE_TERMINAL, "7:T_1".into())]);
        }
        for status in [Processed, Failed, Canceled] {
            assert_eq!(stored(status).index(), vec![], "{status:?} frees the terminal");
        }
    }

    #[test]
    fn an_action_round_trips_through_its_document() {
        let action = stored(AtTerminal);
        let document = serde_json::to_string(&action).unwrap_or_default();
        assert!(document.contains(r#""status":"at_terminal""#), "{document}");
        assert_eq!(serde_json::from_str::<TerminalAction>(&document).ok(), Some(action));
    }

    #[test]
    fn every_status_against_every_target() {
        // (from, to, allowed): the machine written out in full.
        let table = [
            (Created, Created, false),
            (Created, AtTerminal, true),
            (Created, Processed, false),
            (Created, Failed, false),
            (Created, Canceled, true),
            (AtTerminal, Created, false),
            (AtTerminal, AtTerminal, false),
            (AtTerminal, Processed, true),
            (AtTerminal, Failed, true),
            (AtTerminal, Canceled, true),
        ];
        for (from, to, allowed) in table {
            assert_eq!(can_move(from, to), allowed, "{from:?} -> {to:?}");
            assert_eq!(simulate(from, to).is_ok(), allowed, "{from:?} -> {to:?}");
        }
        for from in [Processed, Failed, Canceled] {
            for to in ActionStatus::ALL {
                assert!(!can_move(from, to), "{from:?} is final");
            }
        }
    }

    #[test]
    fn api_cancels_only_created() {
        for status in ActionStatus::ALL {
            let result = cancel(status);
            if status == Created {
                assert_eq!(result, Ok(Transition { from: Created, to: Canceled }));
            } else {
                assert_eq!(result, Err(CancelRefused(status)));
            }
        }
    }

    #[test]
    fn only_live_statuses_occupy_the_terminal() {
        let busy: Vec<_> = ActionStatus::ALL.into_iter().filter(|s| s.occupies_terminal()).collect();
        assert_eq!(busy, vec![Created, AtTerminal]);
    }

    #[test]
    fn ids_are_lowercase_uuid_v4() {
        let id = ActionId::from_random([0xab; 16]);
        let text = id.to_string();
        assert_eq!(ActionId::parse(&text), Some(id));
        assert_eq!(ActionId::parse(&text.to_uppercase()), None);
        assert_eq!(ActionId::parse("not-a-uuid"), None);
        assert_eq!(ActionId::parse("00000000-0000-1000-8000-000000000000"), None, "v1 is refused");
        assert_eq!(ActionId::parse(&text.replace('-', "")), None, "simple form is refused");
    }

    fn draft() -> ActionDraft {
        ActionDraft {
            kind: Some("print".into()),
            external_reference: Some("ref-1".into()),
            terminal_id: Some("NEWLAND_N950__N950NCB123456789".into()),
            subtype: Some("custom".into()),
            content: Some("hello".into()),
        }
    }

    #[test]
    fn validates_each_field() {
        assert!(NewAction::parse(draft()).is_ok());
        let cases: Vec<(ActionDraft, &str)> = vec![
            (ActionDraft { kind: None, ..draft() }, "type is required"),
            (ActionDraft { kind: Some("pay".into()), ..draft() }, "type must be"),
            (ActionDraft { terminal_id: None, ..draft() }, "terminal_id is required"),
            (ActionDraft { terminal_id: Some("bad id".into()), ..draft() }, "terminal_id must be"),
            (ActionDraft { subtype: Some("poster".into()), ..draft() }, "subtype must be"),
            (ActionDraft { content: Some(String::new()), ..draft() }, "content must be"),
            (ActionDraft { content: None, ..draft() }, "content is required"),
            (ActionDraft { external_reference: Some("x".repeat(65)), ..draft() }, "external_reference"),
        ];
        for (input, expected) in cases {
            let err = NewAction::parse(input).unwrap_err();
            assert!(err.message.contains(expected), "{err} should mention {expected}");
        }
    }

    proptest! {
        /// Random event sequences: the machine never leaves a final status, never
        /// reaches `created` again, and the API cancel succeeds exactly from `created`.
        #[test]
        fn random_walks_respect_the_machine(events in proptest::collection::vec(0usize..5, 0..40)) {
            let mut status = Created;
            for event in events {
                let to = ActionStatus::ALL[event];
                let before = status;
                if let Ok(t) = simulate(status, to) {
                    prop_assert_eq!(t.from, before);
                    status = t.to;
                }
                prop_assert!(status != Created || before == Created);
                if !before.occupies_terminal() {
                    prop_assert_eq!(status, before, "final statuses never change");
                }
                prop_assert_eq!(cancel(status).is_ok(), status == Created);
            }
        }
    }
}
