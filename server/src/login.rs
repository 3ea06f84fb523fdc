//! Checking a sign-in's password: the one sequence `/v1/login` and the web
//! app's sign-in both follow, so their lock-out rules cannot drift apart.
//!
//! Guarantees:
//! - **Counted before Argon2 runs**: the attempt is reserved against the
//!   per user+address and per address back-off ([`auth`]'s limiter) before
//!   the password is verified, so concurrent guesses cannot overtake it;
//! - verification runs within the server's concurrency and queue bounds
//!   (`429` beyond), against the stored hash, or a dummy one for an unknown
//!   or disabled user (the same time either way);
//! - a failure is settled as a failure and logged with the user's name only
//!   when the user exists (anything else only as a fingerprint, so a
//!   password typed in the name field never reaches the log);
//! - a disabled user's password is checked only when the login names a
//!   device of theirs marked for wipe ([`crate::wipe`]), so the device can
//!   be told to wipe itself; the caller then answers with the wipe order.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use crate::auth;
use crate::db::users;
use crate::error::{Result, ServerError};
use crate::state::AppState;

/// A password that checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The login named its owner's device marked for wipe: answer with the
    /// wipe order, not a session.
    pub wipe_order_due: bool,
}

/// Checks `password` for `user` signing in from `client` (`device`: the
/// device the login names, if any); [`ServerError::InvalidCredentials`]
/// or [`ServerError::RateLimited`] otherwise.
pub async fn verify_password(
    state: &Arc<AppState>,
    user: &str,
    password: String,
    device: Option<String>,
    client: IpAddr,
    peer: SocketAddr,
) -> Result<Verified> {
    let config = &state.config;
    let backoff = auth::Backoff {
        free_failures: config.login_free_failures,
        base: config.login_backoff_base,
        max: config.login_backoff_max,
    };
    let reservation = state
        .limiter
        .reserve(user, client, &backoff, Instant::now())
        .inspect_err(|_| {
            tracing::info!(user = %auth::log_name(user), %client, "login refused: backing off");
        })?;
    let name = user.to_owned();
    let (exists, stored, wipe_order_due) = state
        .db
        .read(move |c| {
            let user = users::by_name(c, &name)?;
            let marked = match &user {
                Some(u) => crate::wipe::login_names_marked_device(c, u, device.as_deref())?,
                None => false,
            };
            let hash = match &user {
                Some(u) if !u.disabled || marked => users::password_hash(c, &name)?,
                _ => None,
            };
            Ok((user.is_some(), hash, marked))
        })
        .await?;
    let ok = state
        .limiter
        .verify(
            config.login_concurrency,
            config.login_queue,
            password,
            stored,
            config.password,
        )
        .await
        .inspect_err(|e| {
            if matches!(e, ServerError::RateLimited(_)) {
                tracing::warn!(%client, "login refused: too many verifications waiting");
            }
        })?;
    if !ok {
        reservation.fail();
        if exists {
            tracing::info!(user = %user, %client, %peer, "failed login");
        } else {
            tracing::info!(user = %auth::log_name(user), %client, %peer, "failed login for an unknown user");
        }
        return Err(ServerError::InvalidCredentials);
    }
    reservation.succeed();
    Ok(Verified { wipe_order_due })
}
