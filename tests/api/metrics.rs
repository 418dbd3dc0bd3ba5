//! `GET /metrics` (#11 item 4): Prometheus text a scraper can read, with requests by
//! route template and status, latency, idempotency replays and conflicts, the SQLite
//! writer's queue and batches, and the workers' figures.

use crate::helpers::{action_body, on_postgres, unique_key, TestApp, TERMINAL};

/// The value of the sample whose line starts with `series` (name and labels), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_replays_conflicts_and_commits() {
    let app = TestApp::spawn().await;
    let account = app.test_account().await;
    let before = scrape(&app).await;
    let created = r#"caja_http_requests_total{method="POST",route="/terminals/v1/actions",status="201"}"#;
    let unauthorized =
        r#"caja_http_requests_total{method="GET",route="/terminals/v1/actions/{action_id}",status="401"}"#;

    let key = unique_key();
    assert_eq!(app.create_action(&account, &key, &action_body(TERMINAL)).await.status(), 201);
    // The same key again: a replay. The same key for another body: a conflict.
    assert_eq!(app.create_action(&account, &key, &action_body(TERMINAL)).await.status(), 201);
    let mut other = action_body(TERMINAL);
    other["content"] = "another".into();
    assert_eq!(app.create_action(&account, &key, &other).await.status(), 409);
    let anonymous = app.client.get(format!("{}/terminals/v1/actions/x", app.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let after = scrape(&app).await;
    // Other tests share the process's figures: each count grew by at least ours.
    assert!(sample(&after, created) >= sample(&before, created) + 1.0, "{after}");
    assert!(sample(&after, unauthorized) >= sample(&before, unauthorized) + 1.0, "{after}");
    let replays = "caja_idempotency_replays_total";
    assert!(sample(&after, replays) >= sample(&before, replays) + 1.0, "{after}");
    let conflicts = "caja_idempotency_conflicts_total";
    assert!(sample(&after, conflicts) >= sample(&before, conflicts) + 1.0, "{after}");
    let latency = r#"caja_http_request_duration_seconds_count{method="POST",route="/terminals/v1/actions"}"#;
    assert!(sample(&after, latency) >= sample(&before, latency) + 3.0, "{after}");
    // No id ever reaches a label: routes are templates.
    assert!(!after.contains("/terminals/v1/actions/x\""), "{after}");
    if !on_postgres() {
        assert!(sample(&after, "caja_commit_batch_size_count") >= 1.0, "{after}");
        assert!(after.contains("caja_write_queue_depth"), "{after}");
    }
}
