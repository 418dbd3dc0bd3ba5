//! The request log's redaction of what clients send (`http::request_log`): for any
//! body, content type and path it never panics; a JSON body comes out as JSON with
//! every field named as a secret (any spelling of `SECRET_NAMES`) redacted, at any
//! depth; a query's secret-named parameters are redacted.
#![no_main]

use caja::http::request_log::{body_text, path_text, SECRET_NAMES};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn secret(name: &str) -> bool {
    let name: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    SECRET_NAMES.iter().any(|s| name.ends_with(s))
}

fn check(value: &Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                if secret(name) {
                    assert_eq!(field, &Value::String("[redacted]".into()), "{name} kept");
                } else {
                    check(field);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(check),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let (kind, body) = data.split_first().map_or((0, data), |(k, rest)| (*k, rest));
    let content_type = ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "image/png"]
        [usize::from(kind) % 5];
    let shown = body_text(body, content_type.to_owned());
    if serde_json::from_slice::<Value>(body).is_ok() && body.len() <= caja::http::request_log::BODY_CHARS_LOGGED_MAX {
        let value: Value = serde_json::from_str(&shown).expect("a JSON body stays JSON");
        check(&value);
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let path = format!("/v1/x?{text}");
        let shown = path_text(&path);
        for pair in shown.split_once('?').map(|(_, q)| q).unwrap_or("").split('&') {
            let name = pair.split('=').next().unwrap_or("");
            let decoded: String = form_urlencoded::parse(name.as_bytes()).map(|(k, _)| k.into_owned()).collect();
            if secret(&decoded) && pair.contains('=') {
                assert!(pair.ends_with("=[redacted]"), "{pair} kept in {shown}");
            }
        }
    }
});
