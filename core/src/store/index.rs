//! The materialised index: one row per record for listing, filtering and
//! sorting (and the columns reports read, see `store/reports.rs`), plus its
//! full-text row. Rebuilt from the record's documents after
//! every change, local or remote, inside the same transaction.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::collation::NameCollator;
use crate::error::{CoreError, Result};
use crate::ids::{RecordId, RecordKind};
use crate::policy::Policy;
use crate::record::Record;
use crate::report::facts::{Facts, encode_stages};
use crate::schema::{self, FieldType};
pub use crate::summary::{Archived, Summary};
use crate::value::{FieldValue, phone_digits};

mod custom;
mod keyset;

/// Orders for record lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// By display name, in the user's locale.
    #[default]
    Name,
    /// By lifecycle or pipeline stage, in stage order.
    Stage,
    /// By owner, then name.
    Owner,
    /// By territory, then name.
    Territory,
    /// By due or start time (activities), expected close (deals).
    Due,
    /// By amount (deals).
    Amount,
    /// By last change, newest first unless reversed.
    Updated,
}

impl std::str::FromStr for Sort {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "name" => Sort::Name,
            "stage" => Sort::Stage,
            "owner" => Sort::Owner,
            "territory" => Sort::Territory,
            "due" | "due_at" => Sort::Due,
            "amount" => Sort::Amount,
            "updated" | "updated_at" => Sort::Updated,
            _ => {
                return Err(CoreError::Invalid(crate::error::ValidationError::field(
                    "sort",
                    format!(
                        "`{s}` is not one of name, stage, owner, territory, due, amount, updated"
                    ),
                )));
            }
        })
    }
}

/// A list request: one kind, optional filters, an order and a page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListQuery {
    /// Which kind of record (accounts when `None`).
    pub kind: Option<RecordKind>,
    /// Order.
    #[serde(default)]
    pub sort: Sort,
    /// Reverse the order.
    #[serde(default)]
    pub descending: bool,
    /// Only this stage.
    pub stage: Option<String>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this territory.
    pub territory: Option<String>,
    /// Only children of this account.
    pub account: Option<RecordId>,
    /// Only activities assigned to this user.
    pub assignee: Option<String>,
    /// Only this status (activities).
    pub status: Option<String>,
    /// Only this type (activities, relationships).
    pub r#type: Option<String>,
    /// Due at or after this instant (activities).
    pub due_from: Option<Timestamp>,
    /// Due before this instant (activities).
    pub due_before: Option<Timestamp>,
    /// At most this many rows (default 100).
    pub limit: Option<usize>,
    /// Skip this many rows.
    #[serde(default)]
    pub offset: usize,
    /// Continue after this cursor: the [`ListPage::next`] of the previous
    /// page of the same order (sort and direction); filters may differ.
    /// Giving it with a non-zero `offset` is `Invalid` (field `after`), as
    /// is a cursor of another order or one not handed out by a page.
    #[serde(default)]
    pub after: Option<String>,
    /// Archived records: left out (default), included, or only them.
    #[serde(default)]
    pub archived: Archived,
    /// Only records whose custom fields (`x_…`) have these values, as
    /// typed (`smb`, `12`, `true`); any other field name is `Invalid`.
    #[serde(default)]
    pub custom: std::collections::BTreeMap<String, String>,
    /// Order by this custom field instead of `sort` (records without a
    /// value last, then by name). Such a list pages by `offset` only: a
    /// page has no `next` cursor and `after` is `Invalid`.
    #[serde(default)]
    pub sort_custom: Option<String>,
}

/// One page of a list and the cursor of the next.
///
/// Guarantees, for pages walked with [`ListQuery::after`] set to the
/// previous page's `next` (same order, same filters): when no record
/// changes, every record of the list is returned exactly once, in the
/// list's order, none twice and none skipped; when records are added,
/// removed or changed between pages, a record that stays in the list and
/// keeps its sort key is still returned exactly once (the others may or may
/// not be). A page costs one index query however deep it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPage {
    /// The rows of this page, in the list's order.
    pub items: Vec<Summary>,
    /// The cursor to pass as [`ListQuery::after`] for the next page;
    /// `Some` only when more rows follow (never for a limit of 0).
    pub next: Option<String>,
}

/// `stage`'s place in the stage list of `kind` under `policy` (a deal
/// stage picklist orders deals); `None` for a stage not in it.
fn stage_rank(policy: &Policy, kind: RecordKind, stage: Option<&str>) -> Option<i64> {
    let stages = match kind {
        RecordKind::Account => schema::ACCOUNT_STAGES,
        RecordKind::Deal => policy.deal_stages(),
        _ => return None,
    };
    let stage = stage?;
    stages.iter().position(|s| *s == stage).map(|p| p as i64)
}

/// Upserts `record`'s index and search rows. `updated_at` is the newest
/// change time of its documents (seconds).
pub(crate) fn refresh(
    tx: &Connection,
    collator: &NameCollator,
    policy: &Policy,
    record: &Record,
    updated_at: i64,
    now: i64,
) -> Result<()> {
    let kind = record.kind();
    let title = record.title();
    let text = |f: &str| record.text(f).map(str::to_owned);
    // Which account it belongs to and which territory decides who sees
    // it: the one rule book's answer (`rules::parent_account`,
    // `rules::territory_of`), with the account's territory as indexed.
    let parent = record.account();
    let inherited = match &parent {
        Some(acc) => account_territory(tx, acc)?,
        None => None,
    };
    let account = parent.map(|a| a.to_string());
    let territory = record.facts(inherited).territory;
    let stage = text("stage");
    let status = match kind {
        RecordKind::Activity => text("status"),
        _ => None,
    };
    let due = crate::summary::due_of(record).map(Timestamp::as_second);
    let (amount, currency) = match kind {
        RecordKind::Deal => (
            record.get("amount").and_then(FieldValue::as_int),
            text("currency"),
        ),
        _ => (None, None),
    };
    let archived = record.get(schema::ARCHIVED) == Some(&FieldValue::Bool(true));
    let report = ReportColumns::of(record)?;
    let custom = custom::column(policy, record);
    let record_id = record.id.to_string();
    let existing: Option<i64> = tx
        .prepare_cached("SELECT rid FROM records WHERE record_id = ?1")?
        .query_row([&record_id], |r| r.get(0))
        .optional()?;
    let columns = params![
        record_id,
        kind.as_str(),
        title,
        collator.sort_key(&title),
        stage,
        stage_rank(policy, kind, stage.as_deref()),
        status,
        text("type"),
        text("owner"),
        text("assignee"),
        territory,
        account,
        due,
        amount,
        currency,
        now,
        updated_at,
        archived,
        custom,
        report.stage_log,
        report.closed_at,
        report.completed_at,
        report.check_in_at,
        report.check_out_at,
        report.check_in_lat,
        report.check_in_lon,
        report.check_out_lat,
        report.check_out_lon,
        REPORT_VERSION,
        report.target,
    ];
    // One statement writes the whole row (a new record: an insert, so
    // nothing of it needs deleting first). Cached, as the statements
    // below: this runs for every record a sync applies, and preparing
    // them cost about as much as running them.
    let rid = match existing {
        None => tx
            .prepare_cached(
                "INSERT INTO records(record_id, kind, title, title_key, stage, stage_rank, status, type, owner,
                     assignee, territory, account_id, due_at, amount, currency, created_at, updated_at,
                     archived, custom, stage_log, closed_at, completed_at, check_in_at, check_out_at,
                     check_in_lat, check_in_lon, check_out_lat, check_out_lon, report_version, target_spec)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                         ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)
                 RETURNING rid",
            )?
            .query_row(columns, |r| r.get(0))?,
        Some(rid) => {
            tx.prepare_cached(
                "UPDATE records SET kind = ?2, title = ?3, title_key = ?4, stage = ?5, stage_rank = ?6, status = ?7,
                    type = ?8, owner = ?9, assignee = ?10, territory = ?11, account_id = ?12, due_at = ?13,
                    amount = ?14, currency = ?15, created_at = COALESCE(created_at, ?16), updated_at = ?17, archived = ?18, custom = ?19,
                    stage_log = ?20, closed_at = ?21, completed_at = ?22, check_in_at = ?23,
                    check_out_at = ?24, check_in_lat = ?25, check_in_lon = ?26, check_out_lat = ?27,
                    check_out_lon = ?28, report_version = ?29, target_spec = ?30
                 WHERE record_id = ?1",
            )?
            .execute(columns)?;
            rid
        }
    };
    if kind == RecordKind::Account {
        // Children inherit the account's territory.
        tx.prepare_cached(
            "UPDATE records SET territory = ?2 WHERE account_id = ?1 AND territory IS NOT ?2",
        )?
        .execute(params![record.id.to_string(), territory])?;
    }
    super::blob_refs::refresh_refs(tx, record)?;
    let (mut name, emails, phones, body) = search_columns(record, &title);
    for word in custom::search_words(policy, record) {
        name.push(' ');
        name.push_str(&word);
    }
    if existing.is_some() {
        tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
            .execute([rid])?;
    }
    super::search::insert_row(tx, rid, [&name, &emails, &phones, &body])?;
    Ok(())
}

/// The version of the report columns this build writes.
pub(crate) const REPORT_VERSION: i64 = 1;

/// The report columns of a record's index row: what
/// [`crate::report::Facts`] needs beyond the list columns (see
/// `store/reports.rs`).
struct ReportColumns {
    stage_log: Option<String>,
    closed_at: Option<i64>,
    completed_at: Option<i64>,
    check_in_at: Option<i64>,
    check_out_at: Option<i64>,
    check_in_lat: Option<f64>,
    check_in_lon: Option<f64>,
    check_out_lat: Option<f64>,
    check_out_lon: Option<f64>,
    target: Option<String>,
}

impl ReportColumns {
    fn of(record: &Record) -> Result<ReportColumns> {
        let f = Facts::of(record, None, None);
        let secs = |t: Option<Timestamp>| t.map(Timestamp::as_second);
        let target = crate::report::Target::of(record)
            .map(|t| serde_json::to_string(&t))
            .transpose()
            .map_err(|e| CoreError::Corrupt(format!("target not encodable: {e}")))?;
        Ok(ReportColumns {
            stage_log: (!f.stages.is_empty()).then(|| encode_stages(&f.stages)),
            closed_at: secs(f.closed_at),
            completed_at: secs(f.completed_at),
            check_in_at: secs(f.check_in_at),
            check_out_at: secs(f.check_out_at),
            check_in_lat: f.check_in.map(|p| p.lat),
            check_in_lon: f.check_in.map(|p| p.lon),
            check_out_lat: f.check_out.map(|p| p.lat),
            check_out_lon: f.check_out.map(|p| p.lon),
            target,
        })
    }
}

/// Writes the report columns of index row `rid` from `record` (for rows
/// written by an older build; [`refresh`] writes them with the row).
pub(crate) fn refresh_report_columns(tx: &Connection, rid: i64, record: &Record) -> Result<()> {
    let r = ReportColumns::of(record)?;
    tx.prepare_cached(
        "UPDATE records SET stage_log = ?2, closed_at = ?3, completed_at = ?4, check_in_at = ?5,
                check_out_at = ?6, check_in_lat = ?7, check_in_lon = ?8, check_out_lat = ?9,
                check_out_lon = ?10, report_version = ?11, target_spec = ?12 WHERE rid = ?1",
    )?
    .execute(params![
        rid,
        r.stage_log,
        r.closed_at,
        r.completed_at,
        r.check_in_at,
        r.check_out_at,
        r.check_in_lat,
        r.check_in_lon,
        r.check_out_lat,
        r.check_out_lon,
        REPORT_VERSION,
        r.target,
    ])?;
    Ok(())
}

/// What each search column holds for a record.
fn search_columns(record: &Record, title: &str) -> (String, String, String, String) {
    let mut name = vec![title.to_owned()];
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    let mut body = Vec::new();
    for def in schema::fields(record.kind()) {
        let Some(value) = record.get(def.name) else {
            continue;
        };
        let Some(text) = value.as_text() else {
            continue;
        };
        match def.ty {
            FieldType::Email => emails.push(text.to_owned()),
            FieldType::Phone => {
                // Every digit suffix is a token, so that a number is found by
                // any trailing part typed with or without its country code.
                phones.push(text.to_owned());
                let digits = phone_digits(text);
                for start in 0..digits.len().saturating_sub(3) {
                    phones.push(digits[start..].to_owned());
                }
            }
            FieldType::LongText => body.push(text.to_owned()),
            FieldType::Text { max } if max >= 2000 && def.name != "definition" => {
                body.push(text.to_owned())
            }
            _ if ["position", "industry", "city", "topic"].contains(&def.name) => {
                name.push(text.to_owned())
            }
            _ => {}
        }
    }
    (
        name.join(" "),
        emails.join(" "),
        phones.join(" "),
        body.join("\n"),
    )
}

/// Removes a record's index and search rows.
pub(crate) fn remove(tx: &Connection, record: &RecordId) -> Result<()> {
    let rid: Option<i64> = tx
        .query_row(
            "SELECT rid FROM records WHERE record_id = ?1",
            [record.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(rid) = rid {
        tx.execute("DELETE FROM search WHERE rowid = ?1", [rid])?;
        tx.execute("DELETE FROM records WHERE rid = ?1", [rid])?;
    }
    super::blob_refs::forget_refs(tx, record)
}

/// The territory a child record inherits from its account, as indexed.
pub(crate) fn account_territory(conn: &Connection, account: &RecordId) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT territory FROM records WHERE record_id = ?1")?
        .query_row([account.to_string()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// Runs a list query against the index (one page, see [`list_page`]).
pub(crate) fn list(conn: &Connection, q: &ListQuery) -> Result<Vec<Summary>> {
    Ok(query(conn, q, false)?.items)
}

/// Runs a list query against the index and hands out the cursor of the
/// next page (see [`ListPage`] for the guarantees).
pub(crate) fn list_page(conn: &Connection, q: &ListQuery) -> Result<ListPage> {
    query(conn, q, true)
}

/// The summary columns a list reads, before the sort keys.
const SUMMARY_COLUMNS: usize = 13;

/// One page of `q`; with `paged`, one row more is read to learn whether a
/// next page exists, and its cursor is made from the last row's keys.
fn query(conn: &Connection, q: &ListQuery, paged: bool) -> Result<ListPage> {
    let kind = q.kind.unwrap_or(RecordKind::Account);
    let keys = keyset::keys(q.sort, q.descending);
    let after = match &q.after {
        Some(_) if q.offset != 0 => {
            return Err(CoreError::Invalid(crate::error::ValidationError::field(
                "after",
                "a cursor continues a list where its page ended; it cannot be combined with an offset",
            )));
        }
        Some(_) if q.sort_custom.is_some() => {
            return Err(CoreError::Invalid(crate::error::ValidationError::field(
                "after",
                "a list ordered by a custom field pages by offset, not by cursor",
            )));
        }
        Some(cursor) => Some(keyset::decode(q.sort, q.descending, cursor)?),
        None => None,
    };
    let key_columns: Vec<&str> = keys.iter().map(|k| k.expr).collect();
    let mut sql = format!(
        "SELECT record_id, title, stage, status, type, owner, assignee, territory, account_id, due_at, amount,
                currency, updated_at, {} FROM records WHERE kind = ?",
        key_columns.join(", ")
    );
    let mut args: Vec<rusqlite::types::Value> = vec![kind.as_str().to_owned().into()];
    let mut filter = |column: &str, value: &Option<String>| {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            args.push(v.clone().into());
        }
    };
    filter("stage", &q.stage);
    filter("owner", &q.owner);
    filter("territory", &q.territory);
    filter("account_id", &q.account.as_ref().map(ToString::to_string));
    filter("assignee", &q.assignee);
    filter("status", &q.status);
    filter("type", &q.r#type);
    custom::filter(&q.custom, &mut sql, &mut args)?;
    if let Some(from) = q.due_from {
        sql.push_str(" AND due_at >= ?");
        args.push(from.as_second().into());
    }
    if let Some(before) = q.due_before {
        sql.push_str(" AND due_at < ?");
        args.push(before.as_second().into());
    }
    sql.push_str(match q.archived {
        Archived::Exclude => " AND archived = 0",
        Archived::Include => "",
        Archived::Only => " AND archived = 1",
    });
    if let Some(values) = &after {
        sql.push_str(" AND ");
        sql.push_str(&keyset::after(&keys, values, &mut args));
    }
    // The same order for offsets and cursors, so that both page alike; in
    // the form SQLite walks its indexes by (the keys' order, proven equal).
    let order = match &q.sort_custom {
        Some(field) => custom::order(field, q.descending, &mut args)?,
        None => keyset::index_order(q.sort, q.descending),
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT ? OFFSET ?"));
    let limit = q.limit.unwrap_or(100).min(10_000);
    args.push((limit as i64 + i64::from(paged)).into());
    // Saturating: `as` would wrap a huge offset to a negative one, which
    // SQLite reads as no offset at all.
    args.push(i64::try_from(q.offset).unwrap_or(i64::MAX).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let ts = |v: Option<i64>| {
        v.and_then(|s| Timestamp::from_second(s).ok())
            .map(|t| t.to_string())
    };
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    let mut last_keys = None;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if out.len() == limit {
            more = true;
            break;
        }
        let id: String = r.get(0)?;
        out.push(Summary {
            id: id
                .parse()
                .map_err(|_| CoreError::Corrupt(format!("index holds a malformed id `{id}`")))?,
            title: r.get(1)?,
            stage: r.get(2)?,
            status: r.get(3)?,
            kind_type: r.get(4)?,
            owner: r.get(5)?,
            assignee: r.get(6)?,
            territory: r.get(7)?,
            account: r.get(8)?,
            due_at: ts(r.get(9)?),
            amount: r.get(10)?,
            currency: r.get(11)?,
            updated_at: ts(r.get(12)?).unwrap_or_default(),
        });
        if paged {
            last_keys = Some(
                (0..keys.len())
                    .map(|i| r.get(SUMMARY_COLUMNS + i))
                    .collect::<rusqlite::Result<Vec<rusqlite::types::Value>>>()?,
            );
        }
    }
    let next = match last_keys {
        Some(values) if more && q.sort_custom.is_none() => {
            Some(keyset::encode(q.sort, q.descending, &values)?)
        }
        _ => None,
    };
    Ok(ListPage { items: out, next })
}

/// Every record the index holds.
pub(crate) fn all_records(conn: &Connection) -> Result<std::collections::BTreeSet<RecordId>> {
    let mut stmt = conn.prepare("SELECT record_id FROM records")?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = std::collections::BTreeSet::new();
    for id in ids {
        let id = id?;
        out.insert(
            id.parse()
                .map_err(|_| CoreError::Corrupt(format!("index holds a malformed id `{id}`")))?,
        );
    }
    Ok(out)
}

/// Recomputes every title sort key (after a locale change).
pub(crate) fn rekey(tx: &Connection, collator: &NameCollator) -> Result<()> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT rid, title FROM records")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare("UPDATE records SET title_key = ?2 WHERE rid = ?1")?;
    for (rid, title) in rows {
        update.execute(params![rid, collator.sort_key(&title)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::{FieldWrite, Store};

    #[test]
    fn a_huge_offset_or_limit_lists_nothing_rather_than_wrapping() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
        let mut s = Store::open(&dir.path().join("d.db"), clock).expect("open");
        s.create(
            RecordKind::Account,
            vec![FieldWrite::set("name", "Szőke Kft.")],
        )
        .expect("create");
        let q = |offset: usize, limit: Option<usize>| ListQuery {
            kind: Some(RecordKind::Account),
            offset,
            limit,
            ..ListQuery::default()
        };
        assert_eq!(s.list(&q(0, None)).expect("list").len(), 1);
        assert_eq!(s.list(&q(0, Some(usize::MAX))).expect("list").len(), 1);
        for offset in [usize::MAX, i64::MAX as usize + 1, i64::MAX as usize] {
            assert!(
                s.list(&q(offset, None)).expect("list").is_empty(),
                "{offset}"
            );
        }
    }
}
