//! Snapshots (`caja export`, `caja import`, through `Store::export_account` and
//! `Store::import_account`): an account's state written as one file and read back
//! into it, whatever happened in between, on both stores.

use caja::domain::UserId;
use caja::store::snapshot::Snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::point_orders::{point_body, VIRTUAL_TERMINAL};

#[tokio::test]
async fn an_imported_snapshot_is_the_state_that_was_exported() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let user = UserId::new(account.user_id).unwrap();
    // A customer (a unique e-mail), an open Point order (a timer, a unique terminal
    // entry), a cancelled action (an audit chain), a moved clock, a stored answer.
    let customer = app
        .post("/v1/customers", &account.token, Some("customer-once"))
        .json(&json!({ "email": "snap@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(customer.status(), StatusCode::CREATED);
    let customer: Value = customer.json().await.unwrap();
    let order = app.orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_eq!(order.status(), StatusCode::CREATED);
    let action = app.new_action(&account, "NEWLAND_N950__N950NCB000000095").await;
    assert_eq!(app.cancel_action(&account, &action, "cancel-once").await.status(), StatusCode::OK);
    let moved = app.post("/caja/v1/clock/advance", &account.token, None).json(&json!({ "seconds": 600 }));
    assert_eq!(moved.send().await.unwrap().status(), StatusCode::OK);

    let exported = app.store().export_account(user).await.unwrap().unwrap();
    let file = serde_json::to_string(&exported).unwrap();
    assert!(exported.tables["resources"].len() >= 4, "{file}");
    assert_eq!(exported.tables["account_clocks"], vec![vec![json!(account.user_id), json!(600_000)]]);

    // Whatever happens next...
    let reset = app.client.post(format!("{}/caja/v1/reset", app.base)).bearer_auth(&account.token).send().await;
    assert_eq!(reset.unwrap().status(), StatusCode::OK);
    let other = app
        .post("/v1/customers", &account.token, None)
        .json(&json!({ "email": "later@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);

    // ...importing the file brings the exported state back, exactly.
    let snapshot: Snapshot = serde_json::from_str(&file).unwrap();
    snapshot.check().unwrap();
    let imported = app.store().import_account(snapshot).await.unwrap().unwrap();
    assert_eq!(imported["resources"], exported.tables["resources"].len() as u64);
    let again = app.store().export_account(user).await.unwrap().unwrap();
    assert_eq!(serde_json::to_string(&again).unwrap(), file, "export ∘ import is the identity");

    // And it behaves as it did: the customer is found by id and e-mail, the later
    // one is gone, the order still holds its terminal, a key replays its answer,
    // the clock is where it was, and the audit chains verify.
    let path = format!("{}/v1/customers/{}", app.base, customer["id"].as_str().unwrap());
    let found = app.client.get(path).bearer_auth(&account.token).send().await.unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    let search = |email: &str| {
        app.client.get(format!("{}/v1/customers/search?email={email}", app.base)).bearer_auth(&account.token).send()
    };
    let hits: Value = search("snap@example.com").await.unwrap().json().await.unwrap();
    assert_eq!(hits["paging"]["total"], 1);
    let gone: Value = search("later@example.com").await.unwrap().json().await.unwrap();
    assert_eq!(gone["paging"]["total"], 0);
    let busy = app.orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_eq!(busy.status(), StatusCode::CONFLICT, "the restored order is open on the terminal");
    let replay = app
        .post("/v1/customers", &account.token, Some("customer-once"))
        .json(&json!({ "email": "snap@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["x-idempotency-replayed"], "true");
    let clock = app.ok_json(&account, "/caja/v1/clock").await;
    assert_eq!(clock["offset_ms"], 600_000);
    let records = app.store().audit_chain_records(Some(user)).await.unwrap();
    let verified = caja::domain::audit::verify(&records);
    assert!(verified.broken.is_empty() && verified.records > 0, "{verified:?}");
}

#[tokio::test]
async fn a_snapshot_goes_only_to_its_own_existing_account() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let user = UserId::new(account.user_id).unwrap();
    let mut snapshot = app.store().export_account(user).await.unwrap().unwrap();
    snapshot.tables.insert("account_clocks".into(), vec![vec![json!(account.user_id + 1), json!(5)]]);
    assert!(snapshot.check().unwrap_err().contains("another account"));
    let nobody = Snapshot { user_id: 1, tables: Default::default(), ..snapshot };
    assert_eq!(app.store().import_account(nobody).await.unwrap(), None);
    assert!(app.store().export_account(UserId::new(1).unwrap()).await.unwrap().is_none());
}
