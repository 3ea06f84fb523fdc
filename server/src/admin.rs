//! Administrative actions shared by the admin CLI and the admin API.

use rusqlite::Connection;

use crate::auth;
use crate::db::users::{self, NewUser, User};
use crate::error::Result;
use crate::hub::HubEvent;
use crate::state::AppState;

/// Creates a user with a password (hashed with Argon2id).
pub fn add_user(state: &AppState, new: &NewUser, password: &str) -> Result<User> {
    let hash = auth::hash_password(password, state.config.password)?;
    let now = state.now_ms();
    let user = state
        .db
        .write_blocking(|w| users::add(&w.conn, new, &hash, now))?;
    announce(state);
    Ok(user)
}

/// Validates and installs a policy; returns its revision.
pub fn set_policy(conn: &Connection, source: &str, by: &str, now_ms: i64) -> Result<u64> {
    crate::db::policy::set(conn, source, by, now_ms)
}

/// Tells live sessions that users or the policy changed.
pub fn announce(state: &AppState) {
    state.hub.publish(HubEvent::AdminChanged);
}
