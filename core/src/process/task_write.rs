//! The one rule for a write to a task a process planned (an activity with
//! `process_instance`), asked by every writer: the device store for any
//! edit, `runner::complete_task_with` on any host, and the
//! server's push checks ([`super::guard`]) for a device's push, a forged
//! one and the office API.
//!
//! - Marking the task `done` while its instance is suspended or stopped is
//!   refused, `process_held` ([`super::held`]).
//! - When the task's step asks for an outcome, the task is completed only
//!   with an outcome that fits the form, and the outcome of a task (done or
//!   not) is only ever a value that fits it, `invalid_outcome`
//!   ([`super::variables::check_outcome`]).
//!
//! Guarantees: the decision depends only on the task's fields before and
//! after the write, its instance and the instance's model version, so the
//! device, the server and the office API decide the same write the same
//! way. A task whose instance or model is not at hand (not synced yet) is
//! not refused here; the server, which holds every instance, decides.

use std::collections::BTreeMap;

use super::held;
use super::instance::{Instance, controls};
use super::model::{model_from_record, model_id};
use super::variables::check_outcome;
use crate::error::Denial;
use crate::ids::RecordId;
use crate::record::Record;
use crate::value::FieldValue;

/// A record's fields, by name.
pub type Fields = BTreeMap<String, FieldValue>;

fn text<'f>(f: &'f Fields, name: &str) -> Option<&'f str> {
    f.get(name).and_then(FieldValue::as_text)
}

/// Checks a write that takes task `task` from `before` to `after` (its
/// fields as stored, and as the write leaves them). `lookup` reads a
/// record here (the task's instance and its model version); `doc` is the
/// document a refusal names.
pub fn check(
    task: &RecordId,
    before: &Fields,
    after: &Fields,
    doc: Option<&str>,
    lookup: &mut dyn FnMut(&RecordId) -> Option<Record>,
) -> Result<(), Denial> {
    let Some(instance_id) = text(after, "process_instance")
        .or_else(|| text(before, "process_instance"))
        .and_then(|t| t.parse::<RecordId>().ok())
    else {
        return Ok(());
    };
    let completing = held::completed_instance(before, after).is_some();
    let outcome_after = text(after, "outcome");
    let outcome_changed = outcome_after != text(before, "outcome");
    if !completing && !outcome_changed {
        return Ok(());
    }
    let Some(instance) = lookup(&instance_id).and_then(|r| Instance::from_record(&r)) else {
        return Ok(());
    };
    if completing {
        held::check_completion(&instance, task, doc)?;
    }
    let (_, version) = controls(&instance);
    let Some(model) = lookup(&model_id(&instance.model_key, version))
        .as_ref()
        .and_then(model_from_record)
    else {
        return Ok(());
    };
    let Some(step) = text(after, "process_step").or_else(|| text(before, "process_step")) else {
        return Ok(());
    };
    let done = text(after, held::STATUS) == Some(held::DONE);
    let given = outcome_after.is_some_and(|o| !o.trim().is_empty());
    if completing || done || given {
        check_outcome(&model, step, outcome_after, doc)?;
    }
    Ok(())
}
