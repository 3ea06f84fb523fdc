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
//!
//! Limits: an inventory message lists at most
//! [`MAX_INVENTORY_DOCS`] documents and a connection at most
//! `ServerConfig::compare_max_docs` (100,000 by default), beyond which the
//! connection is closed with `message_too_large`; compare mode lasts at most
//! `ServerConfig::compare_timeout` (10 minutes by default), then the connection
//! is closed with `compare_timeout`. An inventory is walked with a reader
//! connection: ids the server does not hold cost one indexed lookup and never
//! touch the writer, which is taken once per inventory message only to record
//! the documents the device now holds. Administrative events reach a connection
//! in compare mode as they reach a live one (see `super::admin`).
//!
//! Guarantees: compare mode ends (feed replayed from where it began,
//! `UpToDate`) once the last inventory message arrived and every document
//! exchange finished, or the connection is closed at its deadline.

use std::collections::{BTreeSet, HashMap};
use std::num::NonZeroUsize;

use fieldwork_core::automerge::sync::{self, SyncDoc as _};
use fieldwork_core::automerge::{AutoCommit, ChangeHash};
use fieldwork_core::change_limits;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::sync::protocol::{Inventory, Revoke, ServerMessage, SyncDoc, error_codes};
use fieldwork_core::{Access, DocId};
use lru::LruCache;
use serde_bytes::ByteBuf;

use super::catchup::Then;
use super::delivery::whole;
use super::unconfirmed;
use super::{Close, Open, Step, close};
use crate::db::{devices, documents};
use crate::sync::push::Incoming;
use crate::visibility::visible_among;

/// Most documents listed in one inventory message (devices send 1,000).
pub(super) const MAX_INVENTORY_DOCS: usize = 10_000;

/// Compare-mode progress of a connection.
pub(crate) struct Compare {
    /// Feed head when compare began: the feed is replayed from here after.
    started: u64,
    /// When compare mode must be over (the connection is closed then).
    pub(crate) deadline: tokio::time::Instant,
    /// Inventory entries received so far (bounded by `compare_max_docs`).
    listed: usize,
    /// Documents the device listed.
    seen: BTreeSet<String>,
    /// Whether the last inventory message arrived.
    inventory_done: bool,
    /// Per-document sync states still talking.
    syncing: HashMap<DocId, sync::State>,
}

/// What one inventory message means, decided with a reader.
#[derive(Default)]
struct InventoryPlan {
    /// Documents to revoke: the server has them and the user may not see them.
    revoked: Vec<String>,
    /// Documents whose sync exchange starts, with the first message.
    starts: Vec<(DocId, sync::State, Option<Vec<u8>>)>,
    /// Documents the device holds as the server does.
    same: Vec<String>,
    /// Rewritten documents the device holds an older history of, whole.
    replaced: Vec<fieldwork_core::sync::protocol::DocData>,
}

impl Open {
    pub(crate) fn begin_compare(&mut self) -> Step {
        let started = self.start_over()?;
        // Until compare completes and the device's cursor moves past the one
        // it said hello with, the server's record of its documents is not
        // confirmed: a compare cut short is compared again.
        let (device, confirm_at) = (self.device.as_str(), self.sent + 1);
        self.state
            .db
            .write_blocking(|w| unconfirmed::mark(&w.conn, device, confirm_at))?;
        self.compare = Some(Compare {
            started,
            deadline: tokio::time::Instant::now() + self.state.config.compare_timeout,
            listed: 0,
            seen: BTreeSet::new(),
            inventory_done: false,
            syncing: HashMap::new(),
        });
        Ok(())
    }

    /// Handles one inventory message: checks it may come and fits the
    /// limits, plans each listed document with a reader, records what the
    /// device holds, then sends whole replacements, revocations and the
    /// first message of each document exchange, in that order.
    pub(crate) fn on_inventory(&mut self, inventory: Inventory) -> Step {
        let listed = self.admit_inventory(inventory)?;
        let (access, actor) = (self.access.clone(), self.state.actor.clone());
        // Decide per document with a reader: the writer is not held while
        // the inventory is walked.
        let plan = self
            .state
            .db
            .read_blocking(move |conn| plan_inventory(conn, &access, &actor, listed))?;
        self.record_held(&plan)?;
        if !plan.replaced.is_empty() {
            self.send_batches(plan.replaced, None, None);
        }
        self.revoke_listed(plan.revoked);
        self.start_exchanges(plan.starts);
        self.finish_compare_if_done()
    }

    /// Refuses an inventory outside compare mode, after the last one, or
    /// beyond [`MAX_INVENTORY_DOCS`] / `compare_max_docs`; counts it, notes
    /// whether it is the last, and parses its entries (each listed document
    /// is marked seen). Closes the connection on a malformed id or heads.
    fn admit_inventory(
        &mut self,
        inventory: Inventory,
    ) -> Result<Vec<(DocId, Vec<ChangeHash>)>, Close> {
        let max_docs = self.state.config.compare_max_docs;
        let Some(compare) = self.compare.as_mut() else {
            return Err(close(
                error_codes::UNEXPECTED_MESSAGE,
                "inventory outside compare mode",
            ));
        };
        if compare.inventory_done {
            return Err(close(
                error_codes::UNEXPECTED_MESSAGE,
                "inventory after the last one",
            ));
        }
        if inventory.docs.len() > MAX_INVENTORY_DOCS {
            return Err(close(
                error_codes::MESSAGE_TOO_LARGE,
                format!(
                    "an inventory message may list at most {MAX_INVENTORY_DOCS} documents; this one lists {}",
                    inventory.docs.len()
                ),
            ));
        }
        compare.listed = compare.listed.saturating_add(inventory.docs.len());
        if compare.listed > max_docs {
            return Err(close(
                error_codes::MESSAGE_TOO_LARGE,
                format!("compare mode may list at most {max_docs} documents per session"),
            ));
        }
        compare.inventory_done = inventory.done;
        parse_inventory(compare, inventory)
    }

    /// Records, in one short write, the documents the device now holds as
    /// the server does (same heads, or replaced whole).
    fn record_held(&mut self, plan: &InventoryPlan) -> Step {
        let mut held = plan.same.clone();
        held.extend(plan.replaced.iter().map(|d| d.doc.clone()));
        if !held.is_empty() {
            let device = self.device.clone();
            self.state
                .db
                .write_blocking(move |w| devices::hold(&w.conn, &device, &held))?;
        }
        Ok(())
    }

    /// Revokes listed documents the user may not see (nothing when none).
    fn revoke_listed(&mut self, revoked: Vec<String>) {
        if revoked.is_empty() {
            return;
        }
        // Revoked documents are no longer the device's: if they become
        // visible before compare ends, they are sent whole then.
        if let Some(c) = self.compare.as_mut() {
            for doc in &revoked {
                c.seen.remove(doc);
            }
        }
        self.send(ServerMessage::Revoke(Revoke {
            records: Vec::new(),
            docs: revoked,
        }));
    }

    /// Keeps the sync state of each document whose exchange starts and
    /// sends its first message.
    fn start_exchanges(&mut self, starts: Vec<(DocId, sync::State, Option<Vec<u8>>)>) {
        let mut asks = Vec::with_capacity(starts.len());
        for (doc, state, message) in starts {
            asks.push(ServerMessage::SyncDoc(SyncDoc {
                doc: doc.to_string(),
                message: message.map(ByteBuf::from),
            }));
            if let Some(c) = self.compare.as_mut() {
                c.syncing.insert(doc, state);
            }
        }
        for ask in asks {
            self.send(ask);
        }
    }

    /// The user's rights changed during compare mode: revoke what the
    /// device holds or is comparing and may no longer see. (What became
    /// visible is sent when compare ends, under the rights in force then.)
    pub(crate) fn revoke_in_compare(&mut self) -> Step {
        let (access, device) = (self.access.clone(), self.device.clone());
        let syncing: Vec<DocId> = self
            .compare
            .as_ref()
            .map(|c| c.syncing.keys().cloned().collect())
            .unwrap_or_default();
        let (held_gone, syncing_gone) = self.state.db.read_blocking(move |conn| {
            let held: Vec<DocId> = devices::held(conn, &device)?
                .iter()
                .filter_map(|d| d.parse().ok())
                .collect();
            Ok((
                invisible(conn, &access, &held)?,
                invisible(conn, &access, &syncing)?,
            ))
        })?;
        if held_gone.is_empty() && syncing_gone.is_empty() {
            return Ok(());
        }
        if !held_gone.is_empty() {
            let (device, release) = (self.device.clone(), held_gone.clone());
            self.state
                .db
                .write_blocking(move |w| devices::release(&w.conn, &device, &release))?;
        }
        if let Some(c) = self.compare.as_mut() {
            for doc in &syncing_gone {
                if let Ok(id) = doc.parse::<DocId>() {
                    c.syncing.remove(&id);
                }
            }
            for doc in held_gone.iter().chain(&syncing_gone) {
                c.seen.remove(doc);
            }
        }
        // End the device's exchanges for the documents it may no longer see
        // first: it would otherwise wait for them forever (found by the
        // in-memory test network: the device never settled).
        for doc in &syncing_gone {
            self.send(ServerMessage::SyncDoc(SyncDoc {
                doc: doc.clone(),
                message: None,
            }));
        }
        let mut docs = held_gone;
        docs.extend(syncing_gone);
        self.send(ServerMessage::Revoke(Revoke {
            records: Vec::new(),
            docs,
        }));
        self.finish_compare_if_done()
    }

    /// One round of a document's sync exchange: the changes the device
    /// offers go through the push checks (stripped from the message before
    /// Automerge sees it), then the server answers, or ends the exchange
    /// when the round brought nothing newly accepted and it has nothing to
    /// send.
    pub(crate) fn on_sync_doc(&mut self, message: SyncDoc) -> Step {
        let Some((doc, state, decoded)) = self.open_sync_round(&message)? else {
            return Ok(());
        };
        // Changes the device offers go through the push checks.
        let mut progress = false;
        if let Some(m) = &decoded
            && !m.changes.is_empty()
        {
            let offered = self.offered_changes(&doc, m)?;
            if !offered.is_empty() {
                progress = !self.push_changes(offered)?.events.is_empty();
            }
        }
        let (state_back, reply) = self.sync_reply(&doc, state, decoded)?;
        // The server has the device's `have` now: when a round brought no
        // newly accepted change and we have no change to send, the device
        // holds everything we have and offered everything we will accept.
        let carries_changes = reply.as_ref().is_some_and(|r| !r.changes.is_empty());
        let finished = reply.is_none() || (!progress && !carries_changes);
        if finished {
            self.end_exchange(&doc)?;
        } else {
            if let Some(c) = self.compare.as_mut() {
                c.syncing.insert(doc.clone(), state_back);
            }
            let reply = reply.map(|r| ByteBuf::from(r.encode()));
            self.send(ServerMessage::SyncDoc(SyncDoc {
                doc: doc.to_string(),
                message: reply,
            }));
        }
        self.finish_compare_if_done()
    }

    /// Refuses a sync message outside compare mode or for a malformed id;
    /// takes the document's sync state (`None`: its exchange already
    /// finished, nothing to do) and decodes the message (closing the
    /// connection when it is malformed).
    fn open_sync_round(
        &mut self,
        message: &SyncDoc,
    ) -> Result<Option<(DocId, sync::State, Option<sync::Message>)>, Close> {
        let Some(compare) = self.compare.as_mut() else {
            return Err(close(
                error_codes::UNEXPECTED_MESSAGE,
                "sync outside compare mode",
            ));
        };
        let doc: DocId = message.doc.parse().map_err(|_| {
            close(
                error_codes::MALFORMED_MESSAGE,
                format!("`{}` is not a document id", message.doc),
            )
        })?;
        let Some(state) = compare.syncing.remove(&doc) else {
            // Already finished (a reply crossed our final message): nothing to do.
            return Ok(None);
        };
        let decoded = match &message.message {
            Some(bytes) => Some(sync::Message::decode(bytes).map_err(|e| {
                close(
                    error_codes::MALFORMED_MESSAGE,
                    format!("{doc}: malformed sync message: {e}"),
                )
            })?),
            None => None,
        };
        Ok(Some((doc, state, decoded)))
    }

    /// With the writer: lets Automerge receive the device's message with its
    /// changes stripped (they were pushed already), and generates the reply
    /// from the document as stored (an empty one when the server has none).
    fn sync_reply(
        &self,
        doc: &DocId,
        mut state: sync::State,
        decoded: Option<sync::Message>,
    ) -> Result<(sync::State, Option<sync::Message>), Close> {
        let actor = self.state.actor.clone();
        let doc = doc.clone();
        Ok(self.state.db.write_blocking(move |w| {
            let mut fallback;
            let loaded: &mut ClassDoc = match documents::load(&w.conn, &mut w.cache, &doc, &actor)?
            {
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
        })?)
    }

    /// Ends a document's exchange: records that the device holds it, and
    /// sends the final `SyncDoc{message: None}`.
    fn end_exchange(&mut self, doc: &DocId) -> Step {
        let (device, text) = (self.device.clone(), doc.to_string());
        self.state
            .db
            .write_blocking(move |w| devices::hold(&w.conn, &device, &[text]))?;
        self.send(ServerMessage::SyncDoc(SyncDoc {
            doc: doc.to_string(),
            message: None,
        }));
        Ok(())
    }

    /// The individual changes inside a device's sync message that the server
    /// does not have yet, in an order that respects their dependencies.
    /// Worked out with a reader on a scratch copy, never on the writer.
    /// Compressed change chunks, bundles and change chunks beyond
    /// [`change_limits`] are dropped unread (Automerge's sync protocol sends
    /// changes uncompressed); documents (sent by Automerge when a peer lacks
    /// much) are loaded only within [`change_limits::check_document`].
    fn offered_changes(
        &mut self,
        doc: &DocId,
        message: &sync::Message,
    ) -> Result<Vec<Incoming>, Close> {
        // Checked inside the step (on the blocking pool, never on an async
        // task): each chunk costs a hash and a bounded inflation.
        let offered: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
        let (doc, actor) = (doc.clone(), self.state.actor.clone());
        Ok(self.state.db.read_blocking(move |conn| {
            let chunks: Vec<Vec<u8>> = offered
                .into_iter()
                .filter(|bytes| acceptable_chunks(bytes))
                .collect();
            let mut cache = scratch_cache();
            let (mut probe, heads) = match documents::load(conn, &mut cache, &doc, &actor)? {
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
                .map(|c| Incoming::new(doc.to_string(), c.raw_bytes().to_vec()))
                .collect())
        })?)
    }

    fn finish_compare_if_done(&mut self) -> Step {
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
        // The feed resumes where compare began (set first: what is sent
        // now is confirmed by a cursor beyond it).
        self.sent = compare.started;
        self.begin_download(compare.seen, Then::GoLive);
        Ok(())
    }
}

/// A one-document cache for loading documents with a reader.
fn scratch_cache() -> LruCache<DocId, ClassDoc> {
    LruCache::new(NonZeroUsize::MIN)
}

/// Whether a sync message's chunk list entry holds only chunks worth
/// loading: documents and change chunks within [`change_limits`].
fn acceptable_chunks(bytes: &[u8]) -> bool {
    // Change chunks pass `check_raw` (which also refuses operation counters
    // past 2^32 - 1, a panic inside Automerge); documents pass
    // `check_document` (bounded inflation, operations and changes; see the
    // limits in docs/PROTOCOL.md) and are then loaded on a reader thread.
    change_limits::split_chunks(bytes).is_some_and(|chunks| {
        chunks.iter().all(|(kind, chunk)| match kind {
            0 => change_limits::check_document(chunk).is_ok(),
            1 => change_limits::check_raw(chunk).is_ok(),
            _ => false,
        })
    })
}

/// The entries of an inventory message as document ids and heads, each
/// marked seen in `compare`; a malformed id or heads closes the connection.
fn parse_inventory(
    compare: &mut Compare,
    inventory: Inventory,
) -> Result<Vec<(DocId, Vec<ChangeHash>)>, Close> {
    let mut listed = Vec::new();
    for entry in inventory.docs {
        let id: DocId = entry.doc.parse().map_err(|_| {
            close(
                error_codes::MALFORMED_MESSAGE,
                format!("`{}` is not a document id", entry.doc),
            )
        })?;
        let heads: Vec<ChangeHash> = entry
            .heads
            .iter()
            .map(|h| ChangeHash::try_from(h.as_slice()))
            .collect::<Result<_, _>>()
            .map_err(|_| close(error_codes::MALFORMED_MESSAGE, "malformed heads"))?;
        compare.seen.insert(entry.doc.clone());
        listed.push((id, heads));
    }
    Ok(listed)
}

/// Decides what one inventory message means (see [`Open::on_inventory`]).
fn plan_inventory(
    conn: &rusqlite::Connection,
    access: &Access,
    actor: &fieldwork_core::automerge::ActorId,
    listed: Vec<(DocId, Vec<ChangeHash>)>,
) -> crate::error::Result<InventoryPlan> {
    let mut plan = InventoryPlan::default();
    // Ids the server does not hold are the device's own unsynced work: ask
    // for them, after one indexed lookup each (no facts, no loading).
    // The first message from an empty document is the same for every such
    // id: made once.
    let mut empty = AutoCommit::new();
    let mut ask_state = sync::State::new();
    let ask = empty
        .sync()
        .generate_sync_message(&mut ask_state)
        .map(|m| m.encode());
    let mut known = Vec::with_capacity(listed.len());
    for (doc, _) in &listed {
        known.push(documents::exists(conn, &doc.to_string())?);
    }
    let stored: Vec<String> = listed
        .iter()
        .zip(&known)
        .filter(|(_, known)| **known)
        .map(|((d, _), _)| d.to_string())
        .collect();
    let visible = visible_among(conn, access, &stored)?;
    let mut cache = scratch_cache();
    let mut replaced = Vec::new();
    // In the order listed: the order exchanges start in is the order the
    // device's re-uploaded changes reach the feed.
    for ((doc, heads), known) in listed.into_iter().zip(known) {
        if !known {
            plan.starts.push((doc, ask_state.clone(), ask.clone()));
            continue;
        }
        let text = doc.to_string();
        if !visible.contains(&text) {
            plan.revoked.push(text);
            continue;
        }
        let rewritten = documents::generation(conn, &text)? > 0;
        let mut state = sync::State::new();
        let message = match documents::load(conn, &mut cache, &doc, actor)? {
            Some(loaded) => {
                if loaded.heads() == heads {
                    plan.same.push(text);
                    continue;
                }
                // A rewritten document the device holds an older history
                // of: replace its copy, never merge.
                let unknown = heads
                    .iter()
                    .any(|h| loaded.automerge().get_change_meta_by_hash(h).is_none());
                if rewritten && unknown {
                    replaced.push(text);
                    continue;
                }
                loaded.automerge().sync().generate_sync_message(&mut state)
            }
            None => empty.sync().generate_sync_message(&mut state),
        };
        plan.starts.push((doc, state, message.map(|m| m.encode())));
    }
    for doc in &replaced {
        plan.replaced.extend(whole(conn, doc, true)?);
    }
    Ok(plan)
}

/// Those of `docs` the server holds and `access` may not see.
fn invisible(
    conn: &rusqlite::Connection,
    access: &Access,
    docs: &[DocId],
) -> crate::error::Result<Vec<String>> {
    let mut stored = Vec::with_capacity(docs.len());
    for doc in docs {
        let text = doc.to_string();
        if documents::exists(conn, &text)? {
            stored.push(text);
        }
    }
    let visible = visible_among(conn, access, &stored)?;
    Ok(stored
        .into_iter()
        .filter(|d| !visible.contains(d))
        .collect())
}
