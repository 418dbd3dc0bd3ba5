//! Hostile clients (#12 item 2): slow headers, stalled bodies, bodies that lie about
//! their length, oversized headers and header counts, thousands of idle connections.
//! Each is refused or cut off, and caja keeps answering everyone else promptly.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Account, Options, TestApp};

/// Deadlines of two seconds, not ten, so a test waits briefly; "promptly" below is
/// well under them, so a client held up behind the hostile ones would show.
const DEADLINE: Duration = Duration::from_secs(2);
/// What "promptly" means, with room for a busy CI machine.
const PROMPT: Duration = Duration::from_millis(1_000);

async fn app() -> TestApp {
    let client_limits = caja::http::serve::ClientLimits {
        header_read_timeout: DEADLINE,
        body_read_timeout: DEADLINE,
        ..caja::http::serve::ClientLimits::default()
    };
    TestApp::spawn_with(Options { client_limits, ..Options::default() }).await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// A well-behaved client is answered promptly while the hostile ones hang on.
async fn others_are_served_promptly(app: &TestApp) {
    for _ in 0..5 {
        let started = Instant::now();
        let response = app.client.get(format!("{}/health", app.base)).send().await.expect("health");
        assert_eq!(response.status(), 200);
        assert!(started.elapsed() < PROMPT, "health took {:?}", started.elapsed());
    }
}

/// Everything the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// The status line's code and the JSON body of a raw HTTP/1.1 response.
fn parse(raw: &str) -> (u16, Value) {
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn write_head(path: &str, account: &Account, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: caja\r\nAuthorization: Bearer {}\r\nX-Idempotency-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        account.token,
        uuid::Uuid::new_v4()
    )
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off_and_others_are_served() {
    let app = app().await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        stream.write_all(b"POST /terminals/v1/actions HTTP/1.1\r\nHost: caja\r\nX-Slow: ").await.unwrap();
        slow.push(stream);
    }
    others_are_served_promptly(&app).await;
    for stream in &mut slow {
        // Cut off after the header deadline, with no request run.
        let seen = read_until_closed(stream, DEADLINE * 4).await;
        assert!(seen.is_some(), "a slow-header connection was still open long after its deadline");
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_deadline() {
    let app = app().await;
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    assert!(read_until_closed(&mut idle, DEADLINE * 4).await.is_some());
    assert!(
        started.elapsed() >= DEADLINE - Duration::from_millis(100),
        "closed before its deadline: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_body_gets_408_in_the_familys_format() {
    let app = app().await;
    let account = app.test_account().await;
    // Point (the classic error body) and Orders (the Orders envelope).
    for path in ["/terminals/v1/actions", "/v1/orders"] {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        // It promises 100 bytes and sends 10.
        stream.write_all(write_head(path, &account, 100).as_bytes()).await.unwrap();
        stream.write_all(b"{\"type\":\"p").await.unwrap();
        let started = Instant::now();
        let raw = read_until_closed(&mut stream, DEADLINE * 4).await.expect("answered and closed");
        assert!(started.elapsed() < DEADLINE * 3, "{:?}", started.elapsed());
        let (status, body) = parse(&raw);
        assert_eq!(status, 408, "{raw}");
        if path == "/v1/orders" {
            assert_eq!(body["errors"][0]["code"], "request_timeout", "{raw}");
        } else {
            assert_eq!(
                (body["error"].as_str(), body["status"].as_u64()),
                (Some("request_timeout"), Some(408)),
                "{raw}"
            );
        }
    }
    others_are_served_promptly(&app).await;
    // Nothing was created by the cut-off requests.
    assert_eq!(app.count("resources"), 0);
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_is_not_taken_as_another_request() {
    let app = app().await;
    let account = app.test_account().await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    // Content-Length says 2: the body is `{}`; what follows is parsed as the next
    // request on the connection, and it is not one.
    let smuggled =
        format!("{}{{}}GET /health HTTP/1.1 trailing garbage\r\n\r\n", write_head("/v1/customers", &account, 2));
    stream.write_all(smuggled.as_bytes()).await.unwrap();
    let raw = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("closed");
    let answers: Vec<&str> = raw.matches("HTTP/1.1 ").collect();
    // The customer create ran on `{}` (refused: it needs an email) and the junk got a 400.
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(answers.len() <= 2, "{raw}");
    assert!(!raw.contains("\"status\":\"ok\""), "the junk was served as a request: {raw}");
    others_are_served_promptly(&app).await;
}

#[tokio::test]
async fn oversized_headers_and_too_many_headers_are_431() {
    let app = app().await;
    let huge = "x".repeat(4 * caja::http::serve::HEADER_BYTES_MAX);
    let response = app.client.get(format!("{}/health", app.base)).header("X-Huge", huge).send().await;
    match response {
        Ok(response) => assert_eq!(response.status(), 431),
        // hyper may close the connection as it answers; then the client sees the reset.
        Err(err) => assert!(err.is_request() || err.is_connect(), "{err}"),
    }
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let mut head = String::from("GET /health HTTP/1.1\r\nHost: caja\r\n");
    for i in 0..=caja::http::serve::HEADER_COUNT_MAX {
        head.push_str(&format!("X-H{i}: v\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let raw = read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("closed");
    assert!(raw.starts_with("HTTP/1.1 431"), "{raw}");
    others_are_served_promptly(&app).await;
}

#[tokio::test]
async fn two_thousand_idle_connections_do_not_slow_anyone_down() {
    let app = app().await;
    let account = app.test_account().await;
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        idle.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    others_are_served_promptly(&app).await;
    let started = Instant::now();
    let id = app.new_action(&account, crate::helpers::TERMINAL).await;
    assert!(started.elapsed() < PROMPT, "a create took {:?}", started.elapsed());
    assert_eq!(app.action_status(&account, &id).await, "created");
    drop(idle);
}
