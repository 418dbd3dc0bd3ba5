//! What every request goes through: request ids, rate limits, body limits, routing.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{action_body, assert_error, Options, TestApp, TERMINAL};

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_clients() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let url = format!("{}/terminals/v1/actions/{}", app.base, uuid::Uuid::new_v4());
    let generated = app.client.get(&url).bearer_auth(&account.token).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");
    let echoed = app.client.get(&url).header("X-Request-Id", "req-123").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-123", "even on a 401");
    let garbage = "x".repeat(500);
    let replaced = app.client.get(&url).header("X-Request-Id", &garbage).send().await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], garbage.as_str());
    let missing = app.client.get(format!("{}/nowhere", app.base)).send().await.unwrap();
    assert!(missing.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn over_the_rate_limit_is_429_too_many_requests_with_retry_after_then_recovers() {
    let app = TestApp::spawn_with(Options { rate_limit_per_second: 2, ..Options::default() }).await;
    let account = app.test_account().await;
    let other_token = app.test_account().await;
    let id = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        assert_eq!(app.get_action(&account, &id).await.status(), StatusCode::NOT_FOUND);
    }
    let limited = app.get_action(&account, &id).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_error(limited, 429, "too_many_requests").await;
    // Per token: another token is not limited.
    assert_eq!(app.get_action(&other_token, &id).await.status(), StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(app.get_action(&account, &id).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_error_format() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let mut body = action_body(TERMINAL);
    body["content"] = "x".repeat(caja::http::BODY_BYTES_MAX).into();
    let response = app.create_action(&account, "big", &body).await;
    assert_error(response, 413, "payload_too_large").await;
    // Nothing was stored under the key: it still works for a normal request.
    let ok = app.create_action(&account, "big", &action_body(TERMINAL)).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_413_at_once_without_waiting_for_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let address = app.base.trim_start_matches("http://").to_owned();
    for path in ["/v1/customers", "/terminals/v1/actions"] {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Idempotency-Key: big-1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            account.token,
            caja::http::BODY_BYTES_MAX + 1
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer)).await;
        let n = read.expect("answered at once, not after the request timeout").unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
        assert!(text.contains("payload_too_large"), "{path}: {text}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::spawn().await;
    let missing = app.client.get(format!("{}/v9/nothing", app.base)).send().await.unwrap();
    assert_error(missing, 404, "not_found").await;
    let account = app.test_account().await;
    let url = format!("{}/terminals/v1/actions", app.base);
    let wrong_method = app.client.delete(&url).bearer_auth(&account.token).send().await.unwrap();
    assert_error(wrong_method, 405, "method_not_allowed").await;
    // Authentication comes first, as in the contract's order of checks.
    assert_error(app.client.delete(&url).send().await.unwrap(), 401, "unauthorized").await;
}

#[tokio::test]
async fn health_answers() {
    let app = TestApp::spawn().await;
    let response = app.client.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn the_audit_record_keeps_the_request_id_and_the_idempotency_key() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let response = app
        .post(&format!("/terminals/v1/actions/{id}/cancel"), &account.token, Some("cancel-key"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let trail = app.audit(&account, caja::domain::ResourceType::TerminalAction, &id).await;
    let cancel = trail.last().unwrap();
    assert_eq!(cancel.request_id, "trace-abc-123");
    assert_eq!(cancel.idempotency_key.as_ref().map(|k| k.as_str()), Some("cancel-key"));
    assert_eq!(cancel.user_id.get(), account.user_id);
}

#[tokio::test]
async fn the_payouts_family_is_rate_limited_with_its_own_429() {
    let app = TestApp::spawn_with(Options { rate_limit_per_second: 1, ..Options::default() }).await;
    let account = app.test_account().await;
    let list =
        || app.client.get(format!("{}/v1/payouts/123/transactions", app.base)).bearer_auth(&account.token).send();
    assert_error(list().await.unwrap(), 404, "not_found").await;
    let limited = list().await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "too_many_requests").await;
}

#[tokio::test]
async fn a_failed_read_is_the_point_familys_generic_500() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    // Break the resource table under the running server: the read cannot run (the
    // token's principal is cached in memory by now, so authentication still can).
    app.sql("ALTER TABLE resources RENAME TO resources_away");
    assert_error(app.get_action(&account, &id).await, 500, "500").await;
    app.sql("ALTER TABLE resources_away RENAME TO resources");
    assert_eq!(app.get_action(&account, &id).await.status(), StatusCode::OK);
}

/// Failed authentications are limited per client address: a burst of bad tokens turns
/// from 401 into the family's 429 with `Retry-After`, a valid token from that address
/// waits too (it is not even looked at), and the address is served again after the wait.
#[tokio::test]
async fn guessing_tokens_is_shut_out_per_client_address() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let get = |token: String| {
        let url = format!("{}/terminals/v1/actions/00000000-0000-4000-8000-000000000000", app.base);
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let mut unauthorized = 0;
    let mut shut_out = None;
    for i in 0..60 {
        let response = get(format!("TEST-0-000000-guess{i}-1")).await;
        match response.status().as_u16() {
            401 => unauthorized += 1,
            429 => {
                shut_out = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let shut_out = shut_out.expect("a 429 after the failure budget");
    assert!(unauthorized >= 10, "a few honest mistakes pass as 401s: {unauthorized}");
    let wait: u64 = shut_out.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    crate::helpers::assert_error(shut_out, 429, "too_many_requests").await;
    assert_eq!(get(account.token.clone()).await.status().as_u16(), 429, "shut out, token or not");
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 100)).await;
    assert_eq!(get(account.token.clone()).await.status().as_u16(), 404, "served again: the action does not exist");
}
