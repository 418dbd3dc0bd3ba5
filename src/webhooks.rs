//! Delivering notifications: the outbox's worker, and the only code that calls out.
//!
//! Each tick claims due notifications (a lease: no other process takes them until it
//! runs out) and delivers each in a task of its own, at most `DELIVERIES_IN_FLIGHT_MAX`
//! at once, so a slow or dead receiver holds up neither the API nor other receivers.
//! Success is a 2xx within `DELIVERY_TIMEOUT_MS`; anything else is retried on the
//! policy's schedule. Every attempt is recorded. Delivery is at least once: the
//! receiver deduplicates by the notification `id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::domain::notification::{self, Attempt, Notification, NotificationForm, RetryPolicy, DELIVERY_TIMEOUT_MS};
use crate::domain::{Timestamp, UserId};
use crate::engine::ClockScope;
use crate::store::{Delivery, Store, StoreError};

/// Notifications claimed per tick at most.
const CLAIM_BATCH_MAX: usize = 64;
/// Deliveries under way at once, per process.
const DELIVERIES_IN_FLIGHT_MAX: usize = 64;
/// Error texts kept per attempt, in characters.
const ERROR_CHARS_MAX: usize = 500;

#[derive(Clone)]
pub struct Deliverer {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    policy: RetryPolicy,
    in_flight: Arc<Semaphore>,
}

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

impl Deliverer {
    pub fn new(store: Arc<dyn Store>, policy: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(DELIVERY_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("caja/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Deliverer { store, client, policy, in_flight: Arc::new(Semaphore::new(DELIVERIES_IN_FLIGHT_MAX)) }
    }

    /// Claim what is due on real time (accounts whose clock never moved) and start
    /// delivering it; returns how many were claimed.
    pub async fn tick(&self) -> usize {
        let free = self.in_flight.available_permits().min(CLAIM_BATCH_MAX);
        if free == 0 {
            return 0;
        }
        let now = now();
        let claimed = match self.store.claim_notifications(now, now, ClockScope::Real, free).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "could not claim notifications; retrying next tick");
                return 0;
            }
        };
        let count = claimed.len();
        metrics::gauge!("caja_webhook_claimed").set(count as f64);
        for delivery in claimed {
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                break;
            };
            let this = self.clone();
            tokio::spawn(async move {
                this.deliver(delivery, None).await;
                drop(permit);
            });
        }
        count
    }

    /// Deliver the account's notifications due at `at` (the account's time, its
    /// clock moved), each attempt recorded at `at` and its retry scheduled from it;
    /// returns once every one is recorded, with how many there were.
    pub async fn deliver_due(&self, user: UserId, at: Timestamp) -> Result<usize, StoreError> {
        let claimed = self.store.claim_notifications(at, now(), ClockScope::Account(user), CLAIM_BATCH_MAX).await?;
        let count = claimed.len();
        let mut deliveries = tokio::task::JoinSet::new();
        for delivery in claimed {
            let this = self.clone();
            deliveries.spawn(async move { this.deliver(delivery, Some(at)).await });
        }
        while deliveries.join_next().await.is_some() {}
        Ok(count)
    }

    /// Deliver one notification and record the attempt, dated `at` (an account's
    /// time) or, when `None`, now.
    async fn deliver(&self, delivery: Delivery, at: Option<Timestamp>) {
        let n = &delivery.notification;
        let mut attempt = self.attempt(n, delivery.secret.as_deref()).await;
        let at = at.unwrap_or(attempt.at);
        attempt.at = at;
        let made = n.attempts_made.saturating_add(1);
        let next = if attempt.succeeded() { None } else { self.policy.next_attempt(made, at, rand::random()) };
        let outcome = match (attempt.succeeded(), next) {
            (true, _) => "delivered",
            (false, Some(_)) => "retry",
            (false, None) => "failed",
        };
        metrics::counter!("caja_webhook_deliveries_total", "outcome" => outcome).increment(1);
        metrics::histogram!("caja_webhook_delivery_seconds").record(attempt.latency_ms as f64 / 1000.0);
        if let Err(err) = self.store.finish_delivery(n.id, attempt, next).await {
            // The lease runs out and the notification is tried again: at least once.
            tracing::warn!(error = %err, notification = n.id, "could not record a delivery attempt");
        }
    }

    /// One POST, signed (a webhook) or not (an IPN); never longer than the timeout.
    async fn attempt(&self, n: &Notification, secret: Option<&str>) -> Attempt {
        let request_id = uuid::Uuid::new_v4().to_string();
        let at = now();
        let ipn = n.change.form == NotificationForm::Ipn;
        let body = if ipn {
            json!({ "resource": n.change.resource_id, "topic": n.change.resource_type.as_str() }).to_string()
        } else {
            n.change.body.clone().unwrap_or_else(|| payload(n).to_string())
        };
        let mut request = self
            .client
            .post(target_url(n))
            .header("x-request-id", &request_id)
            .header("content-type", "application/json")
            .body(body);
        if let (Some(secret), false) = (secret, ipn) {
            let signature = notification::signature(secret, &n.change.resource_id, &request_id, at.as_millis() / 1000);
            request = request.header("x-signature", signature);
        }
        let started = Instant::now();
        let result = request.send().await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok(response) => {
                let code = response.status().as_u16();
                let error = (!response.status().is_success()).then(|| format!("the receiver answered {code}"));
                Attempt { at, status_code: Some(code), error, latency_ms }
            }
            Err(err) => {
                let text: String = format!("{err}").chars().take(ERROR_CHARS_MAX).collect();
                Attempt { at, status_code: None, error: Some(text), latency_ms }
            }
        }
    }
}

/// The URL with `?data.id=<resource id>&type=<family>` appended (a webhook), or
/// `?topic=<family>&id=<resource id>` (an IPN).
pub fn target_url(n: &Notification) -> String {
    let separator = if n.change.url.contains('?') { '&' } else { '?' };
    let (id, kind) = (form_encode(&n.change.resource_id), n.change.resource_type.as_str());
    match n.change.form {
        NotificationForm::Webhook => format!("{}{separator}data.id={id}&type={kind}", n.change.url),
        NotificationForm::Ipn => format!("{}{separator}topic={kind}&id={id}", n.change.url),
    }
}

/// Percent-encode `raw` for a query string (unreserved characters as they are).
pub fn form_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The generic body, in Mercado Pago's webhook shape (families whose notifications
/// page shows another carry their own in the outbox row).
pub fn payload(n: &Notification) -> serde_json::Value {
    let change = &n.change;
    json!({
        "id": n.id,
        "action": change.action(),
        "api_version": "v1",
        "type": change.resource_type.as_str(),
        "data": {
            "id": change.resource_id,
            "status": change.status,
            "external_reference": change.external_reference,
        },
        "date_created": change.created_at.to_rfc3339(),
        "live_mode": change.live_mode,
        "user_id": change.user_id.get(),
    })
}
