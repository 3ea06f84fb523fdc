//! What a person typed before the store's first sign-in becomes theirs.
//!
//! Before any sign-in a store writes as `local` (author and default owner):
//! the server would refuse those changes (`author_mismatch`), since it binds
//! every change to the user who pushes it. At the first sign-in, in the
//! same transaction that stores it, every record made here is made again
//! under the user: its documents and outbox entries are dropped and the
//! values typed (the outbox keeps them) are written anew by the user, with
//! `owner` (and an activity's `assignee`) `local` becoming the user. The
//! record keeps its id, so links between records hold.
//!
//! Guarantees: nothing typed is lost. A value the user's policy refuses
//! (a rep who typed a credit limit offline) is kept in the quarantine with
//! the reason, as a refused push would be; if the record cannot be made at
//! all, every value typed is kept there. The server still refuses any
//! change not signed by the pushing user: nothing here forges an author,
//! the changes are new ones made under the signed-in user's policy.

use std::collections::BTreeMap;

use super::write::{self, Ctx, FieldWrite};
use super::{docs, outbox, quarantine};
use crate::error::{CoreError, Denial, Result};
use crate::ids::{DocId, RecordId, RecordKind};
use crate::value::FieldValue;

/// The author and default owner of writes made before any sign-in.
pub(crate) const LOCAL_AUTHOR: &str = "local";

/// One value typed, with the document it was in and when.
struct Typed {
    doc: DocId,
    value: serde_json::Value,
    at: i64,
}

/// Makes every record in the store again under `ctx.author` (see the module
/// docs). Run in the transaction that stores the first sign-in, with the
/// new user's access in `ctx`. Returns the records made again.
pub(crate) fn adopt_local_records(ctx: &mut Ctx<'_>) -> Result<Vec<RecordId>> {
    let mut records: Vec<RecordId> = {
        let mut stmt = ctx
            .conn
            .prepare("SELECT DISTINCT record_id FROM documents ORDER BY record_id")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter()
            .map(|id| {
                id.parse().map_err(|_| {
                    CoreError::Corrupt(format!("a document names a bad record `{id}`"))
                })
            })
            .collect::<Result<_>>()?
    };
    // Accounts first: children read the territory of their account's
    // index row, which a remade account writes again.
    records.sort_by_key(|r| r.kind() != RecordKind::Account);
    let mut adopted = Vec::new();
    for record in records {
        if adopt(ctx, &record)? {
            adopted.push(record);
        }
    }
    Ok(adopted)
}

/// Makes `record` again under the signed-in user; `false` when nothing of it
/// was typed here (left as it is).
fn adopt(ctx: &mut Ctx<'_>, record: &RecordId) -> Result<bool> {
    let doc_ids = docs::doc_ids_of(ctx.conn, record)?;
    // The last value typed per field, oldest entries first.
    let mut typed: BTreeMap<String, Typed> = BTreeMap::new();
    for doc in &doc_ids {
        for (_, writes, at) in outbox::of_doc(ctx.conn, doc)? {
            for w in writes {
                let value = if is_local_owner(&w.field, &w.value) {
                    serde_json::Value::String(ctx.author.to_owned())
                } else {
                    w.value
                };
                let newer = typed.get(&w.field).is_none_or(|t| t.at <= at);
                if newer {
                    let doc = doc.clone();
                    typed.insert(w.field, Typed { doc, value, at });
                }
            }
        }
    }
    if typed.is_empty() {
        return Ok(false);
    }
    for doc in &doc_ids {
        docs::delete(ctx.conn, doc)?;
        outbox::clear_doc(ctx.conn, doc)?;
        ctx.cache.forget(doc);
    }
    // Refused values leave the write one by one until the rest is accepted;
    // each is kept in the quarantine with its reason.
    loop {
        let writes: Vec<FieldWrite> = typed
            .iter()
            .map(|(field, t)| FieldWrite {
                field: field.clone(),
                value: serde_json::from_value::<Option<FieldValue>>(t.value.clone())
                    .unwrap_or(None),
            })
            .collect();
        let refusal = match write::write_record(ctx, record, true, writes) {
            Ok(()) => return Ok(true),
            Err(CoreError::Denied(d)) => d,
            Err(CoreError::Invalid(v)) => Denial {
                code: crate::policy::codes::INVALID_VALUE.into(),
                doc: None,
                field: v.field.clone(),
                rule: "schema".into(),
                message: v.to_string(),
            },
            Err(other) => return Err(other),
        };
        match refusal.field.clone().and_then(|f| typed.remove_entry(&f)) {
            Some((field, t)) => keep(ctx, record, &field, &t, &refusal)?,
            // The record as a whole cannot be made: keep every value.
            None => {
                for (field, t) in std::mem::take(&mut typed) {
                    keep(ctx, record, &field, &t, &refusal)?;
                }
            }
        }
        if typed.is_empty() {
            write::refresh_all(ctx, &std::collections::BTreeSet::from([record.clone()]))?;
            return Ok(true);
        }
    }
}

/// Whether a typed write is the default owner (or assignee) of a write made
/// before any sign-in.
fn is_local_owner(field: &str, value: &serde_json::Value) -> bool {
    matches!(field, "owner" | "assignee") && value.as_str() == Some(LOCAL_AUTHOR)
}

fn keep(ctx: &mut Ctx<'_>, record: &RecordId, field: &str, t: &Typed, why: &Denial) -> Result<()> {
    let denial = Denial {
        doc: Some(t.doc.to_string()),
        ..why.clone()
    };
    quarantine::keep_typed(ctx, record, &t.doc, field, &t.value, &denial, t.at)
}
