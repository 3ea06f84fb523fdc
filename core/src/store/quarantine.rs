//! Refused edits: kept, explained, and everything permitted replayed.
//!
//! When the server refuses a change (the policy changed while the device was
//! offline, the record moved territory...), the device:
//! 1. rebuilds the document on the *server-confirmed* state: every change of
//!    the document except those still in the outbox;
//! 2. keeps each forbidden write (field, the value the user typed, the reason
//!    code, rule and message) in the quarantine the app lists;
//! 3. replays every other write the user made to that document, including
//!    the ones made after the refused change, as new changes on top.
//!
//! All in one transaction: the user loses exactly what the policy forbids,
//! and can see what that was. Unlike a compensating write, nothing that was
//! permitted is undone.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use automerge::ChangeHash;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::write::{self, Ctx, FieldWrite};
use super::{Store, docs, outbox};
use crate::document::ClassDoc;
use crate::error::{CoreError, Denial, Result};
use crate::ids::{DocId, RecordId};
use crate::value::FieldValue;

pub use crate::wire::error_codes::DEPENDENCY_REFUSED;

/// An edit the server refused, as the user typed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedEdit {
    /// Row id, for dismissing.
    pub id: i64,
    /// The record edited.
    pub record: RecordId,
    /// The document the edit was in.
    pub doc: DocId,
    /// The field written.
    pub field: String,
    /// The value the user typed (`null` for clearing the field).
    pub value: serde_json::Value,
    /// Stable reason code.
    pub code: String,
    /// The policy rule that refused it.
    pub rule: String,
    /// Explanation for people.
    pub message: String,
    /// When the user made the edit (RFC 3339).
    pub typed_at: String,
    /// When the refusal was handled (RFC 3339).
    pub refused_at: String,
}

impl Store {
    /// Every quarantined edit, newest first.
    pub fn quarantine(&self) -> Result<Vec<QuarantinedEdit>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, record_id, doc_id, field, value, code, rule, message, typed_at, refused_at
               FROM quarantine ORDER BY id DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        let ts = |ms: i64| {
            Timestamp::from_millisecond(ms)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        while let Some(r) = rows.next()? {
            let record: String = r.get(1)?;
            let doc: String = r.get(2)?;
            let value: String = r.get(4)?;
            out.push(QuarantinedEdit {
                id: r.get(0)?,
                record: record.parse()?,
                doc: doc.parse()?,
                field: r.get(3)?,
                value: serde_json::from_str(&value).unwrap_or(serde_json::Value::Null),
                code: r.get(5)?,
                rule: r.get(6)?,
                message: r.get(7)?,
                typed_at: ts(r.get(8)?),
                refused_at: ts(r.get(9)?),
            });
        }
        Ok(out)
    }

    /// Removes a quarantined edit once the user has seen it.
    pub fn dismiss_quarantined(&mut self, id: i64) -> Result<()> {
        let n = self
            .conn
            .execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(CoreError::NotFound(format!("quarantined edit {id}")));
        }
        Ok(())
    }

    /// Makes quarantined edit `id` again, as a new edit of the record as
    /// it is now, under the policy as it is now: for an edit refused while
    /// a right was missing that the user has since been given, or a record
    /// that came back into the user's sight. Checked like any write (policy
    /// first, then schema and rules): if it is refused again, the error is
    /// returned and the entry stays as it was; if it is written, the entry
    /// goes in the same transaction and the next sync pushes the edit.
    /// Returns the record written. `NotFound` for an unknown id.
    pub fn retry_quarantined(&mut self, id: i64) -> Result<RecordId> {
        let (record, field, typed): (String, String, String) = self
            .conn
            .query_row(
                "SELECT record_id, field, value FROM quarantine WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| CoreError::NotFound(format!("quarantined edit {id}")))?;
        let record: RecordId = record.parse()?;
        let value: Option<FieldValue> = serde_json::from_str(&typed).map_err(|_| {
            CoreError::Corrupt(format!("quarantined edit {id} holds an unreadable value"))
        })?;
        let before = self.wants_before(&record);
        self.in_write_tx(|ctx| {
            write::write_record(ctx, &record, false, vec![FieldWrite { field, value }])?;
            ctx.conn
                .execute("DELETE FROM quarantine WHERE id = ?1", [id])?;
            Ok(())
        })?;
        self.after_write(&record, before);
        Ok(record)
    }

    /// Handles changes the server refused (see the module docs). Changes not
    /// in the outbox are ignored. Returns the records rebuilt.
    pub fn handle_refusals(
        &mut self,
        refused: &[(DocId, ChangeHash, Denial)],
    ) -> Result<Vec<RecordId>> {
        let mut by_doc: BTreeMap<DocId, BTreeMap<ChangeHash, Denial>> = BTreeMap::new();
        {
            let mut pending = self
                .conn
                .prepare_cached("SELECT 1 FROM outbox WHERE doc_id = ?1 AND hash = ?2")?;
            for (doc, hash, denial) in refused {
                if pending.exists(rusqlite::params![doc.to_string(), hash.0.as_slice()])? {
                    by_doc
                        .entry(doc.clone())
                        .or_default()
                        .insert(*hash, denial.clone());
                }
            }
        }
        if by_doc.is_empty() {
            return Ok(Vec::new());
        }
        self.in_write_tx(|ctx| {
            let mut rebuilt = Vec::new();
            for (doc_id, reasons) in &by_doc {
                rebuild(ctx, doc_id, reasons)?;
                rebuilt.push(doc_id.record().clone());
            }
            rebuilt.dedup();
            Ok(rebuilt)
        })
    }
}

fn rebuild(
    ctx: &mut Ctx<'_>,
    doc_id: &DocId,
    reasons: &BTreeMap<ChangeHash, Denial>,
) -> Result<()> {
    // 1. The server-confirmed state: everything but our unacknowledged changes.
    let pending: HashSet<ChangeHash> = outbox::of_doc(ctx.conn, doc_id)?
        .iter()
        .map(|(h, _, _)| *h)
        .collect();
    let Some((_, mut local)) = docs::take(ctx.conn, ctx.cache, doc_id, ctx.actor)? else {
        return Ok(());
    };
    let confirmed: Vec<_> = local
        .automerge()
        .get_changes(&[])
        .into_iter()
        .filter(|c| !pending.contains(&c.hash()))
        .collect();
    let mut base = ClassDoc::new(doc_id.clone(), ctx.actor.clone());
    base.apply_changes(confirmed)?;
    rebuild_on(ctx, doc_id, base, reasons)
}

/// Replaces a document with a new generation sent by the server (a field
/// moved to another class and the old history was purged): the local copy
/// is discarded, not merged, and the user's unacknowledged edits are
/// replayed on the new one (or quarantined if the policy now forbids them).
pub(crate) fn replace(ctx: &mut Ctx<'_>, doc_id: &DocId, new: ClassDoc) -> Result<()> {
    rebuild_on(ctx, doc_id, new, &BTreeMap::new())
}

/// Installs `base` as the document and replays the user's unacknowledged
/// writes on top; writes named by `reasons`, or refused now, are quarantined.
fn rebuild_on(
    ctx: &mut Ctx<'_>,
    doc_id: &DocId,
    mut rebuilt: ClassDoc,
    reasons: &BTreeMap<ChangeHash, Denial>,
) -> Result<()> {
    let record = doc_id.record().clone();
    let pending = outbox::of_doc(ctx.conn, doc_id)?;
    docs::delete(ctx.conn, doc_id)?;
    outbox::clear_doc(ctx.conn, doc_id)?;
    ctx.cache.forget(doc_id);
    if !rebuilt.is_empty() {
        let rev = docs::persist(ctx.conn, &mut rebuilt, &[], ctx.now.as_millisecond())?;
        ctx.cache.put(rev, rebuilt);
    }

    // 2. Sort the user's writes into forbidden (quarantined) and permitted.
    let refused_at = ctx.now.as_millisecond();
    let mut permitted: Vec<(String, serde_json::Value, i64)> = Vec::new();
    for (hash, writes, typed_at) in pending {
        let reason = reasons.get(&hash);
        for w in writes {
            let named = reason.is_some_and(|d| {
                d.field.as_deref() == Some(w.field.as_str())
                    || (d.field.is_none() && d.code != DEPENDENCY_REFUSED)
            });
            if named {
                if let Some(denial) = reason {
                    insert(
                        ctx.conn, &record, doc_id, &w.field, &w.value, denial, typed_at, refused_at,
                    )?;
                }
            } else {
                permitted.push((w.field, w.value, typed_at));
            }
        }
    }

    // 3. Replay the permitted writes: the last value typed per field.
    let mut last: BTreeMap<String, (serde_json::Value, i64)> = BTreeMap::new();
    for (field, value, at) in permitted {
        last.insert(field, (value, at));
    }
    let creating = docs::doc_ids_of(ctx.conn, &record)?.is_empty();
    let writes: Vec<(FieldWrite, serde_json::Value, i64)> = last
        .into_iter()
        .map(|(field, (value, at))| {
            let parsed: Option<FieldValue> = serde_json::from_value(value.clone()).unwrap_or(None);
            (
                FieldWrite {
                    field,
                    value: parsed,
                },
                value,
                at,
            )
        })
        .collect();
    let all: Vec<FieldWrite> = writes.iter().map(|(w, _, _)| w.clone()).collect();
    if all.is_empty() {
        return write::refresh_all(ctx, &BTreeSet::from([record]));
    }
    match write::write_record(ctx, &record, creating, all) {
        Ok(()) => return Ok(()),
        // Refusals and validation errors happen before anything is persisted.
        Err(CoreError::Denied(_) | CoreError::Invalid(_)) => {}
        Err(other) => return Err(other),
    }
    // Some write is no longer acceptable (e.g. the policy mirror now refuses
    // it): replay one by one and quarantine those that fail, with the reason.
    for (w, typed, at) in writes {
        let creating = docs::doc_ids_of(ctx.conn, &record)?.is_empty();
        if let Err(e) = write::write_record(ctx, &record, creating, vec![w.clone()]) {
            let denial = match e {
                CoreError::Denied(d) => d,
                CoreError::Invalid(v) => Denial {
                    code: crate::policy::codes::INVALID_VALUE.into(),
                    doc: Some(doc_id.to_string()),
                    field: Some(w.field.clone()),
                    rule: "schema".into(),
                    message: v.to_string(),
                },
                other => return Err(other),
            };
            insert(
                ctx.conn, &record, doc_id, &w.field, &typed, &denial, at, refused_at,
            )?;
        }
    }
    write::refresh_all(ctx, &BTreeSet::from([record]))
}

/// Keeps one typed value that cannot be written any more in the
/// quarantine, with the reason (see `store/adopt.rs`).
pub(crate) fn keep_typed(
    ctx: &mut Ctx<'_>,
    record: &RecordId,
    doc: &DocId,
    field: &str,
    value: &serde_json::Value,
    denial: &Denial,
    typed_at: i64,
) -> Result<()> {
    let refused_at = ctx.now.as_millisecond();
    insert(
        ctx.conn, record, doc, field, value, denial, typed_at, refused_at,
    )
}

#[allow(clippy::too_many_arguments)]
fn insert(
    conn: &Connection,
    record: &RecordId,
    doc: &DocId,
    field: &str,
    value: &serde_json::Value,
    denial: &Denial,
    typed_at: i64,
    refused_at: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO quarantine(record_id, doc_id, field, value, code, rule, message, typed_at, refused_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            record.to_string(),
            doc.to_string(),
            field,
            value.to_string(),
            denial.code,
            denial.rule,
            denial.message,
            typed_at,
            refused_at
        ],
    )?;
    Ok(())
}

/// Moves the unacknowledged edits of a document about to be removed into the
/// quarantine, with reason `code`.
pub(crate) fn keep_pending(ctx: &mut Ctx<'_>, doc: &DocId, code: &str) -> Result<()> {
    let now = ctx.now.as_millisecond();
    let denial = Denial {
        code: code.to_owned(),
        doc: Some(doc.to_string()),
        field: None,
        rule: "visibility".to_owned(),
        message:
            "you may no longer see this record or field, so the server will not take this edit"
                .to_owned(),
    };
    for (_, writes, typed_at) in outbox::of_doc(ctx.conn, doc)? {
        for w in writes {
            insert(
                ctx.conn,
                doc.record(),
                doc,
                &w.field,
                &w.value,
                &denial,
                typed_at,
                now,
            )?;
        }
    }
    Ok(())
}
