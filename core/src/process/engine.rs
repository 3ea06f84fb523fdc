//! The engine: a pure step function from (model, instance, record, now) to
//! actions.
//!
//! [`step`] advances an instance as far as `now` allows and returns what to
//! write: events to add to the log, activities to create (with ids derived
//! from instance, step and position, so that two replicas create one
//! record), activity statuses to correct, record fields to set, and when to
//! wake the instance next. It reads nothing and writes nothing itself; the
//! [`super::runner`] does that against a device store or the server.
//!
//! Every time the engine writes is a time the model defines (the moment a
//! step was entered, a timer was due, a task was completed), never the
//! moment an engine happened to run. That is what makes a device that runs
//! a step offline and the server that runs it later write the same thing.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::condition::Condition;
use super::instance::{
    Event, EventKind, Instance, MAX_POS, Position, Status, Visit, fold, step_label,
};
use super::model::{Action as StepAction, Assignee, Delay, Model};
use super::rights;
use super::{outcome, variables};
use crate::ids::{RecordId, RecordKind};
use crate::policy::{BusinessHours, Policy};
use crate::record::Record;
use crate::value::FieldValue;
use crate::wire::DirectoryEntry;

mod call;
mod create;
mod parallel;
mod reminders;
mod wait;

pub use super::paths::{PathVisits, branch_paths, open_visits};
pub use call::{Called, called_id, called_state, candidate_called};
pub use create::created_id;
pub use reminders::{reminder_id, reminder_ids};

/// The author of automatic steps in the event log.
pub const ENGINE: &str = "engine";
/// Most steps one call advances. Models whose automatic steps loop are
/// refused when checked; an instance that still reaches this budget (a
/// model accepted before that check) is failed, not run on.
pub const MAX_STEPS_PER_RUN: usize = 256;
/// Longest subject a task gets, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest topic a task gets, in characters (the schema's limit for it).
pub const MAX_TOPIC_CHARS: usize = 2_000;

/// What the engine needs to know, read by the caller.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The model version the instance is on.
    pub model: &'a Model,
    /// The first step of the version the instance started on.
    pub start: &'a str,
    /// The instance.
    pub instance: &'a Instance,
    /// The record it runs on (`None`: not visible here, or deleted).
    pub record: Option<&'a Record>,
    /// The record's account, for `{account.field}` in subjects.
    pub account: Option<&'a Record>,
    /// The instance's activities that exist here, by id (see
    /// [`candidate_activities`]).
    pub activities: &'a BTreeMap<RecordId, Record>,
    /// Users, their roles, managers and time zones.
    pub directory: &'a [DirectoryEntry],
    /// The policy in force (`None`: a single-user device), for what a
    /// task's assignee may read (see [`super::rights`]).
    pub policy: Option<&'a Policy>,
    /// The instances its call and start steps started that exist here, by
    /// id (see [`candidate_called`]), and what they have come to.
    pub called: &'a BTreeMap<RecordId, Called>,
    /// Whether this replica may create the instances its call and start
    /// steps start: the server, or the device of the instance's owner
    /// (who they run as, and who alone may push them).
    pub may_start: bool,
    /// Now.
    pub now: Timestamp,
}

/// Something to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add `event` to the instance's log under `key`.
    Event {
        /// The log key.
        key: String,
        /// The event.
        event: Event,
    },
    /// Create the activity `id` (if it does not exist yet) with `fields`, as
    /// of `at`.
    CreateActivity {
        /// Derived from (instance, step, position).
        id: RecordId,
        /// Its fields.
        fields: BTreeMap<String, FieldValue>,
        /// The creation time.
        at: Timestamp,
    },
    /// Set an activity's status (`done` or `cancelled`) to match the path.
    SetActivityStatus {
        /// The activity.
        id: RecordId,
        /// The status it must have.
        status: String,
    },
    /// Create record `id` (if it does not exist yet) with `fields`, as of
    /// `at`: a `create` step's.
    CreateRecord {
        /// Derived from (instance, step, position).
        id: RecordId,
        /// Its fields.
        fields: BTreeMap<String, FieldValue>,
        /// The creation time (the step's entry).
        at: Timestamp,
    },
    /// Create instance `id` (if it does not exist yet) with `fields`, as
    /// of `at`: a call or start step's.
    StartInstance {
        /// Derived from (instance, step, position).
        id: RecordId,
        /// Its fields (see [`super::instance::instance_fields`]).
        fields: BTreeMap<String, FieldValue>,
        /// The step's entry.
        at: Timestamp,
    },
    /// Set a field of the record the instance runs on.
    SetField {
        /// The record.
        record: RecordId,
        /// The field.
        field: String,
        /// The value.
        value: FieldValue,
    },
}

/// What [`step`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// To write, in order.
    pub actions: Vec<Action>,
    /// Where the instance is after the actions.
    pub position: Position,
    /// Running, suspended, stopped or completed.
    pub status: Status,
    /// When to run it again (a timer or deadline), if nothing else happens.
    pub wake_at: Option<Timestamp>,
    /// A problem a person must fix (the current step is not in the model).
    pub stuck: Option<String>,
    /// Why the instance must not run on (it used its whole step budget
    /// without waiting): the runner marks it failed.
    pub failed: Option<String>,
    /// It waits for its record to satisfy a condition (a `wait` step): the
    /// host runs it again when the record changes.
    pub watch: bool,
    /// It waits for this instance (a `call` step's) to complete: the host
    /// runs it again when that instance completes or stops.
    pub awaits_instance: Option<RecordId>,
}

/// The id of the activity a task or activity step creates at `pos`
/// (`step` is the step's label on a path of a parallel step: see
/// [`step_label`]).
pub fn activity_id(instance: &RecordId, step: &str, pos: u32) -> RecordId {
    RecordId::derived(
        RecordKind::Activity,
        &[&instance.to_string(), step, &pos.to_string()],
    )
}

/// Ids of every activity the instance may have created: each task or
/// activity step of `models` at every position up to one past the furthest
/// the log mentions. The caller loads those that exist.
pub fn candidate_activities(instance: &Instance, models: &[&Model]) -> Vec<RecordId> {
    let furthest = main_positions(instance);
    let steps: BTreeSet<&str> = models
        .iter()
        .flat_map(|m| m.steps.values())
        .filter(|s| {
            matches!(
                s.action,
                StepAction::Task { .. } | StepAction::Activity { .. }
            )
        })
        .map(|s| s.id.as_str())
        .collect();
    let mut out = Vec::new();
    for pos in 0..furthest {
        for step in &steps {
            out.push(activity_id(&instance.id, step, pos));
        }
    }
    out.extend(candidate_reminders(instance, models));
    out.extend(parallel::candidate_activities(instance, models));
    out
}

/// How many positions of the main path may hold a visit: one past the
/// furthest the log mentions, and one more for the step entered there.
fn main_positions(instance: &Instance) -> u32 {
    instance
        .events
        .values()
        .filter(|e| e.branch.is_none())
        .filter_map(|e| e.pos)
        .max()
        // A forged event may name any position (up to `u32::MAX`). A path
        // reaches position `p` only through a `done` event at each position
        // before it, and never past the fold's limit, so no activity lies
        // beyond either bound (a genuine log is always within both).
        .map_or(1, |p| p.saturating_add(2))
        .min(MAX_POS + 2)
        .min(u32::try_from(instance.events.len()).map_or(u32::MAX, |n| n.saturating_add(1)))
}

/// Ids of every reminder the instance may have created: those of each task
/// step with reminders at each position the log shows it visited, or may
/// be at now (one past a logged position, or the first).
fn candidate_reminders(instance: &Instance, models: &[&Model]) -> Vec<RecordId> {
    let with_reminders: BTreeMap<&str, &[super::model::Reminder]> = models
        .iter()
        .flat_map(|m| m.steps.values())
        .filter_map(|s| match &s.action {
            StepAction::Task { reminders, .. } if !reminders.is_empty() => {
                Some((s.id.as_str(), reminders.as_slice()))
            }
            _ => None,
        })
        .collect();
    if with_reminders.is_empty() {
        return Vec::new();
    }
    let mut visits: BTreeSet<(u32, &str)> = BTreeSet::new();
    let mut next: BTreeSet<u32> = BTreeSet::from([0]);
    for e in instance.events.values().filter(|e| e.branch.is_none()) {
        if let (Some(pos), Some(step)) = (e.pos, e.step.as_deref())
            && pos <= MAX_POS
        {
            visits.insert((pos, step));
            next.insert(pos + 1);
        }
    }
    for pos in next {
        visits.extend(with_reminders.keys().map(|s| (pos, *s)));
    }
    visits
        .into_iter()
        .filter_map(|(pos, step)| {
            let reminders = with_reminders.get(step)?;
            Some(reminder_ids(&instance.id, step, pos, reminders))
        })
        .flatten()
        .collect()
}

/// Advances `inputs.instance` as far as `inputs.now` allows.
pub fn step(inputs: &Inputs<'_>) -> Outcome {
    let mut run = Run::new(inputs);
    let mut position = fold(&run.instance, inputs.start);
    while position.status == Status::Running && run.failed.is_none() {
        let Some(current) = position.current().cloned() else {
            break;
        };
        let Some((key, event)) = run.advance(&current, None) else {
            break;
        };
        run.log(key, event);
        position = fold(&run.instance, inputs.start);
    }
    run.align_activities(&position);
    run.finish(position)
}

/// One call of [`step`]: the instance as its log grows, and what has been
/// decided so far.
struct Run<'i, 'a> {
    inputs: &'i Inputs<'a>,
    /// The instance, with the events this run added.
    instance: Instance,
    /// To write, in order.
    actions: Vec<Action>,
    /// Activities planned in this run, with their status.
    created: BTreeMap<RecordId, String>,
    wake_at: Option<Timestamp>,
    stuck: Option<String>,
    /// An `end` step was reached.
    completed: bool,
    failed: Option<String>,
    /// Waiting for a condition on the record.
    watch: bool,
    /// Steps left in this run (on every path together).
    taken: usize,
    /// Waiting for a called instance to complete.
    awaits_instance: Option<RecordId>,
}

impl<'i, 'a> Run<'i, 'a> {
    fn new(inputs: &'i Inputs<'a>) -> Self {
        Run {
            inputs,
            instance: inputs.instance.clone(),
            actions: Vec::new(),
            created: BTreeMap::new(),
            wake_at: None,
            stuck: None,
            completed: false,
            failed: None,
            watch: false,
            taken: 0,
            awaits_instance: None,
        }
    }

    /// Adds `event`, which leaves a step, to the log under `key`.
    fn log(&mut self, key: String, event: Event) {
        self.instance.events.insert(key.clone(), event.clone());
        self.actions.push(Action::Event { key, event });
        self.taken += 1;
    }

    /// Whether this run has used its step budget: it is then failed.
    fn out_of_steps(&mut self) -> bool {
        if self.taken < MAX_STEPS_PER_RUN {
            return false;
        }
        self.failed.get_or_insert_with(|| {
            format!("more than {MAX_STEPS_PER_RUN} steps in one run without waiting")
        });
        true
    }

    /// Wakes the instance at `when` at the latest.
    fn wake(&mut self, when: Timestamp) {
        self.wake_at = Some(self.wake_at.map_or(when, |w| w.min(when)));
    }

    /// Runs the step `current` of path `branch` (`None`: the main path):
    /// the event that leaves it, or `None` when it stays (it waits, is
    /// stuck, or has ended). What a step that is left asked for (a wake-up,
    /// watching the record) no longer holds.
    fn advance(&mut self, current: &Visit, branch: Option<&str>) -> Option<(String, Event)> {
        if self.out_of_steps() {
            return None;
        }
        let waiting = (self.wake_at, self.watch, self.awaits_instance.clone());
        let left = self.run_step(current, branch);
        if left.is_some() {
            (self.wake_at, self.watch, self.awaits_instance) = waiting;
        }
        left
    }

    /// [`Run::advance`] without the budget and bookkeeping.
    fn run_step(&mut self, current: &Visit, branch: Option<&str>) -> Option<(String, Event)> {
        let inputs = self.inputs;
        let Some(step) = inputs.model.step(&current.step) else {
            self.stuck = Some(format!(
                "step `{}` is not in version {} of `{}`",
                current.step, inputs.model.version, inputs.model.file.key
            ));
            return None;
        };
        let Some(record) = inputs.record else {
            self.stuck = Some(format!(
                "the record {} is not available here",
                self.instance.record
            ));
            return None;
        };
        let at = Here {
            step,
            record,
            pos: current.pos,
            entered: current.entered_at,
            branch,
        };
        match &step.action {
            StepAction::End => {
                self.completed = true;
                None
            }
            StepAction::Task {
                due,
                deadline,
                due_param,
                reminders,
                ..
            } => {
                let due = self.duration_param(due_param.as_deref()).or(*due);
                let left = self.task(&at, due, deadline.as_ref());
                let until = left.as_ref().map_or(inputs.now, |(_, e)| e.at);
                self.remind(&at, reminders, until, left.is_none());
                left
            }
            StepAction::Activity { offset, .. } => {
                self.plan_activity(&at, Some(*offset));
                Some(at.left("auto", at.entered, ENGINE, step.next.clone()))
            }
            StepAction::Timer {
                duration,
                until_field,
                duration_param,
            } => {
                let duration = self.duration_param(duration_param.as_deref()).or(*duration);
                self.timer(&at, duration, until_field.as_deref())
            }
            StepAction::Gateway { branches, default } => {
                let fields = self.condition_fields(record);
                let to = choose(branches, &fields).unwrap_or(default);
                Some(at.left("auto", at.entered, ENGINE, Some(to.clone())))
            }
            StepAction::Wait { events } => self.wait(&at, events),
            StepAction::Create { kind, fields } => {
                self.create_record(&at, *kind, fields)?;
                Some(at.left("auto", at.entered, ENGINE, step.next.clone()))
            }
            // The server delivers the notice when it sees the step left
            // (see `docs/PROCESSES.md`); the engine only goes on.
            StepAction::Notify { .. } => {
                Some(at.left("auto", at.entered, ENGINE, step.next.clone()))
            }
            StepAction::Parallel {
                paths,
                when,
                default,
            } => self.parallel(&at, paths, (when, *default)),
            StepAction::Call {
                process,
                version,
                wait,
            } => self.call(&at, (process, *version), *wait),
            StepAction::Set { writes } => {
                for (field, value) in writes {
                    if record.get(field) != Some(value) {
                        self.actions.push(Action::SetField {
                            record: record.id.clone(),
                            field: field.clone(),
                            value: value.clone(),
                        });
                    }
                }
                Some(at.left("auto", at.entered, ENGINE, step.next.clone()))
            }
        }
    }

    /// What a condition reads: the record's fields and the instance's
    /// variables (`outcome.STEP`, `param.NAME`: see [`super::outcome`]).
    fn condition_fields(&self, record: &Record) -> BTreeMap<String, FieldValue> {
        let position = fold(&self.instance, self.inputs.start);
        let mut fields = record.fields.clone();
        fields.extend(variables::variables(
            &self.instance,
            &position,
            self.inputs.model,
        ));
        fields
    }

    /// The organisation's business-hours calendar, when the policy has
    /// one (every replica reads the same replicated policy).
    fn calendar(&self) -> Option<&'a BusinessHours> {
        self.inputs.policy.and_then(Policy::business_hours)
    }

    /// `base` plus `delay` for a timer or a deadline: business time in the
    /// calendar's own time zone.
    fn org_after(&self, base: Timestamp, delay: Delay) -> Timestamp {
        let calendar = self.calendar();
        let tz = calendar.map_or(jiff::tz::TimeZone::UTC, |c| c.time_zone().clone());
        delay.after(base, calendar, &tz)
    }

    /// The value of declared `duration` parameter `name`, when it is set
    /// to a valid duration.
    fn duration_param(&self, name: Option<&str>) -> Option<Delay> {
        let value = variables::parameter(
            &self.instance,
            self.inputs.model,
            name?,
            outcome::ParamType::Duration,
        )?;
        super::model::delay(value).ok()
    }

    /// A task step: plans its task, and leaves when the task is done or its
    /// deadline has passed; otherwise waits (for a person, or until the
    /// deadline).
    fn task(
        &mut self,
        at: &Here<'_>,
        due: Option<Delay>,
        deadline: Option<&(Delay, String)>,
    ) -> Option<(String, Event)> {
        let id = at.activity_id(&self.instance.id);
        self.plan_activity(at, due);
        let task = self.inputs.activities.get(&id);
        if status_of(self.inputs, &id, &self.created).as_deref() == Some("done") {
            let when = task
                .and_then(|t| t.text("completed_at"))
                .and_then(|t| t.parse::<Timestamp>().ok())
                .unwrap_or(self.inputs.now)
                .max(at.entered);
            let by = task
                .and_then(|t| t.text("assignee").or(t.text("owner")))
                .unwrap_or(ENGINE);
            let mut left = at.left("task", when, by, at.step.next.clone());
            left.1.outcome = task_outcome(self.inputs.model, &at.step.id, task);
            return Some(left);
        }
        let (span, to) = deadline?; // without one, it waits for a person
        let when = self.org_after(at.entered, *span);
        if when > self.inputs.now {
            self.wake(when);
            return None;
        }
        Some(at.left("deadline", when, ENGINE, Some(to.clone())))
    }

    /// A timer step: leaves once its time (after entering, or after the
    /// date in `until_field`) has come; otherwise waits until then.
    fn timer(
        &mut self,
        at: &Here<'_>,
        duration: Option<Delay>,
        until_field: Option<&str>,
    ) -> Option<(String, Event)> {
        let base = match until_field {
            Some(f) => match at.record.text(f).and_then(parse_date) {
                Some(t) => t,
                None => {
                    self.stuck = Some(format!("the timer waits for `{f}`, which is not set"));
                    return None;
                }
            },
            None => at.entered,
        };
        let due = duration
            .map_or(base, |d| self.org_after(base, d))
            .max(at.entered);
        if due > self.inputs.now {
            self.wake(due);
            return None;
        }
        Some(at.left("timer", due, ENGINE, at.step.next.clone()))
    }

    /// Plans the activity of the step at `at` (due or starting `delay`
    /// after the step was entered; see [`Planned::when`]).
    fn plan_activity(&mut self, at: &Here<'_>, delay: Option<Delay>) {
        let id = at.activity_id(&self.instance.id);
        let planned = Planned {
            inputs: self.inputs,
            instance: &self.instance,
            record: at.record,
            step: at.step,
            entered: at.entered,
        };
        if status_of(self.inputs, &id, &self.created).is_some() {
            return;
        }
        let when = delay.map(|d| planned.when(d));
        planned.activity(&id, when, &mut self.created, &mut self.actions);
    }

    /// Activities follow the path: a task left by a person is done; any
    /// other open activity that is off the path, or of a stopped instance,
    /// or of a task left by its deadline, is cancelled.
    fn align_activities(&mut self, position: &Position) {
        // Every visit, on the main path and on the paths of its parallel
        // steps, with the label its activities derive from.
        let main = position.path.iter().map(|v| (v.step.clone(), v));
        let paths = branch_paths(&self.instance, position, self.inputs.model);
        let in_paths = paths.iter().flat_map(|p| {
            p.visits
                .iter()
                .map(|v| (step_label(Some(&p.scope), &v.step), v))
        });
        let visits: Vec<(String, &Visit)> = main.chain(in_paths).collect();
        let on_path: BTreeMap<RecordId, Option<String>> = visits
            .iter()
            .map(|(label, v)| {
                let via = v.left.as_ref().and_then(|(_, e)| e.via.clone());
                (activity_id(&self.instance.id, label, v.pos), via)
            })
            .collect();
        // Reminders on the path, and whether their task step was left.
        let reminders: BTreeMap<RecordId, bool> = visits
            .iter()
            .filter_map(
                |(label, v)| match self.inputs.model.step(&v.step).map(|s| &s.action) {
                    Some(StepAction::Task { reminders, .. }) => Some(
                        reminder_ids(&self.instance.id, label, v.pos, reminders)
                            .into_iter()
                            .map(|id| (id, v.left.is_some()))
                            .collect::<Vec<_>>(),
                    ),
                    _ => None,
                },
            )
            .flatten()
            .collect();
        let ids: BTreeSet<RecordId> = self
            .inputs
            .activities
            .keys()
            .chain(self.created.keys())
            .cloned()
            .collect();
        for id in ids {
            let Some(status) = status_of(self.inputs, &id, &self.created) else {
                continue;
            };
            let wanted = match on_path.get(&id) {
                _ if position.status == Status::Stopped => {
                    (status == "planned").then_some("cancelled")
                }
                None if reminders.contains_key(&id) => {
                    let left = reminders.get(&id).copied().unwrap_or(false);
                    (left && status == "planned").then_some("cancelled")
                }
                Some(Some(via)) if via == "task" => (status != "done").then_some("done"),
                Some(Some(via)) if via == "deadline" || via == "skip" => {
                    (status == "planned").then_some("cancelled")
                }
                Some(_) => None,
                None => (status == "planned").then_some("cancelled"),
            };
            if let Some(s) = wanted {
                self.actions.push(Action::SetActivityStatus {
                    id,
                    status: s.to_owned(),
                });
            }
        }
    }

    /// The outcome, with the instance at `position`.
    fn finish(self, position: Position) -> Outcome {
        let status = match position.status {
            Status::Running if self.completed => Status::Completed,
            s => s,
        };
        Outcome {
            actions: self.actions,
            position,
            status,
            wake_at: self.wake_at.filter(|_| status == Status::Running),
            stuck: self.stuck,
            failed: self.failed,
            watch: self.watch && status == Status::Running,
            awaits_instance: self.awaits_instance.filter(|_| status == Status::Running),
        }
    }
}

/// The step a run is at: which, on what record, at which position of the
/// path, entered when.
struct Here<'m> {
    step: &'m super::model::Step,
    record: &'m Record,
    pos: u32,
    entered: Timestamp,
    /// The path of a parallel step it lies on (`None`: the main path).
    branch: Option<&'m str>,
}

impl Here<'_> {
    /// What the ids of this visit's activity, reminders and created record
    /// derive from.
    fn label(&self) -> String {
        step_label(self.branch, &self.step.id)
    }

    /// The id of the activity this visit creates (a task or activity step).
    fn activity_id(&self, instance: &RecordId) -> RecordId {
        activity_id(instance, &self.label(), self.pos)
    }

    /// The `done` event that leaves this step `via` a task, deadline, timer
    /// or automatically, at `at`, by `by`, to step `to`; with its log key.
    fn left(&self, via: &str, at: Timestamp, by: &str, to: Option<String>) -> (String, Event) {
        let event = Event {
            kind: EventKind::Done,
            at,
            by: by.to_owned(),
            pos: Some(self.pos),
            step: Some(self.step.id.clone()),
            via: Some(via.to_owned()),
            to,
            version: None,
            param: None,
            outcome: None,
            message: None,
            branch: self.branch.map(str::to_owned),
        };
        (
            Event::done_key_in(self.branch, self.pos, &self.step.id, via),
            event,
        )
    }
}

/// The outcome a completed task records in the log: its `outcome` field,
/// trimmed, when its step asks for one (the same on every replica: the
/// field is written with the task's status, in one change).
pub fn task_outcome(model: &Model, step: &str, task: Option<&Record>) -> Option<String> {
    variables::form_of(model, step)?;
    task.and_then(|t| t.text("outcome"))
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| truncate_chars(o.to_owned(), outcome::MAX_TEXT_CHARS))
}

fn choose<'a>(
    branches: &'a [(Condition, String)],
    fields: &BTreeMap<String, FieldValue>,
) -> Option<&'a String> {
    branches
        .iter()
        .find(|(c, _)| c.eval(fields))
        .map(|(_, to)| to)
}

/// A date (`2027-01-08`, midnight UTC) or date-time field as an instant.
fn parse_date(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

/// Who a task or activity goes to; the record's owner when the rule finds
/// no one (a role nobody has, an owner without a manager).
pub fn resolve(
    assignee: &Assignee,
    owner: Option<&str>,
    directory: &[DirectoryEntry],
) -> Option<String> {
    let found = match assignee {
        Assignee::Owner => owner.map(str::to_owned),
        Assignee::User(u) => Some(u.clone()),
        // Resolved from the instance's parameter by the engine; unset, the
        // owner.
        Assignee::Param(_) => None,
        Assignee::OwnerManager => owner.and_then(|o| {
            directory
                .iter()
                .find(|d| d.name == o)
                .and_then(|d| d.manager.clone())
        }),
        Assignee::Role(role) => {
            let mut names: Vec<&str> = directory
                .iter()
                .filter(|d| &d.role == role)
                .map(|d| d.name.as_str())
                .collect();
            names.sort_unstable();
            names.first().map(|n| (*n).to_owned())
        }
    };
    found.or_else(|| owner.map(str::to_owned))
}

/// Replaces `{field}`, `{account.field}` and `{id}` (the record's id) in a
/// subject or a created record's field.
pub fn render(template: &str, record: &Record, account: Option<&Record>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        let (source, field) = match name.split_once('.') {
            Some(("account", f)) => (account, f),
            Some((_, f)) => (Some(record), f),
            None => (Some(record), name),
        };
        let value = match (source, field) {
            (Some(r), "id") if name == "id" => r.id.to_string(),
            _ => source
                .and_then(|r| r.get(field))
                .map(display)
                .unwrap_or_default(),
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` cut to at most `max` characters (never inside a character).
pub fn truncate_chars(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
    }
    text
}

fn display(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(t) => t.clone(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Float(f) => f.to_string(),
        FieldValue::Bool(b) => b.to_string(),
        other => other.display(),
    }
}

/// An activity's status: as planned earlier in this pass, else as stored.
fn status_of(
    inputs: &Inputs<'_>,
    id: &RecordId,
    created: &BTreeMap<RecordId, String>,
) -> Option<String> {
    created.get(id).cloned().or_else(|| {
        inputs
            .activities
            .get(id)
            .and_then(|r| r.text("status"))
            .map(str::to_owned)
    })
}

/// What a step needs to plan the activity it creates.
struct Planned<'a> {
    inputs: &'a Inputs<'a>,
    instance: &'a Instance,
    record: &'a Record,
    step: &'a super::model::Step,
    entered: Timestamp,
}

impl Planned<'_> {
    /// Plans the creation of activity `id` (due or starting at `when`)
    /// unless it exists already, on this replica or earlier in this pass.
    fn activity(
        &self,
        id: &RecordId,
        when: Option<Timestamp>,
        created: &mut BTreeMap<RecordId, String>,
        actions: &mut Vec<Action>,
    ) {
        self.activity_as(id, &Spec::of(self.step), when, created, actions);
    }

    /// Plans activity `id` as `spec` describes it (a step's own, or one of
    /// its reminders), unless it exists already.
    fn activity_as(
        &self,
        id: &RecordId,
        spec: &Spec<'_>,
        when: Option<Timestamp>,
        created: &mut BTreeMap<RecordId, String>,
        actions: &mut Vec<Action>,
    ) {
        if status_of(self.inputs, id, created).is_some() {
            return;
        }
        let fields = self.fields(spec, when);
        created.insert(id.clone(), "planned".into());
        actions.push(Action::CreateActivity {
            id: id.clone(),
            fields,
            at: self.entered,
        });
    }

    /// When the activity is due (a task) or starts: `delay` after the step
    /// was entered. With a business-hours calendar, business time counts
    /// in the assignee's time zone (the calendar's when the directory has
    /// none for them), and a call, meeting or visit that would start while
    /// the calendar is closed (or run past its closing) moves to the next
    /// opening in that zone. The same inputs give the same instant on
    /// every replica.
    fn when(&self, delay: Delay) -> Timestamp {
        let Some(calendar) = self.inputs.policy.and_then(Policy::business_hours) else {
            return delay.after(self.entered, None, &jiff::tz::TimeZone::UTC);
        };
        let spec = Spec::of(self.step);
        let tz = calendar.zone_for(self.zone_of(&spec));
        let at = delay.after(self.entered, Some(calendar), &tz);
        self.open_at(at, &spec)
    }

    /// `at`, or for a call, meeting or visit (`spec`) that would start while
    /// the business-hours calendar is closed (or run past its closing), the
    /// next opening in the assignee's time zone.
    fn open_at(&self, at: Timestamp, spec: &Spec<'_>) -> Timestamp {
        let Some(calendar) = self.inputs.policy.and_then(Policy::business_hours) else {
            return at;
        };
        if !APPOINTMENTS.contains(&spec.kind) {
            return at;
        }
        let tz = calendar.zone_for(self.zone_of(spec));
        let length = jiff::SignedDuration::from_mins(spec.minutes.unwrap_or(0).clamp(0, 1_440));
        calendar.next_open(at, &tz, length).unwrap_or(at)
    }

    /// The time zone the directory gives the activity's assignee, if any.
    fn zone_of(&self, spec: &Spec<'_>) -> Option<&str> {
        let (_, assignee) = self.people_of(spec);
        let assignee = assignee?;
        self.inputs
            .directory
            .iter()
            .find(|d| d.name == assignee)
            .and_then(|d| d.time_zone.as_deref())
    }

    /// The record's owner (else the instance's) and who the activity goes
    /// to.
    fn people_of(&self, spec: &Spec<'_>) -> (Option<String>, Option<String>) {
        let owner = self
            .record
            .text("owner")
            .map(str::to_owned)
            .or_else(|| self.instance.owner.clone());
        let by_param = match spec.assignee {
            Assignee::Param(p) => variables::parameter(
                self.instance,
                self.inputs.model,
                p,
                outcome::ParamType::User,
            )
            // A user the directory does not know gets nothing: the owner
            // does (as for a role nobody has).
            .filter(|u| {
                self.inputs.directory.is_empty()
                    || self.inputs.directory.iter().any(|d| d.name == *u)
            })
            .map(|u| Assignee::User(u.to_owned())),
            _ => None,
        };
        let assignee = resolve(
            by_param.as_ref().unwrap_or(spec.assignee),
            owner.as_deref(),
            self.inputs.directory,
        );
        (owner, assignee)
    }

    /// The fields of the activity, due or starting at `when` (else when
    /// the step was entered).
    fn fields(&self, spec: &Spec<'_>, when: Option<Timestamp>) -> Fields {
        let (owner, assignee) = self.people_of(spec);
        let mut f = Fields::new();
        text(&mut f, "type", spec.kind.to_owned());
        text(&mut f, "status", "planned".to_owned());
        self.describe(&mut f, spec, assignee.as_deref());
        self.people(&mut f, owner, assignee);
        let at = when.unwrap_or(self.entered);
        let key = if spec.kind == "task" {
            "due_at"
        } else {
            "starts_at"
        };
        text(&mut f, key, at.to_string());
        self.links(&mut f);
        if let Some(m) = spec.minutes {
            f.insert("duration_minutes".into(), FieldValue::Int(m));
        }
        f
    }

    /// Subject and topic, rendered from what the assignee may read (the
    /// record is already limited to what the instance's user may read).
    fn describe(&self, f: &mut Fields, spec: &Spec<'_>, assignee: Option<&str>) {
        let policy = self.inputs.policy;
        let role = assignee.and_then(|a| rights::role_of(self.inputs.directory, a));
        let shown = rights::view(self.record, policy, &[role]);
        let shown_account = self
            .inputs
            .account
            .map(|a| rights::view(a, policy, &[role]));
        let subject = truncate_chars(
            render(spec.subject, &shown, shown_account.as_ref()),
            MAX_SUBJECT_CHARS,
        );
        let subject = if subject.trim().is_empty() {
            self.step.name.clone()
        } else {
            subject
        };
        text(f, "subject", subject);
        if let Some(t) = spec.topic {
            let topic = render(t, &shown, shown_account.as_ref());
            text(f, "topic", truncate_chars(topic, MAX_TOPIC_CHARS));
        }
    }

    /// Owner (the record's, else the instance's, else the assignee),
    /// assignee and the assignee's time zone.
    fn people(&self, f: &mut Fields, owner: Option<String>, assignee: Option<String>) {
        if let Some(o) = owner.or_else(|| assignee.clone()) {
            text(f, "owner", o);
        }
        let Some(a) = assignee else {
            return;
        };
        let tz = self
            .inputs
            .directory
            .iter()
            .find(|d| d.name == a)
            .and_then(|d| d.time_zone.clone());
        text(f, "assignee", a);
        if let Some(tz) = tz {
            text(f, "time_zone", tz);
        }
    }

    /// The records the activity belongs to: the record the instance runs
    /// on (as account, deal or contact), its account, the instance, the
    /// step.
    fn links(&self, f: &mut Fields) {
        let record = self.record;
        let own = match record.kind() {
            RecordKind::Account => Some("account"),
            RecordKind::Deal => Some("deal"),
            RecordKind::Contact => Some("contact"),
            _ => None,
        };
        if own != Some("account")
            && let Some(a) = &self.instance.account
        {
            text(f, "account", a.to_string());
        }
        if let Some(key) = own {
            text(f, key, record.id.to_string());
        }
        text(f, "process_instance", self.instance.id.to_string());
        text(f, "process_step", self.step.id.clone());
    }
}

/// Activity types that are appointments with people: with a
/// business-hours calendar they start only while it is open.
pub const APPOINTMENTS: &[&str] = &["call", "meeting", "visit"];

/// An activity's fields, by name.
type Fields = BTreeMap<String, FieldValue>;

fn text(f: &mut Fields, key: &str, value: String) {
    f.insert(key.to_owned(), FieldValue::Text(value));
}

/// What a task or activity step says of the activity it creates.
struct Spec<'m> {
    /// `task`, or the activity type (`call`, `meeting`...).
    kind: &'m str,
    assignee: &'m Assignee,
    subject: &'m str,
    topic: Option<&'m str>,
    minutes: Option<i64>,
}

impl<'m> Spec<'m> {
    fn of(step: &'m super::model::Step) -> Self {
        match &step.action {
            StepAction::Task {
                assignee,
                subject,
                topic,
                ..
            } => Spec {
                kind: "task",
                assignee,
                subject,
                topic: topic.as_deref(),
                minutes: None,
            },
            StepAction::Activity {
                activity,
                assignee,
                subject,
                topic,
                duration_minutes,
                ..
            } => Spec {
                kind: activity,
                assignee,
                subject,
                topic: topic.as_deref(),
                minutes: *duration_minutes,
            },
            _ => Spec {
                kind: "task",
                assignee: &Assignee::Owner,
                subject: &step.name,
                topic: None,
                minutes: None,
            },
        }
    }
}

#[cfg(test)]
mod call_tests;
#[cfg(test)]
mod create_tests;
#[cfg(test)]
mod hours_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod wait_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::model::Model;

    const LEAD: &str = r#"
key = "lead-qualification"
name = "Qualify a lead within two days"
trigger = { kind = "record_created", record = "account" }
[[steps]]
id = "qualify"
kind = "task"
assignee = "owner"
subject = "Qualify {name}"
due = "P2D"
deadline = "P2D"
on_deadline = "escalate"
next = "check"
[[steps]]
id = "check"
kind = "gateway"
branches = [{ condition = "stage == 'prospect'", next = "done" }]
default = "done"
[[steps]]
id = "escalate"
kind = "activity"
activity = "call"
assignee = "owner_manager"
subject = "{name} was not qualified in time"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn account() -> Record {
        let mut fields = BTreeMap::new();
        fields.insert("name".into(), FieldValue::Text("Szőke Kft".into()));
        fields.insert("owner".into(), FieldValue::Text("ana".into()));
        Record {
            id: RecordId::derived(RecordKind::Account, &["a"]),
            fields,
            conflicts: BTreeMap::new(),
            classes: Vec::new(),
        }
    }

    fn instance(record: &Record) -> Instance {
        let started = at("2027-01-04T09:00:00Z");
        Instance {
            id: Instance::derive_id("lead-qualification", &record.id, started),
            model_key: "lead-qualification".into(),
            model: RecordId::derived(RecordKind::ProcessModel, &["lead-qualification", "1"]),
            started_version: 1,
            record: record.id.clone(),
            account: Some(record.id.clone()),
            owner: Some("ana".into()),
            started_at: started,
            events: BTreeMap::new(),
            parameters: BTreeMap::new(),
        }
    }

    fn directory() -> Vec<DirectoryEntry> {
        vec![
            DirectoryEntry {
                name: "ana".into(),
                role: "rep".into(),
                manager: Some("mia".into()),
                time_zone: Some("Europe/Madrid".into()),
            },
            DirectoryEntry {
                name: "mia".into(),
                role: "manager".into(),
                manager: None,
                time_zone: Some("Europe/Budapest".into()),
            },
        ]
    }

    fn apply(
        instance: &mut Instance,
        actions: &[Action],
        activities: &mut BTreeMap<RecordId, Record>,
    ) {
        for a in actions {
            match a {
                Action::Event { key, event } => {
                    instance.events.insert(key.clone(), event.clone());
                }
                Action::CreateActivity { id, fields, .. } => {
                    activities.insert(
                        id.clone(),
                        Record {
                            id: id.clone(),
                            fields: fields.clone(),
                            conflicts: BTreeMap::new(),
                            classes: Vec::new(),
                        },
                    );
                }
                Action::SetActivityStatus { id, status } => {
                    if let Some(r) = activities.get_mut(id) {
                        r.fields
                            .insert("status".into(), FieldValue::Text(status.clone()));
                    }
                }
                Action::SetField { .. }
                | Action::CreateRecord { .. }
                | Action::StartInstance { .. } => {}
            }
        }
    }

    #[test]
    fn a_forged_position_neither_overflows_nor_widens_the_candidates() {
        let model = Model::from_toml(LEAD).expect("model");
        let record = account();
        for pos in [u32::MAX, u32::MAX - 1, 4_000_000_000, MAX_POS + 1] {
            let mut inst = instance(&record);
            let event = Event {
                kind: EventKind::Done,
                at: at("2027-01-04T10:00:00Z"),
                by: "ana".into(),
                pos: Some(pos),
                step: Some("qualify".into()),
                via: Some("task".into()),
                to: Some("check".into()),
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            };
            inst.events
                .insert(Event::done_key(pos, "qualify", "task"), event);
            // Two task or activity steps (qualify, escalate) at every
            // position a path can reach: with one event, positions 0 and 1.
            let candidates = candidate_activities(&inst, &[&model]);
            assert_eq!(candidates.len(), 2 * 2, "{pos}");
            // A log that does reach far is still cut at the fold's limit.
            for p in 0..MAX_POS + 10 {
                let mut e = inst.events.values().next().cloned().expect("event");
                e.pos = Some(p);
                inst.events.insert(Event::done_key(p, "qualify", "task"), e);
            }
            let candidates = candidate_activities(&inst, &[&model]);
            assert_eq!(candidates.len(), 2 * (MAX_POS as usize + 2), "{pos}");
        }
        assert_eq!(candidate_activities(&instance(&record), &[&model]).len(), 2);
    }

    #[test]
    fn render_cuts_templates_at_characters_not_bytes() {
        let record = account();
        for (template, want) in [
            ("{é", "{é"),
            ("é{", "é{"),
            ("{é}", ""),
            ("ő{name}ő", "őSzőke Kftő"),
            ("{name}{", "Szőke Kft{"),
            ("}{}{{name}}", "}}"),
            ("{account.ü}x{", "x{"),
        ] {
            assert_eq!(render(template, &record, None), want, "{template}");
        }
        assert_eq!(truncate_chars("Szőke".into(), 3), "Sző");
        assert_eq!(truncate_chars("Szőke".into(), 99), "Szőke");
    }

    #[test]
    fn a_task_is_created_once_and_waits_for_its_deadline() {
        let model = Model::from_toml(LEAD).expect("model");
        let record = account();
        let dir = directory();
        let mut inst = instance(&record);
        let mut acts = BTreeMap::new();
        let run = |inst: &Instance, acts: &BTreeMap<RecordId, Record>, now: &str| {
            step(&Inputs {
                model: &model,
                start: &model.start,
                instance: inst,
                record: Some(&record),
                account: Some(&record),
                activities: acts,
                directory: &dir,
                policy: None,
                called: &BTreeMap::new(),
                may_start: true,
                now: at(now),
            })
        };
        let out = run(&inst, &acts, "2027-01-04T09:00:00Z");
        assert_eq!(out.wake_at, Some(at("2027-01-06T09:00:00Z")));
        let [
            Action::CreateActivity {
                id,
                fields,
                at: created,
            },
        ] = out.actions.as_slice()
        else {
            panic!("{:?}", out.actions)
        };
        assert_eq!(*id, activity_id(&inst.id, "qualify", 0));
        assert_eq!(
            fields.get("subject"),
            Some(&FieldValue::Text("Qualify Szőke Kft".into()))
        );
        assert_eq!(
            fields.get("due_at"),
            Some(&FieldValue::Text("2027-01-06T09:00:00Z".into()))
        );
        assert_eq!(*created, at("2027-01-04T09:00:00Z"));
        apply(&mut inst, &out.actions, &mut acts);
        // Running again changes nothing: the task exists.
        assert!(run(&inst, &acts, "2027-01-05T09:00:00Z").actions.is_empty());
        // The deadline passes: the escalation call goes to the manager, the task is cancelled.
        let out = run(&inst, &acts, "2027-01-07T09:00:00Z");
        apply(&mut inst, &out.actions, &mut acts);
        assert_eq!(out.status, Status::Completed);
        let call = acts
            .get(&activity_id(&inst.id, "escalate", 1))
            .expect("escalation");
        assert_eq!(call.text("assignee"), Some("mia"));
        assert_eq!(call.text("starts_at"), Some("2027-01-06T09:00:00Z"));
        assert_eq!(call.text("time_zone"), Some("Europe/Budapest"));
        let task = acts
            .get(&activity_id(&inst.id, "qualify", 0))
            .expect("task");
        assert_eq!(task.text("status"), Some("cancelled"));
    }

    #[test]
    fn a_task_completed_before_the_deadline_wins_over_a_replica_that_hit_it() {
        let model = Model::from_toml(LEAD).expect("model");
        let record = account();
        let dir = directory();
        let run = |inst: &Instance, acts: &BTreeMap<RecordId, Record>, now: &str| {
            step(&Inputs {
                model: &model,
                start: &model.start,
                instance: inst,
                record: Some(&record),
                account: None,
                activities: acts,
                directory: &dir,
                policy: None,
                called: &BTreeMap::new(),
                may_start: true,
                now: at(now),
            })
        };
        let mut base = instance(&record);
        let mut base_acts = BTreeMap::new();
        let out = run(&base, &base_acts, "2027-01-04T09:00:00Z");
        apply(&mut base, &out.actions, &mut base_acts);

        // Replica A: the rep completes the task on day 2.
        let (mut a, mut a_acts) = (base.clone(), base_acts.clone());
        let task = activity_id(&a.id, "qualify", 0);
        if let Some(t) = a_acts.get_mut(&task) {
            t.fields.insert("status".into(), "done".into());
            t.fields
                .insert("completed_at".into(), "2027-01-05T10:00:00Z".into());
        }
        let out = run(&a, &a_acts, "2027-01-05T10:00:00Z");
        apply(&mut a, &out.actions, &mut a_acts);
        assert_eq!(out.status, Status::Completed);

        // Replica B: offline, sees the deadline pass on day 4.
        let (mut b, mut b_acts) = (base.clone(), base_acts.clone());
        let out = run(&b, &b_acts, "2027-01-08T09:00:00Z");
        apply(&mut b, &out.actions, &mut b_acts);
        assert!(b_acts.contains_key(&activity_id(&b.id, "escalate", 1)));

        // Merge: the union of both logs and both sets of activities
        // (the task's status as A left it: A's later write wins there).
        let mut merged = a.clone();
        merged.events.extend(b.events.clone());
        let mut acts = b_acts.clone();
        acts.extend(a_acts.clone().into_iter().filter(|(k, _)| *k == task));
        let out = run(&merged, &acts, "2027-01-08T10:00:00Z");
        let path: Vec<&str> = out.position.path.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(path, ["qualify", "check", "done"]);
        assert!(
            out.position
                .superseded
                .iter()
                .any(|(k, _)| k == "0000.qualify.deadline")
        );
        assert!(
            out.actions.contains(&Action::SetActivityStatus {
                id: activity_id(&merged.id, "escalate", 1),
                status: "cancelled".into()
            }),
            "{:?}",
            out.actions
        );
    }

    #[test]
    fn subjects_take_record_and_account_fields() {
        let r = account();
        assert_eq!(
            render("Call {account.name} ({owner}){", &r, Some(&r)),
            "Call Szőke Kft (ana){"
        );
        assert_eq!(render("{missing}!", &r, None), "!");
    }

    #[test]
    fn subjects_are_cut_between_characters() {
        let long = format!("a{}", "é".repeat(300));
        let cut = truncate_chars(long, MAX_SUBJECT_CHARS);
        assert_eq!(cut.chars().count(), MAX_SUBJECT_CHARS);
        assert!(cut.starts_with("aé"));
        assert_eq!(truncate_chars("Szőke".into(), 200), "Szőke");
    }

    #[test]
    fn a_task_shows_only_what_its_assignee_may_read() {
        let model = Model::from_toml(
            r#"
key = "check-credit"
name = "Check credit"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "{name}: limit {credit_limit}, tax id {tax_id}"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
        )
        .expect("model");
        let mut record = account();
        record
            .fields
            .insert("credit_limit".into(), FieldValue::Int(5_000_000));
        record
            .fields
            .insert("tax_id".into(), FieldValue::Text("B12345678".into()));
        let inst = instance(&record);
        let policy = crate::policy::Policy::shipped_default();
        let subject_for = |dir: &[DirectoryEntry]| {
            let out = step(&Inputs {
                model: &model,
                start: &model.start,
                instance: &inst,
                record: Some(&record),
                account: Some(&record),
                activities: &BTreeMap::new(),
                directory: dir,
                policy: Some(&policy),
                called: &BTreeMap::new(),
                may_start: true,
                now: at("2027-01-04T09:00:00Z"),
            });
            out.actions
                .iter()
                .find_map(|a| match a {
                    Action::CreateActivity { fields, .. } => fields
                        .get("subject")
                        .and_then(|v| v.as_text())
                        .map(str::to_owned),
                    _ => None,
                })
                .expect("a task")
        };
        // `ana`, the owner, is a rep in `directory()`.
        let rep = subject_for(&directory());
        assert_eq!(rep, "Szőke Kft: limit , tax id ");
        let mut as_manager = directory();
        for d in &mut as_manager {
            d.role = "manager".into();
        }
        assert!(subject_for(&as_manager).contains("5000000"));
    }

    #[test]
    fn an_instance_that_never_waits_fails_at_its_step_budget() {
        // A model checked before loops were refused: `check` goes back to
        // `qualify`'s gateway forever.
        let mut model = Model::from_toml(LEAD).expect("model");
        if let Some(check) = model.steps.get_mut("check") {
            check.action = crate::process::model::Action::Gateway {
                branches: Vec::new(),
                default: "check".into(),
            };
        }
        if let Some(qualify) = model.steps.get_mut("qualify") {
            qualify.action = crate::process::model::Action::Set {
                writes: vec![("industry".into(), FieldValue::Text("x".into()))],
            };
        }
        let record = account();
        let out = step(&Inputs {
            model: &model,
            start: &model.start,
            instance: &instance(&record),
            record: Some(&record),
            account: Some(&record),
            activities: &BTreeMap::new(),
            directory: &directory(),
            policy: None,
            called: &BTreeMap::new(),
            may_start: true,
            now: at("2027-01-04T09:00:00Z"),
        });
        assert!(
            out.failed
                .as_deref()
                .is_some_and(|f| f.contains("without waiting")),
            "{out:?}"
        );
        assert!(out.actions.len() <= MAX_STEPS_PER_RUN + 1);
    }

    /// A task whose assignee and due date are instance parameters, and a
    /// timer whose length is one: each read when set and of its type, the
    /// model's own setting (or the owner) otherwise.
    #[test]
    fn steps_read_the_parameters_the_model_declares() {
        let model = Model::from_toml(
            r#"
key = "lead-qualification"
name = "Parameters"
trigger = { kind = "record_created", record = "account" }
[parameters]
caller = "user"
wait = "duration"
[[steps]]
id = "pause"
kind = "timer"
duration = "P7D"
duration_param = "wait"
next = "call"
[[steps]]
id = "call"
kind = "task"
assignee = "param:caller"
subject = "Call {name}"
due = "P2D"
due_param = "wait"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
        )
        .expect("model");
        let record = account();
        let dir = directory();
        let run = |inst: &Instance, now: &str| {
            step(&Inputs {
                model: &model,
                start: &model.start,
                instance: inst,
                record: Some(&record),
                account: Some(&record),
                activities: &BTreeMap::new(),
                directory: &dir,
                policy: None,
                called: &BTreeMap::new(),
                may_start: true,
                now: at(now),
            })
        };
        let task_of = |out: &Outcome| {
            out.actions.iter().find_map(|a| match a {
                Action::CreateActivity { fields, .. } => Some(fields.clone()),
                _ => None,
            })
        };
        let text = |f: &Fields, k: &str| f.get(k).and_then(FieldValue::as_text).map(str::to_owned);
        // Unset: the timer's seven days, then the owner, due in two days.
        let plain = instance(&record);
        assert_eq!(
            run(&plain, "2027-01-04T09:00:00Z").wake_at,
            Some(at("2027-01-11T09:00:00Z"))
        );
        let out = run(&plain, "2027-01-11T09:00:00Z");
        let task = task_of(&out).expect("a task");
        assert_eq!(text(&task, "assignee").as_deref(), Some("ana"));
        assert_eq!(
            text(&task, "due_at").as_deref(),
            Some("2027-01-13T09:00:00Z")
        );
        // Set: one day, and mia.
        let mut set = instance(&record);
        set.parameters.insert("wait".into(), "P1D".into());
        set.parameters.insert("caller".into(), "mia".into());
        let out = run(&set, "2027-01-05T09:00:00Z");
        let task = task_of(&out).expect("a task");
        assert_eq!(text(&task, "assignee").as_deref(), Some("mia"));
        assert_eq!(
            text(&task, "due_at").as_deref(),
            Some("2027-01-06T09:00:00Z")
        );
        // Forged or wrong values are not read: the model's settings apply.
        let mut bad = instance(&record);
        bad.parameters.insert("wait".into(), "soon".into());
        bad.parameters.insert("caller".into(), "nobody".into());
        let out = run(&bad, "2027-01-11T09:00:00Z");
        let task = task_of(&out).expect("a task");
        assert_eq!(text(&task, "assignee").as_deref(), Some("ana"));
        assert_eq!(
            text(&task, "due_at").as_deref(),
            Some("2027-01-13T09:00:00Z")
        );
    }
}
