//! Amounts as clients write them: the Orders and Checkout decimal strings
//! (`order_money::Money::parse`), a JSON number's text as Payments read it (the
//! number as serde_json prints it, then `Money::parse`), and a payout's value
//! (`payout::Amount::parse`). Input: the text. What parses is never negative, prints
//! with two decimals, and that print parses to the same amount.
#![no_main]

use caja::domain::order_money::Money;
use caja::domain::payout::{Amount, AMOUNT_CENTS_MAX};
use caja::domain::SiteId;
use libfuzzer_sys::fuzz_target;

fn as_payout(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(money) = Money::parse(text) {
        assert!(money.cents() >= 0, "{text:?} is {money:?}");
        let shown = money.to_string();
        assert_eq!(shown.split_once('.').map(|(_, cents)| cents.len()), Some(2), "{text:?} shown as {shown:?}");
        assert_eq!(Money::parse(&shown), Some(money), "{text:?} shown as {shown:?}");
        let stored = serde_json::to_string(&money).expect("serializable");
        assert_eq!(serde_json::from_str::<Money>(&stored).ok(), Some(money), "stored as {stored}");
        if (1..=AMOUNT_CENTS_MAX).contains(&money.cents()) {
            let payout = Amount::parse("BRL", text, SiteId::Mlb).map(|a| a.cents);
            assert_eq!(payout, Ok(money.cents()), "{text:?}: an order amount but not a payout amount");
        }
    }
    // Payments: the body's number, printed by serde_json, then read as money.
    if let Ok(number) = serde_json::from_str::<serde_json::Number>(text) {
        if let (Some(money), Some(value)) = (Money::parse(&number.to_string()), number.as_f64()) {
            let cents = money.cents() as f64;
            assert!((cents - value * 100.0).abs() <= 1e-6 * cents.max(1.0), "{text:?} read as {money:?}");
        }
    }
    if let Ok(amount) = Amount::parse("BRL", text, SiteId::Mlb) {
        assert!((1..=AMOUNT_CENTS_MAX).contains(&amount.cents), "{text:?} is {amount:?}");
        assert_eq!(amount.currency, "BRL");
        let shown = as_payout(amount.cents);
        assert_eq!(Amount::parse("BRL", &shown, SiteId::Mlb), Ok(amount), "{text:?} shown as {shown:?}");
        assert!(Amount::parse("ARS", text, SiteId::Mlb).is_err(), "another site's currency");
    }
});
