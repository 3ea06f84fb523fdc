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

use fieldwork_core::RecordId;
use fieldwork_core::edit::{FieldWrite, empty_record};

use super::problem::Problem;
use super::read;
use crate::db::Writer;
use crate::db::users::User;
use crate::error::ServerError;
use crate::state::AppState;
use crate::sync::push::{self, PushCtx};

mod engine;

/// The Automerge actor the API writes with for a user
/// ([`crate::sync::edit::actor_for`]).
pub use crate::sync::edit::actor_for;

/// The one way the server turns an edit into changes
/// ([`crate::sync::edit`]); the API's writes, the import and merges call it.
pub(super) use crate::sync::edit::{EditAs, edit_changes};

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
    let forward = (!creating).then(|| writes.clone());
    let stored = push_edit(w, state, user, id, creating, writes)?;
    if stored > 0 {
        if let Some(writes) = forward {
            redirect_write(w, state, user, id, writes)?;
        }
        engine::run(w, state, user, id, before);
    }
    Ok(stored)
}

/// An office write to a merged record goes on to the record kept
/// ([`crate::sync::redirect`]), as the same user.
fn redirect_write(
    w: &mut Writer,
    state: &AppState,
    user: &User,
    id: &RecordId,
    writes: Vec<FieldWrite>,
) -> Result<(), Problem> {
    if crate::sync::redirect::merged_into(&w.conn, id)?.is_none() {
        return Ok(());
    }
    let (_, access) = crate::db::access::access_for(&w.conn, user)?;
    let who = crate::sync::redirect::Editing {
        state,
        user,
        access: &access,
    };
    crate::sync::redirect::after_write(w, who, id, writes);
    Ok(())
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
    let who = EditAs {
        access: &access,
        policy,
        author: &user.name,
        actor: &actor,
    };
    let incoming = edit_changes(&w.conn, who, state.now_ms(), &current, creating, writes)
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
