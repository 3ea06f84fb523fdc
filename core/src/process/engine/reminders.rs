//! Reminders on a task step (BPMN's non-interrupting boundary timers): an
//! activity `after` the step was entered, and every `after` again, while
//! the task stays open; the instance keeps waiting for the task.
//!
//! Guarantees:
//! - **One reminder, once**: its id is derived from (instance, step,
//!   position, reminder, repetition) and its time from the step's entry, so
//!   every replica that runs it creates the same record.
//! - **Only while the task is open**: a reminder is created when its time
//!   has come and lies before the moment the step was left (a replica that
//!   learns of the completion late still creates the reminders that were
//!   due before it, and no other). Reminders still planned when the step
//!   is left are cancelled with it ([`super::Run::align_activities`]).

use jiff::Timestamp;

use super::{Here, Planned, Run, Spec};
use crate::ids::{RecordId, RecordKind};
use crate::process::model::{MAX_REMINDER_REPEAT, Reminder};

/// The id of repetition `k` of reminder `i` of the task step `step` at
/// position `pos`.
pub fn reminder_id(instance: &RecordId, step: &str, pos: u32, i: usize, k: u32) -> RecordId {
    RecordId::derived(
        RecordKind::Activity,
        &[
            &instance.to_string(),
            step,
            &pos.to_string(),
            "reminder",
            &i.to_string(),
            &k.to_string(),
        ],
    )
}

/// Every reminder id the task step `step` at `pos` may have created, for a
/// step with `reminders`.
pub fn reminder_ids(
    instance: &RecordId,
    step: &str,
    pos: u32,
    reminders: &[Reminder],
) -> Vec<RecordId> {
    reminders
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            (0..r.repeat.min(MAX_REMINDER_REPEAT))
                .map(move |k| reminder_id(instance, step, pos, i, k))
        })
        .collect()
}

impl Run<'_, '_> {
    /// Creates the reminders of the task at `at` that are due before
    /// `until` (when the step was left, or now while it is open), and, while
    /// it is open, wakes the instance for the next one.
    pub(super) fn remind(
        &mut self,
        at: &Here<'_>,
        reminders: &[Reminder],
        until: Timestamp,
        open: bool,
    ) {
        for (i, r) in reminders.iter().enumerate() {
            let mut when = at.entered;
            for k in 0..r.repeat.min(MAX_REMINDER_REPEAT) {
                when = self.org_after(when, r.after);
                let due = if open { when <= until } else { when < until };
                if !due {
                    if open {
                        self.wake(when);
                    }
                    break;
                }
                let id = reminder_id(&self.instance.id, &at.label(), at.pos, i, k);
                let planned = Planned {
                    inputs: self.inputs,
                    instance: &self.instance,
                    record: at.record,
                    step: at.step,
                    entered: when,
                };
                let spec = Spec {
                    kind: &r.activity,
                    assignee: &r.assignee,
                    subject: &r.subject,
                    topic: r.topic.as_deref(),
                    minutes: None,
                };
                // A reminder call, meeting or visit moves into opening
                // hours, as an activity step's does.
                let starts = planned.open_at(when, &spec);
                planned.activity_as(
                    &id,
                    &spec,
                    Some(starts),
                    &mut self.created,
                    &mut self.actions,
                );
            }
        }
    }
}
