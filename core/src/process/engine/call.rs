//! Call and start steps: another model run on the same record (BPMN's
//! call activity; "start another process").
//!
//! Guarantees:
//! - **One called instance per visit**: its id is derived from (instance,
//!   step, position) and its fields from the calling instance and the
//!   version pinned at publish ([`instance_fields`]), so every replica that
//!   starts it writes the same record.
//! - **Only a replica allowed to create it does** (`may_start`:
//!   the server, or the device of the calling instance's owner, who the
//!   new instance runs as); another waits for it to arrive. (See
//!   `super::Inputs::may_start`.)
//! - A `call` step goes on when the called instance completes, dated when
//!   it reached its end; a `start` step goes on, dated when it was entered,
//!   once the instance exists. A called instance that was stopped leaves
//!   the calling one stuck, saying so.

use jiff::Timestamp;

use super::{Action, ENGINE, Here, Run};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::{Event, Instance, Status, fold, instance_fields, step_label};
use crate::process::model::{Action as StepAction, Model};
use crate::record::Record;

/// What a called instance has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Called {
    /// It runs (or is suspended).
    Running,
    /// It reached an end step at this moment.
    Completed(Timestamp),
    /// A person stopped it.
    Stopped,
}

/// The id of the instance the call or start step `step` (its label on a
/// path) starts at `pos` of `instance`.
pub fn called_id(instance: &RecordId, step: &str, pos: u32) -> RecordId {
    RecordId::derived(
        RecordKind::ProcessInstance,
        &[&instance.to_string(), step, &pos.to_string(), "call"],
    )
}

/// What the instance record `r` has come to, read with `models`; `None`
/// when it is not (yet) a readable instance of a model here.
pub fn called_state(r: &Record, models: &[Model]) -> Option<Called> {
    let find = |key: &str, v: i64| models.iter().find(|m| m.file.key == key && m.version == v);
    let instance = Instance::from_record(r)?;
    let started = find(&instance.model_key, instance.started_version)?;
    let position = fold(&instance, &started.start);
    let model = find(&instance.model_key, position.version)?;
    if position.status == Status::Stopped {
        return Some(Called::Stopped);
    }
    let at_end = position.current().and_then(|c| {
        model
            .step(&c.step)
            .filter(|s| matches!(s.action, StepAction::End))
            .map(|_| c.entered_at)
    });
    Some(at_end.map_or(Called::Running, Called::Completed))
}

/// Ids of every instance the call and start steps of `models` may have
/// started from `instance`: each such step at every position a visit may
/// have, on the main path and on the paths of parallel steps.
pub fn candidate_called(instance: &Instance, models: &[&Model]) -> Vec<RecordId> {
    let steps: std::collections::BTreeSet<&str> = models
        .iter()
        .flat_map(|m| m.steps.values())
        .filter(|s| matches!(s.action, StepAction::Call { .. }))
        .map(|s| s.id.as_str())
        .collect();
    if steps.is_empty() {
        return Vec::new();
    }
    let main = (0..super::main_positions(instance)).map(|pos| (None, pos));
    let lanes = super::parallel::lanes(instance, models);
    let in_paths = lanes
        .iter()
        .flat_map(|(scope, last)| (0..=*last).map(move |pos| (Some(scope.as_str()), pos)));
    main.chain(in_paths)
        .flat_map(|(scope, pos)| {
            steps
                .iter()
                .map(move |step| called_id(&instance.id, &step_label(scope, step), pos))
        })
        .collect()
}

impl Run<'_, '_> {
    /// A call (`wait`) or start step running version `version` of model
    /// `process`.
    pub(super) fn call(
        &mut self,
        at: &Here<'_>,
        (process, version): (&str, Option<i64>),
        wait: bool,
    ) -> Option<(String, Event)> {
        let Some(version) = version else {
            self.stuck = Some(format!(
                "step `{}` names no version of `{process}`: publish its model again",
                at.step.id
            ));
            return None;
        };
        let id = called_id(&self.instance.id, &at.label(), at.pos);
        let mut state = self.inputs.called.get(&id).copied();
        if state.is_none() && self.inputs.may_start {
            self.start(&id, (process, version), at);
            state = Some(Called::Running);
        }
        match (state, wait) {
            (None, _) => None, // the replica that may start it will
            (Some(_), false) => Some(at.left("auto", at.entered, ENGINE, at.step.next.clone())),
            (Some(Called::Completed(t)), true) => {
                Some(at.left("call", t.max(at.entered), ENGINE, at.step.next.clone()))
            }
            (Some(Called::Stopped), true) => {
                self.stuck = Some(format!(
                    "the instance of `{process}` that step `{}` runs ({id}) was stopped",
                    at.step.id
                ));
                None
            }
            (Some(Called::Running), true) => {
                self.awaits_instance = Some(id);
                None
            }
        }
    }

    /// Plans the creation of called instance `id`, once per run.
    fn start(&mut self, id: &RecordId, model: (&str, i64), at: &Here<'_>) {
        let owner = self.instance.owner.clone().unwrap_or_default();
        let fields = instance_fields(
            model,
            (&self.instance.record, self.instance.account.as_ref()),
            &owner,
            at.entered,
        );
        self.actions.push(Action::StartInstance {
            id: id.clone(),
            fields,
            at: at.entered,
        });
    }
}
