//! Documents as stored: per document, a compacted snapshot covering the
//! feed up to `snapshot_seq`; the whole document is that snapshot plus its
//! changes after `snapshot_seq` (see [`whole`]).
//!
//! Guarantees: [`load`] gives the writer a document consistent with what
//! is committed; [`compact_if_due`] only ever replaces a snapshot with a
//! full save of the same document.

use automerge::ActorId;
use fieldwork_core::automerge;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::{DocId, RecordKind};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// Compact a document after this many changes since its snapshot.
const COMPACT_AFTER: i64 = 32;

/// Up to `limit` document ids after `after` (keyset pagination), with their records.
pub fn docs_after(conn: &Connection, after: &str, limit: usize) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id, record_id FROM documents WHERE doc_id > ?1 ORDER BY doc_id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The documents of one record.
pub fn docs_of_record(conn: &Connection, record: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc_id FROM documents WHERE record_id = ?1 ORDER BY doc_id")?;
    let rows = stmt.query_map([record], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether the server holds document `doc_id`.
pub fn exists(conn: &Connection, doc_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE doc_id = ?1")?
        .exists([doc_id])?)
}

/// A document's generation (0 until it is first rewritten).
pub fn generation(conn: &Connection, doc_id: &str) -> Result<u64> {
    Ok(conn
        .query_row(
            "SELECT generation FROM documents WHERE doc_id = ?1",
            [doc_id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}

/// Every document of `kind` in `class`.
pub fn docs_in_class(conn: &Connection, kind: RecordKind, class: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT doc_id FROM documents WHERE class = ?1 AND record_id LIKE ?2 ORDER BY doc_id",
    )?;
    let rows = stmt.query_map(params![class, format!("{}:%", kind.as_str())], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many documents the server holds.
pub fn doc_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))? as u64)
}

/// A document as stored: its snapshot (if any) and the changes after it.
pub type StoredDoc = (Option<Vec<u8>>, Vec<Vec<u8>>);

/// A whole document as stored: its snapshot and the changes after it.
pub fn whole(conn: &Connection, doc_id: &str) -> Result<Option<StoredDoc>> {
    let row: Option<(Option<Vec<u8>>, i64)> = conn
        .prepare_cached("SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = ?1")?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((snapshot, snapshot_seq)) = row else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let changes = stmt
        .query_map(params![doc_id, snapshot_seq], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some((snapshot, changes)))
}

/// Loads a document for the writer (from the cache or the database).
pub fn load<'c>(
    conn: &Connection,
    cache: &'c mut LruCache<DocId, ClassDoc>,
    doc: &DocId,
    actor: &ActorId,
) -> Result<Option<&'c mut ClassDoc>> {
    if !cache.contains(doc) {
        let Some((snapshot, changes)) = whole(conn, &doc.to_string())? else {
            return Ok(None);
        };
        let loaded = ClassDoc::load(
            doc.clone(),
            snapshot.as_deref(),
            changes.iter().map(Vec::as_slice),
            actor.clone(),
        )?;
        cache.put(doc.clone(), loaded);
    }
    Ok(cache.get_mut(doc))
}

/// Replaces the document's snapshot with a full save when enough changes
/// have accumulated since the last one.
pub fn compact_if_due(conn: &Connection, doc: &mut ClassDoc, seq: u64) -> Result<()> {
    let since: i64 = conn
        .prepare_cached("SELECT since_snapshot FROM documents WHERE doc_id = ?1")?
        .query_row([doc.id().to_string()], |r| r.get(0))?;
    if since >= COMPACT_AFTER || since == 1 {
        conn.prepare_cached(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3, since_snapshot = 0 WHERE doc_id = ?1",
        )?
        .execute(params![doc.id().to_string(), doc.save(), seq as i64])?;
    }
    Ok(())
}
