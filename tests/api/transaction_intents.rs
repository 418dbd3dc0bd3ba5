//! Money Out (`/v1/transaction-intents`), as the "Integration configuration" and
//! "Integration test" pages document it: the 202 answer, a test request's outcome
//! selected by its `external_reference` (every row of the test page's table), the
//! `transaction_intent.created` notification, reading back, and the refusals.

use caja::domain::SiteId;
use caja::provision::AccountSpec;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, unique_key, Account, TestApp};
use crate::receiver::Receiver;
use crate::webhooks::quick;

const PROCESS: &str = "/v1/transaction-intents/process";

/// The configuration page's Pix withdrawal (MLB), with `external_reference`.
fn pix(external_reference: &str) -> Value {
    json!({
        "external_reference": external_reference,
        "point_of_interaction": { "type": "PSP_TRANSFER" },
        "seller_configuration": { "notification_info": { "notification_url": "http://127.0.0.1:9/money-out" } },
        "transaction": {
            "from": { "accounts": [{ "amount": 100 }] },
            "to": { "accounts": [{
                "type": "current", "amount": 100,
                "chave": { "type": "CPF", "value": "1234567890" },
                "owner": { "identification": { "type": "CPF", "number": "1234567890" } },
            }] },
            "total_amount": 100,
        },
    })
}

impl TestApp {
    async fn process(&self, account: &Account, key: &str, test: bool, body: &Value) -> reqwest::Response {
        let mut request = self.post(PROCESS, &account.token, Some(key)).json(body);
        if test {
            request = request.header("X-Test-Token", "true");
        }
        request.send().await.unwrap()
    }

    async fn intent(&self, account: &Account, id: &str) -> reqwest::Response {
        let url = format!("{}/v1/transaction-intents/{id}", self.base);
        self.client.get(url).bearer_auth(&account.token).send().await.unwrap()
    }
}

#[tokio::test]
async fn a_withdrawal_answers_202_as_the_page_shows_and_reads_back() {
    let app = TestApp::spawn_with(quick()).await;
    let account = app.test_account().await;
    let receiver = Receiver::start().await;
    let mut body = pix("MP0001");
    body["seller_configuration"]["notification_info"]["notification_url"] = json!(receiver.url);

    let key = unique_key();
    let created = app.process(&account, &key, false, &body).await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let (user, ulid) = id.split_once('-').unwrap();
    assert_eq!((user, ulid.len()), (account.user_id.to_string().as_str(), 26), "{id}");
    assert_eq!(
        (created["status"].as_str(), created["external_reference"].as_str()),
        (Some("approved"), Some("MP0001"))
    );
    assert_eq!(created["point_of_interaction"], "PSP_TRANSFER");
    assert_eq!(created["seller_configuration"]["notification_info"]["notification_url"], json!(receiver.url));
    let t = &created["transaction"];
    assert_eq!(
        (t["total_amount"].as_i64(), t["paid_amount"].as_i64(), t["refunded_amount"].as_i64()),
        (Some(100), Some(100), Some(0))
    );
    assert_eq!(t["payer"]["id"], account.user_id);
    assert_eq!(t["from"]["accounts"][0]["amount"], 100);
    let to = &t["to"]["accounts"][0];
    assert_eq!((to["amount"].as_i64(), to["status_detail"].as_str()), (Some(100), Some("approved")));
    assert!(t["from"]["accounts"][0].get("status_detail").is_none(), "the origin's is returned empty: {t}");
    assert_eq!(to["owner"]["identification"], json!({ "number": "1234567890", "type": "CPF" }));
    assert_eq!(to["chave"], json!({ "type": "CPF", "value": "1234567890" }));
    for date in ["created_date", "last_updated_date"] {
        assert!(chrono::DateTime::parse_from_rfc3339(created[date].as_str().unwrap()).is_ok(), "{date}");
    }

    // Read back; the same key replays the same answer.
    let read = app.intent(&account, &id).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap(), created);
    let replay = app.process(&account, &key, false, &body).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], json!(id));

    // The notification goes to the body's URL, in the page's shape.
    let got = receiver.wait_for("the created notification", |got| !got.is_empty()).await;
    let n = &got[0].body;
    assert_eq!(
        (n["action"].as_str(), n["type"].as_str(), n["status"].as_str()),
        (Some("transaction_intent.created"), Some("transaction_intent"), Some("approved"))
    );
    assert_eq!((n["data"]["id"].as_str(), n["api_version"].as_str()), (Some(id.as_str()), Some("v1")));
    assert!(n["id"].as_str().is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())), "{n}");
}

/// The test page's table, row by row: (external_reference, status, status_detail,
/// refunded of 100).
const TEST_TABLE: &[(&str, &str, Option<&str>, i64)] = &[
    ("new", "new", None, 0),
    ("failed_by_bank", "failed", Some("by_bank"), 0),
    ("failed_by_provider", "failed", Some("by_provider"), 0),
    ("failed_by_caps", "failed", Some("by_caps"), 0),
    ("failed_other_reason", "failed", Some("other_reason"), 0),
    ("failed_by_high_risk", "failed", Some("by_high_risk"), 0),
    ("failed_by_compliance", "failed", Some("by_compliance"), 0),
    ("failed_insufficient_funds", "failed", Some("insufficient_funds"), 0),
    ("failed_invalid_destination_account", "failed", Some("invalid_destination_account"), 0),
    ("partially_processed", "partially_processed", None, 0),
    ("partially_processed_pending_bank", "partially_processed", Some("pending_bank"), 0),
    ("reverted", "reverted", Some("refunded"), 100),
    ("partially_reverted_partially_refunded", "partially_reverted", Some("partially_refunded"), 50),
    ("timeout", "processed", None, 0),
    ("anything-else", "processed", None, 0),
];

#[tokio::test]
async fn a_test_request_gets_the_status_its_external_reference_names() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    for (reference, status, detail, refunded) in TEST_TABLE {
        let created = app.process(&account, &unique_key(), true, &pix(reference)).await;
        assert_eq!(created.status(), StatusCode::ACCEPTED, "{reference}");
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["status"], *status, "{reference}");
        let from = &created["transaction"]["from"]["accounts"][0];
        assert_eq!(from["status_detail"].as_str(), *detail, "{reference}: {created}");
        assert_eq!(created["transaction"]["refunded_amount"], *refunded, "{reference}");
        let paid = if *status == "failed" { 0 } else { 100 - refunded };
        assert_eq!(created["transaction"]["paid_amount"], paid, "{reference}");
    }
    // Without X-Test-Token the reference is only a reference.
    let plain: Value = app.process(&account, &unique_key(), false, &pix("failed_by_bank")).await.json().await.unwrap();
    assert_eq!(plain["status"], "approved");

    // internal_server_error: a 500 in the payouts format, nothing made, and the same
    // again on a retry with the key.
    let key = unique_key();
    for _ in 0..2 {
        let failed = app.process(&account, &key, true, &pix("internal_server_error")).await;
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: Value = failed.json().await.unwrap();
        assert_eq!(body["error"], "internal_server_error", "{body}");
    }
}

/// The test page's Pix request exactly as its curl sends it: no idempotency key, no
/// destination `type`, `x-enforce-signature: false`.
#[tokio::test]
async fn the_test_pages_own_request_runs_as_written() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body = r#"{
    "external_reference": "new",
    "point_of_interaction": {
        "type": "PSP_TRANSFER"
    },
    "seller_configuration": {
        "notification_info": {
            "notification_url": "https://webhook.site/c107a500-5bf2-4787-8c17-ec9fddcfd0f6"
        }
    },
    "transaction": {
        "from": {
            "accounts": [
                {
                    "amount": 10
                }
            ]
        },
        "to": {
            "accounts": [
                {
                    "amount": 10,
                    "owner": {
                        "identification": {
                            "number": "38437455871",
                            "type": "CPF"
                        }
                    },
                    "chave": {
                        "type": "CPF",
                        "value": "38437455871"
                    }
                }
            ]
        },
        "total_amount": 10
    }
}"#;
    for _ in 0..2 {
        let sent = app
            .client
            .post(format!("{}{PROCESS}", app.base))
            .header("x-enforce-signature", "false")
            .bearer_auth(&account.token)
            .header("Content-Type", "application/json")
            .header("X-Test-Token", "true")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
        let sent: Value = sent.json().await.unwrap();
        assert_eq!(
            (sent["status"].as_str(), sent["transaction"]["to"]["accounts"][0]["type"].as_str()),
            (Some("new"), Some("current"))
        );
    }
}

#[tokio::test]
async fn bank_accounts_on_mlb_and_mlc_take_their_pages_fields() {
    let app = TestApp::spawn().await;
    let mlb = app.test_account().await;
    let mut bank = pix("bank");
    bank["transaction"]["to"]["accounts"][0] = json!({
        "type": "current", "amount": 5, "bank_id": "99999004", "branch": "0001", "holder": "John Doe",
        "provider_id": "spi", "currency_id": "BRL", "number": "10266732",
        "owner": { "identification": { "type": "CPF", "number": "38437455871" } },
    });
    bank["transaction"]["from"]["accounts"][0]["amount"] = json!(5);
    bank["transaction"]["total_amount"] = json!(5);
    let created = app.process(&mlb, &unique_key(), true, &bank).await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["transaction"]["to"]["accounts"][0]["bank_id"], "99999004");

    let mlc = app.account_with(AccountSpec { site_id: SiteId::Mlc, live_mode: false, payouts_enabled: true }).await;
    // The page's own curl sends point_of_interaction as a string.
    let chile = json!({
        "external_reference": "MP0001", "point_of_interaction": "PSP_TRANSFER",
        "transaction": {
            "from": { "accounts": [{ "amount": 100 }] },
            "to": { "accounts": [{ "amount": 100, "bank_id": "99999004", "type": "current", "number": "10266732",
                "owner": { "identification": { "type": "RUT", "number": "111111111111" } } }] },
            "total_amount": 100,
        },
    });
    assert_eq!(app.process(&mlc, &unique_key(), true, &chile).await.status(), StatusCode::ACCEPTED);
    let mut cpf = chile.clone();
    cpf["transaction"]["to"]["accounts"][0]["owner"]["identification"]["type"] = json!("CPF");
    assert_error(app.process(&mlc, &unique_key(), true, &cpf).await, 400, "bad_request").await;
}

#[tokio::test]
async fn a_body_the_pages_do_not_allow_is_refused_naming_why() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut body = pix("MP0001");
        change(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (changed(&|b| b["point_of_interaction"] = json!({ "type": "POS" })), "PSP_TRANSFER"),
        (
            changed(&|b| b.as_object_mut().unwrap().remove("point_of_interaction").map(drop).unwrap_or(())),
            "PSP_TRANSFER",
        ),
        (changed(&|b| b["external_reference"] = json!("has@sign")), "external_reference"),
        (changed(&|b| b["external_reference"] = json!("x".repeat(65))), "external_reference"),
        (changed(&|b| b["transaction"]["total_amount"] = json!(99)), "must be equal"),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["amount"] = json!(99)), "must be equal"),
        (
            changed(&|b| b["transaction"]["from"]["accounts"][0]["amount"] = json!(10_000_000_001u64)),
            "from.accounts.amount",
        ),
        (changed(&|b| b["transaction"]["from"]["accounts"][0]["amount"] = json!(1.001)), "from.accounts.amount"),
        (changed(&|b| b["transaction"]["from"]["accounts"][0]["amount"] = json!(-1)), "from.accounts.amount"),
        (
            changed(&|b| {
                let second = b["transaction"]["to"]["accounts"][0].clone();
                b["transaction"]["to"]["accounts"].as_array_mut().unwrap().push(second);
            }),
            "exactly one",
        ),
        (changed(&|b| b["transaction"]["to"]["accounts"] = json!([])), "exactly one"),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["type"] = json!("savings")), "current or mercadopago"),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["chave"]["type"] = json!("IBAN")), "chave.type"),
        (
            changed(&|b| {
                b["transaction"]["to"]["accounts"][0]["chave"]
                    .as_object_mut()
                    .unwrap()
                    .remove("value")
                    .map(drop)
                    .unwrap_or(())
            }),
            "chave.value",
        ),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["owner"] = json!({})), "owner.identification.type"),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["chave"] = Value::Null), "bank_id"),
        (changed(&|b| b["transaction"]["surprise"] = json!(1)), "surprise"),
        (changed(&|b| b["transaction"]["to"]["accounts"][0]["amount"] = json!("100")), "amount"),
    ];
    for (body, why) in cases {
        let refused = assert_error(app.process(&account, &unique_key(), true, &body).await, 400, "bad_request").await;
        assert!(refused["message"].as_str().unwrap().contains(why), "{why}: {refused}");
    }
    let not_json =
        app.post(PROCESS, &account.token, Some(&unique_key())).body("{").header("content-type", "application/json");
    assert_eq!(not_json.send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    // Money Out is MLB's and MLC's.
    let mla = app.account_with(AccountSpec { site_id: SiteId::Mla, live_mode: false, payouts_enabled: true }).await;
    let refused = assert_error(app.process(&mla, &unique_key(), true, &pix("MP0001")).await, 400, "bad_request").await;
    assert!(refused["message"].as_str().unwrap().contains("MLB and MLC"), "{refused}");
}

#[tokio::test]
async fn keys_signatures_permission_and_other_accounts_are_the_payouts_own() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let key = unique_key();
    assert_eq!(app.process(&account, &key, true, &pix("MP0001")).await.status(), StatusCode::ACCEPTED);
    assert_error(app.process(&account, &key, true, &pix("MP0002")).await, 409, "idempotency_key_already_used").await;

    // A live account signs; a test request that asks for the check too.
    let live = app.account(true).await;
    assert_error(app.process(&live, &unique_key(), false, &pix("MP0001")).await, 400, "invalid_signature").await;
    let enforced = app
        .post(PROCESS, &account.token, Some(&unique_key()))
        .header("X-Test-Token", "true")
        .header("X-Enforce-Signature", "true")
        .json(&pix("MP0001"));
    assert_error(enforced.send().await.unwrap(), 400, "invalid_signature").await;

    let closed = app.account_with(AccountSpec { site_id: SiteId::Mlb, live_mode: false, payouts_enabled: false }).await;
    assert_error(app.process(&closed, &unique_key(), true, &pix("MP0001")).await, 403, "forbidden").await;

    let made: Value = app.process(&account, &unique_key(), true, &pix("MP0001")).await.json().await.unwrap();
    let id = made["id"].as_str().unwrap();
    let stranger = app.test_account().await;
    assert_error(app.intent(&stranger, id).await, 404, "not_found").await;
    assert_error(app.intent(&account, "1-01GGTH198RP0K71H133EK9BJAT").await, 404, "not_found").await;
    assert_error(app.intent(&account, "not-an-id").await, 404, "not_found").await;
    let anonymous = app.client.get(format!("{}/v1/transaction-intents/{id}", app.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
