//! Full-text search over the index, and record titles.
//!
//! Behaves as the device's search: every typed word is a prefix (`jos`
//! finds `José`), accents, case and special Latin letters are ignored
//! (`szoke` finds `Szőke`, `lodz` finds `Łódź`; the indexed text and the
//! query are both folded by [`fieldwork_core::fold::fold`]),
//! all words must match, names weigh most (BM25). On the server the text is
//! kept per class document: a word counts only where it occurs in a class
//! the caller may read, and the words of one query may match in different
//! readable classes of one record (a name in one, an e-mail in another).
//!
//! Guarantees:
//! - only records the caller sees and that are not archived, through
//!   readable classes only; titles
//!   are read from readable classes only;
//! - user text reaches FTS5 only as quoted words (at most [`MAX_WORDS`]),
//!   never as query syntax; at most [`MAX_HITS`] hits.

use std::collections::HashMap;

use fieldwork_core::schema;
use fieldwork_core::{Access, FieldValue, RecordKind};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Archived, archived, fold, readable_classes, stored_kind, visible};
use crate::error::Result;

/// Most words of a query that are searched (the rest are ignored).
pub const MAX_WORDS: usize = 8;

/// Most hits of one search.
pub const MAX_HITS: usize = 100;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The record found.
    pub record_id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// Its display name, from the classes the caller may read (the record
    /// id when none holds it).
    pub title: String,
    /// BM25 score summed over the words: lower is better.
    pub rank: f64,
}

/// The distinct words of `text` as quoted FTS5 prefix queries.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let q = format!("\"{w}\"*");
        if !out.contains(&q) {
            out.push(q);
        }
        if out.len() == MAX_WORDS {
            break;
        }
    }
    out
}

/// Searches the records `access` sees for `text`, optionally only of
/// `kinds`; best first, at most `limit` (capped at [`MAX_HITS`]).
pub fn search(
    conn: &Connection,
    access: &Access,
    text: &str,
    kinds: Option<&[RecordKind]>,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let words = words(text);
    if words.is_empty() || kinds.is_some_and(<[RecordKind]>::is_empty) {
        return Ok(Vec::new());
    }
    let (classes, class_args) = readable_classes(access, "d.class");
    let kind_filter = kinds.map(|k| {
        let marks = vec!["?"; k.len()].join(", ");
        (format!(" AND d.kind IN ({marks})"), k)
    });
    // Each word's matches are materialised on their own: FTS5 ranks only
    // in a query it drives, so the join with the documents comes after.
    let mut sql = String::from("WITH ");
    let mut args: Vec<Value> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        sql.push_str(&format!(
            "m{i} AS MATERIALIZED (SELECT rowid AS rid, bm25(record_search, 10.0, 5.0, 5.0, 1.0) AS score
                                     FROM record_search WHERE record_search MATCH ?), "
        ));
        args.push(Value::Text(word.clone()));
    }
    sql.push_str("hits(record_id, kind, w, score) AS (");
    for i in 0..words.len() {
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(&format!(
            "SELECT d.record_id, d.kind, {i}, m{i}.score
               FROM m{i} JOIN record_docs d ON d.rid = m{i}.rid
              WHERE {classes}"
        ));
        args.extend(class_args.iter().cloned());
        if let Some((cond, kinds)) = &kind_filter {
            sql.push_str(cond);
            args.extend(kinds.iter().map(|k| Value::Text(k.as_str().to_owned())));
        }
    }
    let (vis, vis_args) = visible(access, "b");
    let arch = archived::condition(Archived::Exclude, "b.record_id");
    sql.push_str(&format!(
        "), best AS (SELECT record_id, kind, w, min(score) AS score FROM hits GROUP BY record_id, w)
         SELECT b.record_id, b.kind, sum(b.score) AS total FROM best b
           LEFT JOIN records r ON r.record_id = b.record_id
          WHERE {vis}{arch}
          GROUP BY b.record_id HAVING count(*) = ?
          ORDER BY total, b.record_id LIMIT ?"
    ));
    args.extend(vis_args);
    args.push(Value::Integer(words.len() as i64));
    args.push(Value::Integer(limit.clamp(1, MAX_HITS) as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows: Vec<(String, String, f64)> = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut hits = Vec::with_capacity(rows.len());
    for (record_id, kind, rank) in rows {
        hits.push(SearchHit {
            kind: stored_kind(&kind)?,
            title: String::new(),
            record_id,
            rank,
        });
    }
    let ids: Vec<String> = hits.iter().map(|h| h.record_id.clone()).collect();
    let mut titles = titles(conn, access, &ids)?;
    for hit in &mut hits {
        hit.title = titles
            .remove(&hit.record_id)
            .unwrap_or_else(|| hit.record_id.clone());
    }
    Ok(hits)
}

/// The display names of `records` as the device shows them (a contact's
/// first and last name, otherwise the kind's title field), read from the
/// classes `access` may read only. Records without a readable title (or
/// with a malformed id) are absent. Does not check visibility: callers
/// pass records they have selected as visible.
pub fn titles(
    conn: &Connection,
    access: &Access,
    records: &[String],
) -> Result<HashMap<String, String>> {
    let (classes, class_args) = readable_classes(access, "class");
    let sql = format!(
        "SELECT field, value_json FROM record_fields
          WHERE record_id = ? AND field IN (?, ?) AND {classes}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = HashMap::new();
    for record in records {
        let Some(kind) = record
            .split_once(':')
            .and_then(|(k, _)| k.parse::<RecordKind>().ok())
        else {
            continue;
        };
        let fields: Vec<&str> = match kind {
            RecordKind::Contact => vec!["first_name", "last_name"],
            _ => vec![schema::title_field(kind)],
        };
        let mut args = vec![Value::Text(record.clone())];
        let (first, last) = (fields.first(), fields.last());
        args.extend(
            [first, last]
                .into_iter()
                .flatten()
                .map(|f| Value::Text((*f).to_owned())),
        );
        args.extend(class_args.iter().cloned());
        let rows: Vec<(String, String)> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let values: HashMap<String, String> = rows
            .into_iter()
            .filter_map(|(field, json)| {
                let value: FieldValue = serde_json::from_str(&json).ok()?;
                Some((field, value.display()))
            })
            .collect();
        let title = fields
            .iter()
            .filter_map(|f| values.get(*f).filter(|v| !v.trim().is_empty()).cloned())
            .collect::<Vec<_>>()
            .join(" ");
        if !title.is_empty() {
            out.insert(record.clone(), title);
        }
    }
    Ok(out)
}
