//! What the fuzzers (`fuzz/`) found, each kept as a test of the answer it should get.

use reqwest::StatusCode;

use crate::helpers::TestApp;

/// `request_line`: a search with two unknown parameters named either one, as the
/// query's `HashMap` happened to iterate, so the same request answered different
/// bytes. It names the first in alphabetical order, every time.
#[tokio::test]
async fn a_search_with_several_unknown_parameters_names_the_same_one_every_time() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let searches = [
        ("/v1/orders?begin_date=2021-01-01T00:00:00Z&eage_size=100&external_referecne=x", "eage_size"),
        ("/v1/payments/search?zeta=1&alpha=2&mid=3", "alpha"),
        ("/checkout/preferences/search?zeta=1&alpha=2&mid=3", "alpha"),
        ("/merchant_orders/search?zeta=1&alpha=2&mid=3", "alpha"),
    ];
    for (path, named) in searches {
        let url = format!("{}{path}", app.base);
        let mut answers = Vec::new();
        // Each request's map has its own random order: 16 of them agree by chance
        // with odds of about 1 in 30,000 for two names, far less for three.
        for _ in 0..16 {
            let response = app.client.get(&url).bearer_auth(&account.token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
            answers.push(response.text().await.unwrap());
        }
        assert!(answers[0].contains(named), "{path}: {}", answers[0]);
        assert!(answers.iter().all(|a| *a == answers[0]), "{path}: {answers:#?}");
    }
}
