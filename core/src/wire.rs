//! The wire types both the device store and the sync protocol use: where a
//! device's sync ended ([`Cursor`]), the organisation's users as devices and
//! the process engine see them ([`DirectoryEntry`]), and the stable codes of
//! errors and refused changes ([`error_codes`]).
//!
//! Guarantees:
//! - This module is a leaf: it depends on nothing else in the crate, so the
//!   store, the rules, the process engine and the sync protocol can all use
//!   it without depending on each other.
//! - The types serialize exactly as they did under `sync::protocol` and
//!   `store`, which re-export them under their old paths; the codes are the
//!   protocol's stable strings and never change meaning.

use serde::{Deserialize, Serialize};

/// The server position up to which this device has received everything it
/// may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The server's identity (changes if the server database is replaced).
    pub epoch: String,
    /// The feed sequence number.
    pub seq: u64,
    /// A fingerprint of the feed entry at `seq`, to detect a server restored
    /// from an older backup.
    pub check: String,
}

/// A user of the organisation, as the process engine needs to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// User name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Their manager, if any.
    pub manager: Option<String>,
    /// Their IANA time zone.
    pub time_zone: Option<String>,
}

/// Stable codes of the protocol's `ErrorMessage` and of change refusals that
/// are not policy decisions (policy codes are in [`crate::policy::codes`]).
pub mod error_codes {
    /// The token is missing, unknown or expired.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The device speaks a protocol version the server does not.
    pub const UNSUPPORTED_PROTOCOL: &str = "unsupported_protocol";
    /// A frame could not be decoded.
    pub const MALFORMED_MESSAGE: &str = "malformed_message";
    /// A frame exceeds the size limits.
    pub const MESSAGE_TOO_LARGE: &str = "message_too_large";
    /// A message arrived when it makes no sense (e.g. `Push` before `Hello`).
    pub const UNEXPECTED_MESSAGE: &str = "unexpected_message";
    /// The server failed; retry later.
    pub const INTERNAL: &str = "internal";
    /// The server is stopping; reconnect later.
    pub const SHUTTING_DOWN: &str = "shutting_down";
    /// The user account was disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// The device was marked for remote wipe: delete the store and every
    /// secret, then confirm (docs/PROTOCOL.md, "Remote wipe"). Also the
    /// `code` of the HTTP `410 Gone` answer to its sync connection or login.
    pub const DEVICE_WIPED: &str = "device_wiped";
    /// A pushed change is not a valid Automerge change.
    pub const MALFORMED_CHANGE: &str = "malformed_change";
    /// A pushed document id is malformed or names an unknown class.
    pub const UNKNOWN_DOCUMENT: &str = "unknown_document";
    /// A pushed change depends on changes the server does not have.
    pub const MISSING_DEPENDENCIES: &str = "missing_dependencies";
    /// A pushed change depends on a refused change (the device quarantines
    /// it with the change it depends on).
    pub const DEPENDENCY_REFUSED: &str = "dependency_refused";
    /// A pushed change is signed by an actor bound to another user.
    pub const ACTOR_NOT_YOURS: &str = "actor_not_yours";
    /// A pushed change names another user as its author.
    pub const AUTHOR_MISMATCH: &str = "author_mismatch";
    /// A push holds more changes or bytes than allowed.
    pub const BATCH_TOO_LARGE: &str = "batch_too_large";
    /// A pushed change exceeds the per-change limits (bytes, operations,
    /// predecessor references; see [`crate::change_limits`]).
    pub const CHANGE_TOO_LARGE: &str = "change_too_large";
    /// A pushed change is a compressed chunk or has compressed columns.
    pub const COMPRESSED_CHANGE: &str = "compressed_change";
    /// The session stayed in compare mode longer than the server allows.
    pub const COMPARE_TIMEOUT: &str = "compare_timeout";
    /// A change signed by the process engine's actor that does not create
    /// a new document (engine changes only ever create records).
    pub const ENGINE_CHANGE_REFUSED: &str = "engine_change_refused";
    /// A pushed change writes a personal field of a contact erased under
    /// the GDPR (docs/GDPR.md): writing it would bring the erased data
    /// back. The device quarantines the edit.
    pub const ERASED: &str = "erased";
}
