//! The server side of the sync protocol.
//!
//! - [`machine`]: one connection's protocol state as a sans-IO state
//!   machine (hello, catch-up, compare mode, pushes, administrative events);
//! - [`connection`]: the task that hosts a machine on a WebSocket;
//! - [`push`]: the checks every incoming change passes before it is stored;
//! - [`edit`]: an edit made on the server, turned into changes to push;
//! - [`redirect`]: edits of a merged record forwarded to the record kept.
//!
//! Guarantees: see each module; every protocol decision is in [`machine`].

pub mod connection;
pub mod edit;
pub mod machine;
pub mod push;
pub mod redirect;
