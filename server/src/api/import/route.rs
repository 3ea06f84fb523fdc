//! `POST /v1/import/{kind}`: the import of [`super`] over the office API,
//! for administrators (docs/API.md, "Import").
//!
//! Guarantees: the same checks and writes as `fieldwork-server import`
//! (one function, [`super::run`]); the body is read with a hard limit
//! ([`fieldwork_core::import::MAX_BYTES`]) before anything is decided; one
//! import or export at a time per caller (`429 export_busy`); a file with a
//! refused row is answered `422` with the whole report and nothing written
//! (unless `skip_invalid`); `mapping_name` uses a saved mapping
//! ([`super::saved_mapping`]), and naming both `mapping` and
//! `mapping_name` is refused.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use fieldwork_core::import::{MAX_BYTES, Mapping};

use super::{Options, Report};
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::query;
use crate::error::ServerError;
use crate::request::read_body_bytes;
use crate::state::AppState;

/// How long the file may take to arrive.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// Longest mapping accepted in the query string.
const MAX_MAPPING: usize = 16 * 1024;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/import/{kind}", post(import))
}

/// Imports a CSV file of records (administrators).
#[utoipa::path(post, path = "/v1/import/{kind}", tag = "records",
    params(
        ("kind" = String, Path, description = "`account`, `contact`, `deal` or `activity`"),
        ("dry_run" = Option<bool>, Query, description = "check and report only"),
        ("skip_invalid" = Option<bool>, Query, description = "import the valid rows even when some are refused"),
        ("mapping" = Option<String>, Query, description = "the column mapping as JSON (docs/API.md, Import)"),
        ("mapping_name" = Option<String>, Query, description = "the name of a saved mapping (`PUT /v1/admin/import-mappings/{name}`) for this kind"),
    ),
    request_body(content = String, content_type = "text/csv", description = "the file: CSV (UTF-8 or Windows-1252, comma, semicolon or tab) or XLSX (told by its first bytes; the first worksheet, row 1 the header)"),
    responses(
        (status = 200, body = Object, description = "the report: created, updated, unchanged, refused, errors and warnings by line"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Object, description = "refused: the same report, nothing written"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Report>)> {
    caller.require_admin()?;
    let kind = query::kind(&kind)?;
    if !matches!(
        kind,
        RecordKind::Account | RecordKind::Contact | RecordKind::Deal | RecordKind::Activity
    ) {
        return Err(Problem::bad_request(
            "accounts, contacts, deals and activities are imported",
        ));
    }
    let (options, mapping, name) = parameters(raw.as_deref().unwrap_or(""))?;
    let mapping = match name {
        Some(name) => {
            state
                .db
                .read(move |c| super::saved_mapping(c, &name, kind))
                .await?
        }
        None => mapping,
    };
    let _slot = state
        .exports
        .take(&caller.user.name)
        .map_err(crate::api::export::busy)?;
    let bytes = read_body_bytes(&headers, body, MAX_BYTES, BODY_TIMEOUT)
        .await
        .map_err(|e| {
            let (status, code, detail) = e.describe();
            Problem::new(status, code, detail)
        })?;
    let running = state.clone();
    let report = tokio::task::spawn_blocking(move || {
        super::run(&running, kind, &bytes, &mapping, options, &mut |_, _| {})
    })
    .await
    .map_err(|e| ServerError::Internal(format!("import: {e}")))??;
    let status = if report.refused_whole {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

/// The options, the mapping given as JSON and the name of a saved one.
fn parameters(raw: &str) -> ApiResult<(Options, Mapping, Option<String>)> {
    let mut options = Options::default();
    let mut mapping = Mapping::default();
    let mut given = false;
    let mut name = None;
    let flag = |key: &str, value: &str| match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Problem::bad_request(format!("`{key}` is true or false"))),
    };
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "dry_run" => options.dry_run = flag(&key, &value)?,
            "skip_invalid" => options.skip_invalid = flag(&key, &value)?,
            "mapping" if value.len() <= MAX_MAPPING => {
                mapping = Mapping::from_json(value.as_bytes()).map_err(Problem::bad_request)?;
                given = true;
            }
            "mapping_name" if value.len() <= MAX_MAPPING => name = Some(value.into_owned()),
            "mapping" => return Err(Problem::bad_request("the mapping is too long")),
            "mapping_name" => return Err(Problem::bad_request("the mapping's name is too long")),
            other => return Err(Problem::bad_request(format!("unknown parameter `{other}`"))),
        }
    }
    if given && name.is_some() {
        return Err(Problem::bad_request(
            "give the mapping as `mapping` or by `mapping_name`, not both",
        ));
    }
    Ok((options, mapping, name))
}
