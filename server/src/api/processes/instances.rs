//! Process instances: listing those the caller sees, starting a model by
//! hand, and an instance's card, with the views they take and answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use fieldwork_core::process::card::ProcessSummary;
use fieldwork_core::process::runner;
use fieldwork_core::{RecordId, RecordKind};
use serde::{Deserialize, Serialize};

use super::card::{CardOut, StatusName, card_of, fetch_card, instance_id};
use super::engine::engine_write;
use super::seen::{seen_instances, sees, stored_models};
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::{body, write};
use crate::error::ServerError;
use crate::state::AppState;

/// Instances a list answers by default, and at most.
const LIST: usize = 100;
const MAX_LIST: usize = 500;

/// Starting a model by hand.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartIn {
    /// The model key (its newest version starts).
    pub model: String,
    /// The record it runs on (`deal:…`).
    pub record: String,
}

/// A line of the instance list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SummaryOut {
    /// The instance id.
    pub id: String,
    /// Its model's key.
    pub model: String,
    /// The version it runs on.
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// Where it stands.
    pub status: StatusName,
    /// The current step.
    pub current: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
}

impl From<ProcessSummary> for SummaryOut {
    fn from(s: ProcessSummary) -> SummaryOut {
        SummaryOut {
            id: s.id,
            model: s.model_key,
            version: s.version,
            record: s.record,
            status: s.status.into(),
            current: s.current,
            started_at: s.started_at.to_string(),
        }
    }
}

/// The instance list's query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceQuery {
    /// Only instances of this model key.
    pub model: Option<String>,
    /// Only instances with this status.
    pub status: Option<StatusName>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<usize>,
}

/// Instances the caller sees, newest first.
#[utoipa::path(get, path = "/v1/processes/instances", tag = "processes",
    params(
        ("model" = Option<String>, Query, description = "only instances of this model key"),
        ("status" = Option<StatusName>, Query, description = "only instances with this status"),
        ("limit" = Option<u32>, Query, description = "at most this many (default 100, at most 500)"),
    ),
    responses(
        (status = 200, body = Vec<SummaryOut>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`key_scope`"),
    ))]
pub async fn list_instances(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: std::result::Result<Query<InstanceQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SummaryOut>>> {
    caller.may_read(RecordKind::ProcessInstance)?;
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(LIST).clamp(1, MAX_LIST);
    let actor = write::actor_for(&state.actor, &caller.user);
    let mut list = state
        .db
        .read(move |c| {
            let models = stored_models(c, &actor)?;
            let mut out = Vec::new();
            for record in seen_instances(c, &caller.access, &actor)? {
                if q.model
                    .as_ref()
                    .is_some_and(|m| record.text("model_key") != Some(m))
                {
                    continue;
                }
                if let Some(card) = card_of(c, &caller.access, &actor, &record, &models)? {
                    out.push(ProcessSummary::of(card));
                }
            }
            Ok(out
                .into_iter()
                .filter(|s| q.status.is_none_or(|st| StatusName::from(s.status) == st))
                .collect::<Vec<_>>())
        })
        .await?;
    list.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
    list.truncate(limit);
    Ok(Json(list.into_iter().map(SummaryOut::from).collect()))
}

/// Starts a model by hand on a record the caller sees (process right
/// `start`); the instance runs as the caller.
#[utoipa::path(post, path = "/v1/processes/instances", tag = "processes",
    request_body = StartIn,
    responses(
        (status = 201, body = CardOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`process_forbidden` (rule `roles.ROLE.process.start`) or `key_scope`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such model, or a record the caller does not see"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the model runs on another kind of record"),
    ))]
pub async fn start(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<(StatusCode, Json<CardOut>)> {
    caller.may_write(RecordKind::ProcessInstance)?;
    let input: StartIn = body::json(&state, &headers, raw).await?;
    let record: RecordId = input
        .record
        .parse()
        .map_err(|_| Problem::bad_request(format!("`{}` is not a record id", input.record)))?;
    let (access, actor) = (
        caller.access.clone(),
        write::actor_for(&state.actor, &caller.user),
    );
    let id = engine_write(&state, &caller, move |h| {
        if !sees(h.conn(), &access, &record, &actor)? {
            return Err(ServerError::NotFound(format!("no record {record}")));
        }
        runner::start_by_hand(h, &input.model, &record)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(fetch_card(&state, &caller, id).await?),
    ))
}

/// The process card of an instance the caller sees.
#[utoipa::path(get, path = "/v1/processes/instances/{id}", tag = "processes",
    params(("id" = String, Path, description = "the instance id, with or without `process_instance:`")),
    responses(
        (status = 200, body = CardOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_instance(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
) -> ApiResult<Json<CardOut>> {
    caller.may_read(RecordKind::ProcessInstance)?;
    let id = instance_id(&id)?;
    Ok(Json(fetch_card(&state, &caller, id).await?))
}
