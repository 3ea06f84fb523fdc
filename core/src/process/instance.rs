//! A process instance as stored, and where it is: folding its event log.
//!
//! An instance record holds a grow-only map of events. Every replica that
//! runs the engine only ever *adds* events, under keys that name what they
//! record, so concurrent runs merge into one log:
//!
//! - `P.STEP.VIA`: the step `STEP`, entered as the instance's `P`-th step
//!   (zero-based, four digits), was left `via` `task` (completed by a
//!   person), `timer`, `deadline` or `auto`, at `at`, towards `to`;
//! - `c.MILLIS.KIND.USER`: a person suspended, resumed, stopped, migrated
//!   the instance or changed a parameter.
//!
//! Two replicas that run the same step with the same inputs write the same
//! key with the same value. When they disagree (one person completed a task
//! while another replica's timer fired), the fold picks the event with the
//! earliest `at` (then the smaller key) as what happened; the other is kept
//! and shown as *superseded*, with everything that followed it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{RecordId, RecordKind};
use crate::record::Record;
use crate::value::FieldValue;

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A step was left.
    Done,
    /// A person suspended the instance: timers and steps wait.
    Suspend,
    /// A person resumed it.
    Resume,
    /// A person stopped it for good; its open tasks are cancelled.
    Stop,
    /// An administrator moved it to another version of its model.
    Migrate,
    /// A person changed a parameter.
    Param,
    /// A person sent the instance a message ("reply received"), which a
    /// `wait` step of its model may be waiting for.
    Message,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When (for `done`: when the step was left, which for timers is the
    /// moment they were due, not when an engine noticed).
    pub at: Timestamp,
    /// Who: a user name, or `engine` for automatic steps.
    pub by: String,
    /// `done`: the position of the step in the instance's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<u32>,
    /// `done`: the step that was left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// `done`: how (`task`, `timer`, `deadline`, `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// `done`: the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `migrate`: the new version. `param`: unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// `param`: the parameter's name and new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<(String, String)>,
    /// `done` `via: task`: the outcome the task was completed with, when
    /// its step asks for one (see [`super::outcome`]); an instance
    /// variable from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// `message`: the message's name. `done` `via: message`: the log key
    /// of the message that left the step (each message is used once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `done`: the path of a parallel step the step lies on (its scope,
    /// see [`Event::branch_scope`]); `None` on the main path. Positions
    /// count from zero within each path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl Event {
    /// The log key of a `done` event on the main path.
    pub fn done_key(pos: u32, step: &str, via: &str) -> String {
        format!("{pos:04}.{step}.{via}")
    }

    /// The log key of a `done` event on path `branch` (`None`: the main
    /// path): `SCOPE/` and the key [`Event::done_key`] gives.
    pub fn done_key_in(branch: Option<&str>, pos: u32, step: &str, via: &str) -> String {
        let key = Event::done_key(pos, step, via);
        match branch {
            Some(scope) => format!("{scope}/{key}"),
            None => key,
        }
    }

    /// The scope of path `k` of the parallel step `fork` entered at
    /// position `pos` of the main path: `PPPP.fork.k`. Entering the same
    /// parallel step again (a loop) gives new scopes, so its paths start
    /// afresh.
    pub fn branch_scope(pos: u32, fork: &str, k: usize) -> String {
        format!("{pos:04}.{fork}.{k}")
    }

    /// Whether `scope` is one [`Event::branch_scope`] can give: what the
    /// server accepts from a device.
    pub fn valid_branch_scope(scope: &str) -> bool {
        let mut parts = scope.split('.');
        let (Some(pos), Some(fork), Some(k), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        pos.len() >= 4
            && pos.parse::<u32>().is_ok_and(|p| p <= MAX_POS + 1)
            && super::model::valid_id(fork)
            && k.parse::<usize>()
                .is_ok_and(|n| n < super::model::MAX_PARALLEL_PATHS && n.to_string() == k)
    }

    /// What an activity, reminder or created record of the step this
    /// event left is derived from: its step, prefixed `SCOPE/` on a path
    /// of a parallel step (see [`super::engine::activity_id`]).
    pub fn step_label(&self) -> Option<String> {
        let step = self.step.as_deref()?;
        Some(step_label(self.branch.as_deref(), step))
    }

    /// The log key of a person's control event.
    pub fn control_key(at: Timestamp, kind: EventKind, by: &str) -> String {
        let kind = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("c.{:013}.{kind}.{by}", at.as_millisecond())
    }

    /// A person's control event of `kind`, by `by` at `at`, with nothing
    /// else set (fill in `version`, `param` or `message` as the kind needs).
    pub fn control(kind: EventKind, at: Timestamp, by: &str) -> Event {
        Event {
            kind,
            at,
            by: by.to_owned(),
            pos: None,
            step: None,
            via: None,
            to: None,
            version: None,
            param: None,
            outcome: None,
            message: None,
            branch: None,
        }
    }

    /// The log key of message `name` sent by `by` at `at` (two messages
    /// sent in the same millisecond by one person differ by name).
    pub fn message_key(at: Timestamp, by: &str, name: &str) -> String {
        format!("{}.{name}", Event::control_key(at, EventKind::Message, by))
    }

    /// The key this event must be stored under: what the log's readers and
    /// the server's checks derive from its content. `None` when a `done`
    /// event lacks its position, step or way out, or a message its name.
    pub fn own_key(&self) -> Option<String> {
        match self.kind {
            EventKind::Done => {
                let (pos, step, via) = (self.pos?, self.step.as_deref()?, self.via.as_deref()?);
                let branch = self.branch.as_deref();
                Some(match via {
                    // One key per message name: replicas that left the step
                    // by different messages keep both, and the fold picks
                    // the earliest.
                    "message" => {
                        let name = self.message.as_deref()?.rsplit('.').next()?;
                        Event::done_key_in(branch, pos, step, &format!("message.{name}"))
                    }
                    _ => Event::done_key_in(branch, pos, step, via),
                })
            }
            EventKind::Message => Some(Event::message_key(
                self.at,
                &self.by,
                self.message.as_deref()?,
            )),
            kind => Some(Event::control_key(self.at, kind, &self.by)),
        }
    }
}

/// What the ids of a step's activity, reminders and created record derive
/// from: the step's id, prefixed `SCOPE/` on path `branch` of a parallel
/// step, so that each path's visits get ids of their own.
pub fn step_label(branch: Option<&str>, step: &str) -> String {
    match branch {
        Some(scope) => format!("{scope}/{step}"),
        None => step.to_owned(),
    }
}

/// An instance record, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Its id.
    pub id: RecordId,
    /// The model's key.
    pub model_key: String,
    /// The model version record it started on.
    pub model: RecordId,
    /// The version it started on.
    pub started_version: i64,
    /// The record it runs on.
    pub record: RecordId,
    /// The record's account, if any.
    pub account: Option<RecordId>,
    /// The record's owner when it started.
    pub owner: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// The event log, by key.
    pub events: BTreeMap<String, Event>,
    /// Parameters, by name.
    pub parameters: BTreeMap<String, String>,
}

impl Instance {
    /// The deterministic id of the instance of model `key` started on
    /// `record` by the trigger that fired at `at`: every replica that sees
    /// the same trigger derives the same instance.
    pub fn derive_id(key: &str, record: &RecordId, at: Timestamp) -> RecordId {
        RecordId::derived(
            RecordKind::ProcessInstance,
            &[key, &record.to_string(), &at.as_second().to_string()],
        )
    }

    /// Reads an instance record; `None` when it lacks what every instance
    /// has (a record still arriving, or not an instance).
    pub fn from_record(r: &Record) -> Option<Instance> {
        let id = |f: &str| r.text(f).and_then(|t| t.parse::<RecordId>().ok());
        let started_version = match r.get("model_version")? {
            FieldValue::Int(v) => *v,
            _ => return None,
        };
        let entries = |f: &str| match r.get(f) {
            Some(FieldValue::Entries(m)) => m.clone(),
            _ => BTreeMap::new(),
        };
        let events = entries("events")
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_value::<Event>(v).ok().map(|e| (k, e)))
            .collect();
        let parameters = entries("parameters")
            .into_iter()
            .filter_map(|(k, v)| {
                v.get("value")
                    .and_then(|x| x.as_str())
                    .map(|x| (k, x.to_owned()))
            })
            .collect();
        Some(Instance {
            id: r.id.clone(),
            model_key: r.text("model_key")?.to_owned(),
            model: id("model")?,
            started_version,
            record: id("record")?,
            account: id("account"),
            owner: r.text("owner").map(str::to_owned),
            started_at: r.text("started_at")?.parse().ok()?,
            events,
            parameters,
        })
    }
}

/// The fields of a new instance of version `version` of model `key` on
/// `record` (with its `account`), run as `owner`, started at `at`: what
/// every replica that starts it writes, byte for byte.
pub fn instance_fields(
    (key, version): (&str, i64),
    (record, account): (&RecordId, Option<&RecordId>),
    owner: &str,
    at: Timestamp,
) -> BTreeMap<String, FieldValue> {
    let text = |v: String| FieldValue::Text(v);
    let mut fields = BTreeMap::new();
    fields.insert("model_key".to_owned(), text(key.to_owned()));
    fields.insert(
        "model".to_owned(),
        text(super::model::model_id(key, version).to_string()),
    );
    fields.insert("model_version".to_owned(), FieldValue::Int(version));
    fields.insert("record".to_owned(), text(record.to_string()));
    if let Some(a) = account {
        fields.insert("account".to_owned(), text(a.to_string()));
    }
    fields.insert("owner".to_owned(), text(owner.to_owned()));
    fields.insert("started_at".to_owned(), text(at.to_string()));
    fields
}

/// Whether an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Steps advance.
    Running,
    /// Waiting for a person to resume it.
    Suspended,
    /// Stopped by a person.
    Stopped,
    /// Reached an end step.
    Completed,
}

/// The furthest position [`fold`] follows a path to (one more is the
/// last it can hold): a forged log cannot make it, or anything that walks
/// positions, run on for ever.
pub const MAX_POS: u32 = 100_000;

/// One step on the instance's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visit {
    /// Position in the path.
    pub pos: u32,
    /// The step.
    pub step: String,
    /// When it was entered.
    pub entered_at: Timestamp,
    /// How it was left (`None`: it is the current step).
    pub left: Option<(String, Event)>,
}

/// Where an instance is, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Position {
    /// Steps visited, the last one current (unless stopped after it).
    pub path: Vec<Visit>,
    /// `done` events that lost to a concurrent one, with their keys.
    pub superseded: Vec<(String, Event)>,
    /// Control events in order.
    pub controls: Vec<(String, Event)>,
    /// The model version in force (the started one, or the last migration).
    pub version: i64,
    /// Suspended or stopped by a person (completion is the engine's call).
    pub status: Status,
}

impl Position {
    /// The current step: the last visit, not yet left.
    pub fn current(&self) -> Option<&Visit> {
        self.path.last().filter(|v| v.left.is_none())
    }
}

/// Folds `instance`'s events into its path, starting at `start` (the first
/// step of the version it started on).
pub fn fold(instance: &Instance, start: &str) -> Position {
    let mut done: Vec<(&String, &Event)> = Vec::new();
    let mut controls: Vec<(String, Event)> = Vec::new();
    for (key, e) in &instance.events {
        if e.kind == EventKind::Done {
            // Events of parallel paths are folded by `fold_branch`.
            if e.branch.is_none() {
                done.push((key, e));
            }
        } else {
            controls.push((key.clone(), e.clone()));
        }
    }
    controls.sort_by(|a, b| (a.1.at, &a.0).cmp(&(b.1.at, &b.0)));
    let (status, version) = apply_controls(&controls, instance.started_version);
    let (path, used) = walk(&done, start, instance.started_at);
    let superseded = done
        .into_iter()
        .filter(|(k, _)| !used.contains(*k))
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect();
    Position {
        path,
        superseded,
        controls,
        version,
        status,
    }
}

/// The path `scope` of a parallel step traced by its `done` events, from
/// its first step `first`, entered at `entered` (when the main path
/// entered the parallel step). The last visit is the path's current step,
/// which is the join once the path has reached it.
pub fn fold_branch(
    instance: &Instance,
    scope: &str,
    first: &str,
    entered: Timestamp,
) -> Vec<Visit> {
    let done: Vec<(&String, &Event)> = instance
        .events
        .iter()
        .filter(|(_, e)| e.kind == EventKind::Done && e.branch.as_deref() == Some(scope))
        .collect();
    walk(&done, first, entered).0
}

/// Whether a person suspended or stopped `instance` (`Running` otherwise):
/// the control events of its log alone, in the order [`fold`] applies
/// them. Completion is the engine's call and is not seen here.
pub fn control_status(instance: &Instance) -> Status {
    controls(instance).0
}

/// The status and the model version in force after `instance`'s control
/// events (suspend, resume, stop, migrate), as [`fold`] finds them.
pub fn controls(instance: &Instance) -> (Status, i64) {
    let mut controls: Vec<(String, Event)> = instance
        .events
        .iter()
        .filter(|(_, e)| e.kind != EventKind::Done)
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect();
    controls.sort_by(|a, b| (a.1.at, &a.0).cmp(&(b.1.at, &b.0)));
    apply_controls(&controls, instance.started_version)
}

/// The status and model version after `controls` (in order), for an
/// instance started on `version`.
fn apply_controls(controls: &[(String, Event)], mut version: i64) -> (Status, i64) {
    let mut status = Status::Running;
    for (_, e) in controls {
        match e.kind {
            EventKind::Suspend if status == Status::Running => status = Status::Suspended,
            EventKind::Resume if status == Status::Suspended => status = Status::Running,
            EventKind::Stop => status = Status::Stopped,
            EventKind::Migrate => version = e.version.unwrap_or(version),
            _ => {}
        }
    }
    (status, version)
}

/// The path the `done` events trace from `start` (entered at `started_at`):
/// at each position, the earliest event that leaves the step there wins.
/// Returns the path and the keys of the winning events.
fn walk(
    done: &[(&String, &Event)],
    start: &str,
    started_at: Timestamp,
) -> (Vec<Visit>, BTreeSet<String>) {
    // By position, so that each step of the walk looks at its own events
    // only: scanning the whole log at every position made a long (forged)
    // log cost its length squared.
    let mut by_pos: BTreeMap<u32, Vec<(&String, &Event)>> = BTreeMap::new();
    for (key, e) in done {
        if let Some(pos) = e.pos {
            by_pos.entry(pos).or_default().push((key, e));
        }
    }
    let mut path = Vec::new();
    let mut used = BTreeSet::new();
    let mut step = start.to_owned();
    let mut entered = started_at;
    for pos in 0u32.. {
        let winner = by_pos
            .get(&pos)
            .into_iter()
            .flatten()
            .filter(|(_, e)| e.step.as_deref() == Some(step.as_str()))
            .min_by(|a, b| (a.1.at, a.0).cmp(&(b.1.at, b.0)));
        let Some((key, event)) = winner else {
            path.push(Visit {
                pos,
                step,
                entered_at: entered,
                left: None,
            });
            break;
        };
        used.insert((*key).clone());
        path.push(Visit {
            pos,
            step: step.clone(),
            entered_at: entered,
            left: Some(((*key).clone(), (*event).clone())),
        });
        let Some(next) = event.to.clone() else {
            break;
        };
        step = next;
        entered = event.at.max(entered);
        if pos > MAX_POS {
            break; // a forged log cannot make the fold run forever
        }
    }
    (path, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn done(pos: u32, step: &str, via: &str, when: &str, to: Option<&str>) -> (String, Event) {
        (
            Event::done_key(pos, step, via),
            Event {
                kind: EventKind::Done,
                at: at(when),
                by: "engine".into(),
                pos: Some(pos),
                step: Some(step.into()),
                via: Some(via.into()),
                to: to.map(str::to_owned),
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            },
        )
    }

    fn instance(events: Vec<(String, Event)>) -> Instance {
        Instance {
            id: RecordId::derived(RecordKind::ProcessInstance, &["t"]),
            model_key: "k".into(),
            model: RecordId::derived(RecordKind::ProcessModel, &["k", "1"]),
            started_version: 1,
            record: RecordId::derived(RecordKind::Account, &["a"]),
            account: None,
            owner: Some("ana".into()),
            started_at: at("2027-01-01T09:00:00Z"),
            events: events.into_iter().collect(),
            parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn a_long_forged_log_folds_in_linear_time_and_stops_at_the_limit() {
        let events: Vec<_> = (0..MAX_POS + 50)
            .map(|p| done(p, "a", "auto", "2027-01-01T09:00:00Z", Some("a")))
            .collect();
        let instance = instance(events);
        let start = std::time::Instant::now();
        let position = fold(&instance, "a");
        assert_eq!(position.path.len(), MAX_POS as usize + 2);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn the_earliest_way_out_of_a_step_wins_and_the_other_path_is_superseded() {
        let i = instance(vec![
            done(0, "qualify", "task", "2027-01-02T10:00:00Z", Some("end")),
            done(
                0,
                "qualify",
                "deadline",
                "2027-01-03T09:00:00Z",
                Some("escalate"),
            ),
            done(1, "escalate", "auto", "2027-01-03T09:00:00Z", Some("end")),
        ]);
        let p = fold(&i, "qualify");
        let steps: Vec<&str> = p.path.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(steps, ["qualify", "end"]);
        assert_eq!(p.current().map(|v| v.step.as_str()), Some("end"));
        assert_eq!(
            p.current().map(|v| v.entered_at),
            Some(at("2027-01-02T10:00:00Z"))
        );
        let lost: Vec<&str> = p.superseded.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(lost, ["0000.qualify.deadline", "0001.escalate.auto"]);
    }

    #[test]
    fn control_events_suspend_resume_stop_and_migrate_in_time_order() {
        let mut i = instance(vec![]);
        let control = |i: &mut Instance, when: &str, kind: EventKind, version: Option<i64>| {
            let e = Event {
                kind,
                at: at(when),
                by: "mia".into(),
                pos: None,
                step: None,
                via: None,
                to: None,
                version,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            };
            i.events.insert(Event::control_key(e.at, kind, "mia"), e);
        };
        control(&mut i, "2027-01-02T00:00:00Z", EventKind::Suspend, None);
        control(&mut i, "2027-01-03T00:00:00Z", EventKind::Migrate, Some(2));
        let p = fold(&i, "s");
        assert_eq!((p.status, p.version), (Status::Suspended, 2));
        control(&mut i, "2027-01-04T00:00:00Z", EventKind::Resume, None);
        assert_eq!(fold(&i, "s").status, Status::Running);
        control(&mut i, "2027-01-05T00:00:00Z", EventKind::Stop, None);
        control(&mut i, "2027-01-06T00:00:00Z", EventKind::Resume, None);
        assert_eq!(fold(&i, "s").status, Status::Stopped, "stop is final");
    }

    #[test]
    fn instance_ids_are_the_same_wherever_the_trigger_is_seen() {
        let r = RecordId::derived(RecordKind::Deal, &["d"]);
        let t = at("2027-01-01T09:00:00Z");
        assert_eq!(
            Instance::derive_id("k", &r, t),
            Instance::derive_id("k", &r, t)
        );
        assert_ne!(
            Instance::derive_id("k", &r, t),
            Instance::derive_id("k", &r, at("2027-01-01T09:00:01Z"))
        );
    }
}
