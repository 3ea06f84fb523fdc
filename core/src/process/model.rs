//! Process models: how a company treats its customers, as steps.
//!
//! Written in TOML (or the same structure in JSON), documented in
//! `docs/PROCESSES.md`, or imported from BPMN ([`super::bpmn`]). Parsing
//! checks everything up front (references, reachability, durations,
//! conditions, fields) so that a published model always runs.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use crate::ids::RecordKind;
use crate::schema;
use crate::value::FieldValue;

mod calls;
mod parallel;
mod people;
mod placeholders;
mod step_check;

pub use people::check_people;
use step_check::check_step;

pub use calls::{called_models, pin_calls};

/// A model as written: the canonical form stored in `process_model` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Stable key, shared by all versions (`deal-won-follow-up`).
    pub key: String,
    /// Human name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What starts an instance.
    pub trigger: TriggerFile,
    /// The first step (default: the first listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The steps.
    pub steps: Vec<StepFile>,
    /// Declared parameters, by name, with their type (`text`, `number`,
    /// `date`, `duration`, `user`): the variables steps read
    /// (`param.NAME` in conditions, `due_param`, `duration_param`,
    /// assignee `param:NAME`). See [`super::outcome`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// What starts an instance, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerFile {
    /// `record_created`, `field_change`, `manual` or `schedule`.
    pub kind: TriggerKind,
    /// The kind of record an instance runs on. Only a `manual` trigger may
    /// leave it out: such a model is started by hand on any account,
    /// contact, deal or activity whose fields it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordKind>,
    /// `field_change`: starts when this becomes true. `schedule`: which
    /// records get an instance at each occurrence (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// `schedule`: the interval (ISO 8601 duration, e.g. `P30D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// `schedule`: the first occurrence (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// Kinds of trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A record of the kind is created.
    RecordCreated,
    /// A change makes the condition true (it was false before).
    FieldChange,
    /// A user starts it from a record.
    Manual,
    /// Periodically, for every record matching the condition.
    Schedule,
}

/// One step, as written. Which fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// Unique id within the model.
    pub id: String,
    /// `task`, `activity`, `timer`, `gateway`, `set` or `end`.
    pub kind: StepKind,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The step that follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// `activity`: call, meeting, visit, email or task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// `task`/`activity`: owner, owner_manager, role:NAME or user:NAME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// `task`/`activity`: the subject; `{field}` and `{account.field}` are
    /// replaced by the record's (or its account's) values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `task`/`activity`: what it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `task`: due this long after the step is entered (ISO 8601 duration,
    /// or business time such as `P2BD`: see [`super::span`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// `task`: if not completed this long after entering, go to `on_deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// `task`: where a missed deadline leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deadline: Option<String>,
    /// `task`: the outcome completing it asks for (`choice:A,B,...`,
    /// `text`, `number`, `date`; see [`super::outcome::Form`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// `task`: a declared `duration` parameter that, when set, replaces
    /// `due`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_param: Option<String>,
    /// `activity`: starts this long after the step is entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// `activity`: length in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<i64>,
    /// `timer`: wait this long (ISO 8601 duration, or business time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `timer`: wait until this date field of the record (plus `duration` if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_field: Option<String>,
    /// `timer`: a declared `duration` parameter that, when set, replaces
    /// `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_param: Option<String>,
    /// `gateway`: conditions tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<BranchFile>,
    /// `gateway`: where to go when no condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `set`: the record's field to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `set`: the value, as typed in the CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `set`: several fields at once, each value as typed in the CLI
    /// (instead of `field` and `value`). `create`: the new record's fields,
    /// each a template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// `wait`: what the step waits for; the first to happen leads on (an
    /// event-based gateway: a message, a change of the record, a timeout).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<WaitFile>,
    /// `create`: the kind of record to create (its `fields` are templates:
    /// `{field}`, `{account.field}`, `{id}` for the record's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<RecordKind>,
    /// `notify`: the notice's name (`quote-sent`): the server delivers it
    /// to the webhook subscriptions of `process.notified`, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// `task`: reminders while the task stays open (non-interrupting
    /// timers): activities created at set times, the task still waiting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<ReminderFile>,
    /// `parallel`: the first step of each path run at the same time (2 to
    /// [`MAX_PARALLEL_PATHS`]); they meet again at `next`, where the
    /// instance goes on once every path has reached it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// `call`/`start`: the key of the model to run on the same record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// `call`/`start`: its version. Publishing fills in the latest one
    /// published (every replica then starts the same version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_version: Option<i64>,
}

/// One thing a `wait` step waits for: exactly one of `message`,
/// `condition` or `after`, and where it leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitFile {
    /// A message of this name is sent to the instance (by a person, from a
    /// device, the office API or the web app: "reply received").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The record comes to satisfy this condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// This long after the step was entered (a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Where it leads.
    pub next: String,
}

/// A reminder on a task step: an activity created `after` the step was
/// entered (and every `after` again, `repeat` times in all) while the task
/// is still open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderFile {
    /// When, after the step was entered (ISO 8601 or business time; more
    /// than zero).
    pub after: String,
    /// How many reminders, one every `after` (1 to 10; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// call, meeting, visit, email or task.
    pub activity: String,
    /// Who gets it (default: the task's assignee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Its subject (default: "Reminder: " and the task's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

/// One branch of a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchFile {
    /// When this holds...
    pub condition: String,
    /// ...go here.
    pub next: String,
}

/// Kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A task someone must complete; the instance waits for it.
    #[default]
    Task,
    /// A call, meeting, visit... put on someone's calendar; no waiting.
    Activity,
    /// Waits for a duration or until a date.
    Timer,
    /// Chooses the next step by conditions on the record.
    Gateway,
    /// Sets a field of the record.
    Set,
    /// The instance is complete.
    End,
    /// Waits for the first of several events (a message, a change of the
    /// record, a timeout) and goes where it leads.
    Wait,
    /// Tells other systems (through the server's webhook outbox) and goes
    /// on.
    Notify,
    /// Creates another record (a deal from a qualified lead) and goes on.
    Create,
    /// Runs several paths at the same time (a parallel fork) and goes on
    /// once every one has reached `next` (the join).
    Parallel,
    /// Runs the paths whose condition holds when it is entered (an
    /// inclusive fork; `default` when none does) and goes on once every
    /// one of them has reached `next` (the join).
    Inclusive,
    /// Runs another model on the same record and waits until that
    /// instance completes (BPMN's call activity).
    Call,
    /// Starts another model on the same record and goes on at once.
    Start,
}

/// Who gets a task or an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// The record's owner.
    Owner,
    /// The manager of the record's owner.
    OwnerManager,
    /// A user with this role (preferably in the record's territory).
    Role(String),
    /// This user.
    User(String),
    /// The user named by this declared `user` parameter of the instance
    /// (the owner while it is not set).
    Param(String),
}

impl Assignee {
    fn parse(s: &str) -> Option<Assignee> {
        match s {
            "owner" => Some(Assignee::Owner),
            "owner_manager" => Some(Assignee::OwnerManager),
            _ => match s.split_once(':') {
                Some(("role", r)) if !r.is_empty() => Some(Assignee::Role(r.to_owned())),
                Some(("user", u)) if !u.is_empty() => Some(Assignee::User(u.to_owned())),
                Some(("param", p)) if !p.is_empty() => Some(Assignee::Param(p.to_owned())),
                _ => None,
            },
        }
    }
}

/// What a step does, checked.
#[derive(Debug, Clone)]
pub enum Action {
    /// Create a task and wait for its completion (or its deadline).
    Task {
        /// Who.
        assignee: Assignee,
        /// Subject template.
        subject: String,
        /// Topic.
        topic: Option<String>,
        /// Due after entering (calendar or business time).
        due: Option<Delay>,
        /// Deadline after entering, and where it leads.
        deadline: Option<(Delay, String)>,
        /// The outcome completing it asks for.
        outcome: Option<super::outcome::Form>,
        /// A declared `duration` parameter replacing `due` when set.
        due_param: Option<String>,
        /// Reminders while it is open.
        reminders: Vec<Reminder>,
    },
    /// Put an activity on a calendar.
    Activity {
        /// call, meeting, visit, email or task.
        activity: String,
        /// Who.
        assignee: Assignee,
        /// Subject template.
        subject: String,
        /// Topic.
        topic: Option<String>,
        /// Start after entering (a call, meeting or visit then moves to
        /// the next opening of the business-hours calendar, if any).
        offset: Delay,
        /// Length in minutes.
        duration_minutes: Option<i64>,
    },
    /// Wait.
    Timer {
        /// This long after entering, or after the date in `until_field`.
        duration: Option<Delay>,
        /// A date or date-time field of the record.
        until_field: Option<String>,
        /// A declared `duration` parameter replacing `duration` when set.
        duration_param: Option<String>,
    },
    /// Choose by conditions.
    Gateway {
        /// Conditions and targets, tried in order.
        branches: Vec<(Condition, String)>,
        /// Otherwise.
        default: String,
    },
    /// Set one or more fields of the record, in one run.
    Set {
        /// The fields and their values (at least one, at most
        /// [`MAX_SET_FIELDS`]).
        writes: Vec<(String, FieldValue)>,
    },
    /// Done.
    End,
    /// Create a record of `kind` with `fields` rendered from the record
    /// the instance runs on, once (its id comes from instance, step and
    /// position), then go on.
    Create {
        /// The kind of record.
        kind: RecordKind,
        /// Each field and its template (`{field}`, `{account.field}`,
        /// `{id}`).
        fields: Vec<(String, String)>,
    },
    /// Have the server deliver notice `name` to the webhook subscriptions
    /// of `process.notified` (only the server performs external effects),
    /// then go on.
    Notify {
        /// The notice's name.
        name: String,
    },
    /// Wait for the first of these (at least one; messages unique, at
    /// most one timeout).
    Wait {
        /// What it waits for and where each leads, in the order written
        /// (which breaks ties between events at the same instant).
        events: Vec<(WaitOn, String)>,
    },
    /// Run each path at the same time; the step's `next` is where they
    /// meet (what a path may hold: see `model/parallel.rs`).
    Parallel {
        /// The first step of each path.
        paths: Vec<String>,
        /// Per path, the condition under which it runs (`None`: it always
        /// runs, or it is the default); all `None` for a parallel step.
        when: Vec<Option<Condition>>,
        /// An inclusive step's default path (by index), run when no
        /// condition holds.
        default: Option<usize>,
    },
    /// Start an instance of another model on the same record (once: its
    /// id comes from instance, step and position); with `wait`, go on
    /// only once it has completed.
    Call {
        /// The model's key.
        process: String,
        /// Its version (`None` only before publishing pins it).
        version: Option<i64>,
        /// Whether the step waits for the instance to complete.
        wait: bool,
    },
}

/// What a `wait` step waits for.
#[derive(Debug, Clone)]
pub enum WaitOn {
    /// A message of this name sent to the instance.
    Message(String),
    /// The record (with the instance's variables) satisfies this.
    Condition(Condition),
    /// This long after the step was entered.
    After(Delay),
}

/// A checked reminder of a task step.
#[derive(Debug, Clone)]
pub struct Reminder {
    /// The first one this long after the step was entered, each next one
    /// this long after the previous.
    pub after: Delay,
    /// How many (1 to [`MAX_REMINDER_REPEAT`]).
    pub repeat: u32,
    /// call, meeting, visit, email or task.
    pub activity: String,
    /// Who gets it.
    pub assignee: Assignee,
    /// Subject template.
    pub subject: String,
    /// Topic.
    pub topic: Option<String>,
}

/// Most fields one `set` step writes.
pub const MAX_SET_FIELDS: usize = 50;
/// Most reminders one task step has.
pub const MAX_REMINDERS: usize = 5;
/// Most times one reminder repeats.
pub const MAX_REMINDER_REPEAT: u32 = 10;
/// Most events one `wait` step waits for.
pub const MAX_WAIT_EVENTS: usize = 10;
/// Most paths one `parallel` step runs.
pub const MAX_PARALLEL_PATHS: usize = 8;

/// A checked step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its id.
    pub id: String,
    /// Display name (the id when none).
    pub name: String,
    /// What it does.
    pub action: Action,
    /// The step after it (task, activity, timer, set).
    pub next: Option<String>,
}

/// A checked trigger.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// Its kind.
    pub kind: TriggerKind,
    /// The record kind instances run on (`None`: a manual model that runs
    /// on any kind whose fields it uses, see [`Model::fits`]).
    pub record: Option<RecordKind>,
    /// The condition (field change; schedule filter).
    pub condition: Option<Condition>,
    /// Schedule interval and first occurrence.
    pub schedule: Option<(Span, Timestamp)>,
}

/// A checked, runnable model.
#[derive(Debug, Clone)]
pub struct Model {
    /// As written (the canonical form that is stored and synced).
    pub file: ModelFile,
    /// Version (0 until published).
    pub version: i64,
    /// The trigger.
    pub trigger: Trigger,
    /// Steps by id.
    pub steps: BTreeMap<String, Step>,
    /// The first step.
    pub start: String,
    /// Who published this version (read from its record; `None` before it
    /// is published). Scheduled instances run as this user.
    pub publisher: Option<String>,
    /// Declared parameters and their types.
    pub parameters: BTreeMap<String, super::outcome::ParamType>,
}

/// Why a model is invalid: every problem, each naming its step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid process model: {}", .0.join("; "))]
pub struct ModelError(pub Vec<String>);

/// Most steps a model may have (real sales processes have tens).
pub const MAX_MODEL_STEPS: usize = 1_000;

/// The kinds of record a process runs on.
pub const PROCESS_KINDS: &[RecordKind] = &[
    RecordKind::Account,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
];

/// The definition of field `name` of the records a model runs on: of
/// `record`, or (a manual model on any kind) of the first kind that has it.
pub(crate) fn field_of(
    record: Option<RecordKind>,
    name: &str,
) -> Option<&'static schema::FieldDef> {
    match record {
        Some(k) => schema::field(k, name),
        None => PROCESS_KINDS.iter().find_map(|k| schema::field(*k, name)),
    }
}

/// How the records a model runs on are named in problems.
fn kind_name(record: Option<RecordKind>) -> String {
    record.map_or_else(|| "records".to_owned(), |k| k.to_string())
}

pub use super::span::{Delay, after, delay, duration};

/// The id of version `version` of model `key`.
pub fn model_id(key: &str, version: i64) -> crate::ids::RecordId {
    crate::ids::RecordId::derived(RecordKind::ProcessModel, &[key, &version.to_string()])
}

/// Reads a stored model record.
pub fn model_from_record(r: &crate::record::Record) -> Option<Model> {
    let version = r.get("version").and_then(FieldValue::as_int)?;
    let mut model = Model::from_json(r.text("definition")?, version).ok()?;
    model.publisher = r.text("owner").map(str::to_owned);
    Some(model)
}

/// Whether `s` is a valid key, step id, parameter or message name: 1-64
/// letters, digits, `_` or `-`.
pub(crate) fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Model {
    /// Parses a model from TOML.
    pub fn from_toml(text: &str) -> Result<Model, ModelError> {
        let file: ModelFile =
            toml::from_str(text).map_err(|e| ModelError(vec![e.to_string().trim().to_owned()]))?;
        Model::check(file, 0)
    }

    /// Parses a model from JSON (the stored form).
    pub fn from_json(text: &str, version: i64) -> Result<Model, ModelError> {
        let file: ModelFile =
            serde_json::from_str(text).map_err(|e| ModelError(vec![e.to_string()]))?;
        Model::check(file, version)
    }

    /// The canonical JSON of the definition.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.file).unwrap_or_default()
    }

    /// Whether this model can run on a record of `kind`: its trigger's kind,
    /// or (a manual model on any record) a kind that has every field the
    /// model uses. `Err` lists why not.
    pub fn fits(&self, kind: RecordKind) -> Result<(), ModelError> {
        match self.trigger.record {
            Some(k) if k == kind => Ok(()),
            Some(k) => Err(ModelError(vec![format!("it runs on {k} records only")])),
            None => {
                let mut file = self.file.clone();
                file.trigger.record = Some(kind);
                Model::check(file, self.version).map(|_| ())
            }
        }
    }

    /// The step `id` (which exists: checked at parse time).
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.get(id)
    }

    /// Checks a model as written.
    pub fn check(file: ModelFile, version: i64) -> Result<Model, ModelError> {
        let mut errors = Vec::new();
        if !valid_id(&file.key) {
            errors.push(format!(
                "key `{}`: 1-64 letters, digits, `_` or `-`",
                file.key
            ));
        }
        if file.name.trim().is_empty() {
            errors.push("name: must not be empty".into());
        }
        let record = file.trigger.record;
        match record {
            Some(k) if !PROCESS_KINDS.contains(&k) => errors.push(format!(
                "trigger.record: processes run on accounts, contacts, deals or activities, not {k}"
            )),
            None if file.trigger.kind != TriggerKind::Manual => errors.push(
                "trigger.record: required (account, contact, deal or activity); only a manual trigger may leave it out".into(),
            ),
            _ => {}
        }
        let trigger = check_trigger(&file.trigger, &mut errors);
        if file.steps.len() > MAX_MODEL_STEPS {
            // Alone, before the steps are checked: those checks are not
            // linear in the number of steps.
            return Err(ModelError(vec![format!(
                "steps: {} steps; a model has at most {MAX_MODEL_STEPS}",
                file.steps.len()
            )]));
        }
        let ids: BTreeSet<&str> = file.steps.iter().map(|s| s.id.as_str()).collect();
        if ids.len() != file.steps.len() {
            errors.push("steps: step ids must be unique".into());
        }
        if file.steps.is_empty() {
            errors.push("steps: a model needs at least one step".into());
        }
        let parameters = check_parameters(&file.parameters, &mut errors);
        let vars = declared_variables(&file, &parameters);
        let mut steps = BTreeMap::new();
        for s in &file.steps {
            if let Some(step) = check_step(s, record, &ids, (&vars, &parameters), &mut errors) {
                steps.insert(s.id.clone(), step);
            }
        }
        let start = file
            .start
            .clone()
            .or_else(|| file.steps.first().map(|s| s.id.clone()))
            .unwrap_or_default();
        if !ids.contains(start.as_str()) {
            errors.push(format!("start: no step `{start}`"));
        }
        if errors.is_empty() {
            // Every step must be reachable from the start.
            let mut seen = BTreeSet::new();
            let mut todo = vec![start.clone()];
            while let Some(id) = todo.pop() {
                if !seen.insert(id.clone()) {
                    continue;
                }
                if let Some(step) = steps.get(&id) {
                    todo.extend(successors(step));
                }
            }
            for id in &ids {
                if !seen.contains(*id) {
                    errors.push(format!("steps.{id}: not reachable from the start"));
                }
            }
            if !steps.values().any(|s| matches!(s.action, Action::End)) {
                errors.push("steps: a model needs an end step".into());
            }
            errors.extend(parallel::check_paths(&steps, &start));
            if let Some(cycle) = loop_without_wait(&steps) {
                errors.push(format!(
                    "steps: the loop {} never waits for a person or a timer",
                    cycle.join(" → ")
                ));
            }
        }
        match (errors.is_empty(), trigger) {
            (true, Some(trigger)) => Ok(Model {
                file,
                version,
                trigger,
                steps,
                start,
                publisher: None,
                parameters,
            }),
            _ => Err(ModelError(errors)),
        }
    }
}

/// Whether entering `step` can make an instance wait (for a person, or for
/// a timer or deadline that lies in the future), so a loop through it cannot
/// spin. Zero-length timers and deadlines, and timers on a date field that
/// may lie in the past, do not count.
pub fn waits(step: &Step) -> bool {
    match &step.action {
        Action::Task { deadline, .. } => deadline.as_ref().is_none_or(|(d, _)| d.is_positive()),
        Action::Timer {
            duration,
            until_field,
            duration_param,
        } => {
            // A parameter may be set to zero: only a timer with neither a
            // date field nor a parameter surely waits.
            until_field.is_none()
                && duration_param.is_none()
                && duration.as_ref().is_some_and(Delay::is_positive)
        }
        // A condition may hold already when the step is entered; messages
        // are used up one per visit, and a timeout waits when positive.
        Action::Wait { events } => events.iter().all(|(on, _)| match on {
            WaitOn::Message(_) => true,
            WaitOn::Condition(_) => false,
            WaitOn::After(d) => d.is_positive(),
        }),
        _ => false,
    }
}

/// A cycle of steps none of which waits, if the model has one (such a model
/// would advance forever in one run; it is refused when checked).
fn loop_without_wait(steps: &BTreeMap<String, Step>) -> Option<Vec<String>> {
    // Peel off steps that do not wait and lead to no other such step still
    // standing (Kahn's algorithm on the subgraph of non-waiting steps);
    // whatever remains lies on, or leads into, a cycle.
    let edges: BTreeMap<&str, Vec<&str>> = steps
        .iter()
        .filter(|(_, s)| !waits(s))
        .map(|(id, s)| {
            let next = successors(s)
                .into_iter()
                .filter_map(|n| steps.get_key_value(&n))
                .filter(|(_, t)| !waits(t))
                .map(|(k, _)| k.as_str())
                .collect();
            (id.as_str(), next)
        })
        .collect();
    let mut remaining: BTreeMap<&str, &Vec<&str>> = edges.iter().map(|(k, v)| (*k, v)).collect();
    loop {
        let leaves: Vec<&str> = remaining
            .iter()
            .filter(|(_, next)| next.iter().all(|n| !remaining.contains_key(n)))
            .map(|(id, _)| *id)
            .collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            remaining.remove(leaf);
        }
    }
    // Walk from any remaining step through remaining steps until one repeats.
    let mut path: Vec<&str> = vec![*remaining.keys().next()?];
    loop {
        let current = *path.last()?;
        let next = *remaining
            .get(current)?
            .iter()
            .find(|n| remaining.contains_key(*n))?;
        if let Some(from) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<String> = path[from..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(next.to_owned());
            return Some(cycle);
        }
        path.push(next);
    }
}

/// The message names a model's `wait` steps wait for: the only messages
/// an instance of it accepts.
pub fn messages(model: &Model) -> BTreeSet<&str> {
    model
        .steps
        .values()
        .filter_map(|s| match &s.action {
            Action::Wait { events } => Some(events),
            _ => None,
        })
        .flatten()
        .filter_map(|(on, _)| match on {
            WaitOn::Message(m) => Some(m.as_str()),
            _ => None,
        })
        .collect()
}

/// The steps a step can lead to.
pub fn successors(step: &Step) -> Vec<String> {
    let mut out: Vec<String> = step.next.iter().cloned().collect();
    match &step.action {
        Action::Task {
            deadline: Some((_, to)),
            ..
        } => out.push(to.clone()),
        Action::Gateway { branches, default } => {
            out.extend(branches.iter().map(|(_, n)| n.clone()));
            out.push(default.clone());
        }
        Action::Wait { events } => out.extend(events.iter().map(|(_, n)| n.clone())),
        Action::Parallel { paths, .. } => out.extend(paths.iter().cloned()),
        _ => {}
    }
    out
}

fn check_trigger(t: &TriggerFile, errors: &mut Vec<String>) -> Option<Trigger> {
    let condition = match &t.condition {
        Some(c) => match Condition::parse(c) {
            Ok(c) => {
                let none = BTreeSet::new();
                check_condition_fields(&c, t.record, &none, "trigger.condition", errors);
                Some(c)
            }
            Err(e) => {
                errors.push(format!("trigger.condition: {e}"));
                None
            }
        },
        None => None,
    };
    if t.kind == TriggerKind::FieldChange && t.condition.is_none() {
        errors.push("trigger: a field_change trigger needs a condition".into());
    }
    let schedule = if t.kind == TriggerKind::Schedule {
        let every = t.every.as_deref().map(duration);
        let from = t
            .from
            .as_deref()
            .map(|f| f.parse::<Timestamp>().map_err(|e| format!("`{f}`: {e}")));
        match (every, from) {
            (Some(Ok(every)), Some(Ok(from))) => Some((every, from)),
            (e, f) => {
                for p in [e.and_then(Result::err), f.and_then(Result::err)]
                    .into_iter()
                    .flatten()
                {
                    errors.push(format!("trigger: {p}"));
                }
                errors.push(
                    "trigger: a schedule needs `every` (ISO 8601 duration) and `from` (RFC 3339)"
                        .into(),
                );
                None
            }
        }
    } else {
        None
    };
    Some(Trigger {
        kind: t.kind,
        record: t.record,
        condition,
        schedule,
    })
}

/// The declared parameters, typed; a problem for each bad one.
fn check_parameters(
    declared: &BTreeMap<String, String>,
    errors: &mut Vec<String>,
) -> BTreeMap<String, super::outcome::ParamType> {
    if declared.len() > super::outcome::MAX_PARAMETERS {
        errors.push(format!(
            "parameters: at most {} parameters",
            super::outcome::MAX_PARAMETERS
        ));
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for (name, ty) in declared {
        if !valid_id(name) {
            errors.push(format!(
                "parameters.{name}: names are 1-64 letters, digits, `_` or `-`"
            ));
            continue;
        }
        match super::outcome::ParamType::parse(ty) {
            Ok(t) => {
                out.insert(name.clone(), t);
            }
            Err(e) => errors.push(format!("parameters.{name}: {e}")),
        }
    }
    out
}

/// The variables a model declares: `outcome.STEP` for each task step that
/// asks for an outcome, `param.NAME` for each declared parameter.
fn declared_variables(
    file: &ModelFile,
    parameters: &BTreeMap<String, super::outcome::ParamType>,
) -> BTreeSet<String> {
    file.steps
        .iter()
        .filter(|s| s.kind == StepKind::Task && s.outcome.is_some())
        .map(|s| format!("outcome.{}", s.id))
        .chain(parameters.keys().map(|p| format!("param.{p}")))
        .collect()
}

fn check_condition_fields(
    c: &Condition,
    record: Option<RecordKind>,
    vars: &BTreeSet<String>,
    key: &str,
    errors: &mut Vec<String>,
) {
    for (kind, name) in c.fields() {
        if let Some(k) = kind
            && super::condition::VARIABLE_PREFIXES.contains(&k)
        {
            let full = format!("{k}.{name}");
            if !vars.contains(&full) {
                errors.push(match k {
                    "outcome" => format!(
                        "{key}: `{full}` is not declared: no task step `{name}` asks for an outcome"
                    ),
                    _ => format!(
                        "{key}: `{full}` is not declared: the model has no parameter `{name}`"
                    ),
                });
            }
            continue;
        }
        if let Some(k) = kind
            && record.is_none_or(|r| k != r.as_str())
        {
            errors.push(format!(
                "{key}: `{k}.{name}` is not a field of the {} the process runs on",
                kind_name(record)
            ));
            continue;
        }
        if field_of(record, name).is_none() {
            errors.push(match record {
                Some(r) => format!("{key}: {r} has no field `{name}`"),
                None => {
                    format!("{key}: no account, contact, deal or activity has a field `{name}`")
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOLLOW_UP: &str = r#"
key = "deal-won-follow-up"
name = "Follow up a won deal"
trigger = { kind = "field_change", record = "deal", condition = 'deal.stage == "won"' }

[[steps]]
id = "wait"
kind = "timer"
duration = "P7D"
next = "call"

[[steps]]
id = "call"
kind = "activity"
activity = "call"
assignee = "owner_manager"
subject = "How is it going, {account.name}?"
topic = "Ask how the delivery went"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

    #[test]
    fn a_valid_model_parses_and_round_trips_through_json() {
        let m = Model::from_toml(FOLLOW_UP).expect("valid");
        assert_eq!(m.start, "wait");
        assert_eq!(m.trigger.kind, TriggerKind::FieldChange);
        let again = Model::from_json(&m.to_json(), 3).expect("json");
        assert_eq!(again.file, m.file);
        assert_eq!(again.version, 3);
        match &m.step("call").expect("step").action {
            Action::Activity { assignee, .. } => assert_eq!(*assignee, Assignee::OwnerManager),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_step() {
        let bad = FOLLOW_UP
            .replace("duration = \"P7D\"", "duration = \"seven days\"")
            .replace("assignee = \"owner_manager\"", "assignee = \"the boss\"")
            .replace("next = \"done\"", "next = \"nowhere\"");
        let ModelError(errors) = Model::from_toml(&bad).expect_err("invalid");
        let has = |s: &str| errors.iter().any(|e| e.contains(s));
        assert!(has("steps.wait.duration"), "{errors:?}");
        assert!(has("steps.call.assignee: `the boss`"), "{errors:?}");
        assert!(has("steps.call.next: no step `nowhere`"), "{errors:?}");
    }

    #[test]
    fn unreachable_steps_gateways_without_default_and_unknown_fields_are_refused() {
        let text = r#"
key = "k"
name = "n"
trigger = { kind = "field_change", record = "deal", condition = "colour == 'red'" }
[[steps]]
id = "g"
kind = "gateway"
branches = [{ condition = "amount > 1000", next = "end" }]
[[steps]]
id = "orphan"
kind = "end"
[[steps]]
id = "end"
kind = "end"
"#;
        let ModelError(errors) = Model::from_toml(text).expect_err("invalid");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("deal has no field `colour`")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("steps.g.default")),
            "{errors:?}"
        );
        let fixed = text
            .replace("colour == 'red'", "stage == 'won'")
            .replace("next = \"end\" }]", "next = \"end\" }]\ndefault = \"end\"");
        let ModelError(errors) = Model::from_toml(&fixed).expect_err("orphan");
        assert_eq!(
            errors,
            vec!["steps.orphan: not reachable from the start".to_owned()]
        );
    }

    #[test]
    fn a_set_step_writes_several_fields_each_checked() {
        let text = r#"
key = "close"
name = "Close a won deal"
trigger = { kind = "manual", record = "deal" }
[[steps]]
id = "close"
kind = "set"
fields = { stage = "won", close_reason = "Signed on site" }
next = "done"
[[steps]]
id = "done"
kind = "end"
"#;
        let m = Model::from_toml(text).expect("valid");
        match &m.step("close").expect("step").action {
            Action::Set { writes } => {
                let fields: Vec<&str> = writes.iter().map(|(f, _)| f.as_str()).collect();
                assert_eq!(fields, ["close_reason", "stage"]);
            }
            other => panic!("{other:?}"),
        }
        let bad = text
            .replace("stage = \"won\"", "stage = \"sold\", stage_history = \"x\"")
            .replace("kind = \"set\"", "kind = \"set\"\nfield = \"amount\"");
        let ModelError(errors) = Model::from_toml(&bad).expect_err("invalid");
        let has = |s: &str| errors.iter().any(|e| e.contains(s));
        assert!(has("not both"), "{errors:?}");
        assert!(has("steps.close.value: `stage`"), "{errors:?}");
        assert!(has("`stage_history` is not a settable field"), "{errors:?}");
    }

    #[test]
    fn durations_add_calendar_days_in_utc() {
        let t: Timestamp = "2027-01-01T09:00:00Z".parse().expect("ts");
        assert_eq!(
            after(t, duration("P7D").expect("span")).to_string(),
            "2027-01-08T09:00:00Z"
        );
        assert_eq!(
            after(t, duration("PT90M").expect("span")).to_string(),
            "2027-01-01T10:30:00Z"
        );
        assert!(duration("7 days").is_err());
    }

    const SPINNER: &str = r#"
key = "spinner"
name = "Sets a field forever"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "a"
kind = "set"
field = "industry"
value = "A"
next = "b"
[[steps]]
id = "b"
kind = "gateway"
branches = [{ condition = 'industry == "A"', next = "a" }]
default = "end"
[[steps]]
id = "end"
kind = "end"
"#;

    #[test]
    fn a_loop_that_never_waits_is_refused_and_one_through_a_task_is_not() {
        let errors = Model::from_toml(SPINNER).expect_err("spins").0;
        assert!(
            errors
                .iter()
                .any(|e| e.contains("loop") && e.contains("never waits")),
            "{errors:?}"
        );
        let waits = SPINNER.replace(
            "kind = \"set\"\nfield = \"industry\"\nvalue = \"A\"",
            "kind = \"task\"\nassignee = \"owner\"\nsubject = \"Look again\"",
        );
        assert!(
            Model::from_toml(&waits).is_ok(),
            "{:?}",
            Model::from_toml(&waits).err()
        );
        let zero_timer = SPINNER.replace(
            "kind = \"set\"\nfield = \"industry\"\nvalue = \"A\"",
            "kind = \"timer\"\nduration = \"PT0S\"",
        );
        assert!(
            Model::from_toml(&zero_timer).is_err(),
            "a zero timer does not wait"
        );
    }
}
