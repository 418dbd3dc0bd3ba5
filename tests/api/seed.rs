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
    assert_eq!(first, Applied { accounts_created: 1, tokens_added: 2, terminals_registered: 1, signing_keys_added: 0 });
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
