//! Roles of the policy in force and territories in use, on the admin
//! listener (routes in [`super`]).
//!
//! Guarantees: roles are read from the policy in force at the request (the
//! same the sync server enforces); territory counts come from the users
//! table and the server's record facts (accounts' `territory`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use fieldwork_core::policy::{ProcessRights, Role};
use serde::{Deserialize, Serialize};

use super::admin;
use crate::api::problem::{ApiResult, Problem};
use crate::db::users;
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// What a role may do to process instances.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProcessRightsView {
    /// Start an instance by hand from a record.
    pub start: bool,
    /// Complete tasks that the engine created.
    pub complete_tasks: bool,
    /// Change an instance's parameters.
    pub change_parameters: bool,
    /// Suspend and resume an instance.
    pub suspend: bool,
    /// Stop an instance for good.
    pub stop: bool,
    /// Publish new model versions.
    pub publish: bool,
    /// Move running instances to another model version.
    pub migrate: bool,
}

impl From<ProcessRights> for ProcessRightsView {
    fn from(p: ProcessRights) -> ProcessRightsView {
        ProcessRightsView {
            start: p.start,
            complete_tasks: p.complete_tasks,
            change_parameters: p.change_parameters,
            suspend: p.suspend,
            stop: p.stop,
            publish: p.publish,
            migrate: p.migrate,
        }
    }
}

/// One role of the policy in force.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleView {
    /// The role's name (what users' `role` says).
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Whether the role may administer users and the policy.
    pub admin: bool,
    /// Field classes the role may read.
    pub read: Vec<String>,
    /// Field classes the role may write.
    pub write: Vec<String>,
    /// Which records the role sees (`own`, `territory`, `team`, `all`).
    pub sees: Vec<String>,
    /// Which records the role may change.
    pub edits: Vec<String>,
    /// Rights over process instances.
    pub process: ProcessRightsView,
    /// Whether the role may archive and restore the records it may edit.
    pub archive: bool,
    /// How many users (enabled or not) have the role.
    pub users: u64,
}

impl RoleView {
    fn new(name: &str, role: &Role, users: u64) -> RoleView {
        let names = |set: &std::collections::BTreeSet<_>| -> Vec<String> {
            set.iter()
                .map(|c: &fieldwork_core::ClassName| c.to_string())
                .collect()
        };
        let scopes = |set: &std::collections::BTreeSet<fieldwork_core::policy::Scope>| {
            set.iter().map(|s| scope_name(*s)).collect()
        };
        RoleView {
            name: name.to_owned(),
            description: role.description.clone(),
            admin: role.admin,
            read: names(&role.read),
            write: names(&role.write),
            sees: scopes(&role.sees),
            edits: scopes(&role.edits),
            process: role.process.into(),
            archive: role.archive,
            users,
        }
    }
}

/// A scope's name as the policy file writes it.
fn scope_name(scope: fieldwork_core::policy::Scope) -> String {
    serde_json::to_value(scope)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A territory in use.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TerritoryView {
    /// The territory's name.
    pub name: String,
    /// Users (enabled or not) assigned it.
    pub users: u64,
    /// Accounts whose `territory` it is.
    pub accounts: u64,
}

/// `GET /v1/admin/roles`: the roles of the policy in force, by name, with
/// how many users have each.
#[utoipa::path(
    get,
    path = "/v1/admin/roles",
    operation_id = "list_roles",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the roles, by name", body = [RoleView]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn roles(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<RoleView>>> {
    admin(&state, auth).await?;
    Ok(Json(all(&state).await?))
}

/// The roles of the policy in force, by name, as [`roles`] answers them
/// (for a caller already known to be an administrator).
pub(crate) async fn all(state: &AppState) -> ApiResult<Vec<RoleView>> {
    let (policy, counts) = state
        .db
        .read(|c| Ok((crate::db::policy::current(c)?.1, users::role_counts(c)?)))
        .await?;
    Ok(policy
        .roles()
        .iter()
        .map(|(name, role)| RoleView::new(name, role, counts.get(name).copied().unwrap_or(0)))
        .collect())
}

/// `GET /v1/admin/territories`: every territory in use (users' territories
/// and accounts' `territory` values), by name, with counts.
#[utoipa::path(
    get,
    path = "/v1/admin/territories",
    operation_id = "list_territories",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the territories, by name", body = [TerritoryView]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn territories(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<TerritoryView>>> {
    admin(&state, auth).await?;
    Ok(Json(in_use(&state).await?))
}

/// Every territory in use, by name, with counts, as [`territories`]
/// answers them (for a caller already known to be an administrator).
pub(crate) async fn in_use(state: &AppState) -> ApiResult<Vec<TerritoryView>> {
    let all = state.db.read(users::territories).await?;
    Ok(all
        .into_iter()
        .map(|(name, used)| TerritoryView {
            name,
            users: used.users,
            accounts: used.accounts,
        })
        .collect())
}
