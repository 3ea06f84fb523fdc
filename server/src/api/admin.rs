//! The admin API's people and rules: users, roles, territories, the
//! policy, devices and the audit log, on the admin listener
//! (`--admin-listen`, loopback by default). Described in the admin OpenAPI
//! document (`/v1/admin/openapi.json`, [`AdminResourcesDoc`]).
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | GET | `/v1/admin/users` | admin | every user: role, territories, manager, time zone, disabled, created |
//! | POST | `/v1/admin/users` | admin | create a user (password in the body) |
//! | GET | `/v1/admin/users/{name}` | admin | one user |
//! | PATCH | `/v1/admin/users/{name}` | admin | change role, territories, manager, time zone (as `fieldwork-server user set`) |
//! | POST | `/v1/admin/users/{name}/disable` | admin | disable a user (ends their sessions, marks their devices for wipe) |
//! | POST | `/v1/admin/users/{name}/enable` | admin | enable a user again (as `fieldwork-server user enable`) |
//! | GET | `/v1/admin/roles` | admin | the roles of the policy in force, with how many users have each |
//! | GET | `/v1/admin/territories` | admin | every territory in use, with counts of users and accounts |
//! | GET/PUT | `/v1/admin/policy` | admin | read / replace the policy (TOML body) |
//! | GET | `/v1/admin/devices?user=NAME` | admin | devices: last seen, app version, unsent changes at last contact, wipe state |
//! | POST | `/v1/admin/devices/{id}/wipe` | admin | mark a device for remote wipe |
//! | GET | `/v1/admin/audit?limit=N` | admin | recent refusals and administrative actions, newest first |
//! | GET | `/v1/admin/import-mappings` | admin | saved column mappings of imports ([`import_mappings`]) |
//! | PUT, DELETE | `/v1/admin/import-mappings/{name}` | admin | save (checked against the kind's fields) or delete one |
//! | GET | `/v1/admin/gdpr/contact/{id}` | admin | everything held about a contact: every field, its history, the records referring to it (GDPR subject access; audited) |
//! | GET | `/v1/admin/export/{kind}?format=csv\|json` | admin | the organisation's export: every record of a kind, every field, streamed (audited; [`org_export`]) |
//! | POST | `/v1/admin/gdpr/contact/{id}/erase` | admin | erase a contact's personal fields from its state and history, on the server and every device (GDPR erasure; logged without values) |
//!
//! Guarantees:
//! - only administrators (a session token whose user's role the policy in
//!   force makes `admin`) reach these handlers; no token or a bad one is
//!   `401 unauthorized`, another role `403 forbidden`; API keys are not
//!   accepted on the admin listener;
//! - every error is `application/problem+json` with the stable `code` the
//!   admin API has always answered (`invalid_request`, `not_found`,
//!   `invalid_policy`, `payload_too_large`, ...);
//! - request bodies are limited in size (`max_admin_body`) and time
//!   (`body_timeout`), and not read before the caller is known to be an
//!   administrator;
//! - every change is written to the audit log with who did it, what and
//!   when (codes [`crate::admin::codes`]); a change to a user is told to
//!   live sync connections at once, so devices lose and gain documents as
//!   the CLI's changes make them;
//! - an administrator cannot lock themself out through the API: disabling
//!   oneself, taking one's own role to a non-admin role and installing a
//!   policy whose role for oneself is not admin are refused, and nothing
//!   changes.

pub mod audit;
pub mod devices;
pub mod gdpr;
pub mod import_mappings;
pub mod org_export;
pub mod policy;
pub mod roles;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::routing::{get, post};
use utoipa::OpenApi;

use super::problem::{ApiResult, Problem};
use crate::db::audit::AuditEntry;
use crate::db::users::User;
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// The routes of this module on the admin listener.
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/users", get(users::list).post(users::create))
        .route(
            "/v1/admin/users/{name}",
            get(users::get_one).patch(users::update),
        )
        .route("/v1/admin/users/{name}/disable", post(users::disable))
        .route("/v1/admin/users/{name}/enable", post(users::enable))
        .route("/v1/admin/roles", get(roles::roles))
        .route("/v1/admin/territories", get(roles::territories))
        .route("/v1/admin/policy", get(policy::get).put(policy::put))
        .route("/v1/admin/devices", get(devices::list))
        .route("/v1/admin/devices/{id}/wipe", post(devices::wipe))
        .route("/v1/admin/audit", get(audit::recent))
        .route("/v1/admin/import-mappings", get(import_mappings::list))
        .route(
            "/v1/admin/import-mappings/{name}",
            axum::routing::put(import_mappings::put).delete(import_mappings::delete),
        )
        .route("/v1/admin/gdpr/contact/{id}", get(gdpr::subject_access))
        .route("/v1/admin/gdpr/contact/{id}/erase", post(gdpr::erase))
        .route("/v1/admin/export/{kind}", get(org_export::organisation))
}

/// This module's part of the admin OpenAPI document: every operation and
/// type of the routes above.
#[derive(OpenApi)]
#[openapi(
    paths(
        users::list,
        users::create,
        users::get_one,
        users::update,
        users::disable,
        users::enable,
        roles::roles,
        roles::territories,
        policy::get,
        policy::put,
        devices::list,
        devices::wipe,
        audit::recent,
        import_mappings::list,
        import_mappings::put,
        import_mappings::delete,
        gdpr::subject_access,
        gdpr::erase,
        org_export::organisation,
    ),
    components(schemas(
        users::UserView,
        users::NewUserRequest,
        users::UserPatch,
        roles::RoleView,
        roles::ProcessRightsView,
        roles::TerritoryView,
        policy::PolicyView,
        policy::PolicyInstalled,
        policy::PolicyProblem,
        devices::DeviceView,
        devices::WipeStateView,
        devices::WipeView,
        audit::AuditView,
        import_mappings::MappingView,
        import_mappings::MappingRequest,
        gdpr::SubjectAccessOut,
        crate::erasure::Erased,
        crate::erasure::Purged,
        crate::api::records::KindName,
        crate::api::export::ExportFormat,
    )),
    tags(
        (name = "users", description = "Users, the roles of the policy in force, territories in use"),
        (name = "policy", description = "The privacy policy in force"),
        (name = "devices", description = "Devices and remote wipe"),
        (name = "audit", description = "The audit log: refusals and administrative actions"),
        (name = "import", description = "Saved column mappings of imports"),
        (name = "gdpr", description = "Data subjects' rights: everything held about a contact, erasure"),
    )
)]
pub struct AdminResourcesDoc;

/// The administrator making a request (see [`super::caller::admin_of`]).
async fn admin(state: &Arc<AppState>, auth: Result<Authenticated, ServerError>) -> ApiResult<User> {
    super::caller::admin_of(state, auth).await
}

/// Runs blocking work (Argon2, the writer) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::error::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .map_err(Problem::from)
}

/// Writes an administrative action that has already happened to the audit
/// log: who (`by`), what (`code`, `what`), when (now). A failure to record
/// it is logged, not returned.
async fn audit_after(state: &AppState, by: &str, code: &str, what: String) {
    let entry = AuditEntry::admin(state.now_ms(), by, code, what);
    tracing::info!(by, code, "admin action");
    if let Err(e) = state
        .db
        .write(move |w| crate::db::audit::record(&w.conn, &entry))
        .await
    {
        tracing::error!(error = %e, by, code, "could not write the admin action to the audit log");
    }
}

/// A query string that does not parse: `400 bad_request`.
fn bad_query(e: QueryRejection) -> Problem {
    Problem::bad_request(format!("bad query string: {}", e.body_text()))
}

/// A path segment that does not decode: `400 bad_request`.
fn bad_path(e: PathRejection) -> Problem {
    Problem::bad_request(format!("bad path: {}", e.body_text()))
}

/// `409 would_lock_out`: the change would take administration away from
/// the administrator making it.
fn would_lock_out(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::CONFLICT, "would_lock_out", detail)
}

/// Whether `role` is an administrator's role in the policy in force
/// (`None`: the policy has no such role).
async fn admin_role(state: &AppState, role: String) -> ApiResult<Option<bool>> {
    Ok(state
        .db
        .read(move |c| {
            let (_, policy) = crate::db::policy::current(c)?;
            Ok(policy.role(&role).map(|r| r.admin))
        })
        .await?)
}
