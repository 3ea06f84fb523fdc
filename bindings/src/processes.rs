//! Tasks, calendars and business processes as apps see them.

use fieldwork_core::process::{self, tasks};
use fieldwork_core::store;

/// One entry of a task list or calendar.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskItem {
    /// The activity's id.
    pub id: String,
    /// call, meeting, visit, email or task.
    pub type_name: String,
    /// Subject.
    pub subject: String,
    /// planned, done or cancelled.
    pub status: String,
    /// Due (tasks) or start (others), UTC.
    pub at: Option<String>,
    /// The same instant in the user's time zone (`2026-12-01 09:00`).
    pub local: Option<String>,
    /// Who it is for.
    pub assignee: Option<String>,
}

impl From<tasks::Item> for TaskItem {
    fn from(i: tasks::Item) -> Self {
        TaskItem {
            id: i.id,
            type_name: i.kind,
            subject: i.subject,
            status: i.status,
            at: i.at.map(|t| t.to_string()),
            local: i.local,
            assignee: i.assignee,
        }
    }
}

/// The user's open activities, bucketed by their local day.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TaskList {
    /// The IANA time zone used.
    pub time_zone: String,
    /// Due before now and still open.
    pub overdue: Vec<TaskItem>,
    /// Due later today.
    pub today: Vec<TaskItem>,
    /// Due after today.
    pub upcoming: Vec<TaskItem>,
    /// Open, with no date.
    pub undated: Vec<TaskItem>,
}

fn items(v: Vec<tasks::Item>) -> Vec<TaskItem> {
    v.into_iter().map(Into::into).collect()
}

impl From<tasks::TaskList> for TaskList {
    fn from(t: tasks::TaskList) -> Self {
        TaskList {
            time_zone: t.time_zone,
            overdue: items(t.overdue),
            today: items(t.today),
            upcoming: items(t.upcoming),
            undated: items(t.undated),
        }
    }
}

/// A published process model version.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProcessModelInfo {
    /// Stable key (`deal-won-follow-up`).
    pub key: String,
    /// Name for people.
    pub name: String,
    /// Version number.
    pub version: i64,
    /// What it is for.
    pub description: String,
}

impl From<process::Model> for ProcessModelInfo {
    fn from(m: process::Model) -> Self {
        ProcessModelInfo {
            key: m.file.key,
            name: m.file.name,
            version: m.version,
            description: m.file.description,
        }
    }
}

/// What a person may do to a running instance.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProcessControl {
    /// Pause it: timers and steps wait.
    Suspend,
    /// Continue it.
    Resume,
    /// End it for good, cancelling its open tasks.
    Stop,
    /// Change a parameter.
    SetParameter {
        /// Parameter name.
        name: String,
        /// New value.
        value: String,
    },
    /// Tell it that something happened ("reply received"): a step
    /// waiting for a message of this name goes on (right
    /// `complete_tasks`; the card's `awaits` lists what it waits for).
    SendMessage {
        /// The message's name.
        name: String,
    },
}

impl From<ProcessControl> for process::runner::Control {
    fn from(c: ProcessControl) -> Self {
        use process::runner::Control;
        match c {
            ProcessControl::Suspend => Control::Suspend,
            ProcessControl::Resume => Control::Resume,
            ProcessControl::Stop => Control::Stop,
            ProcessControl::SetParameter { name, value } => Control::Parameter(name, value),
            ProcessControl::SendMessage { name } => Control::Message(name),
        }
    }
}

/// One step of an instance's path.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProcessStep {
    /// Step id in the model.
    pub step: String,
    /// Step name.
    pub name: String,
    /// When it was entered.
    pub entered_at: String,
    /// When it was left (`None`: the current step).
    pub left_at: Option<String>,
    /// `task`, `timer`, `deadline` or `auto`.
    pub via: Option<String>,
    /// Who acted.
    pub by: Option<String>,
    /// The activity the step created, if any.
    pub activity_id: Option<String>,
    /// That activity's status.
    pub activity_status: Option<String>,
    /// The path of a parallel step it lies on (`POS.STEP.K`; `None` on the
    /// main path).
    pub path: Option<String>,
    /// The instance a call or start step started (its id).
    pub called: Option<String>,
}

/// The card of one process instance.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProcessCard {
    /// The instance's id.
    pub id: String,
    /// Model key.
    pub model_key: String,
    /// Model name.
    pub model_name: String,
    /// Version it runs on.
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// running, suspended, stopped or completed.
    pub status: String,
    /// The current step.
    pub current: Option<String>,
    /// Steps taken, the current one last.
    pub steps: Vec<ProcessStep>,
    /// Parameters, as `name=value`.
    pub parameters: Vec<String>,
    /// When a timer wakes it next.
    pub wake_at: Option<String>,
    /// Why it cannot go on, if it cannot.
    pub stuck: Option<String>,
    /// The messages the current step waits for.
    pub awaits: Vec<String>,
    /// The steps it waits at: the current step, or at a parallel step the
    /// current step of each path that has not reached the join.
    pub open_steps: Vec<String>,
}

fn status_name(s: process::Status) -> String {
    match s {
        process::Status::Running => "running",
        process::Status::Suspended => "suspended",
        process::Status::Stopped => "stopped",
        process::Status::Completed => "completed",
    }
    .to_owned()
}

impl From<store::ProcessCard> for ProcessCard {
    fn from(c: store::ProcessCard) -> Self {
        ProcessCard {
            id: c.id,
            model_key: c.model_key,
            model_name: c.model_name,
            version: c.version,
            record: c.record,
            status: status_name(c.status),
            current: c.current,
            steps: c
                .history
                .into_iter()
                .map(|v| {
                    let (activity_id, activity_status) = v.activity.unzip();
                    ProcessStep {
                        step: v.step,
                        name: v.name,
                        entered_at: v.entered_at.to_string(),
                        left_at: v.left_at.map(|t| t.to_string()),
                        via: v.via,
                        by: v.by,
                        activity_id,
                        activity_status,
                        path: v.path,
                        called: v.called,
                    }
                })
                .collect(),
            parameters: c
                .parameters
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            wake_at: c.wake_at.map(|t| t.to_string()),
            stuck: c.stuck,
            awaits: c.awaits,
            open_steps: c.open_steps,
        }
    }
}

/// A line of the instance list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProcessSummary {
    /// The instance's id.
    pub id: String,
    /// Model key.
    pub model_key: String,
    /// Version.
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// running, suspended, stopped or completed.
    pub status: String,
    /// Current step.
    pub current: Option<String>,
    /// When it started.
    pub started_at: String,
}

impl From<store::ProcessSummary> for ProcessSummary {
    fn from(s: store::ProcessSummary) -> Self {
        ProcessSummary {
            id: s.id,
            model_key: s.model_key,
            version: s.version,
            record: s.record,
            status: status_name(s.status),
            current: s.current,
            started_at: s.started_at.to_string(),
        }
    }
}
