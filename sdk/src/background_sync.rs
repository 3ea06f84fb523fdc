//! Staying in sync: a background loop that reconnects with exponential
//! backoff and full jitter when the link drops.
//!
//! Guarantees:
//! - Reconnect delays are random in `[0, ceiling]` with a ceiling that
//!   doubles per failed attempt up to [`Backoff::max`], and start over once
//!   a connection reached "up to date".
//! - The loop gives up only when retrying cannot help (the session expired,
//!   the device is signed out, the URL is refused, the device was wiped or
//!   closed), or when it is stopped. A refused session ends as
//!   `SyncStatus::NeedsLogin` with the token forgotten (`signed_in` is then
//!   false), never as a bare error.

use std::sync::Arc;
use std::time::Duration;

use crate::state::SyncStatus;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::connection::{self, Mode};
use crate::error::SdkError;
use crate::state::DeviceState;

/// Reconnect delays: attempt `n` waits a random time in
/// `[0, min(max, initial * 2^n)]` ("full jitter"), so that many devices
/// coming back at once do not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first ceiling.
    pub initial: Duration,
    /// The largest ceiling.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The ceiling for attempt `n` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// A random delay for attempt `n`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }
}

/// A running background sync; stop it with [`SyncHandle::stop`].
#[derive(Debug)]
pub struct SyncHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SyncHandle {
    /// Stops syncing and waits until the connection is closed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Asks the loop to stop without waiting.
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Whether the loop has ended (stopped, or given up because the session
    /// expired).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Starts the loop on the current tokio runtime.
pub(crate) fn spawn(device: Arc<DeviceState>, backoff: Backoff) -> SyncHandle {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut attempt: u32 = 0;
        loop {
            let ended = connection::run(&device, Mode::Live, &mut stopped).await;
            if *stopped.borrow() {
                break;
            }
            if ended.was_up_to_date {
                attempt = 0;
            }
            if let Some(e) = ended.error {
                if matches!(e, SdkError::Closed) {
                    // The device was closed under the loop: nothing to report.
                    break;
                }
                tracing::info!(error = %e, attempt, "sync connection ended");
                device.sync_failed(&e);
                if matches!(
                    e,
                    SdkError::SessionExpired
                        | SdkError::NotLoggedIn
                        | SdkError::BadUrl(_)
                        | SdkError::InsecureHttp(_)
                        | SdkError::Wiped
                ) {
                    // Retrying cannot help until the user signs in again.
                    break;
                }
            }
            let delay = backoff.delay(attempt);
            attempt = attempt.saturating_add(1);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopped.changed() => break,
            }
        }
        if !matches!(
            device.status(),
            SyncStatus::Error { .. } | SyncStatus::NeedsLogin { .. }
        ) {
            device.set_status(SyncStatus::Offline);
        }
    });
    SyncHandle { stop, task }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_maximum_and_delays_stay_below_them() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(10), Duration::from_secs(5));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(5));
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(4)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(1600)));
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "jitter varies the delay"
        );
    }
}
