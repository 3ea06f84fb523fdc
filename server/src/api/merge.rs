//! Merging duplicate accounts or contacts through the office API
//! (issue 17), and undoing a merge.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/merge/{kind}` | merge `loser` into `survivor` |
//! | POST | `/v1/merges/{id}/undo` | undo a merge (within [`merge::UNDO_DAYS`] days) |
//! | GET | `/v1/merges?record=ID` | the merges a record took part in |
//!
//! A merge fills the survivor's empty fields from the loser (and those
//! named in `take` over the survivor's), re-points every reference to the
//! loser (contacts, deals, activities, notes, relationships and process
//! instances) at the survivor, and marks the loser `merged_into` the
//! survivor and archived. It writes nothing behind the feed's back: every
//! one of those writes is the caller's edit ([`super::write::edit_changes`]),
//! pushed through [`crate::sync::push`] like a phone's change, so it syncs
//! to every device and merges with offline edits field by field — except
//! a process instance's `record` and `account`, which no user may change:
//! the server re-points those itself, as its process engine writes
//! ([`crate::processes::repoint_instances`]), in the same transaction.
//! The loser keeps its documents and history; a phone that edits it
//! afterwards has its edit forwarded to the survivor
//! ([`crate::sync::redirect`]).
//!
//! Guarantees:
//! - A merge and its undo are all or nothing: every change and the merge
//!   log's row ([`crate::db::merges`]) commit in one writer transaction.
//! - Rights are those of a phone: the caller must see both records and
//!   may mark each merged (the role's `archive` right and the records in
//!   its edit scopes, `403` with the policy's code otherwise); each write
//!   is checked by the policy and the rule book; a record that refers to
//!   the loser and that the caller does not see stops the merge (`403
//!   record_not_visible`).
//! - Refusals have stable codes: `merge_self`, `merge_kind_mismatch`,
//!   `merge_not_mergeable`, `merge_field_not_carried` (`400`);
//!   `already_merged`, `merge_too_large`, `merge_already_undone`,
//!   `merge_undo_expired` (`409`).
//! - An undo changes back only what still holds what the merge wrote:
//!   a field edited since, or a reference moved since, stays as it is;
//!   a process instance the merge re-pointed goes back (running or
//!   finished) while it still runs on the survivor.
//! - Only a merge and its undo change an instance's `record` or
//!   `account`; a pushed change that tries is refused (`immutable`).
//! - A merge's answer names the fields filled, never their values, so the
//!   list of merges shows nothing a reader of either record may not read.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldwork_core::merge;
use fieldwork_core::{RecordId, RecordKind};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::{body, query};
use crate::db::merges::{self, Merge};
use crate::state::AppState;

mod apply;

/// Most fields a merge's `take` names (a kind has fewer).
const MAX_TAKE: usize = 100;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/merge/{kind}", post(merge_records))
        .route("/v1/merges", get(list_merges))
        .route("/v1/merges/{id}/undo", post(undo_merge))
}

/// The office API document of these routes (merged into the office
/// API's).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(merge_records, undo_merge, list_merges),
    components(schemas(MergeIn, MergeOut, MergesOut)),
    tags((name = "merge", description = "Merging duplicate accounts or contacts, undone within 30 days")),
)]
pub struct MergeDoc;

/// What to merge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// The record kept (`account:…` or `contact:…`).
    pub survivor: String,
    /// The duplicate merged into it, then archived.
    pub loser: String,
    /// Fields whose loser value replaces the survivor's (by default only
    /// the survivor's empty fields are filled); at most 100.
    #[serde(default)]
    pub take: Vec<String>,
}

/// One merge, as logged.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MergeOut {
    /// The merge's id (for its undo).
    pub id: i64,
    /// `account` or `contact`.
    pub kind: String,
    /// The record kept.
    pub survivor: String,
    /// The record merged into it.
    pub loser: String,
    /// Who merged.
    pub merged_by: String,
    /// When (RFC 3339).
    pub merged_at: String,
    /// Until when it can be undone (RFC 3339).
    pub undo_until: String,
    /// The survivor fields filled from the loser.
    pub filled: Vec<String>,
    /// How many references were moved from the loser to the survivor
    /// (a process instance's `record` and `account` count one each).
    pub repointed: u64,
    /// Who undid it, once undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undone_by: Option<String>,
    /// When it was undone (RFC 3339), once undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<String>,
}

/// The merges of a record, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MergesOut {
    /// At most 100.
    pub merges: Vec<MergeOut>,
}

/// Merges the duplicate `loser` into `survivor`.
#[utoipa::path(post, path = "/v1/merge/{kind}", tag = "merge",
    params(("kind" = String, Path, description = "`account` or `contact`")),
    request_body = MergeIn,
    responses(
        (status = 200, body = MergeOut, description = "merged"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "`bad_request`, `merge_self`, `merge_kind_mismatch`, `merge_not_mergeable`, `merge_field_not_carried`"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`archive_forbidden`, `record_not_editable`, `record_not_visible`, a field the caller may not write, or a read-only key"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "a record the caller does not see"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_merged`, `merge_too_large`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the survivor would break a rule (`invalid_value`)"),
    ))]
pub async fn merge_records(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<MergeOut>> {
    let kind = query::kind(&kind)?;
    if !merge::mergeable(kind) {
        let e = merge::MergeError::NotMergeable(kind);
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            e.code(),
            e.to_string(),
        ));
    }
    caller.may_write(kind)?;
    let input: MergeIn = body::json(&state, &headers, raw).await?;
    if input.take.len() > MAX_TAKE {
        return Err(Problem::bad_request(format!(
            "`take` names at most {MAX_TAKE} fields"
        )));
    }
    let survivor = record_of(kind, &input.survivor)?;
    let loser = record_of(kind, &input.loser)?;
    let st = state.clone();
    let merged = state
        .db
        .write(move |w| {
            let who = apply::Who {
                state: &st,
                user: &caller.user,
                access: &caller.access,
            };
            let made = apply::merge(w, who, &survivor, &loser, &input.take)
                .and_then(|id| logged(&w.conn, id));
            Ok(made)
        })
        .await??;
    Ok(Json(merged))
}

/// Undoes a merge: the survivor's filled fields and the moved references
/// go back where nobody changed them since, and the loser is no longer
/// merged or archived.
#[utoipa::path(post, path = "/v1/merges/{id}/undo", tag = "merge",
    params(("id" = String, Path, description = "the merge's id")),
    responses(
        (status = 200, body = MergeOut, description = "undone"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`archive_forbidden`, `record_not_editable`, `record_not_visible`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such merge, or one the caller may not undo (no right to write the kind, a read-only key)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`merge_already_undone`, `merge_undo_expired` (after 30 days)"),
    ))]
pub async fn undo_merge(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
) -> ApiResult<Json<MergeOut>> {
    let shown = id.clone();
    let not_found = move || Problem::not_found(format!("no merge {shown}"));
    let merge_id: i64 = id.parse().map_err(|_| not_found())?;
    let st = state.clone();
    let undone = state
        .db
        .write(move |w| {
            let Some(m) = merges::get(&w.conn, merge_id)? else {
                return Ok(Err(not_found()));
            };
            // Without the right, an existing merge is as absent as any
            // other: ids are sequential and would tell which exist.
            if caller.may_write(m.survivor.kind()).is_err() {
                return Ok(Err(not_found()));
            }
            let who = apply::Who {
                state: &st,
                user: &caller.user,
                access: &caller.access,
            };
            Ok(apply::undo(w, who, &m).and_then(|()| logged(&w.conn, merge_id)))
        })
        .await??;
    Ok(Json(undone))
}

/// Lists the merges `record` took part in, as survivor or loser.
#[utoipa::path(get, path = "/v1/merges", tag = "merge",
    params(("record" = String, Query, description = "a record id (`account:…` or `contact:…`) the caller sees")),
    responses(
        (status = 200, body = MergesOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_merges(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Json<MergesOut>> {
    let record = record_param(raw.as_deref().unwrap_or(""))?;
    caller.may_read(record.kind())?;
    super::records::fetch(&state, &caller, record.clone()).await?;
    let merges = state
        .db
        .read(move |c| merges::involving(c, &record))
        .await?;
    Ok(Json(MergesOut {
        merges: merges.iter().map(out).collect(),
    }))
}

/// A record id of `kind` from the body (`400` otherwise).
fn record_of(kind: RecordKind, text: &str) -> ApiResult<RecordId> {
    let id: RecordId = text
        .parse()
        .map_err(|_| Problem::bad_request(format!("`{text}` is not a record id")))?;
    if id.kind() != kind {
        let e = merge::MergeError::KindMismatch;
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            e.code(),
            e.to_string(),
        ));
    }
    Ok(id)
}

/// The `record` parameter, the only one (`400` otherwise).
fn record_param(raw: &str) -> ApiResult<RecordId> {
    let mut record = None;
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "record" => {
                let id = value
                    .parse::<RecordId>()
                    .map_err(|_| Problem::bad_request(format!("`{value}` is not a record id")))?;
                record = Some(id);
            }
            other => return Err(Problem::bad_request(format!("unknown parameter `{other}`"))),
        }
    }
    record.ok_or_else(|| Problem::bad_request("`record` is required"))
}

/// The logged merge `id`, as answered.
fn logged(conn: &rusqlite::Connection, id: i64) -> ApiResult<MergeOut> {
    match merges::get(conn, id)? {
        Some(m) => Ok(out(&m)),
        None => Err(Problem::not_found(format!("no merge {id}"))),
    }
}

fn out(m: &Merge) -> MergeOut {
    let time = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    MergeOut {
        id: m.id,
        kind: m.survivor.kind().as_str().to_owned(),
        survivor: m.survivor.to_string(),
        loser: m.loser.to_string(),
        merged_by: m.merged_by.clone(),
        merged_at: time(m.merged_at),
        undo_until: time(m.merged_at.saturating_add(merge::UNDO_PERIOD_MS)),
        filled: m.filled.iter().map(|f| f.field.clone()).collect(),
        repointed: m.repointed.len() as u64,
        undone_by: m.undone.as_ref().map(|(by, _)| by.clone()),
        undone_at: m.undone.as_ref().map(|(_, at)| time(*at)),
    }
}
