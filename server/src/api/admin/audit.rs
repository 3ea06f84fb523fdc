//! The audit log on the admin listener (route in [`super`]): refused
//! changes, administrative actions and remote wipes, newest first.
//!
//! Guarantees: at most 10 000 entries per answer; a bad `limit` is `400
//! bad_request`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::{admin, bad_query};
use crate::api::problem::{ApiResult, Problem};
use crate::db::audit::AuditEntry;
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// Most entries in one answer.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// One audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditView {
    /// When (ms since the Unix epoch).
    pub at: i64,
    /// Who: the administrator for an administrative action, the user
    /// whose change was refused, the device's user for a wipe delivery.
    pub user: String,
    /// From which device.
    pub device: Option<String>,
    /// Which document.
    pub doc: Option<String>,
    /// Which change (hex hash).
    pub hash: Option<String>,
    /// Stable code (`admin_*` for administrative actions, `device_wipe_*`,
    /// or a refusal code).
    pub code: String,
    /// Which field.
    pub field: Option<String>,
    /// Which rule.
    pub rule: Option<String>,
    /// What happened, naming the target and the new values.
    pub message: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> AuditView {
        AuditView {
            at: e.at,
            user: e.user,
            device: e.device,
            doc: e.doc,
            hash: e.hash,
            code: e.code,
            field: e.field,
            rule: e.rule,
            message: e.message,
        }
    }
}

/// `?limit=N`
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLimit {
    /// How many entries, newest first (default 100, at most 10 000).
    #[serde(default)]
    #[param(minimum = 0)]
    pub limit: Option<usize>,
}

/// `GET /v1/admin/audit?limit=N`: the newest audit entries, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    operation_id = "list_audit",
    tag = "audit",
    security(("bearer" = [])),
    params(AuditLimit),
    responses(
        (status = 200, description = "the newest entries, newest first", body = [AuditView]),
        (status = 400, description = "a bad `limit` (`bad_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recent(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    limit: Result<Query<AuditLimit>, QueryRejection>,
) -> ApiResult<Json<Vec<AuditView>>> {
    admin(&state, auth).await?;
    let Query(q) = limit.map_err(bad_query)?;
    Ok(Json(newest(&state, q.limit.unwrap_or(100)).await?))
}

/// The newest `limit` entries (at most [`MAX_ENTRIES`]), newest first, as
/// [`recent`] answers them (for a caller already known to be an
/// administrator).
pub(crate) async fn newest(state: &AppState, limit: usize) -> ApiResult<Vec<AuditView>> {
    let limit = limit.min(MAX_ENTRIES);
    let entries = state
        .db
        .read(move |c| crate::db::audit::recent(c, limit))
        .await?;
    Ok(entries.into_iter().map(AuditView::from).collect())
}
