//! The one error type of the core crate.
//!
//! Every public fallible function in `fieldwork-core` returns [`CoreError`].
//! Messages name the record, field and rule involved so that a user can act
//! on them; they never include a field's *value* from someone else's data.
//! The FFI and wire layers map these variants explicitly (see
//! `bindings::error` and `sync::protocol::ErrorCode`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// An identifier (record id, document id, class name) is malformed.
    #[error("invalid identifier: {0}")]
    InvalidId(String),
    /// A value or a combination of values breaks the schema; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The named record or document does not exist on this device.
    #[error("not found: {0}")]
    NotFound(String),
    /// The privacy policy forbids the operation; nothing was written.
    #[error(transparent)]
    Denied(#[from] Denial),
    /// A policy file is malformed or inconsistent; every problem is listed.
    #[error("invalid policy: {}", .0.join("; "))]
    Policy(Vec<String>),
    /// SQLite failed (disk full, locked, I/O error...).
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Stored data cannot be decoded (a corrupt or foreign file).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Automerge refused an operation or failed to decode a document.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A sync-protocol message was malformed or unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The encrypted store could not be opened with the key given (or the
    /// file is not a Fieldwork store); nothing was changed on disk.
    /// Code [`CoreError::WRONG_KEY`].
    #[error("the store could not be opened with this key")]
    WrongKey,
    /// The store is encrypted (or the file is not a Fieldwork store) and was
    /// opened without a key; the file was not touched.
    /// Code [`CoreError::KEY_REQUIRED`].
    #[error("the store is encrypted: it can only be opened with its key")]
    KeyRequired,
}

impl CoreError {
    /// Stable code of [`CoreError::WrongKey`].
    pub const WRONG_KEY: &str = "wrong_key";
    /// Stable code of [`CoreError::KeyRequired`].
    pub const KEY_REQUIRED: &str = "key_required";
}

/// A value that breaks the schema, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct ValidationError {
    /// The field concerned, when the error is about one field.
    pub field: Option<String>,
    /// What is wrong, in words a user understands.
    pub message: String,
}

impl ValidationError {
    /// An error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ValidationError {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// An error about the record as a whole.
    pub fn record(message: impl Into<String>) -> Self {
        ValidationError {
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "invalid value for `{field}`: {}", self.message),
            None => write!(f, "invalid record: {}", self.message),
        }
    }
}

/// Why the privacy policy refused an operation.
///
/// `code` is stable and machine-readable (listed in `docs/PROTOCOL.md`);
/// `doc`, `field` and `rule` say exactly what was refused and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Denial {
    /// Stable reason code, e.g. `class_not_writable`.
    pub code: String,
    /// The document concerned, when there is one.
    pub doc: Option<String>,
    /// The field concerned, when there is one.
    pub field: Option<String>,
    /// The policy rule that decided, e.g. `roles.rep.write`.
    pub rule: String,
    /// A sentence for people.
    pub message: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused ({}): {}", self.code, self.message)
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// The message of a caught panic (`&str` or `String` payloads; otherwise
/// "unknown"), for logs and for the reason a failed instance shows.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into())
}
