//! Small key-value settings of the device store (device id, actor, locale,
//! sign-in, sync cursor).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// Keys used in the `meta` table.
pub(crate) mod keys {
    pub const DEVICE_ID: &str = "device_id";
    pub const ACTOR: &str = "actor";
    pub const LOCALE: &str = "locale";
    /// The [`SignIn`](crate::store::SignIn) as JSON; the key keeps its
    /// original name so that existing stores read back.
    pub const SIGN_IN: &str = "session";
    pub const CURSOR: &str = "sync_cursor";
    pub const DIRECTORY: &str = "directory";
    pub const RESYNC: &str = "resync";
    /// The [`FOLD_VERSION`](crate::fold::FOLD_VERSION) the search rows were
    /// folded with (absent: written before folding; see `store/search.rs`).
    pub const SEARCH_FOLD: &str = "search_fold";
}

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}
