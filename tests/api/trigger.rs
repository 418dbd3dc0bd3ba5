//! `POST /caja/v1/trigger`: each event caja offers happens for real (the documented
//! requests, on the caller's behalf) and its signed notification reaches the
//! account's receiver.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, Account, TestApp};
use crate::receiver::Receiver;
use crate::webhooks::quick;

async fn trigger(app: &TestApp, account: &Account, event: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/caja/v1/trigger", app.base))
        .bearer_auth(&account.token)
        .json(&json!({ "event": event }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_event_happens_and_its_signed_notification_arrives() {
    let app = TestApp::spawn_with(quick()).await;
    let receiver = Receiver::start().await;
    let account = app.test_account().await;
    let secret = app.listen(&account, &receiver.url).await;
    for event in caja::http::trigger::event_names() {
        let response = trigger(&app, &account, event).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{event}");
        let done: Value = response.json().await.unwrap();
        assert_eq!(done["event"], event);
        assert!(done["requests"].as_array().unwrap().iter().all(|r| r["status"].as_u64().unwrap() < 300), "{done}");
        let id = done["resource_id"].as_str().unwrap().to_owned();
        let got = receiver.wait_for(event, |all| all.iter().any(|r| r.query.get("data.id") == Some(&id))).await;
        let delivery = got.iter().find(|r| r.query.get("data.id") == Some(&id)).unwrap();
        assert!(delivery.signed_with(&secret), "{event}: signed with the account's secret");
    }
    // The trigger's requests are in the journal, marked as the trigger's.
    let journal = app.ok_json(&account, "/caja/v1/requests?path=/v1/orders&method=POST").await;
    let sources: Vec<&str> =
        journal["results"].as_array().unwrap().iter().filter_map(|r| r["source"].as_str()).collect();
    assert!(!sources.is_empty() && sources.iter().all(|s| *s == "trigger"), "{journal}");
}

#[tokio::test]
async fn an_unknown_event_is_400_and_a_live_account_has_none() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let unknown = assert_error(trigger(&app, &account, "payment.teleported").await, 400, "bad_request").await;
    assert!(unknown["message"].as_str().unwrap().contains("payment.approved"), "{unknown}");
    for body in [json!({}), json!({ "event": "payment.approved", "extra": 1 }), json!([1])] {
        let response =
            app.client.post(format!("{}/caja/v1/trigger", app.base)).bearer_auth(&account.token).json(&body).send();
        assert_error(response.await.unwrap(), 400, "bad_request").await;
    }
    // A script step the account's state refuses is named with its answer: the
    // trigger terminal is busy with the first action.
    let first = app
        .post("/terminals/v1/actions", &account.token, Some("busy-1"))
        .json(&crate::helpers::action_body(&format!("NEWLAND_N950__CAJA{}", account.user_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let busy = assert_error(trigger(&app, &account, "point.action.canceled").await, 400, "bad_request").await;
    assert!(busy["message"].as_str().unwrap().contains("answered 409"), "{busy}");
    let live = app.account(true).await;
    assert_error(trigger(&app, &live, "payment.approved").await, 403, "forbidden").await;
    let anonymous =
        app.client.post(format!("{}/caja/v1/trigger", app.base)).json(&json!({ "event": "order.processed" }));
    assert_error(anonymous.send().await.unwrap(), 401, "unauthorized").await;
}
