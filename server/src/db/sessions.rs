//! Session tokens: opaque, random, stored only as their SHA-256 hash.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::users::{self, User};
use crate::error::Result;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Stores a new session for `token` (already generated) until `expires_ms`.
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

/// Ends a session; returns whether it existed.
pub fn revoke(conn: &Connection, token: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash(token)])? > 0)
}

/// Deletes expired sessions.
pub fn purge_expired(conn: &Connection, now_ms: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now_ms])?)
}
