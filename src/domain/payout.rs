//! Payouts and their transactions: ids, amounts, schedule dates, validation and the
//! transaction state machine.
//!
//! `pending → in_process → processed | failed | rejected`; `pending | in_process →
//! canceled` (API). `processed`, `failed`, `rejected` and `canceled` are final.

use std::fmt;

use super::resource::{sort_number, IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

pub const TRANSACTIONS_MAX: usize = 1000;
pub const DESCRIPTION_CHARS_MAX: usize = 255;
pub const EXTERNAL_REFERENCE_CHARS_MAX: usize = 64;
pub const NOTIFICATION_URL_CHARS_MAX: usize = 2048;
pub const COMMENTS_CHARS_MAX: usize = 1000;
pub const DELETED_BY_CHARS_MAX: usize = 255;
/// The largest amount accepted, in cents (a hundred billion units).
pub const AMOUNT_CENTS_MAX: i64 = 10_000_000_000_000;
/// Ids caja hands out stay below 2^53, so JavaScript clients read them exactly.
pub const ISSUED_ID_MIN: i64 = 10_000_000_000;
pub const ISSUED_ID_MAX: i64 = 9_007_199_254_740_991;

/// Parse the decimal string of a positive 64-bit integer (no sign, no leading zero).
fn parse_positive(raw: &str) -> Option<i64> {
    let digits_only = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    digits_only.then(|| raw.parse::<i64>().ok()).flatten()
}

macro_rules! numeric_id {
    ($name:ident) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub fn parse(raw: &str) -> Option<Self> {
                parse_positive(raw).map($name)
            }

            /// From a stored or freshly drawn value; `None` unless positive.
            pub fn new(raw: i64) -> Option<Self> {
                (raw > 0).then_some($name(raw))
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(PayoutId);
numeric_id!(TransactionId);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    Pending,
    InProcess,
    Processed,
    Failed,
    Rejected,
    Canceled,
}

crate::serde_as_text!(TransactionStatus, TransactionStatus::parse, |s: &TransactionStatus| s.as_str());

impl TransactionStatus {
    pub const ALL: [TransactionStatus; 6] = [
        TransactionStatus::Pending,
        TransactionStatus::InProcess,
        TransactionStatus::Processed,
        TransactionStatus::Failed,
        TransactionStatus::Rejected,
        TransactionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Pending => "pending",
            TransactionStatus::InProcess => "in_process",
            TransactionStatus::Processed => "processed",
            TransactionStatus::Failed => "failed",
            TransactionStatus::Rejected => "rejected",
            TransactionStatus::Canceled => "canceled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        TransactionStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The whole machine: may a transaction move from `from` to `to`?
pub fn can_move(from: TransactionStatus, to: TransactionStatus) -> bool {
    use TransactionStatus::*;
    match from {
        Pending => matches!(to, InProcess | Canceled),
        InProcess => matches!(to, Processed | Failed | Rejected | Canceled),
        Processed | Failed | Rejected | Canceled => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: TransactionStatus,
    pub to: TransactionStatus,
}

/// Only transactions not yet processed can be canceled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelRefused(pub TransactionStatus);

pub fn cancel(current: TransactionStatus) -> Result<Transition, CancelRefused> {
    use TransactionStatus::*;
    match current {
        Pending | InProcess => Ok(Transition { from: current, to: Canceled }),
        Processed | Failed | Rejected | Canceled => Err(CancelRefused(current)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForbiddenTransition(pub Transition);

/// The test helper moves along processing edges only; cancel is the API's.
pub fn simulate(current: TransactionStatus, to: TransactionStatus) -> Result<Transition, ForbiddenTransition> {
    let transition = Transition { from: current, to };
    if to != TransactionStatus::Canceled && can_move(current, to) {
        Ok(transition)
    } else {
        Err(ForbiddenTransition(transition))
    }
}

/// What the processing worker should do to a transaction now, if anything.
pub fn processing_step(
    status: TransactionStatus,
    due_at: Timestamp,
    processing_since: Option<Timestamp>,
    now: Timestamp,
    delay_ms: i64,
) -> Option<Transition> {
    use TransactionStatus::*;
    match status {
        Pending if due_at <= now => Some(Transition { from: Pending, to: InProcess }),
        InProcess if processing_since.is_some_and(|since| since.plus_millis(delay_ms) <= now) => {
            Some(Transition { from: InProcess, to: Processed })
        }
        Pending | InProcess | Processed | Failed | Rejected | Canceled => None,
    }
}

/// An [`Amount`] as stored, before its currency is checked.
#[derive(serde::Deserialize)]
struct StoredAmount {
    currency: String,
    cents: i64,
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = <StoredAmount as serde::Deserialize>::deserialize(deserializer)?;
        let currency = SiteId::currency_code(&stored.currency)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency {:?}", stored.currency)))?;
        Ok(Amount { currency, cents: stored.cents })
    }
}

/// Money: a currency and a positive number of cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Amount {
    pub currency: &'static str,
    pub cents: i64,
}

impl Amount {
    /// `decimal` is the JSON number as written, e.g. `10.5`; at most 2 decimals.
    pub fn parse(currency: &str, decimal: &str, site: SiteId) -> Result<Amount, InvalidPayout> {
        let invalid = |msg: String| Err(InvalidPayout(msg));
        if currency != site.currency() {
            return invalid(format!("amount.currency must be {} on site {site}", site.currency()));
        }
        let (units, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
        let fraction = fraction.trim_end_matches('0');
        let well_formed = !units.is_empty()
            && units.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit());
        if !well_formed || fraction.len() > 2 {
            return invalid("amount.value must be a positive number with at most 2 decimals".into());
        }
        let cents = units
            .parse::<i64>()
            .ok()
            .and_then(|u| u.checked_mul(100))
            .and_then(|c| c.checked_add(format!("{fraction:0<2}").parse::<i64>().unwrap_or(0)))
            .filter(|c| (1..=AMOUNT_CENTS_MAX).contains(c));
        match cents {
            Some(cents) => Ok(Amount { currency: site.currency(), cents }),
            None => invalid("amount.value must be positive and at most 100000000000".into()),
        }
    }
}

/// `2026-12-01T10:00:00` (UTC), optionally with fractional seconds and `Z` or `+00:00`;
/// within [`Timestamp::CLIENT_RANGE`].
pub fn parse_schedule_date(raw: &str) -> Option<Timestamp> {
    let utc = raw.strip_suffix('Z').or_else(|| raw.strip_suffix("+00:00")).unwrap_or(raw);
    let parsed = chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(Timestamp::from_millis(parsed.and_utc().timestamp_millis())).filter(|at| Timestamp::CLIENT_RANGE.contains(at))
}

/// A create request as it arrived.
#[derive(Clone, Debug, Default)]
pub struct PayoutDraft {
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub schedule_date: Option<String>,
    pub notification_url: Option<String>,
    pub transactions: Option<Vec<TransactionDraft>>,
}

#[derive(Clone, Debug, Default)]
pub struct TransactionDraft {
    pub kind: Option<String>,
    /// The `account` object, already serialized; `None` when absent or not an object.
    pub account_json: Option<String>,
    pub currency: Option<String>,
    /// The amount's value as written in JSON; `None` when absent or not a number.
    pub value: Option<String>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPayout(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayout {
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub schedule_date: Option<Timestamp>,
    pub notification_url: Option<String>,
    pub transactions: Vec<NewTransaction>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTransaction {
    pub account_json: String,
    pub amount: Amount,
    pub description: Option<String>,
    pub external_reference: Option<String>,
}

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<(), InvalidPayout> {
    match value {
        Some(text) if text.chars().count() > max || text.chars().any(char::is_control) => {
            Err(InvalidPayout(format!("{field} must be at most {max} characters, without control characters")))
        }
        _ => Ok(()),
    }
}

impl NewPayout {
    pub fn parse(draft: PayoutDraft, site: SiteId, now: Timestamp) -> Result<NewPayout, InvalidPayout> {
        check_text("external_reference", &draft.external_reference, EXTERNAL_REFERENCE_CHARS_MAX)?;
        check_text("description", &draft.description, DESCRIPTION_CHARS_MAX)?;
        let schedule_date = match draft.schedule_date.as_deref() {
            None => None,
            Some(raw) => match parse_schedule_date(raw) {
                Some(at) if at > now => Some(at),
                Some(_) => return Err(InvalidPayout("schedule_date must be in the future".into())),
                None => {
                    return Err(InvalidPayout("schedule_date must look like 2026-12-01T10:00:00 (UTC)".into()));
                }
            },
        };
        if let Some(url) = &draft.notification_url {
            let http = url.starts_with("http://") || url.starts_with("https://");
            if !http || url.len() > NOTIFICATION_URL_CHARS_MAX || url.chars().any(|c| c.is_whitespace()) {
                return Err(InvalidPayout("config.notification_url must be an http(s) URL".into()));
            }
        }
        let drafts = draft.transactions.unwrap_or_default();
        if drafts.is_empty() || drafts.len() > TRANSACTIONS_MAX {
            return Err(InvalidPayout(format!("transactions must hold 1 to {TRANSACTIONS_MAX} transactions")));
        }
        let transactions = drafts
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                NewTransaction::parse(t, site).map_err(|e| InvalidPayout(format!("transactions[{i}].{}", e.0)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewPayout {
            external_reference: draft.external_reference,
            description: draft.description,
            schedule_date,
            notification_url: draft.notification_url,
            transactions,
        })
    }
}

impl NewTransaction {
    fn parse(draft: TransactionDraft, site: SiteId) -> Result<NewTransaction, InvalidPayout> {
        match draft.kind.as_deref() {
            Some("account") => {}
            _ => return Err(InvalidPayout("type must be \"account\"".into())),
        }
        let Some(account_json) = draft.account_json else {
            return Err(InvalidPayout("account must be an object".into()));
        };
        let (Some(currency), Some(value)) = (draft.currency, draft.value) else {
            return Err(InvalidPayout("amount must have a currency and a numeric value".into()));
        };
        check_text("description", &draft.description, DESCRIPTION_CHARS_MAX)?;
        check_text("external_reference", &draft.external_reference, EXTERNAL_REFERENCE_CHARS_MAX)?;
        Ok(NewTransaction {
            account_json,
            amount: Amount::parse(&currency, &value, site)?,
            description: draft.description,
            external_reference: draft.external_reference,
        })
    }
}

/// The optional body of a cancel, kept in the audit record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelNote {
    pub comments: Option<String>,
    pub deleted_by: Option<String>,
}

impl CancelNote {
    pub fn parse(comments: Option<String>, deleted_by: Option<String>) -> Result<CancelNote, InvalidPayout> {
        check_text("comments", &comments, COMMENTS_CHARS_MAX)?;
        check_text("deleted_by", &deleted_by, DELETED_BY_CHARS_MAX)?;
        Ok(CancelNote { comments, deleted_by })
    }
}

/// A stored payout (its transactions are stored apart).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payout {
    pub id: PayoutId,
    pub user_id: UserId,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub schedule_date: Option<Timestamp>,
    pub notification_url: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transaction {
    pub id: TransactionId,
    pub payout_id: PayoutId,
    pub user_id: UserId,
    /// Order within the payout, from 0.
    pub position: u32,
    pub account_json: String,
    pub amount: Amount,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub status: TransactionStatus,
    /// When it is due to start processing: the schedule date, or creation.
    pub due_at: Timestamp,
    /// When it entered `in_process`.
    pub processing_since: Option<Timestamp>,
    /// When the processing worker looks at it next: `due_at` while pending, the end of
    /// the processing delay while in process, never once final.
    #[serde(default)]
    pub wake_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A payout transaction's webhook body, as the payouts notifications page shows it:
/// the transaction with its payout (`{"created_date","external_reference","id",
/// "last_updated_date","payout":{"external_reference","id","notification_url"},
/// "status"}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotificationBody {
    pub created_date: String,
    pub external_reference: Option<String>,
    pub id: String,
    pub last_updated_date: String,
    pub payout: PayoutRef,
    pub status: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PayoutRef {
    pub external_reference: Option<String>,
    pub id: String,
    pub notification_url: Option<String>,
}

impl NotificationBody {
    /// The body announcing `t` (as it is now) of `payout`.
    pub fn of(payout: &Payout, t: &Transaction) -> NotificationBody {
        NotificationBody {
            created_date: t.created_at.to_rfc3339(),
            external_reference: t.external_reference.clone(),
            id: t.id.to_string(),
            last_updated_date: t.updated_at.to_rfc3339(),
            payout: PayoutRef {
                external_reference: payout.external_reference.clone(),
                id: payout.id.to_string(),
                notification_url: payout.notification_url.clone(),
            },
            status: t.status.as_str(),
        }
    }
}

/// A transaction's `status_detail`, from the transaction statuses page: `processed`
/// is `approved`, an error `failed`, a rejection caja's processing gives no reason
/// for `other_reason`; pending, in-process and canceled transactions have none.
pub fn status_detail(status: TransactionStatus) -> Option<&'static str> {
    use TransactionStatus::*;
    match status {
        Processed => Some("approved"),
        Failed => Some("failed"),
        Rejected => Some("other_reason"),
        Pending | InProcess | Canceled => None,
    }
}

/// Every transaction status the payouts reference names for the list's `status`
/// filter (P4). caja's machine holds six of them; a filter on another matches none.
pub const DOCUMENTED_STATUSES: [&str; 11] = [
    "approved",
    "canceled",
    "created",
    "error",
    "failed",
    "in_process",
    "pending",
    "processed",
    "refunded",
    "rejected",
    "success",
];

/// What `GET /v1/payouts/{id}` answers about a payout's transactions (P3): items
/// waiting (`pending`, `in_process`), canceled, paid (`processed`), and refused
/// (`failed`, `rejected`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub pending: u64,
    pub canceled: u64,
    pub success: u64,
    pub error: u64,
}

impl Summary {
    /// The summary of `count` transactions in each status.
    pub fn of(counts: impl IntoIterator<Item = (TransactionStatus, u64)>) -> Summary {
        use TransactionStatus::*;
        let mut summary = Summary::default();
        for (status, count) in counts {
            let bucket = match status {
                Pending | InProcess => &mut summary.pending,
                Canceled => &mut summary.canceled,
                Processed => &mut summary.success,
                Failed | Rejected => &mut summary.error,
            };
            *bucket += count;
        }
        summary
    }

    /// The payout's status (P3: `pending`, `in_process`, `completed`, `canceled`):
    /// `canceled` when every transaction was; `completed` when none is left
    /// waiting; `in_process` when some are done or `in_process` and others wait;
    /// `pending` while none has started.
    pub fn status(&self, in_process: u64) -> &'static str {
        let done = self.canceled + self.success + self.error;
        if self.pending == 0 && self.success + self.error == 0 && self.canceled > 0 {
            "canceled"
        } else if self.pending == 0 {
            "completed"
        } else if in_process > 0 || done > 0 {
            "in_process"
        } else {
            "pending"
        }
    }
}

/// A list of a payout's transactions, in order (`payout`), and of those in one status
/// (`payout_status`).
pub const BY_PAYOUT: &str = "payout";
pub const BY_PAYOUT_STATUS: &str = "payout_status";

/// The `payout_status` value of a payout's transactions in `status`.
pub fn payout_status(payout: PayoutId, status: TransactionStatus) -> String {
    payout_status_named(payout, status.as_str())
}

/// [`payout_status`] for a status named in a request (which may be one caja never holds).
pub fn payout_status_named(payout: PayoutId, status: &str) -> String {
    format!("{payout}:{status}")
}

impl Transaction {
    /// The transaction with its timer set to when its next processing step is due
    /// under a processing delay of `delay_ms`.
    pub fn rearmed(&self, delay_ms: i64) -> Transaction {
        use TransactionStatus::*;
        let wake_at = match self.status {
            Pending => Some(self.due_at),
            InProcess => self.processing_since.map(|since| since.plus_millis(delay_ms)),
            Processed | Failed | Rejected | Canceled => None,
        };
        Transaction { wake_at, ..self.clone() }
    }

    /// The transaction after `transition` at `now`; entering `in_process` starts the
    /// processing delay (`delay_ms`).
    pub fn moved(&self, transition: Transition, now: Timestamp, delay_ms: i64) -> Transaction {
        let entering_process = transition.to == TransactionStatus::InProcess;
        Transaction {
            status: transition.to,
            processing_since: if entering_process { Some(now) } else { self.processing_since },
            wake_at: if entering_process { Some(now.plus_millis(delay_ms)) } else { None },
            updated_at: now,
            ..self.clone()
        }
    }
}

/// Stored as kind `payout`; owned by its account, found by id only.
impl Resource for Payout {
    const KIND: &'static str = "payout";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        None
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.created_at
    }
}

/// Stored as kind `payout_transaction`, listed by payout in order, woken by the
/// processing worker at `wake_at`.
impl Resource for Transaction {
    const KIND: &'static str = "payout_transaction";

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
        let position = sort_number(i64::from(self.position));
        vec![
            IndexEntry::list(BY_PAYOUT, self.payout_id.to_string(), position.clone()),
            IndexEntry::list(BY_PAYOUT_STATUS, payout_status(self.payout_id, self.status), position),
        ]
    }

    fn wake_at(&self) -> Option<Timestamp> {
        self.wake_at
    }
}

/// Build a payout and its transactions from a validated request and fresh ids.
pub fn create(
    id: PayoutId,
    transaction_ids: &[TransactionId],
    user_id: UserId,
    new: NewPayout,
    now: Timestamp,
) -> (Payout, Vec<Transaction>) {
    let due_at = new.schedule_date.unwrap_or(now);
    let transactions = new
        .transactions
        .into_iter()
        .zip(transaction_ids)
        .enumerate()
        .map(|(position, (t, tid))| Transaction {
            id: *tid,
            payout_id: id,
            user_id,
            position: position as u32,
            account_json: t.account_json,
            amount: t.amount,
            description: t.description,
            external_reference: t.external_reference,
            status: TransactionStatus::Pending,
            due_at,
            processing_since: None,
            wake_at: Some(due_at),
            created_at: now,
            updated_at: now,
        })
        .collect();
    let payout = Payout {
        id,
        user_id,
        external_reference: new.external_reference,
        description: new.description,
        schedule_date: new.schedule_date,
        notification_url: new.notification_url,
        created_at: now,
    };
    (payout, transactions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use TransactionStatus::*;

    fn pending(due_at: i64) -> Transaction {
        let user = UserId::new(7).unwrap_or_else(|| unreachable!());
        let id = |n| PayoutId::new(n).unwrap_or_else(|| unreachable!());
        let new = NewPayout {
            external_reference: None,
            description: None,
            schedule_date: Some(Timestamp::from_millis(due_at)),
            notification_url: None,
            transactions: vec![NewTransaction {
                account_json: "{}".into(),
                amount: Amount { currency: "BRL", cents: 100 },
                description: None,
                external_reference: None,
            }],
        };
        let tid = TransactionId::new(42).unwrap_or_else(|| unreachable!());
        create(id(9), &[tid], user, new, Timestamp::from_millis(1)).1.remove(0)
    }

    #[test]
    fn the_timer_follows_processing() {
        let t = pending(100);
        assert_eq!(t.wake_at, Some(Timestamp::from_millis(100)), "pending: due at the schedule date");
        let started = t.moved(Transition { from: Pending, to: InProcess }, Timestamp::from_millis(100), 30);
        assert_eq!(started.wake_at, Some(Timestamp::from_millis(130)), "in process: at the end of the delay");
        assert_eq!(started.processing_since, Some(Timestamp::from_millis(100)));
        let done = started.moved(Transition { from: InProcess, to: Processed }, Timestamp::from_millis(130), 30);
        assert_eq!(done.wake_at, None, "final: never again");
        assert_eq!(started.rearmed(500).wake_at, Some(Timestamp::from_millis(600)), "a longer delay re-arms it");
    }

    #[test]
    fn a_transaction_is_listed_by_payout_and_by_payout_and_status() {
        let t = pending(100);
        let position = sort_number(0);
        assert_eq!(
            t.index(),
            vec![
                IndexEntry::list(BY_PAYOUT, "9".into(), position.clone()),
                IndexEntry::list(BY_PAYOUT_STATUS, "9:pending".into(), position),
            ]
        );
        let document = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Transaction>(&document).ok(), Some(t));
    }

    #[test]
    fn the_machine_in_full() {
        let allowed = [
            (Pending, InProcess),
            (Pending, Canceled),
            (InProcess, Processed),
            (InProcess, Failed),
            (InProcess, Rejected),
            (InProcess, Canceled),
        ];
        for from in TransactionStatus::ALL {
            for to in TransactionStatus::ALL {
                assert_eq!(can_move(from, to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
                let simulated = allowed.contains(&(from, to)) && to != Canceled;
                assert_eq!(simulate(from, to).is_ok(), simulated, "{from:?} -> {to:?}");
            }
            assert_eq!(cancel(from).is_ok(), matches!(from, Pending | InProcess), "cancel from {from:?}");
        }
    }

    #[test]
    fn processing_steps() {
        let t = Timestamp::from_millis;
        assert_eq!(processing_step(Pending, t(10), None, t(9), 5), None, "not yet due");
        assert_eq!(processing_step(Pending, t(10), None, t(10), 5), Some(Transition { from: Pending, to: InProcess }));
        assert_eq!(processing_step(InProcess, t(0), Some(t(10)), t(14), 5), None, "delay not over");
        assert_eq!(
            processing_step(InProcess, t(0), Some(t(10)), t(15), 5),
            Some(Transition { from: InProcess, to: Processed })
        );
        for status in [Processed, Failed, Rejected, Canceled] {
            assert_eq!(processing_step(status, t(0), Some(t(0)), t(100), 0), None);
        }
    }

    #[test]
    fn ids_are_positive_decimal_strings() {
        assert_eq!(PayoutId::parse("123").map(PayoutId::get), Some(123));
        for bad in ["", "0", "-1", "01", "1.0", "abc", "99999999999999999999", " 1"] {
            assert_eq!(PayoutId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts() {
        let ok = |v: &str| Amount::parse("ARS", v, SiteId::Mla).map(|a| a.cents);
        assert_eq!(ok("10"), Ok(1000));
        assert_eq!(ok("10.5"), Ok(1050));
        assert_eq!(ok("10.05"), Ok(1005));
        assert_eq!(ok("0.01"), Ok(1));
        for bad in ["0", "0.0", "-1", "10.123", "1e5", "abc", "100000000000.01"] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert!(Amount::parse("BRL", "10", SiteId::Mla).is_err(), "currency of the site");
    }

    #[test]
    fn schedule_dates_are_utc() {
        let at = parse_schedule_date("2026-12-01T10:00:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T10:00:00.000Z");
        assert_eq!(parse_schedule_date("2026-12-01T10:00:00.000Z"), Some(at));
        assert_eq!(parse_schedule_date("2026-12-01T10:00:00+00:00"), Some(at));
        assert_eq!(parse_schedule_date("2026-12-01T10:00:00-03:00"), None);
        assert_eq!(parse_schedule_date("tomorrow"), None);
        // Only dates that print back as RFC 3339 (`fuzz/`, target `dates`).
        assert_eq!(parse_schedule_date("+10000-01-01T00:00:00"), None);
        assert_eq!(parse_schedule_date("0000-06-01T00:00:00"), None);
        assert!(parse_schedule_date("9999-12-31T23:59:59.999Z").is_some());
    }

    proptest! {
        #[test]
        fn random_walks_never_leave_a_final_status(events in proptest::collection::vec(0usize..6, 0..40)) {
            let mut status = Pending;
            for event in events {
                let to = TransactionStatus::ALL[event];
                let before = status;
                if let Ok(t) = simulate(status, to) { status = t.to; }
                if event % 2 == 0 { if let Ok(t) = cancel(status) { status = t.to; } }
                if matches!(before, Processed | Failed | Rejected | Canceled) {
                    prop_assert_eq!(status, before);
                }
                prop_assert!(status != Pending || before == Pending);
            }
        }
    }
}
