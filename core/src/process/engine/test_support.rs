//! What the engine's tests share: instants, records, instances, running
//! one step and applying its outcome to a replica's state.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Action, Called, Inputs, Outcome, step};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::Instance;
use crate::process::model::Model;
use crate::record::Record;
use crate::value::FieldValue;

/// An instant from RFC 3339 text.
pub(super) fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// Record `key` of `kind` named "Nube SL", owned by ana, with `fields`.
pub(super) fn record(kind: RecordKind, key: &str, fields: &[(&str, FieldValue)]) -> Record {
    let mut all = BTreeMap::new();
    all.insert("name".into(), FieldValue::Text("Nube SL".into()));
    all.insert("owner".into(), FieldValue::Text("ana".into()));
    for (k, v) in fields {
        all.insert((*k).to_owned(), v.clone());
    }
    Record {
        id: RecordId::derived(kind, &[key]),
        fields: all,
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    }
}

/// An instance of version 1 of model `key` on `record`, run as ana,
/// started at `started`, with an empty log.
pub(super) fn instance(key: &str, record: &Record, started: &str) -> Instance {
    let started = at(started);
    let account = (record.kind() == RecordKind::Account).then(|| record.id.clone());
    Instance {
        id: Instance::derive_id(key, &record.id, started),
        model_key: key.into(),
        model: RecordId::derived(RecordKind::ProcessModel, &[key, "1"]),
        started_version: 1,
        record: record.id.clone(),
        account,
        owner: Some("ana".into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    }
}

/// The engine's inputs for `model`'s instance `i` on `record` at `now`,
/// on a replica that holds `activities` and `called`, may start called
/// instances and has no policy or directory (change what a test needs).
pub(super) fn inputs<'a>(
    model: &'a Model,
    (i, record): (&'a Instance, &'a Record),
    (activities, called): (
        &'a BTreeMap<RecordId, Record>,
        &'a BTreeMap<RecordId, Called>,
    ),
    now: &str,
) -> Inputs<'a> {
    Inputs {
        model,
        start: &model.start,
        instance: i,
        record: Some(record),
        account: (record.kind() == RecordKind::Account).then_some(record),
        activities,
        directory: &[],
        policy: None,
        called,
        may_start: true,
        now: at(now),
    }
}

/// Runs [`step`] on [`inputs`].
pub(super) fn run_on(
    model: &Model,
    on: (&Instance, &Record),
    seen: (&BTreeMap<RecordId, Record>, &BTreeMap<RecordId, Called>),
    now: &str,
) -> Outcome {
    step(&inputs(model, on, seen, now))
}

/// Applies an outcome to a replica: its events to the log, its
/// activities created or given their status.
pub(super) fn apply(o: &Outcome, i: &mut Instance, acts: &mut BTreeMap<RecordId, Record>) {
    for a in &o.actions {
        match a {
            Action::Event { key, event } => {
                i.events.insert(key.clone(), event.clone());
            }
            Action::CreateActivity { id, fields, .. } => {
                acts.entry(id.clone()).or_insert_with(|| Record {
                    id: id.clone(),
                    fields: fields.clone(),
                    conflicts: BTreeMap::new(),
                    classes: Vec::new(),
                });
            }
            Action::SetActivityStatus { id, status } => {
                if let Some(r) = acts.get_mut(id) {
                    r.fields
                        .insert("status".into(), FieldValue::Text(status.clone()));
                }
            }
            Action::CreateRecord { .. }
            | Action::StartInstance { .. }
            | Action::SetField { .. } => {}
        }
    }
}
