//! Policy revisions: the policy in force is the highest revision.
//!
//! Guarantees: a revision is installed only if it is valid and keeps every
//! role some user holds. This module reads the `users` table itself (names
//! and roles) rather than through `db::users`, which depends on it: the
//! modules form a tree.

use fieldwork_core::Policy;
use fieldwork_core::policy::DEFAULT_POLICY_TOML;
use rusqlite::{Connection, params};

use crate::error::{Result, ServerError};

/// Installs the shipped default as revision 1 if there is no policy yet.
pub fn install_default(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO policies(revision, source, set_by, set_at)
         SELECT 1, ?1, 'initial', 0 WHERE NOT EXISTS (SELECT 1 FROM policies)",
        [DEFAULT_POLICY_TOML],
    )?;
    Ok(())
}

/// The policy in force and its revision.
pub fn current(conn: &Connection) -> Result<(u64, Policy)> {
    let (revision, source): (i64, String) = conn.query_row(
        "SELECT revision, source FROM policies ORDER BY revision DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((revision as u64, parsed(revision, source)?))
}

/// The policy `source` parsed, reusing the last parse when the text is the
/// same: every API request and sync hello reads the policy in force, and
/// parsing TOML each time is work a string comparison saves.
fn parsed(revision: i64, source: String) -> Result<Policy> {
    static LAST: std::sync::Mutex<Option<(String, Policy)>> = std::sync::Mutex::new(None);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((text, policy)) = last.as_ref()
        && *text == source
    {
        return Ok(policy.clone());
    }
    let policy = Policy::from_toml(&source).map_err(|e| {
        ServerError::Internal(format!("stored policy revision {revision} is invalid: {e}"))
    })?;
    *last = Some((source, policy.clone()));
    Ok(policy)
}

/// The revision of the policy in force (cheap: no parsing).
pub fn revision(conn: &Connection) -> Result<u64> {
    let revision: i64 = conn.query_row("SELECT max(revision) FROM policies", [], |r| r.get(0))?;
    Ok(u64::try_from(revision).unwrap_or(0))
}

/// Validates `source` and installs it as the next revision. Refuses a policy
/// that is invalid or that drops a role some user still has; the old policy
/// stays in force.
pub fn set(conn: &Connection, source: &str, by: &str, now_ms: i64) -> Result<u64> {
    let policy = Policy::from_toml(source)?;
    let orphans: Vec<String> = roles_in_use(conn)?
        .into_iter()
        .filter(|(_, role)| policy.role(role).is_none())
        .map(|(name, role)| format!("`{name}` has role `{role}`"))
        .collect();
    if !orphans.is_empty() {
        return Err(ServerError::Core(fieldwork_core::CoreError::Policy(vec![
            format!(
                "roles: the policy drops roles still in use: {}",
                orphans.join(", ")
            ),
        ])));
    }
    let (revision, _) = current(conn)?;
    let next = revision + 1;
    conn.execute(
        "INSERT INTO policies(revision, source, set_by, set_at) VALUES (?1, ?2, ?3, ?4)",
        params![next as i64, source, by, now_ms],
    )?;
    super::bump_admin_version(conn)?;
    Ok(next)
}

/// Every user's name and role, by name.
fn roles_in_use(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, role FROM users ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
