//! Passwords, tokens and login rate limiting.
//!
//! - Passwords are hashed with **Argon2id** (the `argon2` crate), a random
//!   16-byte salt per user, and the OWASP-recommended parameters
//!   m = 19 MiB, t = 2, p = 1 ([`PasswordParams::default`]). The PHC string
//!   stored keeps the parameters, so they can be raised later without
//!   breaking existing hashes.
//! - Login tokens are 32 random bytes (base64url), stored only as SHA-256.
//! - A wrong user name and a wrong password give the same answer and take the
//!   same time (an unknown user is verified against a dummy hash made with
//!   the server's own parameters).
//!
//! # Guarantees
//!
//! - **An attempt is counted before it is verified.** [`RateLimiter::reserve`]
//!   checks and counts the attempt for every key under one lock, so `N`
//!   concurrent guesses are `N` attempts: once a key has used its free
//!   failures, the rest are refused with `rate_limited` without running
//!   Argon2. A success gives the slot back.
//! - **Backoff, not lockout.** Keys are *(user name, client address)* and
//!   *client address* (IPv6 addresses by their /64). After
//!   `free_failures` failures a key must wait `base · 2^(n − free)` (capped at
//!   `max`) after its latest failure before the next attempt. An attacker at
//!   one address therefore never delays the real user at another address.
//!   A key quiet for [`Backoff::forget_after`] starts afresh.
//! - **Bounded Argon2 work.** [`RateLimiter::verify`] runs at most
//!   `concurrency` verifications at once and lets at most `queue` more wait;
//!   anything beyond is refused at once with `rate_limited` (`Retry-After: 1`)
//!   instead of piling up. The slots are held by the blocking task itself, so
//!   a client that disconnects mid-verification does not free its slot early.
//! - **Hostile names never reach the log.** [`check_login_name`] refuses
//!   names that are empty, longer than 64 bytes or contain control or
//!   formatting characters before anything else happens, and
//!   [`log_name`] is the only form a name that is not a real user's takes in
//!   the log (a hash: a password typed in the name field is not written out).
//! - The counters live in memory (a restart resets them) and are bounded
//!   ([`MAX_KEYS`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;
use sha2::Digest;
use tokio::sync::Semaphore;

use crate::error::{Result, ServerError};

/// Most keys the rate limiter remembers; beyond it, keys that are not
/// backing off are dropped first.
pub const MAX_KEYS: usize = 100_000;

/// Longest user name accepted at the login door, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Longest password accepted at the login door, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Parallelism.
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

fn hasher(params: PasswordParams) -> Result<Argon2<'static>> {
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| ServerError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str, params: PasswordParams) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(ServerError::Invalid(
            "passwords must have at least 8 characters".into(),
        ));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(hasher(params)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::Internal(format!("hashing: {e}")))?
        .to_string())
}

/// Checks a password against a stored hash (`None`: unknown user, checked
/// against a dummy hash made with `params`, so that the answer takes as long
/// as for a real user whose hash uses the server's parameters).
pub fn verify_password(password: &str, stored: Option<&str>, params: PasswordParams) -> bool {
    let dummy;
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => {
            dummy = dummy_hash(params);
            (dummy.as_str(), false)
        }
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verification uses the parameters recorded in the hash.
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// A hash of a fixed password with `params`, made once per parameter set.
fn dummy_hash(params: PasswordParams) -> String {
    static DUMMIES: Mutex<Vec<(PasswordParams, String)>> = Mutex::new(Vec::new());
    if let Ok(mut dummies) = DUMMIES.lock() {
        if let Some((_, h)) = dummies.iter().find(|(p, _)| *p == params) {
            return h.clone();
        }
        let h = hash_password("dummy password for timing", params).unwrap_or_default();
        if dummies.len() < 8 {
            dummies.push((params, h.clone()));
        }
        return h;
    }
    String::new()
}

/// A new random login token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a user name given at the login door before anything else is done
/// with it: 1 to [`MAX_NAME_BYTES`] bytes, no control characters (newlines,
/// escapes, NUL), no invisible formatting characters (bidirectional
/// overrides, zero-width characters), no leading or trailing whitespace.
pub fn check_login_name(name: &str) -> Result<()> {
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}');
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(ServerError::Invalid(format!(
            "the user name must have 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if name.trim() != name || name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err(ServerError::Invalid(
            "the user name contains characters no user name has".into(),
        ));
    }
    Ok(())
}

/// The form a user name that is not known to be a real user's takes in the
/// log: a short SHA-256 fingerprint, so that a password typed in the name
/// field never reaches the log and nothing in the name can forge a line.
pub fn log_name(name: &str) -> String {
    let digest = sha2::Sha256::digest(name.as_bytes());
    format!(
        "sha256:{}",
        hex::encode(digest.get(..8).unwrap_or_default())
    )
}

/// The rate-limiting key of a client address: IPv4 addresses (also when
/// mapped into IPv6) as they are, IPv6 addresses by their /64 prefix (one
/// subscriber usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// How failures turn into delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures a key may have before it must wait.
    pub free_failures: u32,
    /// The first delay; it doubles with each further failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// How long a key with `failures` failures must wait after its latest
    /// failure before the next attempt.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(30);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// How long a key without a new failure is remembered: four times the
    /// longest delay (one hour by default).
    pub fn forget_after(&self) -> Duration {
        self.max.saturating_mul(4)
    }
}

/// One key's failures.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Bounds on concurrent Argon2 work.
#[derive(Debug)]
struct Gate {
    /// Verifications running or waiting.
    admitted: Arc<Semaphore>,
    /// Verifications running.
    running: Arc<Semaphore>,
}

/// Counts login attempts per key and bounds the verification work.
#[derive(Debug, Default)]
pub struct RateLimiter {
    entries: Mutex<HashMap<String, Entry>>,
    gate: OnceLock<Gate>,
}

/// An attempt counted against its keys, to be settled by
/// [`Reservation::succeed`] or [`Reservation::fail`]. Dropped unsettled (the
/// attempt was never evaluated: queue full, internal error, client gone),
/// it gives its slot back.
#[derive(Debug)]
pub struct Reservation<'a> {
    limiter: &'a RateLimiter,
    user_key: String,
    addr_key: String,
    settled: bool,
}

impl Reservation<'_> {
    /// The password was right: the user's key at this address starts
    /// afresh, and the address gets its slot back (its earlier failures
    /// stay: a valid account does not wash an address clean).
    pub fn succeed(mut self) {
        self.settled = true;
        if let Ok(mut map) = self.limiter.entries.lock() {
            map.remove(&self.user_key);
            if let Some(e) = map.get_mut(&self.addr_key) {
                e.failures = e.failures.saturating_sub(1);
            }
        }
    }

    /// The password was wrong: the attempt stays counted.
    pub fn fail(mut self) {
        self.settled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Ok(mut map) = self.limiter.entries.lock() {
            for key in [&self.user_key, &self.addr_key] {
                if let Some(e) = map.get_mut(key) {
                    e.failures = e.failures.saturating_sub(1);
                }
            }
        }
    }
}

impl RateLimiter {
    /// Checks both keys of an attempt by `user` (case-insensitively) from
    /// `address` and, when neither must wait, counts the attempt against
    /// both, atomically. Refuses with [`ServerError::RateLimited`] (the
    /// seconds to wait) otherwise, without counting anything.
    pub fn reserve(
        &self,
        user: &str,
        address: IpAddr,
        backoff: &Backoff,
        now: Instant,
    ) -> Result<Reservation<'_>> {
        let addr = address_key(address);
        let user_key = format!("user:{}@{addr}", user.to_lowercase());
        let addr_key = format!("addr:{addr}");
        let mut map = self
            .entries
            .lock()
            .map_err(|_| ServerError::Internal("rate limiter poisoned".into()))?;
        let forget = backoff.forget_after();
        let mut wait = Duration::ZERO;
        for key in [&user_key, &addr_key] {
            if let Some(e) = map.get(key) {
                let quiet = now.saturating_duration_since(e.last);
                if quiet < forget {
                    wait = wait.max(backoff.delay(e.failures).saturating_sub(quiet));
                }
            }
        }
        if !wait.is_zero() {
            return Err(ServerError::RateLimited(retry_after_secs(wait)));
        }
        for key in [&user_key, &addr_key] {
            let e = map.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last: now,
            });
            if now.saturating_duration_since(e.last) >= forget {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last = now;
        }
        if map.len() > MAX_KEYS {
            map.retain(|_, e| now.saturating_duration_since(e.last) < forget);
            if map.len() > MAX_KEYS {
                map.retain(|_, e| !backoff.delay(e.failures).is_zero());
            }
            if map.len() > MAX_KEYS {
                // Still over: forget the least recently seen keys, down to
                // nine tenths of the cap, so the map stays bounded and this
                // sweep does not run again on the next attempt.
                let mut by_age: Vec<(Instant, String)> =
                    map.iter().map(|(k, e)| (e.last, k.clone())).collect();
                by_age.sort_unstable();
                let excess = map.len() - MAX_KEYS / 10 * 9;
                for (_, key) in by_age.into_iter().take(excess) {
                    map.remove(&key);
                }
            }
        }
        drop(map);
        Ok(Reservation {
            limiter: self,
            user_key,
            addr_key,
            settled: false,
        })
    }

    /// Verifies `password` against `stored` (see [`verify_password`]) on the
    /// blocking pool, with at most `concurrency` verifications running and
    /// `queue` waiting (both fixed by the first call). Refuses with
    /// `RateLimited(1)` at once when the queue is full.
    pub async fn verify(
        &self,
        concurrency: usize,
        queue: usize,
        password: String,
        stored: Option<String>,
        params: PasswordParams,
    ) -> Result<bool> {
        let gate = self.gate.get_or_init(|| {
            let concurrency = concurrency.max(1);
            Gate {
                admitted: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
                running: Arc::new(Semaphore::new(concurrency)),
            }
        });
        let Ok(admitted) = gate.admitted.clone().try_acquire_owned() else {
            return Err(ServerError::RateLimited(1));
        };
        let running = gate
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let ok = verify_password(&password, stored.as_deref(), params);
            drop((running, admitted));
            ok
        })
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))
    }
}

/// Whole seconds to announce in `Retry-After` (rounded up, at least 1).
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PasswordParams = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    const BACKOFF: Backoff = Backoff {
        free_failures: 3,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse", FAST).expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", Some(&hash), FAST));
        assert!(!verify_password("wrong horse", Some(&hash), FAST));
        assert!(
            !verify_password("correct horse", None, FAST),
            "unknown users never verify"
        );
        assert!(!verify_password(
            "correct horse",
            Some("not a phc string"),
            FAST
        ));
        let again = hash_password("correct horse", FAST).expect("hash");
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("short", FAST),
            Err(ServerError::Invalid(_))
        ));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn delays_double_after_the_free_failures_and_stop_at_the_cap() {
        let d = |n| BACKOFF.delay(n).as_secs();
        assert_eq!((d(0), d(2)), (0, 0));
        assert_eq!((d(3), d(4), d(5), d(6)), (1, 2, 4, 8));
        assert_eq!((d(9), d(10), d(u32::MAX)), (60, 60, 60));
    }

    #[test]
    fn attempts_are_counted_before_they_are_evaluated() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        // Three attempts in flight at once use the three free slots; the
        // fourth is refused before anyone has been told the outcome.
        let r1 = limiter.reserve("ana", a, &BACKOFF, t0).expect("1");
        let r2 = limiter.reserve("ana", a, &BACKOFF, t0).expect("2");
        let r3 = limiter.reserve("ana", a, &BACKOFF, t0).expect("3");
        assert!(matches!(
            limiter.reserve("ana", a, &BACKOFF, t0),
            Err(ServerError::RateLimited(1))
        ));
        // An attempt never evaluated gives its slot back.
        drop(r3);
        let r3 = limiter
            .reserve("ana", a, &BACKOFF, t0)
            .expect("slot given back");
        r1.fail();
        r2.fail();
        r3.fail();
        assert!(limiter.reserve("ana", a, &BACKOFF, t0).is_err());
    }

    #[test]
    fn backoff_is_per_user_and_address_and_per_address_only() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for _ in 0..3 {
            limiter
                .reserve("ana", a, &BACKOFF, t0)
                .expect("free")
                .fail();
        }
        // Ana from address a waits; so does anyone else from a.
        assert!(limiter.reserve("ana", a, &BACKOFF, t0).is_err());
        assert!(limiter.reserve("luis", a, &BACKOFF, t0).is_err());
        assert!(
            limiter.reserve("ANA", a, &BACKOFF, t0).is_err(),
            "case-insensitive"
        );
        // Ana from another address is not delayed by the attacker at a.
        limiter
            .reserve("ana", b, &BACKOFF, t0)
            .expect("other address")
            .succeed();
        // After the first delay, one more attempt; then twice as long.
        let t1 = t0 + Duration::from_secs(1);
        limiter
            .reserve("ana", a, &BACKOFF, t1)
            .expect("after 1 s")
            .fail();
        match limiter.reserve("ana", a, &BACKOFF, t1 + Duration::from_millis(100)) {
            Err(ServerError::RateLimited(s)) => assert_eq!(s, 2),
            other => panic!("expected a 2 s backoff, got {other:?}"),
        }
        // A quiet key is forgotten.
        let later = t1 + BACKOFF.forget_after();
        limiter
            .reserve("ana", a, &BACKOFF, later)
            .expect("forgotten")
            .succeed();
    }

    #[test]
    fn a_success_clears_the_user_key_but_not_the_address() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        limiter.reserve("ana", a, &BACKOFF, t0).expect("1").fail();
        limiter.reserve("ana", a, &BACKOFF, t0).expect("2").fail();
        limiter
            .reserve("ana", a, &BACKOFF, t0)
            .expect("3")
            .succeed();
        // The address keeps its two failures: one more is free, then wait.
        limiter
            .reserve("luis", a, &BACKOFF, t0)
            .expect("3rd")
            .fail();
        assert!(limiter.reserve("eva", a, &BACKOFF, t0).is_err());
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), "10.0.0.1");
    }

    #[test]
    fn login_names_are_checked_before_use() {
        assert!(check_login_name("ana.garcia@example.com").is_ok());
        assert!(check_login_name("José").is_ok());
        for bad in [
            "",
            "ana\nINFO signed in user=admin",
            "ana\r",
            "ana\u{1b}[2J",
            "ana\0",
            " ana",
            "ana\u{202E}",
            "ana\u{200B}",
        ] {
            assert!(
                matches!(check_login_name(bad), Err(ServerError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(check_login_name(&"a".repeat(64)).is_ok());
        assert!(check_login_name(&"a".repeat(65)).is_err());
        assert!(
            check_login_name(&"é".repeat(33)).is_err(),
            "bytes, not chars"
        );
    }

    #[test]
    fn log_names_never_carry_the_typed_text() {
        let typed = "hunter2 my secret\nINFO forged line";
        let logged = log_name(typed);
        assert!(logged.starts_with("sha256:"), "{logged}");
        assert_eq!(logged.len(), "sha256:".len() + 16);
        assert!(
            logged
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ':')
        );
        assert!(!logged.contains("hunter2"));
        assert_eq!(
            logged,
            log_name(typed),
            "stable, so failures can be correlated"
        );
        assert_ne!(logged, log_name("hunter3 my secret"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verifications_beyond_the_queue_are_refused_at_once() {
        let limiter = Arc::new(RateLimiter::default());
        let slow = PasswordParams {
            memory_kib: 8 * 1024,
            iterations: 2,
            parallelism: 1,
        };
        let hash = hash_password("correct horse", slow).expect("hash");
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (l, h) = (limiter.clone(), hash.clone());
            tasks.push(tokio::spawn(async move {
                l.verify(1, 2, "wrong horse".into(), Some(h), slow).await
            }));
        }
        let mut refused = 0;
        let mut evaluated = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(false) => evaluated += 1,
                Err(ServerError::RateLimited(1)) => refused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!((1..=5).contains(&evaluated), "{evaluated} evaluated");
        assert!(refused >= 7, "{refused} refused");
        // Once the queue drains, verification works again.
        assert!(
            limiter
                .verify(1, 2, "correct horse".into(), Some(hash), slow)
                .await
                .expect("verify")
        );
    }
}
