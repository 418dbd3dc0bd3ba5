//! `POST /caja/v1/reset` empties a test account in one transaction: resources of
//! every kind, keys, notifications, audit records, the clock and the journal. The
//! account and its token stay; other accounts are untouched.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, unique_key, Account, TestApp};
use crate::point_orders::{point_body, VIRTUAL_TERMINAL};

async fn reset(app: &TestApp, account: &Account) -> reqwest::Response {
    app.client.post(format!("{}/caja/v1/reset", app.base)).bearer_auth(&account.token).send().await.unwrap()
}

/// Make one of each: an action (and its terminal), an order, a customer, a fault
/// rule, notifications and audit records, a moved clock, journal entries.
async fn busy(app: &TestApp, account: &Account, receiver: &str, terminal: &str) {
    app.listen(account, receiver).await;
    let action = app.new_action(account, terminal).await;
    assert_eq!(app.cancel_action(account, &action, &unique_key()).await.status(), StatusCode::OK);
    let order = app.orders(Method::POST, "/v1/orders", account, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_eq!(order.status(), StatusCode::CREATED);
    let customer = app
        .post("/v1/customers", &account.token, Some(&unique_key()))
        .json(&json!({ "email": "reset@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(customer.status(), StatusCode::CREATED);
    let rule = app.post("/caja/v1/faults", &account.token, None).json(&json!({ "path": "/nowhere", "fault": "reset" }));
    assert_eq!(rule.send().await.unwrap().status(), StatusCode::CREATED);
    let moved = app.post("/caja/v1/clock/advance", &account.token, None).json(&json!({ "seconds": 60 }));
    assert_eq!(moved.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reset_empties_the_account_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (account, other) = (app.test_account().await, app.test_account().await);
    let receiver = crate::receiver::Receiver::start().await;
    busy(&app, &account, &receiver.url, "NEWLAND_N950__N950NCB000000091").await;
    busy(&app, &other, &receiver.url, "NEWLAND_N950__N950NCB000000092").await;
    // The journal has the account's requests.
    let journal = app.ok_json(&account, "/caja/v1/requests?path=/v1/customers&wait_ms=5000").await;
    assert_eq!(journal["results"].as_array().map(Vec::len), Some(1));

    // A request just before the reset: its journal entry is still on its way (the
    // log is written in the background), and the reset waits for it.
    app.ok_json(&account, "/v1/customers/search?email=last@example.com").await;
    let response = reset(&app, &account).await;
    assert_eq!(response.status(), StatusCode::OK);
    let removed: Value = response.json().await.unwrap();
    for field in ["resources", "idempotency_records", "notifications", "audit_events", "requests"] {
        assert!(removed[field].as_u64().unwrap() > 0, "{field}: {removed}");
    }

    // Everything of the account is gone...
    assert_eq!(app.ok_json(&account, "/v1/notifications").await["results"], json!([]));
    assert_eq!(app.ok_json(&account, "/v1/audit-events").await["results"], json!([]));
    assert_eq!(app.ok_json(&account, "/caja/v1/faults").await["results"], json!([]));
    assert_eq!(app.ok_json(&account, "/caja/v1/clock").await["offset_ms"], 0);
    let customers = app.ok_json(&account, "/v1/customers/search?email=reset@example.com").await;
    assert_eq!(customers["paging"]["total"], 0, "{customers}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for path in ["/v1/customers/search?email=last", "/v1/orders", "/terminals"] {
        let journal = app.ok_json(&account, &format!("/caja/v1/requests?path={path}")).await;
        assert_eq!(journal["results"], json!([]), "{path}: nothing from before the reset turns up later");
    }
    // The account's terminals stay (they are its set-up, like a seed's).
    let terminals = app.ok_json(&account, "/terminals/v1/list").await;
    assert!(terminals.to_string().contains("NEWLAND_N950__N950NCB000000091"), "{terminals}");
    // ...so the same e-mail and terminal are free again, and the same key runs anew.
    let again = app.orders(Method::POST, "/v1/orders", &account, Some(point_body(VIRTUAL_TERMINAL))).await;
    assert_eq!(again.status(), StatusCode::CREATED, "the terminal's open order is gone");

    // The other account kept everything.
    assert_ne!(app.ok_json(&other, "/v1/notifications").await["results"], json!([]));
    assert_eq!(app.ok_json(&other, "/caja/v1/clock").await["offset_ms"], 60_000);
    let theirs = app.ok_json(&other, "/v1/customers/search?email=reset@example.com").await;
    assert_eq!(theirs["paging"]["total"], 1);

    // Again: the new order and its terminal go; once more, nothing is left to remove.
    assert_eq!(reset(&app, &account).await.status(), StatusCode::OK);
    assert_eq!(app.count(&format!("resources WHERE user_id = {} AND kind <> 'terminal'", account.user_id)), 0);
    let own_keys = format!("resource_keys WHERE kind = 'order' AND value LIKE '{}:%'", account.user_id);
    assert_eq!(app.count(&own_keys), 0, "no entry outlives its resource");
    let empty: Value = reset(&app, &account).await.json().await.unwrap();
    assert_eq!((empty["resources"].as_u64(), empty["notifications"].as_u64()), (Some(0), Some(0)), "{empty}");
}

#[tokio::test]
async fn a_live_account_is_never_reset() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    assert_error(reset(&app, &live).await, 403, "forbidden").await;
    let anonymous = app.client.post(format!("{}/caja/v1/reset", app.base)).send().await.unwrap();
    assert_error(anonymous, 401, "unauthorized").await;
}
