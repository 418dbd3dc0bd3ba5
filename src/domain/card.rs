//! Card tokens and customers' saved cards.
//!
//! A card token (`POST /v1/card_tokens`) stands for a card for a short while and is
//! used once: saving it as a customer's card (or, later, paying with it) uses it up.
//! caja never keeps a full card number or a security code: only the first six and
//! last four digits, the lengths, the expiry and the cardholder, as Mercado Pago shows
//! them. The cardholder's name is what Mercado Pago's test environment decides
//! payment outcomes by (`APRO`, `OTHE`, `CONT`, …), so it is kept as sent.

use std::fmt;

use super::resource::{IndexEntry, Resource};
use super::{SiteId, Timestamp, UserId};

/// How long a token can be used after it is made. Mercado Pago documents no
/// lifetime; a week is caja's choice (`date_due`).
pub const TOKEN_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;
/// Cards a customer may hold at most (cause 129 beyond it; the reference gives no number).
pub const CARDS_PER_CUSTOMER_MAX: usize = 25;
pub const CARDHOLDER_NAME_CHARS_MAX: usize = 100;

crate::hex_id!(
    /// A card token id: 32 lowercase hex digits.
    CardTokenId
);

/// A saved card's id: a decimal number, shown as a string (`"8987269652"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CardId(String);

crate::serde_as_text!(CardId, CardId::parse, CardId::as_str);

impl CardId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=19).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
        ok.then(|| CardId(raw.to_owned()))
    }

    /// Ten digits from a random number.
    pub fn from_random(n: u64) -> Self {
        CardId(format!("{}", 1_000_000_000 + n % 9_000_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The cardholder: `{"name":"APRO","identification":{"type":"CPF","number":"…"}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cardholder {
    pub name: Option<String>,
    pub identification_type: Option<String>,
    pub identification_number: Option<String>,
}

/// What a card shows of itself: never the whole number.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CardFace {
    pub first_six_digits: String,
    pub last_four_digits: String,
    pub card_number_length: u8,
    pub security_code_length: u8,
    pub expiration_month: u8,
    pub expiration_year: u16,
    pub cardholder: Cardholder,
    /// The brand, from the number: `visa`, `master`, `amex`, `elo`, ….
    pub payment_method_id: String,
}

/// A card payment method's brand, from the card number's first digits (the test
/// cards' brands: Visa 4…, Amex 34/37, Elo 5067/4389/6362…, Mastercard 2/5).
pub fn brand(number: &str) -> &'static str {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| number.starts_with(p));
    if starts(&["34", "37"]) {
        "amex"
    } else if starts(&["5067", "4389", "4514", "6362", "6363", "6504", "6505", "6516", "6550"]) {
        "elo"
    } else if starts(&["4"]) {
        "visa"
    } else {
        "master"
    }
}

/// The brand's name, as `payment_method.name` shows it.
pub fn brand_name(brand: &str) -> &'static str {
    match brand {
        "visa" => "Visa",
        "amex" => "American Express",
        "elo" => "Elo",
        _ => "Mastercard",
    }
}

/// Does `number` pass the Luhn check?
pub fn luhn(number: &str) -> bool {
    let mut sum = 0;
    for (i, b) in number.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// A card token request as sent (every field optional so each gets its message).
#[derive(Clone, Debug, Default)]
pub struct CardTokenDraft {
    pub card_number: Option<String>,
    pub expiration_month: Option<u32>,
    pub expiration_year: Option<u32>,
    pub security_code: Option<String>,
    pub cardholder: Cardholder,
    /// A token for a saved card instead: its id (with `security_code`).
    pub card_id: Option<String>,
}

/// Why a token request is refused; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCard(pub String);

/// A validated request for a token of a new card (a card's full number and code
/// are looked at here and dropped).
pub fn card_face(draft: &CardTokenDraft, now_year: u16) -> Result<CardFace, InvalidCard> {
    let bad = |msg: &str| Err(InvalidCard(msg.to_owned()));
    let Some(number) = &draft.card_number else {
        return bad("card_number is required");
    };
    if !(13..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) || !luhn(number) {
        return bad("card_number must be 13 to 19 digits that pass the Luhn check");
    }
    let (month, year) = expiry(draft, now_year)?;
    let Some(code) = &draft.security_code else {
        return bad("security_code is required");
    };
    let code_length = if brand(number) == "amex" { 4 } else { 3 };
    if code.len() != code_length || !code.bytes().all(|b| b.is_ascii_digit()) {
        return bad(&format!("security_code must be {code_length} digits for this card"));
    }
    check_cardholder(&draft.cardholder)?;
    Ok(CardFace {
        first_six_digits: number[..6].to_owned(),
        last_four_digits: number[number.len() - 4..].to_owned(),
        card_number_length: number.len() as u8,
        security_code_length: code_length as u8,
        expiration_month: month,
        expiration_year: year,
        cardholder: draft.cardholder.clone(),
        payment_method_id: brand(number).to_owned(),
    })
}

fn expiry(draft: &CardTokenDraft, now_year: u16) -> Result<(u8, u16), InvalidCard> {
    let month = draft
        .expiration_month
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| InvalidCard("expiration_month must be 1 to 12".into()))?;
    let year = draft
        .expiration_year
        .filter(|y| (u32::from(now_year)..=u32::from(now_year) + 99).contains(y))
        .ok_or_else(|| InvalidCard("expiration_year must be a four-digit year, not in the past".into()))?;
    Ok((month as u8, year as u16))
}

fn check_cardholder(cardholder: &Cardholder) -> Result<(), InvalidCard> {
    let too_long = |v: &Option<String>, max: usize| v.as_ref().is_some_and(|v| v.chars().count() > max);
    if too_long(&cardholder.name, CARDHOLDER_NAME_CHARS_MAX)
        || too_long(&cardholder.identification_type, 20)
        || too_long(&cardholder.identification_number, 40)
    {
        return Err(InvalidCard("cardholder fields are too long".into()));
    }
    Ok(())
}

/// `active` until used or past `date_due`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenStatus {
    #[default]
    Active,
    Used,
}

crate::serde_as_text!(TokenStatus, TokenStatus::parse, |s: &TokenStatus| s.as_str());

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Used => "used",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [TokenStatus::Active, TokenStatus::Used].into_iter().find(|s| s.as_str() == raw)
    }
}

/// A stored card token.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CardToken {
    pub id: CardTokenId,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub face: CardFace,
    /// The saved card it stands for, when made from one.
    pub card_id: Option<CardId>,
    pub status: TokenStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl CardToken {
    pub fn due_at(&self) -> Timestamp {
        self.created_at.plus_millis(TOKEN_LIFETIME_MS)
    }

    /// May it be used now?
    pub fn usable(&self, now: Timestamp) -> bool {
        self.status == TokenStatus::Active && now <= self.due_at()
    }
}

/// Stored as kind `card_token`, found by id only.
impl Resource for CardToken {
    const KIND: &'static str = "card_token";

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
}

/// A customer's saved card.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Card {
    pub id: CardId,
    pub customer_id: super::customer::CustomerId,
    pub user_id: UserId,
    pub site_id: SiteId,
    pub live_mode: bool,
    pub face: CardFace,
    /// A deleted card is found no more.
    pub deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Cards of a customer, oldest first.
pub const BY_CUSTOMER: &str = "customer";

/// Stored as kind `customer_card`, listed by customer while not deleted.
impl Resource for Card {
    const KIND: &'static str = "customer_card";

    fn id(&self) -> String {
        self.id.to_string()
    }

    fn user_id(&self) -> UserId {
        self.user_id
    }

    fn status(&self) -> Option<&'static str> {
        Some(if self.deleted { "deleted" } else { "active" })
    }

    fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }

    fn index(&self) -> Vec<IndexEntry> {
        if self.deleted {
            return Vec::new();
        }
        let created = super::resource::sort_number(self.created_at.as_millis());
        vec![IndexEntry::list(BY_CUSTOMER, self.customer_id.to_string(), created)]
    }
}

/// What a card update may change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardUpdate {
    pub expiration_month: Option<u32>,
    pub expiration_year: Option<u32>,
    pub cardholder_name: Option<String>,
    pub identification_type: Option<String>,
    pub identification_number: Option<String>,
}

impl Card {
    /// The card with `update` applied, if every field is valid.
    pub fn updated(&self, update: &CardUpdate, now: Timestamp, now_year: u16) -> Result<Card, InvalidCard> {
        let mut card = self.clone();
        if update.expiration_month.is_some() || update.expiration_year.is_some() {
            let draft = CardTokenDraft {
                expiration_month: update.expiration_month.or(Some(u32::from(card.face.expiration_month))),
                expiration_year: update.expiration_year.or(Some(u32::from(card.face.expiration_year))),
                ..CardTokenDraft::default()
            };
            let (month, year) = expiry(&draft, now_year)?;
            card.face.expiration_month = month;
            card.face.expiration_year = year;
        }
        let holder = &mut card.face.cardholder;
        if let Some(name) = &update.cardholder_name {
            holder.name = Some(name.clone());
        }
        if let Some(kind) = &update.identification_type {
            holder.identification_type = Some(kind.clone());
        }
        if let Some(number) = &update.identification_number {
            holder.identification_number = Some(number.clone());
        }
        check_cardholder(&card.face.cardholder)?;
        card.updated_at = now;
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(number: &str, code: &str) -> CardTokenDraft {
        CardTokenDraft {
            card_number: Some(number.into()),
            expiration_month: Some(11),
            expiration_year: Some(2030),
            security_code: Some(code.into()),
            cardholder: Cardholder { name: Some("APRO".into()), ..Cardholder::default() },
            card_id: None,
        }
    }

    #[test]
    fn the_test_cards_pass_and_keep_only_their_ends() {
        for (number, code, brand) in [
            ("5031433215406351", "123", "master"),
            ("4235647728025682", "123", "visa"),
            ("375365153556885", "1234", "amex"),
            ("5067766783888311", "123", "elo"),
            ("4509953566233704", "123", "visa"),
        ] {
            let face = card_face(&draft(number, code), 2026).unwrap_or_else(|e| panic!("{number}: {e}"));
            assert_eq!(face.payment_method_id, brand, "{number}");
            assert_eq!(
                (face.first_six_digits.as_str(), face.last_four_digits.as_str()),
                (&number[..6], &number[number.len() - 4..])
            );
        }
    }

    #[test]
    fn bad_cards_are_refused_naming_the_field() {
        let cases = [
            (draft("5031433215406352", "123"), "card_number"),
            (draft("5031433215406351", "12"), "security_code"),
            (CardTokenDraft { expiration_month: Some(13), ..draft("5031433215406351", "123") }, "expiration_month"),
            (CardTokenDraft { expiration_year: Some(2020), ..draft("5031433215406351", "123") }, "expiration_year"),
        ];
        for (d, field) in cases {
            let err = card_face(&d, 2026).err().map(|e| e.0).unwrap_or_default();
            assert!(err.contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn a_token_is_usable_once_and_until_its_due_date() {
        let face = card_face(&draft("5031433215406351", "123"), 2026).unwrap_or_else(|e| panic!("{e}"));
        let token = CardToken {
            id: CardTokenId::from_random([1; 16]),
            user_id: UserId::new(7).unwrap_or_else(|| unreachable!()),
            site_id: SiteId::Mlb,
            live_mode: false,
            face,
            card_id: None,
            status: TokenStatus::Active,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        assert!(token.usable(Timestamp::from_millis(TOKEN_LIFETIME_MS)));
        assert!(!token.usable(Timestamp::from_millis(TOKEN_LIFETIME_MS + 1)));
        assert!(!CardToken { status: TokenStatus::Used, ..token }.usable(Timestamp::from_millis(1)));
    }
}
