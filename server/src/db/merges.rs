//! The merge log (table `merges`, migration 015): one row per merge of a
//! duplicate (the loser) into the record kept (the survivor), with what the
//! merge filled and re-pointed, so that its undo puts back exactly that.
//!
//! Guarantees: a row is written in the transaction that stores the merge's
//! changes and marked undone in the one that stores the undo's (the
//! callers pass that transaction); `undone_at` is set at most once.

use fieldwork_core::RecordId;
use fieldwork_core::merge::{Fill, Repoint};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Result, ServerError};

/// Most merges [`involving`] answers.
pub const LIST_LIMIT: usize = 100;

/// One merge as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    /// Its id.
    pub id: i64,
    /// The record kept.
    pub survivor: RecordId,
    /// The record merged into it.
    pub loser: RecordId,
    /// Who merged.
    pub merged_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub merged_at: i64,
    /// The survivor fields filled, with their previous values.
    pub filled: Vec<Fill>,
    /// The references moved from the loser to the survivor.
    pub repointed: Vec<Repoint>,
    /// Who undid it, and when (milliseconds), once undone.
    pub undone: Option<(String, i64)>,
}

/// Logs a merge; returns its id.
pub fn insert(
    conn: &Connection,
    survivor: &RecordId,
    loser: &RecordId,
    by: &str,
    at_ms: i64,
    filled: &[Fill],
    repointed: &[Repoint],
) -> Result<i64> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| ServerError::Internal(e.to_string()));
    conn.execute(
        "INSERT INTO merges(kind, survivor, loser, merged_by, merged_at, filled_json, repointed_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            survivor.kind().as_str(),
            survivor.to_string(),
            loser.to_string(),
            by,
            at_ms,
            json(serde_json::to_string(filled))?,
            json(serde_json::to_string(repointed))?,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

const COLUMNS: &str = "id, survivor, loser, merged_by, merged_at, filled_json, repointed_json, \
                       undone_by, undone_at";

/// The merge `id`, if logged.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Merge>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM merges WHERE id = ?1"),
            [id],
            raw,
        )
        .optional()?;
    row.map(decode).transpose()
}

/// The latest merges with `record` as survivor or loser, newest first (at
/// most [`LIST_LIMIT`]).
pub fn involving(conn: &Connection, record: &RecordId) -> Result<Vec<Merge>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM merges WHERE survivor = ?1
         UNION SELECT {COLUMNS} FROM merges WHERE loser = ?1
         ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![record.to_string(), LIST_LIMIT as i64], raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode).collect()
}

/// Marks merge `id` undone by `by` at `at_ms`; false when it already was.
pub fn mark_undone(conn: &Connection, id: i64, by: &str, at_ms: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE merges SET undone_by = ?2, undone_at = ?3 WHERE id = ?1 AND undone_at IS NULL",
        params![id, by, at_ms],
    )?;
    Ok(n == 1)
}

type Raw = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn decode(raw: Raw) -> Result<Merge> {
    let (id, survivor, loser, merged_by, merged_at, filled, repointed, undone_by, undone_at) = raw;
    let corrupt = |what: &str| ServerError::Internal(format!("merge {id}: unreadable {what}"));
    let id_of = |s: &str| s.parse::<RecordId>().map_err(|_| corrupt("record id"));
    Ok(Merge {
        id,
        survivor: id_of(&survivor)?,
        loser: id_of(&loser)?,
        merged_by,
        merged_at,
        filled: serde_json::from_str(&filled).map_err(|_| corrupt("fills"))?,
        repointed: serde_json::from_str(&repointed).map_err(|_| corrupt("references"))?,
        undone: undone_by.zip(undone_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::{FieldValue, RecordKind};

    #[test]
    fn a_merge_is_logged_listed_and_undone_once() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(include_str!("migrations/015_merges.sql"))
            .expect("schema");
        let (s, l) = (
            RecordId::new_random(RecordKind::Account),
            RecordId::new_random(RecordKind::Account),
        );
        let filled = vec![Fill {
            field: "city".into(),
            value: FieldValue::Text("Sevilla".into()),
            previous: None,
        }];
        let repointed = vec![Repoint {
            record: RecordId::new_random(RecordKind::Contact),
            field: "account".into(),
        }];
        let id = insert(&conn, &s, &l, "marta", 1_000, &filled, &repointed).expect("insert");
        let got = get(&conn, id).expect("get").expect("logged");
        assert_eq!((got.filled, got.repointed), (filled, repointed));
        assert_eq!(involving(&conn, &l).expect("list").len(), 1);
        assert_eq!(involving(&conn, &s).expect("list")[0].id, id);
        assert!(mark_undone(&conn, id, "marta", 2_000).expect("undo"));
        assert!(!mark_undone(&conn, id, "marta", 3_000).expect("undo twice"));
        let undone = get(&conn, id).expect("get").expect("logged").undone;
        assert_eq!(undone, Some(("marta".into(), 2_000)));
        assert_eq!(get(&conn, id + 1).expect("get"), None);
    }
}
