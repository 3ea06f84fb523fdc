//! The messages of Fieldwork's sync protocol, version [`PROTOCOL_VERSION`].
//!
//! `docs/PROTOCOL.md` describes the exchange; this module is its normative
//! type definition. Messages are CBOR maps tagged by `type`; binary fields
//! (Automerge changes, documents, sync messages, hashes) are CBOR byte strings.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::policy::UserContext;

// Types and codes the store and the process engine share with the
// protocol live in the leaf module `crate::wire`; re-exported here under
// their protocol paths.
pub use crate::wire::{Cursor, DirectoryEntry, error_codes};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a device sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a connection.
    Hello(Hello),
    /// Local changes for the server to check, store and relay.
    Push(Push),
    /// In compare mode: the documents this device holds and their heads.
    Inventory(Inventory),
    /// In compare mode: one step of Automerge's sync protocol for a document.
    SyncDoc(SyncDoc),
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `Hello`: who the user is, the policy, how catch-up will go.
    Welcome(Welcome),
    /// Document data: catch-up pages and live changes.
    Batch(Batch),
    /// The outcome of a `Push`, sent once accepted changes are durable.
    PushResult(PushResult),
    /// Records or documents the user may no longer see: delete them.
    Revoke(Revoke),
    /// In compare mode: one step of Automerge's sync protocol.
    SyncDoc(SyncDoc),
    /// Catch-up is complete up to `cursor`; live changes follow.
    UpToDate(UpToDate),
    /// The policy or the user's profile changed while connected.
    Policy(PolicyUpdate),
    /// A fatal error; the server closes the connection after it.
    Error(ErrorMessage),
}

/// First message on a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the device speaks.
    pub protocol: u32,
    /// The device's stable id.
    pub device_id: String,
    /// Where the device's last sync ended, if it has synced before.
    pub cursor: Option<Cursor>,
    /// The device lost trust in its data (its cursor was reset after the
    /// server's data did not fit its own): compare documents one by one.
    /// A device that simply never synced sends `false`, even if it holds
    /// documents created offline.
    pub resync: bool,
    /// The client software, for logs (`fieldwork-core/0.1.0`).
    pub client: String,
    /// The app's version (`fieldwork-cli/0.1.0`, `crm-android/2.3.1`), shown
    /// to administrators in the device list. Absent from older devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// How many local changes the device has not sent yet (its outbox), as
    /// it says hello: shown to administrators before a remote wipe. Absent
    /// from older devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_changes: Option<u64>,
}

/// Local changes, oldest first (a change never precedes its dependencies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// The device's number for this batch, echoed in the result.
    pub batch: u64,
    /// The changes.
    pub changes: Vec<PushedChange>,
}

/// One Automerge change for one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedChange {
    /// Document id (`kind:key/class`).
    pub doc: String,
    /// The raw change.
    pub bytes: ByteBuf,
}

/// How the server will bring the device up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// The device has nothing: whole documents follow in batches.
    Fresh,
    /// The cursor is trusted: the changes since it follow.
    Incremental,
    /// The cursor cannot be trusted (server restored, device store rebuilt):
    /// the device sends its `Inventory` and documents are compared one by one
    /// with Automerge's sync protocol.
    Compare,
}

/// Answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the server will speak (equal to the device's).
    pub protocol: u32,
    /// The server database's identity.
    pub server_epoch: String,
    /// The signed-in user.
    pub user: UserContext,
    /// The policy in force, as TOML.
    pub policy: String,
    /// Its revision.
    pub policy_revision: u64,
    /// The organisation's users (names, roles, managers, time zones).
    pub directory: Vec<DirectoryEntry>,
    /// How catch-up will go.
    pub mode: CatchUp,
    /// How many documents catch-up will deliver, when known (progress).
    pub total_docs: Option<u64>,
}

/// Document data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The documents, each whole or as changes.
    pub docs: Vec<DocData>,
    /// Apply the batch and store this cursor in the same transaction.
    pub cursor: Option<Cursor>,
    /// Catch-up progress after this batch, in documents.
    pub done: Option<u64>,
}

/// One document's data: optionally a whole saved document, then changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocData {
    /// Document id.
    pub doc: String,
    /// A whole saved (compressed) document.
    pub document: Option<ByteBuf>,
    /// Raw changes to apply after it, in dependency order.
    pub changes: Vec<ByteBuf>,
    /// The document was rewritten with a fresh history (a field moved to
    /// another class): discard the local copy instead of merging, and replay
    /// the device's unacknowledged edits on top of this one.
    #[serde(default)]
    pub replace: bool,
}

/// The outcome of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    /// The batch number from the push.
    pub batch: u64,
    /// Changes now durably stored (including ones the server already had).
    pub accepted: Vec<Ack>,
    /// Changes refused, with reasons. Nothing of them was stored or relayed.
    pub refused: Vec<Refusal>,
}

/// One accepted change. A change's hash does not cover its document (two
/// documents may hold byte-identical changes), so both are named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The document.
    pub doc: String,
    /// The change's hash.
    pub hash: ByteBuf,
}

/// Why one change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The change's hash.
    pub hash: ByteBuf,
    /// The document.
    pub doc: String,
    /// Stable reason code.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// The rule that decided.
    pub rule: String,
    /// Explanation.
    pub message: String,
}

/// Records or documents to delete from the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoke {
    /// Whole records no longer visible.
    pub records: Vec<String>,
    /// Single class documents no longer readable.
    pub docs: Vec<String>,
}

/// Catch-up is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpToDate {
    /// Everything up to here has been delivered.
    pub cursor: Cursor,
}

/// A policy or profile change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyUpdate {
    /// The user's profile now.
    pub user: UserContext,
    /// The policy, as TOML.
    pub policy: String,
    /// Its revision.
    pub policy_revision: u64,
}

/// The documents a device holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Documents and their heads.
    pub docs: Vec<DocHeads>,
    /// Whether this is the last inventory message.
    pub done: bool,
}

/// A document and its heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    /// Document id.
    pub doc: String,
    /// Its heads (32-byte change hashes).
    pub heads: Vec<ByteBuf>,
}

/// One Automerge sync message for one document (`None`: nothing more to say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDoc {
    /// Document id.
    pub doc: String,
    /// An encoded `automerge::sync::Message`, or none when this side is done.
    pub message: Option<ByteBuf>,
}

/// A fatal error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// Stable code (see [`error_codes`]).
    pub code: String,
    /// Explanation.
    pub message: String,
}
