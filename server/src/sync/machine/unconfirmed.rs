//! Which of the server's records of what a device holds (`device_docs`) the
//! device has not confirmed yet.
//!
//! The server records a document as held when it sends it whole, and as
//! released when it sends its revocation. If the connection drops before
//! the device applies those messages, the record runs ahead of the device:
//! a revocation would never be sent again (the device keeps a document its
//! user may no longer see) and a whole document never resent (the device
//! lacks it). The in-memory test network found both.
//!
//! The device confirms by its cursor: messages arrive in order, so a device
//! whose cursor reached feed position S applied everything sent before the
//! batch that carried S. Each change to `device_docs` outside that batch
//! raises the position that confirms it ([`mark`]); a device that says
//! hello with a cursor below it is compared document by document instead
//! of caught up incrementally ([`confirmed`]), which rebuilds the record
//! from the device's own inventory; a compare cut short is compared again.
//! When the feed has not moved since, no cursor can confirm: the device is
//! compared once more (pessimistic, never wrong).
//!
//! The position is the device's `devices.docs_confirm_seq` (migration 006;
//! accessors in [`crate::db::devices`]), written on the connection the
//! caller passes, so in the caller's write transaction. The device is registered (its `devices` row written) by its
//! hello before any of this runs, and rows there are never deleted; a mark
//! for an unregistered device fails rather than being lost.
//!
//! Guarantees: an incremental catch-up only ever starts from a
//! `device_docs` the device confirmed.

use rusqlite::Connection;

use crate::db::devices;
use crate::error::Result;

/// Records that the device confirms the current `device_docs` only once its
/// cursor reaches `seq` (kept if a higher position is already recorded).
pub(super) fn mark(conn: &Connection, device: &str, seq: u64) -> Result<()> {
    devices::raise_docs_confirm_seq(conn, device, seq)
}

/// Whether a device at feed position `cursor` confirmed its `device_docs`.
pub(super) fn confirmed(conn: &Connection, device: &str, cursor: u64) -> Result<bool> {
    Ok(devices::docs_confirm_seq(conn, device)? <= cursor)
}

/// Forgets the mark: `device_docs` was emptied, to be rebuilt.
pub(super) fn clear(conn: &Connection, device: &str) -> Result<()> {
    devices::reset_docs_confirm_seq(conn, device)
}
