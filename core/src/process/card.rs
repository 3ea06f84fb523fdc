//! The process card of one instance, and its line in an instance list:
//! where it is, the steps it took (with the activities they created), its
//! controls, parameters and next wake-up.
//!
//! Pure: the caller reads the instance record, the models, the activities
//! and the host's wake-up and failure facts, and [`build`] computes the
//! card. The device store ([`crate::Store::process_card`]) and the server's
//! office API both call it, so a card reads the same everywhere.
//!
//! Guarantees:
//! - the status is the folded log's, except that a running instance whose
//!   current step is an `end` step is `completed`;
//! - an activity appears on a step only when the lookup returns it (so a
//!   caller that may not see an activity never learns it exists);
//! - a failed instance, or one whose current step is missing from its
//!   version, is `stuck` with the reason.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::engine::{PathVisits, activity_id, branch_paths, called_id, open_visits};
use super::instance::{Event, Instance, Position, Status, Visit, fold, step_label};
use super::model::{Action, Model};
use super::runner::version;
use crate::error::CoreError;
use crate::ids::RecordId;
use crate::record::Record;

/// One step of an instance's history, for its card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepVisit {
    /// Position in the path.
    pub pos: u32,
    /// Step id.
    pub step: String,
    /// Step name in the model.
    pub name: String,
    /// When it was entered.
    pub entered_at: Timestamp,
    /// When it was left, how, and by whom (`None`: current).
    pub left_at: Option<Timestamp>,
    /// `task`, `timer`, `deadline` or `auto`.
    pub via: Option<String>,
    /// Who acted (`engine` for automatic steps).
    pub by: Option<String>,
    /// The activity this step created, if any, and its status.
    pub activity: Option<(String, String)>,
    /// The outcome the task was completed with, when its step asks for one
    /// (an instance variable, `outcome.STEP`).
    pub outcome: Option<String>,
    /// The path of a parallel step this visit lies on (`POS.STEP.K`;
    /// `None`: the main path). Positions count within each path.
    pub path: Option<String>,
    /// The instance a call or start step started (its id), when it did.
    pub called: Option<String>,
}

/// The process card of one instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessCard {
    /// The instance.
    pub id: String,
    /// Model key and name.
    pub model_key: String,
    /// Model name.
    pub model_name: String,
    /// The version it runs on (after any migration).
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// Running, suspended, stopped, completed.
    pub status: Status,
    /// The current step.
    pub current: Option<String>,
    /// Steps taken, in order, the current one last.
    pub history: Vec<StepVisit>,
    /// Ways out of a step that lost to a concurrent one (another replica
    /// hit a timer while a person completed the task), kept for the record.
    pub superseded: Vec<(String, Event)>,
    /// Suspensions, resumptions, stops, migrations, parameter changes.
    pub controls: Vec<(String, Event)>,
    /// Parameters.
    pub parameters: BTreeMap<String, String>,
    /// When it runs next, if a timer waits.
    pub wake_at: Option<Timestamp>,
    /// Why it cannot go on, if it cannot.
    pub stuck: Option<String>,
    /// Why its tasks are held (it is suspended or stopped): they cannot be
    /// completed (see [`super::held`]).
    pub held: Option<String>,
    /// The messages the current step waits for (a `wait` step), which a
    /// person may send it ("reply received").
    pub awaits: Vec<String>,
    /// The steps it waits at: the current step, or, at a parallel step,
    /// the current step of each path that has not reached the join.
    pub open_steps: Vec<String>,
}

/// A line of the instance list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSummary {
    /// The instance.
    pub id: String,
    /// Model key.
    pub model_key: String,
    /// Version.
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// Status.
    pub status: Status,
    /// Current step.
    pub current: Option<String>,
    /// Started.
    pub started_at: Timestamp,
}

impl ProcessSummary {
    /// The list line of `card`: its first step's entry time is when it
    /// started (the epoch for a card without history).
    pub fn of(card: ProcessCard) -> ProcessSummary {
        let started_at = card
            .history
            .first()
            .map_or(Timestamp::UNIX_EPOCH, |v| v.entered_at);
        ProcessSummary {
            id: card.id,
            model_key: card.model_key,
            version: card.version,
            record: card.record,
            status: card.status,
            current: card.current,
            started_at,
        }
    }
}

/// What the host knows of an instance beyond its record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    /// When it wakes next (seconds), if a timer waits.
    pub wake_at: Option<i64>,
    /// Why the host gave up on it, if it did.
    pub failure: Option<String>,
}

/// The card of instance `record` over `models`. `activity` answers the
/// status of an activity the instance created (`None` when it is not there
/// or not seen). Fails with [`CoreError::NotFound`] when `record` is not an
/// instance or its model version is unknown.
pub fn build<E: From<CoreError>>(
    record: &Record,
    models: &[Model],
    mut activity: impl FnMut(&RecordId) -> Result<Option<String>, E>,
    facts: HostFacts,
) -> Result<ProcessCard, E> {
    let id = &record.id;
    let instance = Instance::from_record(record)
        .ok_or_else(|| CoreError::NotFound(format!("process instance {id}")))?;
    let started =
        version(models, &instance.model_key, instance.started_version).ok_or_else(|| {
            CoreError::NotFound(format!(
                "model `{}` v{}",
                instance.model_key, instance.started_version
            ))
        })?;
    let position = fold(&instance, &started.start);
    let model = version(models, &instance.model_key, position.version).unwrap_or(started);
    let paths = branch_paths(&instance, &position, model);
    let visits = interleaved(&position, &paths);
    let mut history = Vec::with_capacity(visits.len());
    for (scope, v) in visits {
        let aid = activity_id(id, &step_label(scope, &v.step), v.pos);
        let status = activity(&aid)?;
        history.push(StepVisit {
            pos: v.pos,
            step: v.step.clone(),
            name: model
                .step(&v.step)
                .or(started.step(&v.step))
                .map_or_else(|| v.step.clone(), |s| s.name.clone()),
            entered_at: v.entered_at,
            left_at: v.left.as_ref().map(|(_, e)| e.at),
            via: v.left.as_ref().and_then(|(_, e)| e.via.clone()),
            by: v.left.as_ref().map(|(_, e)| e.by.clone()),
            activity: status.map(|s| (aid.to_string(), s)),
            outcome: v.left.as_ref().and_then(|(_, e)| e.outcome.clone()),
            path: scope.map(str::to_owned),
            called: called_by(model, &instance, (scope, v)),
        });
    }
    let current = position.current();
    let open = open_visits(&instance, &position, model);
    let at_end = current
        .and_then(|c| model.step(&c.step))
        .is_some_and(|s| matches!(s.action, Action::End));
    let status = match position.status {
        Status::Running if at_end => Status::Completed,
        s => s,
    };
    let mut awaits: Vec<String> = open
        .iter()
        .filter(|_| status == Status::Running)
        .filter_map(|(_, v)| match model.step(&v.step).map(|s| &s.action) {
            Some(Action::Wait { events }) => Some(events),
            _ => None,
        })
        .flatten()
        .filter_map(|(on, _)| match on {
            super::model::WaitOn::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    awaits.retain(|m| seen.insert(m.clone()));
    let stuck = match facts.failure {
        Some(reason) => Some(format!("failed: {reason}")),
        None => current
            .filter(|c| model.step(&c.step).is_none())
            .map(|c| format!("step `{}` is not in version {}", c.step, model.version)),
    };
    Ok(ProcessCard {
        id: id.to_string(),
        model_key: instance.model_key.clone(),
        model_name: model.file.name.clone(),
        version: position.version,
        record: instance.record.to_string(),
        status,
        current: current.map(|c| c.step.clone()),
        history,
        superseded: position.superseded.clone(),
        controls: position.controls.clone(),
        parameters: instance.parameters.clone(),
        wake_at: facts.wake_at.and_then(|s| Timestamp::from_second(s).ok()),
        stuck,
        held: super::held::reason(&instance),
        awaits,
        open_steps: open
            .into_iter()
            .filter(|_| status == Status::Running)
            .map(|(_, v)| v.step)
            .collect(),
    })
}

/// The id of the instance the visit `v` (on path `scope`) of a call or
/// start step starts.
fn called_by(
    model: &Model,
    instance: &Instance,
    (scope, v): (Option<&str>, &Visit),
) -> Option<String> {
    matches!(model.step(&v.step)?.action, Action::Call { .. })
        .then(|| called_id(&instance.id, &step_label(scope, &v.step), v.pos).to_string())
}

/// The main path's visits, each parallel step followed by the visits of
/// its paths (but the join they arrive at) in the order they were entered;
/// each with its path's scope.
fn interleaved<'p>(
    position: &'p Position,
    paths: &'p [PathVisits],
) -> Vec<(Option<&'p str>, &'p Visit)> {
    let mut out = Vec::new();
    for v in &position.path {
        out.push((None, v));
        let mut in_paths: Vec<(Option<&str>, &Visit)> = paths
            .iter()
            .filter(|p| p.fork_pos == v.pos)
            .flat_map(|p| {
                p.visits
                    .iter()
                    .filter(|w| w.left.is_some() || w.step != p.join)
                    .map(|w| (Some(p.scope.as_str()), w))
            })
            .collect();
        in_paths.sort_by_key(|(scope, w)| (w.entered_at, *scope, w.pos));
        out.extend(in_paths);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordKind;
    use crate::value::FieldValue;

    fn model() -> Model {
        let m = Model::from_toml(
            r#"
            key = "call-back"
            name = "Call back"
            trigger = { kind = "manual", record = "deal" }
            [[steps]]
            id = "call"
            name = "Call the customer"
            kind = "task"
            assignee = "owner"
            subject = "Call {name}"
            next = "done"
            [[steps]]
            id = "done"
            kind = "end"
            "#,
        )
        .expect("model");
        Model::check(m.file, 1).expect("v1")
    }

    fn instance(events: serde_json::Map<String, serde_json::Value>) -> Record {
        let deal = RecordId::new_random(RecordKind::Deal);
        let mut fields = BTreeMap::new();
        let text = |s: &str| FieldValue::Text(s.to_owned());
        fields.insert("model_key".to_owned(), text("call-back"));
        fields.insert(
            "model".to_owned(),
            text(&super::super::runner::model_id("call-back", 1).to_string()),
        );
        fields.insert("model_version".to_owned(), FieldValue::Int(1));
        fields.insert("record".to_owned(), text(&deal.to_string()));
        fields.insert("owner".to_owned(), text("ana"));
        fields.insert("started_at".to_owned(), text("2027-01-04T09:00:00Z"));
        fields.insert(
            "events".to_owned(),
            FieldValue::Entries(events.into_iter().collect()),
        );
        Record {
            id: RecordId::new_random(RecordKind::ProcessInstance),
            fields,
            conflicts: BTreeMap::new(),
            classes: vec![],
        }
    }

    #[test]
    fn a_card_shows_the_current_step_and_only_the_activities_looked_up() {
        let record = instance(Default::default());
        let models = [model()];
        let card = build::<CoreError>(
            &record,
            &models,
            |_| Ok(None),
            HostFacts {
                wake_at: None,
                failure: None,
            },
        )
        .expect("card");
        assert_eq!(card.status, Status::Running);
        assert_eq!(card.current.as_deref(), Some("call"));
        assert_eq!(card.history.len(), 1);
        assert_eq!(card.history[0].name, "Call the customer");
        assert_eq!(card.history[0].activity, None, "not looked up: not shown");
        assert_eq!(card.stuck, None);

        let task = activity_id(&record.id, "call", 0);
        let seen = build::<CoreError>(
            &record,
            &models,
            |id| Ok((*id == task).then(|| "planned".to_owned())),
            HostFacts {
                wake_at: Some(1_800_000_000),
                failure: Some("boom".into()),
            },
        )
        .expect("card");
        assert_eq!(
            seen.history[0].activity,
            Some((task.to_string(), "planned".to_owned()))
        );
        assert_eq!(seen.stuck.as_deref(), Some("failed: boom"));
        assert_eq!(seen.wake_at.map(|t| t.as_second()), Some(1_800_000_000));
        let line = ProcessSummary::of(seen);
        assert_eq!(line.started_at.to_string(), "2027-01-04T09:00:00Z");
    }

    #[test]
    fn an_unknown_model_version_or_a_non_instance_is_not_found() {
        let record = instance(Default::default());
        let none = build::<CoreError>(&record, &[], |_| Ok(None), HostFacts::default());
        assert!(matches!(none, Err(CoreError::NotFound(_))), "{none:?}");
        let mut other = record.clone();
        other.fields.remove("model_version");
        let not = build::<CoreError>(&other, &[model()], |_| Ok(None), HostFacts::default());
        assert!(matches!(not, Err(CoreError::NotFound(_))), "{not:?}");
    }
}
