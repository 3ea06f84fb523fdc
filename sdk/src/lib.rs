//! Fieldwork on a device: the core's store plus the network edge.
//!
//! [`Device`] owns the device store and, when asked, a sync connection that
//! drives the core's sans-IO [`SyncClient`](fieldwork_core::sync::SyncClient)
//! over a real WebSocket. It is what the `fieldwork` CLI and the mobile
//! bindings are built on.
//!
//! # Layout
//! - [`device`]: the `Device` handle (store access, observers, status).
//! - [`login`]: signing in and out over HTTP.
//! - [`secrets`]: the app's keystore (store key, session token).
//! - [`keys`]: opening the encrypted store with the keystore's key; re-keying.
//! - [`transport`]: URL policy, TLS trust (CAs, pinning), TLS errors in words.
//! - [`connection`]: one WebSocket sync connection.
//! - [`watch`]: the long-running sync loop with reconnect, backoff and jitter.
//! - `wipe`: carrying out a remote wipe ordered by the server ([`SdkError::Wiped`]).
//! - [`error`]: the crate's error type.

pub mod connection;
pub mod device;
pub mod error;
pub mod keys;
pub mod login;
pub mod secrets;
pub mod transport;
pub mod watch;
mod wipe;

pub use device::{Device, DeviceObserver, StoreGuard, SyncReport};
pub use error::{Result, SdkError};
pub use fieldwork_core::sync::SyncStatus;
pub use secrets::{FileSecrets, MemorySecrets, SecretError, SecretStore};
pub use watch::{Backoff, SyncHandle};
