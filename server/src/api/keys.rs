//! The office API: who am I (`GET /v1/me`, public listener), and the
//! administration of API credentials on the admin listener: API keys
//! ([`crate::db::api_keys`]) and users' calendar feed tokens.
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | GET | `/v1/me` | any caller | user, role, key scope |
//! | POST | `/v1/admin/api-keys` | admin | create a key; the key is in this answer only |
//! | GET | `/v1/admin/api-keys` | admin | every key, without secrets |
//! | DELETE | `/v1/admin/api-keys/{id}` | admin | revoke a key |
//! | DELETE | `/v1/admin/users/{name}/calendar-feed` | admin | revoke a user's calendar feed |
//!
//! Guarantees:
//! - only administrators (the policy's `admin` roles, as for every admin
//!   endpoint) reach the admin handlers; a key cannot be used there (the
//!   admin listener accepts session tokens only);
//! - a key's secret appears in exactly one answer, the creation's; never in
//!   a list, the audit log or the server log;
//! - every change (key created, key revoked, feed revoked) is written to
//!   the audit log in the same transaction (codes `admin_create_api_key`,
//!   `admin_revoke_api_key`, `admin_revoke_calendar_feed`);
//! - request bodies are limited in size and time ([`super::body`]); every
//!   error is `application/problem+json`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use crate::db::api_keys::{self, ApiKeyInfo, NewKey};
use crate::db::audit::{self, AuditEntry};
use crate::db::{calendar_feeds, users};
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// The routes of this module on the public listener.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/me", get(me))
}

/// The routes of this module on the admin listener.
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/api-keys", get(list_keys).post(create_key))
        .route("/v1/admin/api-keys/{id}", delete(revoke_key))
        .route(
            "/v1/admin/users/{name}/calendar-feed",
            delete(revoke_user_feed),
        )
}

/// An API key's scope, as the caller holding it sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeKey {
    /// The key's id.
    pub id: i64,
    /// Reads only.
    pub read_only: bool,
    /// The record kinds it may touch (absent: every kind).
    pub kinds: Option<Vec<String>>,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    /// The user (for a key, its service user).
    pub user: String,
    /// Their role.
    pub role: String,
    /// Their territories.
    pub territories: Vec<String>,
    /// The key's scope, for a caller with an API key.
    pub key: Option<MeKey>,
}

fn kind_names(kinds: &Option<Vec<RecordKind>>) -> Option<Vec<String>> {
    kinds
        .as_ref()
        .map(|k| k.iter().map(|k| k.as_str().to_owned()).collect())
}

/// `GET /v1/me`: the caller's user, role and key scope. Counts against the
/// caller's rate limit like any request.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = Me),
        (status = 401, description = "no valid session token or API key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "over the rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(Me {
        user: caller.user.name,
        role: caller.user.role,
        territories: caller.user.territories,
        key: caller.key.map(|k| MeKey {
            id: k.key_id,
            read_only: k.read_only,
            kinds: kind_names(&k.kinds),
        }),
    }))
}

/// A request to create an API key.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A name for people ("ERP export"), 1 to 100 bytes.
    pub name: String,
    /// The (existing, enabled) user the key acts as.
    pub user: String,
    /// Whether the key may only read.
    pub read_only: bool,
    /// The record kinds it may touch (absent: every kind).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// Its own rate limit, requests per minute (absent: the server's).
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
}

/// An API key as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    /// The key's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The user it acts as.
    pub user: String,
    /// Reads only.
    pub read_only: bool,
    /// The record kinds it may touch (absent: every kind).
    pub kinds: Option<Vec<String>>,
    /// Its own rate limit (absent: the server's).
    pub rate_per_minute: Option<u32>,
    /// When it was created (ms since the Unix epoch).
    pub created_at: i64,
    /// The administrator who created it.
    pub created_by: String,
    /// When it was last used (ms), to about a minute.
    pub last_used_at: Option<i64>,
    /// When it was revoked (ms).
    pub revoked_at: Option<i64>,
}

impl From<ApiKeyInfo> for ApiKeyView {
    fn from(k: ApiKeyInfo) -> ApiKeyView {
        ApiKeyView {
            kinds: kind_names(&k.kinds),
            id: k.id,
            name: k.name,
            user: k.user,
            read_only: k.read_only,
            rate_per_minute: k.rate_per_minute,
            created_at: k.created_at,
            created_by: k.created_by,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just created: the only answer that carries the key itself, next
/// to the key as listed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key, `fwk_<id>_<secret>`: store it now, it is never shown again.
    pub key: String,
    /// The key as [`ApiKeyView`] lists it.
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// `POST /v1/admin/api-keys`: creates a key for a service user.
#[utoipa::path(
    post,
    path = "/v1/admin/api-keys",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewApiKey,
    responses(
        (status = 201, description = "the key, shown this once", body = CreatedApiKey),
        (status = 400, description = "a bad name, user, kind or rate", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    let req: NewApiKey = super::body::json(&state, &headers, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(create_key_by(&state, by, req).await?),
    ))
}

/// What [`create_key`] does once the caller `by` is known to be an
/// administrator: checks the kinds, creates the key (audited) and answers
/// it with its secret, the only time the secret is shown.
pub(crate) async fn create_key_by(
    state: &AppState,
    by: String,
    req: NewApiKey,
) -> ApiResult<CreatedApiKey> {
    let kinds = match &req.kinds {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    n.parse::<RecordKind>()
                        .map_err(|_| Problem::bad_request(format!("`{n}` is not a record kind")))
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
    };
    let new = NewKey {
        name: req.name,
        user: req.user,
        read_only: req.read_only,
        kinds,
        rate_per_minute: req.rate_per_minute,
    };
    let now = state.now_ms();
    let (info, key) = state
        .db
        .write(move |w| api_keys::create_audited(&mut w.conn, &new, &by, now))
        .await?;
    tracing::info!(key_id = info.id, user = %info.user, "admin action: API key created");
    Ok(CreatedApiKey {
        key,
        view: ApiKeyView::from(info),
    })
}

/// `GET /v1/admin/api-keys`: every key, live and revoked, without secrets.
#[utoipa::path(
    get,
    path = "/v1/admin/api-keys",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the keys, oldest first", body = [ApiKeyView]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    super::caller::admin_of(&state, auth).await?;
    Ok(Json(all_keys(&state).await?))
}

/// Every key, live and revoked, without secrets, as [`list_keys`] answers
/// them (for a caller already known to be an administrator).
pub(crate) async fn all_keys(state: &AppState) -> ApiResult<Vec<ApiKeyView>> {
    let keys = state.db.read(api_keys::list).await?;
    Ok(keys.into_iter().map(ApiKeyView::from).collect())
}

/// `DELETE /v1/admin/api-keys/{id}`: revokes a key at once (the next
/// request with it is `401`).
#[utoipa::path(
    delete,
    path = "/v1/admin/api-keys/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "the key's id")),
    responses(
        (status = 200, description = "the key as it now stands", body = ApiKeyView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyView>> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    Ok(Json(revoke_key_by(&state, by, &id).await?))
}

/// What [`revoke_key`] does once the caller `by` is known to be an
/// administrator: revokes key `id` at once (audited).
pub(crate) async fn revoke_key_by(state: &AppState, by: String, id: &str) -> ApiResult<ApiKeyView> {
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("no API key `{id}`")))?;
    let now = state.now_ms();
    let revoked = state
        .db
        .write(move |w| api_keys::revoke_audited(&mut w.conn, id, &by, now))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no API key {id}")))?;
    tracing::info!(key_id = revoked.id, "admin action: API key revoked");
    Ok(revoked.into())
}

/// `DELETE /v1/admin/users/{name}/calendar-feed`: revokes a user's
/// calendar feed (the next fetch of its URL is `404`).
#[utoipa::path(
    delete,
    path = "/v1/admin/users/{name}/calendar-feed",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "the user's name")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such user, or no feed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_user_feed(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    revoke_user_feed_by(&state, by, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What [`revoke_user_feed`] does once the caller `by` is known to be an
/// administrator: revokes user `name`'s calendar feed (audited); `404`
/// when the user does not exist or has none.
pub(crate) async fn revoke_user_feed_by(
    state: &AppState,
    by: String,
    name: String,
) -> ApiResult<()> {
    let now = state.now_ms();
    let target = name.clone();
    let revoked = state
        .db
        .write(move |w| {
            let tx = w.conn.transaction()?;
            let Some(user) = users::by_name(&tx, &target)? else {
                return Ok(false);
            };
            if !calendar_feeds::revoke(&tx, user.id)? {
                return Ok(false);
            }
            let what = format!("revoked the calendar feed of user `{}`", user.name);
            audit::record(
                &tx,
                &AuditEntry::admin(now, &by, "admin_revoke_calendar_feed", what),
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if revoked {
        tracing::info!(target = %name, "admin action: calendar feed revoked");
        Ok(())
    } else {
        Err(Problem::not_found(format!(
            "user `{name}` does not exist or has no calendar feed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::caller::KeyScope;

    fn caller(key: Option<KeyScope>) -> Caller {
        Caller {
            user: users::User {
                id: 1,
                name: "erp".into(),
                role: "rep".into(),
                territories: vec![],
                manager: None,
                time_zone: None,
                disabled: false,
                version: 1,
            },
            access: fieldwork_core::Access::Local,
            key,
        }
    }

    #[test]
    fn a_read_only_key_may_read_but_not_write_and_kinds_narrow_both() {
        let read_only = caller(Some(KeyScope {
            key_id: 1,
            read_only: true,
            kinds: Some(vec![RecordKind::Account]),
        }));
        assert!(read_only.may_read(RecordKind::Account).is_ok());
        let refused = read_only
            .may_write(RecordKind::Account)
            .expect_err("read-only");
        assert_eq!((refused.status, refused.code.as_str()), (403, "key_scope"));
        let refused = read_only
            .may_read(RecordKind::Deal)
            .expect_err("other kind");
        assert_eq!((refused.status, refused.code.as_str()), (403, "key_scope"));
        let writer = caller(Some(KeyScope {
            key_id: 2,
            read_only: false,
            kinds: None,
        }));
        assert!(writer.may_write(RecordKind::Deal).is_ok());
        assert!(caller(None).may_write(RecordKind::Deal).is_ok());
    }
}
