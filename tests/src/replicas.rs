//! What a replica holds, in a form that can be compared across replicas.

use std::collections::BTreeMap;

use fieldwork_core::DocId;
use fieldwork_core::automerge::{ActorId, ChangeHash};
use fieldwork_core::document::ClassDoc;
use fieldwork_server::db::documents;

use crate::device::TestDevice;
use crate::server::TestServer;

/// One document's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocState {
    /// Sorted heads.
    pub heads: Vec<ChangeHash>,
    /// Every field's values (all concurrent values, winner first) as
    /// canonical JSON: replicas that agree produce the same bytes.
    pub content: String,
}

fn state_of(doc: &mut ClassDoc) -> DocState {
    let mut heads = doc.heads();
    heads.sort();
    let mut content = BTreeMap::new();
    for field in doc.field_names() {
        let all = doc.get_all(&field).unwrap_or_default();
        content.insert(field, serde_json::to_value(all).unwrap_or_default());
    }
    DocState {
        heads,
        content: serde_json::to_string(&content).unwrap_or_default(),
    }
}

/// Every document a device holds.
pub fn device_docs(device: &TestDevice) -> BTreeMap<String, DocState> {
    device.store(|s| {
        let mut out = BTreeMap::new();
        for id in s.doc_ids()? {
            if let Some(state) = s.inspect_doc(&id, |d| Ok(state_of(d)))? {
                out.insert(id.to_string(), state);
            }
        }
        Ok(out)
    })
}

/// The server's copy of the documents named.
pub fn server_docs(server: &TestServer, ids: &[String]) -> BTreeMap<String, DocState> {
    let ids = ids.to_vec();
    server
        .state
        .db
        .read_blocking(move |c| {
            let mut out = BTreeMap::new();
            for id in ids {
                let Some((snapshot, changes)) = documents::whole(c, &id)? else {
                    continue;
                };
                let doc_id: DocId = id.parse()?;
                let mut doc = ClassDoc::load(
                    doc_id,
                    snapshot.as_deref(),
                    changes.iter().map(Vec::as_slice),
                    ActorId::random(),
                )?;
                out.insert(id, state_of(&mut doc));
            }
            Ok(out)
        })
        .expect("read server documents")
}

/// How many feed entries the server holds, and how many distinct (document,
/// change) pairs: equal when nothing was stored twice.
pub fn server_change_counts(server: &TestServer) -> (u64, u64) {
    server
        .state
        .db
        .read_blocking(|c| {
            let total: i64 = c.query_row("SELECT count(*) FROM changes", [], |r| r.get(0))?;
            let distinct: i64 = c.query_row(
                "SELECT count(*) FROM (SELECT DISTINCT doc_id, hash FROM changes)",
                [],
                |r| r.get(0),
            )?;
            Ok((total as u64, distinct as u64))
        })
        .expect("count changes")
}
