//! The targets this device holds, read for the targets report.
//!
//! Guarantees: only unarchived target records are read, as their index
//! rows hold them (`target_spec`: [`Target::of`] of the record its user
//! may read, written with every write of it; rows written before the
//! column existed are filled first); a target that is incomplete or not
//! readable as a whole has none and is left out, never guessed. A column
//! this build cannot read is ignored and the target read from its
//! documents ([`Store::get`]).

use super::Store;
use crate::error::Result;
use crate::ids::{RecordId, RecordKind};
use crate::report::Target;

impl Store {
    /// Every complete, unarchived target on this device, in id order.
    pub fn targets(&mut self) -> Result<Vec<Target>> {
        self.fill_report_columns()?;
        let rows: Vec<(String, Option<String>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT record_id, target_spec FROM records
                  WHERE kind = ?1 AND archived = 0 ORDER BY record_id",
            )?;
            let rows = stmt.query_map([RecordKind::Target.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, spec) in rows {
            let (Ok(id), Some(spec)) = (id.parse::<RecordId>(), spec) else {
                continue;
            };
            match serde_json::from_str::<Target>(&spec) {
                Ok(t) if t.id == id => out.push(t),
                _ => out.extend(Target::of(&self.get(&id)?)),
            }
        }
        Ok(out)
    }
}
