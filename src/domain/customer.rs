//! Customers, payment profiles and their payment methods.
//!
//! Profile statuses: `PENDING → READY` (first payment method added),
//! `PENDING | READY → CANCELLED`. `CANCELLED` is final, and cancelling it again
//! changes nothing. A customer and its profiles belong to the account *and site* of
//! the token that created them; reaching them otherwise is a mismatch, not a 404.

use std::fmt;

use super::customer_data::{Address, Cause, CustomerData, Identification, Phone, EMAIL_NOT_UPDATABLE};
use super::resource::{scoped, sort_number, IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

pub const EMAIL_CHARS_MAX: usize = 254;
pub const NAME_CHARS_MAX: usize = 100;
pub const DESCRIPTION_CHARS_MAX: usize = 255;
pub const STATEMENT_DESCRIPTOR_CHARS_MAX: usize = 22;
pub const PAYMENT_METHODS_MAX: usize = 2;
pub const MAX_DAY_OVERDUE_DEFAULT: u8 = 3;
const CUSTOMER_SUFFIX_CHARS: usize = 15;

/// `<9 digits>-<15 letters or digits>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomerId(String);

crate::serde_as_text!(CustomerId, CustomerId::parse, CustomerId::as_str);

impl CustomerId {
    pub fn parse(raw: &str) -> Option<Self> {
        let (digits, suffix) = raw.split_once('-')?;
        let ok = digits.len() == 9
            && digits.bytes().all(|b| b.is_ascii_digit())
            && suffix.len() == CUSTOMER_SUFFIX_CHARS
            && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| CustomerId(raw.to_owned()))
    }

    /// From random material: a number below a billion and 15 alphabet indices.
    pub fn from_random(number: u32, suffix: [u8; CUSTOMER_SUFFIX_CHARS]) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let suffix: String = suffix.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
        CustomerId(format!("{:09}-{suffix}", number % 1_000_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::hex_id!(
    /// A payment profile id: 32 lowercase hex digits.
    ProfileId
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileStatus {
    Pending,
    Ready,
    Cancelled,
}

crate::serde_as_text!(ProfileStatus, ProfileStatus::parse, |s: &ProfileStatus| s.as_str());

impl ProfileStatus {
    pub const ALL: [ProfileStatus; 3] = [ProfileStatus::Pending, ProfileStatus::Ready, ProfileStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Pending => "PENDING",
            ProfileStatus::Ready => "READY",
            ProfileStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        ProfileStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: ProfileStatus,
    pub to: ProfileStatus,
}

/// What a cancel does: move to `CANCELLED`, or nothing when it is already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelDecision {
    Move(Transition),
    AlreadyCancelled,
}

pub fn cancel(current: ProfileStatus) -> CancelDecision {
    match current {
        ProfileStatus::Pending | ProfileStatus::Ready => {
            CancelDecision::Move(Transition { from: current, to: ProfileStatus::Cancelled })
        }
        ProfileStatus::Cancelled => CancelDecision::AlreadyCancelled,
    }
}

/// Why a payment method cannot be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddMethodRefused {
    Cancelled,
    Full,
    /// The profile already holds this card.
    Duplicate,
}

/// Removing a method: a `READY` profile left without methods is `PENDING` again
/// (the status page: "READY can go back to PENDING if all its methods are removed").
/// A `CANCELLED` profile's methods stay as they are.
pub fn remove_method(current: ProfileStatus, methods_left: usize) -> Result<Option<Transition>, AddMethodRefused> {
    match current {
        ProfileStatus::Ready if methods_left == 0 => Ok(Some(Transition { from: current, to: ProfileStatus::Pending })),
        ProfileStatus::Ready | ProfileStatus::Pending => Ok(None),
        ProfileStatus::Cancelled => Err(AddMethodRefused::Cancelled),
    }
}

/// Adding a method: the first one makes a `PENDING` profile `READY` (caja approves
/// the card at once, where Mercado Pago runs a test payment first).
pub fn add_method(
    current: ProfileStatus,
    held: &[PaymentMethod],
    new: &PaymentMethod,
) -> Result<Option<Transition>, AddMethodRefused> {
    if current == ProfileStatus::Cancelled {
        return Err(AddMethodRefused::Cancelled);
    }
    if held.len() >= PAYMENT_METHODS_MAX {
        return Err(AddMethodRefused::Full);
    }
    if new.card_id.is_some() && held.iter().any(|m| m.card_id == new.card_id) {
        return Err(AddMethodRefused::Duplicate);
    }
    match current {
        ProfileStatus::Pending => Ok(Some(Transition { from: current, to: ProfileStatus::Ready })),
        ProfileStatus::Ready => Ok(None),
        ProfileStatus::Cancelled => Err(AddMethodRefused::Cancelled),
    }
}

/// Who owns a customer or profile, as far as access goes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub user_id: UserId,
    pub site_id: SiteId,
}

/// How a caller reached a resource that is not theirs (in the contract's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Caller,
    Site,
    Customer,
}

/// May `caller` on `site` reach a resource of `owner`, under `customer_in_path`
/// when the resource hangs from a customer?
pub fn check_access(
    owner: &Owner,
    resource_customer: Option<&CustomerId>,
    caller: UserId,
    site: SiteId,
    customer_in_path: &CustomerId,
) -> Result<(), Mismatch> {
    if owner.user_id != caller {
        return Err(Mismatch::Caller);
    }
    if owner.site_id != site {
        return Err(Mismatch::Site);
    }
    match resource_customer {
        Some(customer) if customer != customer_in_path => Err(Mismatch::Customer),
        _ => Ok(()),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<(), InvalidInput> {
    match value {
        Some(text) if text.chars().count() > max || text.chars().any(char::is_control) => {
            Err(InvalidInput(format!("{field} must be at most {max} characters, without control characters")))
        }
        _ => Ok(()),
    }
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(raw: &str) -> bool {
    let Some((local, domain)) = raw.split_once('@') else {
        return false;
    };
    raw.len() <= EMAIL_CHARS_MAX
        && !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The form emails are compared in: unique per account regardless of case.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// `active`, or `deactive` once deleted (the live API's own spelling).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CustomerStatus {
    #[default]
    Active,
    Deactive,
}

crate::serde_as_text!(CustomerStatus, CustomerStatus::parse, |s: &CustomerStatus| s.as_str());

impl CustomerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerStatus::Active => "active",
            CustomerStatus::Deactive => "deactive",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [CustomerStatus::Active, CustomerStatus::Deactive].into_iter().find(|s| s.as_str() == raw)
    }
}

/// A stored customer: every field the Customers reference documents. Fields added
/// after the first release default when an older document is read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub owner: Owner,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub phone: Phone,
    #[serde(default)]
    pub identification: Identification,
    #[serde(default)]
    pub address: Address,
    #[serde(default)]
    pub default_address: Option<String>,
    /// As the caller sent it (RFC 3339, offset kept).
    #[serde(default)]
    pub date_registered: Option<String>,
    #[serde(default)]
    pub default_card: Option<String>,
    /// A JSON object's text.
    #[serde(default)]
    pub metadata: Option<String>,
    #[serde(default)]
    pub status: CustomerStatus,
    #[serde(default)]
    pub live_mode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Customer {
    /// A new, active customer from validated data (see [`CustomerData::for_create`]).
    pub fn create(id: CustomerId, owner: Owner, live_mode: bool, data: CustomerData, now: Timestamp) -> Customer {
        let blank = Customer {
            id,
            owner,
            email: String::new(),
            first_name: None,
            last_name: None,
            description: None,
            phone: Phone::default(),
            identification: Identification::default(),
            address: Address::default(),
            default_address: None,
            date_registered: None,
            default_card: None,
            metadata: None,
            status: CustomerStatus::Active,
            live_mode,
            created_at: now,
            updated_at: now,
        };
        blank.updated(data, now)
    }

    /// The customer with every field `data` sends replaced.
    pub fn updated(&self, data: CustomerData, now: Timestamp) -> Customer {
        let mut c = self.clone();
        let keep = |new: Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                *old = new;
            }
        };
        if let Some(email) = data.email {
            c.email = email;
        }
        keep(data.first_name, &mut c.first_name);
        keep(data.last_name, &mut c.last_name);
        keep(data.description, &mut c.description);
        keep(data.default_address, &mut c.default_address);
        keep(data.date_registered, &mut c.date_registered);
        keep(data.default_card, &mut c.default_card);
        keep(data.metadata, &mut c.metadata);
        if let Some(phone) = data.phone {
            c.phone = phone;
        }
        if let Some(identification) = data.identification {
            c.identification = identification;
        }
        if let Some(address) = data.address {
            c.address = address;
        }
        c.updated_at = now;
        c
    }

    /// May an update set `email`? Only to the address it has (code 126 otherwise).
    pub fn check_email_change(&self, data: &CustomerData) -> Result<(), Cause> {
        match &data.email {
            Some(email) if email_key(email) != email_key(&self.email) => Err(EMAIL_NOT_UPDATABLE),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceControl {
    Auto,
    Manual,
}

crate::serde_as_text!(SequenceControl, SequenceControl::parse, |s: &SequenceControl| s.as_str());

impl SequenceControl {
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceControl::Auto => "AUTO",
            SequenceControl::Manual => "MANUAL",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "AUTO" => Some(SequenceControl::Auto),
            "MANUAL" => Some(SequenceControl::Manual),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProfileDraft {
    pub description: Option<String>,
    /// As written in JSON; `None` when absent.
    pub max_day_overdue: Option<i64>,
    pub statement_descriptor: Option<String>,
    pub sequence_control: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProfile {
    pub description: Option<String>,
    pub max_day_overdue: u8,
    pub statement_descriptor: Option<String>,
    pub sequence_control: SequenceControl,
}

impl NewProfile {
    pub fn parse(draft: ProfileDraft) -> Result<Self, InvalidInput> {
        check_text("description", &draft.description, DESCRIPTION_CHARS_MAX)?;
        let max_day_overdue = match draft.max_day_overdue {
            None => MAX_DAY_OVERDUE_DEFAULT,
            Some(days @ 1..=10) => days as u8,
            Some(_) => return Err(InvalidInput("max_day_overdue must be from 1 to 10".into())),
        };
        if let Some(descriptor) = &draft.statement_descriptor {
            let chars = descriptor.chars().count();
            if chars == 0 || chars > STATEMENT_DESCRIPTOR_CHARS_MAX || descriptor.chars().any(char::is_control) {
                return Err(InvalidInput("statement_descriptor must be 1 to 22 characters".into()));
            }
        }
        let sequence_control = match draft.sequence_control.as_deref() {
            None => SequenceControl::Auto,
            Some(raw) => SequenceControl::parse(raw)
                .ok_or_else(|| InvalidInput("sequence_control must be \"AUTO\" or \"MANUAL\"".into()))?,
        };
        Ok(NewProfile {
            description: draft.description,
            max_day_overdue,
            statement_descriptor: draft.statement_descriptor,
            sequence_control,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct MethodDraft {
    pub id: Option<String>,
    pub kind: Option<String>,
    pub token: Option<String>,
    /// The card's id, in decimal (the reference's `long`).
    pub card_id: Option<String>,
}

/// A card token's length, as the add-payment-method page gives it.
pub const TOKEN_CHARS: std::ops::RangeInclusive<usize> = 32..=33;

/// A payment method as kept: the card token is used once and never stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentMethod {
    /// A UUID naming this method in the profile (what `DELETE …/payment-methods/{id}`
    /// takes). Methods stored before it existed get one derived from their place.
    #[serde(default)]
    pub payment_method_id: String,
    pub id: String,
    pub kind: String,
    pub card_id: Option<String>,
    pub created_at: Timestamp,
}

const METHOD_KINDS: [&str; 4] = ["credit_card", "debit_card", "prepaid_card", "account_money"];

impl PaymentMethod {
    /// A validated method named `payment_method_id` (a fresh UUID).
    pub fn parse(draft: MethodDraft, payment_method_id: String, now: Timestamp) -> Result<Self, InvalidInput> {
        let id = draft.id.filter(|id| {
            (1..=32).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        let Some(id) = id else {
            return Err(InvalidInput("id must be a payment method id such as \"visa\" or \"master\"".into()));
        };
        let Some(kind) = draft.kind.filter(|k| METHOD_KINDS.contains(&k.as_str())) else {
            return Err(InvalidInput(format!("type must be one of {}", METHOD_KINDS.join(", "))));
        };
        if draft
            .token
            .as_ref()
            .is_some_and(|t| !TOKEN_CHARS.contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(InvalidInput("token must be a card token of 32 or 33 letters and digits".into()));
        }
        if draft
            .card_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 19 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(InvalidInput("card_id must be a card's numeric id".into()));
        }
        if kind != "account_money" && draft.token.is_none() && draft.card_id.is_none() {
            return Err(InvalidInput("a card payment method needs a token or a card_id".into()));
        }
        Ok(PaymentMethod { payment_method_id, id, kind, card_id: draft.card_id, created_at: now })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub id: ProfileId,
    pub owner: Owner,
    pub customer_id: CustomerId,
    pub status: ProfileStatus,
    pub description: Option<String>,
    pub max_day_overdue: u8,
    pub statement_descriptor: Option<String>,
    pub sequence_control: SequenceControl,
    pub payment_methods: Vec<PaymentMethod>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Customers: unique by email within an account (`email`, regardless of case and
/// site), listed by account and site (`site`) and by account, site and email
/// (`site_email`), oldest first.
pub const BY_EMAIL: &str = "email";
pub const BY_SITE: &str = "site";
pub const BY_SITE_EMAIL: &str = "site_email";
/// Profiles: listed by customer, oldest first.
pub const BY_CUSTOMER: &str = "customer";
/// Profiles: listed by customer and status, oldest first.
pub const BY_CUSTOMER_STATUS: &str = "customer_status";

/// The `customer_status` value of a customer's profiles in `status`.
pub fn customer_status(customer: &CustomerId, status: ProfileStatus) -> String {
    format!("{customer}:{}", status.as_str())
}

impl Profile {
    /// The profile with every payment method named: a method stored before methods
    /// had a `payment_method_id` gets one derived from the profile and its place.
    pub fn with_method_ids(mut self) -> Profile {
        for (position, method) in self.payment_methods.iter_mut().enumerate() {
            if method.payment_method_id.is_empty() {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&self.id.as_str().as_bytes()[..16]);
                bytes[15] = bytes[15].wrapping_add(position as u8);
                method.payment_method_id = uuid::Builder::from_random_bytes(bytes).into_uuid().to_string();
            }
        }
        self
    }
}

/// The `email` value of an account's customer with this email.
pub fn email_entry(user: UserId, email: &str) -> String {
    scoped(user, &[&email_key(email)])
}

/// The listing value of an account's customers on a site, by email when given.
pub fn site_entry(user: UserId, site: SiteId, email: Option<&str>) -> (&'static str, String) {
    match email {
        Some(email) => (BY_SITE_EMAIL, scoped(user, &[site.as_str(), &email_key(email)])),
        None => (BY_SITE, scoped(user, &[site.as_str()])),
    }
}

/// Stored as kind `customer`; unique by email in its account while active.
impl Resource for Customer {
    const KIND: &'static str = "customer";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.owner.user_id
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

    /// A deleted (`deactive`) customer is found by id only, and frees its email.
    fn index(&self) -> Vec<IndexEntry> {
        if self.status == CustomerStatus::Deactive {
            return Vec::new();
        }
        let (user, site, created) = (self.owner.user_id, self.owner.site_id, sort_number(self.created_at.as_millis()));
        let (by_site, site_value) = site_entry(user, site, None);
        let (by_email, email_value) = site_entry(user, site, Some(&self.email));
        vec![
            IndexEntry::unique(BY_EMAIL, email_entry(user, &self.email)),
            IndexEntry::list(by_site, site_value, created.clone()),
            IndexEntry::list(by_email, email_value, created),
        ]
    }
}

/// Stored as kind `payment_profile`, with its payment methods in the document.
impl Resource for Profile {
    const KIND: &'static str = "payment_profile";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.owner.user_id
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
        let created = sort_number(self.created_at.as_millis());
        vec![
            IndexEntry::list(BY_CUSTOMER, self.customer_id.to_string(), created.clone()),
            IndexEntry::list(BY_CUSTOMER_STATUS, customer_status(&self.customer_id, self.status), created),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ProfileStatus::*;

    #[test]
    fn a_customer_is_unique_by_email_in_its_account_and_listed_by_site() {
        let user = UserId::new(7).unwrap_or_else(|| unreachable!());
        let data = CustomerData { email: Some("Ana@Example.com".into()), ..CustomerData::default() };
        let owner = Owner { user_id: user, site_id: SiteId::Mlb };
        let customer =
            Customer::create(CustomerId::from_random(1, [0; 15]), owner, false, data, Timestamp::from_millis(3));
        let created = sort_number(3);
        assert_eq!(
            customer.index(),
            vec![
                IndexEntry::unique(BY_EMAIL, "7:ana@example.com".into()),
                IndexEntry::list(BY_SITE, "7:MLB".into(), created.clone()),
                IndexEntry::list(BY_SITE_EMAIL, "7:MLB:ana@example.com".into(), created),
            ]
        );
        let document = serde_json::to_string(&customer).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Customer>(&document).ok(), Some(customer.clone()));

        let deleted = Customer { status: CustomerStatus::Deactive, ..customer };
        assert_eq!(deleted.index(), vec![], "a deleted customer frees its email and leaves the listings");
    }

    #[test]
    fn ids() {
        let customer = CustomerId::from_random(42, [1; 15]);
        assert_eq!(customer.as_str(), "000000042-bbbbbbbbbbbbbbb");
        assert_eq!(CustomerId::parse(customer.as_str()), Some(customer));
        assert!(CustomerId::parse("123456789-ABCdef012345678").is_some());
        for bad in ["123456789", "12345678-abcdefghijklmno", "123456789-abcdefghijklmn", "123456789-abcdefghijklm!o"] {
            assert_eq!(CustomerId::parse(bad), None, "{bad}");
        }
        let profile = ProfileId::from_random([0xab; 16]);
        assert_eq!(ProfileId::parse(profile.as_str()), Some(profile.clone()));
        assert_eq!(ProfileId::parse(&profile.as_str().to_uppercase()), None);
        assert_eq!(ProfileId::parse("abc"), None);
    }

    #[test]
    fn the_machine() {
        assert_eq!(cancel(Pending), CancelDecision::Move(Transition { from: Pending, to: Cancelled }));
        assert_eq!(cancel(Ready), CancelDecision::Move(Transition { from: Ready, to: Cancelled }));
        assert_eq!(cancel(Cancelled), CancelDecision::AlreadyCancelled);
        let card = |n: u8| method(&n.to_string());
        assert_eq!(add_method(Pending, &[], &card(1)), Ok(Some(Transition { from: Pending, to: Ready })));
        assert_eq!(add_method(Ready, &[card(1)], &card(2)), Ok(None));
        assert_eq!(add_method(Ready, &[card(1)], &card(1)), Err(AddMethodRefused::Duplicate));
        assert_eq!(add_method(Ready, &[card(1), card(2)], &card(3)), Err(AddMethodRefused::Full));
        assert_eq!(add_method(Cancelled, &[], &card(1)), Err(AddMethodRefused::Cancelled));
        assert_eq!(remove_method(Ready, 0), Ok(Some(Transition { from: Ready, to: Pending })));
        assert_eq!(remove_method(Ready, 1), Ok(None));
        assert_eq!(remove_method(Cancelled, 0), Err(AddMethodRefused::Cancelled));
    }

    fn method(card_id: &str) -> PaymentMethod {
        let draft = MethodDraft {
            id: Some("visa".into()),
            kind: Some("credit_card".into()),
            token: None,
            card_id: Some(card_id.into()),
        };
        PaymentMethod::parse(draft, format!("m-{card_id}"), Timestamp::from_millis(0)).unwrap()
    }

    #[test]
    fn access_checks_come_in_the_contracts_order() {
        let owner = Owner { user_id: UserId::new(1).unwrap(), site_id: SiteId::Mlb };
        let mine = CustomerId::from_random(1, [0; 15]);
        let other = CustomerId::from_random(2, [0; 15]);
        let (me, stranger) = (UserId::new(1).unwrap(), UserId::new(2).unwrap());
        assert_eq!(check_access(&owner, Some(&mine), me, SiteId::Mlb, &mine), Ok(()));
        assert_eq!(check_access(&owner, Some(&mine), stranger, SiteId::Mla, &other), Err(Mismatch::Caller));
        assert_eq!(check_access(&owner, Some(&mine), me, SiteId::Mla, &other), Err(Mismatch::Site));
        assert_eq!(check_access(&owner, Some(&mine), me, SiteId::Mlb, &other), Err(Mismatch::Customer));
        assert_eq!(check_access(&owner, None, me, SiteId::Mlb, &other), Ok(()));
    }

    #[test]
    fn emails() {
        for good in ["ana@example.com", "a.b+c@sub.example.co"] {
            assert!(valid_email(good), "{good}");
        }
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "a na@example.com",
            "ana@example..com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn profile_validation() {
        let ok = NewProfile::parse(ProfileDraft::default()).unwrap();
        assert_eq!((ok.max_day_overdue, ok.sequence_control), (3, SequenceControl::Auto));
        for days in [0, 11, -1] {
            let draft = ProfileDraft { max_day_overdue: Some(days), ..ProfileDraft::default() };
            assert!(NewProfile::parse(draft).is_err(), "{days}");
        }
        let long = ProfileDraft { statement_descriptor: Some("x".repeat(23)), ..ProfileDraft::default() };
        assert!(NewProfile::parse(long).is_err());
        let seq = ProfileDraft { sequence_control: Some("auto".into()), ..ProfileDraft::default() };
        assert!(NewProfile::parse(seq).is_err());
    }

    proptest! {
        /// Random sequences of cancels, method additions and removals: CANCELLED is
        /// final, at most two methods are ever held, and READY means at least one.
        #[test]
        fn random_profile_histories(ops in proptest::collection::vec(0u8..4, 0..30)) {
            let (mut status, mut methods, mut next) = (Pending, Vec::new(), 0u8);
            for op in ops {
                let before = status;
                if op == 0 {
                    if let CancelDecision::Move(t) = cancel(status) { status = t.to; }
                } else if op == 3 {
                    if !methods.is_empty() {
                        if let Ok(t) = remove_method(status, methods.len() - 1) {
                            methods.pop();
                            if let Some(t) = t { status = t.to; }
                        }
                    }
                } else {
                    next += 1;
                    let new = method(&next.to_string());
                    if let Ok(t) = add_method(status, &methods, &new) {
                        methods.push(new);
                        if let Some(t) = t { status = t.to; }
                    }
                }
                prop_assert!(methods.len() <= PAYMENT_METHODS_MAX);
                prop_assert!(before != Cancelled || status == Cancelled);
                prop_assert!(status != Ready || !methods.is_empty());
            }
        }
    }
}
