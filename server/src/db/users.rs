//! Users: who may sign in, their role, territories and manager.

use fieldwork_core::UserContext;
use fieldwork_core::sync::protocol::DirectoryEntry;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServerError};

/// A user as stored (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique name, used to sign in.
    pub name: String,
    /// Role (a key of the policy's `[roles]`).
    pub role: String,
    /// Assigned territories.
    pub territories: Vec<String>,
    /// The user's manager.
    pub manager: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Disabled users cannot sign in or sync.
    pub disabled: bool,
    /// Bumped on every change (devices re-check visibility when it moves).
    pub version: i64,
}

/// What `add` needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Territories.
    pub territories: Vec<String>,
    /// Manager's name.
    pub manager: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
}

const COLUMNS: &str = "id, name, role, territories, manager, time_zone, disabled, version";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let territories: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        territories: serde_json::from_str(&territories).unwrap_or_default(),
        manager: r.get(4)?,
        time_zone: r.get(5)?,
        disabled: r.get::<_, i64>(6)? != 0,
        version: r.get(7)?,
    })
}

/// Checks a user name: 1-64 letters, digits, `.`, `_`, `-`, `@`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "user name `{name}` must be 1-64 letters, digits, `.`, `_`, `-` or `@`"
        )))
    }
}

/// Adds a user. The role must exist in the current policy, the manager must
/// exist, the time zone must be known.
pub fn add(conn: &Connection, user: &NewUser, password_hash: &str, now_ms: i64) -> Result<User> {
    check_name(&user.name)?;
    let (_, policy) = super::policy::current(conn)?;
    if policy.role(&user.role).is_none() {
        let roles: Vec<&str> = policy.roles().keys().map(String::as_str).collect();
        return Err(ServerError::Invalid(format!(
            "role `{}` is not in the policy (roles: {})",
            user.role,
            roles.join(", ")
        )));
    }
    if let Some(manager) = &user.manager
        && by_name(conn, manager)?.is_none()
    {
        return Err(ServerError::Invalid(format!(
            "manager `{manager}` is not a user"
        )));
    }
    if let Some(tz) = &user.time_zone {
        jiff::tz::TimeZone::get(tz)
            .map_err(|_| ServerError::Invalid(format!("`{tz}` is not a known IANA time zone")))?;
    }
    if by_name(conn, &user.name)?.is_some() {
        return Err(ServerError::Invalid(format!(
            "user `{}` already exists",
            user.name
        )));
    }
    let territories = serde_json::to_string(&user.territories)
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    conn.execute(
        "INSERT INTO users(name, role, territories, manager, time_zone, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user.name,
            user.role,
            territories,
            user.manager,
            user.time_zone,
            password_hash,
            now_ms
        ],
    )?;
    super::bump_admin_version(conn)?;
    by_name(conn, &user.name)?.ok_or_else(|| ServerError::Internal("user vanished".into()))
}

/// A user by name.
pub fn by_name(conn: &Connection, name: &str) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE name = ?1"),
            [name],
            from_row,
        )
        .optional()?)
}

/// A user by id.
pub fn by_id(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// The stored password hash of a user.
pub fn password_hash(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Every user, by name.
pub fn list(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many users exist.
pub fn count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Disables or re-enables a user; disabling also revokes their login tokens.
pub fn set_disabled(conn: &Connection, name: &str, disabled: bool) -> Result<User> {
    let n = conn.execute(
        "UPDATE users SET disabled = ?2, version = version + 1 WHERE name = ?1",
        params![name, disabled as i64],
    )?;
    if n == 0 {
        return Err(ServerError::NotFound(format!("user `{name}`")));
    }
    if disabled {
        conn.execute(
            "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
            [name],
        )?;
    }
    super::bump_admin_version(conn)?;
    by_name(conn, name)?.ok_or_else(|| ServerError::NotFound(format!("user `{name}`")))
}

/// Changes a user's role and/or territories.
pub fn update(
    conn: &Connection,
    name: &str,
    role: Option<&str>,
    territories: Option<&[String]>,
) -> Result<User> {
    let user =
        by_name(conn, name)?.ok_or_else(|| ServerError::NotFound(format!("user `{name}`")))?;
    if let Some(role) = role {
        let (_, policy) = super::policy::current(conn)?;
        if policy.role(role).is_none() {
            return Err(ServerError::Invalid(format!(
                "role `{role}` is not in the policy"
            )));
        }
    }
    let territories = match territories {
        Some(t) => serde_json::to_string(t).map_err(|e| ServerError::Internal(e.to_string()))?,
        None => serde_json::to_string(&user.territories)
            .map_err(|e| ServerError::Internal(e.to_string()))?,
    };
    conn.execute(
        "UPDATE users SET role = ?2, territories = ?3, version = version + 1 WHERE name = ?1",
        params![name, role.unwrap_or(&user.role), territories],
    )?;
    super::bump_admin_version(conn)?;
    by_name(conn, name)?.ok_or_else(|| ServerError::NotFound(format!("user `{name}`")))
}

/// The names of everyone `name` manages, directly or indirectly.
pub fn team_of(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE team(n) AS (
            SELECT name FROM users WHERE manager = ?1
            UNION SELECT u.name FROM users u JOIN team t ON u.manager = t.n
         ) SELECT n FROM team ORDER BY n",
    )?;
    let rows = stmt.query_map([name], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The policy's view of a user.
pub fn context(conn: &Connection, user: &User) -> Result<UserContext> {
    Ok(UserContext {
        name: user.name.clone(),
        role: user.role.clone(),
        territories: user.territories.clone(),
        team: team_of(conn, &user.name)?,
    })
}

/// The organisation's directory for the process engine.
pub fn directory(conn: &Connection) -> Result<Vec<DirectoryEntry>> {
    Ok(list(conn)?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| DirectoryEntry {
            name: u.name,
            role: u.role,
            manager: u.manager,
            time_zone: u.time_zone,
        })
        .collect())
}
