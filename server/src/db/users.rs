//! Users: who may sign in, their role, territories and manager.

use std::collections::BTreeMap;

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

/// Adds a user. The role must exist in the current policy, the territory
/// names must be valid ([`check_territory`]), the manager must exist, the
/// time zone must be known.
pub fn add(conn: &Connection, user: &NewUser, password_hash: &str, now_ms: i64) -> Result<User> {
    let problems = check_new(conn, user)?;
    if !problems.is_empty() {
        return Err(ServerError::Invalid(problems.join("; ")));
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

/// Changes a user's role and/or territories (see [`change_user`]).
pub fn update(
    conn: &Connection,
    name: &str,
    role: Option<&str>,
    territories: Option<&[String]>,
) -> Result<User> {
    let change = UserChange {
        role: role.map(str::to_owned),
        territories: territories.map(<[String]>::to_vec),
        ..UserChange::default()
    };
    change_user(conn, name, &change)
}

/// A change to a user: each `Some` replaces the stored value (for the
/// manager and the time zone, `Some(None)` removes it); `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// New role (a role of the policy in force).
    pub role: Option<String>,
    /// New territories (replacing the old ones).
    pub territories: Option<Vec<String>>,
    /// New manager (an existing user), or none.
    pub manager: Option<Option<String>>,
    /// New IANA time zone, or none.
    pub time_zone: Option<Option<String>>,
}

impl UserChange {
    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == UserChange::default()
    }
}

/// Applies `change` to user `name` after checking all of it: the role is in
/// the policy in force, every territory name is valid ([`check_territory`]),
/// the manager is another existing user who is not managed by `name`
/// (directly or not), the time zone is a known IANA zone. Refused
/// (`Invalid`, every problem named) or applied whole; bumps the user's
/// version and the admin version so live sync connections re-check what
/// the user sees. An empty change writes nothing. `NotFound` for an
/// unknown user.
pub fn change_user(conn: &Connection, name: &str, change: &UserChange) -> Result<User> {
    let user =
        by_name(conn, name)?.ok_or_else(|| ServerError::NotFound(format!("user `{name}`")))?;
    if change.is_empty() {
        return Ok(user);
    }
    let problems = check_change(conn, &user, change)?;
    if !problems.is_empty() {
        return Err(ServerError::Invalid(problems.join("; ")));
    }
    let territories =
        serde_json::to_string(change.territories.as_ref().unwrap_or(&user.territories))
            .map_err(|e| ServerError::Internal(e.to_string()))?;
    conn.execute(
        "UPDATE users SET role = ?2, territories = ?3, manager = ?4, time_zone = ?5,
                version = version + 1
          WHERE name = ?1",
        params![
            name,
            change.role.as_ref().unwrap_or(&user.role),
            territories,
            change.manager.as_ref().unwrap_or(&user.manager),
            change.time_zone.as_ref().unwrap_or(&user.time_zone),
        ],
    )?;
    super::bump_admin_version(conn)?;
    by_name(conn, name)?.ok_or_else(|| ServerError::NotFound(format!("user `{name}`")))
}

/// Every problem with new user `user`, in words (empty: none), so a form
/// can show them all at once.
fn check_new(conn: &Connection, user: &NewUser) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    match check_name(&user.name) {
        Err(e) => problems.push(e.to_string()),
        Ok(()) if by_name(conn, &user.name)?.is_some() => {
            problems.push(format!("user `{}` already exists", user.name));
        }
        Ok(()) => {}
    }
    let (_, policy) = super::policy::current(conn)?;
    if policy.role(&user.role).is_none() {
        let roles: Vec<&str> = policy.roles().keys().map(String::as_str).collect();
        problems.push(format!(
            "role `{}` is not in the policy (roles: {})",
            user.role,
            roles.join(", ")
        ));
    }
    if let Some(manager) = &user.manager
        && by_name(conn, manager)?.is_none()
    {
        problems.push(format!("manager `{manager}` is not a user"));
    }
    for territory in &user.territories {
        if let Err(e) = check_territory(territory) {
            problems.push(e.to_string());
        }
    }
    if let Some(tz) = &user.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        problems.push(format!("`{tz}` is not a known IANA time zone"));
    }
    Ok(problems)
}

/// Every problem with `change` to `user`, in words (empty: none).
fn check_change(conn: &Connection, user: &User, change: &UserChange) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    if let Some(role) = &change.role {
        let (_, policy) = super::policy::current(conn)?;
        if policy.role(role).is_none() {
            let roles: Vec<&str> = policy.roles().keys().map(String::as_str).collect();
            problems.push(format!(
                "role `{role}` is not in the policy (roles: {})",
                roles.join(", ")
            ));
        }
    }
    for territory in change.territories.iter().flatten() {
        if let Err(e) = check_territory(territory) {
            problems.push(e.to_string());
        }
    }
    if let Some(Some(manager)) = &change.manager
        && let Some(problem) = check_manager(conn, &user.name, manager)?
    {
        problems.push(problem);
    }
    if let Some(Some(tz)) = &change.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        problems.push(format!("`{tz}` is not a known IANA time zone"));
    }
    Ok(problems)
}

/// Why `manager` cannot manage `name`, if it cannot.
fn check_manager(conn: &Connection, name: &str, manager: &str) -> Result<Option<String>> {
    if manager == name {
        return Ok(Some(format!("`{name}` cannot be their own manager")));
    }
    if by_name(conn, manager)?.is_none() {
        return Ok(Some(format!("manager `{manager}` is not a user")));
    }
    if team_of(conn, name)?.iter().any(|m| m == manager) {
        return Ok(Some(format!(
            "manager `{manager}` is managed by `{name}`: that would be a circle"
        )));
    }
    Ok(None)
}

/// Checks a territory name: 1-64 bytes, no control characters, no
/// surrounding white space.
pub fn check_territory(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && !name.chars().any(char::is_control)
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "territory `{}` must have 1-64 bytes, no control characters and no surrounding spaces",
            name.escape_debug()
        )))
    }
}

/// A user with when they were created, as administrators list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// When the user was created (ms since the Unix epoch).
    pub created_at: i64,
}

fn info_from_row(r: &Row<'_>) -> rusqlite::Result<UserInfo> {
    Ok(UserInfo {
        user: from_row(r)?,
        created_at: r.get(8)?,
    })
}

/// Every user with their creation time, by name.
pub fn list_info(conn: &Connection) -> Result<Vec<UserInfo>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, created_at FROM users ORDER BY name"
    ))?;
    let rows = stmt.query_map([], info_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One user with their creation time.
pub fn info(conn: &Connection, name: &str) -> Result<Option<UserInfo>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS}, created_at FROM users WHERE name = ?1"),
            [name],
            info_from_row,
        )
        .optional()?)
}

/// How many users have each role (roles nobody has are absent).
pub fn role_counts(conn: &Connection) -> Result<BTreeMap<String, u64>> {
    let mut stmt = conn.prepare("SELECT role, count(*) FROM users GROUP BY role")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A territory in use, and by how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TerritoryUse {
    /// Users (enabled or not) assigned the territory.
    pub users: u64,
    /// Accounts whose `territory` is it (from the record facts).
    pub accounts: u64,
}

/// Every territory in use, by name: users' territories and accounts'
/// `territory` values (from the server's record facts).
pub fn territories(conn: &Connection) -> Result<BTreeMap<String, TerritoryUse>> {
    let mut out: BTreeMap<String, TerritoryUse> = BTreeMap::new();
    for user in list(conn)? {
        let mut mine = user.territories;
        mine.sort();
        mine.dedup();
        for t in mine {
            out.entry(t).or_default().users += 1;
        }
    }
    let mut stmt = conn.prepare(
        "SELECT territory, count(*) FROM records
          WHERE kind = 'account' AND territory IS NOT NULL AND territory <> '' GROUP BY territory",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (territory, n) = row?;
        out.entry(territory).or_default().accounts = n as u64;
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::db::migrations::migrate(&mut conn, Path::new("server.db")).expect("migrate");
        let policy = fieldwork_core::policy::DEFAULT_POLICY_TOML;
        conn.execute(
            "INSERT INTO policies(revision, source, set_by, set_at) VALUES (1, ?1, 'test', 1)",
            [policy],
        )
        .expect("policy");
        for (name, manager) in [("marta", None), ("ana", Some("marta"))] {
            let new = NewUser {
                name: name.into(),
                role: "rep".into(),
                territories: vec!["madrid".into()],
                manager: manager.map(str::to_owned),
                time_zone: None,
            };
            add(&conn, &new, "hash", 1).expect("add");
        }
        conn
    }

    #[test]
    fn a_change_is_checked_whole_and_refused_whole() {
        let conn = db();
        let before = by_name(&conn, "marta").expect("read").expect("marta");
        let change = UserChange {
            territories: Some(vec!["sevilla".into(), " padded".into()]),
            manager: Some(Some("ana".into())),
            ..UserChange::default()
        };
        let refused = change_user(&conn, "marta", &change).expect_err("refused");
        let said = refused.to_string();
        assert!(said.contains("territory ` padded`"), "{said}");
        assert!(said.contains("would be a circle"), "{said}");
        assert_eq!(by_name(&conn, "marta").expect("read"), Some(before.clone()));
        // An empty change writes nothing, not even the version.
        let same = change_user(&conn, "marta", &UserChange::default()).expect("empty");
        assert_eq!(same, before);
    }

    #[test]
    fn a_change_replaces_what_it_names_and_keeps_the_rest() {
        let conn = db();
        let change = UserChange {
            role: Some("manager".into()),
            manager: Some(None),
            time_zone: Some(Some("Europe/Madrid".into())),
            ..UserChange::default()
        };
        let ana = change_user(&conn, "ana", &change).expect("changed");
        assert_eq!(ana.role, "manager");
        assert_eq!(ana.manager, None);
        assert_eq!(ana.time_zone.as_deref(), Some("Europe/Madrid"));
        assert_eq!(ana.territories, ["madrid"], "kept");
        assert_eq!(ana.version, 2);
        let counts = role_counts(&conn).expect("counts");
        assert_eq!(counts.get("manager"), Some(&1));
        assert_eq!(counts.get("rep"), Some(&1));
        let used = territories(&conn).expect("territories");
        assert_eq!(
            used.get("madrid").map(|t| (t.users, t.accounts)),
            Some((2, 0))
        );
    }
}
