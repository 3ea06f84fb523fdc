//! The administration of webhooks, on the admin listener (events, body
//! and signature: [`crate::webhooks`]).
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/v1/admin/webhooks` | admin | subscribe a URL; the secret is in this answer only |
//! | GET | `/v1/admin/webhooks` | admin | active subscriptions, without secrets |
//! | DELETE | `/v1/admin/webhooks/{id}` | admin | delete a subscription (its pending deliveries fail) |
//! | GET | `/v1/admin/webhooks/{id}/deliveries?limit=N` | admin | the newest deliveries with their attempts |
//! | POST | `/v1/admin/webhooks/deliveries/{id}/redeliver` | admin | queue a delivery again, due now |
//!
//! Guarantees:
//! - only administrators (the policy's `admin` roles, as for every admin
//!   endpoint) reach these handlers;
//! - a subscription's secret appears in exactly one answer, the
//!   creation's; never in a list, the audit log or the server log;
//! - a URL is `http://` or `https://` with a host, at most 2048 bytes;
//!   event types and kinds must exist; the service user must exist and be
//!   enabled;
//! - every change is written to the audit log in the same transaction
//!   (codes `admin_create_webhook`, `admin_delete_webhook`,
//!   `admin_redeliver_webhook`);
//! - request bodies are limited in size (`max_admin_body`) and time
//!   (`body_timeout`); lists are bounded; every error is
//!   `application/problem+json`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use serde::{Deserialize, Serialize};

use super::problem::{ApiResult, Problem};
use crate::db::audit::{self, AuditEntry};
use crate::db::users;
use crate::db::webhooks::{self as store, Delivery, NewSubscription, Subscription};
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;
use crate::webhooks::{client, events};

/// Most subscriptions listed.
const MAX_LIST: usize = 1000;
/// Most deliveries listed.
const MAX_DELIVERIES: usize = 1000;
/// Most event types or kinds in one subscription.
const MAX_NAMES: usize = 32;

/// The routes of this module on the public listener (none).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}

/// The routes of this module on the admin listener.
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/admin/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route("/v1/admin/webhooks/{id}", delete(delete_webhook))
        .route("/v1/admin/webhooks/{id}/deliveries", get(list_deliveries))
        .route(
            "/v1/admin/webhooks/deliveries/{id}/redeliver",
            post(redeliver),
        )
}

/// A request to subscribe a URL.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST events: `http://` or `https://`, with a host.
    pub url: String,
    /// The (existing, enabled) service user whose rights filter payloads.
    pub user: String,
    /// Event types (`record.created`, `record.changed`, `record.deleted`,
    /// `process.started`, `process.step_reached`, `process.task_done`,
    /// `process.completed`, `process.failed`).
    pub events: Vec<String>,
    /// Record kinds (absent: every kind).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
}

/// A subscription just made: the only answer that carries its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    /// The subscription.
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The signing secret (hex): store it now, it is never shown again.
    pub secret: String,
}

/// `?limit=N` (default 100, at most 1000).
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryLimit {
    /// How many deliveries, newest first.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Checks a subscription request: URL, events and kinds.
fn check(req: &NewWebhook) -> ApiResult<()> {
    client::parse(&req.url).map_err(|e| Problem {
        field: Some("url".into()),
        ..Problem::bad_request(e)
    })?;
    if req.events.is_empty() || req.events.len() > MAX_NAMES {
        return Err(Problem::bad_request(format!(
            "events must name 1 to {MAX_NAMES} event types"
        )));
    }
    if let Some(bad) = req
        .events
        .iter()
        .find(|e| !events::EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(Problem::bad_request(format!(
            "`{}` is not an event type (one of {})",
            bad.escape_debug(),
            events::EVENT_TYPES.join(", ")
        )));
    }
    if let Some(kinds) = &req.kinds {
        if kinds.is_empty() || kinds.len() > MAX_NAMES {
            return Err(Problem::bad_request(format!(
                "kinds must name 1 to {MAX_NAMES} record kinds, or be absent"
            )));
        }
        if let Some(bad) = kinds.iter().find(|k| k.parse::<RecordKind>().is_err()) {
            return Err(Problem::bad_request(format!(
                "`{}` is not a record kind",
                bad.escape_debug()
            )));
        }
    }
    Ok(())
}

/// `POST /v1/admin/webhooks`: subscribes a URL to events, filtered by a
/// service user's rights.
#[utoipa::path(
    post,
    path = "/v1/admin/webhooks",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "the subscription and its secret, shown this once", body = CreatedWebhook),
        (status = 400, description = "a bad URL, event type, kind or user", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "body too large", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_webhook(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    let req: NewWebhook = super::body::json(&state, &headers, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(create_webhook_by(&state, by, req).await?),
    ))
}

/// What [`create_webhook`] does once the caller `by` is known to be an
/// administrator: checks the request, subscribes the URL (audited) and
/// answers the subscription with its secret, the only time it is shown.
pub(crate) async fn create_webhook_by(
    state: &AppState,
    by: String,
    req: NewWebhook,
) -> ApiResult<CreatedWebhook> {
    check(&req)?;
    let secret = crate::webhooks::new_secret();
    let now = state.now_ms();
    let s = secret.clone();
    let created = state
        .db
        .write(move |w| {
            let tx = w.conn.transaction()?;
            let user = match users::by_name(&tx, &req.user)? {
                Some(u) if !u.disabled => u,
                _ => return Ok(None),
            };
            let id = store::create(
                &tx,
                &NewSubscription {
                    url: &req.url,
                    secret: &s,
                    user_id: user.id,
                    events: &req.events,
                    kinds: req.kinds.as_deref(),
                    now_ms: now,
                    by: &by,
                },
            )?;
            let what = format!(
                "subscribed webhook {id} to {} for user `{}` (events: {}; kinds: {})",
                req.url,
                user.name,
                req.events.join(", "),
                req.kinds.as_ref().map_or("all".into(), |k| k.join(", ")),
            );
            audit::record(
                &tx,
                &AuditEntry::admin(now, &by, "admin_create_webhook", what),
            )?;
            let created = store::get(&tx, id)?;
            tx.commit()?;
            Ok(created)
        })
        .await?
        .ok_or_else(|| Problem {
            field: Some("user".into()),
            ..Problem::bad_request("the service user must exist and be enabled")
        })?;
    tracing::info!(webhook = created.id, "admin action: webhook subscribed");
    Ok(CreatedWebhook {
        subscription: created,
        secret,
    })
}

/// `GET /v1/admin/webhooks`: the active subscriptions, oldest first,
/// without secrets.
#[utoipa::path(
    get,
    path = "/v1/admin/webhooks",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the subscriptions", body = [Subscription]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_webhooks(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
) -> ApiResult<Json<Vec<Subscription>>> {
    super::caller::admin_of(&state, auth).await?;
    Ok(Json(all_webhooks(&state).await?))
}

/// The active subscriptions as [`list_webhooks`] answers them (for a
/// caller already known to be an administrator).
pub(crate) async fn all_webhooks(state: &AppState) -> ApiResult<Vec<Subscription>> {
    Ok(state.db.read(|c| store::list(c, MAX_LIST)).await?)
}

fn parse_id(id: &str, what: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| Problem::not_found(format!("no {what} `{}`", id.escape_debug())))
}

/// `DELETE /v1/admin/webhooks/{id}`: deletes a subscription; it receives
/// nothing more and its pending deliveries fail. Its log is kept.
#[utoipa::path(
    delete,
    path = "/v1/admin/webhooks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "the subscription's id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such active subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_webhook(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    delete_webhook_by(&state, by, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What [`delete_webhook`] does once the caller `by` is known to be an
/// administrator: deactivates subscription `id` (audited).
pub(crate) async fn delete_webhook_by(state: &AppState, by: String, id: &str) -> ApiResult<()> {
    let id = parse_id(id, "webhook")?;
    let now = state.now_ms();
    let deleted = state
        .db
        .write(move |w| {
            let tx = w.conn.transaction()?;
            if !store::deactivate(&tx, id)? {
                return Ok(false);
            }
            let what = format!("deleted webhook {id}");
            audit::record(
                &tx,
                &AuditEntry::admin(now, &by, "admin_delete_webhook", what),
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if !deleted {
        return Err(Problem::not_found(format!("no active webhook {id}")));
    }
    tracing::info!(webhook = id, "admin action: webhook deleted");
    Ok(())
}

/// `GET /v1/admin/webhooks/{id}/deliveries`: the subscription's newest
/// deliveries (state, attempts, last status and error, times, and the log
/// of attempts), newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/webhooks/{id}/deliveries",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "the subscription's id"), DeliveryLimit),
    responses(
        (status = 200, description = "the deliveries", body = [Delivery]),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "a malformed `limit`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_deliveries(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
    q: Result<Query<DeliveryLimit>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<Delivery>>> {
    super::caller::admin_of(&state, auth).await?;
    let Query(q) = q.map_err(|e| Problem::bad_request(format!("bad query: {}", e.body_text())))?;
    Ok(Json(
        deliveries_of(&state, &id, q.limit.unwrap_or(100)).await?,
    ))
}

/// The newest `limit` deliveries (1 to 1000) of subscription `id`, as
/// [`list_deliveries`] answers them (for a caller already known to be an
/// administrator).
pub(crate) async fn deliveries_of(
    state: &AppState,
    id: &str,
    limit: usize,
) -> ApiResult<Vec<Delivery>> {
    let id = parse_id(id, "webhook")?;
    let limit = limit.clamp(1, MAX_DELIVERIES);
    let found = state
        .db
        .read(move |c| match store::get(c, id)? {
            Some(_) => Ok(Some(store::deliveries(c, id, limit)?)),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("no webhook {id}")))?;
    Ok(found)
}

/// `POST /v1/admin/webhooks/deliveries/{id}/redeliver`: queues a delivery
/// again, due now, with a fresh attempt budget (the same event id and
/// body: receivers deduplicate on `Fieldwork-Event-Id`).
#[utoipa::path(
    post,
    path = "/v1/admin/webhooks/deliveries/{id}/redeliver",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "the delivery's id")),
    responses(
        (status = 202, description = "queued"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such delivery of an active subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let by = super::caller::admin_of(&state, auth).await?.name;
    redeliver_by(&state, by, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// What [`redeliver`] does once the caller `by` is known to be an
/// administrator: queues delivery `id` again, due now (audited).
pub(crate) async fn redeliver_by(state: &AppState, by: String, id: &str) -> ApiResult<()> {
    let id = parse_id(id, "delivery")?;
    let now = state.now_ms();
    let queued = state
        .db
        .write(move |w| {
            let tx = w.conn.transaction()?;
            let Some(subscription) = store::redeliver(&tx, id, now)? else {
                return Ok(false);
            };
            let what = format!("queued delivery {id} of webhook {subscription} again");
            audit::record(
                &tx,
                &AuditEntry::admin(now, &by, "admin_redeliver_webhook", what),
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if !queued {
        return Err(Problem::not_found(format!(
            "no delivery {id} of an active webhook"
        )));
    }
    Ok(())
}
