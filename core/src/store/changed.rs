//! Which records changed, for whoever shows them (the SDK's listeners).
//!
//! Guarantees:
//! - **Every committed change is reported**, whatever made it: a local
//!   write, a batch, document or revocation from the server, a rebuild
//!   after a refusal, a process engine run. The set is filled where the
//!   index is refreshed (every change to a record's documents refreshes its
//!   index in the same transaction), and only once that transaction has
//!   committed: a failed call reports nothing.
//! - **Each record once per look**: it is a set, drained by
//!   [`Store::take_changed`]; a store nobody asks holds at most one id per
//!   record.

use crate::ids::RecordId;

use super::Store;

impl Store {
    /// The records whose content changed (created, edited, received,
    /// removed) since the last call, in id order, and forgets them.
    pub fn take_changed(&mut self) -> Vec<RecordId> {
        std::mem::take(&mut self.changed).into_iter().collect()
    }
}
