//! The targets the caller sees, read for `GET /v1/reports/targets`.
//!
//! Guarantees: each target is read through the caller's readable classes
//! ([`read::readable_docs`]); one the caller cannot read whole (or an
//! incomplete one) is left out by [`Target::of`], never guessed; more than
//! [`record_index::MAX_TARGETS`] targets is `None` (the report is refused
//! as too large, never answered partially).

use fieldwork_core::Access;
use fieldwork_core::automerge::ActorId;
use fieldwork_core::report::Target;
use rusqlite::Connection;

use crate::api::read;
use crate::db::record_index;
use crate::error::Result;

/// The complete, unarchived targets `access` sees; `None` when too many.
pub fn readable_targets(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
) -> Result<Option<Vec<Target>>> {
    let Some(ids) = record_index::visible_targets(conn, access)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for id in ids {
        let Some(mut docs) = read::readable_docs(conn, access, &id, actor)? else {
            continue;
        };
        let (record, _) = read::assemble(&id, &mut docs)?;
        out.extend(Target::of(&record));
    }
    Ok(Some(out))
}
