//! Durable storage of Automerge documents: a snapshot plus appended chunks.
//!
//! Every write appends the new change(s) as one chunk in the caller's
//! transaction: cheap (bytes proportional to the edit) and durable as soon
//! as the transaction commits. When the chunks outgrow [`COMPACT_CHUNKS`] or
//! the snapshot's size, the document is compacted to one full save in the
//! same transaction, so a crash at any point leaves either the old snapshot
//! with all its chunks or the new snapshot, never a gap.
//!
//! Loaded documents are kept in a small LRU cache validated by the row's
//! `rev`, so a second process writing the same file never leaves a stale copy
//! in use.

use std::num::NonZeroUsize;

use automerge::ActorId;
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::document::ClassDoc;
use crate::error::Result;
use crate::ids::{DocId, RecordId};

/// Compact after this many appended chunks.
const COMPACT_CHUNKS: i64 = 32;
/// Compact when the chunks total more than the snapshot and this many bytes.
const COMPACT_MIN_BYTES: i64 = 16 * 1024;
/// Documents kept in memory.
const CACHE_DOCS: usize = 512;

/// A cache of loaded documents, each tagged with the `rev` it was loaded at.
pub(crate) struct DocCache {
    lru: LruCache<DocId, (i64, ClassDoc)>,
}

impl DocCache {
    pub(crate) fn new() -> Self {
        DocCache {
            lru: LruCache::new(NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// Puts a document back after a committed write at `rev`.
    pub(crate) fn put(&mut self, rev: i64, doc: ClassDoc) {
        self.lru.put(doc.id().clone(), (rev, doc));
    }

    /// Forgets a document (after a failed write or a removal).
    pub(crate) fn forget(&mut self, id: &DocId) {
        self.lru.pop(id);
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.lru.clear();
    }
}

/// Takes a document out of the cache or the database, for reading or for a
/// write (put it back with [`DocCache::put`] once the write committed).
/// Returns the document and its `rev`, or `None` if it is not stored.
pub(crate) fn take(
    conn: &Connection,
    cache: &mut DocCache,
    id: &DocId,
    actor: &ActorId,
) -> Result<Option<(i64, ClassDoc)>> {
    // Statements here and in `persist` are cached: they run for every
    // document a sync applies.
    let rev: Option<i64> = conn
        .prepare_cached("SELECT rev FROM documents WHERE doc_id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(rev) = rev else {
        cache.forget(id);
        return Ok(None);
    };
    if let Some((cached_rev, doc)) = cache.lru.pop(id)
        && cached_rev == rev
    {
        return Ok(Some((rev, doc)));
    }
    let snapshot: Option<Vec<u8>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE doc_id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached("SELECT data FROM doc_chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let chunks: Vec<Vec<u8>> = stmt
        .query_map([id.to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let doc = ClassDoc::load(
        id.clone(),
        snapshot.as_deref(),
        chunks.iter().map(Vec::as_slice),
        actor.clone(),
    )?;
    Ok(Some((rev, doc)))
}

/// Reads a document without keeping it out of the cache: loads, then puts
/// it straight back. For read paths.
pub(crate) fn with_doc<T>(
    conn: &Connection,
    cache: &mut DocCache,
    id: &DocId,
    actor: &ActorId,
    f: impl FnOnce(&mut ClassDoc) -> Result<T>,
) -> Result<Option<T>> {
    let Some((rev, mut doc)) = take(conn, cache, id, actor)? else {
        return Ok(None);
    };
    let out = f(&mut doc);
    cache.put(rev, doc);
    out.map(Some)
}

/// The ids of the documents stored for `record`, base class first when present.
pub(crate) fn doc_ids_of(conn: &Connection, record: &RecordId) -> Result<Vec<DocId>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc_id FROM documents WHERE record_id = ?1 ORDER BY class")?;
    let ids: Vec<String> = stmt
        .query_map([record.to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.iter().map(|s| s.parse()).collect()
}

/// Persists new bytes of `doc` in `tx`: `appended` is the raw change data
/// added since the document was last stored (empty for a document stored
/// whole). Compacts to a full save when the chunks have grown. Returns the
/// new `rev`.
pub(crate) fn persist(
    tx: &Connection,
    doc: &mut ClassDoc,
    appended: &[u8],
    now_ms: i64,
) -> Result<i64> {
    let id = doc.id().to_string();
    let row: Option<(i64, i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT chunk_count, chunk_bytes, COALESCE(length(snapshot), 0), rev FROM documents WHERE doc_id = ?1",
        )?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let (count, bytes, snapshot_len, rev) = row.unwrap_or((0, 0, 0, 0));
    let new_rev = rev + 1;
    let grown_count = count + 1;
    let grown_bytes = bytes + appended.len() as i64;
    let compact = row.is_none()
        || appended.is_empty()
        || grown_count >= COMPACT_CHUNKS
        || grown_bytes > snapshot_len.max(COMPACT_MIN_BYTES);
    if compact {
        let snapshot = doc.save();
        tx.prepare_cached(
            "INSERT INTO documents(doc_id, record_id, class, snapshot, chunk_count, chunk_bytes, rev, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6)
             ON CONFLICT(doc_id) DO UPDATE SET snapshot = ?4, chunk_count = 0, chunk_bytes = 0, rev = ?5, updated_at = ?6",
        )?
        .execute(params![
                id,
                doc.id().record().to_string(),
                doc.id().class().as_str(),
                snapshot,
                new_rev,
                now_ms
            ])?;
        tx.prepare_cached("DELETE FROM doc_chunks WHERE doc_id = ?1")?
            .execute([&id])?;
    } else {
        tx.prepare_cached("INSERT INTO doc_chunks(doc_id, seq, data) VALUES (?1, ?2, ?3)")?
            .execute(params![id, grown_count, appended])?;
        tx.prepare_cached(
            "UPDATE documents SET chunk_count = ?2, chunk_bytes = ?3, rev = ?4, updated_at = ?5 WHERE doc_id = ?1",
        )?
        .execute(params![id, grown_count, grown_bytes, new_rev, now_ms])?;
    }
    Ok(new_rev)
}

/// Whether a document is stored.
pub(crate) fn exists(conn: &Connection, id: &DocId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM documents WHERE doc_id = ?1")?
        .query_row([id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Stores, in `tx`, a document this device did not hold, from bytes that
/// load to it: `snapshot` (a saved document, if any) and `chunk` (changes
/// after it, possibly empty). For a document received whole, and one a
/// local write just created (its one change as the chunk). Saves nothing
/// again; the next compaction does. Returns the new `rev`.
pub(crate) fn insert_new(
    tx: &Connection,
    id: &DocId,
    snapshot: Option<&[u8]>,
    chunk: &[u8],
    now_ms: i64,
) -> Result<i64> {
    const REV: i64 = 1;
    let doc_id = id.to_string();
    let chunks = i64::from(!chunk.is_empty());
    tx.prepare_cached(
        "INSERT INTO documents(doc_id, record_id, class, snapshot, chunk_count, chunk_bytes, rev, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        doc_id,
        id.record().to_string(),
        id.class().as_str(),
        snapshot,
        chunks,
        chunk.len() as i64,
        REV,
        now_ms
    ])?;
    if !chunk.is_empty() {
        tx.prepare_cached("INSERT INTO doc_chunks(doc_id, seq, data) VALUES (?1, 1, ?2)")?
            .execute(params![doc_id, chunk])?;
    }
    Ok(REV)
}

/// Deletes a document and its chunks in `tx`.
pub(crate) fn delete(tx: &Connection, id: &DocId) -> Result<()> {
    let id = id.to_string();
    tx.execute("DELETE FROM doc_chunks WHERE doc_id = ?1", [&id])?;
    tx.execute("DELETE FROM documents WHERE doc_id = ?1", [&id])?;
    Ok(())
}
