//! Listing records of one kind from the index: filters, one sort field,
//! keyset pages.
//!
//! Order: by the sort field's key (see `keys`), records without a value
//! last (in both directions), ties and unsorted lists by record id
//! (ULIDs: creation order); descending reverses both. Pages continue after
//! the last `(sort key, record id)` returned, so a record inserted between
//! two pages never makes another appear twice or be skipped.
//!
//! Guarantees:
//! - only records the caller sees are listed, through their readable
//!   classes; a filter or sort on a field of an unreadable class is refused
//!   (`class_not_readable`), an unknown field too (`unknown_field`);
//! - a page holds at most [`MAX_LIMIT`] records, and a malformed or foreign
//!   cursor is an error (`ServerError::Invalid`), never a panic;
//! - archived records are left out unless the query asks for them
//!   ([`Archived`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldwork_core::error::ValidationError;
use fieldwork_core::policy::codes;
use fieldwork_core::schema::FieldDef;
use fieldwork_core::{Access, CoreError, Denial, RecordKind};
use rusqlite::Connection;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::{Archived, archived, keys, readable_classes, visible};
use crate::error::{Result, ServerError};

/// Most records in one page.
pub const MAX_LIMIT: usize = 200;

/// Longest cursor accepted, in bytes.
const MAX_CURSOR: usize = 2048;

/// A comparison of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// Equal (text: ignoring case and accents).
    Eq,
    /// Not equal; records without a value match.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Starts with (text, dates, ids).
    Prefix,
    /// Contains (text).
    Contains,
    /// Has a value.
    IsSet,
    /// Has no value.
    IsNotSet,
}

/// One filter: `field op value`, the value as a person types it, compared
/// on the field's sort key (numbers as numbers, text folded, instants in
/// UTC; a date given for an instant field is midnight UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The field.
    pub field: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value (ignored by `IsSet` and `IsNotSet`).
    pub value: String,
}

/// The order of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// The field to sort by.
    pub field: String,
    /// Largest first.
    pub descending: bool,
}

/// A list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The kind of records.
    pub kind: RecordKind,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// The order (`None`: by record id, i.e. creation order).
    pub sort: Option<Sort>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most this many records (1 to [`MAX_LIMIT`]; 0 means 1).
    pub limit: usize,
    /// Archived records: left out, included, or only them.
    pub archived: Archived,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// Record ids, in order.
    pub ids: Vec<String>,
    /// The cursor of the next page, when there may be one (opaque).
    pub next: Option<String>,
}

/// What a cursor says: the query's order and the last row of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// The sort field (`""` for record-id order).
    s: String,
    /// Descending.
    d: bool,
    /// The last row's sort key (`None`: it had no value).
    k: Option<String>,
    /// The last row's record id.
    id: String,
}

impl Cursor {
    fn encode(&self) -> Result<String> {
        let json =
            serde_json::to_vec(self).map_err(|e| ServerError::Internal(format!("cursor: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    }

    fn decode(text: &str, sort: &str, descending: bool) -> Result<Cursor> {
        let malformed = || {
            ServerError::Invalid("malformed cursor: pass back the `next` value of a page".into())
        };
        if text.len() > MAX_CURSOR {
            return Err(malformed());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| malformed())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if cursor.s != sort || cursor.d != descending {
            return Err(ServerError::Invalid(
                "this cursor belongs to a list in another order".into(),
            ));
        }
        Ok(cursor)
    }
}

/// A resolved field: its schema and, under a policy, its class.
struct Resolved {
    def: &'static FieldDef,
    class: Option<String>,
}

/// Finds `field` of `kind` and checks the caller may read its class.
fn resolve(access: &Access, kind: RecordKind, field: &str) -> Result<Resolved> {
    let unknown = || {
        ServerError::Core(CoreError::Denied(Denial {
            code: codes::UNKNOWN_FIELD.into(),
            doc: None,
            field: Some(field.to_owned()),
            rule: "schema".into(),
            message: format!("{kind} has no field `{field}`"),
        }))
    };
    let def = access.field(kind, field).ok_or_else(unknown)?;
    let (Some(policy), Some(user)) = (access.policy(), access.user()) else {
        return Ok(Resolved { def, class: None });
    };
    let class = policy.class_of(kind, field).ok_or_else(unknown)?;
    if !access.can_read_class(class) {
        return Err(ServerError::Core(CoreError::Denied(Denial {
            code: codes::CLASS_NOT_READABLE.into(),
            doc: None,
            field: Some(field.to_owned()),
            rule: format!("roles.{}.read", user.role),
            message: format!(
                "role `{}` may not read `{field}` (class `{class}`), so it cannot filter or sort by it",
                user.role
            ),
        })));
    }
    Ok(Resolved {
        def,
        class: Some(class.as_str().to_owned()),
    })
}

fn invalid(field: &str, message: String) -> ServerError {
    ServerError::Core(CoreError::Invalid(ValidationError::field(field, message)))
}

/// SQL that picks the rows of `field` (resolved as `r`) of the record in
/// column `record` (alias `x`), with its parameters.
fn field_rows(r: &Resolved, record: &str, alias: &str) -> (String, Vec<Value>) {
    let mut sql = format!(
        "SELECT 1 FROM record_fields {alias} WHERE {alias}.record_id = {record} AND {alias}.field = ?"
    );
    let mut args = vec![Value::Text(r.def.name.to_owned())];
    if let Some(class) = &r.class {
        sql.push_str(&format!(" AND {alias}.class = ?"));
        args.push(Value::Text(class.clone()));
    }
    (sql, args)
}

/// One filter as an SQL condition on the record id in column `record`.
fn filter_sql(
    access: &Access,
    kind: RecordKind,
    f: &Filter,
    record: &str,
) -> Result<(String, Vec<Value>)> {
    let r = resolve(access, kind, &f.field)?;
    let (rows, mut args) = field_rows(&r, record, "x");
    let textual = matches!(f.op, FilterOp::Prefix | FilterOp::Contains);
    let key = match f.op {
        FilterOp::IsSet => return Ok((format!("EXISTS ({rows})"), args)),
        FilterOp::IsNotSet => return Ok((format!("NOT EXISTS ({rows})"), args)),
        _ => keys::filter_key(r.def.ty, &f.value, textual).map_err(|m| invalid(r.def.name, m))?,
    };
    let (cond, negate, twice) = match f.op {
        FilterOp::Eq | FilterOp::Ne => ("x.sort_key = ?", f.op == FilterOp::Ne, false),
        FilterOp::Lt => ("x.sort_key < ?", false, false),
        FilterOp::Le => ("x.sort_key <= ?", false, false),
        FilterOp::Gt => ("x.sort_key > ?", false, false),
        FilterOp::Ge => ("x.sort_key >= ?", false, false),
        FilterOp::Prefix => ("substr(x.sort_key, 1, length(?)) = ?", false, true),
        FilterOp::Contains | FilterOp::IsSet | FilterOp::IsNotSet => {
            ("instr(x.sort_key, ?) > 0", false, false)
        }
    };
    args.push(Value::Text(key.clone()));
    if twice {
        args.push(Value::Text(key));
    }
    let not = if negate { "NOT " } else { "" };
    Ok((format!("{not}EXISTS ({rows} AND {cond})"), args))
}

/// Lists one page of records of `q.kind` that `access` sees, filtered and
/// sorted as `q` says (see the module docs for the order).
pub fn list(conn: &Connection, access: &Access, q: &ListQuery) -> Result<ListPage> {
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let sort = match &q.sort {
        Some(s) => {
            let r = resolve(access, q.kind, &s.field)?;
            if !keys::is_sortable(r.def.ty) {
                return Err(invalid(
                    r.def.name,
                    format!("cannot sort by {}", r.def.ty.describe()),
                ));
            }
            Some((r, s.descending))
        }
        None => None,
    };
    let (sort_name, descending) = match &sort {
        Some((r, d)) => (r.def.name, *d),
        None => ("", false),
    };
    let cursor = q
        .after
        .as_deref()
        .map(|c| Cursor::decode(c, sort_name, descending))
        .transpose()?;
    let mut page: Vec<(Option<String>, String)> = Vec::new();
    // Phase 1: records with a value of the sort field, by (key, id).
    if let Some((r, _)) = &sort
        && cursor.as_ref().is_none_or(|c| c.k.is_some())
    {
        let after = cursor
            .as_ref()
            .and_then(|c| c.k.clone().map(|k| (k, c.id.clone())));
        page = sorted_rows(conn, access, q, r, descending, after, limit + 1)?;
    }
    // Phase 2: records without a value (or every record, unsorted), by id.
    if page.len() <= limit {
        let after = cursor
            .as_ref()
            .filter(|c| c.k.is_none())
            .map(|c| c.id.clone());
        let missing = sort.as_ref().map(|(r, _)| r);
        let want = limit + 1 - page.len();
        let rest = id_rows(conn, access, q, missing, descending, after, want)?;
        page.extend(rest.into_iter().map(|id| (None, id)));
    }
    let next = if page.len() > limit {
        page.truncate(limit);
        match page.last() {
            Some((k, id)) => Some(
                Cursor {
                    s: sort_name.to_owned(),
                    d: descending,
                    k: k.clone(),
                    id: id.clone(),
                }
                .encode()?,
            ),
            None => None,
        }
    } else {
        None
    };
    Ok(ListPage {
        ids: page.into_iter().map(|(_, id)| id).collect(),
        next,
    })
}

/// The filters of `q` as conditions on the record id in column `record`.
fn filters_sql(access: &Access, q: &ListQuery, record: &str) -> Result<(String, Vec<Value>)> {
    let mut sql = String::new();
    let mut args = Vec::new();
    for f in &q.filters {
        let (cond, a) = filter_sql(access, q.kind, f, record)?;
        sql.push_str(" AND ");
        sql.push_str(&cond);
        args.extend(a);
    }
    sql.push_str(&archived::condition(q.archived, record));
    Ok((sql, args))
}

/// Phase 1: up to `want` rows having a sort key for `r`, after `after`.
fn sorted_rows(
    conn: &Connection,
    access: &Access,
    q: &ListQuery,
    r: &Resolved,
    descending: bool,
    after: Option<(String, String)>,
    want: usize,
) -> Result<Vec<(Option<String>, String)>> {
    let (vis, vis_args) = visible(access, "f");
    let mut sql = String::from(
        "SELECT f.sort_key, f.record_id FROM record_fields f
           LEFT JOIN records r ON r.record_id = f.record_id
          WHERE f.kind = ? AND f.field = ? AND f.sort_key IS NOT NULL",
    );
    let mut args = vec![
        Value::Text(q.kind.as_str().to_owned()),
        Value::Text(r.def.name.to_owned()),
    ];
    if let Some(class) = &r.class {
        sql.push_str(" AND f.class = ?");
        args.push(Value::Text(class.clone()));
    }
    sql.push_str(&format!(" AND {vis}"));
    args.extend(vis_args);
    let (dir, cmp) = if descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    if let Some((k, id)) = after {
        sql.push_str(&format!(" AND (f.sort_key, f.record_id) {cmp} (?, ?)"));
        args.push(Value::Text(k));
        args.push(Value::Text(id));
    }
    let (filters, filter_args) = filters_sql(access, q, "f.record_id")?;
    sql.push_str(&filters);
    args.extend(filter_args);
    sql.push_str(&format!(
        " ORDER BY f.sort_key {dir}, f.record_id {dir} LIMIT ?"
    ));
    args.push(Value::Integer(want as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
        Ok((Some(row.get::<_, String>(0)?), row.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Phase 2: up to `want` record ids in id order after `after`; only those
/// without a sort key for `missing` when given.
fn id_rows(
    conn: &Connection,
    access: &Access,
    q: &ListQuery,
    missing: Option<&Resolved>,
    descending: bool,
    after: Option<String>,
    want: usize,
) -> Result<Vec<String>> {
    let (classes, class_args) = readable_classes(access, "d.class");
    let (vis, vis_args) = visible(access, "d");
    let mut sql = format!(
        "SELECT d.record_id FROM record_docs d
           LEFT JOIN records r ON r.record_id = d.record_id
          WHERE d.kind = ? AND {classes} AND {vis}"
    );
    let mut args = vec![Value::Text(q.kind.as_str().to_owned())];
    args.extend(class_args);
    args.extend(vis_args);
    let (dir, cmp) = if descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    if let Some(id) = after {
        sql.push_str(&format!(" AND d.record_id {cmp} ?"));
        args.push(Value::Text(id));
    }
    if let Some(r) = missing {
        let (rows, a) = field_rows(r, "d.record_id", "y");
        sql.push_str(&format!(
            " AND NOT EXISTS ({rows} AND y.sort_key IS NOT NULL)"
        ));
        args.extend(a);
    }
    let (filters, filter_args) = filters_sql(access, q, "d.record_id")?;
    sql.push_str(&filters);
    args.extend(filter_args);
    sql.push_str(&format!(
        " GROUP BY d.record_id ORDER BY d.record_id {dir} LIMIT ?"
    ));
    args.push(Value::Integer(want as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
