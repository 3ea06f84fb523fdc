//! Saved column mappings of imports on the admin listener (routes in
//! [`super`]): list, save (create or replace) and delete them by name. A
//! saved mapping is used by `fieldwork-server import --mapping-name NAME`,
//! `POST /v1/import/{kind}?mapping_name=NAME` and the web import page
//! ([`crate::api::import::saved_mapping`]).
//!
//! Guarantees:
//! - a mapping is saved only when it is valid for its kind
//!   ([`fieldwork_core::import::Mapping::from_json`], then
//!   [`fieldwork_core::import::check_mapping`]: every column goes to a
//!   field of the kind an import may write, every default parses); a
//!   refused one is `422 invalid_mapping` with the reason, and what was
//!   saved under the name stays;
//! - names are 1 to [`MAX_NAME`] letters, digits, `-`, `_` or `.`; the
//!   body is at most [`MAX_MAPPING`] bytes and at most
//!   [`crate::db::import_mappings::MAX_SAVED`] mappings are kept
//!   (`409 too_many_mappings`);
//! - saving and deleting are written to the audit log
//!   ([`SAVE`], [`DELETE`]).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use fieldwork_core::RecordKind;
use fieldwork_core::import::{self, Mapping};
use serde::{Deserialize, Serialize};

use super::{admin, audit_after, bad_path};
use crate::api::problem::{ApiResult, Problem};
use crate::db::import_mappings::{self as db, MAX_SAVED, SavedMapping};
use crate::error::ServerError;
use crate::request::{Authenticated, read_body_bytes};
use crate::state::AppState;

/// Audit code: a mapping was saved.
pub const SAVE: &str = "admin_save_import_mapping";
/// Audit code: a mapping was deleted.
pub const DELETE: &str = "admin_delete_import_mapping";
/// Longest name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest body (and mapping), in bytes.
pub const MAX_MAPPING: usize = 16 * 1024;

/// A saved mapping.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MappingView {
    /// Its name.
    pub name: String,
    /// The kind it maps: `account`, `contact`, `deal` or `activity`.
    pub kind: String,
    /// The mapping (`columns`, `defaults`, `currency`; docs/API.md, Import).
    #[schema(value_type = Object)]
    pub mapping: serde_json::Value,
    /// Who saved it last.
    pub updated_by: String,
    /// When (RFC 3339).
    pub updated_at: String,
}

impl From<SavedMapping> for MappingView {
    fn from(m: SavedMapping) -> MappingView {
        MappingView {
            mapping: serde_json::from_str(&m.mapping).unwrap_or(serde_json::Value::Null),
            name: m.name,
            kind: m.kind,
            updated_by: m.updated_by,
            updated_at: m.updated_at,
        }
    }
}

/// The body of a save.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingRequest {
    /// The kind it maps: `account`, `contact`, `deal` or `activity`.
    pub kind: String,
    /// The mapping (docs/API.md, Import).
    #[schema(value_type = Object)]
    pub mapping: serde_json::Value,
}

/// `GET /v1/admin/import-mappings`: every saved mapping, by name.
#[utoipa::path(
    get,
    path = "/v1/admin/import-mappings",
    operation_id = "list_import_mappings",
    tag = "import",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every saved mapping, by name", body = [MappingView]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<MappingView>>> {
    admin(&state, auth).await?;
    Ok(Json(all(&state).await?))
}

/// Every saved mapping, as [`list`] answers (for a caller already known to
/// be an administrator).
pub(crate) async fn all(state: &AppState) -> ApiResult<Vec<MappingView>> {
    let saved = state.db.read(db::list).await?;
    Ok(saved.into_iter().map(MappingView::from).collect())
}

/// `PUT /v1/admin/import-mappings/{name}`: saves the mapping (creates or
/// replaces it) after checking it against its kind's fields.
#[utoipa::path(
    put,
    path = "/v1/admin/import-mappings/{name}",
    operation_id = "put_import_mapping",
    tag = "import",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "1 to 64 letters, digits, `-`, `_`, `.`")),
    request_body(content = MappingRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "saved", body = MappingView),
        (status = 400, description = "a bad name or body (`bad_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "too many saved mappings (`too_many_mappings`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "the mapping is not valid for its kind (`invalid_mapping`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<MappingView>> {
    let me = admin(&state, auth).await?;
    let Path(name) = name.map_err(bad_path)?;
    let limit = MAX_MAPPING.min(state.config.max_admin_body.max(1024));
    let bytes = read_body_bytes(&headers, body, limit, state.config.body_timeout)
        .await
        .map_err(|e| {
            let (status, code, detail) = e.describe();
            Problem::new(status, code, detail)
        })?;
    let request: MappingRequest = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::bad_request(format!(
            "the body is {{\"kind\": \"account\", \"mapping\": {{...}}}}: {e}"
        ))
    })?;
    let json = serde_json::to_string(&request.mapping)
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(Json(
        save_by(&state, &me.name, &name, &request.kind, &json).await?,
    ))
}

/// Checks and saves mapping `json` for `kind` as `name`, by administrator
/// `by` (audited): what [`put`] does once the caller is known.
pub(crate) async fn save_by(
    state: &AppState,
    by: &str,
    name: &str,
    kind: &str,
    json: &str,
) -> ApiResult<MappingView> {
    check_name(name)?;
    let kind = import_kind(kind)?;
    if json.len() > MAX_MAPPING {
        return Err(Problem::bad_request(format!(
            "a mapping has at most {MAX_MAPPING} bytes"
        )));
    }
    let mapping = Mapping::from_json(json.as_bytes()).map_err(invalid)?;
    import::check_mapping(kind, &mapping).map_err(invalid)?;
    let at = jiff::Timestamp::from_millisecond(state.now_ms())
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .to_string();
    let saved = SavedMapping {
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
        mapping: json.to_owned(),
        updated_by: by.to_owned(),
        updated_at: at,
    };
    let row = saved.clone();
    let stored = state
        .db
        .write(move |w| {
            let tx = w.conn.transaction()?;
            if db::get(&tx, &row.name)?.is_none() && db::count(&tx)? >= MAX_SAVED {
                return Ok(false);
            }
            db::put(&tx, &row)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if !stored {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "too_many_mappings",
            format!("{MAX_SAVED} mappings are saved already; delete one first"),
        ));
    }
    audit_after(
        state,
        by,
        SAVE,
        format!("saved the import mapping {name} for {kind}"),
    )
    .await;
    Ok(MappingView::from(saved))
}

/// `DELETE /v1/admin/import-mappings/{name}`: deletes a saved mapping.
#[utoipa::path(
    delete,
    path = "/v1/admin/import-mappings/{name}",
    operation_id = "delete_import_mapping",
    tag = "import",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the mapping's name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no mapping has this name (`not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let me = admin(&state, auth).await?;
    let Path(name) = name.map_err(bad_path)?;
    check_name(&name)?;
    let key = name.clone();
    if !state.db.write(move |w| db::delete(&w.conn, &key)).await? {
        return Err(Problem::not_found(format!(
            "no import mapping is named {name}"
        )));
    }
    audit_after(
        &state,
        &me.name,
        DELETE,
        format!("deleted the import mapping {name}"),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `422 invalid_mapping` with `why`.
fn invalid(why: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_mapping", why)
}

/// Refuses a name that is empty, too long or has other characters than
/// letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Problem::bad_request(name_rule()))
    }
}

/// Whether `name` can be a mapping's name (the rule [`check_name`] and the
/// import's lookup by name share).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The rule for a mapping's name, in words.
pub fn name_rule() -> String {
    format!("a mapping's name is 1 to {MAX_NAME} letters, digits, `-`, `_` or `.`")
}

/// The kind named `text`, if an import makes records of it.
pub fn import_kind(text: &str) -> ApiResult<RecordKind> {
    text.parse::<RecordKind>()
        .ok()
        .filter(|k| import::KINDS.contains(k))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "`{text}`: an import makes accounts, contacts, deals or activities"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds_are_checked() {
        assert!(check_name("crm-export_2024.v1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert_eq!(import_kind("deal").ok(), Some(RecordKind::Deal));
        assert!(import_kind("note").is_err());
        assert!(import_kind("nope").is_err());
    }
}
