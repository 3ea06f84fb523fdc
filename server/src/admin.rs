//! Administrative actions shared by the admin CLI and the admin API.
//!
//! Guarantees: a change to a user ([`set_user`], [`enable_user`]) and its
//! audit entry (who, what, when; codes
//! [`codes`]) are written in one transaction, and live sync connections are
//! told at once ([`announce`]; another process's changes are noticed by the
//! server's admin-version poll), so devices lose and gain documents as the
//! user's new rights say.

use rusqlite::TransactionBehavior;

use crate::auth;
use crate::db::audit::{self, AuditEntry};
use crate::db::users::{self, NewUser, User, UserChange};
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

/// The audit codes of administrative actions on users and the policy.
pub mod codes {
    /// A user was created.
    pub const ADD_USER: &str = "admin_add_user";
    /// A user's role, territories, manager or time zone changed.
    pub const SET_USER: &str = "admin_set_user";
    /// A user was disabled (their devices marked for wipe).
    pub const DISABLE_USER: &str = "admin_disable_user";
    /// A user was enabled again.
    pub const ENABLE_USER: &str = "admin_enable_user";
    /// A policy was installed.
    pub const SET_POLICY: &str = "admin_set_policy";
}

/// Changes user `name` as `change` says (checked whole by
/// [`users::change_user`]: role in the policy in force, territory names,
/// manager, time zone), writes who (`by`) changed what to the audit log in
/// the same transaction, and tells live sync connections, so the user's
/// devices lose documents they no longer see and get those they now see.
/// An empty change writes nothing. The operation behind both
/// `fieldwork-server user set` and `PATCH /v1/admin/users/{name}`.
pub fn set_user(state: &AppState, name: &str, change: &UserChange, by: &str) -> Result<User> {
    if change.is_empty() {
        return state
            .db
            .read_blocking(|c| users::change_user(c, name, change));
    }
    let now = state.now_ms();
    let user = state.db.write_blocking(|w| {
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = users::by_name(&tx, name)?;
        let after = users::change_user(&tx, name, change)?;
        let what = describe_change(before.as_ref().unwrap_or(&after), &after);
        audit::record(&tx, &AuditEntry::admin(now, by, codes::SET_USER, what))?;
        tx.commit()?;
        Ok(after)
    })?;
    tracing::info!(by, target = %user.name, "admin action: user changed");
    announce(state);
    Ok(user)
}

/// "changed user `ana`: territories [madrid] → [sevilla]" (only what changed).
fn describe_change(before: &User, after: &User) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let mut parts = Vec::new();
    if before.role != after.role {
        parts.push(format!("role {} → {}", before.role, after.role));
    }
    if before.territories != after.territories {
        let (b, a) = (list(&before.territories), list(&after.territories));
        parts.push(format!("territories {b} → {a}"));
    }
    if before.manager != after.manager {
        let (b, a) = (opt(&before.manager), opt(&after.manager));
        parts.push(format!("manager {b} → {a}"));
    }
    if before.time_zone != after.time_zone {
        let (b, a) = (opt(&before.time_zone), opt(&after.time_zone));
        parts.push(format!("time zone {b} → {a}"));
    }
    if parts.is_empty() {
        parts.push("nothing changed".into());
    }
    format!("changed user `{}`: {}", after.name, parts.join("; "))
}

/// Enables user `name` again (they may sign in and sync; devices marked
/// for wipe stay marked), audited as done by `by` in the same transaction;
/// tells live sync connections. `NotFound` for an unknown user. The
/// operation behind `fieldwork-server user enable` and
/// `POST /v1/admin/users/{name}/enable`.
pub fn enable_user(state: &AppState, name: &str, by: &str) -> Result<User> {
    let now = state.now_ms();
    let user = state.db.write_blocking(|w| {
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user = users::set_disabled(&tx, name, false)?;
        let what = format!("enabled user `{}`", user.name);
        audit::record(&tx, &AuditEntry::admin(now, by, codes::ENABLE_USER, what))?;
        tx.commit()?;
        Ok(user)
    })?;
    tracing::info!(by, target = %user.name, "admin action: user enabled");
    announce(state);
    Ok(user)
}
