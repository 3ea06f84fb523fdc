//! The targets this device holds, read for the targets report.
//!
//! Guarantees: only unarchived target records are read, each through the
//! documents its user may read ([`Store::get`]); a target that is
//! incomplete or not readable as a whole ([`Target::of`]) is left out,
//! never guessed. Targets are few (a handful per person), so they are read
//! from their documents rather than from index columns.

use super::Store;
use crate::error::Result;
use crate::ids::{RecordId, RecordKind};
use crate::report::Target;

impl Store {
    /// Every complete, unarchived target on this device.
    pub fn targets(&mut self) -> Result<Vec<Target>> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT record_id FROM records WHERE kind = ?1 AND archived = 0 ORDER BY record_id",
            )?;
            let rows = stmt.query_map([RecordKind::Target.as_str()], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            let Ok(id) = id.parse::<RecordId>() else {
                continue;
            };
            if let Some(target) = Target::of(&self.get(&id)?) {
                out.push(target);
            }
        }
        Ok(out)
    }
}
