//! No endpoint lets one account reach another's resources. Account A makes resources
//! of every family; intruders (B, a test account on A's site; C, a test account on
//! another site; for customers, their cards and payment profiles, which belong to an
//! account and site, also A's own token for another site) then try every route that
//! takes an id, a filter or a body naming one of them.
//!
//! Each probe is a `(method, path, body)` template whose `{placeholders}` are filled
//! twice: with A's values and with well-formed values nobody has. Both answers must be
//! the same (status, content type and body, the placeholder's value aside), so no
//! answer tells an intruder that A's resource exists. Where the contract itself
//! answers another account's resource differently from an unknown one (a payment
//! profile's `caller_id_mismatch` and `site_id_mismatch`, a terminal's
//! `forbidden_checking_terminal_owner`), the probe says so and the documented answer is
//! checked instead. Every probe that names one of A's ids is joined by reads of the
//! intruder's notifications and audit records about it, and by a retry of each of A's
//! notifications. Afterwards no list or search of an intruder shows any of A's values,
//! A reads every resource back unchanged, and A's resources have no audit record but
//! A's own.
//!
//! A route is covered by adding one line to its family's table.

use caja::domain::{SiteId, Timestamp};
use caja::provision::{self, AccountChange, AccountSpec, TerminalSpec};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{action_body, unique_key, Account, TestApp};

// ---------------------------------------------------------------------------------
// Probes.

/// Which values a template's placeholders take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// A's.
    Foreign,
    /// Well-formed, and nobody's.
    Unknown,
}

/// A placeholder `{name}` and the two values it takes.
#[derive(Clone, Debug)]
struct Binding {
    name: String,
    foreign: String,
    unknown: String,
    /// One of A's: no intruder's list may show it, and its audit records and
    /// notifications are probed too.
    secret: bool,
}

impl Binding {
    /// One of A's ids; the unknown one differs from it in its last character only.
    fn id(name: &str, value: &str) -> Binding {
        Binding::value(name, value, &sibling(value))
    }

    /// One of A's values, with a stand-in nobody has.
    fn value(name: &str, foreign: &str, unknown: &str) -> Binding {
        Binding { name: name.to_owned(), foreign: foreign.to_owned(), unknown: unknown.to_owned(), secret: true }
    }

    /// A value the intruder itself sends in a body, so it may see it again in what it
    /// made (an order keeps the card token it was asked to charge): not searched for.
    fn sent(self) -> Binding {
        Binding { secret: false, ..self }
    }

    /// The intruder's own resource: the same on both sides.
    fn own(name: &str, value: &str) -> Binding {
        Binding { secret: false, ..Binding::value(name, value, value) }
    }

    fn on(&self, side: Side) -> &str {
        match side {
            Side::Foreign => &self.foreign,
            Side::Unknown => &self.unknown,
        }
    }
}

/// The same id but for its last character: still well-formed (digits stay digits,
/// hex stays hex), and nobody's.
fn sibling(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    let last = chars.last_mut().expect("an id is not empty");
    *last = match *last {
        '9' => '0',
        c @ ('0'..='8' | 'a'..='e' | 'A'..='E') => char::from(c as u8 + 1),
        c if c.is_ascii_uppercase() => 'A',
        _ => 'a',
    };
    chars.into_iter().collect()
}

/// What an intruder's answer must be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The answer for an unknown id, byte for byte but for the id.
    AsUnknown,
    /// The contract's own answer for another's resource: status and code.
    Documented(u16, &'static str),
}

#[derive(Clone)]
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    expect: Expect,
    /// The part of the answer compared: all of it, unless both sides make something
    /// new (then fresh ids and dates are left out).
    view: fn(&Value) -> Value,
}

fn probe(method: Method, path: &str, body: Option<Value>) -> Probe {
    Probe { method, path: path.to_owned(), body, expect: Expect::AsUnknown, view: Value::clone }
}

fn get(path: &str) -> Probe {
    probe(Method::GET, path, None)
}

fn post(path: &str, body: Option<Value>) -> Probe {
    probe(Method::POST, path, body)
}

fn put(path: &str, body: Value) -> Probe {
    probe(Method::PUT, path, Some(body))
}

fn patch(path: &str, body: Value) -> Probe {
    probe(Method::PATCH, path, Some(body))
}

fn delete(path: &str) -> Probe {
    probe(Method::DELETE, path, None)
}

impl Probe {
    fn documented(self, status: u16, code: &'static str) -> Probe {
        Probe { expect: Expect::Documented(status, code), ..self }
    }

    fn viewed(self, view: fn(&Value) -> Value) -> Probe {
        Probe { view, ..self }
    }
}

/// Both sides create something: only the status and content type are compared.
fn made_anew(_: &Value) -> Value {
    Value::Null
}

/// An online order decided on create: its code and how its payment was decided.
fn order_outcome(order: &Value) -> Value {
    let data = &order["data"];
    json!([
        order["errors"][0]["code"],
        data["status"],
        data["status_detail"],
        data["transactions"]["payments"][0]["status_detail"]
    ])
}

// ---------------------------------------------------------------------------------
// Requests.

#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    text: String,
}

/// One request; every write carries a fresh `X-Idempotency-Key`.
async fn send(app: &TestApp, who: &Account, method: &Method, path: &str, body: Option<&Value>) -> Answer {
    let mut request = app.client.request(method.clone(), format!("{}{path}", app.base)).bearer_auth(&who.token);
    if method != Method::GET {
        request = request.header("X-Idempotency-Key", unique_key());
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    Answer { status, content_type, text: response.text().await.unwrap() }
}

/// A write that must succeed, and its JSON answer.
async fn made(app: &TestApp, who: &Account, path: &str, body: Value) -> Value {
    let answer = send(app, who, &Method::POST, path, Some(&body)).await;
    assert!((200..300).contains(&answer.status), "POST {path}: {answer:?}");
    serde_json::from_str(&answer.text).unwrap()
}

fn id_of(resource: &Value) -> String {
    match &resource["id"] {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    }
}

fn fill(template: &str, bindings: &[Binding], side: Side) -> String {
    let mut text = template.to_owned();
    for b in bindings {
        text = text.replace(&format!("{{{}}}", b.name), b.on(side));
    }
    let unbound = text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).find(|name| {
        !name.is_empty() && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    });
    assert!(unbound.is_none(), "{template}: {{{}}} is not bound", unbound.unwrap_or_default());
    text
}

fn fill_json(template: &Value, bindings: &[Binding], side: Side) -> Value {
    serde_json::from_str(&fill(&template.to_string(), bindings, side)).unwrap()
}

/// `text` with every bound value that stands alone (not inside a longer word or
/// number) put back as its placeholder, longest first.
fn normalized(text: &str, bindings: &[Binding], side: Side) -> String {
    let mut values: Vec<(&str, String)> = bindings.iter().map(|b| (b.on(side), format!("{{{}}}", b.name))).collect();
    values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    let mut text = text.to_owned();
    for (value, placeholder) in values {
        let alone = |at: usize| {
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            !word(text[..at].chars().next_back()) && !word(text[at + value.len()..].chars().next())
        };
        let starts: Vec<usize> = text.match_indices(value).map(|(at, _)| at).filter(|at| alone(*at)).collect();
        for at in starts.into_iter().rev() {
            text.replace_range(at..at + value.len(), &placeholder);
        }
    }
    text
}

// ---------------------------------------------------------------------------------
// The check.

struct Intruder {
    name: &'static str,
    account: Account,
    /// Its own resources, for routes that name one beside one of A's.
    own: Vec<Binding>,
    /// A's token for another site: A's notifications and audit records are its own.
    same_account: bool,
}

fn intruder(name: &'static str, account: &Account, own: Vec<Binding>) -> Intruder {
    Intruder { name, account: account.clone(), own, same_account: false }
}

/// One family: A's values, the probes, the intruders' lists, what A reads back.
struct Case {
    bindings: Vec<Binding>,
    probes: Vec<Probe>,
    lists: Vec<&'static str>,
    reads: Vec<&'static str>,
}

const CAJA_LISTS: [&str; 2] = ["/v1/notifications?limit=100", "/v1/audit-events?limit=100"];

async fn check(app: &TestApp, owner: &Account, case: &Case, intruders: &[Intruder]) {
    let before = owner_view(app, owner, case).await;
    let (notifications, retries) = notification_probes(app, owner).await;
    for intruder in intruders {
        let mut bindings = case.bindings.clone();
        bindings.extend(intruder.own.iter().cloned());
        let mut probes = case.probes.clone();
        if !intruder.same_account {
            bindings.extend(notifications.iter().cloned());
            probes.extend(retries.iter().cloned());
            for secret in case.bindings.iter().filter(|b| b.secret) {
                probes.push(get(&format!("/v1/notifications?resource_id={{{}}}", secret.name)));
                probes.push(get(&format!("/v1/audit-events?resource_id={{{}}}", secret.name)));
            }
        }
        for probe in &probes {
            run(app, intruder, probe, &bindings).await;
        }
        let caja = CAJA_LISTS.iter().filter(|_| !intruder.same_account);
        for template in case.lists.iter().chain(caja) {
            let path = fill(template, &bindings, Side::Foreign);
            let answer = send(app, &intruder.account, &Method::GET, &path, None).await;
            assert_eq!(answer.status, 200, "{} GET {path}: {answer:?}", intruder.name);
            for secret in case.bindings.iter().filter(|b| b.secret) {
                let name = &secret.name;
                assert!(
                    !answer.text.contains(&secret.foreign),
                    "{} sees A's {name} in {path}: {}",
                    intruder.name,
                    answer.text
                );
            }
        }
    }
    let after = owner_view(app, owner, case).await;
    for ((path, was), (_, is)) in before.reads.iter().zip(&after.reads) {
        assert_eq!(was, is, "A's GET {path} changed");
    }
    assert_eq!(before.audit_rows, after.audit_rows, "audit records of A's resources");
    for secret in case.bindings.iter().filter(|b| b.secret) {
        let foreign = format!("audit_events WHERE resource_id = '{}' AND user_id <> {}", secret.foreign, owner.user_id);
        assert_eq!(app.count(&foreign), 0, "audit records of A's {} by another account", secret.name);
    }
}

/// Send a probe with A's values and, unless its answer is documented, with unknown
/// ones, and compare.
async fn run(app: &TestApp, intruder: &Intruder, probe: &Probe, bindings: &[Binding]) {
    let ask = |side| {
        let path = fill(&probe.path, bindings, side);
        let body = probe.body.as_ref().map(|b| fill_json(b, bindings, side));
        async move { send(app, &intruder.account, &probe.method, &path, body.as_ref()).await }
    };
    let what = format!("{} {} {}", intruder.name, probe.method, probe.path);
    let foreign = ask(Side::Foreign).await;
    assert!(
        ![401, 405].contains(&foreign.status) && foreign.status < 500 && !foreign.text.contains("No such route."),
        "{what} never reached its route: {foreign:?}"
    );
    match probe.expect {
        Expect::Documented(status, code) => {
            let body: Value = serde_json::from_str(&foreign.text).unwrap_or(Value::Null);
            let got = body["error"].as_str().or_else(|| body["errors"][0]["code"].as_str());
            assert_eq!((foreign.status, got), (status, Some(code)), "{what}: {foreign:?}");
        }
        Expect::AsUnknown => {
            let unknown = ask(Side::Unknown).await;
            // Only the values this probe sends are put back: a short one (a
            // notification's id) would otherwise be found inside unrelated numbers.
            let template = format!("{} {}", probe.path, probe.body.as_ref().map(Value::to_string).unwrap_or_default());
            let sent: Vec<Binding> =
                bindings.iter().filter(|b| template.contains(&format!("{{{}}}", b.name))).cloned().collect();
            let seen = |answer: &Answer, side| {
                let text = normalized(&answer.text, &sent, side);
                let body = serde_json::from_str(&text).map_or(Value::String(text), |v| (probe.view)(&v));
                (answer.status, answer.content_type.clone(), body)
            };
            assert_eq!(
                seen(&foreign, Side::Foreign),
                seen(&unknown, Side::Unknown),
                "{what}: A's resource is answered unlike an unknown one"
            );
        }
    }
}

/// A retry of each of A's notifications, against an id far past any there is.
async fn notification_probes(app: &TestApp, owner: &Account) -> (Vec<Binding>, Vec<Probe>) {
    let answer = send(app, owner, &Method::GET, "/v1/notifications?limit=100", None).await;
    let listed: Value = serde_json::from_str(&answer.text).unwrap();
    let ids: Vec<i64> = listed["results"].as_array().unwrap().iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert!(!ids.is_empty(), "A's changes are notified");
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let name = format!("notification_{i}");
            let binding = Binding::value(&name, &id.to_string(), &(9_000_000_000 + id).to_string()).sent();
            (binding, post(&format!("/v1/notifications/{{{name}}}/retry"), None))
        })
        .unzip()
}

struct OwnerView {
    reads: Vec<(String, Answer)>,
    /// How many audit records each of A's values has, whoever wrote them.
    audit_rows: Vec<(String, i64)>,
}

async fn owner_view(app: &TestApp, owner: &Account, case: &Case) -> OwnerView {
    let mut reads = Vec::new();
    for template in case.reads.iter().chain(&CAJA_LISTS) {
        let path = fill(template, &case.bindings, Side::Foreign);
        let answer = send(app, owner, &Method::GET, &path, None).await;
        assert_eq!(answer.status, 200, "A's GET {path}: {answer:?}");
        reads.push((path, answer));
    }
    let audit_rows = case
        .bindings
        .iter()
        .filter(|b| b.secret)
        .map(|b| (b.name.clone(), app.count(&format!("audit_events WHERE resource_id = '{}'", b.foreign))))
        .collect();
    OwnerView { reads, audit_rows }
}

// ---------------------------------------------------------------------------------
// The world: A, whose changes are notified (so that notifications exist), B on A's
// site and C on another.

struct World {
    app: TestApp,
    a: Account,
    b: Account,
    c: Account,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let a = app.test_account().await;
    let listen = AccountChange { notification_url: Some("http://127.0.0.1:9/hook".into()), ..AccountChange::default() };
    provision::change_account(app.store().as_ref(), a.user_id, listen).await.unwrap();
    let b = app.test_account().await;
    let c = app.account_with(AccountSpec { site_id: SiteId::Mla, live_mode: false, payouts_enabled: true }).await;
    World { app, a, b, c }
}

fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", unique_key())
}

async fn card_token(app: &TestApp, who: &Account) -> String {
    let body = json!({
        "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030, "security_code": "123",
        "cardholder": { "name": "APRO", "identification": { "type": "CPF", "number": "12345678909" } },
    });
    id_of(&made(app, who, "/v1/card_tokens", body).await)
}

async fn customer(app: &TestApp, who: &Account, email: &str) -> String {
    id_of(&made(app, who, "/v1/customers", json!({ "email": email, "first_name": "Ana" })).await)
}

async fn saved_card(app: &TestApp, who: &Account, customer: &str) -> String {
    let token = card_token(app, who).await;
    id_of(&made(app, who, &format!("/v1/customers/{customer}/cards"), json!({ "token": token })).await)
}

fn card_order_body(token: &str, extra: Value) -> Value {
    let mut body = json!({
        "type": "online", "total_amount": "100.00", "external_reference": fresh("order"),
        "payer": { "email": "test@testuser.com" },
        "transactions": { "payments": [{
            "amount": "100.00",
            "payment_method": { "id": "master", "type": "credit_card", "token": token, "installments": 1 },
        }] },
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

fn manual_order_body(reference: &str) -> Value {
    json!({ "type": "online", "processing_mode": "manual", "total_amount": "10.00", "external_reference": reference })
}

fn card_payment_body(token: &str, extra: Value) -> Value {
    let mut body = json!({
        "transaction_amount": 110.5, "token": token, "installments": 1, "payer": { "email": "test@testuser.com" },
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

fn payout_body(currency: &str) -> Value {
    json!({
        "external_reference": fresh("payout"),
        "transactions": [{
            "type": "account", "account": { "id": "123456", "holder": "Ana" },
            "amount": { "currency": currency, "value": 10 },
            "description": "supplier", "external_reference": fresh("tx"),
        }],
    })
}

/// Every order of an account, a page of them.
const ORDERS: &str = "/v1/orders?begin_date=2020-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z&page_size=100";

// ---------------------------------------------------------------------------------
// The families.

#[tokio::test]
async fn point_actions_and_terminals() {
    let World { app, a, b, c } = world().await;
    let terminal = format!("NEWLAND_N950__A{}", unique_key().replace('-', "")[..12].to_uppercase());
    let (pos, store) = (rand::random_range(1_000_000..9_000_000), rand::random_range(1_000_000..9_000_000));
    let spec = TerminalSpec {
        terminal_id: terminal.clone(),
        pos_id: Some(pos),
        store_id: Some(store),
        external_pos_id: Some("till-1".into()),
        operating_mode: "PDV".into(),
    };
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    provision::add_terminal(app.store().as_ref(), a.user_id, spec, now).await.unwrap();
    let action = id_of(&made(&app, &a, "/terminals/v1/actions", action_body(&terminal)).await);
    let point_order = json!({
        "type": "point", "external_reference": "p-1", "expiration_time": "PT16M",
        "transactions": { "payments": [{ "amount": "50.00" }] },
        "config": { "point": { "terminal_id": "{terminal}" }, "payment_method": { "default_type": "credit_card" } },
    });
    let case = Case {
        bindings: vec![
            Binding::id("action", &action),
            Binding::id("terminal", &terminal),
            Binding::id("pos", &pos.to_string()).sent(),
            Binding::id("store", &store.to_string()).sent(),
        ],
        probes: vec![
            get("/terminals/v1/actions/{action}"),
            get("/terminals/v1/list?pos_id={pos}"),
            get("/terminals/v1/list?store_id={store}"),
            get("/terminals/v1/list?store_id={store}&pos_id={pos}"),
            post("/terminals/v1/actions/{action}/cancel", None),
            post("/terminals/v1/actions/{action}/events", Some(json!({ "status": "at_terminal" }))),
            patch(
                "/terminals/v1/setup",
                json!({ "terminals": [{ "id": "{terminal}", "operating_mode": "STANDALONE" }] }),
            ),
            // An unknown terminal becomes the caller's on first use; another
            // account's is refused as the contract says (README, `caja terminal add`).
            post("/terminals/v1/actions", Some(action_body("{terminal}")))
                .documented(403, "forbidden_checking_terminal_owner"),
            post("/v1/orders", Some(point_order)).documented(403, "forbidden_checking_terminal_owner"),
        ],
        lists: vec!["/terminals/v1/list"],
        reads: vec!["/terminals/v1/actions/{action}", "/terminals/v1/list"],
    };
    check(&app, &a, &case, &[intruder("B", &b, vec![]), intruder("C", &c, vec![])]).await;
}

#[tokio::test]
async fn payouts_and_their_transactions() {
    let World { app, a, b, c } = world().await;
    let payout = made(&app, &a, "/v1/payouts", payout_body("BRL")).await;
    let transaction = payout["transactions"][0]["id"].as_str().unwrap();
    let own = |payout: Value| vec![Binding::own("own_payout", &id_of(&payout))];
    let intruders = [
        intruder("B", &b, own(made(&app, &b, "/v1/payouts", payout_body("BRL")).await)),
        intruder("C", &c, own(made(&app, &c, "/v1/payouts", payout_body("ARS")).await)),
    ];
    let case = Case {
        bindings: vec![Binding::id("payout", &id_of(&payout)), Binding::id("transaction", transaction)],
        probes: vec![
            get("/v1/payouts/{payout}"),
            get("/v1/payouts/{payout}/transactions"),
            get("/v1/payouts/{payout}/transactions?status=pending"),
            get("/v1/payouts/{payout}/transactions/{transaction}"),
            put("/v1/payouts/{payout}/transactions/{transaction}/cancel", json!({ "comments": "mine now" })),
            post("/v1/payouts/{payout}/transactions/{transaction}/events", Some(json!({ "status": "in_process" }))),
            // A's transaction under the intruder's own payout.
            get("/v1/payouts/{own_payout}/transactions/{transaction}"),
            put("/v1/payouts/{own_payout}/transactions/{transaction}/cancel", json!({})),
            post("/v1/payouts/{own_payout}/transactions/{transaction}/events", Some(json!({ "status": "in_process" }))),
        ],
        lists: vec!["/v1/payouts/{own_payout}/transactions"],
        reads: vec![
            "/v1/payouts/{payout}",
            "/v1/payouts/{payout}/transactions",
            "/v1/payouts/{payout}/transactions/{transaction}",
        ],
    };
    check(&app, &a, &case, &intruders).await;
}

/// Customers and their cards belong to an account *and site*: A's token for another
/// site is an intruder too. Card tokens belong to the account.
#[tokio::test]
async fn customers_cards_and_card_tokens() {
    let World { app, a, b, c } = world().await;
    let email = format!("{}@example.com", fresh("a"));
    let customer_id = customer(&app, &a, &email).await;
    let card = saved_card(&app, &a, &customer_id).await;
    let unused_token = card_token(&app, &a).await;
    let a_elsewhere = app.token_for(&a, SiteId::Mla).await;
    let mut intruders = Vec::new();
    for (name, who) in [("B", &b), ("C", &c), ("A on MLA", &a_elsewhere)] {
        let own_customer = customer(&app, who, &format!("{}@example.com", fresh("own"))).await;
        let own =
            vec![Binding::own("own_customer", &own_customer), Binding::own("own_token", &card_token(&app, who).await)];
        intruders.push(Intruder { same_account: who.user_id == a.user_id, ..intruder(name, who, own) });
    }
    let a_elsewhere = intruders.pop().unwrap();
    let site_scoped = vec![
        get("/v1/customers/{customer}"),
        put("/v1/customers/{customer}", json!({ "first_name": "Eve" })),
        delete("/v1/customers/{customer}"),
        get("/v1/customers/search?email={email}"),
        get("/v1/customers/{customer}/cards"),
        post("/v1/customers/{customer}/cards", Some(json!({ "token": "{own_token}" }))),
        get("/v1/customers/{customer}/cards/{card}"),
        put("/v1/customers/{customer}/cards/{card}", json!({ "expiration_month": 12 })),
        delete("/v1/customers/{customer}/cards/{card}"),
        // A's card under the intruder's own customer.
        get("/v1/customers/{own_customer}/cards/{card}"),
        put("/v1/customers/{own_customer}/cards/{card}", json!({ "expiration_month": 12 })),
        delete("/v1/customers/{own_customer}/cards/{card}"),
        // A token of A's saved card.
        post("/v1/card_tokens", Some(json!({ "card_id": "{card}", "security_code": "123" }))),
        post(
            "/v1/card_tokens",
            Some(json!({ "card_id": "{card}", "customer_id": "{customer}", "security_code": "123" })),
        ),
    ];
    let mut account_scoped = site_scoped.clone();
    account_scoped.extend([
        get("/v1/card_tokens/{card_token}"),
        post("/v1/customers/{own_customer}/cards", Some(json!({ "token": "{card_token}" }))),
        // An email is unique within an account: another account may take A's, which
        // tells it nothing (last: the intruder's own customer then has it).
        post("/v1/customers", Some(json!({ "email": "{email}" }))).viewed(made_anew),
    ]);
    let bindings = vec![
        Binding::id("customer", &customer_id),
        Binding::id("card", &card),
        Binding::id("card_token", &unused_token),
        Binding::value("email", &email, &format!("{}@example.com", fresh("nobody"))).sent(),
    ];
    let lists = vec!["/v1/customers/search?limit=100", "/v1/customers/{own_customer}/cards"];
    let reads = vec![
        "/v1/customers/{customer}",
        "/v1/customers/{customer}/cards",
        "/v1/customers/{customer}/cards/{card}",
        "/v1/card_tokens/{card_token}",
    ];
    let others =
        Case { bindings: bindings.clone(), probes: account_scoped, lists: lists.clone(), reads: reads.clone() };
    check(&app, &a, &others, &intruders).await;
    let elsewhere = Case { bindings, probes: site_scoped, lists, reads };
    check(&app, &a, &elsewhere, &[a_elsewhere]).await;
}

/// The profiles page answers another account's profile `caller_id_mismatch` and A's
/// own token for another site `site_id_mismatch` (README, "Payment profiles"): the
/// contract's answers, not an unknown id's `resource_not_found`.
#[tokio::test]
async fn payment_profiles() {
    let World { app, a, b, c } = world().await;
    let customer_id = customer(&app, &a, &format!("{}@example.com", fresh("a"))).await;
    let card = saved_card(&app, &a, &customer_id).await;
    let profiles = format!("/v1/customers/{customer_id}/payment-profiles");
    let profile = id_of(&made(&app, &a, &profiles, json!({ "description": "gym" })).await);
    let token = card_token(&app, &a).await;
    let method =
        json!({ "id": "master", "type": "credit_card", "token": token, "card_id": card.parse::<i64>().unwrap() });
    let ready = made(&app, &a, &format!("{profiles}/{profile}/payment-methods"), method).await;
    assert_eq!(ready["status"], "READY");
    let method_id = ready["payment_methods"][0]["payment_method_id"].as_str().unwrap();
    let a_elsewhere = app.token_for(&a, SiteId::Mla).await;
    let own = |customer: String| vec![Binding::own("own_customer", &customer)];
    let new_email = || format!("{}@example.com", fresh("own"));
    let intruders = [
        intruder("B", &b, own(customer(&app, &b, &new_email()).await)),
        intruder("C", &c, own(customer(&app, &c, &new_email()).await)),
    ];
    let a_elsewhere = Intruder {
        same_account: true,
        ..intruder("A on MLA", &a_elsewhere, own(customer(&app, &a_elsewhere, &new_email()).await))
    };
    let probes = |code| {
        let token = "9b2d63e00d66a8c721607214ceda233a";
        let new_method = json!({ "id": "visa", "type": "credit_card", "token": token, "card_id": 1234567890 });
        [
            get("/v1/customers/{customer}/payment-profiles"),
            post("/v1/customers/{customer}/payment-profiles", Some(json!({ "description": "mine" }))),
            get("/v1/customers/{customer}/payment-profiles/{profile}"),
            post("/v1/customers/{customer}/payment-profiles/{profile}/payment-methods", Some(new_method)),
            delete("/v1/customers/{customer}/payment-profiles/{profile}/payment-methods/{method}"),
            post("/v1/customers/{customer}/payment-profiles/{profile}/cancel", None),
            // A's profile under the intruder's own customer.
            get("/v1/customers/{own_customer}/payment-profiles/{profile}"),
            post("/v1/customers/{own_customer}/payment-profiles/{profile}/cancel", None),
        ]
        .into_iter()
        .map(|p| p.documented(400, code))
        .collect::<Vec<_>>()
    };
    let charge = json!({
        "type": "online", "total_amount": "49.90", "external_reference": "month-1",
        "transactions": { "payments": [{
            "amount": "49.90", "payment_method": { "id": "master", "type": "credit_card" },
            "automatic_payments": { "payment_profile_id": "{profile}", "retries": 3 },
        }] },
    });
    let bindings = vec![
        Binding::id("customer", &customer_id),
        Binding::id("card", &card),
        Binding::id("profile", &profile),
        Binding::id("method", method_id),
    ];
    let lists = vec!["/v1/customers/{own_customer}/payment-profiles"];
    let reads =
        vec!["/v1/customers/{customer}/payment-profiles", "/v1/customers/{customer}/payment-profiles/{profile}"];
    let mut others = probes("caller_id_mismatch");
    // Charging A's profile is declined as an unknown profile is.
    others.push(post("/v1/orders", Some(charge)).viewed(order_outcome));
    let case = Case { bindings: bindings.clone(), probes: others, lists: lists.clone(), reads: reads.clone() };
    check(&app, &a, &case, &intruders).await;
    let elsewhere = Case { bindings, probes: probes("site_id_mismatch"), lists, reads };
    check(&app, &a, &elsewhere, &[a_elsewhere]).await;
}

#[tokio::test]
async fn orders_and_their_transactions() {
    let World { app, a, b, c } = world().await;
    let reference = fresh("order");
    let manual = id_of(&made(&app, &a, "/v1/orders", manual_order_body(&reference)).await);
    let pix =
        json!({ "payments": [{ "amount": "10.00", "payment_method": { "id": "pix", "type": "bank_transfer" } }] });
    let added = made(&app, &a, &format!("/v1/orders/{manual}/transactions"), pix.clone()).await;
    let transaction = added["payments"][0]["id"].as_str().unwrap();
    let paid = made(&app, &a, "/v1/orders", card_order_body(&card_token(&app, &a).await, json!({}))).await;
    assert_eq!(paid["status"], "processed");
    let held =
        made(&app, &a, "/v1/orders", card_order_body(&card_token(&app, &a).await, json!({ "capture_mode": "manual" })))
            .await;
    assert_eq!(held["status"], "action_required");
    let unused_token = card_token(&app, &a).await;
    let mut intruders = Vec::new();
    for (name, who) in [("B", &b), ("C", &c)] {
        let own_order = made(&app, who, "/v1/orders", manual_order_body("own")).await;
        let own_paid = made(&app, who, "/v1/orders", card_order_body(&card_token(&app, who).await, json!({}))).await;
        assert_eq!(own_paid["status"], "processed");
        let own = vec![Binding::own("own_order", &id_of(&own_order)), Binding::own("own_paid", &id_of(&own_paid))];
        intruders.push(intruder(name, who, own));
    }
    let amount = json!({ "amount": "5.00" });
    let search = format!("{ORDERS}&external_reference={{reference}}");
    let case = Case {
        bindings: vec![
            Binding::id("manual", &manual),
            Binding::id("transaction", transaction),
            Binding::id("paid", &id_of(&paid)),
            Binding::id("paid_payment", paid["transactions"]["payments"][0]["id"].as_str().unwrap()),
            Binding::id("held", &id_of(&held)),
            Binding::value("reference", &reference, &fresh("nobody")),
            // An order keeps the card token it was asked to charge.
            Binding::id("card_token", &unused_token).sent(),
        ],
        probes: vec![
            get("/v1/orders/{manual}"),
            post("/v1/orders/{manual}/process", None),
            post("/v1/orders/{manual}/cancel", None),
            post("/v1/orders/{manual}/transactions", Some(pix)),
            put("/v1/orders/{manual}/transactions/{transaction}", amount.clone()),
            delete("/v1/orders/{manual}/transactions/{transaction}"),
            post("/v1/orders/{manual}/events", Some(json!({ "status": "processed" }))),
            get("/v1/orders/{paid}"),
            post("/v1/orders/{paid}/refund", None),
            post(
                "/v1/orders/{paid}/refund",
                Some(json!({ "transactions": [{ "id": "{paid_payment}", "amount": "1.00" }] })),
            ),
            post("/v1/orders/{held}/capture", None),
            post("/v1/orders/{held}/cancel", None),
            post("/v1/orders/{held}/events", Some(json!({ "status": "processed" }))),
            // A's payments under the intruder's own orders.
            put("/v1/orders/{own_order}/transactions/{transaction}", amount),
            delete("/v1/orders/{own_order}/transactions/{transaction}"),
            post(
                "/v1/orders/{own_paid}/refund",
                Some(json!({ "transactions": [{ "id": "{paid_payment}", "amount": "1.00" }] })),
            ),
            get(&search),
            // Charging A's card token is declined as an unknown token is.
            post("/v1/orders", Some(card_order_body("{card_token}", json!({})))).viewed(order_outcome),
        ],
        lists: vec![ORDERS],
        reads: vec!["/v1/orders/{manual}", "/v1/orders/{paid}", "/v1/orders/{held}", "/v1/card_tokens/{card_token}"],
    };
    check(&app, &a, &case, &intruders).await;
}

#[tokio::test]
async fn payments_and_refunds() {
    let World { app, a, b, c } = world().await;
    let reference = fresh("payment");
    let body = card_payment_body(&card_token(&app, &a).await, json!({ "external_reference": reference }));
    let paid = id_of(&made(&app, &a, "/v1/payments", body).await);
    let refund = id_of(&made(&app, &a, &format!("/v1/payments/{paid}/refunds"), json!({ "amount": 10 })).await);
    let body = card_payment_body(&card_token(&app, &a).await, json!({ "capture": false }));
    let held = made(&app, &a, "/v1/payments", body).await;
    assert_eq!(held["status"], "authorized");
    let pix =
        json!({ "transaction_amount": 100, "payment_method_id": "pix", "payer": { "email": "test@testuser.com" } });
    let pix = made(&app, &a, "/v1/payments", pix).await;
    assert_eq!(pix["status"], "pending");
    let unused_token = card_token(&app, &a).await;
    let mut intruders = Vec::new();
    for (name, who) in [("B", &b), ("C", &c)] {
        let own = made(&app, who, "/v1/payments", card_payment_body(&card_token(&app, who).await, json!({}))).await;
        intruders.push(intruder(name, who, vec![Binding::own("own_payment", &id_of(&own))]));
    }
    let owner = a.user_id.to_string();
    let case = Case {
        bindings: vec![
            Binding::id("paid", &paid),
            Binding::id("refund", &refund),
            Binding::id("held", &id_of(&held)),
            Binding::id("pix", &id_of(&pix)),
            Binding::value("reference", &reference, &fresh("nobody")),
            Binding::id("card_token", &unused_token),
            Binding::id("owner", &owner).sent(),
        ],
        probes: vec![
            get("/v1/payments/{paid}"),
            put("/v1/payments/{paid}", json!({ "metadata": { "by": "intruder" } })),
            put("/v1/payments/{held}", json!({ "capture": true })),
            put("/v1/payments/{held}", json!({ "status": "cancelled" })),
            post("/v1/payments/{paid}/refunds", Some(json!({ "amount": 1 }))),
            post("/v1/payments/{paid}/refunds", None),
            get("/v1/payments/{paid}/refunds"),
            get("/v1/payments/{paid}/refunds/{refund}"),
            post("/v1/payments/{pix}/events", Some(json!({ "status": "approved" }))),
            // A's refund under the intruder's own payment.
            get("/v1/payments/{own_payment}/refunds/{refund}"),
            get("/v1/payments/search?external_reference={reference}"),
            get("/v1/payments/search?id={paid}"),
            get("/v1/payments/search?collector.id={owner}"),
            // Paying with A's card token is refused as an unknown token is.
            post("/v1/payments", Some(card_payment_body("{card_token}", json!({})))),
        ],
        lists: vec!["/v1/payments/search?limit=100"],
        reads: vec![
            "/v1/payments/{paid}",
            "/v1/payments/{paid}/refunds",
            "/v1/payments/{held}",
            "/v1/payments/{pix}",
            "/v1/card_tokens/{card_token}",
        ],
    };
    check(&app, &a, &case, &intruders).await;
}

#[tokio::test]
async fn checkout_pro_preferences_and_merchant_orders() {
    let World { app, a, b, c } = world().await;
    let reference = fresh("cart");
    let preference_body = || {
        json!({
            "items": [{ "id": "sku-1", "title": "Point Mini", "quantity": 2, "unit_price": 58.8 }],
            "external_reference": reference,
        })
    };
    let preference = id_of(&made(&app, &a, "/checkout/preferences", preference_body()).await);
    let merchant_order = made(&app, &a, "/merchant_orders", json!({ "preference_id": preference })).await;
    let lone = id_of(&made(&app, &a, "/checkout/preferences", preference_body()).await);
    let case = Case {
        bindings: vec![
            Binding::id("preference", &preference),
            Binding::id("lone", &lone),
            Binding::id("merchant_order", &id_of(&merchant_order)),
            Binding::value("reference", &reference, &fresh("nobody")),
        ],
        probes: vec![
            get("/checkout/preferences/{preference}"),
            put("/checkout/preferences/{preference}", json!({ "external_reference": "taken" })),
            get("/checkout/preferences/search?external_reference={reference}"),
            // A merchant order for A's preferences: one without a merchant order yet, one with.
            post("/merchant_orders", Some(json!({ "preference_id": "{lone}" }))),
            post("/merchant_orders", Some(json!({ "preference_id": "{preference}" }))),
            get("/merchant_orders/{merchant_order}"),
            put("/merchant_orders/{merchant_order}", json!({ "additional_info": "taken" })),
            get("/merchant_orders/search?preference_id={preference}"),
            get("/merchant_orders/search?external_reference={reference}"),
        ],
        lists: vec!["/checkout/preferences/search?limit=100", "/merchant_orders/search?limit=100"],
        reads: vec![
            "/checkout/preferences/{preference}",
            "/checkout/preferences/{lone}",
            "/merchant_orders/{merchant_order}",
        ],
    };
    check(&app, &a, &case, &[intruder("B", &b, vec![]), intruder("C", &c, vec![])]).await;

    // The hosted checkout is public, as Mercado Pago's is (ARCHITECTURE, "Checkout
    // Pro"): whoever has a preference's link sees its page, token or not, and pays
    // its owner. A token grants nothing more there.
    let page = |pref: String, token: Option<&Account>| {
        let mut request = app.client.get(format!("{}/checkout/v1/redirect?pref_id={pref}", app.base));
        if let Some(who) = token {
            request = request.bearer_auth(&who.token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(page(preference.clone(), Some(&b)).await, 200);
    assert_eq!(page(preference.clone(), None).await, 200);
    assert_eq!(page(sibling(&preference), Some(&b)).await, 404);
}

/// An idempotency key belongs to its account: B sending A's key with A's body makes
/// B's own resource, never a replay of A's answer.
#[tokio::test]
async fn idempotency_keys_are_per_account() {
    let World { app, a, b, .. } = world().await;
    let creates = [
        ("/v1/customers", json!({ "email": format!("{}@example.com", fresh("same")) })),
        ("/v1/orders", manual_order_body("same")),
        (
            "/v1/payments",
            json!({ "transaction_amount": 5, "payment_method_id": "pix", "payer": { "email": "test@testuser.com" } }),
        ),
        ("/checkout/preferences", json!({ "items": [{ "title": "Point Mini", "quantity": 1, "unit_price": 5 }] })),
        ("/v1/payouts", payout_body("BRL")),
        ("/terminals/v1/actions", action_body("NEWLAND_N950__SAMEKEY0001")),
    ];
    for (path, body) in creates {
        let key = unique_key();
        let keyed = |who: &Account| {
            let request = app.post(path, &who.token, Some(&key)).json(&body);
            async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }
        };
        let (status, theirs) = keyed(&a).await;
        assert!((200..300).contains(&status), "A's POST {path}: {theirs}");
        let (status, mine) = if path == "/terminals/v1/actions" {
            // The same terminal is A's now: B queues on its own under A's key.
            let other = action_body("NEWLAND_N950__SAMEKEY0002");
            let response = app.post(path, &b.token, Some(&key)).json(&other).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        } else {
            keyed(&b).await
        };
        assert!((200..300).contains(&status), "B's POST {path} under A's key: {mine}");
        assert_ne!(id_of(&mine), id_of(&theirs), "{path}: B got A's answer");
        assert!(!mine.to_string().contains(&id_of(&theirs)), "{path}: {mine}");
        let (_, again) = keyed(&a).await;
        assert_eq!(id_of(&again), id_of(&theirs), "{path}: A's retry still replays A's answer");
    }
}
