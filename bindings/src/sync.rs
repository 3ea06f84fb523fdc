//! Sync status, reports, the signed-in user, and the listener apps register
//! to refresh their screens.

use crate::ints::count;

/// Where sync stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// Not connected (local work goes on and is kept).
    Offline,
    /// Connecting, or waiting for the server's welcome.
    Connecting,
    /// Catching up or pushing.
    Syncing {
        /// Documents received so far (never negative).
        done: i64,
        /// Documents catch-up will deliver, when known (never negative).
        total: Option<i64>,
        /// Local changes waiting for the server's acknowledgement (never
        /// negative).
        pending: i64,
    },
    /// Everything is exchanged; others' changes arrive live.
    UpToDate,
    /// The last attempt failed; a running sync retries with backoff
    /// (it stops for causes retrying cannot fix: `BadServerUrl`, an
    /// insecure `http://` refused as `Tls`).
    Error {
        /// Why, for the app to act on (e.g. offer "retry" only for
        /// `Network` and `Timeout`).
        cause: SyncErrorCause,
        /// A sentence for people in the device's locale (`set_locale`):
        /// English, Spanish or Hungarian, English for any other language.
        /// In English the technical detail follows after a colon.
        message: String,
    },
    /// The server no longer accepts this device's session (it expired, was
    /// revoked, or the user was disabled): the device is signed out
    /// (`user().signed_in` is false) and sync has stopped. Show the login
    /// screen; local work is kept and pushed after the next `login`.
    NeedsLogin {
        /// A sentence for people in the device's locale, as for `Error`.
        message: String,
    },
    /// An administrator wiped this device: its data and keys are deleted
    /// and this handle fails every call with `FieldworkError.Wiped`. Open a
    /// new device (same path) to sign in afresh.
    Wiped,
}

/// Why the last sync attempt failed (`SyncStatus.Error`'s `cause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SyncErrorCause {
    /// The server could not be reached or the connection broke (no
    /// network, DNS, connection refused or reset). Worth retrying.
    Network,
    /// The sync did not finish in time. Worth retrying.
    Timeout,
    /// The secure connection failed (certificate not trusted, expired or
    /// for another name, pin mismatch, malformed CA or pin), or plain
    /// `http://` to another machine was refused: the sign-in settings must
    /// change.
    Tls,
    /// The server answered but refused (an error of its own, rate
    /// limiting, an incompatible protocol version: update the app).
    ServerRefused,
    /// The server sent something this device cannot read or apply.
    Protocol,
    /// This device's store, its files or its keystore failed.
    Storage,
    /// The server address given at sign-in is not a valid URL.
    BadServerUrl,
    /// Not signed in or the session was refused: reported as
    /// `SyncStatus.NeedsLogin`, never as an error with this cause.
    SignedOut,
    /// Anything else (an internal failure). Retrying may help.
    Other,
}

impl From<fieldwork_sdk::SyncErrorCause> for SyncErrorCause {
    fn from(c: fieldwork_sdk::SyncErrorCause) -> Self {
        use fieldwork_sdk::SyncErrorCause as C;
        match c {
            C::Network => SyncErrorCause::Network,
            C::Timeout => SyncErrorCause::Timeout,
            C::Tls => SyncErrorCause::Tls,
            C::ServerRefused => SyncErrorCause::ServerRefused,
            C::Protocol => SyncErrorCause::Protocol,
            C::Storage => SyncErrorCause::Storage,
            C::BadServerUrl => SyncErrorCause::BadServerUrl,
            C::SignedOut => SyncErrorCause::SignedOut,
            C::Other => SyncErrorCause::Other,
        }
    }
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
                done: count(done),
                total: total.map(count),
                pending: count(pending),
            },
            S::UpToDate => SyncStatus::UpToDate,
            S::Error { cause, message } => SyncStatus::Error {
                cause: cause.into(),
                message,
            },
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

/// What one [`sync_now`](crate::FieldworkDevice::sync_now) did. Every
/// count is zero or more and saturates at the maximum.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Local changes sent.
    pub pushed: i64,
    /// Records that changed on this device.
    pub changed: i64,
    /// Local edits the server refused (now in the quarantine).
    pub refused: i64,
    /// Attachments uploaded by this sync.
    pub files_uploaded: i64,
    /// Attachments downloaded by this sync (those of at most 2 MiB).
    pub files_downloaded: i64,
}

impl From<fieldwork_sdk::SyncReport> for SyncReport {
    fn from(r: fieldwork_sdk::SyncReport) -> Self {
        SyncReport {
            pushed: count(r.pushed),
            changed: count(r.changed),
            refused: count(r.refused),
            files_uploaded: count(r.files.uploaded),
            files_downloaded: count(r.files.downloaded),
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
