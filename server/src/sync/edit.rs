//! Turning an edit into changes on the server: the one function every
//! server-side writer calls (the office API's writes, the import, merges
//! and the merge redirect), so no writer has its own editor set-up.
//!
//! Guarantees: an edit is made by [`Editor::write`] (policy, schema, rule
//! book, one change per class document) against the documents as the
//! writer's database holds them, with the actor the caller passes, and is
//! returned as measured [`Incoming`] changes for [`super::push`], which
//! checks them again like any device's change.

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit::{EditEnv, Editor, FieldWrite};
use fieldwork_core::policy::Policy;
use fieldwork_core::record::Record;
use fieldwork_core::{Access, DocId, RecordId};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::push::Incoming;
use crate::db::users::User;
use crate::db::{documents, facts};
use crate::error::ServerError;

/// Who makes an edit: their access, the policy it was built from, their
/// name (the changes' author) and the Automerge actor to write with.
#[derive(Clone, Copy)]
pub struct EditAs<'a> {
    /// The caller's access.
    pub access: &'a Access,
    /// The policy in force.
    pub policy: &'a Policy,
    /// The author recorded in the changes.
    pub author: &'a str,
    /// The actor the changes are written with.
    pub actor: &'a ActorId,
}

/// The changes `writes` make to `current` (created when `creating`) as
/// `who`, checked by the edit ([`Editor::write`]: policy, schema, rule
/// book) at `now_ms` (stamped to the second), ready to push; empty when
/// nothing changes.
pub fn edit_changes(
    conn: &Connection,
    who: EditAs<'_>,
    now_ms: i64,
    current: &Record,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> fieldwork_core::Result<Vec<Incoming>> {
    let now = jiff::Timestamp::from_second(now_ms.div_euclid(1000))
        .map_err(|e| fieldwork_core::CoreError::Corrupt(e.to_string()))?;
    let editor = Editor {
        access: who.access,
        policy: who.policy,
        author: who.author,
        now,
        // The API, the import and merges take ISO dates (docs/API.md).
        locale: fieldwork_core::locale::Locale::En,
    };
    let mut env = ServerEnv {
        conn,
        actor: who.actor.clone(),
    };
    let touched = editor.write(&mut env, current, creating, writes)?;
    Ok(touched
        .iter()
        .map(|(doc, change, _)| Incoming::new(doc.id().to_string(), change.raw_bytes().to_vec()))
        .collect())
}

/// The Automerge actor the server writes with for `user` (office API, import,
/// merges and their redirects) on this server: the
/// same for every request (the writer serialises them), bound to the user
/// on its first change like a device's actor, and distinct from device
/// and engine actors.
pub fn actor_for(server_actor: &ActorId, user: &User) -> ActorId {
    let mut h = Sha256::new();
    h.update(b"fieldwork office API actor\0");
    h.update(server_actor.to_bytes());
    h.update(user.id.to_le_bytes());
    let digest = h.finalize();
    ActorId::from(&digest[..16])
}

/// What an edit reads on the server: the writer's database.
struct ServerEnv<'c> {
    conn: &'c Connection,
    actor: ActorId,
}

impl EditEnv for ServerEnv<'_> {
    fn account_territory(&self, account: &RecordId) -> fieldwork_core::Result<Option<String>> {
        let key = account.to_string();
        facts::facts(self.conn, std::slice::from_ref(&key))
            .map(|mut f| f.remove(&key).and_then(|f| f.territory))
            .map_err(corrupt)
    }

    fn take_doc(&mut self, doc: &DocId) -> fieldwork_core::Result<Option<ClassDoc>> {
        let Some((snapshot, changes)) =
            documents::whole(self.conn, &doc.to_string()).map_err(corrupt)?
        else {
            return Ok(None);
        };
        ClassDoc::load(
            doc.clone(),
            snapshot.as_deref(),
            changes.iter().map(Vec::as_slice),
            self.actor.clone(),
        )
        .map(Some)
    }

    fn actor(&self) -> &ActorId {
        &self.actor
    }
}

fn corrupt(e: ServerError) -> fieldwork_core::CoreError {
    fieldwork_core::CoreError::Corrupt(e.to_string())
}
