//! Compare mode: when a device's cursor cannot be trusted (the server was
//! restored from a backup, the device store was rebuilt), documents are
//! compared one by one.
//!
//! 1. The device lists its documents and their heads (`Inventory`).
//! 2. For each listed document the device may see: equal heads need nothing;
//!    different heads start Automerge's own sync protocol for that document
//!    (`SyncDoc` back and forth). Because the server may refuse changes the
//!    device offers (another user's, say), Automerge's own ending (equal
//!    heads) may never come: the server ends a document's exchange with a
//!    final `SyncDoc{message: None}` once a round brought no newly accepted
//!    change and it has no change left to send. Documents the device may not
//!    see are revoked.
//! 3. Visible documents the device did not list are sent whole.
//! 4. Then the feed from where compare began, `UpToDate`, and live changes.
//!
//! Changes a device offers inside sync messages go through exactly the same
//! checks as pushed changes (so a device can re-upload its own changes a
//! restored server lost, and nothing else); they are stripped from the
//! message before Automerge sees it.

use std::collections::{BTreeSet, HashMap};

use fieldwork_core::DocId;
use fieldwork_core::automerge::sync::{self, SyncDoc as _};
use fieldwork_core::automerge::{AutoCommit, ChangeHash};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::sync::protocol::{Inventory, Revoke, ServerMessage, SyncDoc, error_codes};
use serde_bytes::ByteBuf;

use super::session::{Fatal, Session, fatal};
use crate::db::{devices, feed};
use crate::visibility::doc_visible;

/// Compare-mode progress of a session.
#[derive(Default)]
pub(crate) struct Compare {
    /// Feed head when compare began: the feed is replayed from here after.
    started: u64,
    /// Documents the device listed.
    seen: BTreeSet<String>,
    /// Whether the last inventory message arrived.
    inventory_done: bool,
    /// Per-document sync states still talking.
    syncing: HashMap<DocId, sync::State>,
}

impl Session {
    pub(crate) async fn begin_compare(&mut self) -> Result<(), Fatal> {
        let started = self.start_over().await?;
        self.compare = Some(Compare {
            started,
            ..Default::default()
        });
        Ok(())
    }

    pub(crate) async fn on_inventory(&mut self, inventory: Inventory) -> Result<(), Fatal> {
        let Some(compare) = self.compare.as_mut() else {
            return Err(fatal(
                error_codes::UNEXPECTED_MESSAGE,
                "inventory outside compare mode",
            ));
        };
        if compare.inventory_done {
            return Err(fatal(
                error_codes::UNEXPECTED_MESSAGE,
                "inventory after the last one",
            ));
        }
        compare.inventory_done = inventory.done;
        let (access, device, actor) = (
            self.access.clone(),
            self.device.clone(),
            self.state.actor.clone(),
        );
        let mut listed = Vec::new();
        for entry in inventory.docs {
            let id: DocId = entry.doc.parse().map_err(|_| {
                fatal(
                    error_codes::MALFORMED_MESSAGE,
                    format!("`{}` is not a document id", entry.doc),
                )
            })?;
            let heads: Vec<ChangeHash> = entry
                .heads
                .iter()
                .map(|h| ChangeHash::try_from(h.as_slice()))
                .collect::<Result<_, _>>()
                .map_err(|_| fatal(error_codes::MALFORMED_MESSAGE, "malformed heads"))?;
            compare.seen.insert(entry.doc.clone());
            listed.push((id, heads));
        }
        // Decide per document on the writer (it holds the loaded documents).
        let (revoked, starts, replaced) = self
            .state
            .db
            .write(move |w| {
                let records: Vec<String> =
                    listed.iter().map(|(d, _)| d.record().to_string()).collect();
                let facts = feed::facts(&w.conn, &records)?;
                let mut revoked = Vec::new();
                let mut starts = Vec::new();
                let mut same = Vec::new();
                let mut replaced = Vec::new();
                for (doc, heads) in listed {
                    let record = doc.record().to_string();
                    let known = feed::exists(&w.conn, &doc.to_string())?;
                    // A document the server does not know is the device's own
                    // unsynced work: never revoke it, ask for it.
                    if known && !doc_visible(&access, &doc, facts.get(&record)) {
                        revoked.push(doc.to_string());
                        continue;
                    }
                    let rewritten = feed::generation(&w.conn, &doc.to_string())? > 0;
                    let mut state = sync::State::new();
                    let message = match feed::load(&w.conn, &mut w.cache, &doc, &actor)? {
                        Some(loaded) => {
                            if loaded.heads() == heads {
                                same.push(doc.to_string());
                                continue;
                            }
                            // A rewritten document the device holds an older
                            // history of: replace its copy, never merge.
                            let unknown = heads
                                .iter()
                                .any(|h| loaded.automerge().get_change_meta_by_hash(h).is_none());
                            if rewritten && unknown {
                                replaced.push(doc.to_string());
                                continue;
                            }
                            loaded.automerge().sync().generate_sync_message(&mut state)
                        }
                        // The device has a document the server lost: ask for it.
                        None => AutoCommit::new().sync().generate_sync_message(&mut state),
                    };
                    starts.push((doc, state, message.map(|m| m.encode())));
                }
                devices::hold(&w.conn, &device, &same)?;
                let mut wholes = Vec::new();
                for doc in &replaced {
                    wholes.extend(super::catchup::whole(&w.conn, doc, true)?);
                }
                devices::hold(&w.conn, &device, &replaced)?;
                Ok((revoked, starts, wholes))
            })
            .await?;
        if !replaced.is_empty() {
            self.send_batches(replaced, None, None).await?;
        }
        if !revoked.is_empty() {
            self.send(ServerMessage::Revoke(Revoke {
                records: Vec::new(),
                docs: revoked,
            }))
            .await?;
        }
        for (doc, state, message) in starts {
            let text = doc.to_string();
            if let Some(c) = self.compare.as_mut() {
                c.syncing.insert(doc, state);
            }
            self.send(ServerMessage::SyncDoc(SyncDoc {
                doc: text,
                message: message.map(ByteBuf::from),
            }))
            .await?;
        }
        self.finish_compare_if_done().await
    }

    pub(crate) async fn on_sync_doc(&mut self, message: SyncDoc) -> Result<(), Fatal> {
        let Some(compare) = self.compare.as_mut() else {
            return Err(fatal(
                error_codes::UNEXPECTED_MESSAGE,
                "sync outside compare mode",
            ));
        };
        let doc: DocId = message.doc.parse().map_err(|_| {
            fatal(
                error_codes::MALFORMED_MESSAGE,
                format!("`{}` is not a document id", message.doc),
            )
        })?;
        let Some(mut state) = compare.syncing.remove(&doc) else {
            // Already finished (a reply crossed our final message): nothing to do.
            return Ok(());
        };
        let decoded = match &message.message {
            Some(bytes) => Some(sync::Message::decode(bytes).map_err(|e| {
                fatal(
                    error_codes::MALFORMED_MESSAGE,
                    format!("{doc}: malformed sync message: {e}"),
                )
            })?),
            None => None,
        };
        // Changes the device offers go through the push checks.
        let mut progress = false;
        if let Some(m) = &decoded
            && !m.changes.is_empty()
        {
            let offered = self.offered_changes(&doc, m).await?;
            if !offered.is_empty() {
                progress = !self.push_changes(offered).await?.events.is_empty();
            }
        }
        let (state_back, reply) = {
            let actor = self.state.actor.clone();
            let doc = doc.clone();
            self.state
                .db
                .write(move |w| {
                    let mut fallback;
                    let loaded: &mut ClassDoc =
                        match feed::load(&w.conn, &mut w.cache, &doc, &actor)? {
                            Some(l) => l,
                            None => {
                                fallback = ClassDoc::new(doc.clone(), actor.clone());
                                &mut fallback
                            }
                        };
                    if let Some(mut m) = decoded {
                        m.changes = sync::ChunkList::empty();
                        loaded
                            .automerge()
                            .sync()
                            .receive_sync_message(&mut state, m)
                            .map_err(|e| crate::error::ServerError::Invalid(e.to_string()))?;
                    }
                    let reply = loaded.automerge().sync().generate_sync_message(&mut state);
                    Ok((state, reply))
                })
                .await?
        };
        // The server has the device's `have` now: when a round brought no
        // newly accepted change and we have no change to send, the device
        // holds everything we have and offered everything we will accept.
        let carries_changes = reply.as_ref().is_some_and(|r| !r.changes.is_empty());
        let finished = reply.is_none() || (!progress && !carries_changes);
        if finished {
            let (device, text) = (self.device.clone(), doc.to_string());
            self.state
                .db
                .write(move |w| devices::hold(&w.conn, &device, &[text]))
                .await?;
            self.send(ServerMessage::SyncDoc(SyncDoc {
                doc: doc.to_string(),
                message: None,
            }))
            .await?;
        } else {
            if let Some(c) = self.compare.as_mut() {
                c.syncing.insert(doc.clone(), state_back);
            }
            let reply = reply.map(|r| ByteBuf::from(r.encode()));
            self.send(ServerMessage::SyncDoc(SyncDoc {
                doc: doc.to_string(),
                message: reply,
            }))
            .await?;
        }
        self.finish_compare_if_done().await
    }

    /// The individual changes inside a device's sync message that the server
    /// does not have yet, in an order that respects their dependencies.
    async fn offered_changes(
        &mut self,
        doc: &DocId,
        message: &sync::Message,
    ) -> Result<Vec<(String, Vec<u8>)>, Fatal> {
        let chunks: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
        let (doc, actor) = (doc.clone(), self.state.actor.clone());
        Ok(self
            .state
            .db
            .write(move |w| {
                let (mut probe, heads) = match feed::load(&w.conn, &mut w.cache, &doc, &actor)? {
                    Some(loaded) => {
                        let heads = loaded.heads();
                        (loaded.automerge().fork(), heads)
                    }
                    None => (AutoCommit::new(), Vec::new()),
                };
                for chunk in &chunks {
                    // A chunk that does not load is simply not accepted.
                    let _ = probe.load_incremental(chunk);
                }
                Ok(probe
                    .get_changes(&heads)
                    .into_iter()
                    .map(|c| (doc.to_string(), c.raw_bytes().to_vec()))
                    .collect())
            })
            .await?)
    }

    async fn finish_compare_if_done(&mut self) -> Result<(), Fatal> {
        let done = self
            .compare
            .as_ref()
            .is_some_and(|c| c.inventory_done && c.syncing.is_empty());
        if !done {
            return Ok(());
        }
        let Some(compare) = self.compare.take() else {
            return Ok(());
        };
        self.send_all_visible(&compare.seen).await?;
        self.sent = compare.started;
        self.go_live().await
    }
}
