//! Writes through the office API: the same edit a device makes
//! ([`fieldwork_core::edit`]), made on the server by an Automerge actor
//! bound to the caller, and accepted only through the push path a device's
//! changes take ([`crate::sync::push`]).
//!
//! Guarantees: there is no second write path. Every change an API call
//! makes is checked by the rule book and the policy twice (once as the
//! edit is made, with human errors naming the field; once as it is
//! pushed, exactly as a device's change), stored in the feed and relayed
//! live to the devices that may see it; a concurrent offline edit of the
//! same record on a phone merges per field like any two devices' edits.
//! A refusal carries the same code, field and rule as a forged sync push.
//! An edit touching several class documents is pushed all or nothing
//! ([`PushCtx::all_or_nothing`]): its changes are stored together or not
//! at all. After it is stored the process engine runs as on the user's
//! device ([`engine`]), so an office write starts and advances processes
//! exactly as the same write on a phone.

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit::{EditEnv, Editor, FieldWrite, empty_record};
use fieldwork_core::policy::Policy;
use fieldwork_core::record::Record;
use fieldwork_core::{Access, DocId, RecordId};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::problem::Problem;
use super::read;
use crate::db::users::User;
use crate::db::{Writer, facts};
use crate::error::ServerError;
use crate::state::AppState;
use crate::sync::push::{self, Incoming, PushCtx};

mod engine;

/// The Automerge actor the API writes with for `user` on this server: the
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

/// What an edit reads on the server.
struct ServerEnv<'c> {
    conn: &'c Connection,
    actor: ActorId,
}

impl EditEnv for ServerEnv<'_> {
    fn account_territory(&self, account: &RecordId) -> fieldwork_core::Result<Option<String>> {
        let key = account.to_string();
        facts::facts(self.conn, std::slice::from_ref(&key))
            .map(|mut f| f.remove(&key).and_then(|f| f.territory))
            .map_err(|e| fieldwork_core::CoreError::Corrupt(e.to_string()))
    }

    fn take_doc(&mut self, doc: &DocId) -> fieldwork_core::Result<Option<ClassDoc>> {
        read::load_doc(self.conn, doc, &self.actor)
            .map_err(|e| fieldwork_core::CoreError::Corrupt(e.to_string()))
    }

    fn actor(&self) -> &ActorId {
        &self.actor
    }
}

/// The changes `writes` make to `current` (created when `creating`) as
/// `author` with `access`, checked by the edit ([`Editor::write`]: policy,
/// schema, rule book) at `now_ms` (stamped to the second), ready to push;
/// empty when nothing changes. The one way the server turns an edit into
/// changes: the office API's writes and the import both call it.
#[allow(clippy::too_many_arguments)]
pub(super) fn edit_changes(
    conn: &Connection,
    access: &Access,
    policy: &Policy,
    author: &str,
    actor: ActorId,
    now_ms: i64,
    current: &Record,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> fieldwork_core::Result<Vec<Incoming>> {
    let now = jiff::Timestamp::from_second(now_ms.div_euclid(1000))
        .map_err(|e| fieldwork_core::CoreError::Corrupt(e.to_string()))?;
    let editor = Editor {
        access,
        policy,
        author,
        now,
        // The API and the import take ISO dates (docs/API.md).
        locale: fieldwork_core::locale::Locale::En,
    };
    let mut env = ServerEnv { conn, actor };
    let touched = editor.write(&mut env, current, creating, writes)?;
    Ok(touched
        .iter()
        .map(|(doc, change, _)| Incoming::new(doc.id().to_string(), change.raw_bytes().to_vec()))
        .collect())
}

/// Makes `writes` to record `id` (created when `creating`) as `user`, on
/// the writer, and pushes the changes; then, when something was stored,
/// runs the process engine as the user's device would after that write
/// ([`engine`]: triggers start instances, a completed task advances its
/// instance). Returns the number of changes stored (0 when nothing
/// changed; the engine does not run).
pub fn write(
    w: &mut Writer,
    state: &AppState,
    user: &User,
    id: &RecordId,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> Result<usize, Problem> {
    let before = match creating {
        true => None,
        false => engine::record_of(w, state, user, id),
    };
    let stored = push_edit(w, state, user, id, creating, writes)?;
    if stored > 0 {
        engine::run(w, state, user, id, before);
    }
    Ok(stored)
}

/// [`write`] without the engine: the edit, pushed.
fn push_edit(
    w: &mut Writer,
    state: &AppState,
    user: &User,
    id: &RecordId,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> Result<usize, Problem> {
    let (_, access) = crate::db::access::access_for(&w.conn, user)?;
    let Some(policy) = access.policy() else {
        return Err(ServerError::Internal("no policy".into()).into());
    };
    let actor = actor_for(&state.actor, user);
    let current = if creating {
        if !crate::db::documents::docs_of_record(&w.conn, &id.to_string())?.is_empty() {
            return Err(Problem::new(
                axum::http::StatusCode::CONFLICT,
                "already_exists",
                format!("{id} already exists"),
            ));
        }
        empty_record(id)
    } else {
        let Some(mut docs) = read::readable_docs(&w.conn, &access, id, &actor)? else {
            return Err(Problem::not_found(format!("no record {id}")));
        };
        read::assemble(id, &mut docs)?.0
    };
    let incoming = edit_changes(
        &w.conn,
        &access,
        policy,
        &user.name,
        actor,
        state.now_ms(),
        &current,
        creating,
        writes,
    )
    .map_err(|e| Problem::from(ServerError::from(e)))?;
    if incoming.is_empty() {
        return Ok(0);
    }
    let ctx = PushCtx {
        user,
        access: &access,
        device: None,
        now_ms: state.now_ms(),
        all_or_nothing: true,
    };
    let outcome = push::apply_measured(w, &state.hub, &state.actor, ctx, incoming)?;
    if let Some(refused) = outcome.refused.into_iter().next() {
        return Err(Problem::from(fieldwork_core::Denial {
            code: refused.code,
            doc: Some(refused.doc),
            field: refused.field,
            rule: refused.rule,
            message: refused.message,
        }));
    }
    Ok(outcome.accepted.len())
}
