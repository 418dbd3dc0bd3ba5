//! Paths and query strings of every route (ids in paths: the http layer's own
//! payment and merchant order ids too; listing and search parameters, dates among
//! them), with no body. Input: a method byte (`'0'` GET, `'1'` POST, `'2'` PUT, `'3'`
//! DELETE, `'4'` PATCH; any byte picks one), then the path and query; `{name}`s of
//! the start-up resources are filled in. No answer is a 5xx, every API answer is
//! JSON, a write sent again under its key answers the same bytes, and a read asked
//! twice answers the same bytes (the hosted checkout's page, which issues a fresh
//! form key each time, aside).
#![no_main]

use caja_fuzz::{check_answer, App, Kind};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let method = METHODS[usize::from(first.wrapping_sub(b'0')) % METHODS.len()];
    let app = App::get();
    let Ok(path) = String::from_utf8(app.fill(rest)) else { return };
    let page = path.starts_with("/checkout/v1/");
    let kind = if page { Kind::Form } else { Kind::Json };
    let key = (method != "GET").then(|| app.fresh_key());
    let Some(answer) = app.send(method, &path, key.as_deref(), &[], Vec::new()) else { return };
    check_answer(method, &path, kind, &answer, b"");
    if page && method == "GET" {
        return;
    }
    let again = app.send(method, &path, key.as_deref(), &[], Vec::new()).expect("the same path again");
    assert_eq!((again.status, &again.body), (answer.status, &answer.body), "{method} {path} answered differently");
});
