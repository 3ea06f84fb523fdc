//! The change feed: every accepted change, stored once in `changes` under
//! the next feed sequence number, and the cursors that point into it.
//!
//! Guarantees: sequence numbers only grow; a cursor's fingerprint
//! ([`fingerprint`]) is computed in one place, so a cursor is trusted only
//! if the entry at its position is the one it was made from.
//!
//! The documents the changes build live in [`super::documents`], the facts
//! that decide visibility in [`super::facts`].

use fieldwork_core::DocId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::store::Cursor;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ServerError};

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// Feed sequence number.
    pub seq: u64,
    /// The document changed.
    pub doc_id: String,
    /// The change's hash.
    pub hash: Vec<u8>,
    /// The raw change.
    pub bytes: Vec<u8>,
    /// The device that pushed it (`None` for changes made on the server).
    pub device_id: Option<String>,
}

impl FeedRow {
    /// The cursor fingerprint of this entry (see [`fingerprint`]).
    pub fn check(&self) -> String {
        fingerprint(&self.hash)
    }
}

/// The cursor fingerprint of a feed entry whose change has hash `hash`: its
/// first 8 bytes, hex. The one place it is computed.
pub fn fingerprint(hash: &[u8]) -> String {
    hex::encode(&hash[..hash.len().min(8)])
}

/// The fingerprint of the feed entry at `seq`: the first 8 bytes of its
/// change hash, hex. Empty for seq 0.
pub fn check_of(conn: &Connection, seq: u64) -> Result<Option<String>> {
    if seq == 0 {
        return Ok(Some(String::new()));
    }
    let hash: Option<Vec<u8>> = conn
        .query_row(
            "SELECT hash FROM changes WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(hash.as_deref().map(fingerprint))
}

/// The cursor for position `seq` of this server's feed.
pub fn cursor_at(conn: &Connection, epoch: &str, seq: u64) -> Result<Cursor> {
    Ok(Cursor {
        epoch: epoch.to_owned(),
        seq,
        check: check_of(conn, seq)?.unwrap_or_default(),
    })
}

/// The highest feed sequence number (0 when empty).
pub fn head(conn: &Connection) -> Result<u64> {
    Ok(
        conn.query_row("SELECT COALESCE(max(seq), 0) FROM changes", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// Whether a device's cursor points into this server's feed as it is: same
/// epoch, not beyond the head, and the entry at its position unchanged.
pub fn cursor_trusted(conn: &Connection, epoch: &str, cursor: &Cursor) -> Result<bool> {
    if cursor.epoch != epoch || cursor.seq > head(conn)? {
        return Ok(false);
    }
    Ok(check_of(conn, cursor.seq)?.is_some_and(|c| c == cursor.check))
}

/// Up to `limit` feed entries after `after`, in order.
pub fn since(conn: &Connection, after: u64, limit: usize) -> Result<Vec<FeedRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, doc_id, hash, bytes, device_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after as i64, limit as i64], |r| {
        Ok(FeedRow {
            seq: r.get::<_, i64>(0)? as u64,
            doc_id: r.get(1)?,
            hash: r.get(2)?,
            bytes: r.get(3)?,
            device_id: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Replaces a document's stored history with `doc` (a rewrite with a fresh
/// history, already holding one change): deletes every old change, appends
/// the new one to the feed, stores the new snapshot and bumps the
/// generation. Returns the new change's feed sequence number.
pub fn replace_history(conn: &Connection, doc: &mut ClassDoc, now_ms: i64) -> Result<u64> {
    let id = doc.id().to_string();
    let changes = doc.automerge().get_changes(&[]);
    let [change] = changes.as_slice() else {
        return Err(ServerError::Internal(format!(
            "a rewrite of {id} must hold exactly one change"
        )));
    };
    conn.execute("DELETE FROM changes WHERE doc_id = ?1", [&id])?;
    conn.execute(
        "INSERT INTO changes(doc_id, hash, bytes, user_id, device_id, received_at) VALUES (?1, ?2, ?3, NULL, NULL, ?4)",
        params![id, change.hash().0.as_slice(), change.raw_bytes(), now_ms],
    )?;
    let seq = conn.last_insert_rowid();
    conn.execute(
        "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3, since_snapshot = 0, last_seq = ?3,
                generation = generation + 1 WHERE doc_id = ?1",
        params![id, doc.save(), seq],
    )?;
    Ok(seq as u64)
}

/// Appends an accepted change to the feed and the document's row; returns
/// its sequence number. Call inside the writer's transaction.
pub fn append(
    conn: &Connection,
    doc: &DocId,
    hash: &[u8],
    bytes: &[u8],
    user_id: Option<i64>,
    device_id: Option<&str>,
    now_ms: i64,
) -> Result<u64> {
    conn.prepare_cached(
        "INSERT INTO changes(doc_id, hash, bytes, user_id, device_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![doc.to_string(), hash, bytes, user_id, device_id, now_ms])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO documents(doc_id, record_id, class, last_seq, since_snapshot) VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT(doc_id) DO UPDATE SET last_seq = ?4, since_snapshot = since_snapshot + 1",
    )?
    .execute(params![doc.to_string(), doc.record().to_string(), doc.class().as_str(), seq])?;
    Ok(seq as u64)
}
