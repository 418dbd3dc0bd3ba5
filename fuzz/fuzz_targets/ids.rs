//! Every id a client names in a path or a body, and the names of statuses and kinds it
//! may send: each parser is tried on every input. Whatever parses must show as the
//! very text it was parsed from, and survive its stored (serde) form unchanged.
#![no_main]

use std::fmt::Debug;

use caja::domain::card::{CardId, CardTokenId};
use caja::domain::customer::{CustomerId, ProfileId, ProfileStatus};
use caja::domain::order::{self, OrderId, PaymentId, RefundId};
use caja::domain::payout::{PayoutId, TransactionId, TransactionStatus};
use caja::domain::terminal_action::{ActionId, ActionStatus, PrintSubtype};
use caja::domain::{audit::ResourceType, notification::NotificationStatus, payment, SiteId};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

/// `parse` then `show` gives the text back, and the stored form reads back as the same.
fn round_trip<T>(text: &str, parse: impl Fn(&str) -> Option<T>, show: impl Fn(&T) -> String)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Some(parsed) = parse(text) else { return };
    assert_eq!(show(&parsed), text, "{parsed:?} does not show as the text it came from");
    let stored = serde_json::to_string(&parsed).expect("serializable");
    let back: T = serde_json::from_str(&stored).expect("its own stored form reads back");
    assert_eq!(back, parsed);
}

/// The same, for what is stored as its text: reading the text as a JSON string agrees
/// with `parse`.
fn as_text<T>(text: &str, parse: impl Fn(&str) -> Option<T>, show: impl Fn(&T) -> String)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let read: Option<T> = serde_json::from_value(serde_json::Value::String(text.to_owned())).ok();
    assert_eq!(read, parse(text), "the stored form and the parser disagree on {text:?}");
    round_trip(text, parse, show);
}

/// A name with no serde form of its own: `parse` then `as_str` gives the text back.
fn name<T: Copy + Debug>(text: &str, parse: impl Fn(&str) -> Option<T>, show: impl Fn(T) -> &'static str) {
    if let Some(parsed) = parse(text) {
        assert_eq!(show(parsed), text, "{parsed:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    as_text(text, ActionId::parse, ActionId::to_string);
    round_trip(text, PayoutId::parse, PayoutId::to_string);
    round_trip(text, TransactionId::parse, TransactionId::to_string);
    as_text(text, CustomerId::parse, |id| id.as_str().to_owned());
    as_text(text, ProfileId::parse, |id| id.as_str().to_owned());
    as_text(text, CardTokenId::parse, |id| id.as_str().to_owned());
    as_text(text, CardId::parse, |id| id.as_str().to_owned());
    as_text(text, OrderId::parse, |id| id.as_str().to_owned());
    as_text(text, PaymentId::parse, |id| id.as_str().to_owned());
    as_text(text, RefundId::parse, |id| id.as_str().to_owned());
    as_text(text, |s| s.parse::<SiteId>().ok(), |s| s.as_str().to_owned());
    as_text(text, ActionStatus::parse, |s| s.as_str().to_owned());
    as_text(text, PrintSubtype::parse, |s| s.as_str().to_owned());
    as_text(text, TransactionStatus::parse, |s| s.as_str().to_owned());
    as_text(text, ProfileStatus::parse, |s| s.as_str().to_owned());
    as_text(text, payment::Status::parse, |s| s.as_str().to_owned());
    as_text(text, order::Status::parse, |s| s.as_str().to_owned());
    as_text(text, order::OrderType::parse, |s| s.as_str().to_owned());
    as_text(text, order::PaymentType::parse, |s| s.as_str().to_owned());
    name(text, ResourceType::parse, ResourceType::as_str);
    name(text, NotificationStatus::parse, NotificationStatus::as_str);
    name(text, order::simulation_status, order::Status::as_str);
    // Payout ids are drawn below 2^53 and read back from the decimal text only.
    if let Some(id) = PayoutId::parse(text) {
        assert!(id.get() > 0 && PayoutId::new(id.get()) == Some(id));
    }
});
