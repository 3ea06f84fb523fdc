//! Saved column mappings of imports (table `import_mappings`, migration
//! 016): a name, the kind it maps, its JSON, who saved it and when.
//!
//! Guarantees: one mapping per name (saving a name again replaces it);
//! this module stores what it is given: the checks (a valid mapping for
//! its kind, a valid name) are the caller's
//! ([`crate::api::admin::import_mappings`]).

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::Result;

/// Most mappings kept (listing them all stays cheap).
pub const MAX_SAVED: usize = 1000;

/// One saved mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMapping {
    /// Its name.
    pub name: String,
    /// The kind of record it maps (`account`, `contact`, `deal`, `activity`).
    pub kind: String,
    /// The mapping, JSON.
    pub mapping: String,
    /// Who saved it last.
    pub updated_by: String,
    /// When (RFC 3339).
    pub updated_at: String,
}

fn saved(r: &Row<'_>) -> rusqlite::Result<SavedMapping> {
    Ok(SavedMapping {
        name: r.get(0)?,
        kind: r.get(1)?,
        mapping: r.get(2)?,
        updated_by: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

/// Every saved mapping, by name.
pub fn list(conn: &Connection) -> Result<Vec<SavedMapping>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, kind, mapping, updated_by, updated_at FROM import_mappings
         ORDER BY name LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![MAX_SAVED as i64], saved)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The mapping saved as `name`, if any.
pub fn get(conn: &Connection, name: &str) -> Result<Option<SavedMapping>> {
    Ok(conn
        .query_row(
            "SELECT name, kind, mapping, updated_by, updated_at FROM import_mappings
             WHERE name = ?1",
            params![name],
            saved,
        )
        .optional()?)
}

/// How many mappings are saved.
pub fn count(conn: &Connection) -> Result<usize> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM import_mappings", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Saves `m` under its name, replacing what was saved there.
pub fn put(conn: &Connection, m: &SavedMapping) -> Result<()> {
    conn.execute(
        "INSERT INTO import_mappings(name, kind, mapping, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, mapping = excluded.mapping,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        params![m.name, m.kind, m.mapping, m.updated_by, m.updated_at],
    )?;
    Ok(())
}

/// Deletes the mapping saved as `name`; whether there was one.
pub fn delete(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM import_mappings WHERE name = ?1", params![name])? > 0)
}
