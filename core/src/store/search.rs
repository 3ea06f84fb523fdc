//! Full-text search over the index (SQLite FTS5).
//!
//! Every word typed is a prefix (`jos` finds `José`), all words must match,
//! accents and case are ignored (`szoke` finds `Szőke`), and results are
//! ranked by BM25 with names weighing most. User text never reaches FTS5's
//! query syntax unescaped: each word is quoted.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
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
    let words: Vec<String> = text
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
    use super::*;

    #[test]
    fn user_text_is_quoted_word_by_word() {
        assert_eq!(
            fts_query("José Szőke").as_deref(),
            Some("\"José\"* \"Szőke\"*")
        );
        assert_eq!(
            fts_query("a\" OR b NEAR(").as_deref(),
            Some("\"a\"* \"OR\"* \"b\"* \"NEAR\"*")
        );
        assert_eq!(fts_query("  -- "), None);
    }
}
