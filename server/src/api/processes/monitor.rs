//! The process monitor: per model version, where the instances the caller
//! sees are and how long their steps take, and which of them failed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::instance::Instance;
use fieldwork_core::process::monitor::{self, OverdueActivity, StepActivity, VersionReport};
use fieldwork_core::{Access, RecordId, RecordKind};
use rusqlite::Connection;
use serde::Serialize;

use super::card::card_of;
use super::seen::{seen_instances, seen_record, stored_models};
use crate::api::caller::Caller;
use crate::api::problem::{ApiResult, Problem};
use crate::api::write;
use crate::error::Result;
use crate::processes;
use crate::state::AppState;

/// The monitor over the instances the caller sees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorOut {
    /// Per model version that has instances the caller sees.
    pub versions: Vec<VersionOut>,
    /// Instances the engine gave up on, among those the caller sees.
    pub failed: Vec<FailedOut>,
}

/// One model version's instances.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionOut {
    /// Model key.
    pub key: String,
    /// Version.
    pub version: i64,
    /// Instances running.
    pub running: usize,
    /// Suspended.
    pub suspended: usize,
    /// Stopped.
    pub stopped: usize,
    /// Completed.
    pub completed: usize,
    /// Activities these instances' steps created (tasks, calls,
    /// meetings...) past their due time and not done; suspended and
    /// stopped instances' are not counted.
    pub overdue: usize,
    /// Per step, in model order.
    pub steps: Vec<StepStatsOut>,
    /// The overdue activities, earliest due first (at most 500).
    pub overdue_activities: Vec<OverdueOut>,
}

/// A follow-up past due.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueOut {
    /// The instance that created it.
    pub instance: String,
    /// The step that created it.
    pub step: String,
    /// The activity's id.
    pub activity: String,
    /// Its type: task, call, meeting, visit, email.
    pub kind: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// When it was due (RFC 3339).
    pub due: String,
}

impl From<OverdueActivity> for OverdueOut {
    fn from(a: OverdueActivity) -> OverdueOut {
        OverdueOut {
            instance: a.instance,
            step: a.step,
            activity: a.activity,
            kind: a.kind,
            assignee: a.assignee,
            due: a.due.to_string(),
        }
    }
}

/// One step's statistics.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepStatsOut {
    /// The step id.
    pub step: String,
    /// Instances whose current step this is.
    pub current: usize,
    /// How many times it was left.
    pub completed: usize,
    /// Median seconds from entering to leaving.
    pub median_secs: Option<i64>,
    /// 90th percentile seconds from entering to leaving.
    pub p90_secs: Option<i64>,
    /// Running instances there longer than the p90 (and a day), or whose
    /// task there is past due; never a suspended one.
    pub stuck: usize,
    /// Activities the step created that are past due and not done.
    pub overdue: usize,
}

impl From<VersionReport> for VersionOut {
    fn from(r: VersionReport) -> VersionOut {
        VersionOut {
            key: r.key,
            version: r.version,
            running: r.running,
            suspended: r.suspended,
            stopped: r.stopped,
            completed: r.completed,
            overdue: r.overdue,
            steps: r
                .steps
                .into_iter()
                .map(|(step, s)| StepStatsOut {
                    step,
                    current: s.current,
                    completed: s.completed,
                    median_secs: s.median_secs,
                    p90_secs: s.p90_secs,
                    stuck: s.stuck,
                    overdue: s.overdue,
                })
                .collect(),
            overdue_activities: r
                .overdue_activities
                .into_iter()
                .map(OverdueOut::from)
                .collect(),
        }
    }
}

/// A failed instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailedOut {
    /// The instance id.
    pub id: String,
    /// Why the engine gave up on it.
    pub reason: String,
}

/// Per model version, where the instances the caller sees are, how long
/// their steps take; and which of them failed.
#[utoipa::path(get, path = "/v1/processes/monitor", tag = "processes",
    responses(
        (status = 200, body = MonitorOut),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "`key_scope`"),
    ))]
pub async fn monitor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<MonitorOut>> {
    caller.may_read(RecordKind::ProcessInstance)?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let now = state.clock.now();
    let out = state
        .db
        .read(move |c| monitor_of(c, &caller.access, &actor, now))
        .await?;
    Ok(Json(out))
}

/// The monitor over the instances `access` sees: overdue follow-ups
/// among the activities it sees, failures among the instances it sees.
fn monitor_of(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
    now: jiff::Timestamp,
) -> Result<MonitorOut> {
    let models = stored_models(conn, actor)?;
    let mut instances = Vec::new();
    let mut activities: Vec<StepActivity> = Vec::new();
    for record in seen_instances(conn, access, actor)? {
        let Some(inst) = Instance::from_record(&record) else {
            continue;
        };
        let Some(card) = card_of(conn, access, actor, &record, &models)? else {
            continue;
        };
        for (aid, status) in card.history.iter().filter_map(|v| v.activity.as_ref()) {
            if status == "planned"
                && let Some(a) = overdue_activity(conn, access, actor, aid, now)?
            {
                activities.push(a);
            }
        }
        instances.push(inst);
    }
    let seen: HashSet<String> = instances.iter().map(|i| i.id.to_string()).collect();
    let failures: BTreeMap<String, String> = processes::failures(conn)?
        .into_iter()
        .filter(|(id, _)| seen.contains(id))
        .collect();
    // Failed instances are listed apart, not counted as running or stuck
    // (core's rule, `monitor::report_with_failures`).
    let versions = monitor::report(&monitor::Inputs {
        models: &models,
        instances: &instances,
        activities: &activities,
        failures: &failures,
        now,
    })
    .into_iter()
    .map(VersionOut::from)
    .collect();
    let failed = failures
        .into_iter()
        .map(|(id, reason)| FailedOut { id, reason })
        .collect();
    Ok(MonitorOut { versions, failed })
}

/// Activity `id` (seen by `access`), when a process step created it and
/// it is past due (`due_at`, else `starts_at`) and not done at `now`.
fn overdue_activity(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
    id: &str,
    now: jiff::Timestamp,
) -> Result<Option<StepActivity>> {
    let Ok(rid) = id.parse::<RecordId>() else {
        return Ok(None);
    };
    Ok(seen_record(conn, access, &rid, actor)?
        .as_ref()
        .and_then(StepActivity::from_record)
        .filter(|a| a.overdue_at(now)))
}
