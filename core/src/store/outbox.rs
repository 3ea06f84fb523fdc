//! The outbox: local changes the server has not yet acknowledged.
//!
//! A change enters the outbox in the same transaction that stores it, and
//! leaves only when the server says it stored it durably. Changes are handed
//! out in the order they were made, so a change never travels before the
//! changes it depends on.

use automerge::ChangeHash;
use rusqlite::{Connection, params};

use crate::error::{CoreError, Result};
use crate::ids::DocId;

/// A local change waiting for the server's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    /// Position in the outbox (increasing in the order changes were made).
    pub seq: i64,
    /// The document it changes.
    pub doc: DocId,
    /// The change's hash.
    pub hash: ChangeHash,
    /// The raw Automerge change.
    pub bytes: Vec<u8>,
}

/// What the user meant by a change (defined with the edit that makes it).
pub use crate::edit::TypedWrite;

pub(crate) fn add(
    tx: &Connection,
    doc: &DocId,
    hash: ChangeHash,
    bytes: &[u8],
    writes: &[TypedWrite],
    now_ms: i64,
) -> Result<()> {
    let writes = serde_json::to_string(writes).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO outbox(doc_id, hash, change, writes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(doc_id, hash) DO NOTHING",
        params![doc.to_string(), hash.0.as_slice(), bytes, writes, now_ms],
    )?;
    Ok(())
}

fn hash_of(bytes: Vec<u8>) -> Result<ChangeHash> {
    ChangeHash::try_from(bytes.as_slice())
        .map_err(|_| CoreError::Corrupt("outbox holds a malformed change hash".into()))
}

/// Up to `max_count` pending changes, oldest first, stopping before
/// `max_bytes` would be exceeded (but always at least one).
pub(crate) fn pending(
    conn: &Connection,
    max_count: usize,
    max_bytes: usize,
) -> Result<Vec<PendingChange>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, doc_id, hash, change FROM outbox ORDER BY id LIMIT ?1")?;
    let mut rows = stmt.query([max_count as i64])?;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(3)?;
        if !out.is_empty() && total + bytes.len() > max_bytes {
            break;
        }
        total += bytes.len();
        let doc: String = row.get(1)?;
        out.push(PendingChange {
            seq: row.get(0)?,
            doc: doc.parse()?,
            hash: hash_of(row.get(2)?)?,
            bytes,
        });
    }
    Ok(out)
}

/// Removes acknowledged changes; returns how many were pending.
pub(crate) fn acknowledge(tx: &Connection, acks: &[(DocId, ChangeHash)]) -> Result<usize> {
    let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE doc_id = ?1 AND hash = ?2")?;
    let mut removed = 0;
    for (doc, hash) in acks {
        removed += stmt.execute(params![doc.to_string(), hash.0.as_slice()])?;
    }
    Ok(removed)
}

/// How many changes are waiting.
pub(crate) fn len(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    Ok(n as usize)
}

/// The pending changes of one document with their typed writes, oldest first.
pub(crate) fn of_doc(
    conn: &Connection,
    doc: &DocId,
) -> Result<Vec<(ChangeHash, Vec<TypedWrite>, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hash, writes, created_at FROM outbox WHERE doc_id = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([doc.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let writes: String = row.get(1)?;
        let writes = serde_json::from_str(&writes)
            .map_err(|e| CoreError::Corrupt(format!("outbox entry of {doc}: {e}")))?;
        out.push((hash_of(row.get(0)?)?, writes, row.get(2)?));
    }
    Ok(out)
}

/// Drops every pending change of `doc` (when the document is rebuilt or removed).
pub(crate) fn clear_doc(tx: &Connection, doc: &DocId) -> Result<()> {
    tx.execute("DELETE FROM outbox WHERE doc_id = ?1", [doc.to_string()])?;
    Ok(())
}
