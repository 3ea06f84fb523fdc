//! The SDK's error type.

use fieldwork_core::CoreError;

/// Everything that can go wrong on the device side.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The core refused or failed (validation, policy, storage). Only the
    /// core's own errors: the SDK's failures are [`SdkError::Internal`].
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The device is not signed in.
    #[error("not signed in: run login first")]
    NotLoggedIn,
    /// Wrong user name or password.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// The session token was refused (expired or revoked): sign in again.
    #[error("the session has expired or was revoked; sign in again")]
    SessionExpired,
    /// Too many failed logins.
    #[error("too many failed logins; retry later")]
    RateLimited,
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("server error ({code}): {message}")]
    Server {
        /// Stable code.
        code: String,
        /// Explanation.
        message: String,
    },
    /// The server URL is malformed.
    #[error("invalid server URL `{0}`: expected http://host:port or https://host:port")]
    BadUrl(String),
    /// The app's keystore failed (locked, unreadable, too widely readable).
    #[error("the keystore failed: {0}")]
    Secrets(#[from] crate::secrets::SecretError),
    /// The secure connection failed: the server's certificate is not
    /// trusted, does not match the pin, is for another name or expired; or
    /// the CA or pin given at sign-in is malformed. The sentence says what
    /// to do (see [`crate::transport`]).
    #[error("{0}")]
    Tls(String),
    /// Plain `http://` to a host that is not this machine, without
    /// `insecure_http`: refused before any connection is attempted.
    #[error("{0}")]
    InsecureHttp(String),
    /// A sync did not finish in time.
    #[error("sync did not finish within {0} s")]
    Timeout(u64),
    /// An administrator wiped this device (remote wipe): its store and
    /// secrets are deleted, and every call on this `Device` fails with
    /// this. Open a new store (the same path will do) to sign in afresh.
    #[error("this device was wiped by an administrator: its local data and keys are deleted")]
    Wiped,
    /// The store file is open in another handle, in this process or in
    /// another one (see [`crate::lock`]): only one may hold it at a time.
    /// Nothing was read or written. Close the other handle (or use the one
    /// already open) and try again.
    #[error(
        "the store `{path}` is already open in another handle or process; close it first or use the open one"
    )]
    StoreInUse {
        /// The store file.
        path: String,
    },
    /// The device was closed ([`Device::close`](crate::Device::close)):
    /// every later call on it fails with this. Open the store again for a
    /// new handle.
    #[error("this device was closed; open the store again to use it")]
    Closed,
    /// A file of the store that is not the database itself (its lock file,
    /// a file being measured or deleted) could not be used.
    #[error("cannot use the store's files: {0}")]
    Io(String),
    /// The SDK itself failed, not the store, the network or the app: a
    /// lock poisoned by a panic, a background task that died. Not the
    /// app's or the user's doing; retrying may help, and the store is
    /// consistent (every store write is one transaction). `code` is one of
    /// [`internal_codes`] (stable); `message` is a sentence for logs.
    #[error("internal error in the Fieldwork SDK ({code}): {message}")]
    Internal {
        /// Stable code, one of [`internal_codes`].
        code: &'static str,
        /// What failed, for people and logs.
        message: String,
    },
}

impl SdkError {
    /// An [`SdkError::Internal`] with a stable `code` from
    /// [`internal_codes`] and a sentence.
    pub fn internal(code: &'static str, message: impl Into<String>) -> SdkError {
        SdkError::Internal {
            code,
            message: message.into(),
        }
    }
}

/// The stable codes of [`SdkError::Internal`].
pub mod internal_codes {
    /// A lock on the SDK's own state was poisoned by a panic.
    pub const LOCK_POISONED: &str = "lock_poisoned";
    /// A background task (a store call on the blocking pool, the sync loop)
    /// panicked or was cancelled.
    pub const TASK_FAILED: &str = "task_failed";
    /// The keystore holds a login token that cannot be sent in an HTTP
    /// header (it was not written by the SDK).
    pub const UNUSABLE_TOKEN: &str = "unusable_token";
    /// A runtime or thread the SDK or its bindings need could not start.
    pub const RUNTIME: &str = "runtime";
    /// The handle was used after it was closed. No longer produced: a
    /// closed device fails with [`super::SdkError::Closed`]; kept so that
    /// code matching on it still compiles.
    pub const CLOSED: &str = "closed";
}

/// Shorthand for results in this crate.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;
