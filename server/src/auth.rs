//! Passwords, tokens and login rate limiting.
//!
//! - Passwords are hashed with **Argon2id** (the `argon2` crate), a random
//!   16-byte salt per user, and the OWASP-recommended parameters
//!   m = 19 MiB, t = 2, p = 1 ([`PasswordParams::default`]). The PHC string
//!   stored keeps the parameters, so they can be raised later without
//!   breaking existing hashes.
//! - Session tokens are 32 random bytes (base64url), stored only as SHA-256.
//! - A wrong user name and a wrong password give the same answer and take the
//!   same time (an unknown user is verified against a dummy hash).
//! - After [`MAX_FAILURES`] failures within [`WINDOW`], further attempts for
//!   that user name, and separately for that client address, are refused
//!   until the window passes. The counters live in memory (a restart resets
//!   them).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;

use crate::error::{Result, ServerError};

/// Failures allowed per user name or address within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
/// The rate-limiting window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

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
/// against a dummy hash so that the answer takes as long).
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password("dummy password for timing", PasswordParams::default()).unwrap_or_default()
    });
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
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

/// A new random session token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Counts login failures per key (user name or address).
#[derive(Debug, Default)]
pub struct RateLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl RateLimiter {
    /// Refuses when any of `keys` has too many recent failures.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<()> {
        let map = self
            .failures
            .lock()
            .map_err(|_| ServerError::Internal("rate limiter poisoned".into()))?;
        for key in keys {
            if let Some((count, start)) = map.get(key) {
                let elapsed = now.saturating_duration_since(*start);
                if *count >= MAX_FAILURES && elapsed < WINDOW {
                    return Err(ServerError::RateLimited(
                        (WINDOW - elapsed).as_secs().max(1),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Records a failure for each of `keys`.
    pub fn fail(&self, keys: &[String], now: Instant) {
        if let Ok(mut map) = self.failures.lock() {
            for key in keys {
                let entry = map.entry(key.clone()).or_insert((0, now));
                if now.saturating_duration_since(entry.1) >= WINDOW {
                    *entry = (0, now);
                }
                entry.0 += 1;
            }
            // Keep the map bounded: drop windows that have passed.
            if map.len() > 100_000 {
                map.retain(|_, (_, start)| now.saturating_duration_since(*start) < WINDOW);
            }
        }
    }

    /// Clears the counters of `keys` after a success.
    pub fn succeed(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            for key in keys {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: PasswordParams = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse", FAST).expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(
            !verify_password("correct horse", None),
            "unknown users never verify"
        );
        assert!(!verify_password("correct horse", Some("not a phc string")));
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
    fn failures_lock_a_key_for_the_window_then_release_it() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let keys = vec!["user:ana".to_owned(), "addr:10.0.0.1".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(limiter.check(&keys, t0).is_ok());
            limiter.fail(&keys, t0);
        }
        assert!(matches!(limiter.check(&keys, t0), Err(ServerError::RateLimited(s)) if s > 0));
        // Another user from the same address is refused too; another address
        // for a fresh user is not.
        assert!(
            limiter
                .check(&["user:luis".into(), "addr:10.0.0.1".into()], t0)
                .is_err()
        );
        assert!(
            limiter
                .check(&["user:luis".into(), "addr:10.0.0.2".into()], t0)
                .is_ok()
        );
        assert!(
            limiter.check(&keys, t0 + WINDOW).is_ok(),
            "the window passes"
        );
        limiter.succeed(&keys);
        assert!(limiter.check(&keys, t0).is_ok());
    }
}
