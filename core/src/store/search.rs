//! Full-text search over the index (SQLite FTS5).
//!
//! Every word typed is a prefix (`jos` finds `José`), all words must match,
//! accents, case and special Latin letters are ignored (`szoke` finds
//! `Szőke`, `lodz` finds `Łódź`, `strasse` finds `Straße`), and results are
//! ranked by BM25 with names weighing most. User text never reaches FTS5's
//! query syntax unescaped: each word is quoted.
//!
//! Both the indexed text and the query are folded by [`crate::fold::fold`]
//! (the function the server's index uses too). The rows record the
//! [`FOLD_VERSION`] they were folded with (`meta` key `search_fold`); a store
//! written with another one is re-folded once when it opens
//! ([`refold_if_needed`]), in one transaction.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::meta;
use crate::error::{CoreError, Result};
use crate::fold::{FOLD_VERSION, fold};
use crate::ids::{RecordId, RecordKind};

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The record found.
    pub id: RecordId,
    /// Its display name.
    pub title: String,
    /// BM25 score (lower is better), for callers that merge result lists.
    pub rank: f64,
}

/// Turns free text into an FTS5 query: every word quoted and made a prefix.
/// Returns `None` when the text has no searchable word.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

/// Writes the search row `rid` of a record: its name, e-mail, phone and
/// body text, each folded.
pub(crate) fn insert_row(conn: &Connection, rid: i64, columns: [&str; 4]) -> Result<()> {
    let [name, emails, phones, body] = columns.map(fold);
    conn.prepare_cached(
        "INSERT INTO search(rowid, name, emails, phones, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![rid, name, emails, phones, body])?;
    Ok(())
}

/// Re-folds every search row when the store's rows were written with
/// another [`FOLD_VERSION`] (or before folding existed), and records the
/// version; all in one transaction. Folding is idempotent, so rows already
/// folded stay as they are. Returns how many rows were rewritten.
pub(crate) fn refold_if_needed(conn: &mut Connection) -> Result<usize> {
    let current = FOLD_VERSION.to_string();
    if meta::get(conn, meta::keys::SEARCH_FOLD)?.as_deref() == Some(current.as_str()) {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let rows: Vec<(i64, [String; 4])> = {
        let mut stmt = tx.prepare("SELECT rowid, name, emails, phones, body FROM search")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut changed = 0;
    for (rid, columns) in &rows {
        if columns.iter().all(|c| fold(c) == *c) {
            continue;
        }
        tx.execute("DELETE FROM search WHERE rowid = ?1", [rid])?;
        insert_row(&tx, *rid, columns.each_ref().map(String::as_str))?;
        changed += 1;
    }
    meta::set(&tx, meta::keys::SEARCH_FOLD, &current)?;
    tx.commit()?;
    Ok(changed)
}

/// Searches names, e-mails, phones and notes of records that are not
/// archived; best matches first.
pub(crate) fn search(
    conn: &Connection,
    text: &str,
    kind: Option<RecordKind>,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let Some(query) = fts_query(text) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT r.record_id, r.title, bm25(search, 10.0, 5.0, 5.0, 1.0) AS score
           FROM search JOIN records r ON r.rid = search.rowid
          WHERE search MATCH ?1 AND (?2 IS NULL OR r.kind = ?2) AND r.archived = 0
          ORDER BY score, r.title_key
          LIMIT ?3",
    )?;
    let mut rows = stmt.query(rusqlite::params![
        query,
        kind.map(RecordKind::as_str),
        limit.min(1000) as i64
    ])?;
    let mut hits = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        hits.push(SearchHit {
            id: id
                .parse()
                .map_err(|_| CoreError::Corrupt(format!("index holds a malformed id `{id}`")))?,
            title: row.get(1)?,
            rank: row.get(2)?,
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::{FieldWrite, Store};

    fn titles(store: &Store, text: &str) -> Vec<String> {
        store
            .search(text, None, 10)
            .expect("search")
            .into_iter()
            .map(|h| h.title)
            .collect()
    }

    #[test]
    fn special_latin_letters_are_found_as_people_type_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("d.db");
        let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
        let mut s = Store::open(&path, clock.clone()).expect("open");
        for name in ["Łódź Hurt", "Østergaard ApS", "Hauptstraße Bäckerei"] {
            s.create(RecordKind::Account, vec![FieldWrite::set("name", name)])
                .expect("create");
        }
        assert_eq!(titles(&s, "lodz"), ["Łódź Hurt"]);
        assert_eq!(titles(&s, "ŁÓDŹ hu"), ["Łódź Hurt"]);
        assert_eq!(titles(&s, "ostergaard"), ["Østergaard ApS"]);
        assert_eq!(
            titles(&s, "hauptstrasse backerei"),
            ["Hauptstraße Bäckerei"]
        );
        assert_eq!(titles(&s, "Hauptstraße"), ["Hauptstraße Bäckerei"]);

        // A store indexed before folding (unfolded rows, no version) is
        // re-folded when it opens.
        s.conn
            .execute_batch(
                "UPDATE search SET name = (SELECT title FROM records WHERE rid = search.rowid);
                 DELETE FROM meta WHERE key = 'search_fold';",
            )
            .expect("age the index");
        assert!(titles(&s, "lodz").is_empty(), "the aged index misses it");
        drop(s);
        let s = Store::open(&path, clock).expect("reopen");
        assert_eq!(titles(&s, "lodz"), ["Łódź Hurt"]);
        assert_eq!(titles(&s, "ostergaard"), ["Østergaard ApS"]);
        assert_eq!(
            meta::get(&s.conn, meta::keys::SEARCH_FOLD)
                .expect("meta")
                .as_deref(),
            Some(FOLD_VERSION.to_string().as_str())
        );
    }

    #[test]
    fn user_text_is_quoted_word_by_word() {
        assert_eq!(
            fts_query("José Szőke").as_deref(),
            Some("\"jose\"* \"szoke\"*")
        );
        assert_eq!(
            fts_query("a\" OR b NEAR(").as_deref(),
            Some("\"a\"* \"or\"* \"b\"* \"near\"*")
        );
        assert_eq!(fts_query("Straße").as_deref(), Some("\"strasse\"*"));
        assert_eq!(fts_query("  -- "), None);
    }
}
