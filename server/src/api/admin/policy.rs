//! The policy on the admin listener: read it, replace it (routes in
//! [`super`]).
//!
//! Guarantees: a policy is installed only whole and valid, through the
//! same function as `fieldwork-server policy set`
//! ([`crate::admin::install_policy`]); a refused one is answered `422
//! invalid_policy` with every problem listed and the old one stays in
//! force; an installed one is audited as `admin_set_policy`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldwork_core::{CoreError, Policy};
use serde::{Deserialize, Serialize};

use super::{admin, audit_after};
use crate::admin::codes;
use crate::api::problem::Problem;
use crate::error::ServerError;
use crate::request::{Authenticated, read_body_bytes};
use crate::state::AppState;

/// The policy in force.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyView {
    /// Its revision (1 is the first installed).
    pub revision: u64,
    /// Its TOML source.
    pub source: String,
}

/// A policy just installed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyInstalled {
    /// The new revision.
    pub revision: u64,
}

/// A refused policy: a problem (`invalid_policy`) with every error found,
/// each starting with the key concerned.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyProblem {
    /// The problem.
    #[serde(flatten)]
    pub problem: Problem,
    /// Every error found.
    pub errors: Vec<String>,
}

impl PolicyProblem {
    fn new(errors: Vec<String>) -> PolicyProblem {
        let detail = "the policy was refused; the previous one stays in force";
        PolicyProblem {
            problem: Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy", detail),
            errors,
        }
    }
}

impl IntoResponse for PolicyProblem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (StatusCode::UNPROCESSABLE_ENTITY, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// `GET /v1/admin/policy`: the policy in force.
#[utoipa::path(
    get,
    path = "/v1/admin/policy",
    operation_id = "get_policy",
    tag = "policy",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the policy in force", body = PolicyView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> Result<Json<PolicyView>, Problem> {
    admin(&state, auth).await?;
    Ok(Json(current(&state).await?))
}

/// The policy in force, as [`get`] answers it (for a caller already known
/// to be an administrator).
pub(crate) async fn current(state: &AppState) -> Result<PolicyView, Problem> {
    let (revision, policy) = state.db.read(crate::db::policy::current).await?;
    Ok(PolicyView {
        revision,
        source: policy.source().to_owned(),
    })
}

/// `PUT /v1/admin/policy`: installs the TOML body as the next revision
/// (any `Content-Type`; reclassified fields' values move with it).
#[utoipa::path(
    put,
    path = "/v1/admin/policy",
    operation_id = "put_policy",
    tag = "policy",
    security(("bearer" = [])),
    request_body(content = String, content_type = "text/plain", description = "the policy, TOML (UTF-8)"),
    responses(
        (status = 200, description = "installed", body = PolicyInstalled),
        (status = 400, description = "the body is not UTF-8 (`bad_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "refused, every problem listed; the old policy stays (`invalid_policy`)", body = PolicyProblem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PolicyInstalled>, Response> {
    let me = admin(&state, auth)
        .await
        .map_err(IntoResponse::into_response)?;
    let source = read_policy(&state, &headers, body).await?;
    match install_by(&state, &me, source).await {
        Ok(installed) => Ok(Json(installed)),
        Err(PolicyRefusal::Invalid(errors)) => Err(PolicyProblem::new(errors).into_response()),
        Err(PolicyRefusal::Other(problem)) => Err(problem.into_response()),
    }
}

/// Why a policy was not installed ([`install_by`]); the old one stays.
#[derive(Debug, Clone)]
pub(crate) enum PolicyRefusal {
    /// The policy itself was refused: every error found, each starting
    /// with the key concerned (`422 invalid_policy`).
    Invalid(Vec<String>),
    /// Anything else (storage, ...).
    Other(Problem),
}

/// What [`put`] does once the caller `me` is known to be an administrator:
/// refuses a policy that would take administration away from `me`,
/// installs a valid one (audited) or lists every problem of an invalid one.
pub(crate) async fn install_by(
    state: &Arc<AppState>,
    me: &crate::db::users::User,
    source: String,
) -> Result<PolicyInstalled, PolicyRefusal> {
    if let Some(error) = takes_admin_away(&source, &me.name, &me.role) {
        return Err(PolicyRefusal::Invalid(vec![error]));
    }
    let (st, text, by) = (state.clone(), source, me.name.clone());
    let installed =
        tokio::task::spawn_blocking(move || crate::admin::install_policy(&st, &text, &by))
            .await
            .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    let revision = match installed {
        Ok(revision) => revision,
        Err(ServerError::Core(CoreError::Policy(errors))) => {
            return Err(PolicyRefusal::Invalid(errors));
        }
        Err(e) => return Err(PolicyRefusal::Other(Problem::from(e))),
    };
    let what = format!("installed policy revision {revision}");
    audit_after(state, &me.name, codes::SET_POLICY, what).await;
    Ok(PolicyInstalled { revision })
}

/// The body as UTF-8 text, within the admin body limits.
async fn read_policy(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, Response> {
    let config = &state.config;
    let bytes = read_body_bytes(headers, body, config.max_admin_body, config.body_timeout)
        .await
        .map_err(|e| {
            let (status, code, detail) = e.describe();
            Problem::new(status, code, detail).into_response()
        })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Problem::bad_request("the policy must be UTF-8 TOML").into_response())
}

/// Why installing `source` would take administration away from `me`
/// (whose role is `role`), if it would and the policy is otherwise valid.
fn takes_admin_away(source: &str, me: &str, role: &str) -> Option<String> {
    let policy = Policy::from_toml(source).ok()?;
    let admin = policy.role(role).is_some_and(|r| r.admin);
    (!admin).then(|| {
        format!("roles.{role}: you (`{me}`) have this role: it must keep `admin = true`, or another administrator must install this policy")
    })
}
