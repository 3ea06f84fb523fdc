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
//! - [`connection`]: one WebSocket sync connection.
//! - [`watch`]: the long-running sync loop with reconnect, backoff and jitter.
//! - [`error`]: the crate's error type.

pub mod connection;
pub mod device;
pub mod error;
pub mod login;
pub mod watch;

pub use device::{Device, DeviceObserver, SyncReport};
pub use error::{Result, SdkError};
pub use fieldwork_core::sync::SyncStatus;
pub use watch::{Backoff, SyncHandle};
