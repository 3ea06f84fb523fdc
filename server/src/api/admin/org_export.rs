//! The organisation's export for administrators (issue 17):
//! `GET /v1/admin/export/{kind}` on the admin listener, every record of a
//! kind with every field, as the CLI's `fieldwork-server export KIND --all`
//! writes it.
//!
//! Guarantees:
//! - Only administrators, on the admin listener (`401`/`403` like every
//!   admin route); the answer holds every class, as the organisation holds
//!   it, so it is not offered on the public listener.
//! - The same export as the user's ([`crate::api::export`]): the same
//!   filters, sort, formats, formula-safe CSV, one page of memory, one
//!   export per caller and a few per server (`429 export_busy`), a `400`
//!   before anything is sent.
//! - Each export is written to the audit log (who, which kind, when).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use fieldwork_core::Access;

use super::admin;
use crate::api::export::{self, Export, ExportFormat};
use crate::api::problem::{ApiResult, Problem};
use crate::api::records::KindName;
use crate::api::{query, write};
use crate::db::audit::{self, AuditEntry};
use crate::db::policy;
use crate::error::{Result, ServerError};
use crate::request::Authenticated;
use crate::state::AppState;

/// Exports every record of one kind, every field (administrators).
#[utoipa::path(get, path = "/v1/admin/export/{kind}", tag = "gdpr",
    operation_id = "organisation_export",
    security(("bearer" = [])),
    params(
        ("kind" = KindName, Path, description = "the kind of records"),
        ("format" = Option<ExportFormat>, Query, description = "csv (default) or json"),
        ("filter" = Option<Vec<String>>, Query, description = "FIELD:OP:VALUE, repeatable, as for the list"),
        ("sort" = Option<String>, Query, description = "a field, `-field` for descending"),
        ("archived" = Option<String>, Query, description = "`exclude` (default), `include` or `only` archived records"),
    ),
    responses(
        (status = 200, description = "the whole export, streamed",
            content((String = "text/csv"), (Object = "application/json"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "`export_busy`"),
    ))]
pub async fn organisation(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let user = admin(&state, auth).await?;
    let kind = query::kind(&kind)?;
    let (format, rest) = export::split_format(raw.as_deref().unwrap_or(""))?;
    let q = query::list_query(kind, &rest)?;
    let slot = state.exports.take(&user.name).map_err(export::busy)?;
    let policy = state.db.read(|c| Ok(policy::current(c)?.1)).await?;
    let actor = write::actor_for(&state.actor, &user);
    let export = Export::new(Access::Local, policy, q, actor, format);
    // Audited once the export started: a refused one exported nothing.
    let response = export::stream(state.clone(), export, slot, kind, format).await?;
    let (now, by) = (state.now_ms(), user.name.clone());
    state
        .db
        .write(move |w| {
            let what = format!(
                "exported every {} record (organisation export)",
                kind.as_str()
            );
            audit::record(&w.conn, &AuditEntry::admin(now, &by, "admin_export", what))
        })
        .await?;
    Ok(response)
}
