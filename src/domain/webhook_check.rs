//! "Check my receiver" (`POST /caja/v1/webhooks/check`, #17): five notifications
//! made exactly like a real payment webhook, each asking one thing of a receiver, and
//! the verdict on each answer.
//!
//! A receiver must accept a correctly signed, fresh notification; refuse one whose
//! `data.id` was changed after signing, one signed with another secret and one whose
//! `ts` is stale; and acknowledge a repeated delivery without acting on it twice
//! (delivery is at least once: it deduplicates by the body's `id` or the
//! `x-request-id`). caja sees only the status, so a repeat passes when it is
//! accepted (2xx) or refused as a duplicate (409).
//!
//! Mercado Pago's manifest signs the query's `data.id`, the `x-request-id` and `ts`,
//! not the body, so the tampered notification changes the query's `data.id` (and the
//! body's, as a forger would) and keeps the signature made for the original.
//!
//! Pure: ids, the wrong secret and the time are arguments (the HTTP layer draws
//! them); sending is `http::webhook_check`'s, through the delivery's own URL rule.

use super::notification::{signature, NewNotification, Notification, NotificationForm, NotificationStatus};
use super::{ResourceType, Timestamp, UserId};

/// How far from the receiver's clock a `ts` may be, in seconds, before the
/// notification is refused as stale: caja's convention (Mercado Pago's page names no
/// figure). Five minutes allows for clock skew and caja's retries of one attempt.
pub const TS_TOLERANCE_SECS: i64 = 300;
/// How old the stale notification's `ts` is, in seconds: twice the tolerance.
pub const STALE_TS_AGE_SECS: i64 = 600;
/// The made-up payment id starts so, so a receiver can tell a check from a payment.
pub const RESOURCE_ID_PREFIX: &str = "check-";
/// The action every check notification announces.
pub const ACTION: &str = "payment.updated";

/// One thing the check asks of the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// Correctly signed, fresh: must be accepted.
    Valid,
    /// The query's (and body's) `data.id` changed after signing: must be refused.
    TamperedDataId,
    /// Signed with a secret that is not the account's: must be refused.
    WrongSecret,
    /// Correctly signed, `ts` [`STALE_TS_AGE_SECS`] old: must be refused.
    StaleTs,
    /// The valid notification again, byte for byte: acknowledged, not acted on twice.
    Duplicate,
}

/// What a case expects of the receiver's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A 2xx.
    Accepted,
    /// Any answer but a 2xx.
    Refused,
    /// A 2xx, or 409 (refused as a duplicate).
    AcceptedOrDuplicate,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Accepted => "accepted",
            Expected::Refused => "refused",
            Expected::AcceptedOrDuplicate => "accepted_or_duplicate",
        }
    }
}

impl Case {
    /// In the order they are sent (the repeat after the notification it repeats).
    pub const ALL: [Case; 5] = [Case::Valid, Case::TamperedDataId, Case::WrongSecret, Case::StaleTs, Case::Duplicate];

    pub fn name(self) -> &'static str {
        match self {
            Case::Valid => "valid",
            Case::TamperedDataId => "tampered_data_id",
            Case::WrongSecret => "wrong_secret",
            Case::StaleTs => "stale_ts",
            Case::Duplicate => "duplicate",
        }
    }

    pub fn expected(self) -> Expected {
        match self {
            Case::Valid => Expected::Accepted,
            Case::TamperedDataId | Case::WrongSecret | Case::StaleTs => Expected::Refused,
            Case::Duplicate => Expected::AcceptedOrDuplicate,
        }
    }
}

/// What the caller drew for one check.
#[derive(Clone, Debug)]
pub struct Draws {
    /// The made-up payment's id, [`RESOURCE_ID_PREFIX`] and a UUID.
    pub resource_id: String,
    /// One `x-request-id` per distinct notification: the valid one (which the
    /// duplicate repeats), the tampered one, the wrong secret's and the stale one.
    pub request_ids: [String; 4],
    /// A secret that is not the account's.
    pub wrong_secret: String,
}

/// One notification to send: the URL and body as the outbox would hold them
/// (`notification.change.url`, `resource_id` for the query's `data.id`, `body`), and
/// its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub case: Case,
    pub notification: Notification,
    pub request_id: String,
    /// The `x-signature` header.
    pub signature: String,
}

/// The five notifications of a check of the receiver at `url`, for the account
/// `user` whose webhook secret is `secret`, made at `now`.
pub fn probes(url: &str, secret: &str, user: UserId, draws: &Draws, now: Timestamp) -> Vec<Probe> {
    let ts = now.as_millis().div_euclid(1000);
    let original = draws.resource_id.as_str();
    let tampered = format!("{original}-tampered");
    // Never the account's own, whatever the caller drew.
    let wrong_secret =
        if draws.wrong_secret == secret { format!("{}-wrong", draws.wrong_secret) } else { draws.wrong_secret.clone() };
    let [valid_id, tampered_rid, wrong_rid, stale_rid] = &draws.request_ids;
    let probe = |case: Case, seq: i64, data_id: &str, request_id: &str, signature: String| Probe {
        case,
        notification: notification(url, user, data_id, now.as_millis().saturating_add(seq), now),
        request_id: request_id.to_owned(),
        signature,
    };
    let valid = probe(Case::Valid, 0, original, valid_id, signature(secret, original, valid_id, ts));
    vec![
        valid.clone(),
        probe(Case::TamperedDataId, 1, &tampered, tampered_rid, signature(secret, original, tampered_rid, ts)),
        probe(Case::WrongSecret, 2, original, wrong_rid, signature(&wrong_secret, original, wrong_rid, ts)),
        probe(Case::StaleTs, 3, original, stale_rid, signature(secret, original, stale_rid, ts - STALE_TS_AGE_SECS)),
        Probe { case: Case::Duplicate, ..valid },
    ]
}

/// A payment webhook as the payments family enqueues it, with the notifications
/// page's body: `{"action","api_version","data":{"id"},"date_created","id",
/// "live_mode","type":"payment","user_id"}` (a check is for test accounts only).
fn notification(url: &str, user: UserId, data_id: &str, id: i64, now: Timestamp) -> Notification {
    let body = serde_json::json!({
        "action": ACTION,
        "api_version": "v1",
        "data": { "id": data_id },
        "date_created": now.to_rfc3339(),
        "id": id,
        "live_mode": false,
        "type": ResourceType::Payment.as_str(),
        "user_id": user.get(),
    });
    Notification {
        id,
        change: NewNotification {
            user_id: user,
            live_mode: false,
            resource_type: ResourceType::Payment,
            resource_id: data_id.to_owned(),
            status: "updated".to_owned(),
            external_reference: None,
            url: url.to_owned(),
            created_at: now,
            body: Some(body.to_string()),
            form: NotificationForm::Webhook,
        },
        status: NotificationStatus::Pending,
        attempts_made: 0,
        attempts: Vec::new(),
        next_attempt_at: None,
    }
}

/// What came of sending one notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The receiver's status code.
    Status(u16),
    /// No answer: why (connection refused, timed out, …).
    Failed(String),
}

/// Whether a case passed, and why, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub reason: String,
}

/// The verdict on the receiver's answer to one case.
pub fn judge(case: Case, answer: &Answer) -> Verdict {
    let code = match answer {
        Answer::Status(code) => *code,
        Answer::Failed(_) => {
            let what = match case.expected() {
                Expected::Accepted | Expected::AcceptedOrDuplicate => "accept it",
                Expected::Refused => "refuse it with a non-2xx answer",
            };
            return fail(&format!("the receiver did not answer (see error); it must {what}"));
        }
    };
    let accepted = (200..300).contains(&code);
    let verdict = match case {
        Case::Valid if accepted => pass("the receiver accepted a correctly signed, fresh notification"),
        Case::Valid if (300..400).contains(&code) => {
            fail("the receiver answered with a redirect: notifications follow no redirects, so give the final URL")
        }
        Case::Valid => fail(
            "the receiver refused a correctly signed, fresh notification: it must accept x-signature's v1 = hex \
             HMAC-SHA256(webhook secret, \"id:<data.id from the query>;request-id:<x-request-id>;ts:<ts>;\")",
        ),
        Case::TamperedDataId if accepted => fail(
            "the receiver accepted a notification whose data.id was changed after it was signed: it does not check \
             x-signature against the query's data.id",
        ),
        Case::WrongSecret if accepted => {
            fail("the receiver accepted a notification signed with the wrong secret: it does not verify x-signature")
        }
        Case::StaleTs if accepted => Verdict {
            passed: false,
            reason: format!(
                "the receiver accepted a notification whose ts is {} minutes old: it does not refuse stale \
                 timestamps, so a captured notification can be replayed: refuse a ts more than {} minutes from now",
                STALE_TS_AGE_SECS / 60,
                TS_TOLERANCE_SECS / 60
            ),
        },
        Case::TamperedDataId | Case::WrongSecret | Case::StaleTs => pass("the receiver refused it, as it must"),
        Case::Duplicate if accepted => pass(
            "the receiver acknowledged the repeat; it must act on it only once, deduplicating by the body's id or \
             the x-request-id",
        ),
        Case::Duplicate if code == 409 => pass("the receiver refused the repeat as a duplicate"),
        Case::Duplicate => fail(
            "the receiver refused a repeated delivery: delivery is at least once, so a repeat must be acknowledged \
             with a 2xx (or 409) and deduplicated by the body's id or the x-request-id, not acted on twice",
        ),
    };
    Verdict { reason: format!("{} (answered {code})", verdict.reason), ..verdict }
}

fn pass(reason: &str) -> Verdict {
    Verdict { passed: true, reason: reason.to_owned() }
}

fn fail(reason: &str) -> Verdict {
    Verdict { passed: false, reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws() -> Draws {
        Draws {
            resource_id: "check-1".to_owned(),
            request_ids: ["r1", "r2", "r3", "r4"].map(str::to_owned),
            wrong_secret: "other".to_owned(),
        }
    }

    #[test]
    fn each_probe_is_signed_as_its_case_says() {
        let now = Timestamp::from_millis(1_700_000_000_123);
        let user = UserId::new(42).unwrap();
        let probes = probes("http://r.test/hook", "secret", user, &draws(), now);
        let cases: Vec<Case> = probes.iter().map(|p| p.case).collect();
        assert_eq!(cases, Case::ALL);
        let ts = 1_700_000_000;
        let [valid, tampered, wrong, stale, duplicate] = probes.try_into().unwrap();

        assert_eq!(valid.signature, signature("secret", "check-1", "r1", ts));
        assert_eq!(valid.notification.change.resource_id, "check-1");
        let body: serde_json::Value = serde_json::from_str(valid.notification.change.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["data"]["id"], "check-1");
        assert_eq!((body["type"].as_str(), body["action"].as_str()), (Some("payment"), Some(ACTION)));
        assert_eq!((body["user_id"].as_i64(), body["live_mode"].as_bool()), (Some(42), Some(false)));
        assert_eq!(body["date_created"], "2023-11-14T22:13:20.123Z");

        // Signed for the original id, sent for another.
        assert_eq!(tampered.signature, signature("secret", "check-1", "r2", ts));
        assert_eq!(tampered.notification.change.resource_id, "check-1-tampered");
        assert!(tampered.notification.change.body.as_deref().unwrap().contains("\"check-1-tampered\""));

        assert_eq!(wrong.signature, signature("other", "check-1", "r3", ts));
        assert_eq!(stale.signature, signature("secret", "check-1", "r4", ts - STALE_TS_AGE_SECS));

        assert_eq!(Probe { case: Case::Valid, ..duplicate }, valid, "the repeat is the valid one, byte for byte");
        let ids: std::collections::HashSet<i64> =
            [&valid, &tampered, &wrong, &stale].iter().map(|p| p.notification.id).collect();
        assert_eq!(ids.len(), 4, "each distinct notification has its own id");
    }

    #[test]
    fn the_wrong_secret_is_never_the_accounts() {
        let draws = Draws { wrong_secret: "secret".to_owned(), ..draws() };
        let probes = probes("http://r.test/hook", "secret", UserId::new(1).unwrap(), &draws, Timestamp::from_millis(0));
        assert_ne!(probes[2].signature, signature("secret", "check-1", "r3", 0));
    }

    #[test]
    fn verdicts_follow_each_cases_expectation() {
        let verdict = |case, answer| judge(case, &answer).passed;
        let refused = Answer::Status(401);
        let accepted = Answer::Status(200);
        assert!(verdict(Case::Valid, Answer::Status(204)));
        assert!(!verdict(Case::Valid, refused.clone()));
        assert!(!verdict(Case::Valid, Answer::Status(302)));
        for case in [Case::TamperedDataId, Case::WrongSecret, Case::StaleTs] {
            assert!(verdict(case, refused.clone()), "{case:?}");
            assert!(!verdict(case, accepted.clone()), "{case:?}");
            assert!(!verdict(case, Answer::Failed("connection refused".into())), "{case:?}: no answer is no refusal");
        }
        assert!(verdict(Case::Duplicate, accepted.clone()));
        assert!(verdict(Case::Duplicate, Answer::Status(409)));
        assert!(!verdict(Case::Duplicate, Answer::Status(500)));
        let reason = judge(Case::WrongSecret, &accepted).reason;
        assert!(reason.contains("wrong secret") && reason.contains("does not verify x-signature"), "{reason}");
        let reason = judge(Case::Valid, &Answer::Failed("connection refused".into())).reason;
        assert!(reason.contains("did not answer") && reason.contains("accept it"), "{reason}");
    }
}
