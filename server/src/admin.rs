//! Administrative actions shared by the admin CLI and the admin API.

use rusqlite::TransactionBehavior;

use crate::auth;
use crate::db::users::{self, NewUser, User};
use crate::db::{Writer, policy};
use crate::error::Result;
use crate::hub::{FeedEvent, HubEvent};
use crate::reclassify;
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

/// Validates and installs a policy, moving the values of reclassified
/// fields (see [`reclassify`]), in one transaction; tells live sync connections.
/// Returns the new revision. An invalid policy changes nothing.
pub fn install_policy(state: &AppState, source: &str, by: &str) -> Result<u64> {
    let now = state.clock.now();
    let (revision, events) = state.db.write_blocking(|w| {
        let out = set_policy(w, &state.actor, source, by, now)?;
        // Published while the writer is held, so feed order is kept.
        if !out.1.is_empty() {
            state
                .hub
                .publish(HubEvent::Changes(std::sync::Arc::new(out.1.clone())));
        }
        Ok(out)
    })?;
    tracing::info!(
        revision,
        by,
        reclassified_changes = events.len(),
        "policy installed"
    );
    announce(state);
    Ok(revision)
}

/// The transaction behind [`install_policy`].
fn set_policy(
    w: &mut Writer,
    actor: &fieldwork_core::automerge::ActorId,
    source: &str,
    by: &str,
    now: jiff::Timestamp,
) -> Result<(u64, Vec<FeedEvent>)> {
    let Writer { conn, cache } = w;
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (_, old) = policy::current(&tx)?;
        let revision = policy::set(&tx, source, by, now.as_millisecond())?;
        let (_, new) = policy::current(&tx)?;
        let events = reclassify::run(&tx, cache, &reclassify::moves(&old, &new), actor, now)?;
        tx.commit()?;
        Ok((revision, events))
    })();
    if result.is_err() {
        // Documents in the cache may hold rolled-back changes.
        cache.clear();
    }
    result
}

/// Tells live sync connections that users or the policy changed.
pub fn announce(state: &AppState) {
    state.hub.publish(HubEvent::AdminChanged);
}
