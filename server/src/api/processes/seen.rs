//! Reading with the caller's visibility, shared by the process handlers:
//! the model versions stored on the server, and records and instances as
//! a caller reads them (through [`crate::api::read`]: visibility and
//! readable classes, as for sync).

use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner;
use fieldwork_core::{Access, DocId, Record, RecordId, RecordKind};
use rusqlite::Connection;

use crate::api::read;
use crate::error::Result;
use crate::processes;

/// Every published model version stored on the server (the versions
/// [`processes::ServerHost`] runs; models are seen by everyone, see
/// [`crate::visibility::doc_visible`]).
pub(super) fn stored_models(conn: &Connection, actor: &ActorId) -> Result<Vec<Model>> {
    Ok(stored_model_records(conn, actor)?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

/// [`stored_models`] with the record each was read from (its
/// `published_at`, for the web app's list of models).
pub(crate) fn stored_model_records(
    conn: &Connection,
    actor: &ActorId,
) -> Result<Vec<(Model, Record)>> {
    let mut models = Vec::new();
    for id in processes::ids_of_kind(conn, RecordKind::ProcessModel)? {
        let mut docs = Vec::new();
        for doc in crate::db::documents::docs_of_record(conn, &id.to_string())? {
            if let Ok(doc) = doc.parse::<DocId>()
                && let Some(loaded) = read::load_doc(conn, &doc, actor)?
            {
                docs.push(loaded);
            }
        }
        let (record, _) = read::assemble(&id, &mut docs)?;
        if let Some(m) = runner::model_from_record(&record) {
            models.push((m, record));
        }
    }
    Ok(models)
}

/// Whether `access` sees record `id` (it exists and is visible).
pub(super) fn sees(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    actor: &ActorId,
) -> Result<bool> {
    Ok(read::readable_docs(conn, access, id, actor)?.is_some())
}

/// Record `id` as `access` reads it, if it sees it.
pub(crate) fn seen_record(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    actor: &ActorId,
) -> Result<Option<Record>> {
    let Some(mut docs) = read::readable_docs(conn, access, id, actor)? else {
        return Ok(None);
    };
    Ok(Some(read::assemble(id, &mut docs)?.0))
}

/// Every instance record `access` sees (visibility facts read once).
pub(super) fn seen_instances(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
) -> Result<Vec<Record>> {
    let ids = processes::ids_of_kind(conn, RecordKind::ProcessInstance)?;
    let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let facts = crate::db::facts::facts(conn, &keys)?;
    let mut out = Vec::new();
    for (id, key) in ids.iter().zip(&keys) {
        let f = facts.get(key).cloned().unwrap_or_default();
        if let Some(mut docs) = read::readable_with(conn, access, id, &f, actor)? {
            out.push(read::assemble(id, &mut docs)?.0);
        }
    }
    Ok(out)
}
