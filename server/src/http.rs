//! The HTTP API: login, logout, the sync WebSocket, health and administration.
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | GET | `/v1/health` | anyone | liveness |
//! | POST | `/v1/login` | anyone | `{user, password, device_id?}` → `{token, expires_at, user}` |
//! | POST | `/v1/logout` | signed in | ends the session |
//! | GET | `/v1/sync` | signed in | WebSocket upgrade to the sync protocol |
//! | GET/POST | `/v1/admin/users` | admin | list / create users |
//! | POST | `/v1/admin/users/{name}/disable` | admin | disable a user |
//! | GET/PUT | `/v1/admin/policy` | admin | read / replace the policy (TOML body) |
//! | GET | `/v1/admin/audit` | admin | recent refusals |
//!
//! Tokens travel as `Authorization: Bearer <token>`. Errors are JSON
//! `{code, message}` with a stable `code` (see [`crate::error`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldwork_core::UserContext;
use serde::{Deserialize, Serialize};

use crate::admin;
use crate::auth;
use crate::db::{sessions, users};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use crate::sync::session;

/// The router for all endpoints.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.config.limits;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route(
            "/v1/sync",
            get(
                move |State(state): State<Arc<AppState>>,
                      auth: Authenticated,
                      ws: WebSocketUpgrade| async move {
                    sync(state, auth, ws, limits.max_frame).await
                },
            ),
        )
        .route("/v1/admin/users", get(admin_users).post(admin_add_user))
        .route("/v1/admin/users/{name}/disable", post(admin_disable_user))
        .route("/v1/admin/policy", get(admin_policy).put(admin_set_policy))
        .route("/v1/admin/audit", get(admin_audit))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// A login request.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// The device signing in.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// A successful login.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The session token.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// Who signed in.
    pub user: UserContext,
    /// The policy in force (TOML), so the device enforces it at once.
    pub policy: String,
    /// Its revision.
    pub policy_revision: u64,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let keys = vec![
        format!("user:{}", req.user.to_lowercase()),
        format!("addr:{}", addr.ip()),
    ];
    state.limiter.check(&keys, Instant::now())?;
    let name = req.user.clone();
    let stored = state
        .db
        .read(move |c| {
            Ok(users::by_name(c, &name)?
                .filter(|u| !u.disabled)
                .and(users::password_hash(c, &name)?))
        })
        .await?;
    // Argon2 is deliberately slow: keep it off the async threads.
    let password = req.password.clone();
    let ok =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, stored.as_deref()))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?;
    if !ok {
        state.limiter.fail(&keys, Instant::now());
        tracing::info!(user = %req.user, %addr, "failed login");
        return Err(ServerError::InvalidCredentials);
    }
    state.limiter.succeed(&keys);
    let token = auth::new_token();
    let now = state.now_ms();
    let expires = now + state.config.token_ttl.as_millis() as i64;
    let (name, device, t) = (req.user.clone(), req.device_id.clone(), token.clone());
    let (user, policy_revision, policy) = state
        .db
        .write(move |w| {
            let user = users::by_name(&w.conn, &name)?.ok_or(ServerError::InvalidCredentials)?;
            sessions::purge_expired(&w.conn, now)?;
            sessions::create(&w.conn, &t, user.id, device.as_deref(), now, expires)?;
            let (revision, policy) = crate::db::policy::current(&w.conn)?;
            Ok((users::context(&w.conn, &user)?, revision, policy))
        })
        .await?;
    tracing::info!(user = %user.name, "signed in");
    Ok(Json(LoginResponse {
        token,
        expires_at: jiff::Timestamp::from_millisecond(expires)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        user,
        policy: policy.source().to_owned(),
        policy_revision,
    }))
}

/// The signed-in user of a request (from `Authorization: Bearer`).
pub struct Authenticated {
    /// The user.
    pub user: users::User,
    /// The token presented.
    pub token: String,
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(ServerError::Unauthorized)?;
        let now = state.now_ms();
        let t = token.clone();
        let user = state
            .db
            .read(move |c| sessions::lookup(c, &t, now))
            .await?
            .ok_or(ServerError::Unauthorized)?;
        Ok(Authenticated { user, token })
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    (!token.is_empty() && token.len() <= 256).then(|| token.trim().to_owned())
}

async fn logout(State(state): State<Arc<AppState>>, auth: Authenticated) -> Result<StatusCode> {
    state
        .db
        .write(move |w| sessions::revoke(&w.conn, &auth.token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync(
    state: Arc<AppState>,
    auth: Authenticated,
    ws: WebSocketUpgrade,
    max_frame: usize,
) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    ws.max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            session::run(state, auth.user, socket).await;
            drop(permit);
        })
}

/// Refuses non-admins.
fn require_admin(state: &AppState, user: &users::User) -> Result<()> {
    let admin = state.db.read_blocking(|c| {
        Ok(crate::db::policy::current(c)?
            .1
            .role(&user.role)
            .is_some_and(|r| r.admin))
    })?;
    if admin {
        Ok(())
    } else {
        Err(ServerError::Forbidden(format!(
            "role `{}` may not administer",
            user.role
        )))
    }
}

async fn admin_users(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
) -> Result<Json<Vec<users::User>>> {
    require_admin(&state, &auth.user)?;
    Ok(Json(state.db.read(users::list).await?))
}

/// A request to create a user.
#[derive(Debug, Deserialize)]
pub struct NewUserRequest {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Territories.
    #[serde(default)]
    pub territories: Vec<String>,
    /// Manager.
    #[serde(default)]
    pub manager: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Initial password.
    pub password: String,
}

async fn admin_add_user(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    Json(req): Json<NewUserRequest>,
) -> Result<(StatusCode, Json<users::User>)> {
    require_admin(&state, &auth.user)?;
    let new = users::NewUser {
        name: req.name,
        role: req.role,
        territories: req.territories,
        manager: req.manager,
        time_zone: req.time_zone,
    };
    let st = state.clone();
    let user = tokio::task::spawn_blocking(move || admin::add_user(&st, &new, &req.password))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn admin_disable_user(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> Result<Json<users::User>> {
    require_admin(&state, &auth.user)?;
    let user = state
        .db
        .write(move |w| users::set_disabled(&w.conn, &name, true))
        .await?;
    admin::announce(&state);
    Ok(Json(user))
}

/// The policy in force.
#[derive(Debug, Serialize, Deserialize)]
pub struct PolicyResponse {
    /// Its revision.
    pub revision: u64,
    /// Its TOML source.
    pub source: String,
}

async fn admin_policy(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
) -> Result<Json<PolicyResponse>> {
    require_admin(&state, &auth.user)?;
    let (revision, policy) = state.db.read(crate::db::policy::current).await?;
    Ok(Json(PolicyResponse {
        revision,
        source: policy.source().to_owned(),
    }))
}

/// Why a policy was refused.
#[derive(Debug, Serialize)]
struct PolicyErrors {
    code: &'static str,
    message: String,
    errors: Vec<String>,
}

async fn admin_set_policy(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    body: String,
) -> Response {
    if let Err(e) = require_admin(&state, &auth.user) {
        return e.into_response();
    }
    let by = auth.user.name.clone();
    let st = state.clone();
    let installed = tokio::task::spawn_blocking(move || admin::install_policy(&st, &body, &by))
        .await
        .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    match installed {
        Ok(revision) => Json(serde_json::json!({ "revision": revision })).into_response(),
        Err(ServerError::Core(fieldwork_core::CoreError::Policy(errors))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(PolicyErrors {
                code: "invalid_policy",
                message: "the policy was refused; the previous one stays in force".into(),
                errors,
            }),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `?limit=N`
#[derive(Debug, Deserialize)]
struct Limit {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn admin_audit(
    State(state): State<Arc<AppState>>,
    auth: Authenticated,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<crate::db::audit::AuditEntry>>> {
    require_admin(&state, &auth.user)?;
    let limit = q.limit.min(10_000);
    Ok(Json(
        state
            .db
            .read(move |c| crate::db::audit::recent(c, limit))
            .await?,
    ))
}
