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
use fieldwork_core::{DocId, FieldValue, Policy, RecordKind, schema};
use jiff::Timestamp;
use lru::LruCache;
use rusqlite::Connection;

use crate::db::{documents, feed};
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
        // The new policy's fields, custom ones too: a field it removed
        // stays where it is, in history.
        for def in new.fields(kind) {
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
    let mut pass = Pass {
        conn,
        cache,
        actor,
        now,
        events: Vec::new(),
    };
    let mut sources: Vec<(RecordKind, ClassName)> =
        moves.iter().map(|m| (m.kind, m.from.clone())).collect();
    sources.sort();
    sources.dedup();
    for (kind, class) in sources {
        let leaving: Vec<&Move> = moves
            .iter()
            .filter(|m| m.kind == kind && m.from == class)
            .collect();
        for doc_text in documents::docs_in_class(conn, kind, class.as_str())? {
            pass.document(kind, &doc_text, &leaving)?;
        }
    }
    Ok(pass.events)
}

/// One run of [`run`]: where it writes, as whom, when, and the feed
/// entries it has made so far.
struct Pass<'a> {
    conn: &'a Connection,
    cache: &'a mut LruCache<DocId, ClassDoc>,
    actor: &'a ActorId,
    now: Timestamp,
    events: Vec<FeedEvent>,
}

impl Pass<'_> {
    /// Reclassifies one document of a class that loses the `leaving` fields:
    /// does nothing when the server does not hold it or it holds none of
    /// them; otherwise moves each present value to its new class document
    /// (step 1), then rewrites the document without them (step 2).
    fn document(&mut self, kind: RecordKind, doc_text: &str, leaving: &[&Move]) -> Result<()> {
        let doc_id: DocId = doc_text.parse()?;
        let Some(source) = documents::load(self.conn, self.cache, &doc_id, self.actor)? else {
            return Ok(());
        };
        let present: Vec<&Move> = leaving
            .iter()
            .copied()
            .filter(|m| source.get(m.field).ok().flatten().is_some())
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        // 1. Values to their new class documents.
        let mut moved = Vec::new();
        for m in &present {
            if let Some(value) = source.get(m.field)? {
                moved.push((*m, value));
            }
        }
        for (m, value) in moved {
            self.move_value(kind, &doc_id, m, &value)?;
        }
        // 2. The source rewritten without them, with a fresh history.
        self.rewrite(kind, &doc_id, &present)
    }

    /// Step 1 for one field: writes `value` into the record's document of
    /// the field's new class (created when the server has none) as a server
    /// change, appended to the feed.
    fn move_value(
        &mut self,
        kind: RecordKind,
        doc_id: &DocId,
        m: &Move,
        value: &FieldValue,
    ) -> Result<()> {
        let (conn, actor, now) = (self.conn, self.actor, self.now);
        let target_id = doc_id.record().doc(&m.to);
        let ty = schema::custom::stored_type(kind, m.field).ok_or_else(|| {
            crate::error::ServerError::Internal(format!(
                "{kind}.{} vanished from the schema",
                m.field
            ))
        })?;
        if documents::load(conn, self.cache, &target_id, actor)?.is_none() {
            self.cache.put(
                target_id.clone(),
                ClassDoc::new(target_id.clone(), actor.clone()),
            );
        }
        let Some(target) = self.cache.get_mut(&target_id) else {
            return Ok(());
        };
        target.put_value(m.field, ty, value)?;
        if let Some(change) = target.commit(SERVER_AUTHOR, now) {
            let raw = change.raw_bytes().to_vec();
            let seq = feed::append(
                conn,
                &target_id,
                &change.hash().0,
                &raw,
                None,
                None,
                now.as_millisecond(),
            )?;
            documents::compact_if_due(conn, target, seq)?;
            crate::db::record_index::refresh(conn, target)?;
            self.events.push(FeedEvent {
                seq,
                doc: target_id.clone(),
                hash: change.hash().0.to_vec(),
                bytes: raw,
                device: None,
                facts_changed: false,
            });
        }
        Ok(())
    }

    /// Step 2: replaces the document with a fresh one holding its remaining
    /// values ([`rewrite_fresh`]).
    fn rewrite(&mut self, kind: RecordKind, doc_id: &DocId, present: &[&Move]) -> Result<()> {
        let Some(source) = self.cache.get_mut(doc_id) else {
            return Ok(());
        };
        let mut remaining = Vec::new();
        for field in source.field_names() {
            if present.iter().any(|m| m.field == field)
                || schema::custom::stored_type(kind, &field).is_none()
            {
                continue;
            }
            if let Some(value) = source.get(&field)? {
                remaining.push((field, value));
            }
        }
        let event = rewrite_fresh(
            self.conn, self.cache, doc_id, &remaining, self.actor, self.now,
        )?;
        self.events.push(event);
        tracing::info!(doc = %doc_id, fields = ?present.iter().map(|m| m.field).collect::<Vec<_>>(), "reclassified");
        Ok(())
    }
}

/// Replaces document `doc_id` with a fresh one holding exactly `values`
/// (each written with its schema type, a custom field's as the scalar it
/// is; a name the schema does not know for the kind is skipped) in one server change (an empty change when
/// there are none): its old changes are deleted from the feed, its
/// generation is bumped (devices holding it are sent the new generation to
/// replace, not merge with, their copy), its index rows are refreshed and
/// the new document is cached. Returns the feed entry to publish after the
/// commit. Call inside the writer's transaction. Shared by
/// reclassification and erasure (`crate::erasure`).
pub fn rewrite_fresh(
    conn: &Connection,
    cache: &mut LruCache<DocId, ClassDoc>,
    doc_id: &DocId,
    values: &[(String, FieldValue)],
    actor: &ActorId,
    now: Timestamp,
) -> Result<FeedEvent> {
    let kind = doc_id.record().kind();
    let mut rewritten = ClassDoc::new(doc_id.clone(), actor.clone());
    for (field, value) in values {
        if let Some(ty) = schema::custom::stored_type(kind, field) {
            rewritten.put_value(field, ty, value)?;
        }
    }
    let change = match rewritten.commit(SERVER_AUTHOR, now) {
        Some(c) => c,
        None => rewritten.commit_empty(SERVER_AUTHOR, now),
    };
    let seq = feed::replace_history(conn, &mut rewritten, now.as_millisecond())?;
    crate::db::record_index::refresh(conn, &rewritten)?;
    let event = FeedEvent {
        seq,
        doc: doc_id.clone(),
        hash: change.hash().0.to_vec(),
        bytes: change.raw_bytes().to_vec(),
        device: None,
        facts_changed: false,
    };
    cache.put(doc_id.clone(), rewritten);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::policy::DEFAULT_POLICY_TOML;

    /// The default policy with custom field `x_margin` in `class`.
    fn with_margin(class: &str) -> Policy {
        let listed = format!("{class} = [\"x_margin\", ");
        let text = DEFAULT_POLICY_TOML.replacen(&format!("{class} = ["), &listed, 1);
        let text = format!("{text}\n[custom.account.margin]\ntype = \"number\"\n");
        Policy::from_toml(&text).expect("valid")
    }

    #[test]
    fn a_custom_field_moves_with_its_class_and_a_removed_one_stays() {
        let (general, financial) = (with_margin("general"), with_margin("financial"));
        let moved = moves(&general, &financial);
        assert_eq!(moved.len(), 1, "{moved:?}");
        assert_eq!(
            (moved[0].field, moved[0].from.as_str(), moved[0].to.as_str()),
            ("x_margin", "general", "financial")
        );
        assert!(moves(&general, &Policy::shipped_default()).is_empty());
    }
}
