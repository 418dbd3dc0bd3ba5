//! The Point terminal actions family: every row of its error table, and its lifecycle.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{action_body, assert_error, unique_key, TestApp, TERMINAL};

#[tokio::test]
async fn create_returns_the_action_and_get_reads_it_back() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let response = app.create_action(&account, "k1", &action_body(TERMINAL)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a UUID v4");
    assert_eq!(created["type"], "print");
    assert_eq!(created["status"], "created");
    assert_eq!(created["external_reference"], "order-1");
    assert_eq!(created["config"], json!({ "point": { "terminal_id": TERMINAL, "subtype": "custom" } }));
    let date = created["created_date"].as_str().unwrap();
    assert!(date.ends_with('Z') && date.len() == 24, "RFC 3339 with milliseconds: {date}");

    let read = app.get_action(&account, id).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.unwrap(), created);
}

#[tokio::test]
async fn cancel_of_a_created_action_is_200_with_an_empty_body_and_audited() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let response = app.cancel_action(&account, &id, "cancel-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-idempotency-replayed").is_none());
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(app.action_status(&account, &id).await, "canceled");
    let audit = app.action_audit(&account, &id).await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0].0, None);
    assert_eq!(audit[0].1, "created");
    assert_eq!(audit[1], (Some("created".into()), "canceled".into(), "cancel-1".into()));
}

#[tokio::test]
async fn full_lifecycle_through_the_terminal() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.action_event(&account, &id, "at_terminal").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.action_status(&account, &id).await, "at_terminal");
    assert_eq!(app.action_event(&account, &id, "processed").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.action_status(&account, &id).await, "processed");
    let trail: Vec<_> = app.action_audit(&account, &id).await.into_iter().map(|(_, to, _)| to).collect();
    assert_eq!(trail, ["created", "at_terminal", "processed"]);
    // The terminal is free again.
    app.new_action(&account, TERMINAL).await;
}

#[tokio::test]
async fn the_terminal_may_cancel_an_action_it_holds() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    app.action_event(&account, &id, "at_terminal").await;
    assert_eq!(app.action_event(&account, &id, "canceled").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.action_status(&account, &id).await, "canceled");
}

#[tokio::test]
async fn no_token_or_an_unknown_one_is_401_unauthorized() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let url = format!("{}/terminals/v1/actions/{id}", app.base);
    assert_error(app.client.get(&url).send().await.unwrap(), 401, "unauthorized").await;
    let unknown = account.token.replace("TEST-", "TEST-9");
    assert_error(app.client.get(&url).bearer_auth(unknown).send().await.unwrap(), 401, "unauthorized").await;
    let basic = app.client.get(&url).header("Authorization", "Basic abc").send().await.unwrap();
    assert_error(basic, 401, "unauthorized").await;
    let cancel = app.client.post(format!("{url}/cancel")).header("X-Idempotency-Key", "k").send().await.unwrap();
    assert_error(cancel, 401, "unauthorized").await;
    let create = app.client.post(format!("{}/terminals/v1/actions", app.base)).send().await.unwrap();
    assert_error(create, 401, "unauthorized").await;
    assert_eq!(app.action_status(&account, &id).await, "created");
}

#[tokio::test]
async fn a_missing_or_empty_idempotency_key_is_400_empty_required_header() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let paths = [
        "/terminals/v1/actions".to_owned(),
        format!("/terminals/v1/actions/{id}/cancel"),
        format!("/terminals/v1/actions/{id}/events"),
    ];
    for path in &paths {
        let absent = app.post(path, &account.token, None).json(&action_body(TERMINAL)).send().await.unwrap();
        assert_error(absent, 400, "empty_required_header").await;
        let empty = app.post(path, &account.token, Some("")).json(&action_body(TERMINAL)).send().await.unwrap();
        assert_error(empty, 400, "empty_required_header").await;
    }
    assert_eq!(app.action_status(&account, &id).await, "created");
}

#[tokio::test]
async fn a_key_over_64_characters_is_400_invalid_idempotency_key() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    let long = "k".repeat(65);
    assert_error(app.cancel_action(&account, &id, &long).await, 400, "invalid_idempotency_key").await;
    assert_error(app.create_action(&account, &long, &action_body("OTHER")).await, 400, "invalid_idempotency_key").await;
    // 64 is fine.
    assert_eq!(app.cancel_action(&account, &id, &"k".repeat(64)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_action_id_is_400_invalid_path_param() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    for bad in ["not-a-uuid", "123", &id.to_uppercase(), "00000000-0000-1000-8000-000000000000"] {
        assert_error(app.get_action(&account, bad).await, 400, "invalid_path_param").await;
        assert_error(app.cancel_action(&account, bad, &unique_key()).await, 400, "invalid_path_param").await;
        assert_error(app.action_event(&account, bad, "at_terminal").await, 400, "invalid_path_param").await;
    }
}

#[tokio::test]
async fn an_unknown_action_or_another_accounts_is_404_order_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.test_account().await;
    let stranger = app.test_account().await;
    let id = app.new_action(&owner, TERMINAL).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for (account, id) in [(&owner, unknown.as_str()), (&stranger, id.as_str())] {
        assert_error(app.get_action(account, id).await, 404, "order_not_found").await;
        assert_error(app.cancel_action(account, id, &unique_key()).await, 404, "order_not_found").await;
        assert_error(app.action_event(account, id, "at_terminal").await, 404, "order_not_found").await;
    }
    assert_eq!(app.action_status(&owner, &id).await, "created", "the stranger changed nothing");
}

#[tokio::test]
async fn a_terminal_belongs_to_one_account() {
    let app = TestApp::spawn().await;
    let owner = app.test_account().await;
    let stranger = app.test_account().await;
    // A test account owns the terminal it first uses.
    let id = app.new_action(&owner, TERMINAL).await;
    let theirs = app.create_action(&stranger, &unique_key(), &action_body(TERMINAL)).await;
    assert_error(theirs, 403, "forbidden_checking_terminal_owner").await;
    app.cancel_action(&owner, &id, &unique_key()).await;
    let still = app.create_action(&stranger, &unique_key(), &action_body(TERMINAL)).await;
    assert_error(still, 403, "forbidden_checking_terminal_owner").await;

    // A terminal registered for an account is its own from the start.
    let live = app.account(true).await;
    let spec = |id: &str| caja::provision::TerminalSpec {
        terminal_id: id.into(),
        pos_id: Some(47792476),
        store_id: Some(47792478),
        external_pos_id: Some("SUC0101POS".into()),
        operating_mode: "PDV".into(),
    };
    let now = caja::domain::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    caja::provision::add_terminal(app.store().as_ref(), live.user_id, spec("LIVE_TERMINAL_1"), now).await.unwrap();
    let claimed = app.create_action(&owner, &unique_key(), &action_body("LIVE_TERMINAL_1")).await;
    assert_error(claimed, 403, "forbidden_checking_terminal_owner").await;
    app.new_action(&live, "LIVE_TERMINAL_1").await;
    let taken = caja::provision::add_terminal(app.store().as_ref(), live.user_id, spec(TERMINAL), now).await;
    assert!(taken.is_err(), "another account's terminal cannot be registered");
}

#[tokio::test]
async fn the_terminal_list_shows_the_accounts_terminals_as_the_list_page_does() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    app.new_action(&account, "NEWLAND_N950__N950NCB000000001").await;
    app.new_action(&account, "NEWLAND_N950__N950NCB000000002").await;
    let now = caja::domain::Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let spec = caja::provision::TerminalSpec {
        terminal_id: "PAX_A910__SMARTPOS1234345545".into(),
        pos_id: Some(47792476),
        store_id: Some(47792478),
        external_pos_id: Some("SUC0101POS".into()),
        operating_mode: "STANDALONE".into(),
    };
    caja::provision::add_terminal(app.store().as_ref(), account.user_id, spec, now).await.unwrap();
    let list = |query: &str| {
        let url = format!("{}/terminals/v1/list{query}", app.base);
        app.client.get(url).bearer_auth(&account.token).send()
    };
    let all: Value = list("").await.unwrap().json().await.unwrap();
    assert_eq!(all["paging"], json!({ "limit": 50, "offset": 0, "total": 3 }));
    assert_eq!(
        all["data"]["terminals"][0],
        json!({
            "id": "NEWLAND_N950__N950NCB000000001", "pos_id": null, "store_id": null, "external_pos_id": null, "operating_mode": "PDV"
        })
    );
    let by_store: Value = list("?store_id=47792478").await.unwrap().json().await.unwrap();
    assert_eq!(
        by_store["data"]["terminals"],
        json!([{
            "id": "PAX_A910__SMARTPOS1234345545", "pos_id": 47792476, "store_id": 47792478,
            "external_pos_id": "SUC0101POS", "operating_mode": "STANDALONE"
        }])
    );
    let by_pos: Value = list("?pos_id=47792476&limit=1").await.unwrap().json().await.unwrap();
    assert_eq!(by_pos["paging"], json!({ "limit": 1, "offset": 0, "total": 1 }));
    assert_error(list("?limit=51").await.unwrap(), 400, "bad_request").await;
    let stranger = app.test_account().await;
    let theirs: Value = app
        .client
        .get(format!("{}/terminals/v1/list", app.base))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["paging"]["total"], 0);
}

#[tokio::test]
async fn cancel_is_409_cannot_cancel_order_in_every_other_status() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let paths: [&[&str]; 4] =
        [&["at_terminal"], &["at_terminal", "processed"], &["at_terminal", "failed"], &["canceled"]];
    for (n, events) in paths.into_iter().enumerate() {
        let terminal = format!("TERMINAL_{n}");
        let id = app.new_action(&account, &terminal).await;
        for status in events {
            assert_eq!(app.action_event(&account, &id, status).await.status(), StatusCode::NO_CONTENT);
        }
        let before = app.action_status(&account, &id).await;
        let body =
            assert_error(app.cancel_action(&account, &id, &unique_key()).await, 409, "cannot_cancel_order").await;
        assert!(body["message"].as_str().unwrap().contains(&before), "{body}");
        assert_eq!(app.action_status(&account, &id).await, before, "unchanged");
    }
}

#[tokio::test]
async fn a_second_cancel_with_a_new_key_is_409_cannot_cancel_order() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    assert_eq!(app.cancel_action(&account, &id, "first").await.status(), StatusCode::OK);
    assert_error(app.cancel_action(&account, &id, "second").await, 409, "cannot_cancel_order").await;
    assert_eq!(app.action_audit(&account, &id).await.len(), 2, "no second audit record");
}

#[tokio::test]
async fn a_busy_terminal_is_409_already_queued_order_for_terminal() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let first = app.new_action(&account, TERMINAL).await;
    let again = app.create_action(&account, &unique_key(), &action_body(TERMINAL)).await;
    assert_error(again, 409, "already_queued_order_for_terminal").await;
    app.action_event(&account, &first, "at_terminal").await;
    let still = app.create_action(&account, &unique_key(), &action_body(TERMINAL)).await;
    assert_error(still, 409, "already_queued_order_for_terminal").await;
    app.action_event(&account, &first, "failed").await;
    app.new_action(&account, TERMINAL).await;
}

#[tokio::test]
async fn malformed_json_is_400_bad_request() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, "OTHER").await;
    let send = |path: String, body: &'static str| {
        app.post(&path, &account.token, Some(&unique_key()))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    assert_error(send("/terminals/v1/actions".into(), "{\"type\":").await.unwrap(), 400, "bad_request").await;
    assert_error(send("/terminals/v1/actions".into(), "").await.unwrap(), 400, "bad_request").await;
    assert_error(send(format!("/terminals/v1/actions/{id}/cancel"), "{oops").await.unwrap(), 400, "bad_request").await;
    assert_error(send(format!("/terminals/v1/actions/{id}/events"), "[1,").await.unwrap(), 400, "bad_request").await;
    assert_eq!(app.action_status(&account, &id).await, "created");
}

#[tokio::test]
async fn invalid_fields_are_400_with_the_create_pages_codes_naming_the_field() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let point = |terminal: &str, subtype: &str| json!({ "point": { "terminal_id": terminal, "subtype": subtype } });
    let cases = [
        (json!({}), "required_properties", "type"),
        (json!({ "type": "pay" }), "property_value", "type"),
        (json!({ "type": "print", "content": "x" }), "required_properties", "terminal_id"),
        (
            json!({ "type": "print", "content": "x", "config": point("bad id!", "custom") }),
            "property_value",
            "terminal_id",
        ),
        (json!({ "type": "print", "content": "x", "config": point("T1", "poster") }), "property_value", "subtype"),
        (json!({ "type": "print", "content": 5, "config": point("T1", "custom") }), "property_type", "invalid type"),
        (json!({ "type": "print", "config": point("T1", "custom") }), "required_properties", "content"),
        (json!(["an", "array"]), "property_type", "invalid type"),
        (
            json!({ "type": "print", "content": "x", "config": point("T1", "custom"), "priority": 1 }),
            "unsupported_properties",
            "priority",
        ),
        (
            json!({ "type": "print", "content": "x", "config": { "point": { "terminal_id": "T1", "subtype": "custom", "copies": 2 } } }),
            "unsupported_properties",
            "copies",
        ),
        (
            json!({ "type": "print", "content": "!!! not base64", "config": point("T1", "image") }),
            "property_value",
            "base64",
        ),
        (
            json!({ "type": "print", "content": "x", "external_reference": "o 6@", "config": point("T1", "custom") }),
            "property_value",
            "external_reference",
        ),
        (
            json!({ "type": "print", "content": "x", "external_reference": "x".repeat(65), "config": point("T1", "custom") }),
            "property_value",
            "external_reference",
        ),
    ];
    for (body, code, field) in cases {
        let error = assert_error(app.create_action(&account, &unique_key(), &body).await, 400, code).await;
        assert!(error["message"].as_str().unwrap().contains(field), "{error} should name {field}");
    }
    let image = json!({ "type": "print", "content": "aGVsbG8=", "external_reference": "order_1-A", "config": point("T1", "image") });
    assert_eq!(app.create_action(&account, &unique_key(), &image).await.status(), 201);
}

#[tokio::test]
async fn the_events_helper_refuses_forbidden_transitions_with_400() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    for status in ["created", "processed", "failed"] {
        assert_error(app.action_event(&account, &id, status).await, 400, "bad_request").await;
    }
    assert_error(app.action_event(&account, &id, "exploded").await, 400, "bad_request").await;
    app.action_event(&account, &id, "at_terminal").await;
    app.action_event(&account, &id, "processed").await;
    for status in ["created", "at_terminal", "failed", "canceled", "processed"] {
        assert_error(app.action_event(&account, &id, status).await, 400, "bad_request").await;
    }
    assert_eq!(app.action_status(&account, &id).await, "processed");
}

#[tokio::test]
async fn the_events_helper_is_403_for_live_accounts() {
    let app = TestApp::spawn().await;
    let live = app.account(true).await;
    assert!(live.token.starts_with("APP_USR-"));
    let id = app.new_action(&live, TERMINAL).await;
    assert_error(app.action_event(&live, &id, "at_terminal").await, 403, "forbidden").await;
    assert_eq!(app.action_status(&live, &id).await, "created");
    // A live account cancels like any other.
    assert_eq!(app.cancel_action(&live, &id, &unique_key()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_store_failure_is_500_idempotency_validation_failed_and_nothing_is_half_written() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let id = app.new_action(&account, TERMINAL).await;
    // Break the audit table under the running server: the cancel's status update
    // succeeds, its audit insert fails, and the whole command must roll back.
    app.sql("ALTER TABLE audit_events RENAME TO audit_events_away");
    assert_error(app.cancel_action(&account, &id, "retry-me").await, 500, "idempotency_validation_failed").await;
    assert_eq!(app.action_status(&account, &id).await, "created", "the status change rolled back");
    app.sql("ALTER TABLE audit_events_away RENAME TO audit_events");
    // The 500 was not stored: the same key now runs the cancel for real.
    let retry = app.cancel_action(&account, &id, "retry-me").await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert!(retry.headers().get("x-idempotency-replayed").is_none());
    assert_eq!(app.action_status(&account, &id).await, "canceled");
}

#[tokio::test]
async fn setup_changes_the_operating_mode_of_the_callers_terminals() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    app.new_action(&account, TERMINAL).await;
    let setup = |account: &crate::helpers::Account, body: Value| {
        app.client.patch(format!("{}/terminals/v1/setup", app.base)).bearer_auth(&account.token).json(&body).send()
    };
    let changed =
        setup(&account, json!({ "terminals": [{ "id": TERMINAL, "operating_mode": "STANDALONE" }] })).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        changed.json::<Value>().await.unwrap(),
        json!({ "terminals": [{ "id": TERMINAL, "operating_mode": "STANDALONE" }] })
    );
    let list: Value = app
        .client
        .get(format!("{}/terminals/v1/list", app.base))
        .bearer_auth(&account.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"]["terminals"][0]["operating_mode"], "STANDALONE");

    let stranger = app.test_account().await;
    let theirs = setup(&stranger, json!({ "terminals": [{ "id": TERMINAL, "operating_mode": "PDV" }] })).await.unwrap();
    assert_error(theirs, 404, "not_found").await;
    for (body, code) in [
        (json!({ "terminals": [{ "id": TERMINAL, "operating_mode": "SOMETIMES" }] }), "property_value"),
        (json!({ "terminals": [{ "id": TERMINAL }] }), "required_properties"),
        (json!({}), "required_properties"),
        (json!({ "terminals": [], "mode": "PDV" }), "unsupported_properties"),
    ] {
        assert_error(setup(&account, body).await.unwrap(), 400, code).await;
    }
}
