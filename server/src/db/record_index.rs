//! The server's index of record fields, search text and phone numbers, for
//! the office API: lists with filters, sorts and keyset pages ([`list`]),
//! full-text search ([`search`]) and caller lookup by phone ([`by_phone`]).
//!
//! The index is kept per class document (tables `record_docs`,
//! `record_fields`, `record_search`, `record_phones`, migration 007), so a
//! query counts only the classes its caller may read, and it joins the
//! `records` facts through [`sql_visible`] (= `visibility::sql_filter`) so it returns
//! only records the caller sees.
//!
//! Guarantees:
//! - [`refresh`] is called by every writer right after it stores a change
//!   of a class document (push, process engine, reclassification), inside
//!   the same transaction: the index never disagrees with what is
//!   committed. Its work is bounded by the document's size, and it writes
//!   only the rows that changed;
//! - every query applies the caller's visibility and class readability; a
//!   filter or sort on a field of a class the caller may not read is
//!   refused (`class_not_readable`), never answered, since which rows match
//!   would reveal the hidden values;
//! - user text reaches SQL only as parameters, and FTS5 only as quoted
//!   words;
//! - [`ensure_built`] rebuilds the whole index from the stored documents
//!   when it was made by an older indexing (or never), so a database
//!   migrated with documents in it is indexed before it is served.

mod archived;
mod keys;
mod list;
mod phones;
mod report_facts;
mod search;
mod targets;
#[cfg(test)]
mod tests;
mod visible;

use std::collections::{BTreeMap, HashMap};

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::value::phone_digits;
use fieldwork_core::{Access, DocId, FieldValue, RecordKind};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ServerError};

pub use archived::Archived;
pub use keys::{fold, sort_key, text_key};
pub use list::{Filter, FilterOp, ListPage, ListQuery, MAX_LIMIT, Sort, list};
pub use phones::{MAX_PHONE_HITS, PhoneHit, by_phone};
pub use report_facts::{
    FactsScope, Loaded, MAX_FACT_ROWS, PeriodScope, report_facts, sees_account,
};
pub use search::{MAX_HITS as MAX_SEARCH_HITS, SearchHit, search, titles};
pub use targets::{MAX_TARGETS, visible_targets};
pub use visible::sql_visible;

/// The indexing the rows are made with; bump it when [`refresh`] changes
/// what it writes (also when [`fieldwork_core::fold::FOLD_VERSION`]
/// changes: text keys and search text are folded), and [`ensure_built`]
/// rebuilds the index once. 2: text folded by `fieldwork_core::fold`
/// (`ł`, `ø`, `ß`… too), search text folded before FTS5 sees it.
pub const INDEX_VERSION: u32 = 2;

// The index's text is folded: a new folding needs a new index version.
const _: () = assert!(
    fieldwork_core::fold::FOLD_VERSION == 2,
    "bump INDEX_VERSION when FOLD_VERSION changes, then update this check"
);

const VERSION_KEY: &str = "record_index_version";

/// Replaces the index rows of class document `doc` with its current
/// fields: field values and sort keys, search text, E.164 phone numbers.
/// Writes only what changed; bounded by the document's size.
pub fn refresh(conn: &Connection, doc: &ClassDoc) -> Result<()> {
    let id = doc.id();
    let doc_id = id.to_string();
    let record = id.record().to_string();
    let kind = id.record().kind();
    let class = id.class().as_str();
    conn.prepare_cached(
        "INSERT INTO record_docs(doc_id, record_id, kind, class) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(doc_id) DO NOTHING",
    )?
    .execute(params![doc_id, record, kind.as_str(), class])?;
    let rid: i64 = conn
        .prepare_cached("SELECT rid FROM record_docs WHERE doc_id = ?1")?
        .query_row([&doc_id], |r| r.get(0))?;
    // Custom fields (`x_…`) are indexed as the scalars they are stored as;
    // whether one may be filtered on is the policy's to say ([`list`]).
    let fields: BTreeMap<String, (FieldType, FieldValue)> = doc
        .fields()
        .into_iter()
        .filter_map(|(name, value)| {
            schema::custom::stored_type(kind, &name).map(|ty| (name, (ty, value)))
        })
        .collect();
    let ctx = Ctx {
        conn,
        doc_id: &doc_id,
        record: &record,
        kind,
        class,
    };
    ctx.write_fields(&fields)?;
    ctx.write_phones(&fields)?;
    write_search(conn, rid, &search_text(kind, &fields))
}

/// Which document [`refresh`] is writing.
struct Ctx<'a> {
    conn: &'a Connection,
    doc_id: &'a str,
    record: &'a str,
    kind: RecordKind,
    class: &'a str,
}

impl Ctx<'_> {
    fn write_fields(&self, fields: &BTreeMap<String, (FieldType, FieldValue)>) -> Result<()> {
        let mut old: HashMap<String, String> = self
            .conn
            .prepare_cached("SELECT field, value_json FROM record_fields WHERE doc_id = ?1")?
            .query_map([self.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut upsert = self.conn.prepare_cached(
            "INSERT INTO record_fields(doc_id, record_id, kind, class, field, value_json, sort_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(doc_id, field) DO UPDATE SET value_json = ?6, sort_key = ?7,
                 record_id = ?2, kind = ?3, class = ?4",
        )?;
        for (name, (ty, value)) in fields {
            let json = serde_json::to_string(value)
                .map_err(|e| ServerError::Internal(format!("{}: {name}: {e}", self.doc_id)))?;
            if old.remove(name.as_str()).as_deref() == Some(json.as_str()) {
                continue;
            }
            upsert.execute(params![
                self.doc_id,
                self.record,
                self.kind.as_str(),
                self.class,
                name,
                json,
                keys::sort_key(*ty, value),
            ])?;
        }
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM record_fields WHERE doc_id = ?1 AND field = ?2")?;
        for gone in old.keys() {
            delete.execute(params![self.doc_id, gone])?;
        }
        Ok(())
    }

    fn write_phones(&self, fields: &BTreeMap<String, (FieldType, FieldValue)>) -> Result<()> {
        let mut old: HashMap<String, String> = self
            .conn
            .prepare_cached("SELECT field, e164 FROM record_phones WHERE doc_id = ?1")?
            .query_map([self.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut upsert = self.conn.prepare_cached(
            "INSERT INTO record_phones(doc_id, field, e164, record_id, kind, class)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(doc_id, field) DO UPDATE SET e164 = ?3, record_id = ?4, kind = ?5, class = ?6",
        )?;
        for (name, (ty, value)) in fields {
            let (FieldType::Phone, Some(raw)) = (ty, value.as_text()) else {
                continue;
            };
            let Some(e164) = crate::phone::normalise_default(raw) else {
                continue;
            };
            if old.remove(name.as_str()).as_deref() == Some(e164.as_str()) {
                continue;
            }
            upsert.execute(params![
                self.doc_id,
                name,
                e164,
                self.record,
                self.kind.as_str(),
                self.class
            ])?;
        }
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM record_phones WHERE doc_id = ?1 AND field = ?2")?;
        for gone in old.keys() {
            delete.execute(params![self.doc_id, gone])?;
        }
        Ok(())
    }
}

/// The search columns of one class document: names, e-mails, phones (with
/// every trailing run of 4+ digits, so a number is found by its end typed
/// with or without country code) and long text. The same split the
/// device's index makes, per class document.
type SearchText = [String; 4];

/// Short text fields that are searched with the names.
const NAME_LIKE: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "subject",
    "title",
    "position",
    "industry",
    "city",
    "topic",
];

fn search_text(kind: RecordKind, fields: &BTreeMap<String, (FieldType, FieldValue)>) -> SearchText {
    let (mut name, mut emails, mut phones, mut body) = (vec![], vec![], vec![], vec![]);
    let title = schema::title_field(kind);
    for (field, (ty, value)) in fields {
        let Some(text) = value.as_text() else {
            continue;
        };
        match ty {
            FieldType::Email => emails.push(text.to_owned()),
            FieldType::Phone => {
                phones.push(text.to_owned());
                let digits = phone_digits(text);
                for start in 0..digits.len().saturating_sub(3) {
                    phones.push(digits.get(start..).unwrap_or_default().to_owned());
                }
            }
            FieldType::LongText => body.push(text.to_owned()),
            FieldType::Text { max } if *max >= 2000 && *field != "definition" => {
                body.push(text.to_owned())
            }
            _ if field == title || NAME_LIKE.contains(&field.as_str()) => {
                name.push(text.to_owned())
            }
            _ => {}
        }
    }
    [
        fold(&name.join(" ")),
        fold(&emails.join(" ")),
        fold(&phones.join(" ")),
        fold(&body.join("\n")),
    ]
}

fn write_search(conn: &Connection, rid: i64, text: &SearchText) -> Result<()> {
    let old: Option<SearchText> = conn
        .prepare_cached("SELECT name, emails, phones, body FROM record_search WHERE rowid = ?1")?
        .query_row([rid], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))
        .optional()?;
    let empty = text.iter().all(String::is_empty);
    if old.as_ref() == Some(text) || (old.is_none() && empty) {
        return Ok(());
    }
    if old.is_some() {
        conn.prepare_cached("DELETE FROM record_search WHERE rowid = ?1")?
            .execute([rid])?;
    }
    if !empty {
        let [name, emails, phones, body] = text;
        conn.prepare_cached(
            "INSERT INTO record_search(rowid, name, emails, phones, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![rid, name, emails, phones, body])?;
    }
    Ok(())
}

/// Empties the index and indexes every stored document again. Returns how
/// many documents it indexed. A document the server cannot load is logged
/// and skipped (it is equally unloadable for sync). Run inside a write
/// transaction.
pub fn rebuild(conn: &Connection) -> Result<u64> {
    conn.execute_batch(
        "DELETE FROM record_fields; DELETE FROM record_phones;
         DELETE FROM record_search; DELETE FROM record_docs;",
    )?;
    // The actor is never used to write: these copies are read and dropped.
    let reader = ActorId::from(vec![0u8; 16]);
    let mut n = 0;
    let mut after = String::new();
    loop {
        let batch = super::documents::docs_after(conn, &after, 256)?;
        let Some((last, _)) = batch.last() else {
            break;
        };
        after = last.clone();
        for (doc_text, _) in batch {
            let Ok(id) = doc_text.parse::<DocId>() else {
                tracing::warn!(doc = %doc_text, "not indexed: malformed document id");
                continue;
            };
            let Some((snapshot, changes)) = super::documents::whole(conn, &doc_text)? else {
                continue;
            };
            let loaded = ClassDoc::load(
                id,
                snapshot.as_deref(),
                changes.iter().map(Vec::as_slice),
                reader.clone(),
            );
            match loaded {
                Ok(doc) => {
                    refresh(conn, &doc)?;
                    n += 1;
                }
                Err(e) => tracing::warn!(doc = %doc_text, error = %e, "not indexed"),
            }
        }
    }
    Ok(n)
}

/// Rebuilds the index ([`rebuild`]) unless it was built by this
/// [`INDEX_VERSION`] already; records the version. Returns the number of
/// documents indexed when it rebuilt. Call once at open, inside the
/// opening transaction.
pub fn ensure_built(conn: &Connection) -> Result<Option<u64>> {
    let built = super::meta_get(conn, VERSION_KEY)?.and_then(|v| v.parse::<u32>().ok());
    if built == Some(INDEX_VERSION) {
        return Ok(None);
    }
    let n = rebuild(conn)?;
    super::meta_set(conn, VERSION_KEY, &INDEX_VERSION.to_string())?;
    if n > 0 {
        tracing::info!(documents = n, "record index rebuilt");
    }
    Ok(Some(n))
}

/// The classes `access` may read, as an SQL condition on `column` with its
/// parameters (`1` for a local store, which reads everything).
pub(crate) fn readable_classes(access: &Access, column: &str) -> (String, Vec<Value>) {
    let Some(policy) = access.policy() else {
        return ("1".into(), Vec::new());
    };
    let classes: Vec<Value> = policy
        .classes()
        .keys()
        .filter(|c| access.can_read_class(c))
        .map(|c| Value::Text(c.as_str().to_owned()))
        .collect();
    if classes.is_empty() {
        return ("0".into(), Vec::new());
    }
    let marks = vec!["?"; classes.len()].join(", ");
    (format!("{column} IN ({marks})"), classes)
}

/// The visibility condition of a query over index rows aliased `index`
/// joined (`LEFT JOIN records r`) with their facts: the record is seen
/// ([`sql_visible`] on `r`), and process models, which
/// everyone sees, also when they have no facts row.
pub(crate) fn visible(access: &Access, index: &str) -> (String, Vec<Value>) {
    let (expr, args) = sql_visible(access, "r");
    (
        format!(
            "({index}.kind = '{}' OR {expr})",
            RecordKind::ProcessModel.as_str()
        ),
        args,
    )
}

/// Reads a stored kind (the index writes only valid ones).
pub(crate) fn stored_kind(text: &str) -> Result<RecordKind> {
    text.parse()
        .map_err(|_| ServerError::Internal(format!("the record index holds a bad kind `{text}`")))
}
