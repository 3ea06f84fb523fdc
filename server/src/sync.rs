//! The server side of the sync protocol: sessions, catch-up, compare mode,
//! and the push path that checks every incoming change.

mod catchup;
mod compare;
pub mod push;
pub mod session;
