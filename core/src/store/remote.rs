//! What sync brings: applying changes and whole documents received from the
//! server, acknowledging our own changes, removing revoked records.
//!
//! A batch is applied in one transaction together with the cursor it
//! advances to: after a crash the device has either all of the batch and
//! the new cursor, or none of it and the old cursor, so a retry neither
//! loses nor duplicates anything.

use std::collections::BTreeSet;

use automerge::{Change, ChangeHash};
use rusqlite::TransactionBehavior;

use super::{Cursor, PendingChange, Store, docs, index, meta, outbox, quarantine, write};
use crate::document::ClassDoc;
use crate::error::{CoreError, Result};
use crate::ids::{DocId, RecordId};

/// Reason code for edits kept because their record or class was revoked.
const REVOKED: &str = "access_revoked";

/// One document's worth of data from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDoc {
    /// The document.
    pub doc: DocId,
    /// Its data.
    pub payload: RemotePayload,
}

/// The forms in which a document's data arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemotePayload {
    /// Raw Automerge changes, in dependency order.
    Changes(Vec<Vec<u8>>),
    /// A whole saved (compressed) document.
    Document(Vec<u8>),
    /// A new generation of the document (rewritten without a field that
    /// moved class): replaces the local copy; unacknowledged local edits are
    /// replayed on it or quarantined.
    Replace {
        /// The saved document.
        document: Vec<u8>,
        /// Changes after it.
        changes: Vec<Vec<u8>>,
    },
}

impl Store {
    /// Up to `max_count` unacknowledged local changes (at most about
    /// `max_bytes`), oldest first.
    pub fn pending(&self, max_count: usize, max_bytes: usize) -> Result<Vec<PendingChange>> {
        outbox::pending(&self.conn, max_count, max_bytes)
    }

    /// How many local changes await acknowledgement.
    pub fn outbox_len(&self) -> Result<usize> {
        outbox::len(&self.conn)
    }

    /// Marks changes as durably stored by the server; returns how many were pending.
    pub fn acknowledge(&mut self, acks: &[(DocId, ChangeHash)]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = outbox::acknowledge(&tx, acks)?;
        tx.commit()?;
        self.reclaim_space()?;
        Ok(n)
    }

    /// Gives free pages back to the file system once there are many (after a
    /// large outbox was acknowledged, or records were revoked).
    fn reclaim_space(&mut self) -> Result<()> {
        const FREE_PAGES: i64 = 256; // 1 MiB with 4 KiB pages
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if free > FREE_PAGES {
            self.incremental_vacuum()?;
        }
        Ok(())
    }

    /// Runs `PRAGMA incremental_vacuum` to completion (it frees one page
    /// per step, so it must be stepped until done).
    pub(super) fn incremental_vacuum(&mut self) -> Result<()> {
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// The sync cursor, if this device has synced before.
    pub fn cursor(&self) -> Result<Option<Cursor>> {
        match meta::get(&self.conn, meta::keys::CURSOR)? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| CoreError::Corrupt(format!("stored cursor: {e}"))),
        }
    }

    /// Forgets the sync cursor and asks the next sync to compare documents
    /// one by one (after the server's data did not fit this device's).
    pub fn reset_cursor(&mut self) -> Result<()> {
        meta::delete(&self.conn, meta::keys::CURSOR)?;
        meta::set(&self.conn, meta::keys::RESYNC, "1")
    }

    /// Whether the next sync must compare documents one by one.
    pub fn needs_resync(&self) -> Result<bool> {
        Ok(meta::get(&self.conn, meta::keys::RESYNC)?.is_some())
    }

    /// Applies a batch from the server and advances the cursor, atomically.
    /// Returns the records whose content changed.
    ///
    /// A new generation of a document ([`RemotePayload::Replace`]: a field
    /// moved class, or a contact was erased) leaves no trace of the old
    /// copy: after the commit the full-text index is merged and the WAL
    /// truncated, as when records are revoked.
    ///
    /// Fails with [`CoreError::Protocol`] (and changes nothing) if a change
    /// is malformed or depends on changes this device does not have.
    pub fn apply_remote(
        &mut self,
        batch: Vec<RemoteDoc>,
        cursor: Option<&Cursor>,
    ) -> Result<Vec<RecordId>> {
        let replaces = batch
            .iter()
            .any(|d| matches!(d.payload, RemotePayload::Replace { .. }));
        let changed = self.apply_remote_batch(batch, cursor)?;
        if replaces {
            self.scrub()?;
        }
        Ok(changed)
    }

    /// [`Store::apply_remote`]'s transaction.
    fn apply_remote_batch(
        &mut self,
        batch: Vec<RemoteDoc>,
        cursor: Option<&Cursor>,
    ) -> Result<Vec<RecordId>> {
        let cursor_json = cursor
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| CoreError::Corrupt(e.to_string()))?;
        self.in_write_tx(|ctx| {
            let changed = batch::apply(ctx, batch)?;
            if let Some(json) = &cursor_json {
                meta::set(ctx.conn, meta::keys::CURSOR, json)?;
                meta::delete(ctx.conn, meta::keys::RESYNC)?;
            }
            Ok(changed.into_iter().collect())
        })
    }

    /// Removes records this user may no longer see: their documents and
    /// index rows. Edits not yet acknowledged by the server are moved to the
    /// quarantine (code `access_revoked`) first, so nothing the user typed
    /// disappears silently; the quarantine keeps only what the user typed. Deleted pages are zeroed
    /// (`secure_delete`), the full-text index is merged so no deleted token
    /// lingers in an old segment, and the WAL is checkpointed and truncated.
    pub fn remove_records(&mut self, records: &[RecordId]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.in_write_tx(|ctx| {
            for record in records {
                for doc_id in docs::doc_ids_of(ctx.conn, record)? {
                    quarantine::keep_pending(ctx, &doc_id, REVOKED)?;
                    docs::delete(ctx.conn, &doc_id)?;
                    outbox::clear_doc(ctx.conn, &doc_id)?;
                    ctx.cache.forget(&doc_id);
                }
                index::remove(ctx.conn, record)?;
                ctx.changed.insert(record.clone());
            }
            Ok(())
        })?;
        self.scrub()
    }

    /// Removes single class documents the user may no longer read, and
    /// refreshes the index of their records from what remains.
    pub fn remove_docs(&mut self, doc_ids: &[DocId]) -> Result<()> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        self.in_write_tx(|ctx| {
            let mut records = BTreeSet::new();
            for doc_id in doc_ids {
                quarantine::keep_pending(ctx, doc_id, REVOKED)?;
                docs::delete(ctx.conn, doc_id)?;
                outbox::clear_doc(ctx.conn, doc_id)?;
                ctx.cache.forget(doc_id);
                records.insert(doc_id.record().clone());
            }
            write::refresh_all(ctx, &records)
        })?;
        self.scrub()
    }

    /// Merges the full-text index and truncates the WAL so that removed data
    /// leaves no readable trace in the files.
    fn scrub(&mut self) -> Result<()> {
        self.conn
            .execute("INSERT INTO search(search) VALUES ('optimize')", [])?;
        self.incremental_vacuum()?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Every document id stored here.
    pub fn doc_ids(&self) -> Result<Vec<DocId>> {
        let mut stmt = self
            .conn
            .prepare("SELECT doc_id FROM documents ORDER BY doc_id")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter().map(|s| s.parse()).collect()
    }

    /// Every record id stored here.
    pub fn record_ids(&self) -> Result<Vec<RecordId>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT record_id FROM documents ORDER BY record_id")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter().map(|s| s.parse()).collect()
    }

    /// Runs `f` on a stored document (for the per-document sync fallback and
    /// for tests). Changes `f` makes are *not* persisted.
    pub fn inspect_doc<T>(
        &mut self,
        id: &DocId,
        f: impl FnOnce(&mut ClassDoc) -> Result<T>,
    ) -> Result<Option<T>> {
        let result = docs::with_doc(&self.conn, &mut self.cache, id, &self.actor, f);
        // Never keep a copy that `f` may have altered.
        self.cache.forget(id);
        result
    }

    /// A whole saved (compressed) copy of a stored document, as sent to a
    /// device that has none of it.
    pub fn export_doc(&mut self, id: &DocId) -> Result<Option<Vec<u8>>> {
        docs::with_doc(&self.conn, &mut self.cache, id, &self.actor, |d| {
            Ok(d.save())
        })
    }

    /// Copies this store into a new file at `path` as an independent replica:
    /// same documents, index and outbox, but a new device id and actor, so
    /// the two can be edited concurrently and merged. For tests, demos and
    /// preparing a second device offline. Refuses to overwrite a file.
    pub fn fork_to(&self, path: &std::path::Path) -> Result<()> {
        if path.exists() {
            return Err(CoreError::Invalid(crate::error::ValidationError::record(
                format!("{} already exists", path.display()),
            )));
        }
        let target = path
            .to_str()
            .ok_or_else(|| CoreError::Corrupt(format!("{} is not valid UTF-8", path.display())))?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        let copy = rusqlite::Connection::open(path)?;
        meta::set(&copy, meta::keys::DEVICE_ID, &ulid::Ulid::new().to_string())?;
        meta::set(
            &copy,
            meta::keys::ACTOR,
            &automerge::ActorId::random().to_hex_string(),
        )?;
        meta::delete(&copy, meta::keys::CURSOR)?;
        Ok(())
    }

    /// Receives one step of Automerge's sync protocol for `doc` (compare
    /// mode), persisting what it brought; returns the records changed.
    ///
    /// Changes that arrive before their dependencies (the peer's Bloom
    /// filter took us for holding those) are never stored; they are kept in
    /// memory and fed again with every later message for `doc`, so the
    /// replies ask for the missing dependencies. (Dropped, they were lost
    /// for good: a peer sends a change once per exchange.) What waits is
    /// bounded ([`MAX_WAITING_BYTES`] per document): beyond it the message
    /// is refused with [`CoreError::Protocol`] and nothing is stored.
    pub fn receive_sync_message(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
        message: automerge::sync::Message,
    ) -> Result<Vec<RecordId>> {
        use automerge::sync::SyncDoc as _;
        let mut waiting = self.sync_waiting.remove(doc).unwrap_or_default();
        waiting.extend(message.changes.iter().map(<[u8]>::to_vec));
        if waiting.iter().map(Vec::len).sum::<usize>() > MAX_WAITING_BYTES {
            return Err(CoreError::Protocol(format!(
                "{doc}: more than {MAX_WAITING_BYTES} bytes of changes wait for changes the peer never sent"
            )));
        }
        let (records, complete) = self.in_write_tx(|ctx| {
            let (mut d, existed) = match docs::take(ctx.conn, ctx.cache, doc, ctx.actor)? {
                Some((_, d)) => (d, true),
                None => (ClassDoc::new(doc.clone(), ctx.actor.clone()), false),
            };
            let before = d.heads();
            for chunk in &waiting {
                // What still misses a dependency waits in Automerge's queue.
                let _ = d.automerge().load_incremental(chunk);
            }
            d.automerge()
                .sync()
                .receive_sync_message(state, message)
                .map_err(|e| CoreError::Protocol(format!("{doc}: {e}")))?;
            let complete = d.automerge().get_missing_deps(&[]).is_empty();
            let new: Vec<ChangeHash> = d
                .automerge()
                .get_changes(&before)
                .iter()
                .map(Change::hash)
                .collect();
            if new.is_empty() {
                return Ok((Vec::new(), complete));
            }
            let appended = if existed {
                batch::raw_changes(&mut d, &new)
            } else {
                Vec::new()
            };
            let rev = docs::persist(ctx.conn, &mut d, &appended, ctx.now.as_millisecond())?;
            if complete {
                ctx.cache.put(rev, d);
            }
            let records = BTreeSet::from([doc.record().clone()]);
            write::refresh_all(ctx, &records)?;
            Ok((records.into_iter().collect(), complete))
        })?;
        if !complete {
            self.sync_waiting.insert(doc.clone(), waiting);
        }
        Ok(records)
    }

    /// Generates the next step of Automerge's sync protocol for `doc`
    /// (`None` when this side has nothing more to say). Changes still
    /// waiting for a dependency count: the message asks for what they need.
    pub fn generate_sync_message(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
    ) -> Result<Option<automerge::sync::Message>> {
        use automerge::sync::SyncDoc as _;
        let waiting = self.sync_waiting.get(doc).cloned().unwrap_or_default();
        let found = match docs::take(&self.conn, &mut self.cache, doc, &self.actor)? {
            Some((rev, mut d)) => {
                for chunk in &waiting {
                    let _ = d.automerge().load_incremental(chunk);
                }
                let message = d.automerge().sync().generate_sync_message(state);
                if waiting.is_empty() {
                    self.cache.put(rev, d);
                }
                Some(message)
            }
            None => None,
        };
        match found {
            Some(message) => Ok(message),
            // A document we do not hold: an empty one still answers, so the
            // peer learns we need everything.
            None => Ok(automerge::AutoCommit::new()
                .sync()
                .generate_sync_message(state)),
        }
    }

    /// The heads of a stored document (empty if it is not stored).
    pub fn doc_heads(&mut self, id: &DocId) -> Result<Vec<ChangeHash>> {
        Ok(
            docs::with_doc(&self.conn, &mut self.cache, id, &self.actor, |d| {
                Ok(d.heads())
            })?
            .unwrap_or_default(),
        )
    }
}

/// At most this many bytes of changes wait, per document, for a dependency
/// in compare mode; a peer that sends more ends the exchange with an error
/// (the next connection compares again) instead of growing memory.
const MAX_WAITING_BYTES: usize = 32 << 20;

mod batch;

#[cfg(test)]
mod tests;
