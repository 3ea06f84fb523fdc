//! The erasure log (table `erasures`, migration 014): which contacts were
//! erased, by whom, when, and how much was removed (`crate::erasure`).
//!
//! Guarantees:
//! - a row never holds an erased value: only the contact's id, the
//!   administrator's name, the time and counts;
//! - [`is_erased`] is one indexed seek, cheap enough for every pushed
//!   change of a contact.

use fieldwork_core::RecordId;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::Result;

/// One erasure carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureEntry {
    /// The contact erased (`contact:ULID`).
    pub contact: String,
    /// Who asked (an administrator's name, `admin-cli` for the CLI).
    pub by: String,
    /// When (ms since the Unix epoch).
    pub at: i64,
    /// Class documents rewritten with a fresh history.
    pub documents_rewritten: u64,
    /// Rows removed or rewritten in the server's other tables.
    pub rows_purged: u64,
}

/// Appends `entry` to the log; returns its id.
pub fn record(conn: &Connection, entry: &ErasureEntry) -> Result<i64> {
    conn.execute(
        "INSERT INTO erasures(contact_id, erased_by, erased_at, documents_rewritten, rows_purged)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            entry.contact,
            entry.by,
            entry.at,
            i64::try_from(entry.documents_rewritten).unwrap_or(i64::MAX),
            i64::try_from(entry.rows_purged).unwrap_or(i64::MAX),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Whether `record` was ever erased.
pub fn is_erased(conn: &Connection, record: &RecordId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM erasures WHERE contact_id = ?1 LIMIT 1")?
        .exists([record.to_string()])?)
}

/// Every erasure of `record`, oldest first.
pub fn of_contact(conn: &Connection, record: &RecordId) -> Result<Vec<ErasureEntry>> {
    let mut stmt = conn.prepare(
        "SELECT contact_id, erased_by, erased_at, documents_rewritten, rows_purged
           FROM erasures WHERE contact_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([record.to_string()], |r| {
        Ok(ErasureEntry {
            contact: r.get(0)?,
            by: r.get(1)?,
            at: r.get(2)?,
            documents_rewritten: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            rows_purged: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
