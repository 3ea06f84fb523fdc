//! Per-caller rate limits of the office API: a token bucket per caller (per
//! API key for keys, per user for session tokens, per user for calendar
//! feeds, each its own), held in memory.
//!
//! A bucket holds up to one minute's worth of requests (the rate) and
//! refills continuously at the rate; a request takes one token. The rate
//! is the key's own `rate_per_minute`, else the server's
//! `api_rate_per_minute` ([`crate::state::ServerConfig`]); calendar feeds
//! have [`FEED_RATE_PER_MINUTE`].
//!
//! Guarantees:
//! - a caller whose bucket is empty is refused with
//!   [`ServerError::RateLimited`] and the whole seconds until a token is
//!   back (at least 1), which the API answers `429` with `Retry-After`;
//! - memory is bounded: a bucket idle for a minute is full again and is
//!   dropped at the next sweep, and there are never more than
//!   [`MAX_BUCKETS`] (beyond, the least recently used is dropped);
//! - a key's `last_used_at` is written at most once a minute per key, off
//!   the request's path (a spawned write); it can lag by up to a minute,
//!   and a use in the minute before a restart can be lost.
//!
//! State is per process: several server processes would each allow the
//! rate.

use crate::buckets::{FEED_RATE_PER_MINUTE, Subject};
use crate::db::api_keys;
use crate::db::api_keys::KeyScope;
use crate::db::users::User;
use crate::error::{Result, ServerError};
use crate::state::AppState;

/// Counts a request of `user` (with API key `key`, if any); refuses it
/// when over the limit. A key's own rate is read from the database when
/// its bucket is made (a primary key lookup, once per key per idle minute).
pub fn admit(state: &AppState, user: &User, key: Option<&KeyScope>) -> Result<()> {
    let default = state.config.api_rate_per_minute;
    let (subject, rate) = match key {
        Some(key) => {
            let subject = Subject::Key(key.key_id);
            let rate = match state.api_limits.rate_of(subject) {
                Some(rate) => rate,
                None => {
                    let id = key.key_id;
                    state
                        .db
                        .read_blocking(|c| api_keys::rate_of(c, id))?
                        .unwrap_or(default)
                }
            };
            (subject, rate)
        }
        None => (Subject::User(user.id), default),
    };
    let now = state.now_ms();
    let admitted = state
        .api_limits
        .take(subject, rate, now)
        .map_err(ServerError::RateLimited)?;
    if admitted.record_use
        && let Some(key) = key
    {
        record_use(state, key.key_id, now);
    }
    Ok(())
}

/// Counts a fetch of `user_id`'s calendar feed; refuses it when over
/// [`FEED_RATE_PER_MINUTE`].
pub fn admit_feed(state: &AppState, user_id: i64) -> Result<()> {
    state
        .api_limits
        .take(Subject::Feed(user_id), FEED_RATE_PER_MINUTE, state.now_ms())
        .map(|_| ())
        .map_err(ServerError::RateLimited)
}

/// Writes a key's last use off the request's path.
fn record_use(state: &AppState, key_id: i64, now_ms: i64) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let db = state.db.clone();
    runtime.spawn(async move {
        if let Err(e) = db
            .write(move |w| api_keys::record_use(&w.conn, key_id, now_ms))
            .await
        {
            tracing::warn!(error = %e, key_id, "could not record an API key's last use");
        }
    });
}
