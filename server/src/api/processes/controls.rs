//! Controls of an instance: suspend, resume, stop, set a parameter,
//! migrate, with the caller's process rights; one that does not apply
//! where the instance stands is `409 control_not_applicable`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use fieldwork_core::process::ProcessHost;
use fieldwork_core::process::instance::{EventKind, Instance};
use fieldwork_core::process::runner::{self, Control};
use fieldwork_core::{CoreError, RecordId, RecordKind};
use serde::Deserialize;

use super::card::{CardOut, fetch_card, instance_id};
use super::engine::engine_write;
use super::seen::sees;
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::{body, write};
use crate::error::{Result, ServerError};
use crate::processes;
use crate::state::AppState;

/// What to do to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    /// Pause it (right `suspend`).
    Suspend,
    /// Continue it (right `suspend`).
    Resume,
    /// End it for good, cancelling its open tasks (right `stop`).
    Stop,
    /// Change parameter `name` to `value` (right `change_parameters`).
    SetParameter,
    /// Move it to `version` of its model (right `migrate`).
    Migrate,
    /// Tell it that something happened: a step waiting for a message
    /// called `name` goes on (right `complete_tasks`).
    SendMessage,
}

/// A control of an instance.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlIn {
    /// What to do.
    pub action: ControlAction,
    /// `set_parameter`: the parameter; `send_message`: the message.
    #[serde(default)]
    pub name: Option<String>,
    /// `set_parameter`: its value (text; numbers and booleans as text).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub value: Option<serde_json::Value>,
    /// `migrate`: the version to move to.
    #[serde(default)]
    pub version: Option<i64>,
}

impl ControlIn {
    /// The runner's control, or `400 bad_request` naming what is missing.
    fn to_control(&self) -> ApiResult<Control> {
        Ok(match self.action {
            ControlAction::Suspend => Control::Suspend,
            ControlAction::Resume => Control::Resume,
            ControlAction::Stop => Control::Stop,
            ControlAction::SetParameter => {
                let name = self.name.clone().filter(|n| !n.trim().is_empty());
                let value = self.value.as_ref().and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                });
                let control = match (name, value) {
                    (Some(n), Some(v)) => Control::Parameter(n, v),
                    _ => {
                        return Err(Problem::bad_request(
                            "set_parameter needs `name` and a text `value`",
                        ));
                    }
                };
                // The bounds are core's, checked again by the runner.
                control
                    .check_shape()
                    .map_err(|e| Problem::bad_request(e.to_string()))?;
                control
            }
            ControlAction::SendMessage => {
                let name = self
                    .name
                    .clone()
                    .ok_or_else(|| Problem::bad_request("send_message needs `name`"))?;
                let control = Control::Message(name);
                control
                    .check_shape()
                    .map_err(|e| Problem::bad_request(e.to_string()))?;
                control
            }
            ControlAction::Migrate => Control::Migrate(
                self.version
                    .ok_or_else(|| Problem::bad_request("migrate needs `version`"))?,
            ),
        })
    }
}

/// Suspends, resumes, stops, migrates an instance the caller sees or
/// changes one of its parameters, with the caller's process rights.
#[utoipa::path(post, path = "/v1/processes/instances/{id}/control", tag = "processes",
    params(("id" = String, Path)),
    request_body = ControlIn,
    responses(
        (status = 200, body = CardOut),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "a missing `name`, `value` or `version`"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`process_forbidden` (rule `roles.ROLE.process.RIGHT`) or `key_scope`"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`control_not_applicable`: not where the instance stands (resume a running one, anything on a stopped one, a version without its step)"),
    ))]
pub async fn control(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<CardOut>> {
    caller.may_write(RecordKind::ProcessInstance)?;
    let id = instance_id(&id)?;
    let input: ControlIn = body::json(&state, &headers, raw).await?;
    let ctl = input.to_control()?;
    let (access, actor) = (
        caller.access.clone(),
        write::actor_for(&state.actor, &caller.user),
    );
    let target = id.clone();
    engine_write(&state, &caller, move |h| {
        if !sees(h.conn(), &access, &target, &actor)? {
            return Err(ServerError::NotFound(format!(
                "no process instance {target}"
            )));
        }
        after_last_control(h, &target)?;
        control_as_caller(h, &target, ctl)
    })
    .await
    .map_err(not_applicable)?;
    Ok(Json(fetch_card(&state, &caller, id).await?))
}

/// The answer to a refused control of an instance the caller sees: `409
/// control_not_applicable` when core says it does not apply where the
/// instance stands (invalid there, or a model version it needs is not on
/// the server); rights and storage errors answer as usual.
fn not_applicable(e: ServerError) -> Problem {
    let detail = match e {
        ServerError::Core(CoreError::Invalid(v)) => v.to_string(),
        ServerError::Core(CoreError::NotFound(what)) => format!("{what} is not on the server"),
        other => return other.into(),
    };
    Problem::new(
        StatusCode::CONFLICT,
        "control_not_applicable",
        format!("the control does not apply: {detail}"),
    )
}

/// Applies `ctl` to `instance` with the caller's rights (the server's host
/// runs every instance, whatever the caller's role reads).
fn control_as_caller(
    h: &mut processes::ServerHost<'_>,
    instance: &RecordId,
    ctl: Control,
) -> Result<()> {
    runner::control(h, instance, ctl).map(|_| ())
}

/// Stamps the next control of `instance` after its last one: the log
/// orders controls by time, to the second, so two controls made within one
/// second (suspend, then resume) would otherwise be ordered by their names,
/// not as they were made.
fn after_last_control(h: &mut processes::ServerHost<'_>, instance: &RecordId) -> Result<()> {
    let last = h
        .record(instance)?
        .as_ref()
        .and_then(Instance::from_record)
        .and_then(|i| {
            i.events
                .values()
                .filter(|e| e.kind != EventKind::Done)
                .map(|e| e.at)
                .max()
        });
    if let Some(next) = last.and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(1)).ok()) {
        h.not_before(next);
    }
    Ok(())
}
