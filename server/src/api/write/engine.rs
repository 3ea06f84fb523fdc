//! What a device's process engine does after its user's own write, done on
//! the server after an office write (API or web app): the triggers the
//! write fires start their instances (a deal moved to `won` starts the
//! follow-up), and an activity written to runs the instance it belongs to
//! (a completed task advances its step). The device does this in
//! `Store::after_write` with [`runner::on_write`]; here the same function
//! runs on a server process host ([`processes::with_host_as`]) with the
//! user's rights, so a model the user may not start is refused as on their
//! phone.
//!
//! Guarantees: the engine runs only after the user's write is stored, in
//! its own transaction, and its failure never undoes or fails that write
//! (it is logged, as a device keeps it among its engine problems).

use fieldwork_core::process::ProcessHost;
use fieldwork_core::process::runner;
use fieldwork_core::{Record, RecordId};

use crate::db::Writer;
use crate::db::users::User;
use crate::processes;
use crate::state::AppState;

/// The record as the engine reads it (`None` when absent or unreadable).
pub(super) fn record_of(
    w: &mut Writer,
    state: &AppState,
    user: &User,
    id: &RecordId,
) -> Option<Record> {
    let access = crate::db::access::access_for(&w.conn, user).ok()?.1;
    let now = state.clock.now();
    processes::with_host_as(w, None, &state.actor, now, &user.name, access, |h| {
        h.record(id)
    })
    .ok()
    .flatten()
}

/// Fires the triggers of the write and runs the activity's instance.
pub(super) fn run(
    w: &mut Writer,
    state: &AppState,
    user: &User,
    id: &RecordId,
    before: Option<Record>,
) {
    let access = match crate::db::access::access_for(&w.conn, user) {
        Ok((_, access)) => access,
        Err(e) => {
            tracing::warn!(record = %id, error = %e, "process engine not run after an office write");
            return;
        }
    };
    let now = state.clock.now();
    let hub = Some(&state.hub);
    let ran = processes::with_host_as(w, hub, &state.actor, now, &user.name, access, |h| {
        let Some(after) = h.record(id)? else {
            return Ok(Vec::new());
        };
        let at = h.now();
        runner::on_write(h, before.as_ref(), &after, at)
    });
    match ran {
        Ok(touched) if !touched.is_empty() => {
            tracing::info!(user = %user.name, record = %id, instances = touched.len(), "process engine ran after an office write");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(user = %user.name, record = %id, error = %e, "process engine failed after an office write");
        }
    }
}
