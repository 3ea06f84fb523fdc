//! Where sync stands, as the SDK reports it: the core's status plus, for a
//! failure, a typed [`SyncErrorCause`] that apps can act on (offer "retry"
//! for [`SyncErrorCause::Network`] and [`SyncErrorCause::Timeout`], send the
//! user to the settings for [`SyncErrorCause::Tls`], and so on).

use serde::{Deserialize, Serialize};

/// Why the last sync attempt failed. Decided in one place,
/// `DeviceState::sync_failed` (from the [`SdkError`](crate::SdkError) the
/// attempt ended with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncErrorCause {
    /// The server could not be reached or the connection broke (no network,
    /// DNS, connection refused or reset, the server shutting down). Worth
    /// retrying; a running sync does, with backoff.
    Network,
    /// The sync did not finish in time. Worth retrying.
    Timeout,
    /// The secure connection failed (untrusted, expired or mismatched
    /// certificate, pin mismatch, malformed CA or pin), or plain `http://`
    /// to another machine was refused. The sign-in settings must change.
    Tls,
    /// The server answered but refused: an error of its own, rate limiting,
    /// an incompatible protocol version (update the app).
    ServerRefused,
    /// The server sent something this device cannot understand or apply
    /// (a malformed message or document).
    Protocol,
    /// This device's store, its files or its keystore failed (disk full,
    /// keystore locked, store open elsewhere).
    Storage,
    /// The server address given at sign-in is not a valid URL.
    BadServerUrl,
    /// The device is not signed in or its session was refused. A sync that
    /// fails so reports [`SyncStatus::NeedsLogin`], never an error with
    /// this cause; it exists so that every failure has a cause.
    SignedOut,
    /// Anything else (an internal failure of the SDK). Retrying may help.
    Other,
}

impl SyncErrorCause {
    /// Every cause, for tables and tests.
    pub const ALL: [SyncErrorCause; 9] = [
        SyncErrorCause::Network,
        SyncErrorCause::Timeout,
        SyncErrorCause::Tls,
        SyncErrorCause::ServerRefused,
        SyncErrorCause::Protocol,
        SyncErrorCause::Storage,
        SyncErrorCause::BadServerUrl,
        SyncErrorCause::SignedOut,
        SyncErrorCause::Other,
    ];
}

/// Where sync stands, for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// Not connected (local work goes on and is kept).
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
    /// The last attempt failed; a running sync retries with backoff (not
    /// for causes retrying cannot fix: see `background_sync`).
    Error {
        /// Why, for the app to act on.
        cause: SyncErrorCause,
        /// A sentence for people in the device's locale (English, Spanish
        /// or Hungarian; English otherwise), keyed by `cause`. In English
        /// the technical detail follows after a colon.
        message: String,
    },
    /// The server no longer accepts the device's session (it expired, was
    /// revoked, or its user was disabled), or the device is not signed in:
    /// the login token is forgotten and sync has stopped until the user
    /// signs in again. Local work is kept and pushed after that sign-in.
    NeedsLogin {
        /// A sentence for people in the device's locale, as for `Error`.
        message: String,
    },
    /// The server ordered a remote wipe: the store and the secrets are
    /// deleted and this device handle is unusable. Open a new store to
    /// sign in afresh.
    Wiped,
}

impl SyncStatus {
    /// The SDK's status for one the core's sync machine reported, or `None`
    /// for a failure: the machine's error is always followed by a fatal
    /// effect, which ends the attempt, and the driver then reports the
    /// failure with its cause (`DeviceState::sync_failed`).
    pub(crate) fn from_core(status: fieldwork_core::sync::SyncStatus) -> Option<SyncStatus> {
        use fieldwork_core::sync::SyncStatus as C;
        Some(match status {
            C::Offline => SyncStatus::Offline,
            C::Connecting => SyncStatus::Connecting,
            C::Syncing {
                done,
                total,
                pending,
            } => SyncStatus::Syncing {
                done,
                total,
                pending,
            },
            C::UpToDate => SyncStatus::UpToDate,
            C::Error { .. } | C::NeedsLogin { .. } => return None,
            C::Wiped => SyncStatus::Wiped,
        })
    }
}
