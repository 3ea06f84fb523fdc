//! Process models: the published versions and publishing the next one
//! (parsed by the CLI's parser), with the views they take and answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fieldwork_core::RecordKind;
use fieldwork_core::process::model::{Model, StepKind};
use serde::{Deserialize, Serialize};

use super::engine::engine_write;
use super::name_of;
use super::seen::stored_models;
use crate::api::body;
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::process_admin::{ModelFormat, parse_model, publish_checked};
use crate::state::AppState;

/// A published model version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelOut {
    /// The model's stable key (shared by its versions).
    pub key: String,
    /// The version.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// What it is for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What starts an instance.
    pub trigger: TriggerOut,
    /// The first step.
    pub start: String,
    /// The steps, as written.
    pub steps: Vec<StepOut>,
    /// Who published this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
}

/// What starts an instance of a model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TriggerOut {
    /// `record_created`, `field_change`, `manual` or `schedule`.
    pub kind: String,
    /// The kind of record an instance runs on; absent for a manual model
    /// that may be started on any account, contact, deal or activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// `field_change`: when it starts; `schedule`: which records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// A step of a model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepOut {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// `task`, `activity`, `timer`, `gateway`, `set` or `end`.
    pub kind: String,
}

impl ModelOut {
    /// The API form of a checked model.
    pub fn of(m: &Model) -> ModelOut {
        let f = &m.file;
        ModelOut {
            key: f.key.clone(),
            version: m.version,
            name: f.name.clone(),
            description: f.description.clone(),
            trigger: TriggerOut {
                kind: name_of(&f.trigger.kind),
                record: f.trigger.record.map(|r| r.as_str().to_owned()),
                condition: f.trigger.condition.clone(),
            },
            start: m.start.clone(),
            steps: f
                .steps
                .iter()
                .map(|s| StepOut {
                    id: s.id.clone(),
                    name: m
                        .step(&s.id)
                        .map_or_else(|| s.id.clone(), |c| c.name.clone()),
                    kind: name_of(&step_kind(m, &s.id)),
                })
                .collect(),
            publisher: m.publisher.clone(),
        }
    }
}

/// The kind of step `id` of `m`, as written.
fn step_kind(m: &Model, id: &str) -> StepKind {
    m.file
        .steps
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.kind)
        .unwrap_or_default()
}

/// A model to publish.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishIn {
    /// How `source` is written.
    pub format: ModelFormat,
    /// The model text (BPMN XML, JSON or TOML).
    pub source: String,
}

/// `422 invalid_model`: a problem detail with every problem of the model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvalidModel {
    /// The problem (`code` is `invalid_model`).
    #[serde(flatten)]
    pub problem: Problem,
    /// Every problem of the model, one line each.
    pub errors: Vec<String>,
}

impl IntoResponse for InvalidModel {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::to_vec(&self).unwrap_or_default(),
        )
            .into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Published model versions, by key then version.
#[utoipa::path(get, path = "/v1/processes/models", tag = "processes",
    responses(
        (status = 200, body = Vec<ModelOut>),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`key_scope`"),
    ))]
pub async fn list_models(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<ModelOut>>> {
    caller.may_read(RecordKind::ProcessModel)?;
    let actor = state.actor.clone();
    let mut models = state.db.read(move |c| stored_models(c, &actor)).await?;
    models.sort_by(|a, b| (&a.file.key, a.version).cmp(&(&b.file.key, b.version)));
    Ok(Json(models.iter().map(ModelOut::of).collect()))
}

/// Publishes the next version of a model (process right `publish`).
#[utoipa::path(post, path = "/v1/processes/models", tag = "processes",
    request_body = PublishIn,
    responses(
        (status = 201, body = ModelOut),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "not the expected JSON"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`process_forbidden` (rule `roles.ROLE.process.publish`) or `key_scope`"),
        (status = 422, body = InvalidModel, content_type = "application/problem+json", description = "`invalid_model`, every problem in `errors`"),
    ))]
pub async fn publish(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> std::result::Result<(StatusCode, Json<ModelOut>), Response> {
    caller
        .may_write(RecordKind::ProcessModel)
        .map_err(IntoResponse::into_response)?;
    let input: PublishIn = body::json(&state, &headers, raw)
        .await
        .map_err(IntoResponse::into_response)?;
    let file = parse_model(input.format, &input.source).map_err(invalid_model)?;
    let checked = file.clone();
    let (_, version) = engine_write(&state, &caller, move |h| publish_checked(h, file))
        .await
        .map_err(|e| Problem::from(e).into_response())?
        .map_err(invalid_model)?;
    let mut model = Model::check(checked, version).map_err(|e| invalid_model(e.0))?;
    model.publisher = Some(caller.user.name.clone());
    Ok((StatusCode::CREATED, Json(ModelOut::of(&model))))
}

fn invalid_model(errors: Vec<String>) -> Response {
    let problem = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_model",
        format!("invalid process model: {}", errors.join("; ")),
    );
    InvalidModel { problem, errors }.into_response()
}
