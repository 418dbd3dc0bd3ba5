//! The web console over HTTP (the browser test drives the same pages in Chromium):
//! sign-in and its cookie, CSRF on every form, the request log (live rows, filters,
//! redaction, retention), resources with their audit trails, the moves a button may
//! make (through the engine, idempotent), webhooks with resend, and one account
//! never seeing another's.

use std::time::{Duration, Instant};

use caja::domain::Timestamp;
use caja::http::console::session;
use caja::http::request_log::Retention;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{action_body, unique_key, Account, Options, TestApp};
use crate::receiver::Receiver;
use crate::webhooks::quick;

/// A browser-like client of the console: keeps its cookie, follows no redirect.
struct Console {
    base: String,
    http: Client,
    cookie: std::sync::Mutex<Option<String>>,
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

impl Console {
    fn new(app: &TestApp) -> Console {
        let http = Client::builder().redirect(Policy::none()).build().unwrap();
        Console { base: app.base.clone(), http, cookie: std::sync::Mutex::new(None) }
    }

    /// Send with the cookie, and keep what the response sets (as a browser would).
    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self.cookie.lock().unwrap().clone();
        let request = match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap().to_owned();
            *self.cookie.lock().unwrap() = (!set.contains("Max-Age=0")).then_some(pair);
        }
        response
    }

    async fn sign_in(app: &TestApp, account: &Account) -> Console {
        let console = Console::new(app);
        let response = console.post_form("/console/sign-in", &[("token", &account.token)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in redirects");
        assert_eq!(response.headers()["location"], "/console");
        console
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.send(self.http.get(format!("{}{path}", self.base))).await;
        (response.status(), response.text().await.unwrap())
    }

    async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.http.post(format!("{}{path}", self.base)).form(fields)).await
    }

    /// The log's page, once it shows `needle` (entries are written in the background).
    async fn log_showing(&self, query: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, page) = self.get(&format!("/console{query}")).await;
            assert_eq!(status, StatusCode::OK);
            if page.contains(needle) {
                return page;
            }
            assert!(Instant::now() < deadline, "the request log never showed {needle:?}:\n{page}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The value of a hidden input in a page (the first with that name).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} field in:\n{page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The hidden fields of the move form that leads to `to`.
fn move_form(page: &str, to: &str) -> (String, String) {
    let marker = format!("name=\"to\" value=\"{to}\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no move to {to} offered:\n{page}"));
    let form_start = page[..at].rfind("<form").unwrap();
    (hidden(&page[form_start..], "csrf"), hidden(&page[form_start..], "key"))
}

#[tokio::test]
async fn pages_need_a_session_and_a_bad_token_is_refused() {
    let app = TestApp::spawn().await;
    let console = Console::new(&app);
    for path in ["/console", "/console/resources", "/console/webhooks", "/console/requests/1"] {
        let response = console.send(console.http.get(format!("{}{path}", app.base))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()["location"], "/console/sign-in", "{path}");
    }
    let (status, _) = console.get("/console/requests/rows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = console.post_form("/console/sign-in", &[("token", "TEST-not-a-token")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.text().await.unwrap().contains("not valid"));
    // A sign-in page works without a session and runs only our script.
    let response = console.http.get(format!("{}/console/sign-in", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    assert_eq!(response.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_carries_no_token() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let console = Console::new(&app);
    let response = console.post_form("/console/sign-in", &[("token", &account.token)]).await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("caja_console="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.contains(&account.token), "the cookie must not carry the token");
    let (status, page) = console.get("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("user {}", account.user_id)), "{page}");

    // A cookie with a changed byte is no session.
    let value = cookie.trim_start_matches("caja_console=").split(';').next().unwrap().to_owned();
    let mut forged = value.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let response = Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", app.base))
        .header("cookie", format!("caja_console={forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Signing out clears the cookie (with the form's CSRF token; without it, refused).
    let refused = console.post_form("/console/sign-out", &[("csrf", "0")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let csrf = hidden(&page, "csrf");
    let out = console.post_form("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (status, _) = console.get("/console/requests/rows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_first_run_link_signs_in_and_leaves_no_secret_in_the_address() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let hasher = app.store().token_hasher();
    let ticket = session::ticket(hasher, &hasher.hash(&account.token), now());
    assert!(!ticket.contains(&account.token));
    let console = Console::new(&app);
    let response = console.send(console.http.get(format!("{}/console/sign-in?ticket={ticket}", app.base))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/console", "the redirect drops the ticket");
    let (status, page) = console.get("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("user {}", account.user_id)));

    // A ticket that expired, or was altered, signs nobody in.
    let old = session::ticket(hasher, &hasher.hash(&account.token), Timestamp::from_millis(0));
    // The last hex digit changed (to another digit: replacing it with `0` kept a
    // ticket ending in `0` valid, one run in sixteen).
    let last = if ticket.ends_with('0') { '1' } else { '0' };
    let altered = format!("{}{last}", &ticket[..ticket.len() - 1]);
    for bad in [old, altered, "nonsense".to_owned()] {
        let response =
            Console::new(&app).http.get(format!("{}/console/sign-in?ticket={bad}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(response.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn the_log_shows_each_request_live_filtered_and_redacted() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let console = Console::sign_in(&app, &account).await;
    let created = app.create_action(&account, "log-key-1", &action_body("NEWLAND_N950__N950NCB000000001")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = console.log_showing("", "log-key-1").await;
    assert!(page.contains("/terminals/v1/actions"));
    assert!(page.contains(">201<"));
    // The same key again: replayed, and the log says so.
    let again = app.create_action(&account, "log-key-1", &action_body("NEWLAND_N950__N950NCB000000001")).await;
    assert_eq!(again.headers()["x-idempotency-replayed"], "true");
    console.log_showing("", "replayed").await;
    // A refused call (unknown action) is a 4xx row.
    let missing = app.get_action(&account, "00000000-0000-4000-8000-000000000000").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    console.log_showing("?status=4xx", ">404<").await;
    let (_, twos) = console.get("/console?status=2xx").await;
    assert!(!twos.contains(">404<"), "the 2xx filter shows no 404");
    let (_, by_key) = console.get("/console?key=log-key-1").await;
    assert_eq!(by_key.matches("<tr data-id").count(), 2, "two requests under that key:\n{by_key}");
    let (_, other_family) = console.get("/console?family=payouts").await;
    assert!(!other_family.contains("<tr data-id"), "no payouts requests were made");

    // The live rows: only what is newer than the newest shown.
    let first_id: i64 = hidden_row_id(&by_key);
    let (status, rows) = console.get(&format!("/console/requests/rows?after={first_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!rows.contains(&format!("data-id=\"{first_id}\"")));

    // A card token's number and code never reach the log; the token never does.
    let card = json!({
        "card_number": "5031433215406351", "security_code": "123",
        "expiration_month": 11, "expiration_year": 2030,
        "cardholder": { "name": "APRO", "identification": { "type": "CPF", "number": "12345678909" } }
    });
    let response = app.post("/v1/card_tokens", &account.token, None).json(&card).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let page = console.log_showing("?family=customers", "/v1/card_tokens").await;
    let id = hidden_row_id(&page);
    let (status, detail) = console.get(&format!("/console/requests/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("[redacted]"));
    for secret in ["5031433215406351", "&quot;123&quot;", account.token.as_str()] {
        assert!(!detail.contains(secret), "{secret} reached the log:\n{detail}");
    }
    assert!(detail.contains("Bearer [redacted]"));
}

/// The id of the first row of a log page.
fn hidden_row_id(page: &str) -> i64 {
    let start = page.find("<tr data-id=\"").expect("a row") + "<tr data-id=\"".len();
    page[start..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_button_moves_an_action_through_the_engine_once() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let console = Console::sign_in(&app, &account).await;
    let id = app.new_action(&account, "NEWLAND_N950__N950NCB000000002").await;
    let path = format!("/console/resources/terminal_action/{id}");
    let (status, page) = console.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    // Only what the state machine allows from `created`.
    assert!(page.contains("value=\"at_terminal\"") && page.contains("value=\"canceled\""));
    assert!(!page.contains("name=\"to\" value=\"processed\""), "processed is not a move from created");

    // Without the form's CSRF token nothing moves.
    let (csrf, key) = move_form(&page, "at_terminal");
    let forged =
        console.post_form(&format!("{path}/move"), &[("csrf", "00"), ("key", &key), ("to", "at_terminal")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.action_status(&account, &id).await, "created");

    let moved =
        console.post_form(&format!("{path}/move"), &[("csrf", &csrf), ("key", &key), ("to", "at_terminal")]).await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.action_status(&account, &id).await, "at_terminal");
    // The same form again (a double click, a reload) acts no second time.
    let twice =
        console.post_form(&format!("{path}/move"), &[("csrf", &csrf), ("key", &key), ("to", "at_terminal")]).await;
    assert_eq!(twice.status(), StatusCode::SEE_OTHER);

    let (_, page) = console.get(&path).await;
    let (csrf, key) = move_form(&page, "processed");
    let moved =
        console.post_form(&format!("{path}/move"), &[("csrf", &csrf), ("key", &key), ("to", "processed")]).await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.action_status(&account, &id).await, "processed");

    let trail = app.action_audit(&account, &id).await;
    let moves: Vec<_> = trail.iter().map(|(from, to, _)| (from.clone(), to.clone())).collect();
    assert_eq!(
        moves,
        vec![
            (None, "created".to_owned()),
            (Some("created".to_owned()), "at_terminal".to_owned()),
            (Some("at_terminal".to_owned()), "processed".to_owned()),
        ],
        "one record per move, none for the repeated form"
    );
    let (_, page) = console.get(&path).await;
    assert!(page.contains("<strong id=\"status\">processed</strong>"), "{page}");
    assert!(page.contains("at_terminal → processed"));
    assert!(!page.contains("name=\"to\""), "a processed action has no moves");
    // The moves are in the log, from the console, with their keys.
    let log = console.log_showing("?family=point", ">console<").await;
    assert!(log.contains(&key));
}

#[tokio::test]
async fn a_live_account_gets_no_moves() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    let console = Console::sign_in(&app, &live).await;
    let id = app.new_action(&live, "NEWLAND_N950__N950NCB000000003").await;
    let path = format!("/console/resources/terminal_action/{id}");
    let (status, page) = console.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("name=\"to\""), "no move buttons on a live account");
    let csrf = hidden(&page, "csrf");
    let response = console
        .post_form(&format!("{path}/move"), &[("csrf", &csrf), ("key", "console-x"), ("to", "at_terminal")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.action_status(&live, &id).await, "created");
}

#[tokio::test]
async fn one_account_never_sees_another() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.test_account().await, app.test_account().await);
    let id = app.new_action(&alice, "NEWLAND_N950__N950NCB000000004").await;
    let alice_console = Console::sign_in(&app, &alice).await;
    alice_console.log_showing("", "/terminals/v1/actions").await;
    let bob_console = Console::sign_in(&app, &bob).await;
    let (_, log) = bob_console.get("/console").await;
    assert!(!log.contains("<tr data-id"), "bob sees alice's requests:\n{log}");
    let (status, _) = bob_console.get(&format!("/console/resources/terminal_action/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listing) = bob_console.get("/console/resources?kind=terminal_action").await;
    assert!(!listing.contains(&id));
    let (_, listing) = alice_console.get("/console/resources?kind=terminal_action").await;
    assert!(listing.contains(&id));
    let (_, logged) = alice_console.get("/console").await;
    let entry = hidden_row_id(&logged);
    let (status, _) = bob_console.get(&format!("/console/requests/{entry}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Bob's form token does not work with Alice's cookie.
    let (_, bob_page) = bob_console.get("/console").await;
    let bob_csrf = hidden(&bob_page, "csrf");
    let response = alice_console
        .post_form(
            &format!("/console/resources/terminal_action/{id}/move"),
            &[("csrf", &bob_csrf), ("key", "console-y"), ("to", "at_terminal")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_webhooks_page_shows_attempts_and_resends() {
    let app = TestApp::spawn_with(quick()).await;
    let account = app.test_account().await;
    let receiver = Receiver::start().await;
    app.listen(&account, &receiver.url).await;
    let id = app.new_action(&account, "NEWLAND_N950__N950NCB000000005").await;
    assert_eq!(app.action_event(&account, &id, "at_terminal").await.status(), StatusCode::NO_CONTENT);
    receiver.wait_for("a delivery", |got| !got.is_empty()).await;
    let console = Console::sign_in(&app, &account).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let (_, page) = console.get("/console/webhooks").await;
        if page.contains("HTTP 200") {
            break page;
        }
        assert!(Instant::now() < deadline, "no delivered attempt shown:\n{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(page.contains(&receiver.url));
    assert!(page.contains("set (signs every notification"));
    let delivered = receiver.received().len();
    let form_at = page.find("/resend\"").expect("a resend button");
    let form = &page[page[..form_at].rfind("<form").unwrap()..];
    let (csrf, key) = (hidden(form, "csrf"), hidden(form, "key"));
    let action = &form[form.find("action=\"").unwrap() + 8..];
    let action = action.split('"').next().unwrap().to_owned();
    let response = console.post_form(&action, &[("csrf", &csrf), ("key", &key)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    receiver.wait_for("the resent notification", |got| got.len() > delivered).await;
    // The resource's page lists its notification too.
    let (_, page) = console.get(&format!("/console/resources/terminal_action/{id}")).await;
    assert!(page.contains(&receiver.url), "{page}");
}

/// How many entries the account has in the request log (read through the store: on
/// SQLite the log is a file of its own).
async fn logged(app: &TestApp, account: &Account) -> usize {
    let user = caja::domain::UserId::new(account.user_id).unwrap();
    app.store().request_log(user, caja::store::RequestLogFilter::default(), 1000).await.unwrap().len()
}

#[tokio::test]
async fn the_log_keeps_only_its_retention() {
    let options = Options { request_log: Retention { rows_max: 3, age_ms: 86_400_000 }, ..Options::default() };
    let app = TestApp::spawn_with(options).await;
    let account = app.test_account().await;
    for n in 0..8 {
        let key = unique_key();
        let body = action_body(&format!("NEWLAND_N950__N950NCB00000001{n}"));
        assert_eq!(app.create_action(&account, &key, &body).await.status(), StatusCode::CREATED);
    }
    let console = Console::sign_in(&app, &account).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = console.get("/console").await;
        let rows = page.matches("<tr data-id").count();
        if rows == 3 && hidden_row_id(&page) >= 8 {
            break;
        }
        assert!(Instant::now() < deadline, "the log was not pruned to 3 entries ({rows}):\n{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(logged(&app, &account).await <= 3);

    // Entries older than the age limit go, even when no request comes after them.
    let young = Options { request_log: Retention { rows_max: 1000, age_ms: 200 }, ..Options::default() };
    let app = TestApp::spawn_with(young).await;
    let account = app.test_account().await;
    app.new_action(&account, "NEWLAND_N950__N950NCB000000019").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    loop {
        let rows = logged(&app, &account).await;
        seen |= rows > 0;
        if seen && rows == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the entry was never written, or never aged out ({rows} rows)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // With no retention at all, nothing is logged.
    let off = Options { request_log: Retention { rows_max: 0, age_ms: 1 }, ..Options::default() };
    let app = TestApp::spawn_with(off).await;
    let account = app.test_account().await;
    app.new_action(&account, "NEWLAND_N950__N950NCB000000020").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(logged(&app, &account).await, 0);
}

/// Where the browser test leaves its screenshots: `docs/` (the README's pictures)
/// with `CAJA_UPDATE_SCREENSHOTS=1`, else `target/console-screenshots/`.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let folder = if std::env::var_os("CAJA_UPDATE_SCREENSHOTS").is_some() {
        root.join("docs")
    } else {
        root.join("target/console-screenshots")
    };
    folder.join(name)
}

/// The issue's "done when", in headless Chromium: the printed link signs in, a call
/// made over the API appears in the open log without a reload, the action's page
/// moves it to `processed` with buttons, and its audit trail and notification show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_watches_a_call_and_moves_it_in_chromium() {
    let app = TestApp::spawn_with(quick()).await;
    let account = app.test_account().await;
    let receiver = Receiver::start().await;
    app.listen(&account, &receiver.url).await;
    let hasher = app.store().token_hasher();
    let link =
        format!("{}/console/sign-in?ticket={}", app.base, session::ticket(hasher, &hasher.hash(&account.token), now()));
    let browser = crate::browser::Browser::start().await;

    browser.goto(&link).await;
    let at = browser.wait_for_url(&format!("{}/console", app.base)).await;
    assert!(!at.contains("ticket"), "the ticket stays out of the address bar: {at}");
    browser.wait_for_text("header", &format!("user {}", account.user_id)).await;

    // A call over the API shows up in the open page by itself.
    let created = app.create_action(&account, "browser-call-1", &action_body("NEWLAND_N950__N950NCB000000030")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    browser.wait_for_text("#requests", "browser-call-1").await;
    browser.screenshot(&screenshot_path("console-requests.png")).await;

    // Its request page: the bodies, the key, Authorization redacted.
    browser.click("#requests tbody tr td.path a").await;
    browser.wait_for_url(&format!("{}/console/requests/", app.base)).await;
    let detail = browser.text("main").await;
    assert!(detail.contains("Bearer [redacted]") && detail.contains("browser-call-1"), "{detail}");
    assert!(!detail.contains(&account.token));
    browser.screenshot(&screenshot_path("console-request.png")).await;

    // The action among the account's resources, then moved with two buttons.
    browser.click("header nav a[href='/console/resources']").await;
    browser.wait_for_text("#resources", &id).await;
    browser.screenshot(&screenshot_path("console-resources.png")).await;
    browser.click(&format!("#resources a[href='/console/resources/terminal_action/{id}']")).await;
    browser.wait_for_text("#status", "created").await;
    browser.click("#moves button[data-to='at_terminal']").await;
    browser.wait_for_text("#status", "at_terminal").await;
    browser.screenshot(&screenshot_path("console-resource-moves.png")).await;
    browser.click("#moves button[data-to='processed']").await;
    browser.wait_for_text("#status", "processed").await;
    let trail = browser.text("#audit").await;
    assert!(trail.contains("created → at_terminal") && trail.contains("at_terminal → processed"), "{trail}");
    assert!(trail.contains("console-"), "the moves' requests are the console's: {trail}");
    assert_eq!(app.action_status(&account, &id).await, "processed");
    // And the notifications of the moves, delivered to the receiver.
    receiver.wait_for("the processed notification", |got| got.len() >= 2).await;
    browser.goto(&format!("{}/console/resources/terminal_action/{id}", app.base)).await;
    browser.wait_for_text("#notifications", "HTTP 200").await;
    browser.screenshot(&screenshot_path("console-resource.png")).await;

    browser.click("header nav a[href='/console/webhooks']").await;
    browser.wait_for_text("main", "HTTP 200").await;
    browser.screenshot(&screenshot_path("console-webhooks.png")).await;

    // Signed out, the token form signs in again.
    browser.click("header form button").await;
    browser.wait_for_url(&format!("{}/console/sign-in", app.base)).await;
    browser.type_into("#token", &account.token).await;
    browser.click("form button[type='submit']").await;
    browser.wait_for_text("#requests", "browser-call-1").await;
    browser.quit().await;
}

/// A second server on the same store (another process of one deployment) honours
/// the first's session and shows what the first logged: sessions and the log live
/// in the store, not in a process.
#[tokio::test]
async fn a_session_works_on_every_server_of_the_store() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let (second, _store) = crate::helpers::start(&app.db.url, Options::default()).await;
    let created = app.create_action(&account, "two-servers-1", &action_body("NEWLAND_N950__N950NCB000000040")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let console = Console::sign_in(&app, &account).await;
    let elsewhere = Console { base: format!("http://{}", second.addr()), ..console };
    elsewhere.log_showing("", "two-servers-1").await;
    let (_, page) = elsewhere.get("/console").await;
    let csrf = hidden(&page, "csrf");
    let out = elsewhere.post_form("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER, "the first server's form token is good on the second");
    second.stop().await.unwrap();
}

/// What a reviewer got past the first redaction: an escaped field name, a secret in
/// the query, a body that is not JSON, another credential header.
#[tokio::test]
async fn no_spelling_of_a_secret_reaches_the_log() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let console = Console::sign_in(&app, &account).await;
    let escaped = r#"{"card_number":"5031433215406351","security\u005fcode":"777","expiration_month":11,"expiration_year":2030,"cardholder":{"name":"APRO"}}"#;
    let sent = app
        .post("/v1/card_tokens", &account.token, None)
        .header("content-type", "application/json")
        .header("x-access-token", &account.token)
        .body(escaped)
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());
    let invalid = r#"{"card_number":"5031 4332 1540 6351","security_code":"456",}"#;
    let sent = app
        .post("/v1/card_tokens?access_token=QUERYSECRET", &account.token, None)
        .header("content-type", "application/json")
        .body(invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::BAD_REQUEST);
    let page = console.log_showing("", "access_token=[redacted]").await;
    assert!(!page.contains("QUERYSECRET"));
    for entry in [hidden_row_id(&page), hidden_row_id(&page) - 1] {
        let (_, detail) = console.get(&format!("/console/requests/{entry}")).await;
        // Quoted as the page escapes them: a bare "777" may be part of an id.
        for secret in [
            "&quot;777&quot;",
            "&quot;456&quot;",
            "5031433215406351",
            "5031 4332",
            "QUERYSECRET",
            account.token.as_str(),
        ] {
            assert!(!detail.contains(secret), "{secret} reached the log:\n{detail}");
        }
    }
}

#[tokio::test]
async fn sign_in_is_guarded_like_the_api() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    // A form posted from another site signs nobody in (login CSRF).
    let console = Console::new(&app);
    let response = console
        .send(
            console
                .http
                .post(format!("{}/console/sign-in", app.base))
                .header("origin", "https://evil.example")
                .form(&[("token", account.token.as_str())]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_none());
    // Guessing is shut out after the failure budget, as at the API (bursts of ten
    // times the per-second budget).
    let mut statuses = Vec::new();
    for n in 0..40 {
        let guess = format!("TEST-guess-{n}");
        statuses.push(console.post_form("/console/sign-in", &[("token", &guess)]).await.status());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // Any other console path is the console's own 404 page.
    let (status, page) = console.get("/console/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("no such page"));
}
