//! The customers pages: accounts and contacts the user sees, with search,
//! filters, sorting and pages.
//!
//! Without search text a page is the office API's list
//! ([`record_index::list`]: filters compared ignoring case and accents,
//! one sort field, keyset pages of [`PAGE`]); with search text it is the
//! API's search ([`record_index::search`]: every word a prefix, accents and
//! case ignored), best first, at most [`MAX_SEARCH_HITS`] hits, with the
//! same filters applied to the hits. Rows are the API's cards
//! ([`read::cards`]), so a column of a field the user may not read is
//! never shown.
//!
//! Guarantees: only records and fields the user may read appear; every
//! parameter is bounded and checked (an unknown sort or stage is
//! ignored, a filter or sort on a field the user may not read is refused
//! by the index with its message, shown on the page); nothing here writes.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldwork_core::card::{RecordCard, can_read, creatable_fields};
use fieldwork_core::policy::Access;
use fieldwork_core::schema::FieldType;
use fieldwork_core::{RecordId, RecordKind};

use super::form::{self, Pairs};
use super::i18n::{self, filters};
use super::page::{self, Nav};
use super::session::WebSession;
use crate::api::problem::Problem;
use crate::api::{read, write};
use crate::db::record_index::{self, Archived, Filter, FilterOp, ListQuery, MAX_SEARCH_HITS, Sort};
use crate::error::ServerError;
use crate::state::AppState;

/// Records on one page.
pub const PAGE: usize = 50;

/// Longest search text or filter value, in bytes.
const MAX_TEXT: usize = 200;

/// Longest page cursor, in bytes.
const MAX_CURSOR: usize = 2048;

/// What a list page of one kind shows.
struct Spec {
    kind: RecordKind,
    section: &'static str,
    heading: &'static str,
    /// The label of the new-record button.
    new_record: &'static str,
    /// Columns after the title, by field.
    columns: &'static [&'static str],
    /// Filters offered, by field (each `field eq value`).
    filters: &'static [&'static str],
    /// Orders offered: label and `sort` value (`-field` descending; empty:
    /// creation order).
    sorts: &'static [(&'static str, &'static str)],
}

const ACCOUNTS: Spec = Spec {
    kind: RecordKind::Account,
    section: "accounts",
    heading: i18n::mark("Accounts"),
    new_record: i18n::mark("New account"),
    columns: &["stage", "owner", "territory", "city", "phone"],
    filters: &["owner", "territory", "stage"],
    sorts: &[
        (i18n::mark("Oldest first"), ""),
        (i18n::mark("Name, A to Z"), "name"),
        (i18n::mark("Name, Z to A"), "-name"),
        (i18n::mark("Stage"), "stage"),
        (i18n::mark("Owner"), "owner"),
        (i18n::mark("Territory"), "territory"),
        (i18n::mark("City"), "city"),
    ],
};

const CONTACTS: Spec = Spec {
    kind: RecordKind::Contact,
    section: "contacts",
    heading: i18n::mark("Contacts"),
    new_record: i18n::mark("New contact"),
    columns: &["position", "account", "email", "phone", "owner"],
    filters: &["owner"],
    sorts: &[
        (i18n::mark("Oldest first"), ""),
        (i18n::mark("Last name, A to Z"), "last_name"),
        (i18n::mark("Last name, Z to A"), "-last_name"),
        (i18n::mark("First name"), "first_name"),
        (i18n::mark("Owner"), "owner"),
    ],
};

/// One cell of a row.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The text shown.
    pub text: String,
    /// A link, for references to other records.
    pub href: Option<String>,
}

/// One record of a list.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its card's address.
    pub href: String,
    /// Its display name.
    pub title: String,
    /// The cells of the columns.
    pub cells: Vec<Cell>,
}

/// A choice of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// The text shown.
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// The accounts or contacts page.
#[derive(Template)]
#[template(path = "web/list.html")]
pub struct ListPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// `Accounts` or `Contacts`.
    pub heading: &'static str,
    /// The page's own path.
    pub path: String,
    /// The search text.
    pub q: String,
    /// The owner filter.
    pub owner: String,
    /// The territory filter (`None`: not offered).
    pub territory: Option<String>,
    /// The stages to filter by (empty: not offered).
    pub stages: Vec<Choice>,
    /// The orders.
    pub sorts: Vec<Choice>,
    /// Column headings after the title.
    pub columns: Vec<String>,
    /// The records.
    pub rows: Vec<Row>,
    /// The next page's address, when there is one.
    pub next: Option<String>,
    /// The first page's address, when this is a later page.
    pub first: Option<String>,
    /// Whether the rows are search hits.
    pub searched: bool,
    /// A refusal of the query, for people.
    pub error: Option<String>,
    /// The "New account" or "New contact" link, when the user may create
    /// such records (the new-record form, `super::create`).
    pub new_record: Option<(String, String)>,
}

/// `GET /web/accounts`.
pub async fn accounts(
    State(state): State<Arc<AppState>>,
    session: WebSession,
    RawQuery(raw): RawQuery,
) -> Response {
    list(state, session, &ACCOUNTS, raw.as_deref()).await
}

/// `GET /web/contacts`.
pub async fn contacts(
    State(state): State<Arc<AppState>>,
    session: WebSession,
    RawQuery(raw): RawQuery,
) -> Response {
    list(state, session, &CONTACTS, raw.as_deref()).await
}

/// The values of an enumerated field under the user's policy (a picklist,
/// such as the organisation's deal stages, replaces the built-in ones).
pub fn enum_values(access: &Access, kind: RecordKind, field: &str) -> &'static [&'static str] {
    match access.field(kind, field).map(|d| d.ty) {
        Some(FieldType::Enum(values)) => values,
        _ => &[],
    }
}

/// The parsed parameters of a list page.
struct Params {
    q: Option<String>,
    filters: Vec<(String, String)>,
    sort: String,
    after: Option<String>,
}

fn params(access: &Access, spec: &Spec, query: &Pairs) -> Params {
    let stages = enum_values(access, spec.kind, "stage");
    let filters = spec
        .filters
        .iter()
        .filter_map(|f| query.text(f, MAX_TEXT).map(|v| ((*f).to_owned(), v)))
        .filter(|(f, v)| f != "stage" || stages.contains(&v.as_str()))
        .collect();
    let sort = query
        .get("sort")
        .filter(|s| spec.sorts.iter().any(|(_, v)| v == s))
        .unwrap_or("")
        .to_owned();
    Params {
        q: query.text("q", MAX_TEXT),
        filters,
        sort,
        after: query.text("after", MAX_CURSOR),
    }
}

/// The address of this list with `p`'s parameters and `after`.
fn href(spec: &Spec, p: &Params, after: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if let Some(q) = &p.q {
        s.append_pair("q", q);
    }
    for (f, v) in &p.filters {
        s.append_pair(f, v);
    }
    if !p.sort.is_empty() {
        s.append_pair("sort", &p.sort);
    }
    if let Some(a) = after {
        s.append_pair("after", a);
    }
    format!("/web/{}?{}", spec.section, s.finish())
}

/// What the database answered.
struct Found {
    cards: Vec<RecordCard>,
    next: Option<String>,
    titles: HashMap<String, String>,
}

async fn list(
    state: Arc<AppState>,
    session: WebSession,
    spec: &'static Spec,
    raw: Option<&str>,
) -> Response {
    let query = match form::query(raw) {
        Ok(q) => q,
        Err(e) => {
            return page::message_for(&session, e.status, i18n::text("Bad address"), &e.message);
        }
    };
    let p = params(&session.access, spec, &query);
    let found = find(&state, &session, spec, &p).await;
    let (status, found, error) = match found {
        Ok(f) => (StatusCode::OK, f, None),
        Err(problem) => (
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST),
            Found {
                cards: Vec::new(),
                next: None,
                titles: HashMap::new(),
            },
            Some(problem.detail),
        ),
    };
    let Some(policy) = session.access.policy() else {
        return page::server_error(&ServerError::Internal("no policy".into()));
    };
    let columns: Vec<&str> = spec
        .columns
        .iter()
        .copied()
        .filter(|c| can_read(&session.access, policy, spec.kind, c))
        .collect();
    let rows = found
        .cards
        .iter()
        .map(|card| row(card, &columns, &found.titles))
        .collect();
    let stage_filter = spec.filters.contains(&"stage");
    let chosen = |f: &str| {
        p.filters
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.clone())
    };
    let current_stage = chosen("stage").unwrap_or_default();
    let template = ListPage {
        nav: Some(session.nav(spec.section, spec.kind.as_str())),
        heading: i18n::text(spec.heading),
        path: format!("/web/{}", spec.section),
        q: p.q.clone().unwrap_or_default(),
        owner: chosen("owner").unwrap_or_default(),
        territory: spec
            .filters
            .contains(&"territory")
            .then(|| chosen("territory").unwrap_or_default()),
        stages: if stage_filter {
            enum_values(&session.access, spec.kind, "stage")
                .iter()
                .map(|s| Choice {
                    value: (*s).to_owned(),
                    label: page::label(s),
                    selected: *s == current_stage,
                })
                .collect()
        } else {
            Vec::new()
        },
        sorts: spec
            .sorts
            .iter()
            .map(|(label, value)| Choice {
                value: (*value).to_owned(),
                label: i18n::text(label).to_owned(),
                selected: *value == p.sort,
            })
            .collect(),
        columns: columns.iter().map(|c| page::label(c)).collect(),
        rows,
        next: found.next.as_deref().map(|n| href(spec, &p, Some(n))),
        first: p.after.as_ref().map(|_| href(spec, &p, None)),
        searched: p.q.is_some(),
        error,
        new_record: (!creatable_fields(&session.access, policy, spec.kind).is_empty()).then(|| {
            (
                format!("/web/new/{}", spec.kind.as_str()),
                i18n::text(spec.new_record).to_owned(),
            )
        }),
    };
    page::render(status, &template)
}

/// Reads the page's records: a list page, or search hits filtered.
async fn find(
    state: &Arc<AppState>,
    session: &WebSession,
    spec: &Spec,
    p: &Params,
) -> Result<Found, Problem> {
    let access = session.access.clone();
    let actor = write::actor_for(&state.actor, &session.user);
    let kind = spec.kind;
    let text = p.q.clone();
    let filters = p.filters.clone();
    let lq = ListQuery {
        kind,
        filters: p
            .filters
            .iter()
            .map(|(f, v)| Filter {
                field: f.clone(),
                op: FilterOp::Eq,
                value: v.clone(),
            })
            .collect(),
        sort: (!p.sort.is_empty()).then(|| match p.sort.strip_prefix('-') {
            Some(field) => Sort {
                field: field.to_owned(),
                descending: true,
            },
            None => Sort {
                field: p.sort.clone(),
                descending: false,
            },
        }),
        after: p.after.clone(),
        limit: PAGE,
        archived: Archived::Exclude,
    };
    let answer = state
        .db
        .read(move |c| {
            let (cards, next) = match text {
                Some(text) => {
                    let hits =
                        record_index::search(c, &access, &text, Some(&[kind]), MAX_SEARCH_HITS)?;
                    let ids: Vec<String> = hits.into_iter().map(|h| h.record_id).collect();
                    let cards: Vec<RecordCard> = read::cards(c, &access, &ids, &actor)?
                        .into_iter()
                        .map(|(card, _)| card)
                        .filter(|card| passes(card, &filters))
                        .collect();
                    (cards, None)
                }
                None => {
                    let page = match record_index::list(c, &access, &lq) {
                        Ok(page) => page,
                        Err(e) => return Ok(Err(e)),
                    };
                    let cards = read::cards(c, &access, &page.ids, &actor)?
                        .into_iter()
                        .map(|(card, _)| card)
                        .collect();
                    (cards, page.next)
                }
            };
            // Titles of the accounts named, for those the user sees only
            // (`titles` does not check visibility).
            let mut refs: Vec<String> = Vec::new();
            for card in &cards {
                let Some(r) = value_of(card, "account") else {
                    continue;
                };
                let Ok(rid) = r.parse::<RecordId>() else {
                    continue;
                };
                if !refs.iter().any(|x| x == r) && record_index::sees_account(c, &access, &rid)? {
                    refs.push(r.to_owned());
                }
            }
            let titles = record_index::titles(c, &access, &refs)?;
            Ok(Ok(Found {
                cards,
                next,
                titles,
            }))
        })
        .await
        .map_err(Problem::from)?;
    answer.map_err(Problem::from)
}

/// The editable text of `field` on `card`, if it has one.
pub fn value_of<'a>(card: &'a RecordCard, field: &str) -> Option<&'a str> {
    card.fields
        .iter()
        .find(|f| f.name == field)
        .and_then(|f| f.value.as_deref())
}

/// Whether a search hit passes the page's filters (compared as the list
/// compares them: ignoring case and accents). A filter on a field the
/// user may not read never passes.
fn passes(card: &RecordCard, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(field, wanted)| {
        value_of(card, field).is_some_and(|v| record_index::fold(v) == record_index::fold(wanted))
    })
}

fn row(card: &RecordCard, columns: &[&str], titles: &HashMap<String, String>) -> Row {
    let cells = columns
        .iter()
        .map(|c| {
            let field = card.fields.iter().find(|f| f.name == *c);
            let display = field.and_then(|f| f.display.clone()).unwrap_or_default();
            match (*c, field.and_then(|f| f.value.as_deref())) {
                ("account", Some(id)) => Cell {
                    text: titles.get(id).cloned().unwrap_or_else(|| id.to_owned()),
                    href: record_href(id),
                },
                _ => Cell {
                    text: display,
                    href: None,
                },
            }
        })
        .collect();
    Row {
        href: record_href(&card.id.to_string()).unwrap_or_default(),
        title: card.title.clone(),
        cells,
    }
}

/// The card address of record `id` (`None` when it is not a record id).
pub fn record_href(id: &str) -> Option<String> {
    let rid: RecordId = id.parse().ok()?;
    Some(format!("/web/records/{}/{}", rid.kind().as_str(), rid))
}
