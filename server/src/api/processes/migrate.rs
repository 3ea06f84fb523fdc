//! Bulk migration: every instance of one version of a model moved to
//! another, dry run first. Core decides each instance by the
//! single-instance rule ([`runner::migrate_all`]), with the caller's
//! `migrate` right; applied in one transaction.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use fieldwork_core::RecordKind;
use fieldwork_core::process::runner::{self, Migration};
use serde::{Deserialize, Serialize};

use super::engine::engine_write;
use crate::api::body;
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::state::AppState;

/// A bulk migration asked for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateIn {
    /// The version the instances are on now.
    pub from: i64,
    /// The version to move them to.
    pub to: i64,
    /// Only say what would move and what cannot; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// An instance left where it is, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusedOut {
    /// The instance id.
    pub instance: String,
    /// Why it cannot move (e.g. its current step is not in the target
    /// version; it is stopped or completed).
    pub reason: String,
}

/// What a bulk migration did (or, in a dry run, would do).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MigrationOut {
    /// The model's key.
    pub key: String,
    /// From this version.
    pub from: i64,
    /// To this version.
    pub to: i64,
    /// Nothing was written.
    pub dry_run: bool,
    /// Instances moved (or that would move).
    pub migrated: Vec<String>,
    /// Instances that cannot move, with why.
    pub refused: Vec<RefusedOut>,
}

impl From<Migration> for MigrationOut {
    fn from(m: Migration) -> MigrationOut {
        MigrationOut {
            key: m.key,
            from: m.from,
            to: m.to,
            dry_run: m.dry_run,
            migrated: m.migrated,
            refused: m
                .refused
                .into_iter()
                .map(|r| RefusedOut {
                    instance: r.instance,
                    reason: r.reason,
                })
                .collect(),
        }
    }
}

/// Moves every instance of version `from` of model `key` to version `to`
/// (process right `migrate`); `dry_run` lists what would move and what
/// cannot, and why, and changes nothing.
#[utoipa::path(post, path = "/v1/processes/models/{key}/migrate", tag = "processes",
    params(("key" = String, Path)),
    request_body = MigrateIn,
    responses(
        (status = 200, body = MigrationOut),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "not the expected JSON"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`process_forbidden` (rule `roles.ROLE.process.migrate`) or `key_scope`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "a version that is not on the server"),
    ))]
pub async fn migrate_all(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<MigrationOut>> {
    caller.may_write(RecordKind::ProcessInstance)?;
    let input: MigrateIn = body::json(&state, &headers, raw).await?;
    let plan = engine_write(&state, &caller, move |h| {
        runner::migrate_all(h, &key, input.from, input.to, input.dry_run)
    })
    .await
    .map_err(Problem::from)?;
    Ok(Json(plan.into()))
}
