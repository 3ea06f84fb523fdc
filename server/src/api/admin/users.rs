//! Users on the admin listener: list, create, read, change, disable,
//! enable (routes in [`super`]).
//!
//! Guarantees: a change goes through the same functions as the admin CLI
//! ([`crate::admin`]), so it is checked, audited and told to live sync
//! connections the same way; a refused change changes nothing.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Deserializer, Serialize};

use super::{admin, admin_role, audit_after, bad_path, blocking, would_lock_out};
use crate::admin::codes;
use crate::api::problem::{ApiResult, Problem};
use crate::db::users::{self, NewUser, UserChange, UserInfo};
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// A user as administrators see it (never their password).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// Row id.
    pub id: i64,
    /// Unique name, used to sign in.
    pub name: String,
    /// Role (a role of the policy in force).
    pub role: String,
    /// Assigned territories.
    pub territories: Vec<String>,
    /// The user's manager.
    pub manager: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Disabled users cannot sign in or sync.
    pub disabled: bool,
    /// Bumped on every change.
    pub version: i64,
    /// When the user was created (ms since the Unix epoch).
    pub created_at: i64,
}

impl From<UserInfo> for UserView {
    fn from(i: UserInfo) -> UserView {
        let u = i.user;
        UserView {
            id: u.id,
            name: u.name,
            role: u.role,
            territories: u.territories,
            manager: u.manager,
            time_zone: u.time_zone,
            disabled: u.disabled,
            version: u.version,
            created_at: i.created_at,
        }
    }
}

/// A request to create a user.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    /// Name: 1-64 letters, digits, `.`, `_`, `-` or `@`.
    pub name: String,
    /// Role (a role of the policy in force).
    pub role: String,
    /// Territories.
    #[serde(default)]
    pub territories: Vec<String>,
    /// Manager (an existing user).
    #[serde(default)]
    pub manager: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Initial password.
    pub password: String,
}

/// A change to a user: absent fields stay as they are; `manager` and
/// `time_zone` set to `null` are removed.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New role (a role of the policy in force).
    #[serde(default)]
    pub role: Option<String>,
    /// New territories, replacing the old ones.
    #[serde(default)]
    pub territories: Option<Vec<String>>,
    /// New manager (an existing user); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub manager: Option<Option<String>>,
    /// New IANA time zone; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl From<UserPatch> for UserChange {
    fn from(p: UserPatch) -> UserChange {
        UserChange {
            role: p.role,
            territories: p.territories,
            manager: p.manager,
            time_zone: p.time_zone,
        }
    }
}

/// The user `name` with their creation time, or `404 not_found`.
async fn view_of(state: &AppState, name: String) -> ApiResult<UserView> {
    let missing = Problem::not_found(format!("no user `{name}`"));
    let info = state.db.read(move |c| users::info(c, &name)).await?;
    info.map(UserView::from).ok_or(missing)
}

/// `GET /v1/admin/users`: every user, by name.
#[utoipa::path(
    get,
    path = "/v1/admin/users",
    operation_id = "list_users",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every user, by name", body = [UserView]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<UserView>>> {
    admin(&state, auth).await?;
    Ok(Json(all(&state).await?))
}

/// Every user, by name, as [`list`] answers them (for a caller already
/// known to be an administrator).
pub(crate) async fn all(state: &AppState) -> ApiResult<Vec<UserView>> {
    let all = state.db.read(users::list_info).await?;
    Ok(all.into_iter().map(UserView::from).collect())
}

/// `POST /v1/admin/users`: creates a user with a password (hashed with
/// Argon2id); audited as `admin_add_user`.
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    operation_id = "create_user",
    tag = "users",
    security(("bearer" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "the user created", body = UserView),
        (status = 400, description = "a malformed body, a bad name, an unknown role or manager, an unknown time zone, a name taken (`bad_request`, `invalid_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let by = admin(&state, auth).await?.name;
    let req: NewUserRequest = crate::api::body::json(&state, &headers, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(create_by(&state, &by, req).await?),
    ))
}

/// What [`create`] does once the caller `by` is known to be an
/// administrator: creates the user, audits it, answers the user created.
pub(crate) async fn create_by(
    state: &Arc<AppState>,
    by: &str,
    req: NewUserRequest,
) -> ApiResult<UserView> {
    let new = NewUser {
        name: req.name,
        role: req.role,
        territories: req.territories,
        manager: req.manager,
        time_zone: req.time_zone,
    };
    let st = state.clone();
    let user = blocking(move || crate::admin::add_user(&st, &new, &req.password)).await?;
    let what = format!(
        "added user `{}` with role `{}`, territories [{}]",
        user.name,
        user.role,
        user.territories.join(", ")
    );
    audit_after(state, by, codes::ADD_USER, what).await;
    view_of(state, user.name).await
}

/// `GET /v1/admin/users/{name}`: one user.
#[utoipa::path(
    get,
    path = "/v1/admin/users/{name}",
    operation_id = "get_user",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the user's name")),
    responses(
        (status = 200, description = "the user", body = UserView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<UserView>> {
    admin(&state, auth).await?;
    let Path(name) = name.map_err(bad_path)?;
    Ok(Json(view_of(&state, name).await?))
}

/// `PATCH /v1/admin/users/{name}`: changes a user's role, territories,
/// manager or time zone, as `fieldwork-server user set` does
/// ([`crate::admin::set_user`]): checked whole, audited as
/// `admin_set_user`, told to the user's live devices.
#[utoipa::path(
    patch,
    path = "/v1/admin/users/{name}",
    operation_id = "update_user",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the user's name")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "the user as they now stand", body = UserView),
        (status = 400, description = "a malformed body or an unknown field (`bad_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the change would take administration away from the caller (`would_lock_out`); nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an unknown role, a bad territory name, an unknown or circular manager, an unknown time zone (`invalid_value`; every problem named); nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<UserView>> {
    let me = admin(&state, auth).await?;
    let Path(name) = name.map_err(bad_path)?;
    let patch: UserPatch = crate::api::body::json(&state, &headers, body).await?;
    Ok(Json(update_by(&state, &me.name, name, patch).await?))
}

/// What [`update`] does once the caller `me` is known to be an
/// administrator: the lock-out check, the change (checked whole, audited),
/// the user as they now stand.
pub(crate) async fn update_by(
    state: &Arc<AppState>,
    me: &str,
    name: String,
    patch: UserPatch,
) -> ApiResult<UserView> {
    if let Some(role) = &patch.role
        && me == name
        && admin_role(state, role.clone()).await? == Some(false)
    {
        return Err(would_lock_out(format!(
            "role `{role}` is not an administrator's role: another administrator must change yours"
        )));
    }
    let (st, change, target, by) = (state.clone(), patch.into(), name.clone(), me.to_owned());
    blocking(move || crate::admin::set_user(&st, &target, &change, &by))
        .await
        .map_err(invalid_value)?;
    view_of(state, name).await
}

/// A change the checks refused (`400 invalid_request` from the store) is a
/// `422 invalid_value`: the body was understood, its values are wrong.
fn invalid_value(p: Problem) -> Problem {
    if p.code == "invalid_request" {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", p.detail)
    } else {
        p
    }
}

/// `POST /v1/admin/users/{name}/disable`: disables a user, ends their
/// sessions and marks every device of theirs for wipe; audited as
/// `admin_disable_user` (and each device as `device_wipe_requested`).
#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/disable",
    operation_id = "disable_user",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the user's name")),
    responses(
        (status = 200, description = "the user as they now stand", body = UserView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the caller cannot disable themself (`would_lock_out`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn disable(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<UserView>> {
    let by = admin(&state, auth).await?.name;
    let Path(name) = name.map_err(bad_path)?;
    Ok(Json(disable_by(&state, by, name).await?))
}

/// What [`disable`] does once the caller `by` is known to be an
/// administrator: refuses disabling oneself, disables the user (ending
/// their sessions, marking their devices for wipe, audited).
pub(crate) async fn disable_by(
    state: &Arc<AppState>,
    by: String,
    name: String,
) -> ApiResult<UserView> {
    if by == name {
        return Err(would_lock_out(
            "you may not disable yourself: another administrator must",
        ));
    }
    let (st, target) = (state.clone(), name.clone());
    blocking(move || crate::wipe::disable_user(&st, &target, &by).map(|_| ())).await?;
    view_of(state, name).await
}

/// `POST /v1/admin/users/{name}/enable`: enables a user again, as
/// `fieldwork-server user enable` does; audited as `admin_enable_user`.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/enable",
    operation_id = "enable_user",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the user's name")),
    responses(
        (status = 200, description = "the user as they now stand", body = UserView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<UserView>> {
    let by = admin(&state, auth).await?.name;
    let Path(name) = name.map_err(bad_path)?;
    Ok(Json(enable_by(&state, by, name).await?))
}

/// What [`enable`] does once the caller `by` is known to be an
/// administrator (audited).
pub(crate) async fn enable_by(
    state: &Arc<AppState>,
    by: String,
    name: String,
) -> ApiResult<UserView> {
    let (st, target) = (state.clone(), name.clone());
    blocking(move || crate::admin::enable_user(&st, &target, &by)).await?;
    view_of(state, name).await
}
