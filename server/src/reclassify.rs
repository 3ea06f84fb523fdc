//! Moving fields between classes when a new policy says so.
//!
//! For every document of a class that loses fields, in one transaction with
//! the new policy:
//! 1. each moving field's current value is written into the record's
//!    document of the field's new class (a change by the server);
//! 2. the old document is rewritten without the moving fields, **with a
//!    fresh history** (one change by the server holding the remaining
//!    values), its old changes are deleted from the feed, and its generation
//!    is bumped.
//!
//! So no one keeps the moved value in the old class's history: devices that
//! hold an older generation are sent the new one to replace (not merge
//! with) their copy, and `secure_delete` zeroes the purged rows on disk.

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::ids::ClassName;
use fieldwork_core::{DocId, Policy, RecordKind, schema};
use jiff::Timestamp;
use lru::LruCache;
use rusqlite::Connection;

use crate::db::feed;
use crate::error::Result;
use crate::hub::FeedEvent;

/// The author of changes the server makes itself.
pub const SERVER_AUTHOR: &str = "fieldwork-server";

/// A field that changes class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The kind of record.
    pub kind: RecordKind,
    /// The field.
    pub field: &'static str,
    /// Its class before.
    pub from: ClassName,
    /// Its class after.
    pub to: ClassName,
}

/// The fields whose class differs between two policies.
pub fn moves(old: &Policy, new: &Policy) -> Vec<Move> {
    let mut out = Vec::new();
    for kind in RecordKind::ALL {
        for def in schema::fields(kind) {
            if let (Some(from), Some(to)) =
                (old.class_of(kind, def.name), new.class_of(kind, def.name))
                && from != to
            {
                out.push(Move {
                    kind,
                    field: def.name,
                    from: from.clone(),
                    to: to.clone(),
                });
            }
        }
    }
    out
}

/// Carries out `moves` (see the module docs). Call inside the transaction
/// that installs the new policy; returns the feed entries to publish.
pub fn run(
    conn: &Connection,
    cache: &mut LruCache<DocId, ClassDoc>,
    moves: &[Move],
    actor: &ActorId,
    now: Timestamp,
) -> Result<Vec<FeedEvent>> {
    let now_ms = now.as_millisecond();
    let mut events = Vec::new();
    let mut sources: Vec<(RecordKind, ClassName)> =
        moves.iter().map(|m| (m.kind, m.from.clone())).collect();
    sources.sort();
    sources.dedup();
    for (kind, class) in sources {
        let leaving: Vec<&Move> = moves
            .iter()
            .filter(|m| m.kind == kind && m.from == class)
            .collect();
        for doc_text in feed::docs_in_class(conn, kind, class.as_str())? {
            let doc_id: DocId = doc_text.parse()?;
            let Some(source) = feed::load(conn, cache, &doc_id, actor)? else {
                continue;
            };
            let present: Vec<&Move> = leaving
                .iter()
                .copied()
                .filter(|m| source.get(m.field).ok().flatten().is_some())
                .collect();
            if present.is_empty() {
                continue;
            }
            // 1. Values to their new class documents.
            let mut moved = Vec::new();
            for m in &present {
                if let Some(value) = source.get(m.field)? {
                    moved.push((*m, value));
                }
            }
            for (m, value) in moved {
                let target_id = doc_id.record().doc(&m.to);
                let def = schema::field(kind, m.field).ok_or_else(|| {
                    crate::error::ServerError::Internal(format!(
                        "{kind}.{} vanished from the schema",
                        m.field
                    ))
                })?;
                if feed::load(conn, cache, &target_id, actor)?.is_none() {
                    cache.put(
                        target_id.clone(),
                        ClassDoc::new(target_id.clone(), actor.clone()),
                    );
                }
                let Some(target) = cache.get_mut(&target_id) else {
                    continue;
                };
                target.put_value(m.field, def.ty, &value)?;
                if let Some(change) = target.commit(SERVER_AUTHOR, now) {
                    let raw = change.raw_bytes().to_vec();
                    let seq =
                        feed::append(conn, &target_id, &change.hash().0, &raw, None, None, now_ms)?;
                    feed::compact_if_due(conn, target, seq)?;
                    events.push(FeedEvent {
                        seq,
                        doc: target_id.clone(),
                        hash: change.hash().0.to_vec(),
                        bytes: raw,
                        device: None,
                        facts_changed: false,
                    });
                }
            }
            // 2. The source rewritten without them, with a fresh history.
            let Some(source) = cache.get_mut(&doc_id) else {
                continue;
            };
            let mut rewritten = ClassDoc::new(doc_id.clone(), actor.clone());
            for field in source.field_names() {
                if present.iter().any(|m| m.field == field) {
                    continue;
                }
                let (Some(def), Some(value)) = (schema::field(kind, &field), source.get(&field)?)
                else {
                    continue;
                };
                rewritten.put_value(def.name, def.ty, &value)?;
            }
            let change = match rewritten.commit(SERVER_AUTHOR, now) {
                Some(c) => c,
                None => rewritten.commit_empty(SERVER_AUTHOR, now),
            };
            let seq = feed::replace_history(conn, &mut rewritten, now_ms)?;
            events.push(FeedEvent {
                seq,
                doc: doc_id.clone(),
                hash: change.hash().0.to_vec(),
                bytes: change.raw_bytes().to_vec(),
                device: None,
                facts_changed: false,
            });
            cache.put(doc_id.clone(), rewritten);
            tracing::info!(doc = %doc_id, fields = ?present.iter().map(|m| m.field).collect::<Vec<_>>(), "reclassified");
        }
    }
    Ok(events)
}
