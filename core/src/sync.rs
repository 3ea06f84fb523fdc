//! The sync protocol: message types, framing, and the device's side as a
//! state machine. The server's side lives in the `fieldwork-server` crate and
//! uses the same [`protocol`] and [`codec`].

pub mod client;
pub mod codec;
pub mod protocol;

pub use client::{ClientConfig, Effect, Event, SyncClient, SyncStatus};
