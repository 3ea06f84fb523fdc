//! Process variables where an instance stands, and the outcome rule: what
//! a task step's outcome form (see [`super::outcome`]) accepts, and the
//! variables (`outcome.STEP`, `param.NAME`) a gateway reads.
//!
//! Guarantees: variables are read only from the instance's event log and
//! parameters, which every replica holds the same, so every replica that
//! has the same log branches the same way; a value that does not fit its
//! declared form or type is no variable (null), never a panic.

use std::collections::BTreeMap;

use super::instance::{Instance, Position, Visit};
use super::model::{Action, Model};
use super::outcome::{Form, ParamType};
use super::paths::branch_paths;
use crate::error::Denial;
use crate::policy::{codes, denial};
use crate::value::FieldValue;

/// The outcome form task step `step` of `model` asks for, if any.
pub fn form_of<'m>(model: &'m Model, step: &str) -> Option<&'m Form> {
    match &model.step(step)?.action {
        Action::Task { outcome, .. } => outcome.as_ref(),
        _ => None,
    }
}

/// The rule for a task's outcome: when step `step` of `model` asks for
/// one, completing the task needs a `value` that fits the form
/// (`invalid_outcome` otherwise, naming the form). A step that asks for
/// none takes any outcome (free notes, as for any activity). `doc` is the
/// document the refusal names.
pub fn check_outcome(
    model: &Model,
    step: &str,
    value: Option<&str>,
    doc: Option<&str>,
) -> Result<(), Denial> {
    let Some(form) = form_of(model, step) else {
        return Ok(());
    };
    let refuse = |why: String| {
        denial(
            codes::INVALID_OUTCOME,
            doc,
            Some("outcome"),
            &format!("process.steps.{step}.outcome"),
            format!(
                "the task `{step}` of `{}` asks for an outcome: {why}",
                model.file.key
            ),
        )
    };
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Err(refuse(form.describe())),
        Some(v) => form.check(v).map(|_| ()).map_err(refuse),
    }
}

/// The instance's variables where it stands: `outcome.STEP` for every task
/// step on its path (or on a path of one of its parallel steps) left with
/// an outcome its form accepts (the latest visit wins), and `param.NAME`
/// for every parameter `model` declares that has a value of its type.
pub fn variables(
    instance: &Instance,
    position: &Position,
    model: &Model,
) -> BTreeMap<String, FieldValue> {
    let mut vars = BTreeMap::new();
    let paths = branch_paths(instance, position, model);
    let mut left: Vec<&Visit> = position
        .path
        .iter()
        .chain(paths.iter().flat_map(|p| p.visits.iter()))
        .filter(|v| v.left.is_some())
        .collect();
    // The latest wins: in the order the steps were left.
    left.sort_by_key(|v| v.left.as_ref().map(|(_, e)| e.at));
    for visit in left {
        let Some((_, event)) = &visit.left else {
            continue;
        };
        if event.via.as_deref() != Some("task") {
            continue;
        }
        if let (Some(form), Some(value)) = (form_of(model, &visit.step), &event.outcome)
            && let Ok(v) = form.check(value)
        {
            vars.insert(format!("outcome.{}", visit.step), v);
        }
    }
    for (name, ty) in &model.parameters {
        if let Some(v) = instance.parameters.get(name).and_then(|v| ty.check(v).ok()) {
            vars.insert(format!("param.{name}"), v);
        }
    }
    vars
}

/// The value of parameter `name` of `instance` when `model` declares it of
/// type `ty` and it holds a value of that type.
pub fn parameter<'i>(
    instance: &'i Instance,
    model: &Model,
    name: &str,
    ty: ParamType,
) -> Option<&'i str> {
    (model.parameters.get(name) == Some(&ty))
        .then(|| instance.parameters.get(name))
        .flatten()
        .filter(|v| ty.check(v).is_ok())
        .map(|v| v.trim())
}
