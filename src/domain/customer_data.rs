//! A customer's own data as the Customers reference documents it
//! (`reference/api-json/customers.json`: `POST`/`PUT /v1/customers`), and its
//! validation, refused with the reference's numbered causes (`106 the email format is
//! invalid.`, …) that integrators branch on.

use chrono::DateTime;

use super::customer::{valid_email, DESCRIPTION_CHARS_MAX, NAME_CHARS_MAX};

/// Phone: `{"area_code":"11","number":"987654321"}`; both strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phone {
    pub area_code: Option<String>,
    pub number: Option<String>,
}

/// Identification document: `{"type":"CPF","number":"12345678909"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identification {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub number: Option<String>,
}

/// The customer's address: `street_number` is a number (the live API answers
/// `123`, not `"123"`); `city` is the city's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub id: Option<String>,
    pub zip_code: Option<String>,
    pub street_name: Option<String>,
    pub street_number: Option<i64>,
    pub city: Option<String>,
}

/// A refusal from the reference's error table: its code (as a string, as integrator
/// code compares it) and its exact text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause {
    pub code: &'static str,
    pub description: &'static str,
}

impl Cause {
    const fn new(code: &'static str, description: &'static str) -> Self {
        Cause { code, description }
    }
}

pub const ALREADY_EXISTS: Cause = Cause::new("101", "the customer already exist.");
pub const EMAIL_INVALID: Cause = Cause::new("106", "the email format is invalid.");
pub const FIRST_NAME_INVALID: Cause = Cause::new("107", "the first_name is invalid.");
pub const LAST_NAME_INVALID: Cause = Cause::new("108", "the last_name is invalid.");
pub const AREA_CODE_INVALID: Cause = Cause::new("109", "the phone.area_code is invalid.");
pub const PHONE_NUMBER_INVALID: Cause = Cause::new("110", "the phone.number is invalid.");
pub const IDENTIFICATION_TYPE_INVALID: Cause = Cause::new("111", "the identification.type is invalid.");
pub const IDENTIFICATION_NUMBER_INVALID: Cause = Cause::new("112", "the identification.number is invalid.");
pub const ZIP_CODE_INVALID: Cause = Cause::new("113", "the address.zip_code is invalid.");
pub const STREET_NAME_INVALID: Cause = Cause::new("114", "the address.street_name is invalid.");
pub const DATE_REGISTERED_INVALID: Cause = Cause::new("115", "the date_registered format is invalid.");
pub const DESCRIPTION_INVALID: Cause = Cause::new("116", "the description is invalid.");
pub const METADATA_INVALID: Cause = Cause::new("117", "the metadata is invalid.");
pub const BODY_NOT_OBJECT: Cause = Cause::new("118", "the body must be a Json Object.");
pub const CARD_REQUIRED: Cause = Cause::new("119", "the card is required.");
pub const CARD_NOT_FOUND: Cause = Cause::new("120", "card not found.");
pub const CARD_INVALID: Cause = Cause::new("121", "the card is invalid.");
pub const CARDS_FULL: Cause = Cause::new("129", "the customer has reached the maximum allowed number of cards.");
pub const PARAMETERS_INVALID: Cause = Cause::new("125", "invalid parameters.");
pub const EMAIL_NOT_UPDATABLE: Cause = Cause::new("126", "invalid parameter. You cannot update the email.");
pub const FILTERS_INVALID: Cause = Cause::new("204", "invalid filters format.");

/// Short codes (area code, document type, zip code) at most.
pub const CODE_CHARS_MAX: usize = 20;
/// Phone and document numbers, address ids and default card or address ids at most.
pub const NUMBER_CHARS_MAX: usize = 40;
/// Street and city names at most.
pub const STREET_CHARS_MAX: usize = 255;

/// What a create or an update sets; `None` is "not sent" (an update leaves it as it
/// is). `metadata` is the JSON object's text, checked to be an object by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerData {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<Phone>,
    pub identification: Option<Identification>,
    pub default_address: Option<String>,
    pub address: Option<Address>,
    pub date_registered: Option<String>,
    pub description: Option<String>,
    pub default_card: Option<String>,
    pub metadata: Option<String>,
}

impl CustomerData {
    /// Valid for a create: an email is required.
    pub fn for_create(self) -> Result<CustomerData, Cause> {
        if self.email.is_none() {
            return Err(EMAIL_INVALID);
        }
        self.validated()
    }

    /// Every field sent is well formed.
    pub fn validated(self) -> Result<CustomerData, Cause> {
        if self.email.as_deref().is_some_and(|e| !valid_email(e)) {
            return Err(EMAIL_INVALID);
        }
        text(&self.first_name, NAME_CHARS_MAX, FIRST_NAME_INVALID)?;
        text(&self.last_name, NAME_CHARS_MAX, LAST_NAME_INVALID)?;
        if let Some(phone) = &self.phone {
            text(&phone.area_code, CODE_CHARS_MAX, AREA_CODE_INVALID)?;
            text(&phone.number, NUMBER_CHARS_MAX, PHONE_NUMBER_INVALID)?;
        }
        if let Some(identification) = &self.identification {
            text(&identification.kind, CODE_CHARS_MAX, IDENTIFICATION_TYPE_INVALID)?;
            text(&identification.number, NUMBER_CHARS_MAX, IDENTIFICATION_NUMBER_INVALID)?;
        }
        if let Some(address) = &self.address {
            text(&address.zip_code, CODE_CHARS_MAX, ZIP_CODE_INVALID)?;
            text(&address.street_name, STREET_CHARS_MAX, STREET_NAME_INVALID)?;
            text(&address.id, NUMBER_CHARS_MAX, PARAMETERS_INVALID)?;
            text(&address.city, STREET_CHARS_MAX, PARAMETERS_INVALID)?;
            if address.street_number.is_some_and(|n| n < 0) {
                return Err(PARAMETERS_INVALID);
            }
        }
        if let Some(date) = &self.date_registered {
            if DateTime::parse_from_rfc3339(date).is_err() {
                return Err(DATE_REGISTERED_INVALID);
            }
        }
        text(&self.description, DESCRIPTION_CHARS_MAX, DESCRIPTION_INVALID)?;
        text(&self.default_address, NUMBER_CHARS_MAX, PARAMETERS_INVALID)?;
        text(&self.default_card, NUMBER_CHARS_MAX, PARAMETERS_INVALID)?;
        Ok(self)
    }
}

/// Present text must be 1 to `max` characters without control characters.
fn text(value: &Option<String>, max: usize, cause: Cause) -> Result<(), Cause> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) => Err(cause),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_email() -> CustomerData {
        CustomerData { email: Some("ana@example.com".into()), ..CustomerData::default() }
    }

    #[test]
    fn a_create_needs_a_valid_email() {
        assert_eq!(CustomerData::default().for_create(), Err(EMAIL_INVALID));
        let bad = CustomerData { email: Some("not-an-email".into()), ..CustomerData::default() };
        assert_eq!(bad.for_create(), Err(EMAIL_INVALID));
        assert!(with_email().for_create().is_ok());
    }

    #[test]
    fn each_field_is_refused_with_its_own_cause() {
        let long = Some("x".repeat(300));
        let cases = [
            (CustomerData { first_name: long.clone(), ..with_email() }, FIRST_NAME_INVALID),
            (CustomerData { last_name: Some(String::new()), ..with_email() }, LAST_NAME_INVALID),
            (
                CustomerData { phone: Some(Phone { area_code: long.clone(), number: None }), ..with_email() },
                AREA_CODE_INVALID,
            ),
            (
                CustomerData { phone: Some(Phone { area_code: None, number: long.clone() }), ..with_email() },
                PHONE_NUMBER_INVALID,
            ),
            (
                CustomerData {
                    identification: Some(Identification { kind: long.clone(), number: None }),
                    ..with_email()
                },
                IDENTIFICATION_TYPE_INVALID,
            ),
            (
                CustomerData {
                    identification: Some(Identification { kind: None, number: long.clone() }),
                    ..with_email()
                },
                IDENTIFICATION_NUMBER_INVALID,
            ),
            (
                CustomerData {
                    address: Some(Address { zip_code: long.clone(), ..Address::default() }),
                    ..with_email()
                },
                ZIP_CODE_INVALID,
            ),
            (
                CustomerData {
                    address: Some(Address { street_name: Some("x".repeat(256)), ..Address::default() }),
                    ..with_email()
                },
                STREET_NAME_INVALID,
            ),
            (CustomerData { date_registered: Some("2023-10-20".into()), ..with_email() }, DATE_REGISTERED_INVALID),
            (CustomerData { description: Some("x".repeat(256)), ..with_email() }, DESCRIPTION_INVALID),
        ];
        for (data, cause) in cases {
            assert_eq!(data.for_create(), Err(cause));
        }
        let dated = CustomerData { date_registered: Some("2023-10-20T11:37:30.000-04:00".into()), ..with_email() };
        assert!(dated.for_create().is_ok(), "an offset is kept as sent");
    }
}
