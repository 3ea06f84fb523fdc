//! The device side of the sync protocol as a state machine.
//!
//! [`SyncClient::handle`] takes one [`Event`] (connected, a message arrived,
//! local changes were made, disconnected) and returns [`Effect`]s: messages
//! to send, status changes, records that changed. It reads and writes the
//! device [`Store`] (local and transactional) but never touches a socket, a
//! timer, a thread or the clock: the driver at the edge (the `fieldwork-sdk`
//! crate, or a test) owns those. This keeps every protocol decision testable
//! without a network.
//!
//! Guarantees the machine keeps:
//! - a pushed change leaves the outbox only when the server's `PushResult`
//!   lists it as accepted (the server sends that after its commit);
//! - a received batch and the cursor it carries are stored atomically;
//! - one push batch is in flight at a time, so the outbox is handed out in
//!   order and never twice concurrently;
//! - a refused change is handled by the store's quarantine (nothing typed is
//!   lost silently).

use std::collections::HashMap;

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::protocol::{
    Batch, CatchUp, ClientMessage, DocData, DocHeads, ErrorMessage, Hello, Inventory,
    PROTOCOL_VERSION, Push, PushResult, PushedChange, Revoke, ServerMessage, SyncDoc, Welcome,
};
use crate::error::{CoreError, Denial, Result};
use crate::ids::{DocId, RecordId};
use crate::store::{RemoteDoc, RemotePayload, Store};

/// What the machine is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection was established (authenticated at the transport level).
    Connected,
    /// A message arrived from the server.
    Received(ServerMessage),
    /// The app made local changes (push them when possible).
    LocalChanges,
    /// The connection ended.
    Disconnected,
}

/// What the machine asks the driver to do or to report.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this message.
    Send(ClientMessage),
    /// The sync status changed.
    Status(SyncStatus),
    /// These records changed on the device (refresh the UI).
    Changed(Vec<RecordId>),
    /// The server reported a fatal error; the connection should be closed.
    Fatal(ErrorMessage),
}

/// Where sync stands, for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// Not connected.
    Offline,
    /// Connecting or waiting for the server's welcome.
    Connecting,
    /// Catching up or pushing: `done` of `total` documents received so far
    /// (`total` when known), `pending` local changes not yet acknowledged.
    Syncing {
        /// Documents received during catch-up.
        done: u64,
        /// Documents catch-up will deliver, when known.
        total: Option<u64>,
        /// Local changes waiting for acknowledgement.
        pending: u64,
    },
    /// Everything is exchanged; live changes arrive as they happen.
    UpToDate,
    /// The last attempt failed; the driver will retry.
    Error {
        /// What went wrong.
        message: String,
    },
    /// The server no longer accepts the device's session (it expired, was
    /// revoked, or its user was disabled): the device is signed out (its
    /// login token forgotten) and sync has stopped until the user signs
    /// in again. Local work is kept and is pushed after that sign-in.
    NeedsLogin {
        /// What the server said, for people.
        message: String,
    },
    /// The server ordered a remote wipe: the store and the secrets are
    /// deleted and this device handle is unusable. Open a new store to
    /// sign in afresh.
    Wiped,
}

/// Tuning of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Most changes in one push.
    pub max_push_changes: usize,
    /// Most change bytes in one push (a single larger change still goes alone).
    pub max_push_bytes: usize,
    /// Documents per inventory message in compare mode.
    pub inventory_chunk: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_push_changes: 1000,
            max_push_bytes: 2 * 1024 * 1024,
            inventory_chunk: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Disconnected,
    AwaitingWelcome,
    Active,
}

/// The device side of the protocol.
///
/// # Example
///
/// A fresh device connects, is welcomed with nothing to catch up on, and is
/// told it is up to date: the store keeps the server's cursor, so the next
/// connection resumes from there.
///
/// ```
/// use std::sync::Arc;
///
/// use fieldwork_core::policy::{DEFAULT_POLICY_TOML, UserContext};
/// use fieldwork_core::sync::protocol::{
///     CatchUp, ClientMessage, Cursor, PROTOCOL_VERSION, ServerMessage, UpToDate, Welcome,
/// };
/// use fieldwork_core::sync::{Effect, Event, SyncClient, SyncStatus};
/// use fieldwork_core::{Store, SystemClock};
///
/// let dir = tempfile::tempdir()?;
/// let mut store = Store::open(&dir.path().join("device.db"), Arc::new(SystemClock))?;
/// let mut client = SyncClient::default();
///
/// // Connecting says hello; a device that never synced has no cursor.
/// let effects = client.handle(&mut store, Event::Connected)?;
/// let Some(Effect::Send(ClientMessage::Hello(hello))) = effects.first() else {
///     panic!("a hello first, not {effects:?}");
/// };
/// assert_eq!(hello.cursor, None);
/// assert_eq!(client.status(), &SyncStatus::Connecting);
///
/// // The server welcomes the user, with no documents to send...
/// let user = UserContext {
///     name: "ana".into(),
///     role: "rep".into(),
///     territories: vec!["madrid".into()],
///     team: vec![],
/// };
/// let welcome = Welcome {
///     protocol: PROTOCOL_VERSION,
///     server_epoch: "epoch-1".into(),
///     user,
///     policy: DEFAULT_POLICY_TOML.into(),
///     policy_revision: 1,
///     directory: vec![],
///     mode: CatchUp::Fresh,
///     total_docs: Some(0),
/// };
/// client.handle(&mut store, Event::Received(ServerMessage::Welcome(welcome)))?;
///
/// // ...and says catch-up is complete up to its cursor.
/// let cursor = Cursor { epoch: "epoch-1".into(), seq: 0, check: String::new() };
/// let up = UpToDate { cursor: cursor.clone() };
/// client.handle(&mut store, Event::Received(ServerMessage::UpToDate(up)))?;
/// assert_eq!(client.status(), &SyncStatus::UpToDate);
/// assert_eq!(store.cursor()?, Some(cursor));
/// assert!(client.settled(&store)?, "nothing in flight, nothing to push");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SyncClient {
    config: ClientConfig,
    phase: Phase,
    caught_up: bool,
    next_batch: u64,
    in_flight: Option<(u64, Vec<ChangeHash>)>,
    sync_states: HashMap<DocId, automerge::sync::State>,
    total: Option<u64>,
    done: u64,
    status: SyncStatus,
    app_version: Option<String>,
}

impl Default for SyncClient {
    fn default() -> Self {
        Self::new(ClientConfig::default())
    }
}

impl SyncClient {
    /// A disconnected machine.
    pub fn new(config: ClientConfig) -> Self {
        SyncClient {
            config,
            phase: Phase::Disconnected,
            caught_up: false,
            next_batch: 1,
            in_flight: None,
            sync_states: HashMap::new(),
            total: None,
            done: 0,
            status: SyncStatus::Offline,
            app_version: None,
        }
    }

    /// The app version to report in `Hello` (see
    /// [`Hello::app_version`](super::protocol::Hello::app_version)).
    pub fn set_app_version(&mut self, version: Option<String>) {
        self.app_version = version;
    }

    /// The current status.
    pub fn status(&self) -> &SyncStatus {
        &self.status
    }

    /// Whether catch-up is complete, nothing is in flight and the outbox is
    /// empty: what a one-shot `sync` waits for.
    pub fn settled(&self, store: &Store) -> Result<bool> {
        Ok(self.phase == Phase::Active
            && self.caught_up
            && self.in_flight.is_none()
            && self.sync_states.is_empty()
            && store.outbox_len()? == 0)
    }

    /// Handles one event. An `Err` means the connection should be dropped
    /// (the driver reconnects later); the store is never left half-written.
    pub fn handle(&mut self, store: &mut Store, event: Event) -> Result<Vec<Effect>> {
        let mut effects = Vec::new();
        match event {
            Event::Connected => {
                self.reset_connection();
                self.phase = Phase::AwaitingWelcome;
                effects.push(Effect::Send(ClientMessage::Hello(Hello {
                    protocol: PROTOCOL_VERSION,
                    device_id: store.device_id().to_owned(),
                    cursor: store.cursor()?,
                    resync: store.needs_resync()?,
                    client: concat!("fieldwork-core/", env!("CARGO_PKG_VERSION")).to_owned(),
                    app_version: self.app_version.clone(),
                    pending_changes: Some(store.outbox_len()? as u64),
                })));
                self.set_status(SyncStatus::Connecting, &mut effects);
            }
            Event::Disconnected => {
                self.reset_connection();
                self.set_status(SyncStatus::Offline, &mut effects);
            }
            Event::LocalChanges => {
                self.push_next(store, &mut effects)?;
                self.refresh_status(store, &mut effects)?;
            }
            Event::Received(message) => self.receive(store, message, &mut effects)?,
        }
        Ok(effects)
    }

    fn reset_connection(&mut self) {
        self.phase = Phase::Disconnected;
        self.caught_up = false;
        self.in_flight = None;
        self.sync_states.clear();
        self.total = None;
        self.done = 0;
    }

    fn receive(
        &mut self,
        store: &mut Store,
        message: ServerMessage,
        effects: &mut Vec<Effect>,
    ) -> Result<()> {
        if self.phase == Phase::Disconnected {
            return Err(CoreError::Protocol(
                "message received while disconnected".into(),
            ));
        }
        let welcomed = self.phase == Phase::Active;
        match message {
            ServerMessage::Welcome(_) if welcomed => {
                return Err(CoreError::Protocol("a second welcome".into()));
            }
            ServerMessage::Welcome(w) => self.welcome(store, w, effects)?,
            // An `error` is fatal before the welcome too (`device_wiped`,
            // `unsupported_protocol`): handled below.
            _ if !welcomed && !matches!(message, ServerMessage::Error(_)) => {
                return Err(CoreError::Protocol(
                    "message before the server's welcome".into(),
                ));
            }
            ServerMessage::Batch(batch) => self.batch(store, batch, effects)?,
            ServerMessage::UpToDate(up) => {
                store.up_to_date(&up.cursor)?;
                self.caught_up = true;
            }
            ServerMessage::PushResult(result) => self.push_result(store, result, effects)?,
            ServerMessage::Revoke(revoke) => revoked(store, &revoke, effects)?,
            ServerMessage::SyncDoc(sync) => self.sync_doc(store, sync, effects)?,
            ServerMessage::Policy(update) => {
                store.update_policy(&update.user, &update.policy, update.policy_revision)?;
            }
            ServerMessage::Error(error) => {
                self.set_status(
                    SyncStatus::Error {
                        message: format!("{} ({})", error.message, error.code),
                    },
                    effects,
                );
                effects.push(Effect::Fatal(error));
                return Ok(());
            }
        }
        self.refresh_status(store, effects)
    }

    /// The server's welcome: install the user, policy and directory it
    /// sends, start comparing documents if it asks, and push.
    fn welcome(&mut self, store: &mut Store, w: Welcome, effects: &mut Vec<Effect>) -> Result<()> {
        if w.protocol != PROTOCOL_VERSION {
            return Err(CoreError::Protocol(format!(
                "server speaks protocol {}, this device {PROTOCOL_VERSION}",
                w.protocol
            )));
        }
        store.update_policy(&w.user, &w.policy, w.policy_revision)?;
        store.set_directory(&w.directory)?;
        self.phase = Phase::Active;
        self.total = w.total_docs;
        if w.mode == CatchUp::Compare {
            self.send_inventory(store, effects)?;
        }
        self.push_next(store, effects)
    }

    /// A batch of document data: applied with its cursor in one
    /// transaction.
    fn batch(&mut self, store: &mut Store, batch: Batch, effects: &mut Vec<Effect>) -> Result<()> {
        let mut docs = Vec::with_capacity(batch.docs.len());
        for data in batch.docs {
            remote_docs(data, &mut docs)?;
        }
        let changed = match store.apply_remote(docs, batch.cursor.as_ref()) {
            Ok(changed) => changed,
            Err(e @ CoreError::Protocol(_)) => {
                // The server's data does not fit ours: stop trusting the
                // cursor so the next connection compares documents.
                store.reset_cursor()?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if let Some(done) = batch.done {
            self.done = done;
        }
        if !changed.is_empty() {
            effects.push(Effect::Changed(changed));
        }
        Ok(())
    }

    fn push_result(
        &mut self,
        store: &mut Store,
        result: PushResult,
        effects: &mut Vec<Effect>,
    ) -> Result<()> {
        match &self.in_flight {
            Some((batch, _)) if *batch == result.batch => {}
            _ => {
                return Err(CoreError::Protocol(format!(
                    "result for unknown push {}",
                    result.batch
                )));
            }
        }
        self.in_flight = None;
        let parse = |b: &ByteBuf| {
            ChangeHash::try_from(b.as_slice())
                .map_err(|_| CoreError::Protocol("malformed change hash in push result".into()))
        };
        let mut accepted = Vec::with_capacity(result.accepted.len());
        for ack in &result.accepted {
            accepted.push((ack.doc.parse::<DocId>()?, parse(&ack.hash)?));
        }
        store.acknowledge(&accepted)?;
        let mut refused = Vec::with_capacity(result.refused.len());
        for r in result.refused {
            // A refusal for a document id we could not have sent is not ours.
            let Ok(doc) = r.doc.parse::<DocId>() else {
                continue;
            };
            refused.push((
                doc,
                parse(&r.hash)?,
                Denial {
                    code: r.code,
                    doc: Some(r.doc),
                    field: r.field,
                    rule: r.rule,
                    message: r.message,
                },
            ));
        }
        let rebuilt = store.handle_refusals(&refused)?;
        if !rebuilt.is_empty() {
            effects.push(Effect::Changed(rebuilt));
        }
        self.push_next(store, effects)
    }

    fn push_next(&mut self, store: &mut Store, effects: &mut Vec<Effect>) -> Result<()> {
        if self.phase != Phase::Active || self.in_flight.is_some() {
            return Ok(());
        }
        let pending = store.pending(self.config.max_push_changes, self.config.max_push_bytes)?;
        if pending.is_empty() {
            return Ok(());
        }
        let batch = self.next_batch;
        self.next_batch += 1;
        self.in_flight = Some((batch, pending.iter().map(|p| p.hash).collect()));
        effects.push(Effect::Send(ClientMessage::Push(Push {
            batch,
            changes: pending
                .into_iter()
                .map(|p| PushedChange {
                    doc: p.doc.to_string(),
                    bytes: ByteBuf::from(p.bytes),
                })
                .collect(),
        })));
        Ok(())
    }

    fn send_inventory(&mut self, store: &mut Store, effects: &mut Vec<Effect>) -> Result<()> {
        let ids = store.doc_ids()?;
        let mut chunk = Vec::new();
        let total = ids.len();
        for (i, doc) in ids.into_iter().enumerate() {
            let heads = store.doc_heads(&doc)?;
            chunk.push(DocHeads {
                doc: doc.to_string(),
                heads: heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect(),
            });
            if chunk.len() == self.config.inventory_chunk || i + 1 == total {
                effects.push(Effect::Send(ClientMessage::Inventory(Inventory {
                    docs: std::mem::take(&mut chunk),
                    done: i + 1 == total,
                })));
            }
        }
        if total == 0 {
            effects.push(Effect::Send(ClientMessage::Inventory(Inventory {
                docs: Vec::new(),
                done: true,
            })));
        }
        Ok(())
    }

    /// One step of the per-document compare. The server's `None` is final:
    /// it ends the exchange for that document (the server decides when
    /// nothing more can be gained, since it may refuse what we offer).
    fn sync_doc(
        &mut self,
        store: &mut Store,
        sync: SyncDoc,
        effects: &mut Vec<Effect>,
    ) -> Result<()> {
        let doc: DocId = sync.doc.parse()?;
        let Some(bytes) = &sync.message else {
            self.sync_states.remove(&doc);
            return Ok(());
        };
        let message = automerge::sync::Message::decode(bytes)
            .map_err(|e| CoreError::Protocol(format!("{doc}: malformed sync message: {e}")))?;
        let state = self.sync_states.entry(doc.clone()).or_default();
        let changed = store.receive_sync_message(&doc, state, message)?;
        if !changed.is_empty() {
            effects.push(Effect::Changed(changed));
        }
        let reply = store.generate_sync_message(&doc, state)?;
        effects.push(Effect::Send(ClientMessage::SyncDoc(SyncDoc {
            doc: doc.to_string(),
            message: reply.map(|m| ByteBuf::from(m.encode())),
        })));
        Ok(())
    }

    fn refresh_status(&mut self, store: &Store, effects: &mut Vec<Effect>) -> Result<()> {
        if self.phase != Phase::Active {
            return Ok(());
        }
        let pending = store.outbox_len()? as u64;
        let status = if self.caught_up
            && pending == 0
            && self.in_flight.is_none()
            && self.sync_states.is_empty()
        {
            SyncStatus::UpToDate
        } else {
            SyncStatus::Syncing {
                done: self.done,
                total: self.total,
                pending,
            }
        };
        self.set_status(status, effects);
        Ok(())
    }

    fn set_status(&mut self, status: SyncStatus, effects: &mut Vec<Effect>) {
        if self.status != status {
            self.status = status.clone();
            effects.push(Effect::Status(status));
        }
    }
}

/// One document of a batch as what the store applies: a replacement, or
/// a whole document and/or changes to merge.
fn remote_docs(data: DocData, docs: &mut Vec<RemoteDoc>) -> Result<()> {
    let doc: DocId = data.doc.parse()?;
    let changes: Vec<Vec<u8>> = data.changes.into_iter().map(ByteBuf::into_vec).collect();
    if data.replace {
        let document = data.document.ok_or_else(|| {
            CoreError::Protocol(format!("{doc}: a replacement without a document"))
        })?;
        docs.push(RemoteDoc {
            doc,
            payload: RemotePayload::Replace {
                document: document.into_vec(),
                changes,
            },
        });
        return Ok(());
    }
    if let Some(document) = data.document {
        docs.push(RemoteDoc {
            doc: doc.clone(),
            payload: RemotePayload::Document(document.into_vec()),
        });
    }
    if !changes.is_empty() {
        docs.push(RemoteDoc {
            doc,
            payload: RemotePayload::Changes(changes),
        });
    }
    Ok(())
}

/// Records or documents the user may no longer see: removed from the
/// store, and announced as changed.
fn revoked(store: &mut Store, revoke: &Revoke, effects: &mut Vec<Effect>) -> Result<()> {
    let records: Vec<RecordId> = revoke
        .records
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_>>()?;
    let docs: Vec<DocId> = revoke
        .docs
        .iter()
        .map(|d| d.parse())
        .collect::<Result<_>>()?;
    store.remove_records(&records)?;
    store.remove_docs(&docs)?;
    let mut changed = records;
    changed.extend(docs.iter().map(|d| d.record().clone()));
    changed.dedup();
    if !changed.is_empty() {
        effects.push(Effect::Changed(changed));
    }
    Ok(())
}
