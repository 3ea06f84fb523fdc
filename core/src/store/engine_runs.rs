//! When the process engine runs on a device: decided here, and nowhere
//! else on the device (the CLI, the SDK and the bindings never start it).
//!
//! Guarantees:
//! - **After every committed local write** of a record ([`Store::create`],
//!   [`Store::update`], [`Store::import`], [`Store::create_with_id`]) its
//!   triggers fire and the instance an activity belongs to advances, at
//!   once, offline (a deal marked won in a basement starts its follow-up
//!   before the phone is online).
//! - **When the store opens**, due timers run, and so does every active
//!   instance (one a sync brought and that never ran here included).
//! - **When the device has caught up with the server**
//!   ([`Store::up_to_date`]), the instances a sync touched and due timers
//!   run, on complete data: never halfway through a catch-up, so a step
//!   never decides on a record whose documents are still on their way.
//! - **The engine never fails the write or the sync that ran it**: what it
//!   could not do is kept for [`Store::engine_problems`]; the write is
//!   already committed.
//! - Engine writes never fire triggers themselves, so processes cannot set
//!   each other off in a loop; the records they create or change are
//!   announced like any other change ([`Store::take_changed`]).
//!
//! [`Store::run_processes`] stays for an explicit user action (the CLI's
//! `process run`).

use jiff::Timestamp;
use rusqlite::OptionalExtension;

use super::processes::truncate_to_second;
use super::{Cursor, Store};
use crate::error::Result;
use crate::ids::{RecordId, RecordKind};
use crate::process::runner::{self, ProcessHost};
use crate::record::Record;

impl Store {
    /// A store just opened: due timers and active instances run (problems
    /// are kept, never a failure to open).
    pub(super) fn opened(mut self) -> Store {
        self.run_engine("opening the store");
        self
    }

    /// Records that the device now holds everything the server had for it
    /// up to `cursor` (the server's `up_to_date`), in one transaction, then
    /// runs the instances the sync touched and due timers (see the module).
    /// Their writes go to the outbox and to [`Store::take_changed`] like a
    /// user's.
    pub fn up_to_date(&mut self, cursor: &Cursor) -> Result<()> {
        self.apply_remote(Vec::new(), Some(cursor))?;
        self.run_engine("after a sync");
        Ok(())
    }

    /// Runs due timers and active instances, keeping any problem.
    fn run_engine(&mut self, when: &str) {
        if let Err(e) = self.run_processes() {
            self.engine_problems.push(format!("{when}: {e}"));
        }
    }

    /// Runs the engine after a local write of `id` (which was `before`):
    /// fires triggers and advances the instance an activity belongs to.
    /// Problems are kept in [`Store::engine_problems`], never turned into a
    /// failure of the user's write, which is already saved.
    pub(crate) fn after_write(&mut self, id: &RecordId, before: Option<Record>) {
        let run = |store: &mut Store| -> Result<()> {
            if store.models()?.is_empty() && id.kind() != RecordKind::Activity {
                return Ok(());
            }
            let Some(after) = ProcessHost::record(store, id)? else {
                return Ok(());
            };
            let at = store
                .last_change_time(id)?
                .unwrap_or_else(|| ProcessHost::now(store));
            runner::on_write(store, before.as_ref(), &after, at)?;
            Ok(())
        };
        if let Err(e) = run(self) {
            self.engine_problems.push(format!("{id}: {e}"));
        }
    }

    /// Whether the engine needs the record as it was before a write of `id`.
    pub(crate) fn wants_before(&mut self, id: &RecordId) -> Option<Record> {
        let has_models = self.models().map(|m| !m.is_empty()).unwrap_or(false);
        if has_models {
            ProcessHost::record(self, id).ok().flatten()
        } else {
            None
        }
    }

    /// The time of the record's latest local change (what triggers use, so
    /// that the server, seeing the same change, derives the same instance).
    fn last_change_time(&mut self, id: &RecordId) -> Result<Option<Timestamp>> {
        let secs: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(created_at) FROM outbox WHERE doc_id LIKE ?1 || '/%'",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(secs
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .map(truncate_to_second))
    }

    /// Problems the engine met since the last call (and clears them): after
    /// writes, on opening, after a sync.
    pub fn engine_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.engine_problems)
    }

    /// Runs every due timer and every active instance now (a user's
    /// explicit request; the store already runs them at the moments the
    /// module lists). Returns how many instances ran.
    pub fn run_processes(&mut self) -> Result<usize> {
        Ok(runner::run_due(self)? + runner::run_active(self)?)
    }
}
