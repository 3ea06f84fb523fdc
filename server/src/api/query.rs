//! Path and query parameters of the office API, parsed with clear errors.
//!
//! Guarantees: every parameter is bounded (a list query takes at most 20
//! filters, values of at most 1,000 bytes, 200 records a page) and a
//! malformed one is `400 bad_request` naming it, never a panic.

use fieldwork_core::{RecordId, RecordKind};

use super::problem::{ApiResult, Problem};
use crate::db::record_index::{Archived, Filter, FilterOp, ListQuery, Sort};

/// Records a page holds by default, and at most.
const PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// Filters a list query may carry, and the longest value.
const MAX_FILTERS: usize = 20;
const MAX_VALUE: usize = 1_000;

/// The record kinds the API serves by name (process records have their
/// own endpoints).
pub fn kind(name: &str) -> ApiResult<RecordKind> {
    let kind: RecordKind = name
        .parse()
        .map_err(|_| Problem::not_found(format!("no record kind `{name}`")))?;
    match kind {
        RecordKind::ProcessModel | RecordKind::ProcessInstance => Err(Problem::not_found(format!(
            "{name} records are served by the process endpoints"
        ))),
        kind => Ok(kind),
    }
}

/// A record id from the path: `kind:KEY` or just `KEY`, of kind `kind`.
pub fn record_id(kind_name: &str, id: &str) -> ApiResult<RecordId> {
    let kind = kind(kind_name)?;
    let full = if id.contains(':') {
        id.to_owned()
    } else {
        format!("{}:{id}", kind.as_str())
    };
    let parsed: RecordId = full
        .parse()
        .map_err(|_| Problem::not_found(format!("no record {id}")))?;
    if parsed.kind() != kind {
        return Err(Problem::not_found(format!("no {kind_name} {id}")));
    }
    Ok(parsed)
}

/// A list query from the raw query string: `filter=FIELD:OP:VALUE`
/// (repeatable), `sort=FIELD` or `sort=-FIELD`, `after=CURSOR`,
/// `limit=N`, `archived=exclude|include|only` (default `exclude`).
pub fn list_query(kind: RecordKind, raw: &str) -> ApiResult<ListQuery> {
    let mut q = ListQuery {
        kind,
        filters: Vec::new(),
        sort: None,
        after: None,
        limit: PAGE,
        archived: Archived::Exclude,
    };
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if value.len() > MAX_VALUE {
            return Err(Problem::bad_request(format!("`{key}` is too long")));
        }
        match key.as_ref() {
            "filter" => {
                if q.filters.len() == MAX_FILTERS {
                    return Err(Problem::bad_request(format!(
                        "at most {MAX_FILTERS} filters"
                    )));
                }
                q.filters.push(filter(&value)?);
            }
            "sort" => {
                let (field, descending) = match value.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (value.as_ref(), false),
                };
                q.sort = Some(Sort {
                    field: field.to_owned(),
                    descending,
                });
            }
            "after" => q.after = Some(value.into_owned()),
            "archived" => q.archived = archived(&value)?,
            "limit" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| Problem::bad_request("`limit` is a number of records"))?;
                q.limit = n.clamp(1, MAX_PAGE);
            }
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown parameter `{other}` (filter, sort, after, limit, archived)"
                )));
            }
        }
    }
    Ok(q)
}

/// `exclude`, `include` or `only`.
fn archived(text: &str) -> ApiResult<Archived> {
    match text {
        "exclude" => Ok(Archived::Exclude),
        "include" => Ok(Archived::Include),
        "only" => Ok(Archived::Only),
        _ => Err(Problem::bad_request(
            "`archived` is one of exclude, include, only",
        )),
    }
}

/// `FIELD:OP:VALUE` (`set` and `unset` take no value).
fn filter(text: &str) -> ApiResult<Filter> {
    let mut parts = text.splitn(3, ':');
    let field = parts.next().unwrap_or_default();
    let op = parts.next().unwrap_or_default();
    let value = parts.next().unwrap_or_default();
    let op = match op {
        "eq" => FilterOp::Eq,
        "ne" => FilterOp::Ne,
        "lt" => FilterOp::Lt,
        "le" => FilterOp::Le,
        "gt" => FilterOp::Gt,
        "ge" => FilterOp::Ge,
        "prefix" => FilterOp::Prefix,
        "set" => FilterOp::IsSet,
        "unset" => FilterOp::IsNotSet,
        _ => {
            return Err(Problem::bad_request(format!(
                "filter `{text}`: write FIELD:OP:VALUE with OP one of eq, ne, lt, le, gt, ge, prefix, set, unset"
            )));
        }
    };
    if field.is_empty() {
        return Err(Problem::bad_request(format!(
            "filter `{text}` names no field"
        )));
    }
    Ok(Filter {
        field: field.to_owned(),
        op,
        value: value.to_owned(),
    })
}
