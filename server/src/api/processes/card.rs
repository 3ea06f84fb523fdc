//! The process card of an instance: its API views (status, steps taken,
//! activities, controls) and reading it with the caller's visibility, from
//! an instance id given in a path.

use std::collections::BTreeMap;
use std::sync::Arc;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::Status;
use fieldwork_core::process::card::{self, HostFacts, ProcessCard};
use fieldwork_core::process::instance::Event;
use fieldwork_core::process::model::Model;
use fieldwork_core::{Access, CoreError, Record, RecordId, RecordKind};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::name_of;
use super::seen::{seen_record, stored_models};
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::write;
use crate::error::{Result, ServerError};
use crate::processes;
use crate::state::AppState;

/// The status of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusName {
    /// It runs.
    Running,
    /// A person suspended it.
    Suspended,
    /// A person stopped it.
    Stopped,
    /// It reached its end.
    Completed,
}

impl From<Status> for StatusName {
    fn from(s: Status) -> StatusName {
        match s {
            Status::Running => StatusName::Running,
            Status::Suspended => StatusName::Suspended,
            Status::Stopped => StatusName::Stopped,
            Status::Completed => StatusName::Completed,
        }
    }
}

/// The process card of an instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardOut {
    /// The instance id (`process_instance:…`).
    pub id: String,
    /// Its model's key.
    pub model: String,
    /// Its model's name.
    pub model_name: String,
    /// The version it runs on (after any migration).
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// Where it stands.
    pub status: StatusName,
    /// The current step.
    pub current: Option<String>,
    /// The steps taken, in order, the current one last.
    pub steps: Vec<VisitOut>,
    /// Suspensions, resumptions, stops, migrations and parameter changes,
    /// in order.
    pub controls: Vec<ControlOut>,
    /// Parameters.
    pub parameters: BTreeMap<String, String>,
    /// When a timer wakes it next (RFC 3339).
    pub wake_at: Option<String>,
    /// Why it cannot go on, if it cannot.
    pub stuck: Option<String>,
    /// Why its tasks are held (it is suspended or stopped): completing one
    /// is `409 process_held`.
    pub held: Option<String>,
    /// The messages the current step waits for (send one with the
    /// `send_message` control).
    pub awaits: Vec<String>,
    /// The steps it waits at: the current step, or at a parallel step the
    /// current step of each path that has not reached the join.
    pub open_steps: Vec<String>,
    /// How many ways out of a step lost to a concurrent one (kept in the
    /// log).
    pub superseded: usize,
}

/// A step an instance took.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VisitOut {
    /// Position in the path (0 first).
    pub pos: u32,
    /// The step id.
    pub step: String,
    /// Its name.
    pub name: String,
    /// When it was entered (RFC 3339).
    pub entered_at: String,
    /// When it was left (absent: the current step).
    pub left_at: Option<String>,
    /// How it was left: `task`, `timer`, `deadline` or `auto`.
    pub via: Option<String>,
    /// Who left it (`engine` for automatic steps).
    pub by: Option<String>,
    /// The activity the step created, when the caller sees it.
    pub activity: Option<ActivityRef>,
    /// The outcome its task was completed with, when the step asks for one.
    pub outcome: Option<String>,
    /// The path of a parallel step it lies on (`POS.STEP.K`; absent on
    /// the main path). Positions count within each path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The instance a call or start step started (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called: Option<String>,
}

/// An activity an instance created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityRef {
    /// The activity id (`activity:…`, readable at `/v1/records/activity/{id}`).
    pub id: String,
    /// Its status (`planned`, `done`, `cancelled`).
    pub status: String,
}

/// A control applied to an instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ControlOut {
    /// `suspend`, `resume`, `stop`, `migrate`, `param` or `message`.
    pub kind: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub by: String,
    /// `migrate`: the version moved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// `param`: the parameter and its new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<(String, String)>,
    /// `message`: the message's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&Event> for ControlOut {
    fn from(e: &Event) -> ControlOut {
        ControlOut {
            kind: name_of(&e.kind),
            at: e.at.to_string(),
            by: e.by.clone(),
            version: e.version,
            parameter: e.param.clone(),
            message: e.message.clone(),
        }
    }
}

impl From<ProcessCard> for CardOut {
    fn from(c: ProcessCard) -> CardOut {
        CardOut {
            id: c.id,
            model: c.model_key,
            model_name: c.model_name,
            version: c.version,
            record: c.record,
            status: c.status.into(),
            current: c.current,
            steps: c
                .history
                .into_iter()
                .map(|v| VisitOut {
                    pos: v.pos,
                    step: v.step,
                    name: v.name,
                    entered_at: v.entered_at.to_string(),
                    left_at: v.left_at.map(|t| t.to_string()),
                    via: v.via,
                    by: v.by,
                    activity: v.activity.map(|(id, status)| ActivityRef { id, status }),
                    outcome: v.outcome,
                    path: v.path,
                    called: v.called,
                })
                .collect(),
            controls: c.controls.iter().map(|(_, e)| e.into()).collect(),
            parameters: c.parameters,
            wake_at: c.wake_at.map(|t| t.to_string()),
            stuck: c.stuck,
            held: c.held,
            awaits: c.awaits,
            open_steps: c.open_steps,
            superseded: c.superseded.len(),
        }
    }
}

/// An instance id from the path: `process_instance:KEY` or `KEY`.
pub(super) fn instance_id(id: &str) -> ApiResult<RecordId> {
    let full = if id.contains(':') {
        id.to_owned()
    } else {
        format!("process_instance:{id}")
    };
    match full.parse::<RecordId>() {
        Ok(r) if r.kind() == RecordKind::ProcessInstance => Ok(r),
        _ => Err(Problem::not_found(format!("no process instance {id}"))),
    }
}

/// The card of instance `record` for `access`: only activities it sees
/// are shown. `None` when its model version is not on the server.
pub(super) fn card_of(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
    record: &Record,
    models: &[Model],
) -> Result<Option<ProcessCard>> {
    let (wake_at, failure) = processes::wakeup_of(conn, &record.id)?;
    let built = card::build(
        record,
        models,
        |a| {
            Ok::<_, ServerError>(
                seen_record(conn, access, a, actor)?
                    .map(|r| r.text("status").unwrap_or_default().to_owned()),
            )
        },
        HostFacts { wake_at, failure },
    );
    match built {
        Ok(c) => Ok(Some(c)),
        Err(ServerError::Core(CoreError::NotFound(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The card of instance `id` as the caller sees it, or `404`.
pub(super) async fn fetch_card(
    state: &Arc<AppState>,
    caller: &Caller,
    id: RecordId,
) -> ApiResult<CardOut> {
    let actor = write::actor_for(&state.actor, &caller.user);
    let access = caller.access.clone();
    let shown = id.to_string();
    let card = state
        .db
        .read(move |c| {
            let Some(record) = seen_record(c, &access, &id, &actor)? else {
                return Ok(None);
            };
            let models = stored_models(c, &actor)?;
            card_of(c, &access, &actor, &record, &models)
        })
        .await?;
    card.map(CardOut::from)
        .ok_or_else(|| Problem::not_found(format!("no process instance {shown}")))
}
