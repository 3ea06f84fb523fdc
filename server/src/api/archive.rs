//! Archiving and restoring records through the office API.
//!
//! | method | path | what |
//! |---|---|---|
//! | DELETE | `/v1/records/{kind}/{id}` | archive the record (`archived = true`) |
//! | POST | `/v1/records/{kind}/{id}/restore` | restore it (`archived = false`) |
//!
//! Records are archived, not erased: a phone may be editing one offline,
//! and its edit must merge rather than vanish. An archived record is left
//! out of lists (unless `archived=include|only`), search and phone lookup,
//! still readable by id, and its archiving is a field write like any other:
//! an Automerge change through the push path, relayed to devices, in the
//! record's history, and a `record.deleted` webhook event.
//!
//! Guarantees: archiving needs the role's `archive` right and an editable
//! record (refused with `archive_forbidden` / `record_not_editable`, the
//! same codes a device's push gets, since both go through
//! `Access::check_write`); archiving an archived record changes nothing.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::schema::{self, ARCHIVED};

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::query;
use super::records::{RecordOut, apply, fetch};
use crate::state::AppState;

/// The routes of this module (the DELETE shares its path with records).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/records/{kind}/{id}", axum::routing::delete(archive))
        .route("/v1/records/{kind}/{id}/restore", post(restore))
}

/// Archives a record: it leaves lists, search and lookups, and stays
/// readable by id and restorable.
#[utoipa::path(delete, path = "/v1/records/{kind}/{id}", tag = "records",
    params(("kind" = super::records::KindName, Path), ("id" = String, Path)),
    responses(
        (status = 200, body = RecordOut, description = "the record, now archived"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`archive_forbidden`, `record_not_editable`, or a read-only key"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn archive(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<RecordOut>> {
    set_archived(&state, &caller, &kind, &id, true).await
}

/// Restores an archived record.
#[utoipa::path(post, path = "/v1/records/{kind}/{id}/restore", tag = "records",
    params(("kind" = super::records::KindName, Path), ("id" = String, Path)),
    responses(
        (status = 200, body = RecordOut, description = "the record, no longer archived"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn restore(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    caller: Caller,
) -> ApiResult<Json<RecordOut>> {
    set_archived(&state, &caller, &kind, &id, false).await
}

/// Writes `archived` through the push path, after checking the record is
/// there for the caller (a record they do not see is `404`).
async fn set_archived(
    state: &Arc<AppState>,
    caller: &Caller,
    kind: &str,
    id: &str,
    archived: bool,
) -> ApiResult<Json<RecordOut>> {
    let id = query::record_id(kind, id)?;
    caller.may_write(id.kind())?;
    if !schema::archivable(id.kind()) {
        return Err(Problem::not_found(format!(
            "{} records are not archived",
            id.kind()
        )));
    }
    fetch(state, caller, id.clone()).await?;
    let write = FieldWrite::set(ARCHIVED, fieldwork_core::FieldValue::Bool(archived));
    apply(state, caller, &id, false, vec![write]).await?;
    Ok(Json(fetch(state, caller, id).await?))
}
