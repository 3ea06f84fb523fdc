//! Giving space back: every document saved whole again, freed pages
//! returned to the file system, the WAL emptied.
//!
//! Guarantees: compaction changes no document's content (a save of the same
//! Automerge history), runs one transaction per document so a crash leaves
//! each either as it was or compacted, and is safe to run at any time a
//! write could run.

use rusqlite::TransactionBehavior;

use super::{Store, docs};
use crate::error::Result;
use crate::ids::DocId;

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Documents that had change chunks and were saved whole.
    pub documents: u64,
}

impl Store {
    /// Saves every document that has change chunks as one snapshot, returns
    /// the freed pages to the file system and truncates the WAL: for a
    /// storage screen's "free space" button or after a big sync. The store
    /// does the cheap part of this by itself as it goes (documents every 32
    /// writes, free pages after a sync).
    pub fn compact(&mut self) -> Result<Compaction> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT doc_id FROM documents WHERE chunk_count > 0")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut done = Compaction::default();
        let now_ms = self.clock.now().as_millisecond();
        for id in ids {
            let Ok(id) = id.parse::<DocId>() else {
                continue;
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some((_, mut doc)) = docs::take(&tx, &mut self.cache, &id, &self.actor)? {
                // Empty `appended`: a whole save.
                docs::persist(&tx, &mut doc, &[], now_ms)?;
                tx.commit()?;
                // The rev moved on: the cache reloads it when next read.
                self.cache.forget(&id);
                done.documents += 1;
            }
        }
        self.incremental_vacuum()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(done)
    }
}
