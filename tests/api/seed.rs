//! Seed files: accounts with the tokens the file names, their webhooks and
//! terminals, applied twice without change, contradictions refused; and `caja serve
//! --seed` answering the seed's token at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use caja::domain::{Timestamp, UserId};
use caja::seed::{self, Applied, SeedError};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{action_body, unique_key, TestApp};
use crate::receiver::Receiver;
use crate::webhooks::quick;

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

const TOKEN: &str = "TEST-ci-fixed-token-424242";
const SECRET: &str = "seeded-secret-0123456789abcdef";

fn seed_text(url: &str) -> String {
    json!({ "accounts": [{
        "user_id": 424242, "site_id": "MLB", "access_tokens": [TOKEN, "TEST-second-token-424242"],
        "notification_url": url, "webhook_secret": SECRET,
        "terminals": [{ "id": "NEWLAND_N950__N950NCB424242", "pos_id": 7, "store_id": 3 }],
    }]})
    .to_string()
}

#[tokio::test]
async fn a_seed_makes_its_accounts_with_their_tokens_once() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    let parsed = seed::parse(&seed_text(&receiver.url)).unwrap();
    let first = seed::apply(app.store().as_ref(), &parsed, now()).await.unwrap();
    let want = Applied { accounts_created: 1, tokens_added: 2, terminals_registered: 1, ..Applied::default() };
    assert_eq!(first, want);
    let again = seed::apply(app.store().as_ref(), &parsed, now()).await.unwrap();
    assert_eq!(again.accounts_created + again.tokens_added + again.signing_keys_added, 0, "{again:?}");

    // The seed's token works at once, and sees the seed's terminal.
    let list = app.client.get(format!("{}/terminals/v1/list", app.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert!(list.text().await.unwrap().contains("NEWLAND_N950__N950NCB424242"));
    // Its notifications go to the seed's URL, signed with the seed's secret.
    let created = app
        .post("/terminals/v1/actions", TOKEN, Some(&unique_key()))
        .json(&action_body("NEWLAND_N950__N950NCB424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let moved = app
        .post(&format!("/terminals/v1/actions/{id}/events"), TOKEN, Some(&unique_key()))
        .json(&json!({ "status": "at_terminal" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::NO_CONTENT);
    let got = receiver.wait_for("a notification", |got| !got.is_empty()).await;
    assert!(got[0].signed_with(SECRET), "signed with the seed's secret");
    let user = UserId::new(424242).unwrap();
    let (url, has_secret) = app.store().webhook_settings(user).await.unwrap().unwrap();
    assert_eq!((url.as_deref(), has_secret), (Some(receiver.url.as_str()), true));
}

#[tokio::test]
async fn a_seed_that_contradicts_the_store_is_refused() {
    let app = TestApp::spawn().await;
    let other = app.test_account().await;
    let stolen = json!({ "accounts": [{ "user_id": 515151, "site_id": "MLB", "access_tokens": [other.token] }] });
    let refused = seed::apply(app.store().as_ref(), &seed::parse(&stolen.to_string()).unwrap(), now()).await;
    assert!(matches!(refused, Err(SeedError::Conflict(_))), "{refused:?}");
    let test = json!({ "accounts": [{ "user_id": 525252, "site_id": "MLA", "access_tokens": ["TEST-a-525252"] }] });
    seed::apply(app.store().as_ref(), &seed::parse(&test.to_string()).unwrap(), now()).await.unwrap();
    let live = json!({ "accounts": [{ "user_id": 525252, "site_id": "MLA", "live_mode": true, "access_tokens": ["TEST-a-525252"] }] });
    let refused = seed::apply(app.store().as_ref(), &seed::parse(&live.to_string()).unwrap(), now()).await;
    assert!(matches!(refused, Err(SeedError::Conflict(_))), "{refused:?}");
    for bad in [
        json!({ "acounts": [] }),
        json!({ "accounts": [{ "user_id": 1, "site_id": "XXX", "access_tokens": ["t"] }] }),
        json!({ "accounts": [{ "user_id": 1, "site_id": "MLB", "access_tokens": [] }] }),
        json!({ "accounts": [{ "user_id": 1, "site_id": "MLB", "access_tokens": ["has space"] }] }),
        json!({ "accounts": [{ "user_id": 1, "site_id": "MLB", "access_tokens": ["t"], "acess_tokens": [] }] }),
    ] {
        assert!(matches!(seed::parse(&bad.to_string()), Err(SeedError::Invalid(_))), "{bad}");
    }
}

/// `caja serve --seed`: the seed's token answers at once, no bootstrap account is
/// made, and a restart with the same seed is fine.
#[test]
fn serve_with_a_seed_answers_its_token_at_once_and_restarts_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("seed.json");
    std::fs::write(&seed_file, seed_text("http://127.0.0.1:9/hooks")).unwrap();
    let url = format!("sqlite://{}", dir.path().join("caja.db").display());
    for round in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_caja"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &url, "--seed"])
            .arg(&seed_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
        let mut printed = Vec::new();
        let listening = loop {
            let line = lines.next().unwrap_or_else(|| panic!("round {round}: serve stopped: {printed:?}"));
            if line.starts_with("caja listening on") {
                break line;
            }
            printed.push(line);
        };
        assert!(printed.iter().any(|l| l.starts_with("seed applied")), "round {round}: {printed:?}");
        let next = lines.next().unwrap_or_default();
        assert!(!next.contains("created a test account"), "no bootstrap account: {next}");
        let base = listening.split_whitespace().nth(3).unwrap().to_owned();
        let answer = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", &format!("Authorization: Bearer {TOKEN}")])
            .arg(format!("{base}/terminals/v1/list"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&answer.stdout), "200", "round {round}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

const RESOURCES_TOKEN: &str = "TEST-seeded-resources-434343";

/// A YAML seed whose account has a customer with a saved card and a payment
/// profile, an online order refunded, a Point order canceled, and an approved
/// payment: each made by the API's own requests, references taken from earlier
/// answers.
fn resources_seed(first_name: &str) -> String {
    format!(
        r#"
# A seed in YAML: comments are fine.
accounts:
  - user_id: 434343
    site_id: MLB
    access_tokens: [{RESOURCES_TOKEN}]
    terminals: [{{id: NEWLAND_N950__N950NCB434343}}]
    signing_keys: ["{SIGNING_KEY}"]
    resources:
      - name: alice
        path: /v1/customers
        body: {{email: alice@example.com, first_name: {first_name}}}
      - name: alice_token
        path: /v1/card_tokens
        body: &card
          card_number: "5031433215406351"
          expiration_month: 11
          expiration_year: 2030
          security_code: "123"
          cardholder: {{name: APRO, identification: {{type: CPF, number: "12345678909"}}}}
      - name: alice_card
        path: /v1/customers/{{{{alice.id}}}}/cards
        body: {{token: "{{{{alice_token.id}}}}"}}
      - name: gym
        path: /v1/customers/{{{{alice.id}}}}/payment-profiles
        body: {{description: gym, max_day_overdue: 5, sequence_control: AUTO}}
      - name: order_token
        path: /v1/card_tokens
        body: *card
      - name: refunded_order
        path: /v1/orders
        body:
          type: online
          external_reference: seeded
          total_amount: "100.00"
          payer: {{email: test@testuser.com}}
          transactions:
            payments:
              - amount: "100.00"
                payment_method: {{id: master, type: credit_card, token: "{{{{order_token.id}}}}", installments: 1}}
      - path: /v1/orders/{{{{refunded_order.id}}}}/refund
      - name: point_order
        path: /v1/orders
        body:
          type: point
          external_reference: seeded
          expiration_time: PT16M
          transactions: {{payments: [{{amount: "50.00"}}]}}
          config: {{point: {{terminal_id: NEWLAND_N950__SBX0000001}}, payment_method: {{default_type: credit_card}}}}
      - path: /v1/orders/{{{{point_order.id}}}}/cancel
      - name: payment_token
        path: /v1/card_tokens
        body: *card
      - name: payment
        path: /v1/payments
        body:
          transaction_amount: 100
          token: "{{{{payment_token.id}}}}"
          installments: 1
          description: seeded
          external_reference: seeded
          payer: {{email: test@testuser.com}}
"#
    )
}

const RESOURCE_STEPS: usize = 11;
/// An Ed25519 public key (RFC 8032's first test vector), as PEM.
const SIGNING_KEY: &str = "-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\\n-----END PUBLIC KEY-----";
const ORDERS_SEARCH: &str =
    "/v1/orders?external_reference=seeded&begin_date=2000-01-01T00:00:00Z&end_date=2100-01-01T00:00:00Z";

#[tokio::test]
async fn a_seed_makes_resources_in_their_states_once_and_again_after_a_reset() {
    let seed = seed::parse(&resources_seed("Alice")).unwrap();
    let (mut app, applied) = TestApp::spawn_seeded(&seed).await;
    assert_eq!((applied.accounts_created, applied.resources_created, applied.resources_kept), (1, RESOURCE_STEPS, 0));
    let account = crate::helpers::Account { user_id: 434343, token: RESOURCES_TOKEN.to_owned() };

    // Each resource is there, in the state its steps moved it to.
    let found = app.ok_json(&account, "/v1/customers/search?email=alice@example.com").await;
    assert_eq!(found["paging"]["total"], 1, "{found}");
    let alice = found["results"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(found["results"][0]["first_name"], "Alice");
    let cards = app.ok_json(&account, &format!("/v1/customers/{alice}/cards")).await;
    assert_eq!(cards.as_array().map(Vec::len), Some(1), "{cards}");
    let profiles = app.ok_json(&account, &format!("/v1/customers/{alice}/payment-profiles")).await;
    assert!(profiles.to_string().contains("\"gym\""), "{profiles}");
    let orders = app.ok_json(&account, ORDERS_SEARCH).await;
    let statuses = |orders: &serde_json::Value| {
        let mut statuses: Vec<String> = orders["data"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|o| format!("{}:{}", o["type"].as_str().unwrap_or(""), o["status"].as_str().unwrap_or("")))
            .collect();
        statuses.sort();
        statuses
    };
    assert_eq!(statuses(&orders), ["online:refunded", "point:canceled"], "{orders}");
    let payments = app.ok_json(&account, "/v1/payments/search?external_reference=seeded").await;
    assert!(payments.to_string().contains("\"approved\""), "{payments}");
    // Sent on the account's behalf, marked as the seed's in the journal.
    let journal = app.ok_json(&account, "/caja/v1/requests?path=/v1/customers&wait_ms=5000").await;
    assert!(journal.to_string().contains("\"seed\""), "{journal}");

    // Applied again on a restart: nothing is sent, nothing changes.
    let again = app.restart_seeded(&seed).await.unwrap();
    assert_eq!((again.accounts_created, again.resources_created, again.resources_kept), (0, 0, RESOURCE_STEPS));
    let found = app.ok_json(&account, "/v1/customers/search?email=alice@example.com").await;
    assert_eq!(
        (found["paging"]["total"].as_i64(), found["results"][0]["id"].as_str()),
        (Some(1), Some(alice.as_str()))
    );
    assert_eq!(statuses(&app.ok_json(&account, ORDERS_SEARCH).await).len(), 2);

    // A step added to the file is sent on the next start, and only it; a seed's
    // requests are set-up, so the account's fault rules do not touch them.
    let rule = json!({ "method": "POST", "path": "/v1/**", "fault": "status=500", "count": 50 });
    let made = app.client.post(format!("{}/caja/v1/faults", app.base)).bearer_auth(RESOURCES_TOKEN).json(&rule);
    assert_eq!(made.send().await.unwrap().status(), StatusCode::CREATED);
    // (Added in front and unnamed: the other steps, named or not, keep their names.)
    let longer = resources_seed("Alice").replacen(
        "    resources:\n",
        "    resources:\n      - {path: /v1/customers, body: {email: bob@example.com}}\n",
        1,
    );
    let longer = app.restart_seeded(&seed::parse(&longer).unwrap()).await.unwrap();
    assert_eq!((longer.resources_created, longer.resources_kept), (1, RESOURCE_STEPS));
    app.ok_json(&account, "/v1/customers/search?email=bob@example.com").await;

    // A step already applied and then changed in the file is refused, naming it.
    let changed = seed::parse(&resources_seed("Alicia")).unwrap();
    let refused = app.restart_seeded(&changed).await;
    assert!(matches!(&refused, Err(SeedError::Conflict(why)) if why.contains("alice")), "{refused:?}");

    // A reset empties the account and makes the seed's resources again: the same
    // resources, new ids, back in their states.
    app.restart_seeded(&seed).await.unwrap();
    let reset =
        app.client.post(format!("{}/caja/v1/reset", app.base)).bearer_auth(RESOURCES_TOKEN).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let reset: serde_json::Value = reset.json().await.unwrap();
    assert_eq!(reset["seeded"], RESOURCE_STEPS, "{reset}");
    let found = app.ok_json(&account, "/v1/customers/search?email=alice@example.com").await;
    assert_eq!(found["paging"]["total"], 1, "{found}");
    assert_ne!(found["results"][0]["id"].as_str(), Some(alice.as_str()));
    assert_eq!(statuses(&app.ok_json(&account, ORDERS_SEARCH).await), ["online:refunded", "point:canceled"]);
    let again = app.restart_seeded(&seed).await.unwrap();
    assert_eq!((again.resources_created, again.resources_kept), (0, RESOURCE_STEPS));
}

#[tokio::test]
async fn a_seed_step_the_api_refuses_stops_the_seed_with_the_answer() {
    let text = r#"
accounts:
  - user_id: 454545
    site_id: MLB
    access_tokens: [TEST-refused-step-454545]
    resources:
      - {name: nobody, path: /v1/customers, body: {first_name: NoEmail}}
"#;
    let db = crate::helpers::TestDb::new();
    let refused =
        crate::helpers::start_seeded(&db.url, Default::default(), Some(&seed::parse(text).unwrap())).await.err();
    let Some(SeedError::Step(why)) = refused else { panic!("refused as a step: {refused:?}") };
    assert!(why.contains("nobody") && why.contains("POST /v1/customers answered 400"), "{why}");
    // An unnamed step is named by its place in the file and its request.
    let unnamed = text.replace("{name: nobody, ", "{");
    let refused =
        crate::helpers::start_seeded(&db.url, Default::default(), Some(&seed::parse(&unnamed).unwrap())).await.err();
    let Some(SeedError::Step(why)) = refused else { panic!("refused as a step: {refused:?}") };
    assert!(why.contains("resources[0] (POST /v1/customers)"), "{why}");
}

#[test]
fn a_seed_file_with_a_wrong_resource_is_refused_before_anything_is_sent() {
    let account = |resources: &str| {
        format!("accounts:\n  - user_id: 1\n    site_id: MLB\n    access_tokens: [t]\n    resources: {resources}\n")
    };
    let twice = "accounts:\n  - {user_id: 1, site_id: MLB, access_tokens: [a]}\n  - {user_id: 1, site_id: MLB, access_tokens: [b]}\n";
    assert!(matches!(seed::parse(twice), Err(SeedError::Invalid(why)) if why.contains("twice")));
    for (resources, why) in [
        (r#"[{path: "/v1/customers/{{alice.id}}/cards"}]"#, "names no earlier resource"),
        (r#"[{path: "/v1/customers/{{x.id}}", name: x}]"#, "names no earlier resource"),
        (r#"[{name: a, path: /v1/customers}, {name: a, path: /v1/customers}]"#, "used twice"),
        (r#"[{method: GET, path: /v1/customers}]"#, "method"),
        (r#"[{path: v1/customers}]"#, "path"),
        (r#"[{name: "has space", path: /v1/customers}]"#, "name"),
        (r#"[{path: "/v1/{{a"}]"#, "without"),
        (r#"[{path: /v1/customers, bodi: {}}]"#, "unknown field"),
        (r#"[{path: /caja/v1/reset}]"#, "caja's own"),
    ] {
        let refused = seed::parse(&account(resources));
        assert!(matches!(&refused, Err(SeedError::Invalid(text)) if text.contains(why)), "{resources}: {refused:?}");
    }
}

/// `caja seed apply` on a stopped store: accounts and resources from a YAML file;
/// the second time nothing is made.
#[test]
fn seed_apply_makes_a_yaml_seeds_resources_once() {
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("seed.yaml");
    std::fs::write(&seed_file, resources_seed("Alice")).unwrap();
    let url = format!("sqlite://{}", dir.path().join("caja.db").display());
    let apply = || {
        let out = Command::new(env!("CARGO_BIN_EXE_caja"))
            .args(["seed", "apply"])
            .arg(&seed_file)
            .args(["--database", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = apply();
    assert_eq!(
        (first["accounts_created"].as_u64(), first["resources_created"].as_u64()),
        (Some(1), Some(RESOURCE_STEPS as u64))
    );
    let second = apply();
    assert_eq!(
        (second["resources_created"].as_u64(), second["resources_kept"].as_u64()),
        (Some(0), Some(RESOURCE_STEPS as u64))
    );
}

/// Two servers starting on one store with the same seed at the same moment (as a
/// fleet of processes would): every resource is made once.
#[tokio::test]
async fn two_servers_applying_one_seed_at_once_make_each_resource_once() {
    let seed = seed::parse(&resources_seed("Alice")).unwrap();
    let db = crate::helpers::TestDb::new();
    let (one, two) = tokio::join!(
        crate::helpers::start_seeded(&db.url, Default::default(), Some(&seed)),
        crate::helpers::start_seeded(&db.url, Default::default(), Some(&seed)),
    );
    let ((one, store, a), (two, _, b)) = (one.unwrap(), two.unwrap());
    assert_eq!(a.resources_created + a.resources_kept, RESOURCE_STEPS, "{a:?}");
    assert_eq!(b.resources_created + b.resources_kept, RESOURCE_STEPS, "{b:?}");
    let client = reqwest::Client::new();
    for server in [&one, &two] {
        let get =
            |path: &str| client.get(format!("http://{}{path}", server.addr())).bearer_auth(RESOURCES_TOKEN).send();
        let found: serde_json::Value =
            get("/v1/customers/search?email=alice@example.com").await.unwrap().json().await.unwrap();
        assert_eq!(found["paging"]["total"], 1, "{found}");
        let orders: serde_json::Value = get(ORDERS_SEARCH).await.unwrap().json().await.unwrap();
        assert_eq!(orders["data"].as_array().map(Vec::len), Some(2), "{orders}");
        let payments: serde_json::Value =
            get("/v1/payments/search?external_reference=seeded").await.unwrap().json().await.unwrap();
        assert_eq!(payments["results"].as_array().map(Vec::len), Some(1), "{payments}");
    }
    one.stop().await.unwrap();
    two.stop().await.unwrap();
    drop(store);
}
