//! The bytes of attachments, content-addressed by their SHA-256: complete
//! blobs (`blobs`) and resumable uploads under way (`blob_uploads`),
//! migration 012.
//!
//! Nothing here decides who may read or write a blob: the office API asks
//! the record field that refers to it first (`api/files.rs`).
//!
//! Guarantees:
//! - a blob in `blobs` is exactly the bytes its name (the hash) and size
//!   say: [`append`] moves an upload there only after
//!   [`AttachmentRef::matches`] accepted every byte, in the transaction
//!   that appended the last chunk;
//! - an upload only grows at its end: a chunk is appended only at the
//!   offset equal to the bytes received so far, never past the size of the
//!   reference, and the check and the append are one transaction;
//! - an upload whose bytes do not match its hash is deleted in the
//!   transaction that found it out, so the next attempt starts at 0.

use fieldwork_core::attachment::AttachmentRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::Result;

/// What [`append`] did with a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored; the upload holds this many bytes and is not complete yet.
    Partial(u64),
    /// Stored, and the blob is complete and verified.
    Complete,
    /// The blob was complete already: nothing was stored.
    AlreadyComplete,
    /// The chunk was not at the end of what was received (this many
    /// bytes): nothing was stored.
    OffsetMismatch(u64),
    /// The chunk would pass the reference's size: nothing was stored.
    TooLarge,
    /// All bytes arrived but do not match the hash: the upload is deleted.
    HashMismatch,
}

/// The size of the complete blob `sha256`, if it is complete.
pub fn complete_size(conn: &Connection, sha256: &str) -> Result<Option<u64>> {
    let size: Option<i64> = conn
        .prepare_cached("SELECT size FROM blobs WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?;
    Ok(size.map(|s| u64::try_from(s).unwrap_or(0)))
}

/// `len` bytes of the complete blob `sha256` from byte `start` (fewer at
/// its end); `None` when the blob is not complete.
pub fn range(conn: &Connection, sha256: &str, start: u64, len: u64) -> Result<Option<Vec<u8>>> {
    let from = i64::try_from(start).unwrap_or(i64::MAX).saturating_add(1);
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    Ok(conn
        .prepare_cached("SELECT substr(data, ?1, ?2) FROM blobs WHERE sha256 = ?3")?
        .query_row(params![from, len, sha256], |r| r.get::<_, Vec<u8>>(0))
        .optional()?)
}

/// Bytes received so far of the upload of `sha256` (0 when none is under
/// way).
pub fn received(conn: &Connection, sha256: &str) -> Result<u64> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT length(data) FROM blob_uploads WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?;
    Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// Appends `chunk` at `offset` to the upload of the blob `reference` names,
/// and when that makes it whole, verifies it and stores the blob; all in
/// one IMMEDIATE transaction (`now` is RFC 3339).
pub fn append(
    conn: &mut Connection,
    reference: &AttachmentRef,
    offset: u64,
    chunk: &[u8],
    now: &str,
) -> Result<Appended> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sha = reference.sha256.as_str();
    if offset == 0 {
        drop_abandoned(&tx, now)?;
    }
    if complete_size(&tx, sha)?.is_some() {
        return Ok(Appended::AlreadyComplete);
    }
    let received = received(&tx, sha)?;
    if offset != received {
        return Ok(Appended::OffsetMismatch(received));
    }
    if offset.saturating_add(chunk.len() as u64) > reference.size {
        return Ok(Appended::TooLarge);
    }
    if chunk.is_empty() && received < reference.size {
        // Asking where to resume: nothing to store.
        return Ok(Appended::Partial(received));
    }
    let stored: Option<Vec<u8>> = tx
        .prepare_cached("SELECT data FROM blob_uploads WHERE sha256 = ?1")?
        .query_row([sha], |r| r.get(0))
        .optional()?;
    let mut data = stored.unwrap_or_default();
    data.extend_from_slice(chunk);
    let outcome = if data.len() as u64 == reference.size {
        tx.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [sha])?;
        if reference.matches(&data) {
            tx.execute(
                "INSERT INTO blobs(sha256, size, media_type, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    sha,
                    i64::try_from(reference.size).unwrap_or(i64::MAX),
                    reference.media_type,
                    data,
                    now
                ],
            )?;
            Appended::Complete
        } else {
            Appended::HashMismatch
        }
    } else {
        tx.execute(
            "INSERT INTO blob_uploads(sha256, size, media_type, data, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(sha256) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            params![
                sha,
                i64::try_from(reference.size).unwrap_or(i64::MAX),
                reference.media_type,
                data,
                now
            ],
        )?;
        Appended::Partial(data.len() as u64)
    };
    tx.commit()?;
    Ok(outcome)
}

/// How long an upload may sit unfinished before its bytes are dropped.
pub const ABANDONED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Drops the partial uploads nobody added to for [`ABANDONED_AFTER`]
/// (a phone that was lost mid-upload, a client that gave up), so they
/// cannot pile up; run whenever an upload starts. `now` is RFC 3339.
fn drop_abandoned(tx: &Connection, now: &str) -> Result<()> {
    let Ok(now) = now.parse::<jiff::Timestamp>() else {
        return Ok(());
    };
    let Ok(cutoff) = now.checked_sub(ABANDONED_AFTER) else {
        return Ok(());
    };
    let stale: Vec<(String, String)> = tx
        .prepare_cached("SELECT sha256, updated_at FROM blob_uploads")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (sha, updated) in stale {
        if updated.parse::<jiff::Timestamp>().is_ok_and(|t| t < cutoff) {
            tx.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [sha])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::db::migrations::migrate(&mut conn, std::path::Path::new("test.db"))
            .expect("migrate");
        conn
    }

    #[test]
    fn an_upload_left_unfinished_for_a_day_is_dropped_when_another_starts() {
        let mut conn = db();
        let old = AttachmentRef::for_bytes(b"abandoned!", "image/jpeg", "a.jpg").expect("ref");
        let fresh = AttachmentRef::for_bytes(b"recent one", "image/jpeg", "b.jpg").expect("ref");
        let next = AttachmentRef::for_bytes(b"next", "image/jpeg", "c.jpg").expect("ref");
        append(&mut conn, &old, 0, b"aband", "2027-01-01T08:00:00Z").expect("old");
        append(&mut conn, &fresh, 0, b"recen", "2027-01-02T07:00:00Z").expect("fresh");
        append(&mut conn, &next, 0, b"ne", "2027-01-02T09:00:00Z").expect("next");
        assert_eq!(
            received(&conn, &old.sha256).expect("old"),
            0,
            "25 hours old: dropped"
        );
        assert_eq!(
            received(&conn, &fresh.sha256).expect("fresh"),
            5,
            "2 hours old: kept"
        );
        assert_eq!(received(&conn, &next.sha256).expect("next"), 2);
    }

    #[test]
    fn chunks_append_only_at_the_end_and_a_whole_blob_is_verified() {
        let mut conn = db();
        // Bytes that are not UTF-8 and hold NULs survive unchanged.
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let r = AttachmentRef::for_bytes(&bytes, "image/jpeg", "a.jpg").expect("ref");
        let now = "2027-01-01T00:00:00Z";
        assert_eq!(received(&conn, &r.sha256).expect("received"), 0);
        assert_eq!(
            append(&mut conn, &r, 0, &bytes[..400], now).expect("first"),
            Appended::Partial(400)
        );
        assert_eq!(
            append(&mut conn, &r, 0, &bytes[..400], now).expect("again"),
            Appended::OffsetMismatch(400)
        );
        assert_eq!(
            append(&mut conn, &r, 400, &[0; 601], now).expect("past the size"),
            Appended::TooLarge
        );
        assert_eq!(received(&conn, &r.sha256).expect("received"), 400);
        assert_eq!(complete_size(&conn, &r.sha256).expect("size"), None);
        assert_eq!(
            append(&mut conn, &r, 400, &bytes[400..], now).expect("last"),
            Appended::Complete
        );
        assert_eq!(complete_size(&conn, &r.sha256).expect("size"), Some(1000));
        assert_eq!(received(&conn, &r.sha256).expect("received"), 0);
        assert_eq!(
            range(&conn, &r.sha256, 0, 1000).expect("all").as_deref(),
            Some(&bytes[..])
        );
        assert_eq!(
            range(&conn, &r.sha256, 990, 100).expect("tail").as_deref(),
            Some(&bytes[990..])
        );
        assert_eq!(
            append(&mut conn, &r, 0, &bytes, now).expect("dedup"),
            Appended::AlreadyComplete
        );
    }

    #[test]
    fn bytes_that_do_not_match_the_hash_are_dropped() {
        let mut conn = db();
        let r = AttachmentRef::for_bytes(b"right bytes", "text/plain", "a.txt").expect("ref");
        let now = "2027-01-01T00:00:00Z";
        assert_eq!(
            append(&mut conn, &r, 0, b"wrong", now).expect("first"),
            Appended::Partial(5)
        );
        assert_eq!(
            append(&mut conn, &r, 5, b" bytes", now).expect("last"),
            Appended::HashMismatch
        );
        assert_eq!(received(&conn, &r.sha256).expect("received"), 0);
        assert_eq!(complete_size(&conn, &r.sha256).expect("size"), None);
        assert_eq!(range(&conn, &r.sha256, 0, 5).expect("range"), None);
    }
}
