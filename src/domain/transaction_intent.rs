//! Money Out transaction intents: `POST /v1/transaction-intents/process` makes and
//! processes a transfer from the account's balance to one destination account (a
//! Pix key or a bank account) in one request; `GET /v1/transaction-intents/{id}`
//! reads it back. Pages followed: Money Out "Integration configuration" (the body,
//! the 202 answer, the statuses, the notifications) and "Integration test" (test
//! requests, `X-Test-Token: true`, get the status their `external_reference` names),
//! in `mercadopago/devsite-docs` `guides/money-out/`.
//!
//! Where the pages disagree, caja chooses, and says so here:
//! - The answer's amounts are JSON numbers, as the request sends them (the examples
//!   show `"100,00"` strings for the accounts' amounts but numbers for
//!   `paid_amount` and `total_amount`).
//! - A test outcome's `status_detail` is on `transaction.from.accounts[0]` (the test
//!   page) and also on `transaction.to.accounts[0]` (the configuration page).
//! - A request that is not a test one is `approved` (the configuration page's
//!   answer and status table); a test one whose `external_reference` names no
//!   outcome is `processed` (the test page's "any other value").
//! - `timeout` is `processed` at once: the 2-minute delay the test page describes is
//!   left to a fault rule (`latency`), since caja answers every request within 30 s.
//! - Test intents are stored (the test page says the sandbox keeps none), so a test
//!   can read one back and its notification can be checked.

use serde::{Deserialize, Serialize};

use super::resource::Resource;
use super::{SiteId, Timestamp, UserId};

/// Money Out's resource kind (and its audit records' `resource_type`).
pub const KIND: &str = "transaction_intent";
/// The largest amount, in cents (10,000,000,000).
pub const AMOUNT_CENTS_MAX: i64 = 1_000_000_000_000;
/// `external_reference` and `notification_url` limits, in characters.
pub const EXTERNAL_REFERENCE_CHARS_MAX: usize = 64;
pub const NOTIFICATION_URL_CHARS_MAX: usize = 500;
/// The external reference that makes a test request answer 500 (the test page).
pub const INTERNAL_SERVER_ERROR: &str = "internal_server_error";

/// Every status an intent can have here (the test page's and the configuration
/// page's).
pub const STATUSES: &[&str] =
    &["approved", "new", "processed", "failed", "partially_processed", "reverted", "partially_reverted"];

/// Pix key types of `chave.type`.
pub const CHAVE_TYPES: &[&str] = &["EMAIL", "PHONE", "CPF", "CNPJ", "PIX_CODE"];

/// An intent's id: the account's user id, `-`, and 26 characters of Crockford base32
/// (a ULID: 48 bits of milliseconds, 80 random bits), as in the notification example
/// `1108917506-01GGTH198RP0K71H133EK9BJAT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentId(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl IntentId {
    pub fn new(user: UserId, now: Timestamp, random: [u8; 10]) -> IntentId {
        let millis = u128::try_from(now.as_millis().max(0)).unwrap_or(0) & ((1 << 48) - 1);
        let bits = (millis << 80) | random.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        let ulid: String = (0..26).rev().map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char).collect();
        IntentId(format!("{}-{ulid}", user.get()))
    }

    /// An id as a path carries it; `None` when it cannot be one.
    pub fn parse(raw: &str) -> Option<IntentId> {
        let (user, ulid) = raw.split_once('-')?;
        let fine = !user.is_empty()
            && user.len() <= 19
            && user.bytes().all(|b| b.is_ascii_digit())
            && ulid.len() == 26
            && ulid.bytes().all(|b| CROCKFORD.contains(&b));
        fine.then(|| IntentId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the money goes: a Pix key, or a bank account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// `current` or `mercadopago`.
    pub account_type: String,
    pub chave: Option<Chave>,
    pub bank_id: Option<String>,
    pub branch: Option<String>,
    pub holder: Option<String>,
    pub provider_id: Option<String>,
    pub currency_id: Option<String>,
    pub number: Option<String>,
    pub owner_identification_type: String,
    pub owner_identification_number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chave {
    pub chave_type: String,
    pub value: String,
}

/// A request's body, as read (amounts as decimal text, as the JSON wrote them).
#[derive(Clone, Debug, Default)]
pub struct IntentDraft {
    pub external_reference: Option<String>,
    /// `point_of_interaction.type` (or `point_of_interaction` itself, as the
    /// page's curl sends it).
    pub point_of_interaction: Option<String>,
    pub notification_url: Option<String>,
    pub from_amounts: Vec<String>,
    pub to: Vec<DestinationDraft>,
    pub total_amount: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct DestinationDraft {
    pub account_type: Option<String>,
    pub amount: Option<String>,
    pub chave_type: Option<String>,
    pub chave_value: Option<String>,
    pub bank_id: Option<String>,
    pub branch: Option<String>,
    pub holder: Option<String>,
    pub provider_id: Option<String>,
    pub currency_id: Option<String>,
    pub number: Option<String>,
    pub owner_identification_type: Option<String>,
    pub owner_identification_number: Option<String>,
}

/// Why a body was refused (400 `bad_request`, the text as the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidIntent(pub String);

/// A valid request: what the intent is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIntent {
    pub external_reference: Option<String>,
    pub notification_url: Option<String>,
    pub amount_cents: i64,
    pub destination: Destination,
}

/// The sites Money Out serves (the pages have MLB and MLC only).
pub fn serves(site: SiteId) -> bool {
    matches!(site, SiteId::Mlb | SiteId::Mlc)
}

/// Check a body against the configuration page's table for `site`.
pub fn validate(draft: IntentDraft, site: SiteId) -> Result<NewIntent, InvalidIntent> {
    let invalid = |msg: &str| Err(InvalidIntent(msg.to_owned()));
    if !serves(site) {
        return invalid(&format!("Money Out is not available on site {site}; it is on MLB and MLC"));
    }
    if draft.point_of_interaction.as_deref() != Some("PSP_TRANSFER") {
        return invalid("point_of_interaction.type is required and must be PSP_TRANSFER");
    }
    if let Some(reference) = &draft.external_reference {
        let fine = !reference.is_empty()
            && reference.chars().count() <= EXTERNAL_REFERENCE_CHARS_MAX
            && reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !fine {
            return invalid("external_reference must be 1 to 64 letters, numbers, hyphens and underscores");
        }
    }
    if let Some(url) = &draft.notification_url {
        if url.is_empty() || url.chars().count() > NOTIFICATION_URL_CHARS_MAX {
            return invalid("seller_configuration.notification_info.notification_url must be 1 to 500 characters");
        }
    }
    let [from] = draft.from_amounts.as_slice() else {
        return invalid("transaction.from.accounts must hold one account");
    };
    let [to] = draft.to.as_slice() else {
        return invalid("transaction.to.accounts must hold exactly one destination account");
    };
    let amount = |name: &str, raw: Option<&String>| -> Result<i64, InvalidIntent> {
        let raw = raw.ok_or_else(|| InvalidIntent(format!("{name} is required")))?;
        cents(raw)
            .ok_or_else(|| InvalidIntent(format!("{name} must be a number from 0 to 10000000000, at most 2 decimals")))
    };
    let from_cents = amount("transaction.from.accounts.amount", Some(from))?;
    let to_cents = amount("transaction.to.accounts.amount", to.amount.as_ref())?;
    let total_cents = amount("transaction.total_amount", draft.total_amount.as_ref())?;
    if from_cents != to_cents || from_cents != total_cents {
        return invalid("transaction.from.accounts.amount, transaction.to.accounts.amount and transaction.total_amount must be equal");
    }
    let destination = destination(to, site)?;
    Ok(NewIntent {
        external_reference: draft.external_reference,
        notification_url: draft.notification_url,
        amount_cents: total_cents,
        destination,
    })
}

fn destination(to: &DestinationDraft, site: SiteId) -> Result<Destination, InvalidIntent> {
    let required = |name: &str, value: &Option<String>| -> Result<String, InvalidIntent> {
        value
            .clone()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| InvalidIntent(format!("transaction.to.accounts.{name} is required")))
    };
    // The test page's Pix example sends no type: `current` then.
    let account_type = to.account_type.clone().unwrap_or_else(|| "current".to_owned());
    if !["current", "mercadopago"].contains(&account_type.as_str()) {
        return Err(InvalidIntent("transaction.to.accounts.type must be current or mercadopago".into()));
    }
    let owner_type = required("owner.identification.type", &to.owner_identification_type)?;
    let owner_types: &[&str] = if site == SiteId::Mlc { &["RUT"] } else { &["CPF", "CNPJ"] };
    if !owner_types.contains(&owner_type.as_str()) {
        let allowed = owner_types.join(" or ");
        return Err(InvalidIntent(format!("transaction.to.accounts.owner.identification.type must be {allowed}")));
    }
    let owner_number = required("owner.identification.number", &to.owner_identification_number)?;
    let chave = match (&to.chave_type, &to.chave_value) {
        (None, None) => None,
        _ if site != SiteId::Mlb => {
            return Err(InvalidIntent("transaction.to.accounts.chave (a Pix key) is for MLB only".into()));
        }
        (chave_type, value) => {
            let chave_type = required("chave.type", chave_type)?;
            if !CHAVE_TYPES.contains(&chave_type.as_str()) {
                return Err(InvalidIntent(format!(
                    "transaction.to.accounts.chave.type must be one of {}",
                    CHAVE_TYPES.join(", ")
                )));
            }
            Some(Chave { chave_type, value: required("chave.value", value)? })
        }
    };
    if chave.is_none() {
        // A bank account: MLB names its branch, holder, provider and currency too.
        required("bank_id", &to.bank_id)?;
        required("number", &to.number)?;
        if site == SiteId::Mlb {
            required("branch", &to.branch)?;
            required("holder", &to.holder)?;
            if required("provider_id", &to.provider_id)? != "spi" {
                return Err(InvalidIntent("transaction.to.accounts.provider_id must be spi".into()));
            }
            if required("currency_id", &to.currency_id)? != "BRL" {
                return Err(InvalidIntent("transaction.to.accounts.currency_id must be BRL".into()));
            }
        }
    }
    Ok(Destination {
        account_type,
        chave,
        bank_id: to.bank_id.clone(),
        branch: to.branch.clone(),
        holder: to.holder.clone(),
        provider_id: to.provider_id.clone(),
        currency_id: to.currency_id.clone(),
        number: to.number.clone(),
        owner_identification_type: owner_type,
        owner_identification_number: owner_number,
    })
}

/// Cents of a decimal number's text (`100`, `10.5`, `0.01`): 0 to 10,000,000,000.
pub fn cents(decimal: &str) -> Option<i64> {
    let (units, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    let fraction = fraction.trim_end_matches('0');
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    units
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(format!("{fraction:0<2}").parse::<i64>().ok()?)
        .filter(|c| (0..=AMOUNT_CENTS_MAX).contains(c))
}

/// What processing the request gave: its status, the detail (if any) and the
/// amount refunded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: &'static str,
    pub status_detail: Option<&'static str>,
    /// Of the whole amount: none, half (partially reverted) or all (reverted).
    pub refunded: Refunded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refunded {
    None,
    Half,
    All,
}

const fn outcome(status: &'static str, status_detail: Option<&'static str>, refunded: Refunded) -> Outcome {
    Outcome { status, status_detail, refunded }
}

/// The test page's table: an `external_reference` and the outcome it selects.
/// (`internal_server_error` answers 500 and makes nothing; see [`INTERNAL_SERVER_ERROR`].)
pub const TEST_OUTCOMES: &[(&str, Outcome)] = &[
    ("new", outcome("new", None, Refunded::None)),
    ("failed_by_bank", outcome("failed", Some("by_bank"), Refunded::None)),
    ("failed_by_provider", outcome("failed", Some("by_provider"), Refunded::None)),
    ("failed_by_caps", outcome("failed", Some("by_caps"), Refunded::None)),
    ("failed_other_reason", outcome("failed", Some("other_reason"), Refunded::None)),
    ("failed_by_high_risk", outcome("failed", Some("by_high_risk"), Refunded::None)),
    ("failed_by_compliance", outcome("failed", Some("by_compliance"), Refunded::None)),
    ("failed_insufficient_funds", outcome("failed", Some("insufficient_funds"), Refunded::None)),
    ("failed_invalid_destination_account", outcome("failed", Some("invalid_destination_account"), Refunded::None)),
    ("partially_processed", outcome("partially_processed", None, Refunded::None)),
    ("partially_processed_pending_bank", outcome("partially_processed", Some("pending_bank"), Refunded::None)),
    ("reverted", outcome("reverted", Some("refunded"), Refunded::All)),
    (
        "partially_reverted_partially_refunded",
        outcome("partially_reverted", Some("partially_refunded"), Refunded::Half),
    ),
    ("timeout", outcome("processed", None, Refunded::None)),
];

/// The outcome of a request: a test request (a test account's, with `X-Test-Token:
/// true`) by its `external_reference` (the test page; any other value `processed`);
/// any other request `approved` (the configuration page).
pub fn decide(test_request: bool, external_reference: Option<&str>) -> Outcome {
    if !test_request {
        return outcome("approved", Some("approved"), Refunded::None);
    }
    TEST_OUTCOMES
        .iter()
        .find(|(reference, _)| Some(*reference) == external_reference)
        .map_or(outcome("processed", None, Refunded::None), |(_, outcome)| *outcome)
}

/// A transaction intent, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionIntent {
    pub id: IntentId,
    pub user_id: UserId,
    /// A test request's (its outcome chosen by its `external_reference`).
    #[serde(default)]
    pub test_request: bool,
    pub status: String,
    pub status_detail: Option<String>,
    pub external_reference: Option<String>,
    pub notification_url: Option<String>,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub destination: Destination,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl TransactionIntent {
    pub fn new(
        id: IntentId,
        user: UserId,
        new: NewIntent,
        test_request: bool,
        outcome: Outcome,
        now: Timestamp,
    ) -> TransactionIntent {
        let refunded_cents = match outcome.refunded {
            Refunded::None => 0,
            Refunded::Half => new.amount_cents / 2,
            Refunded::All => new.amount_cents,
        };
        TransactionIntent {
            id,
            user_id: user,
            test_request,
            status: outcome.status.to_owned(),
            status_detail: outcome.status_detail.map(str::to_owned),
            external_reference: new.external_reference,
            notification_url: new.notification_url,
            amount_cents: new.amount_cents,
            refunded_cents,
            destination: new.destination,
            created_at: now,
            updated_at: now,
        }
    }

    /// What the origin account paid: nothing for a failed transfer, else the amount
    /// less what came back.
    pub fn paid_cents(&self) -> i64 {
        if self.status == "failed" {
            0
        } else {
            self.amount_cents - self.refunded_cents
        }
    }
}

impl Resource for TransactionIntent {
    const KIND: &'static str = KIND;

    fn id(&self) -> String {
        self.id.0.clone()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        STATUSES.iter().copied().find(|status| *status == self.status)
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_the_notification_example_shows_them() {
        let user = UserId::new(1108917506).unwrap();
        let id = IntentId::new(user, Timestamp::from_millis(1_667_337_593_915), [7; 10]);
        assert_eq!(id.as_str().len(), "1108917506-01GGTH198RP0K71H133EK9BJAT".len());
        assert_eq!(IntentId::parse(id.as_str()), Some(id.clone()));
        assert!(IntentId::parse("1108917506-01GGTH198RP0K71H133EK9BJAT").is_some());
        for bad in
            ["", "1-", "abc-01GGTH198RP0K71H133EK9BJAT", "1-01GGTH198RP0K71H133EK9BJA", "1-01GGTH198RP0K71H133EK9BJAU"]
        {
            assert_eq!(IntentId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn test_requests_take_the_outcome_their_reference_names() {
        assert_eq!(decide(true, Some("new")).status, "new");
        assert_eq!(decide(true, Some("failed_by_bank")), outcome("failed", Some("by_bank"), Refunded::None));
        assert_eq!(decide(true, Some("reverted")).refunded, Refunded::All);
        assert_eq!(decide(true, Some("MP0001")).status, "processed");
        assert_eq!(decide(true, None).status, "processed");
        assert_eq!(decide(false, Some("failed_by_bank")).status, "approved");
    }

    #[test]
    fn amounts_are_cents_from_0_to_ten_billion() {
        assert_eq!(cents("100"), Some(10_000));
        assert_eq!(cents("10.5"), Some(1_050));
        assert_eq!(cents("0"), Some(0));
        assert_eq!(cents("10000000000"), Some(AMOUNT_CENTS_MAX));
        for bad in ["10000000000.01", "-1", "1.001", "1e3", "", ".5"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
