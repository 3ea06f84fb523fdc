//! The data subject's right of access (issue 17, GDPR export): everything
//! the organisation holds about one contact, for an administrator to hand
//! over: the contact with every field, the history of each field (who
//! changed it when, to what), and every record that refers to the contact
//! (activities, notes, deals, relationships) with their fields.
//!
//! Guarantees:
//! - Only administrators, on the admin listener (`401`/`403` as every
//!   admin route): the answer holds every class, as the organisation holds
//!   it, not one role's view.
//! - Each export is written to the audit log (who, which contact, when),
//!   not its content.
//! - The work is bounded by the records that refer to the contact (found
//!   by seeks in the field index) and their documents.
//!
//! The right to erasure ([`erase`]) is carried out by [`crate::erasure`]
//! (one transaction, logged in the erasure log and the audit log, never
//! with the values); this handler only checks the caller and the id.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use fieldwork_core::history::HistoryEntry;
use fieldwork_core::schema::FieldType;
use fieldwork_core::{Access, FieldValue, RecordId, RecordKind};
use rusqlite::Connection;
use serde::Serialize;

use super::admin;
use crate::api::problem::{ApiResult, Problem};
use crate::api::records::RecordOut;
use crate::api::{query, read, write};
use crate::db::audit::{self, AuditEntry};
use crate::db::{policy, record_index};
use crate::erasure::{self, Erased};
use crate::error::{Result, ServerError};
use crate::request::Authenticated;
use crate::state::AppState;

/// Everything held about one contact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectAccessOut {
    /// When this export was made (RFC 3339).
    pub exported_at: String,
    /// The contact, every field.
    pub contact: RecordOut,
    /// Every change to the contact, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<HistoryEntry>,
    /// Records that refer to the contact (its `contact`, or a
    /// relationship's `from`/`to`), every field.
    pub related: Vec<RecordOut>,
}

/// `GET /v1/admin/gdpr/contact/{id}`: everything the organisation holds
/// about a contact (the subject access of the GDPR).
#[utoipa::path(
    get,
    path = "/v1/admin/gdpr/contact/{id}",
    operation_id = "gdpr_subject_access",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the contact's id (`ULID` or `contact:ULID`)")),
    responses(
        (status = 200, body = SubjectAccessOut),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_access(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
) -> ApiResult<Json<SubjectAccessOut>> {
    let user = admin(&state, auth).await?;
    let id = query::record_id("contact", &id)?;
    let actor = write::actor_for(&state.actor, &user);
    let shown = id.clone();
    let found = state
        .db
        .read(move |c| {
            let (_, policy) = policy::current(c)?;
            gather(c, &policy, &id, &actor)
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("no contact {shown}")))?;
    let (now, by, subject) = (state.now_ms(), user.name.clone(), shown.to_string());
    state
        .db
        .write(move |w| {
            let what = format!("exported everything held about {subject} (subject access)");
            audit::record(
                &w.conn,
                &AuditEntry::admin(now, &by, "admin_gdpr_export", what),
            )
        })
        .await?;
    Ok(Json(found))
}

/// `POST /v1/admin/gdpr/contact/{id}/erase`: erases the contact's personal
/// fields from its current state and history, on the server and (at their
/// next sync) on every device ([`crate::erasure`]). Idempotent: a second
/// call reports `already_erased` and removes nothing.
#[utoipa::path(
    post,
    path = "/v1/admin/gdpr/contact/{id}/erase",
    operation_id = "gdpr_erase",
    tag = "gdpr",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the contact's id (`ULID` or `contact:ULID`)")),
    responses(
        (status = 200, description = "what was erased (counts, never values)", body = Erased),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erase(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
) -> ApiResult<Json<Erased>> {
    let user = admin(&state, auth).await?;
    let id = query::record_id("contact", &id)?;
    let (st, by, shown) = (state.clone(), user.name.clone(), id.to_string());
    super::blocking(move || erasure::erase_contact(&st, &id, &by))
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no contact {shown}")))
}

/// The contact, its history and the records referring to it, read with
/// every class.
fn gather(
    conn: &Connection,
    policy: &fieldwork_core::Policy,
    id: &RecordId,
    actor: &fieldwork_core::automerge::ActorId,
) -> Result<Option<SubjectAccessOut>> {
    let all = Access::Local;
    let Some((card, updated)) = read::card_under(conn, &all, policy, id, actor)? else {
        return Ok(None);
    };
    let mut history = Vec::new();
    for doc in &mut read::readable_docs(conn, &all, id, actor)?.unwrap_or_default() {
        history.extend(fieldwork_core::history::of_doc(doc)?);
    }
    history.sort_by(|a, b| a.at.cmp(&b.at));
    let mut related = Vec::new();
    for other in referring(conn, id)? {
        if let Some((card, updated)) = read::card_under(conn, &all, policy, &other, actor)? {
            related.push(RecordOut::from_card(card, updated));
        }
    }
    Ok(Some(SubjectAccessOut {
        exported_at: jiff::Timestamp::now().to_string(),
        contact: RecordOut::from_card(card, updated),
        history,
        related,
    }))
}

/// Records whose `contact`, `from` or `to` field is `id`: a reference's
/// index key is the id itself, so this is a seek in the field index
/// (`record_fields_sorted`: kind, field, key) per kind and field.
fn referring(conn: &Connection, id: &RecordId) -> Result<Vec<RecordId>> {
    let key = record_index::sort_key(
        FieldType::Ref(&[RecordKind::Contact]),
        &FieldValue::Text(id.to_string()),
    );
    let mut stmt = conn.prepare(
        "SELECT DISTINCT record_id FROM record_fields
          WHERE kind IN ('activity', 'note', 'deal', 'relationship')
            AND field IN ('contact', 'from', 'to') AND sort_key = ?1
          ORDER BY record_id",
    )?;
    let ids = stmt
        .query_map([key], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids
        .into_iter()
        .filter_map(|s| s.parse::<RecordId>().ok())
        .filter(|r| r != id)
        .collect())
}
