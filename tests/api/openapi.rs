//! The OpenAPI document is generated from the code and snapshotted, so any change to
//! the API shows in review (`cargo insta review`, or INSTA_UPDATE=always).

use crate::helpers::TestApp;

#[tokio::test]
async fn the_served_document_is_openapi_3_1_and_matches_the_snapshot() {
    let app = TestApp::spawn().await;
    let response = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    assert_eq!(served, caja::http::openapi_document());
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/terminals/v1/actions",
        "/terminals/v1/actions/{action_id}",
        "/terminals/v1/actions/{action_id}/cancel",
        "/terminals/v1/actions/{action_id}/events",
        "/v1/orders",
        "/v1/orders/{order_id}/refund",
        "/v1/orders/{order_id}/transactions/{transaction_id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    insta::assert_snapshot!("openapi", served);
}
