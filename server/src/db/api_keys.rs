//! API keys for integrations: a named credential of a service user (an
//! ordinary user, usually with a role made for integrations), read-only or
//! read-write, optionally limited to some record kinds and to its own rate.
//!
//! A key is `fwk_<id>_<secret>`: `id` is the row id (not secret), `secret`
//! is 32 random bytes in hex. The secret is shown once, at creation; only
//! its SHA-256 is stored (a fast hash is right for a 256-bit random secret:
//! there is nothing to guess), and it is compared in constant time.
//!
//! Guarantees:
//! - [`authenticate`] answers `None` for a malformed, unknown or revoked
//!   key, a wrong secret, and a key whose user is disabled or gone;
//! - [`create_audited`] and [`revoke_audited`] write the change and its
//!   audit entry in one transaction (the admin API and the CLI use them);
//! - a revoked key stays revoked ([`revoke`] never clears `revoked_at`);
//! - [`list`] and [`ApiKeyInfo`] never carry a secret or its hash;
//! - `last_used_at` is written by [`record_use`], which the API calls at
//!   most once a minute per key (see [`crate::api::limits`]), so it is
//!   accurate to about a minute and costs no write per request.

use fieldwork_core::RecordKind;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::audit::{self, AuditEntry};
use crate::db::users::{self, User};
use crate::error::{Result, ServerError};

/// What an API key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    /// The key's id (for its rate limit and last-used time).
    pub key_id: i64,
    /// Reads only.
    pub read_only: bool,
    /// The record kinds it may touch (`None`: every kind).
    pub kinds: Option<Vec<RecordKind>>,
}

/// Every API key starts with this.
pub const PREFIX: &str = "fwk_";

/// Bytes of randomness in a key's secret.
const SECRET_BYTES: usize = 32;

/// The longest key name, in bytes.
pub const MAX_NAME_BYTES: usize = 100;

/// The highest rate a key may be given, in requests per minute.
pub const MAX_RATE_PER_MINUTE: u32 = 100_000;

/// Most keys [`list`] returns.
const MAX_LISTED: i64 = 10_000;

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// A name for people ("ERP export").
    pub name: String,
    /// The service user the key acts as.
    pub user: String,
    /// Reads only.
    pub read_only: bool,
    /// The record kinds it may touch (`None`: every kind).
    pub kinds: Option<Vec<RecordKind>>,
    /// Its own rate limit (`None`: the server's default).
    pub rate_per_minute: Option<u32>,
}

/// A key as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The key's id (the part after `fwk_`).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The user it acts as.
    pub user: String,
    /// Reads only.
    pub read_only: bool,
    /// The record kinds it may touch (`None`: every kind).
    pub kinds: Option<Vec<RecordKind>>,
    /// Its own rate limit (`None`: the server's default).
    pub rate_per_minute: Option<u32>,
    /// When it was created (ms since the Unix epoch).
    pub created_at: i64,
    /// The administrator who created it.
    pub created_by: String,
    /// When it was last used, to about a minute (ms), if ever.
    pub last_used_at: Option<i64>,
    /// When it was revoked (ms), if it was.
    pub revoked_at: Option<i64>,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Equality of two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Splits `fwk_<id>_<secret>`; `None` unless the id is a positive number
/// and the secret is 64 lowercase hex digits.
fn parse(presented: &str) -> Option<(i64, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let valid_id = !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit());
    let valid_secret = secret.len() == SECRET_BYTES * 2
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid_id || !valid_secret {
        return None;
    }
    let id: i64 = id.parse().ok()?;
    (id > 0).then_some((id, secret))
}

fn kinds_to_json(kinds: &Option<Vec<RecordKind>>) -> Option<String> {
    kinds.as_ref().map(|k| {
        let names: Vec<&str> = k.iter().map(|k| k.as_str()).collect();
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    })
}

/// Stored kinds; an unreadable entry is dropped (the scope only narrows).
fn kinds_from_json(text: Option<String>) -> Option<Vec<RecordKind>> {
    let names: Vec<String> = serde_json::from_str(&text?).unwrap_or_default();
    Some(names.iter().filter_map(|n| n.parse().ok()).collect())
}

/// `user_id, secret_hash, read_only, kinds, revoked_at` of a key.
type KeyRow = (i64, Vec<u8>, bool, Option<String>, Option<i64>);

/// The key's service user and scope, if `presented` is a live key of an
/// enabled user. Keys do not expire, so `now_ms` is not consulted.
pub fn authenticate(
    conn: &Connection,
    presented: &str,
    _now_ms: i64,
) -> Result<Option<(User, KeyScope)>> {
    let Some((id, secret)) = parse(presented) else {
        return Ok(None);
    };
    let row: Option<KeyRow> = conn
        .prepare_cached(
            "SELECT user_id, secret_hash, read_only, kinds, revoked_at FROM api_keys WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((user_id, stored, read_only, kinds, revoked_at)) = row else {
        return Ok(None);
    };
    if !constant_time_eq(&hash(secret), &stored) || revoked_at.is_some() {
        return Ok(None);
    }
    let Some(user) = users::by_id(conn, user_id)?.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let scope = KeyScope {
        key_id: id,
        read_only,
        kinds: kinds_from_json(kinds),
    };
    Ok(Some((user, scope)))
}

/// Checks what an administrator asked for: a name of 1 to
/// [`MAX_NAME_BYTES`] bytes without control characters, an enabled user, a
/// rate of 1 to [`MAX_RATE_PER_MINUTE`].
fn check(conn: &Connection, new: &NewKey) -> Result<User> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(ServerError::Invalid(format!(
            "the key's name must have 1 to {MAX_NAME_BYTES} bytes and no control characters"
        )));
    }
    if let Some(rate) = new.rate_per_minute
        && !(1..=MAX_RATE_PER_MINUTE).contains(&rate)
    {
        return Err(ServerError::Invalid(format!(
            "rate_per_minute must be 1 to {MAX_RATE_PER_MINUTE}"
        )));
    }
    match users::by_name(conn, &new.user)? {
        Some(u) if !u.disabled => Ok(u),
        Some(_) => Err(ServerError::Invalid(format!(
            "user `{}` is disabled",
            new.user
        ))),
        None => Err(ServerError::Invalid(format!(
            "user `{}` does not exist",
            new.user
        ))),
    }
}

/// Creates a key for `new.user`, by administrator `by`. Returns the key as
/// listed and the whole key `fwk_<id>_<secret>` (the only time it exists
/// outside the caller's hands).
pub fn create(
    conn: &Connection,
    new: &NewKey,
    by: &str,
    now_ms: i64,
) -> Result<(ApiKeyInfo, String)> {
    let user = check(conn, new)?;
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    conn.execute(
        "INSERT INTO api_keys(secret_hash, name, user_id, read_only, kinds, rate_per_minute, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            hash(&secret),
            new.name.trim(),
            user.id,
            new.read_only,
            kinds_to_json(&new.kinds),
            new.rate_per_minute,
            now_ms,
            by
        ],
    )?;
    let id = conn.last_insert_rowid();
    let info = get(conn, id)?
        .ok_or_else(|| ServerError::Internal("a key just created is missing".into()))?;
    Ok((info, format!("{PREFIX}{id}_{secret}")))
}

/// [`create`] and its audit entry (`admin_create_api_key`, by `by`) in
/// one transaction.
pub fn create_audited(
    conn: &mut Connection,
    new: &NewKey,
    by: &str,
    now_ms: i64,
) -> Result<(ApiKeyInfo, String)> {
    let tx = conn.transaction()?;
    let (info, key) = create(&tx, new, by, now_ms)?;
    let kinds = info.kinds.as_ref().map_or("all".to_owned(), |k| {
        k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    });
    let what = format!(
        "created API key {} `{}` for user `{}` ({}, kinds: {kinds}, rate: {})",
        info.id,
        info.name,
        info.user,
        if info.read_only {
            "read-only"
        } else {
            "read-write"
        },
        info.rate_per_minute
            .map_or("default".into(), |r| format!("{r}/min")),
    );
    audit::record(
        &tx,
        &AuditEntry::admin(now_ms, by, "admin_create_api_key", what),
    )?;
    tx.commit()?;
    Ok((info, key))
}

/// [`revoke`] and its audit entry (`admin_revoke_api_key`, by `by`) in one
/// transaction. `None`: no such key (nothing is written).
pub fn revoke_audited(
    conn: &mut Connection,
    id: i64,
    by: &str,
    now_ms: i64,
) -> Result<Option<ApiKeyInfo>> {
    let tx = conn.transaction()?;
    let Some(info) = revoke(&tx, id, now_ms)? else {
        return Ok(None);
    };
    let what = format!(
        "revoked API key {} `{}` of user `{}`",
        info.id, info.name, info.user
    );
    audit::record(
        &tx,
        &AuditEntry::admin(now_ms, by, "admin_revoke_api_key", what),
    )?;
    tx.commit()?;
    Ok(Some(info))
}

const COLUMNS: &str = "k.id, k.name, u.name, k.read_only, k.kinds, k.rate_per_minute,
    k.created_at, k.created_by, k.last_used_at, k.revoked_at
    FROM api_keys k JOIN users u ON u.id = k.user_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        user: r.get(2)?,
        read_only: r.get(3)?,
        kinds: kinds_from_json(r.get(4)?),
        rate_per_minute: r.get(5)?,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
        last_used_at: r.get(8)?,
        revoked_at: r.get(9)?,
    })
}

/// One key, without its secret.
pub fn get(conn: &Connection, id: i64) -> Result<Option<ApiKeyInfo>> {
    Ok(conn
        .query_row(&format!("SELECT {COLUMNS} WHERE k.id = ?1"), [id], from_row)
        .optional()?)
}

/// Every key (live and revoked, oldest first, at most 10,000), without
/// secrets.
pub fn list(conn: &Connection) -> Result<Vec<ApiKeyInfo>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} ORDER BY k.id LIMIT ?1"))?;
    let rows = stmt.query_map([MAX_LISTED], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Revokes key `id` at `now_ms` (a key already revoked keeps its first
/// revocation time). `None`: no such key.
pub fn revoke(conn: &Connection, id: i64, now_ms: i64) -> Result<Option<ApiKeyInfo>> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now_ms],
    )?;
    get(conn, id)
}

/// Records that key `id` was used at `now_ms` (never moves backwards).
pub fn record_use(conn: &Connection, id: i64, now_ms: i64) -> Result<()> {
    conn.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
        params![id, now_ms],
    )?;
    Ok(())
}

/// The key's own rate limit (`None`: none of its own, or no such key).
pub fn rate_of(conn: &Connection, id: i64) -> Result<Option<u32>> {
    Ok(conn
        .prepare_cached("SELECT rate_per_minute FROM api_keys WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<u32>>(0))
        .optional()?
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).expect("db");
        db.write_blocking(|w| {
            for (name, role) in [("erp", "admin"), ("gone", "rep")] {
                let user = users::NewUser {
                    name: name.into(),
                    role: role.into(),
                    territories: vec![],
                    manager: None,
                    time_zone: None,
                };
                users::add(&w.conn, &user, "x", 1)?;
            }
            Ok(())
        })
        .expect("users");
        (dir, db)
    }

    fn new_key(user: &str) -> NewKey {
        NewKey {
            name: "ERP export".into(),
            user: user.into(),
            read_only: true,
            kinds: Some(vec![RecordKind::Account, RecordKind::Deal]),
            rate_per_minute: Some(5),
        }
    }

    #[test]
    fn a_key_authenticates_until_revoked_and_only_with_its_secret() {
        let (_dir, db) = db();
        let (info, key) = db
            .write_blocking(|w| create(&w.conn, &new_key("erp"), "root", 10))
            .expect("create");
        assert!(key.starts_with(&format!("fwk_{}_", info.id)));
        assert_eq!(
            info.kinds,
            Some(vec![RecordKind::Account, RecordKind::Deal])
        );
        let (user, scope) = db
            .read_blocking(|c| authenticate(c, &key, 11))
            .expect("auth")
            .expect("a live key");
        assert_eq!(user.name, "erp");
        assert_eq!(
            scope,
            KeyScope {
                key_id: info.id,
                read_only: true,
                kinds: Some(vec![RecordKind::Account, RecordKind::Deal]),
            }
        );
        // One wrong hex digit, another key's id, garbage: nothing.
        let last = key.chars().last().expect("char");
        let flipped = format!(
            "{}{}",
            &key[..key.len() - 1],
            if last == '0' { '1' } else { '0' }
        );
        let other_id = key.replacen(&format!("fwk_{}_", info.id), "fwk_99_", 1);
        for wrong in [
            flipped.as_str(),
            &other_id,
            "fwk_",
            "fwk_1_zz",
            "fwk_-1_00",
            &key.to_uppercase(),
        ] {
            assert_eq!(
                db.read_blocking(|c| authenticate(c, wrong, 11))
                    .expect("auth"),
                None,
                "{wrong}"
            );
        }
        assert_eq!(
            db.read_blocking(|c| rate_of(c, info.id)).expect("rate"),
            Some(5)
        );
        let revoked = db
            .write_blocking(|w| revoke(&w.conn, info.id, 20))
            .expect("revoke")
            .expect("exists");
        assert_eq!(revoked.revoked_at, Some(20));
        db.write_blocking(|w| revoke(&w.conn, info.id, 30))
            .expect("again");
        let listed = db.read_blocking(list).expect("list");
        assert_eq!(listed[0].revoked_at, Some(20), "the first revocation stays");
        assert_eq!(
            db.read_blocking(|c| authenticate(c, &key, 31))
                .expect("auth"),
            None
        );
    }

    #[test]
    fn a_disabled_user_s_key_authenticates_nothing_and_bad_requests_are_refused() {
        let (_dir, db) = db();
        let (_, key) = db
            .write_blocking(|w| create(&w.conn, &new_key("gone"), "root", 10))
            .expect("create");
        db.write_blocking(|w| {
            w.conn
                .execute("UPDATE users SET disabled = 1 WHERE name = 'gone'", [])?;
            Ok(())
        })
        .expect("disable");
        assert_eq!(
            db.read_blocking(|c| authenticate(c, &key, 11))
                .expect("auth"),
            None
        );
        for bad in [
            NewKey {
                user: "nobody".into(),
                ..new_key("erp")
            },
            NewKey {
                user: "gone".into(),
                ..new_key("erp")
            },
            NewKey {
                name: " ".into(),
                ..new_key("erp")
            },
            NewKey {
                name: "a\nb".into(),
                ..new_key("erp")
            },
            NewKey {
                rate_per_minute: Some(0),
                ..new_key("erp")
            },
        ] {
            let refused = db.write_blocking(|w| create(&w.conn, &bad, "root", 10));
            assert!(
                matches!(refused, Err(ServerError::Invalid(_))),
                "{bad:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn last_use_never_moves_backwards() {
        let (_dir, db) = db();
        let (info, _) = db
            .write_blocking(|w| create(&w.conn, &new_key("erp"), "root", 10))
            .expect("create");
        db.write_blocking(|w| record_use(&w.conn, info.id, 500))
            .expect("use");
        db.write_blocking(|w| record_use(&w.conn, info.id, 400))
            .expect("use");
        let got = db
            .read_blocking(|c| get(c, info.id))
            .expect("get")
            .expect("key");
        assert_eq!(got.last_used_at, Some(500));
    }
}
