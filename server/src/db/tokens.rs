//! Login tokens: what `POST /login` hands out and every request presents.
//! Opaque, random, stored only as their SHA-256 hash, in the `sessions`
//! table (the table keeps its first name; "session" elsewhere in the server
//! means a sync connection).
//!
//! Guarantees:
//! - a token authenticates only while it is live (not expired, not
//!   revoked) and its user is enabled ([`lookup`]);
//! - a token that named a device is kept in `ended_sessions` when it is
//!   deleted (logout, a disabled user, expiry; a trigger of migration 005
//!   does it, whoever deletes), so that a device marked for wipe is still
//!   recognised by its old token ([`device_of`]). Such a token
//!   authenticates nothing else.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::users::{self, User};
use crate::error::Result;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Stores a new login token (already generated) until `expires_ms`.
pub fn create(
    conn: &Connection,
    token: &str,
    user_id: i64,
    device_id: Option<&str>,
    now_ms: i64,
    expires_ms: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions(token_hash, user_id, device_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash(token), user_id, device_id, now_ms, expires_ms],
    )?;
    if let Some(device) = device_id {
        // The device now holds the new token: its ended tokens no longer
        // identify it to anyone but whoever kept an old token.
        conn.execute(
            "DELETE FROM ended_sessions WHERE device_id = ?1 AND user_id = ?2",
            params![device, user_id],
        )?;
    }
    Ok(())
}

/// The enabled user a live token belongs to.
pub fn lookup(conn: &Connection, token: &str, now_ms: i64) -> Result<Option<User>> {
    let user_id: Option<i64> = conn
        .query_row(
            "SELECT user_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
            params![hash(token), now_ms],
            |r| r.get(0),
        )
        .optional()?;
    match user_id {
        Some(id) => Ok(users::by_id(conn, id)?.filter(|u| !u.disabled)),
        None => Ok(None),
    }
}

/// Revokes a token; returns whether it was stored.
pub fn revoke(conn: &Connection, token: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash(token)])? > 0)
}

/// Deletes expired tokens (those that named a device are kept as ended).
pub fn purge_expired(conn: &Connection, now_ms: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now_ms])?)
}

/// The user and device a token was issued to, whether it is live, expired
/// or ended (revoked, its user disabled). Only to recognise a device marked
/// for wipe: it authenticates nothing. `None`: the token matches no token
/// that named a device.
pub fn device_of(conn: &Connection, token: &str) -> Result<Option<(i64, String)>> {
    let h = hash(token);
    let live: Option<(i64, String)> = conn
        .query_row(
            "SELECT user_id, device_id FROM sessions WHERE token_hash = ?1 AND device_id IS NOT NULL",
            [&h],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if live.is_some() {
        return Ok(live);
    }
    Ok(conn
        .query_row(
            "SELECT user_id, device_id FROM ended_sessions WHERE token_hash = ?1",
            [&h],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Stores `token` as an already ended token of `device_id`: it
/// authenticates nothing and only lets the device confirm its wipe (see
/// [`device_of`]).
pub fn create_ended(
    conn: &Connection,
    token: &str,
    user_id: i64,
    device_id: &str,
    now_ms: i64,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO ended_sessions(token_hash, user_id, device_id, ended_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![hash(token), user_id, device_id, now_ms],
    )?;
    Ok(())
}

/// Revokes every token of a device and forgets its ended ones (a wiped
/// device holds no token any more); returns how many were live.
pub fn revoke_device(conn: &Connection, device_id: &str) -> Result<usize> {
    let n = conn.execute("DELETE FROM sessions WHERE device_id = ?1", [device_id])?;
    conn.execute(
        "DELETE FROM ended_sessions WHERE device_id = ?1",
        [device_id],
    )?;
    Ok(n)
}
