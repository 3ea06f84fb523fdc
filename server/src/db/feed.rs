//! Documents, the change feed, and the facts that decide visibility.
//!
//! Every accepted change is stored once in `changes` under the next feed
//! sequence number. `documents` keeps, per document, a compacted snapshot
//! covering the feed up to `snapshot_seq`; the whole document is that
//! snapshot plus its changes after `snapshot_seq`.

use std::collections::HashMap;

use automerge::ActorId;
use fieldwork_core::automerge;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::policy::RecordFacts;
use fieldwork_core::rules;
use fieldwork_core::store::Cursor;
use fieldwork_core::{DocId, Record, RecordId, RecordKind};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ServerError};

/// Compact a document after this many changes since its snapshot.
const COMPACT_AFTER: i64 = 32;

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
    /// The cursor fingerprint of this entry.
    pub fn check(&self) -> String {
        hex::encode(&self.hash[..self.hash.len().min(8)])
    }
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
    Ok(hash.map(|h| hex::encode(&h[..h.len().min(8)])))
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
        .query_row(
            "SELECT snapshot, snapshot_seq FROM documents WHERE doc_id = ?1",
            [doc_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
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
    conn.execute(
        "INSERT INTO changes(doc_id, hash, bytes, user_id, device_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![doc.to_string(), hash, bytes, user_id, device_id, now_ms],
    )?;
    let seq = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO documents(doc_id, record_id, class, last_seq, since_snapshot) VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT(doc_id) DO UPDATE SET last_seq = ?4, since_snapshot = since_snapshot + 1",
        params![doc.to_string(), doc.record().to_string(), doc.class().as_str(), seq],
    )?;
    Ok(seq as u64)
}

/// Replaces the document's snapshot with a full save when enough changes
/// have accumulated since the last one.
pub fn compact_if_due(conn: &Connection, doc: &mut ClassDoc, seq: u64) -> Result<()> {
    let since: i64 = conn.query_row(
        "SELECT since_snapshot FROM documents WHERE doc_id = ?1",
        [doc.id().to_string()],
        |r| r.get(0),
    )?;
    if since >= COMPACT_AFTER || since == 1 {
        conn.execute(
            "UPDATE documents SET snapshot = ?2, snapshot_seq = ?3, since_snapshot = 0 WHERE doc_id = ?1",
            params![doc.id().to_string(), doc.save(), seq as i64],
        )?;
    }
    Ok(())
}

/// Updates the visibility facts of a record from its base-class document.
/// Returns whether they changed.
pub fn update_facts(conn: &Connection, record: &Record) -> Result<bool> {
    let text = |f: &str| record.text(f).map(str::to_owned);
    // The row holds what the record decides itself: its parent account and,
    // for an account, its territory (no parent territory is known here:
    // children's are resolved at read time by [`facts`], same rule).
    let account = record.account().map(|a| a.to_string());
    let territory = rules::territory_of(record.kind(), record.text("territory"), None);
    let before = facts_row(conn, &record.id.to_string())?;
    let after = (text("owner"), text("assignee"), territory, account);
    if before.as_ref() == Some(&after) {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO records(record_id, kind, owner, assignee, territory, account_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(record_id) DO UPDATE SET owner = ?3, assignee = ?4, territory = ?5, account_id = ?6",
        params![record.id.to_string(), record.kind().as_str(), after.0, after.1, after.2, after.3],
    )?;
    Ok(true)
}

type FactsRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn facts_row(conn: &Connection, record: &str) -> Result<Option<FactsRow>> {
    Ok(conn
        .query_row(
            "SELECT owner, assignee, territory, account_id FROM records WHERE record_id = ?1",
            [record],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?)
}

/// The visibility facts of records (children inherit their account's
/// territory, by [`rules::territory_of`]). Records without facts yet, and
/// malformed record ids, are absent from the map.
pub fn facts(conn: &Connection, records: &[String]) -> Result<HashMap<String, RecordFacts>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.owner, r.assignee, r.territory, a.territory
           FROM records r LEFT JOIN records a ON a.record_id = r.account_id
          WHERE r.record_id = ?1",
    )?;
    let mut out = HashMap::new();
    for record in records {
        if out.contains_key(record) {
            continue;
        }
        let Ok(kind) = record.parse::<RecordId>().map(|id| id.kind()) else {
            continue;
        };
        let row = stmt
            .query_row([record], |r| {
                let own: Option<String> = r.get(2)?;
                let inherited: Option<String> = r.get(3)?;
                Ok(RecordFacts {
                    owner: r.get(0)?,
                    assignee: r.get(1)?,
                    territory: rules::territory_of(kind, own.as_deref(), inherited.as_deref()),
                })
            })
            .optional()?;
        if let Some(f) = row {
            out.insert(record.clone(), f);
        }
    }
    Ok(out)
}

/// The records whose parent account is `account`.
pub fn children_of(conn: &Connection, account: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT record_id FROM records WHERE account_id = ?1")?;
    let rows = stmt.query_map([account], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every record id with facts.
pub fn all_records(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT record_id FROM records ORDER BY record_id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Parses a stored record id.
pub fn record_id(text: &str) -> Result<RecordId> {
    text.parse()
        .map_err(|_| ServerError::Internal(format!("stored record id `{text}` is malformed")))
}
