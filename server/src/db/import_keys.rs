//! Which record each imported row became: (kind, external id) → record id
//! (table `import_keys`, migration 013), so that importing a file again
//! updates the records it made.

use fieldwork_core::{RecordId, RecordKind};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// The record imported for `external_id` of `kind`, if any.
pub fn get(conn: &Connection, kind: RecordKind, external_id: &str) -> Result<Option<RecordId>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT record_id FROM import_keys WHERE kind = ?1 AND external_id = ?2",
            params![kind.as_str(), external_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id.and_then(|id| id.parse().ok()))
}

/// Records that `external_id` of `kind` is `record` (replacing an older
/// entry, whose record is gone), at `at` (RFC 3339).
pub fn put(
    conn: &Connection,
    kind: RecordKind,
    external_id: &str,
    record: &RecordId,
    at: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO import_keys(kind, external_id, record_id, imported_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(kind, external_id) DO UPDATE SET record_id = excluded.record_id,
             imported_at = excluded.imported_at",
        params![kind.as_str(), external_id, record.to_string(), at],
    )?;
    Ok(())
}
