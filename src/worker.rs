//! The worker: wakes resources whose timer fell due (payouts processed, Point orders
//! and payments expired) and delivers due notifications. Every account is worked at
//! its own time: those on real time in one pass per tick ([`ClockScope::Real`]),
//! and each test account whose clock was moved (`POST /caja/v1/clock/advance`) by a
//! play-out of its own ([`Worker::play_out`]): event by event, earliest first, each
//! at the time it fell due, so one clock move of a day plays out a payout's
//! processing, an order's expiry and a webhook's whole retry schedule in the order
//! real time would have, in milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::{Timestamp, UserId};
use crate::engine::clock::{self, Moved};
use crate::engine::ClockScope;
use crate::store::{Store, StoreError};
use crate::webhooks::Deliverer;

/// The most events one play-out takes (a bound, should a resource keep waking).
pub const PLAY_OUT_EVENTS_MAX: usize = 10_000;

/// What a play-out did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayedOut {
    /// Distinct instants at which something fell due.
    pub events: usize,
    /// Resources the worker moved (processed, expired).
    pub moved: usize,
    /// Delivery attempts made.
    pub deliveries: usize,
}

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    deliverer: Deliverer,
    /// How long a payout transaction stays `in_process`, in milliseconds.
    delay_ms: i64,
    /// One lock per moved clock: one play-out of an account at a time in this
    /// process (another process's takes the same events under row locks and leases).
    playing: Arc<Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>>,
}

fn real_now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, deliverer: Deliverer, delay_ms: i64) -> Self {
        Worker { store, deliverer, delay_ms, playing: Arc::default() }
    }

    fn lock_of(&self, user: UserId) -> Arc<tokio::sync::Mutex<()>> {
        let mut playing = self.playing.lock().unwrap_or_else(PoisonError::into_inner);
        playing.entry(user).or_default().clone()
    }

    /// One tick: a play-out for each moved clock (in a task of its own, skipped while
    /// one is under way), then one step on real time and its deliveries.
    pub async fn tick(&self) {
        match self.store.moved_clocks().await {
            Ok(clocks) => {
                for (user, _) in clocks {
                    let Ok(guard) = self.lock_of(user).try_lock_owned() else {
                        continue;
                    };
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Err(err) = this.play_out_locked(user).await {
                            tracing::warn!(error = %err, user = user.get(), "a moved clock's play-out failed");
                        }
                        drop(guard);
                    });
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not read the moved clocks; retrying next tick"),
        }
        match self.store.work_due(real_now(), ClockScope::Real, self.delay_ms).await {
            Ok(moved) => {
                record(moved);
                let seconds = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
                metrics::gauge!("caja_worker_last_success_timestamp_seconds").set(seconds);
            }
            Err(err) => tracing::warn!(error = %err, "worker step failed; retrying next tick"),
        }
        self.deliverer.tick().await;
    }

    /// Play out everything of the account that fell due by its time now, earliest
    /// first, each at the instant it fell due: resources woken (their changes
    /// audited at that instant), then the notifications due then delivered (a
    /// failure's retry scheduled from that instant, so it may fall due in the same
    /// play-out). Waits for a play-out of the account already under way here.
    pub async fn play_out(&self, user: UserId) -> Result<PlayedOut, StoreError> {
        let lock = self.lock_of(user);
        let _playing = lock.lock().await;
        self.play_out_locked(user).await
    }

    async fn play_out_locked(&self, user: UserId) -> Result<PlayedOut, StoreError> {
        let mut played = PlayedOut::default();
        while played.events < PLAY_OUT_EVENTS_MAX {
            let account = self.store.read(move |r| clock::next_wake(r, user, real_now())).await?;
            let notification = self.store.next_notification_at(user, real_now()).await?;
            let Some(at) = account.next_wake.into_iter().chain(notification).min() else {
                break;
            };
            if at > account.now {
                break;
            }
            let moved = self.store.work_due(at, ClockScope::Account(user), self.delay_ms).await?;
            record(moved);
            let delivered = self.deliverer.deliver_due(user, at).await?;
            if moved.total() == 0 && delivered == 0 {
                // What fell due is held elsewhere (another process's step or lease):
                // that one plays it out.
                break;
            }
            played.events += 1;
            played.moved += moved.total();
            played.deliveries += delivered;
        }
        Ok(played)
    }
}

fn record(moved: Moved) {
    for (step, count) in [("payouts", moved.payouts), ("orders", moved.orders), ("payments", moved.payments)] {
        if count > 0 {
            tracing::debug!(moved = count, step, "worker step moved resources");
            metrics::counter!("caja_worker_moved_total", "step" => step).increment(count as u64);
        }
    }
}
