//! Token buckets per caller, in memory: the data structure behind the
//! office API's rate limits (the API's `limits` module decides who is a
//! caller and what rate applies).
//!
//! Guarantees: memory is bounded (a bucket idle for a minute is dropped at
//! the next sweep, and there are never more than [`MAX_BUCKETS`]); a
//! bucket holds one minute's worth of requests and refills continuously.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most buckets kept at once.
pub const MAX_BUCKETS: usize = 100_000;

/// Requests per minute for one user's calendar feed (calendar apps poll
/// every few minutes at most).
pub const FEED_RATE_PER_MINUTE: u32 = 60;

/// A minute, the refill period of a bucket and the sweep interval.
const MINUTE_MS: i64 = 60_000;

/// Whose bucket a request takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A caller with an API key (by key id).
    Key(i64),
    /// A caller with a session token (by user id).
    User(i64),
    /// A user's calendar feed (by user id).
    Feed(i64),
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: i64,
    rate: u32,
    use_recorded_at: Option<i64>,
}

#[derive(Debug, Default)]
struct Buckets {
    map: HashMap<Subject, Bucket>,
    swept_at: i64,
}

/// The buckets of every caller (one per server, in [`AppState`]).
#[derive(Debug, Default)]
pub struct ApiLimits {
    inner: Mutex<Buckets>,
}

/// A request that was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Whether the caller's last use should be recorded now (a key whose
    /// use was not recorded in the last minute).
    pub record_use: bool,
}

impl ApiLimits {
    /// The rate of `subject`'s bucket, if it has one.
    pub fn rate_of(&self, subject: Subject) -> Option<u32> {
        let buckets = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        buckets.map.get(&subject).map(|b| b.rate)
    }

    /// How many buckets are held.
    pub fn len(&self) -> usize {
        let buckets = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        buckets.map.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a token from `subject`'s bucket at `now_ms`; a new bucket
    /// starts full at `rate` per minute (at least 1). `Err(seconds)`: the
    /// bucket is empty, retry after that many seconds.
    pub fn take(
        &self,
        subject: Subject,
        rate: u32,
        now_ms: i64,
    ) -> std::result::Result<Admitted, u64> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let buckets = &mut *guard;
        if now_ms.saturating_sub(buckets.swept_at) >= MINUTE_MS
            || (buckets.map.len() >= MAX_BUCKETS && !buckets.map.contains_key(&subject))
        {
            sweep(buckets, now_ms);
        }
        let rate = rate.max(1);
        let bucket = buckets.map.entry(subject).or_insert(Bucket {
            tokens: f64::from(rate),
            at: now_ms,
            rate,
            use_recorded_at: None,
        });
        let per_ms = f64::from(bucket.rate) / MINUTE_MS as f64;
        let elapsed = now_ms.saturating_sub(bucket.at).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(f64::from(bucket.rate));
        bucket.at = bucket.at.max(now_ms);
        if bucket.tokens < 1.0 {
            let wait_ms = (1.0 - bucket.tokens) / per_ms;
            return Err(((wait_ms / 1000.0).ceil() as u64).max(1));
        }
        bucket.tokens -= 1.0;
        let record_use = matches!(subject, Subject::Key(_))
            && bucket
                .use_recorded_at
                .is_none_or(|at| now_ms.saturating_sub(at) >= MINUTE_MS);
        if record_use {
            bucket.use_recorded_at = Some(now_ms);
        }
        Ok(Admitted { record_use })
    }
}

/// Drops buckets idle for a minute (they are full again: forgetting them
/// changes nothing but `use_recorded_at`, which is a minute old too); if
/// still at the cap, drops the least recently used.
fn sweep(buckets: &mut Buckets, now_ms: i64) {
    buckets.swept_at = now_ms;
    buckets
        .map
        .retain(|_, b| now_ms.saturating_sub(b.at) < MINUTE_MS);
    if buckets.map.len() >= MAX_BUCKETS
        && let Some(oldest) = buckets
            .map
            .iter()
            .min_by_key(|(_, b)| b.at)
            .map(|(s, _)| *s)
    {
        buckets.map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_rate_then_refuses_until_it_refills() {
        let limits = ApiLimits::default();
        let who = Subject::User(1);
        for i in 0..3 {
            assert!(limits.take(who, 3, 1_000).is_ok(), "request {i}");
        }
        // 3 a minute: one token every 20 s.
        assert_eq!(limits.take(who, 3, 1_000), Err(20));
        assert_eq!(limits.take(who, 3, 11_000), Err(10));
        assert!(limits.take(who, 3, 21_000).is_ok(), "a token is back");
        assert!(limits.take(who, 3, 21_000).is_err());
        // Others have their own buckets.
        assert!(limits.take(Subject::Key(1), 3, 21_000).is_ok());
        assert!(limits.take(Subject::Feed(1), 3, 21_000).is_ok());
    }

    #[test]
    fn a_clock_going_backwards_adds_no_tokens() {
        let limits = ApiLimits::default();
        let who = Subject::User(1);
        assert!(limits.take(who, 1, 100_000).is_ok());
        assert!(limits.take(who, 1, 0).is_err());
        assert_eq!(limits.take(who, 1, 100_000), Err(60));
    }

    #[test]
    fn a_key_s_use_is_recorded_at_most_once_a_minute() {
        let limits = ApiLimits::default();
        let key = Subject::Key(7);
        let recorded = |now| limits.take(key, 1_000, now).expect("admitted").record_use;
        assert!(recorded(0));
        assert!(!recorded(1_000));
        assert!(!recorded(59_999));
        assert!(recorded(60_000));
        assert!(!limits.take(Subject::User(7), 10, 0).expect("ok").record_use);
    }

    #[test]
    fn idle_buckets_are_swept() {
        let limits = ApiLimits::default();
        for user in 0..100 {
            assert!(limits.take(Subject::User(user), 10, 0).is_ok());
        }
        assert_eq!(limits.len(), 100);
        assert!(limits.take(Subject::User(1_000), 10, 30_000).is_ok());
        assert_eq!(limits.len(), 101, "not a minute yet");
        assert!(limits.take(Subject::User(1_001), 10, 60_000).is_ok());
        assert_eq!(limits.len(), 2, "the 100 idle ones are gone");
    }
}
