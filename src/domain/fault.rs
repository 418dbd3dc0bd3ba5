//! caja's faults on demand (#17), as rules: what a fault is (`latency=MS`,
//! `status=500|503|429`, `reset`, `lose-answer`, read from `X-Caja-Fault` or from a
//! rule's steps), and a test account's fault rules: which requests a rule matches
//! and the steps it takes, one per matching request ("the next two `POST
//! /v1/orders` answer 500, the third runs"). caja's own; Mercado Pago has no such
//! thing.

use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{Timestamp, UserId};

/// The longest `latency` a fault may ask for, in milliseconds.
pub const LATENCY_MS_MAX: u64 = 30_000;
/// Steps a rule may have at most.
pub const STEPS_MAX: usize = 100;
/// Rules an account may have active at once.
pub const ACTIVE_RULES_MAX: u32 = 50;
/// How long a rule lives by default, and at most, in milliseconds (its account's time).
pub const TTL_MS_DEFAULT: i64 = 3_600_000;
pub const TTL_MS_MAX: i64 = 7 * 86_400_000;
/// The longest path pattern and idempotency key a rule may name, in characters.
pub const PATTERN_CHARS_MAX: usize = 256;
/// The longest step, in characters (`latency=30000, status=503` is 26).
pub const STEP_CHARS_MAX: usize = 64;

/// What a fault does to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    pub latency_ms: u64,
    pub outcome: Option<Outcome>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 500, 503 or 429, in the family's format.
    Status(u16),
    /// Close the connection without answering, running nothing.
    Reset,
    /// Run the request (a write commits), then close the connection unanswered.
    LoseAnswer,
}

/// Read a fault: `<item>[, <item>]`; `Err` names what is wrong.
pub fn parse(raw: &str) -> Result<Fault, String> {
    let mut fault = Fault::default();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let outcome = match item.split_once('=') {
            Some(("latency", ms)) => {
                fault.latency_ms = ms
                    .trim()
                    .parse()
                    .ok()
                    .filter(|ms| *ms <= LATENCY_MS_MAX)
                    .ok_or_else(|| format!("latency must be 0 to {LATENCY_MS_MAX} milliseconds, not {ms:?}"))?;
                None
            }
            Some(("status", code)) => match code.trim() {
                "500" => Some(Outcome::Status(500)),
                "503" => Some(Outcome::Status(503)),
                "429" => Some(Outcome::Status(429)),
                other => return Err(format!("status must be 500, 503 or 429, not {other:?}")),
            },
            None if item == "reset" => Some(Outcome::Reset),
            None if item == "lose-answer" => Some(Outcome::LoseAnswer),
            _ => return Err(format!("{item:?} is not a fault (latency=MS, status=500|503|429, reset, lose-answer)")),
        };
        if let Some(outcome) = outcome {
            if fault.outcome.replace(outcome).is_some() {
                return Err("at most one of status, reset and lose-answer".into());
            }
        }
    }
    Ok(fault)
}

/// A rule's step: a fault, or `pass` (the request runs as usual).
pub const PASS: &str = "pass";

/// `active` (steps left), `used` (every step taken), `expired` (its time ran out
/// with steps left: shown so as soon as it does, stored so when the account next
/// makes a rule), or `deleted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    Active,
    Used,
    Expired,
    Deleted,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Active => "active",
            RuleStatus::Used => "used",
            RuleStatus::Expired => "expired",
            RuleStatus::Deleted => "deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(RuleStatus::Active),
            "used" => Some(RuleStatus::Used),
            "expired" => Some(RuleStatus::Expired),
            "deleted" => Some(RuleStatus::Deleted),
            _ => None,
        }
    }
}

crate::serde_as_text!(RuleStatus, RuleStatus::parse, |s: &RuleStatus| s.as_str().to_owned());

/// Rules of an account, oldest first (`account`).
pub const BY_ACCOUNT: &str = "account";

/// A request as a rule sees it.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    /// `point`, `payouts`, `customers`, `profiles`, `orders`, `payments`.
    pub family: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// What a rule matches: every field given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Matcher {
    pub family: Option<String>,
    /// Upper case (`POST`).
    pub method: Option<String>,
    /// A path pattern: `*` stands for any characters within one segment, a final
    /// `/**` for any rest or none (`/v1/orders/*/cancel`, `/v1/payments/**`).
    pub path: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Matcher {
    pub fn matches(&self, r: &RequestFacts<'_>) -> bool {
        self.family.as_deref().is_none_or(|f| f == r.family)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(r.method))
            && self.path.as_deref().is_none_or(|p| path_matches(p, r.path))
            && self.idempotency_key.as_deref().is_none_or(|k| Some(k) == r.idempotency_key)
    }
}

/// Whether `path` (without its query) fits `pattern`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let pattern = pattern.trim_end_matches('/');
    let (pattern, any_rest) = match pattern.strip_suffix("/**") {
        Some(head) => (head, true),
        None => (pattern, false),
    };
    let (mut want, mut have) = (pattern.split('/'), path.split('/'));
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (None, Some(_)) => return any_rest,
            (Some(_), None) => return false,
            (Some(w), Some(h)) => {
                if !segment_matches(w, h) {
                    return false;
                }
            }
        }
    }
}

/// `*` matches any run of characters in one segment.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = segment.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A test account's fault rule, kind `fault_rule`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FaultRule {
    /// `fr_<32 hex>`.
    pub id: String,
    pub user_id: UserId,
    pub matcher: Matcher,
    /// One per matching request, in order: a fault (`status=500`) or `pass`.
    pub steps: Vec<String>,
    /// Steps taken so far.
    pub taken: usize,
    pub status: RuleStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// After this instant (the account's time) it matches nothing.
    pub expires_at: Timestamp,
}

/// A new rule as asked for.
#[derive(Clone, Debug, Default)]
pub struct RuleDraft {
    pub matcher: Matcher,
    /// `fault` with `count` (default 1), or `sequence`; exactly one of the two forms.
    pub fault: Option<String>,
    pub count: Option<i64>,
    pub sequence: Option<Vec<String>>,
    pub ttl_ms: Option<i64>,
}

impl FaultRule {
    /// A rule from a draft; `Err` names what is wrong.
    pub fn new(draft: RuleDraft, id: String, user_id: UserId, now: Timestamp) -> Result<FaultRule, String> {
        let steps = match (draft.fault, draft.count, draft.sequence) {
            (Some(fault), count, None) => {
                let count = count.unwrap_or(1);
                if !(1..=STEPS_MAX as i64).contains(&count) {
                    return Err(format!("count must be 1 to {STEPS_MAX}"));
                }
                vec![fault; count as usize]
            }
            (None, None, Some(sequence)) => sequence,
            _ => return Err("give fault (with an optional count) or sequence".into()),
        };
        if steps.is_empty() || steps.len() > STEPS_MAX {
            return Err(format!("a rule has 1 to {STEPS_MAX} steps"));
        }
        for (i, step) in steps.iter().enumerate() {
            if step.chars().count() > STEP_CHARS_MAX {
                return Err(format!("step {i} is longer than {STEP_CHARS_MAX} characters"));
            }
            if step != PASS {
                parse(step).map_err(|why| format!("step {i}: {why}"))?;
            }
        }
        let m = &draft.matcher;
        let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.is_empty() || v.len() > PATTERN_CHARS_MAX);
        if too_long(&m.path) || too_long(&m.idempotency_key) || too_long(&m.method) || too_long(&m.family) {
            return Err(format!("family, method, path and idempotency_key are 1 to {PATTERN_CHARS_MAX} characters"));
        }
        if m.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
            return Err("path must start with /".into());
        }
        let ttl = draft.ttl_ms.unwrap_or(TTL_MS_DEFAULT);
        if !(1..=TTL_MS_MAX).contains(&ttl) {
            return Err(format!("expires_in must be 1 s to {} days", TTL_MS_MAX / 86_400_000));
        }
        let matcher = Matcher { method: m.method.as_ref().map(|v| v.to_ascii_uppercase()), ..draft.matcher };
        Ok(FaultRule {
            id,
            user_id,
            matcher,
            steps,
            taken: 0,
            status: RuleStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: now.plus_millis(ttl),
        })
    }

    /// Whether it still takes requests at `now`.
    pub fn live_at(&self, now: Timestamp) -> bool {
        self.status == RuleStatus::Active && now < self.expires_at && self.taken < self.steps.len()
    }

    /// The status to show: `expired` when its time ran out with steps left.
    pub fn shown_status(&self, now: Timestamp) -> &'static str {
        match self.status {
            RuleStatus::Active if now >= self.expires_at => "expired",
            other => other.as_str(),
        }
    }

    /// Take the next step for a matching request: the rule after, and the fault to
    /// apply (`None` for `pass`). `None` when it takes no more.
    pub fn take(&self, now: Timestamp) -> Option<(FaultRule, Option<Fault>)> {
        if !self.live_at(now) {
            return None;
        }
        let step = &self.steps[self.taken];
        let fault = if step == PASS { None } else { parse(step).ok() };
        let taken = self.taken + 1;
        let status = if taken == self.steps.len() { RuleStatus::Used } else { RuleStatus::Active };
        Some((FaultRule { taken, status, updated_at: now, ..self.clone() }, fault))
    }

    /// A rule whose time ran out, stored as such (it leaves the active listing).
    pub fn expired(&self, now: Timestamp) -> FaultRule {
        FaultRule { status: RuleStatus::Expired, updated_at: now, ..self.clone() }
    }

    pub fn deleted(&self, now: Timestamp) -> FaultRule {
        FaultRule { status: RuleStatus::Deleted, updated_at: now, ..self.clone() }
    }
}

impl Resource for FaultRule {
    const KIND: &'static str = "fault_rule";

    fn id(&self) -> String {
        self.id.clone()
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

    /// Only active rules are listed: a request reads its account's active rules.
    fn index(&self) -> Vec<IndexEntry> {
        if self.status != RuleStatus::Active {
            return Vec::new();
        }
        vec![IndexEntry::list(BY_ACCOUNT, scoped(self.user_id, &[]), sort_number(self.created_at.as_millis()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_reads_as_documented() {
        assert_eq!(parse("status=500"), Ok(Fault { latency_ms: 0, outcome: Some(Outcome::Status(500)) }));
        assert_eq!(
            parse(" latency=250 , lose-answer "),
            Ok(Fault { latency_ms: 250, outcome: Some(Outcome::LoseAnswer) })
        );
        assert_eq!(parse("reset"), Ok(Fault { latency_ms: 0, outcome: Some(Outcome::Reset) }));
        assert_eq!(parse("latency=10"), Ok(Fault { latency_ms: 10, outcome: None }));
        for bad in ["status=404", "latency=-1", "latency=30001", "reset, status=500", "explode", "latency"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_patterns_match_segments() {
        assert!(path_matches("/v1/orders", "/v1/orders"));
        assert!(path_matches("/v1/orders", "/v1/orders/?x=1"));
        assert!(!path_matches("/v1/orders", "/v1/orders/ORD01"));
        assert!(path_matches("/v1/orders/*/cancel", "/v1/orders/ORD01/cancel"));
        assert!(!path_matches("/v1/orders/*/cancel", "/v1/orders/ORD01/capture"));
        assert!(path_matches("/v1/orders/ORD*", "/v1/orders/ORD01"));
        assert!(path_matches("/v1/payments/**", "/v1/payments/1/refunds"));
        assert!(path_matches("/v1/payments/**", "/v1/payments"), "the rest may be empty");
        assert!(!path_matches("/v1/payments/**", "/v1/paymentsx/1"));
        assert!(!path_matches("/v1/*/x", "/v1/a/b/x"));
    }

    #[test]
    fn a_rule_takes_its_steps_in_order_then_stops() {
        let user = UserId::new(1).unwrap_or_else(|| unreachable!());
        let draft = RuleDraft {
            sequence: Some(vec!["status=500".into(), "status=500".into(), PASS.into()]),
            ..RuleDraft::default()
        };
        let now = Timestamp::from_millis(0);
        let mut rule = FaultRule::new(draft, "fr_1".into(), user, now).unwrap_or_else(|e| panic!("{e}"));
        let mut taken = Vec::new();
        while let Some((after, fault)) = rule.take(now) {
            taken.push(fault.and_then(|f| f.outcome));
            rule = after;
        }
        assert_eq!(taken, vec![Some(Outcome::Status(500)), Some(Outcome::Status(500)), None]);
        assert_eq!(rule.status, RuleStatus::Used);
        assert!(rule.index().is_empty(), "a used rule is no longer listed");
        let expiring = RuleDraft { fault: Some("reset".into()), ttl_ms: Some(1000), ..RuleDraft::default() };
        let rule = FaultRule::new(expiring, "fr_2".into(), user, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(rule.take(Timestamp::from_millis(999)).is_some());
        assert!(rule.take(Timestamp::from_millis(1000)).is_none());
        assert_eq!(rule.shown_status(Timestamp::from_millis(1000)), "expired");
        for bad in [
            RuleDraft::default(),
            RuleDraft { fault: Some("explode".into()), ..RuleDraft::default() },
            RuleDraft { fault: Some("reset".into()), count: Some(0), ..RuleDraft::default() },
            RuleDraft { sequence: Some(vec![]), ..RuleDraft::default() },
            RuleDraft { fault: Some("reset".into()), ttl_ms: Some(0), ..RuleDraft::default() },
        ] {
            assert!(FaultRule::new(bad, "fr".into(), user, now).is_err());
        }
    }
}
