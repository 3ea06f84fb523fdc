//! The delivery worker: a tokio task that sends due deliveries from the
//! outbox and records what came of them.
//!
//! Guarantees:
//! - every `webhook_poll` it claims due deliveries in small batches
//!   ([`crate::db::webhooks::claim`]): at most [`MAX_IN_FLIGHT`] in flight
//!   overall and one per subscription, so a slow or failing receiver holds
//!   up only its own deliveries;
//! - a 2xx answer marks a delivery delivered; anything else (another
//!   status, no answer within the client's timeouts) is retried after an
//!   exponential backoff (`webhook_backoff`, doubling, at most [`MAX_BACKOFF`],
//!   plus up to a quarter of jitter) until `webhook_max_attempts`, then the
//!   delivery is failed; every attempt is logged;
//! - all state is in the database: after a restart (or a crash during an
//!   attempt, once its lease ends) pending deliveries are sent again, so a
//!   receiver gets every event at least once and must deduplicate on
//!   `Fieldwork-Event-Id`;
//! - it also turns the process failures noted by migration 008's triggers
//!   into `process.failed` deliveries, a bounded batch per pass.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Semaphore;

use super::{client, events, sign};
use crate::db::webhooks::{self as store, Attempt, Claimed};
use crate::state::AppState;

/// Most deliveries in flight at once.
pub const MAX_IN_FLIGHT: usize = 8;
/// The longest delay between two attempts (before jitter).
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a claimed delivery is reserved for its attempt; a worker that
/// died during it leaves the delivery due again after this.
pub const LEASE: Duration = Duration::from_secs(60);
/// Process failures turned into events per pass.
const FAILURES_PER_PASS: usize = 64;

/// The delay before retry number `attempts` (1 for the first retry):
/// `base · 2^(attempts-1)`, at most [`MAX_BACKOFF`], plus a random quarter.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
    let delay = base.saturating_mul(factor).min(MAX_BACKOFF);
    let jitter_ms = u64::try_from(delay.as_millis() / 4).unwrap_or(0);
    let jitter = if jitter_ms == 0 {
        0
    } else {
        rand::rng().random_range(0..=jitter_ms)
    };
    delay + Duration::from_millis(jitter)
}

/// Runs the worker until the task is aborted (the server's shutdown).
pub async fn run(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.config.webhook_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        tick.tick().await;
        if let Err(e) = note_process_failures(&state).await {
            tracing::warn!(error = %e, "webhooks: could not queue process failures");
        }
        let free = slots.available_permits();
        if free == 0 {
            continue;
        }
        let busy: Vec<i64> = in_flight
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let now = state.now_ms();
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let claimed = match state
            .db
            .write(move |w| {
                let tx = w.conn.transaction()?;
                let claimed = store::claim(&tx, now, lease, free, &busy)?;
                tx.commit()?;
                Ok(claimed)
            })
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: could not claim deliveries");
                continue;
            }
        };
        for delivery in claimed {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            if let Ok(mut set) = in_flight.lock() {
                set.insert(delivery.subscription);
            }
            let (st, flight) = (state.clone(), in_flight.clone());
            tokio::spawn(async move {
                let subscription = delivery.subscription;
                deliver(&st, delivery).await;
                if let Ok(mut set) = flight.lock() {
                    set.remove(&subscription);
                }
                drop(permit);
            });
        }
    }
}

/// One attempt at `d`, and its outcome written to the database.
async fn deliver(state: &AppState, d: Claimed) {
    let unix = jiff::Timestamp::now().as_second();
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("fieldwork-event-id", d.event_id.clone()),
        ("fieldwork-event-type", d.event_type.clone()),
        (
            "fieldwork-signature",
            sign::header(&d.secret, unix, d.payload.as_bytes()),
        ),
    ];
    let at = state.now_ms();
    let started = Instant::now();
    let answer = client::post(&d.url, &headers, d.payload.clone()).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status, error) = match &answer {
        Ok(s) if (200..300).contains(s) => (Some(*s), None),
        Ok(s) => (Some(*s), Some(format!("the receiver answered {s}"))),
        Err(e) => (None, Some(e.clone())),
    };
    let attempt = Attempt {
        at,
        status,
        error,
        duration_ms,
        delivered: matches!(answer, Ok(s) if (200..300).contains(&s)),
    };
    let made = d.attempts.saturating_add(1);
    let retry_at = (!attempt.delivered && made < state.config.webhook_max_attempts).then(|| {
        let wait = backoff(state.config.webhook_backoff, made);
        state
            .now_ms()
            .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
    });
    if !attempt.delivered {
        tracing::info!(delivery = d.id, subscription = d.subscription, error = ?attempt.error, retry = retry_at.is_some(), "webhook delivery failed");
    }
    let id = d.id;
    if let Err(e) = state
        .db
        .write(move |w| store::finish(&w.conn, id, &attempt, retry_at))
        .await
    {
        // The lease ends and the delivery is sent again: at least once.
        tracing::warn!(error = %e, delivery = id, "webhooks: could not record an attempt");
    }
}

/// Queues `process.failed` events for the failures the triggers noted.
async fn note_process_failures(state: &AppState) -> crate::error::Result<()> {
    let now = state.now_ms();
    state
        .db
        .write(move |w| {
            if !store::any_active(&w.conn)? {
                return Ok(());
            }
            let tx = w.conn.transaction()?;
            for (id, instance, reason) in store::process_failures(&tx, FAILURES_PER_PASS)? {
                events::on_process_failed(&tx, &instance, &reason, now)?;
                store::forget_process_failure(&tx, id)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let base = Duration::from_secs(30);
        for (n, expected) in [(1, 30), (2, 60), (3, 120), (4, 240)] {
            let d = backoff(base, n);
            assert!(d >= Duration::from_secs(expected), "{n}: {d:?}");
            assert!(d <= Duration::from_secs(expected) * 5 / 4, "{n}: {d:?}");
        }
        let late = backoff(base, 40);
        assert!(
            late >= MAX_BACKOFF && late <= MAX_BACKOFF * 5 / 4,
            "{late:?}"
        );
    }
}
