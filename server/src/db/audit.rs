//! The audit log of refused changes and administrative actions (among them
//! every request, delivery and confirmation of a remote wipe: [`codes`]).
//!
//! Administrative actions made through the admin API or the admin CLI are
//! entries whose `user` is the administrator who acted (`admin-cli` for
//! the command line), `code` says what was done (the `admin_*` codes of
//! `crate::admin::codes`: users added, changed, disabled and enabled, the
//! policy installed; API keys and calendar feeds in `crate::api::keys`),
//! `message` names the target and the new values, and `at` is when.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::Result;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When (ms since the Unix epoch).
    pub at: i64,
    /// Who.
    pub user: String,
    /// From which device.
    pub device: Option<String>,
    /// Which document.
    pub doc: Option<String>,
    /// Which change (hex hash).
    pub hash: Option<String>,
    /// Stable code.
    pub code: String,
    /// Which field.
    pub field: Option<String>,
    /// Which rule.
    pub rule: Option<String>,
    /// Explanation.
    pub message: String,
}

impl AuditEntry {
    /// An administrative action: `by` did `code` (`admin_*`), described by
    /// `message`, at `at` (ms since the Unix epoch).
    pub fn admin(at: i64, by: &str, code: &str, message: String) -> AuditEntry {
        AuditEntry {
            at,
            user: by.to_owned(),
            device: None,
            doc: None,
            hash: None,
            code: code.to_owned(),
            field: None,
            rule: None,
            message,
        }
    }
}

/// Appends an entry.
pub fn record(conn: &Connection, e: &AuditEntry) -> Result<()> {
    let hash = e.hash.as_deref().and_then(|h| hex::decode(h).ok());
    conn.execute(
        "INSERT INTO audit(at, user_name, device_id, doc_id, hash, code, field, rule, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            e.at, e.user, e.device, e.doc, hash, e.code, e.field, e.rule, e.message
        ],
    )?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare(
        "SELECT at, user_name, device_id, doc_id, hash, code, field, rule, message FROM audit ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        let hash: Option<Vec<u8>> = r.get(4)?;
        Ok(AuditEntry {
            at: r.get(0)?,
            user: r.get(1)?,
            device: r.get(2)?,
            doc: r.get(3)?,
            hash: hash.map(hex::encode),
            code: r.get(5)?,
            field: r.get(6)?,
            rule: r.get(7)?,
            message: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stable codes of the remote-wipe entries (`user` is who acted: the
/// administrator for a request, the device's user for a delivery or a
/// confirmation; `device` is the device).
pub mod codes {
    /// An administrator marked a device for wipe (directly, or by disabling its user).
    pub const DEVICE_WIPE_REQUESTED: &str = "device_wipe_requested";
    /// The wipe order was given to the device (at a sync connection or a login).
    pub const DEVICE_WIPE_DELIVERED: &str = "device_wipe_delivered";
    /// The device confirmed that its store and secrets are deleted.
    pub const DEVICE_WIPE_CONFIRMED: &str = "device_wipe_confirmed";
}

/// An entry about a device (no document, change, field or rule).
pub fn device_entry(at: i64, user: &str, device: &str, code: &str, message: String) -> AuditEntry {
    AuditEntry {
        device: Some(device.to_owned()),
        ..AuditEntry::admin(at, user, code, message)
    }
}
