//! Records of every kind through the office API: list (filters, sorting,
//! cursor pagination), get, create, update (PATCH of fields), history and
//! related records, and completing a task.
//!
//! Field values travel as the user types them (the text form of the CLI's
//! `--set` and of a device card): `{"fields": {"name": "Acme", "phone":
//! null}}` (`null` clears). A record reads back as `{"id", "kind",
//! "title", "updated_at", "fields": {...}, "writable": [...],
//! "conflicts": {...}}` with only the fields the caller may read.
//!
//! Guarantees: reads go through [`super::read`] (visibility and readable
//! classes), writes through [`super::write`] (the push path); a record the
//! caller does not see answers `404` like one that does not exist; a key
//! scoped to other kinds or read-only is refused before any work.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use fieldwork_core::card::RecordCard;
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::{RecordId, RecordKind};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::{body, query, read, write};
use crate::db::record_index::{self, ListQuery};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/records/{kind}", get(list).post(create))
        .route("/v1/records/{kind}/{id}", get(get_one).patch(update))
        .route("/v1/records/{kind}/{id}/history", get(history))
        .route("/v1/records/{kind}/{id}/related", get(related))
        .route("/v1/tasks/{id}/complete", post(complete))
}

/// The record kinds served here, as they appear in paths.
#[derive(Debug, Clone, Copy, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum KindName {
    /// Companies and other customers.
    Account,
    /// People at accounts.
    Contact,
    /// Links between accounts and contacts.
    Relationship,
    /// Sales opportunities.
    Deal,
    /// Calls, meetings, visits, e-mails and tasks.
    Activity,
    /// Notes on records.
    Note,
}

/// A record as the caller may read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordOut {
    /// The record id (`kind:ULID`).
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its display name.
    pub title: String,
    /// When it last changed (RFC 3339), from its documents' history.
    pub updated_at: String,
    /// The readable fields with a value, as text a form can edit back.
    pub fields: BTreeMap<String, String>,
    /// The fields the caller may change on this record now.
    pub writable: Vec<String>,
    /// Fields with concurrent values (the current one is in `fields`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, Vec<String>>,
}

impl RecordOut {
    /// The API form of a card.
    pub fn from_card(card: RecordCard, updated: i64) -> RecordOut {
        let mut fields = BTreeMap::new();
        let mut writable = Vec::new();
        let mut conflicts = BTreeMap::new();
        for f in card.fields {
            if f.writable {
                writable.push(f.name.clone());
            }
            if !f.conflicts.is_empty() {
                conflicts.insert(f.name.clone(), f.conflicts);
            }
            if let Some(v) = f.value {
                fields.insert(f.name, v);
            }
        }
        RecordOut {
            id: card.id.to_string(),
            kind: card.id.kind().as_str().to_owned(),
            title: card.title,
            updated_at: jiff::Timestamp::from_second(updated)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            fields,
            writable,
            conflicts,
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// The records, in the requested order.
    pub records: Vec<RecordOut>,
    /// The cursor of the next page (`after=`), absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Fields to write, as typed; `null` clears a field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FieldsIn {
    /// Field name to value as text (numbers and booleans are accepted as
    /// their text).
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// Completing a task.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CompleteIn {
    /// What came of it (kept in the activity's `outcome`).
    #[serde(default)]
    pub outcome: Option<String>,
}

/// One entry of a record's history.
pub type HistoryOut = fieldwork_core::history::HistoryEntry;

/// Records related to one record, by kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelatedOut {
    /// The record asked about.
    pub id: String,
    /// Related records the caller may see, by kind (`contact`, `deal`,
    /// `activity`, `note`, `relationship`).
    pub related: BTreeMap<String, Vec<RelatedRecord>>,
}

/// A related record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelatedRecord {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub title: String,
}

/// Lists records of one kind the caller may see.
#[utoipa::path(get, path = "/v1/records/{kind}", tag = "records",
    params(
        ("kind" = KindName, Path, description = "the kind of records"),
        ("filter" = Option<Vec<String>>, Query, description = "FIELD:OP:VALUE, repeatable; OP is eq, ne, lt, le, gt, ge, prefix, set or unset"),
        ("sort" = Option<String>, Query, description = "a field, `-field` for descending"),
        ("after" = Option<String>, Query, description = "the `next` cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "records per page (at most 200, default 50)"),
        ("archived" = Option<String>, Query, description = "`exclude` (default), `include` or `only` archived records"),
    ),
    responses(
        (status = 200, body = RecordPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Json<RecordPage>> {
    let kind = query::kind(&kind)?;
    caller.may_read(kind)?;
    let q: ListQuery = query::list_query(kind, raw.as_deref().unwrap_or(""))?;
    let actor = super::write::actor_for(&state.actor, &caller.user);
    let page = state
        .db
        .read(move |c| {
            let page = match record_index::list(c, &caller.access, &q) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            let cards = read::cards(c, &caller.access, &page.ids, &actor)?;
            Ok(Ok((cards, page.next)))
        })
        .await?;
    let (cards, next) = page.map_err(Problem::from)?;
    Ok(Json(RecordPage {
        records: cards
            .into_iter()
            .map(|(card, updated)| RecordOut::from_card(card, updated))
            .collect(),
        next,
    }))
}

/// One record, with only the fields the caller may read.
#[utoipa::path(get, path = "/v1/records/{kind}/{id}", tag = "records",
    params(("kind" = KindName, Path), ("id" = String, Path, description = "the record id, with or without `kind:`")),
    responses(
        (status = 200, body = RecordOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<RecordOut>> {
    let id = query::record_id(&kind, &id)?;
    caller.may_read(id.kind())?;
    Ok(Json(fetch(&state, &caller, id).await?))
}

/// Reads a record back for the caller.
pub(super) async fn fetch(
    state: &Arc<AppState>,
    caller: &Caller,
    id: RecordId,
) -> ApiResult<RecordOut> {
    let actor = write::actor_for(&state.actor, &caller.user);
    let access = caller.access.clone();
    let shown = id.clone();
    let card = state
        .db
        .read(move |c| read::card(c, &access, &id, &actor))
        .await?;
    match card {
        Some((card, updated)) => Ok(RecordOut::from_card(card, updated)),
        None => Err(Problem::not_found(format!("no record {shown}"))),
    }
}

/// Creates a record; answers it as the caller now reads it.
#[utoipa::path(post, path = "/v1/records/{kind}", tag = "records",
    params(("kind" = KindName, Path)),
    request_body = FieldsIn,
    responses(
        (status = 201, body = RecordOut),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "the policy refuses a field (`class_not_writable`, `record_not_editable`, ...)"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "a value or a rule of the record is wrong (`invalid_value`)"),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<(StatusCode, Json<RecordOut>)> {
    let kind = query::kind(&kind)?;
    caller.may_write(kind)?;
    let input: FieldsIn = body::json(&state, &headers, raw).await?;
    let writes = field_writes(kind, input.fields)?;
    let id = RecordId::new_random(kind);
    apply(&state, &caller, &id, true, writes).await?;
    Ok((StatusCode::CREATED, Json(fetch(&state, &caller, id).await?)))
}

/// Changes fields of a record (others are left as they are).
#[utoipa::path(patch, path = "/v1/records/{kind}/{id}", tag = "records",
    params(("kind" = KindName, Path), ("id" = String, Path)),
    request_body = FieldsIn,
    responses(
        (status = 200, body = RecordOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<RecordOut>> {
    let id = query::record_id(&kind, &id)?;
    caller.may_write(id.kind())?;
    let input: FieldsIn = body::json(&state, &headers, raw).await?;
    let writes = field_writes(id.kind(), input.fields)?;
    apply(&state, &caller, &id, false, writes).await?;
    Ok(Json(fetch(&state, &caller, id).await?))
}

/// Marks an activity done, with its outcome.
#[utoipa::path(post, path = "/v1/tasks/{id}/complete", tag = "tasks",
    params(("id" = String, Path)),
    request_body(content = Option<CompleteIn>, description = "optional: the outcome"),
    responses(
        (status = 200, body = RecordOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn complete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<RecordOut>> {
    let id = query::record_id("activity", &id)?;
    caller.may_write(id.kind())?;
    let input: CompleteIn = body::json_or_default(&state, &headers, raw).await?;
    let mut writes = vec![
        FieldWrite::text(RecordKind::Activity, "status", Some("done"))
            .map_err(|e| Problem::from(crate::error::ServerError::from(e)))?,
    ];
    if let Some(outcome) = input.outcome.filter(|o| !o.is_empty()) {
        writes.push(
            FieldWrite::text(RecordKind::Activity, "outcome", Some(&outcome))
                .map_err(|e| Problem::from(crate::error::ServerError::from(e)))?,
        );
    }
    apply(&state, &caller, &id, false, writes).await?;
    Ok(Json(fetch(&state, &caller, id).await?))
}

/// Who changed what and when, for the classes the caller may read.
#[utoipa::path(get, path = "/v1/records/{kind}/{id}/history", tag = "records",
    params(("kind" = KindName, Path), ("id" = String, Path)),
    responses(
        (status = 200, body = Vec<Object>, description = "entries oldest first: {at, author, class, hash, fields: [{field, action, value}]}"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<Vec<HistoryOut>>> {
    let id = query::record_id(&kind, &id)?;
    caller.may_read(id.kind())?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let shown = id.clone();
    let entries = state
        .db
        .read(move |c| {
            let Some(mut docs) = read::readable_docs(c, &caller.access, &id, &actor)? else {
                return Ok(None);
            };
            let mut all = Vec::new();
            for doc in &mut docs {
                all.extend(fieldwork_core::history::of_doc(doc)?);
            }
            all.sort_by(|a, b| a.at.cmp(&b.at));
            Ok(Some(all))
        })
        .await?;
    entries
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no record {shown}")))
}

/// An account's contacts, deals, activities, notes and relationships that
/// the caller may see.
#[utoipa::path(get, path = "/v1/records/{kind}/{id}/related", tag = "records",
    params(("kind" = KindName, Path), ("id" = String, Path)),
    responses(
        (status = 200, body = RelatedOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn related(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<RelatedOut>> {
    let id = query::record_id(&kind, &id)?;
    caller.may_read(id.kind())?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let shown = id.clone();
    let found = state
        .db
        .read(move |c| {
            if read::card(c, &caller.access, &id, &actor)?.is_none() {
                return Ok(None);
            }
            let children = crate::db::facts::children_of(c, &id.to_string())?;
            let mut related: BTreeMap<String, Vec<RelatedRecord>> = BTreeMap::new();
            for (card, _) in read::cards(c, &caller.access, &children, &actor)? {
                if caller.may_read(card.id.kind()).is_err() {
                    continue;
                }
                related
                    .entry(card.id.kind().as_str().to_owned())
                    .or_default()
                    .push(RelatedRecord {
                        id: card.id.to_string(),
                        title: card.title,
                    });
            }
            Ok(Some(related))
        })
        .await?;
    match found {
        Some(related) => Ok(Json(RelatedOut {
            id: shown.to_string(),
            related,
        })),
        None => Err(Problem::not_found(format!("no record {shown}"))),
    }
}

/// Runs an edit on the writer.
pub(super) async fn apply(
    state: &Arc<AppState>,
    caller: &Caller,
    id: &RecordId,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> ApiResult<usize> {
    let (st, user, id) = (state.clone(), caller.user.clone(), id.clone());
    state
        .db
        .write(move |w| Ok(write::write(w, &st, &user, &id, creating, writes)))
        .await?
}

/// Parses typed values against the kind's schema (also the web app's
/// card form, [`crate::web::card`]).
pub(crate) fn field_writes(
    kind: RecordKind,
    fields: BTreeMap<String, serde_json::Value>,
) -> ApiResult<Vec<FieldWrite>> {
    if fields.len() > 200 {
        return Err(Problem::bad_request("at most 200 fields per request"));
    }
    fields
        .into_iter()
        .map(|(field, value)| {
            let text = match &value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => {
                    return Err(Problem::bad_request(format!(
                        "`{field}`: values are text as typed, a number, a boolean or null"
                    )));
                }
            };
            let text = text.map(|t| normalise_phone(kind, &field, t));
            FieldWrite::text(kind, &field, text.as_deref())
                .map_err(|e| Problem::from(crate::error::ServerError::from(e)))
        })
        .collect()
}

/// A phone number typed into a phone field, in E.164 when it parses
/// (`600 11 22 33` → `+34600112233` with the default region), else as typed
/// (the schema then judges it).
fn normalise_phone(kind: RecordKind, field: &str, typed: String) -> String {
    let is_phone = fieldwork_core::schema::field(kind, field)
        .is_some_and(|d| d.ty == fieldwork_core::schema::FieldType::Phone);
    if !is_phone {
        return typed;
    }
    crate::phone::normalise(&typed, crate::phone::DEFAULT_REGION).unwrap_or(typed)
}
