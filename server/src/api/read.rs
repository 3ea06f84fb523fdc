//! Reading records for an API caller: only the class documents the caller
//! may read are loaded, and only if the caller sees the record.
//!
//! Guarantees: a record the caller does not see is "not found" (the same
//! answer as a record that does not exist, so ids cannot be probed); a
//! class the caller may not read is never loaded, so none of its fields can
//! reach a response.

use fieldwork_core::automerge::ActorId;
use fieldwork_core::card::{RecordCard, card_of};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit;
use fieldwork_core::policy::{Policy, RecordFacts};
use fieldwork_core::{Access, DocId, Record, RecordId};
use rusqlite::Connection;

use crate::db::{documents, facts};
use crate::error::{Result, ServerError};
use crate::visibility;

/// A stored class document, loaded on its own (not through the writer's
/// cache, so the caller may change it freely).
pub fn load_doc(conn: &Connection, doc: &DocId, actor: &ActorId) -> Result<Option<ClassDoc>> {
    let Some((snapshot, changes)) = documents::whole(conn, &doc.to_string())? else {
        return Ok(None);
    };
    Ok(Some(ClassDoc::load(
        doc.clone(),
        snapshot.as_deref(),
        changes.iter().map(Vec::as_slice),
        actor.clone(),
    )?))
}

/// The facts deciding who sees record `id` (default facts when it has none).
pub fn facts_of(conn: &Connection, id: &RecordId) -> Result<RecordFacts> {
    let key = id.to_string();
    Ok(facts::facts(conn, std::slice::from_ref(&key))?
        .remove(&key)
        .unwrap_or_default())
}

/// Record `id` as `access` may read it: the readable class documents,
/// assembled; `None` when the record does not exist or is not seen.
pub fn readable_docs(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    actor: &ActorId,
) -> Result<Option<Vec<ClassDoc>>> {
    readable_with(conn, access, id, &facts_of(conn, id)?, actor)
}

/// [`readable_docs`] for a record whose visibility facts are read already.
pub fn readable_with(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    facts: &RecordFacts,
    actor: &ActorId,
) -> Result<Option<Vec<ClassDoc>>> {
    let mut docs = Vec::new();
    for doc in documents::docs_of_record(conn, &id.to_string())? {
        let doc: DocId = doc
            .parse()
            .map_err(|e| ServerError::Internal(format!("stored document id {doc}: {e}")))?;
        if visibility::doc_visible(access, &doc, Some(facts))
            && let Some(loaded) = load_doc(conn, &doc, actor)?
        {
            docs.push(loaded);
        }
    }
    Ok((!docs.is_empty()).then_some(docs))
}

/// The record assembled from `docs`, with its latest change time.
pub fn assemble(id: &RecordId, docs: &mut [ClassDoc]) -> Result<(Record, i64)> {
    let mut record = edit::empty_record(id);
    let mut updated = 0;
    for doc in docs.iter_mut() {
        updated = updated.max(edit::absorb(&mut record, doc)?);
    }
    Ok((record, updated))
}

/// The card of record `id` for `access`, with its latest change time
/// (seconds); `None` when not found or not seen.
pub fn card(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    actor: &ActorId,
) -> Result<Option<(RecordCard, i64)>> {
    let Some(policy) = access.policy() else {
        return Err(ServerError::Internal("no policy".into()));
    };
    card_under(conn, access, policy, id, actor)
}

/// [`card`] with the policy given: for [`Access::Local`] (every record and
/// field, the server CLI's organisation export), which carries none.
pub fn card_under(
    conn: &Connection,
    access: &Access,
    policy: &Policy,
    id: &RecordId,
    actor: &ActorId,
) -> Result<Option<(RecordCard, i64)>> {
    let facts = facts_of(conn, id)?;
    let Some(mut docs) = readable_with(conn, access, id, &facts, actor)? else {
        return Ok(None);
    };
    let (record, updated) = assemble(id, &mut docs)?;
    Ok(Some((card_of(access, policy, &record, &facts), updated)))
}

/// Cards of many records (for lists), skipping any no longer seen or
/// whose id does not parse.
pub fn cards(
    conn: &Connection,
    access: &Access,
    ids: &[String],
    actor: &ActorId,
) -> Result<Vec<(RecordCard, i64)>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Ok(rid) = id.parse::<RecordId>()
            && let Some(card) = card(conn, access, &rid, actor)?
        {
            out.push(card);
        }
    }
    Ok(out)
}
