//! The tamper-evident audit trail: every resource's audit records form a hash chain,
//! and `caja audit verify` finds a record edited, removed or reordered in the
//! database directly, on either store.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Run `caja audit verify` on the app's store: success, and the report.
fn verify(app: &TestApp) -> (bool, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_caja"))
        .args(["audit", "verify", "--database", &app.db.url])
        .env_remove("CAJA_DATABASE_URL")
        .output()
        .expect("caja runs");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.success(), report)
}

/// An app whose store holds one order moved three times (created, at the terminal,
/// processed, refunded): a chain of four records.
async fn app_with_a_chain() -> (TestApp, String) {
    let (app, order, _) = app_with_a_chain_of().await;
    (app, order)
}

async fn app_with_a_chain_of() -> (TestApp, String, crate::helpers::Account) {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body = json!({ "type": "point", "external_reference": "chain-1", "transactions": { "payments": [{ "amount": "5" }] },
                       "config": { "point": { "terminal_id": "NEWLAND_N950__SBX0000001" } } });
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let events = format!("/v1/orders/{id}/events");
    app.orders(Method::POST, &events, &account, Some(json!({ "status": "processed" }))).await;
    app.orders(Method::POST, &format!("/v1/orders/{id}/refund"), &account, None).await;
    (app, id, account)
}

/// A write links its audit record to the chain's last one; that record is read from
/// one index range, already in order, whatever the account holds. (On PostgreSQL an
/// index without `id` left a sort to do, and a plan made before the table had
/// statistics walked every record of the account instead: writes slowed as it grew.)
#[tokio::test]
async fn a_chains_last_record_is_read_from_one_index_range_in_order() {
    let (app, order, _) = app_with_a_chain_of().await;
    let owner = app.db.text_rows(&format!(
        "SELECT CAST(user_id AS TEXT), resource_type FROM audit_events WHERE resource_id = '{order}' LIMIT 1"
    ));
    let (user, kind) = (owner[0][0].clone().expect("user"), owner[0][1].clone().expect("kind"));
    let plan = app.db.query_plan(&format!(
        "SELECT hash FROM audit_events WHERE user_id = {user} AND resource_type = '{kind}' \
         AND resource_id = '{order}' ORDER BY id DESC LIMIT 1"
    ));
    let sorted = ["Sort", "TEMP B-TREE"].iter().any(|s| plan.contains(s));
    assert!(!sorted, "the chain's head needs no sort:\n{plan}");
    assert!(plan.contains("audit_events_resource"), "read by the resource's index:\n{plan}");
    assert!(!plan.contains("audit_events_by_account"), "never by the account's records:\n{plan}");
}

#[tokio::test]
async fn an_untouched_trail_verifies_and_the_api_shows_its_links() {
    let (app, order, account) = app_with_a_chain_of().await;
    let (ok, report) = verify(&app);
    assert!(ok, "{report}");
    assert_eq!(report["broken"], json!([]));
    assert!(report["chains"].as_u64().unwrap() >= 1 && report["records"].as_u64().unwrap() >= 4, "{report}");
    let page: Value = app
        .orders(Method::GET, &format!("/v1/audit-events?resource_id={order}"), &account, None)
        .await
        .json()
        .await
        .unwrap();
    let records = page["results"].as_array().unwrap_or_else(|| panic!("{page}"));
    assert_eq!(records.len(), 4);
    for pair in records.windows(2) {
        // Newest first: each record names the one before it.
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"], "{page}");
    }
    assert_eq!(records[3]["prev_hash"], Value::Null, "the first record of the resource");
}

#[tokio::test]
async fn an_edited_record_breaks_its_chain() {
    let (app, order) = app_with_a_chain().await;
    app.db.sql(&format!(
        "UPDATE audit_events SET to_status = 'canceled' WHERE id = (SELECT MAX(id) FROM audit_events WHERE resource_id = '{order}')"
    ));
    let (ok, report) = verify(&app);
    assert!(!ok, "{report}");
    assert_eq!(report["broken"][0]["resource_id"], order.as_str());
    assert!(report["broken"][0]["why"].as_str().unwrap().contains("edited"), "{report}");
}

#[tokio::test]
async fn a_removed_record_breaks_its_chain() {
    let (app, order) = app_with_a_chain().await;
    app.db.sql(&format!(
        "DELETE FROM audit_events WHERE id = (SELECT MIN(id) + 1 FROM audit_events WHERE resource_id = '{order}')"
    ));
    let (ok, report) = verify(&app);
    assert!(!ok, "{report}");
    assert!(report["broken"][0]["why"].as_str().unwrap().contains("removed or reordered"), "{report}");
}

#[tokio::test]
async fn reordered_records_break_their_chain() {
    let (app, order) = app_with_a_chain().await;
    // The first record becomes the last.
    app.db.sql(&format!(
        "UPDATE audit_events SET id = id + 1000000 WHERE id = (SELECT MIN(id) FROM audit_events WHERE resource_id = '{order}')"
    ));
    let (ok, report) = verify(&app);
    assert!(!ok, "{report}");
    assert_eq!(report["broken"][0]["resource_id"], order.as_str());
}

#[tokio::test]
async fn a_removed_last_record_is_found_by_its_resources_status() {
    let (app, order) = app_with_a_chain().await;
    // The chain that is left is intact; only the order's own status gives it away.
    app.db.sql(&format!(
        "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events WHERE resource_id = '{order}')"
    ));
    let (ok, report) = verify(&app);
    assert!(!ok, "{report}");
    assert_eq!(report["broken"][0]["resource_id"], order.as_str());
    assert!(report["broken"][0]["why"].as_str().unwrap().contains("head of its chain"), "{report}");
}

#[tokio::test]
async fn a_partial_refund_is_a_move_within_its_status_and_the_trail_still_verifies() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let body = json!({ "type": "point", "external_reference": "chain-2", "transactions": { "payments": [{ "amount": "50" }] },
                       "config": { "point": { "terminal_id": "NEWLAND_N950__SBX0000001" } } });
    let order: Value = app.orders(Method::POST, "/v1/orders", &account, Some(body)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    app.orders(Method::POST, &format!("/v1/orders/{id}/events"), &account, Some(json!({ "status": "processed" })))
        .await;
    let read: Value = app.orders(Method::GET, &format!("/v1/orders/{id}"), &account, None).await.json().await.unwrap();
    let payment = read["transactions"]["payments"][0]["id"].as_str().unwrap().to_owned();
    let partial = json!({ "transactions": [{ "id": payment, "amount": "10.00" }] });
    let refunded = app.orders(Method::POST, &format!("/v1/orders/{id}/refund"), &account, Some(partial)).await;
    assert_eq!(refunded.status(), 201, "{}", refunded.text().await.unwrap());
    let trail = app.audit(&account, caja::domain::ResourceType::Order, &id).await;
    let head = trail.last().unwrap();
    assert_eq!((head.from_status.as_deref(), head.to_status.as_str()), (Some("processed"), "processed"));
    assert_eq!(head.comments.as_deref(), Some("status_detail: accredited -> partially_refunded"));
    let (ok, report) = verify(&app);
    assert!(ok, "{report}");
}
