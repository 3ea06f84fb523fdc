//! Sync status, reports, the signed-in user, and the listener apps register
//! to refresh their screens.

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// Not connected (local work goes on and is kept).
    Offline,
    /// Connecting, or waiting for the server's welcome.
    Connecting,
    /// Catching up or pushing.
    Syncing {
        /// Documents received so far.
        done: u64,
        /// Documents catch-up will deliver, when known.
        total: Option<u64>,
        /// Local changes waiting for the server's acknowledgement.
        pending: u64,
    },
    /// Everything is exchanged; others' changes arrive live.
    UpToDate,
    /// The last attempt failed; a running sync retries with backoff.
    Error {
        /// What went wrong.
        message: String,
    },
    /// The server no longer accepts this device's session (it expired, was
    /// revoked, or the user was disabled): the device is signed out
    /// (`user().signed_in` is false) and sync has stopped. Show the login
    /// screen; local work is kept and pushed after the next `login`.
    NeedsLogin {
        /// What the server said, for people.
        message: String,
    },
    /// An administrator wiped this device: its data and keys are deleted
    /// and this handle fails every call with `FieldworkError.Wiped`. Open a
    /// new device (same path) to sign in afresh.
    Wiped,
}

impl From<fieldwork_sdk::SyncStatus> for SyncStatus {
    fn from(s: fieldwork_sdk::SyncStatus) -> Self {
        use fieldwork_sdk::SyncStatus as S;
        match s {
            S::Offline => SyncStatus::Offline,
            S::Connecting => SyncStatus::Connecting,
            S::Syncing {
                done,
                total,
                pending,
            } => SyncStatus::Syncing {
                done,
                total,
                pending,
            },
            S::UpToDate => SyncStatus::UpToDate,
            S::Error { message } => SyncStatus::Error { message },
            S::NeedsLogin { message } => SyncStatus::NeedsLogin { message },
            S::Wiped => SyncStatus::Wiped,
        }
    }
}

/// How to reach the server securely, given at sign-in and kept for every
/// sync (see docs/PROTOCOL.md, "Transport security"). `null`/`None` for
/// all of it: the public web roots, `https://` (plain `http://` only to
/// this machine).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct TlsOptions {
    /// Extra trusted certificate authorities (PEM text), e.g. a company CA.
    #[uniffi(default = None)]
    pub ca_pem: Option<String>,
    /// Accept only the server certificate with this SHA-256 fingerprint
    /// (64 hex digits, colons allowed), whoever signed it.
    #[uniffi(default = None)]
    pub pin_sha256: Option<String>,
    /// Allow plain `http://` to a server that is not this machine (only
    /// behind a TLS-terminating proxy).
    #[uniffi(default = false)]
    pub insecure_http: bool,
}

impl From<TlsOptions> for fieldwork_core::store::Transport {
    fn from(t: TlsOptions) -> Self {
        fieldwork_core::store::Transport {
            ca_pem: t.ca_pem,
            pin_sha256: t.pin_sha256,
            insecure_http: t.insecure_http,
        }
    }
}

/// What one [`sync_now`](crate::FieldworkDevice::sync_now) did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Local changes sent.
    pub pushed: u64,
    /// Records that changed on this device.
    pub changed: u64,
    /// Local edits the server refused (now in the quarantine).
    pub refused: u64,
}

impl From<fieldwork_sdk::SyncReport> for SyncReport {
    fn from(r: fieldwork_sdk::SyncReport) -> Self {
        SyncReport {
            pushed: r.pushed as u64,
            changed: r.changed as u64,
            refused: r.refused as u64,
        }
    }
}

/// The signed-in user, as the server described them at login.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Role in the organisation's policy.
    pub role: String,
    /// Territories assigned.
    pub territories: Vec<String>,
    /// The server the device syncs with.
    pub server: String,
    /// Whether the session is live (`false` after logout: the data stays,
    /// bound to this user, until someone signs in again).
    pub signed_in: bool,
}

/// Told about changes so the app can refresh. Called on the device's
/// dispatcher thread (never the UI thread), every notice in order, until
/// the subscription `add_listener` returned is cancelled or the device is
/// closed: post to the UI thread yourself, and return quickly. Screens that
/// show a list or a record can observe it instead (`observe_query`,
/// `observe_record`: see [`crate::device::observe`]).
#[uniffi::export(with_foreign)]
pub trait DeviceListener: Send + Sync {
    /// These records changed, by a local edit or by sync.
    fn records_changed(&self, ids: Vec<String>);
    /// The sync status changed.
    fn sync_status_changed(&self, status: SyncStatus);
}
