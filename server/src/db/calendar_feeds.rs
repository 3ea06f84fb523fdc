//! Secret calendar feed tokens, and the activities a user's calendar holds.
//!
//! A calendar app fetches a feed without any `Authorization` header, so the
//! URL's token is the credential: 32 random bytes in hex, stored only as
//! its SHA-256 (a fast hash is right for a 256-bit random secret; a lookup
//! by hash leaks nothing about the token through timing).
//!
//! Guarantees:
//! - a user has at most one live token: [`create`] replaces the previous
//!   one, which stops working at once; [`revoke`] deletes it;
//! - [`user_of`] answers `None` for an unknown or revoked token (the caller
//!   checks that the user is still enabled);
//! - [`activities_of`] returns at most `limit` record ids, read through the
//!   partial indexes of migration 009.

use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` looks like one of ours (64 lowercase hex digits).
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Creates a new feed token for `user_id`, revoking the previous one, and
/// returns it (the only time it exists outside the user's hands).
pub fn create(conn: &Connection, user_id: i64, now_ms: i64) -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    conn.execute(
        "INSERT INTO calendar_feeds(user_id, token_hash, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id) DO UPDATE SET token_hash = ?2, created_at = ?3",
        params![user_id, hash(&token), now_ms],
    )?;
    Ok(token)
}

/// Revokes `user_id`'s feed; returns whether there was one.
pub fn revoke(conn: &Connection, user_id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM calendar_feeds WHERE user_id = ?1", [user_id])? > 0)
}

/// The user whose live feed `token` is.
pub fn user_of(conn: &Connection, token: &str) -> Result<Option<i64>> {
    if !well_formed(token) {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached("SELECT user_id FROM calendar_feeds WHERE token_hash = ?1")?
        .query_row([hash(token)], |r| r.get(0))
        .optional()?)
}

/// Up to `limit` activities on `user`'s calendar: assigned to them, or
/// owned by them with no assignee (by record id, so a truncated list is
/// the same on every fetch).
pub fn activities_of(conn: &Connection, user: &str, limit: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id FROM (
             SELECT record_id FROM records WHERE kind = 'activity' AND assignee = ?1
             UNION
             SELECT record_id FROM records
              WHERE kind = 'activity' AND assignee IS NULL AND owner = ?1)
         ORDER BY record_id LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![user, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn a_new_token_replaces_the_old_and_revoking_ends_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).expect("db");
        let first = db
            .write_blocking(|w| create(&w.conn, 7, 1))
            .expect("create");
        assert!(well_formed(&first));
        assert_eq!(
            db.read_blocking(|c| user_of(c, &first)).expect("read"),
            Some(7)
        );
        let second = db
            .write_blocking(|w| create(&w.conn, 7, 2))
            .expect("create");
        assert_ne!(first, second);
        assert_eq!(
            db.read_blocking(|c| user_of(c, &first)).expect("read"),
            None
        );
        assert_eq!(
            db.read_blocking(|c| user_of(c, &second)).expect("read"),
            Some(7)
        );
        assert_eq!(
            db.read_blocking(|c| user_of(c, "not-a-token"))
                .expect("read"),
            None
        );
        assert!(db.write_blocking(|w| revoke(&w.conn, 7)).expect("revoke"));
        assert!(!db.write_blocking(|w| revoke(&w.conn, 7)).expect("revoke"));
        assert_eq!(
            db.read_blocking(|c| user_of(c, &second)).expect("read"),
            None
        );
    }

    #[test]
    fn the_calendar_holds_assigned_activities_and_unassigned_owned_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(dir.path()).expect("db");
        db.write_blocking(|w| {
            let rows = [
                ("activity:1", "activity", Some("mia"), None),
                ("activity:2", "activity", Some("ana"), Some("mia")),
                ("activity:3", "activity", Some("mia"), Some("ana")),
                ("deal:4", "deal", Some("mia"), None),
            ];
            for (id, kind, owner, assignee) in rows {
                w.conn.execute(
                    "INSERT INTO records(record_id, kind, owner, assignee) VALUES (?1, ?2, ?3, ?4)",
                    params![id, kind, owner, assignee],
                )?;
            }
            Ok(())
        })
        .expect("records");
        let mia = db
            .read_blocking(|c| activities_of(c, "mia", 10))
            .expect("read");
        assert_eq!(mia, ["activity:1", "activity:2"]);
        let ana = db
            .read_blocking(|c| activities_of(c, "ana", 10))
            .expect("read");
        assert_eq!(ana, ["activity:3"]);
        let one = db
            .read_blocking(|c| activities_of(c, "mia", 1))
            .expect("read");
        assert_eq!(one, ["activity:1"]);
    }
}
