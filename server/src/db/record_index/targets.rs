//! The target records a caller sees, for the targets report.
//!
//! Guarantees: only unarchived targets the caller sees (the one visibility
//! rule, [`sql_visible`]), at most [`MAX_TARGETS`] ids; the documents are
//! read by the caller of this function through the caller's classes.

use fieldwork_core::{Access, RecordId, RecordKind};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::archived::{Archived, condition};
use super::visible::sql_visible;
use crate::error::Result;

/// The most targets one report reads.
pub const MAX_TARGETS: usize = 2_000;

/// The ids of the unarchived targets `access` sees, in id order; `None`
/// when there are more than [`MAX_TARGETS`].
pub fn visible_targets(conn: &Connection, access: &Access) -> Result<Option<Vec<RecordId>>> {
    let (vis, vis_args) = sql_visible(access, "r");
    let sql = format!(
        "SELECT r.record_id FROM records r WHERE r.kind = ? AND {vis}{} ORDER BY r.record_id LIMIT ?",
        condition(Archived::Exclude, "r.record_id")
    );
    let mut args = vec![Value::Text(RecordKind::Target.as_str().to_owned())];
    args.extend(vis_args);
    args.push(Value::Integer(
        i64::try_from(MAX_TARGETS + 1).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn.prepare(&sql)?;
    let ids: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(args), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.len() > MAX_TARGETS {
        return Ok(None);
    }
    Ok(Some(ids.iter().filter_map(|id| id.parse().ok()).collect()))
}
