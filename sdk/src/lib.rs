//! Fieldwork on a device: the core's store plus the network edge.
//!
//! [`Device`] owns the device store and, when asked, a sync connection that
//! drives the core's sans-IO [`SyncClient`](fieldwork_core::sync::SyncClient)
//! over a real WebSocket. It is what the `fieldwork` CLI and the mobile
//! bindings are built on.
//!
//! # Layout
//! - [`device`]: the `Device` handle (store access, observers, status).
//! - `state`: what the handle and its sync share (store, keystore, status,
//!   observers); announces every change when the store lock is released.
//! - [`login`]: signing in and out over HTTP.
//! - [`secrets`]: the app's keystore (store key, session token).
//! - [`keys`]: opening the encrypted store with the keystore's key; re-keying.
//! - [`lock`]: one open handle per store file (`<store>.lock`).
//! - [`transport`]: URL policy, TLS trust (CAs, pinning), TLS errors in words.
//! - [`connection`]: one WebSocket sync connection.
//! - [`background_sync`]: the long-running sync loop with reconnect, backoff
//!   and jitter.
//! - `wipe`: carrying out a remote wipe ordered by the server ([`SdkError::Wiped`]).
//! - [`error`]: the crate's error type.

pub mod background_sync;
pub mod connection;
pub mod device;
pub mod error;
pub mod files;
pub mod keys;
pub mod lock;
pub mod login;
pub mod secrets;
mod state;
pub mod thumbnail;
pub mod transport;
mod wipe;

pub use background_sync::{Backoff, SyncHandle};
pub use connection::SyncReport;
pub use device::Device;
pub use error::{Result, SdkError, internal_codes};
pub use files::TransferReport;
pub use secrets::{FileSecrets, MemorySecrets, SecretError, SecretStore};
pub use state::{DeviceObserver, StoreGuard, SyncErrorCause, SyncStatus};
