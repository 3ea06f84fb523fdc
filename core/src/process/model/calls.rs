//! Call and start steps: which version of which model they run, pinned
//! when the calling model is published.
//!
//! Guarantees:
//! - **Every replica starts the same version**: publishing writes the
//!   version each call or start step runs into the model's definition (the
//!   latest published, unless the author named one), so a replica that has
//!   not yet heard of a newer version of the called model creates the same
//!   instance as one that has.
//! - **No model calls itself**, directly or through the models it calls
//!   (their pinned versions), so a chain of calls always ends.
//! - A called model fits the record kind the calling model runs on.

use std::collections::BTreeSet;

use super::{Action, Model, ModelError, ModelFile, StepKind};

/// The models a checked model's call and start steps run: key and pinned
/// version.
pub fn called_models(model: &Model) -> Vec<(&str, Option<i64>)> {
    model
        .steps
        .values()
        .filter_map(|s| match &s.action {
            Action::Call {
                process, version, ..
            } => Some((process.as_str(), *version)),
            _ => None,
        })
        .collect()
}

/// Pins the version each call or start step of `file` runs to the latest
/// of `published` (or checks the one it names), and refuses calls of
/// missing models, of models that do not fit its record kind, and of
/// itself through any chain of calls.
pub fn pin_calls(file: &mut ModelFile, published: &[Model]) -> Result<(), ModelError> {
    let mut errors = Vec::new();
    let (key, record) = (file.key.clone(), file.trigger.record);
    for s in file
        .steps
        .iter_mut()
        .filter(|s| matches!(s.kind, StepKind::Call | StepKind::Start))
    {
        let at = format!("steps.{}.process", s.id);
        let Some(called) = s.process.clone() else {
            continue; // refused by the step's own check
        };
        if called == key {
            errors.push(format!("{at}: a model cannot run itself"));
            continue;
        }
        let found = match s.process_version {
            Some(v) => published
                .iter()
                .find(|m| m.file.key == called && m.version == v),
            None => published
                .iter()
                .filter(|m| m.file.key == called)
                .max_by_key(|m| m.version),
        };
        let Some(model) = found else {
            errors.push(format!(
                "{at}: no published model `{called}`{}",
                s.process_version
                    .map_or(String::new(), |v| format!(" version {v}"))
            ));
            continue;
        };
        s.process_version = Some(model.version);
        if let Some(kind) = record
            && let Err(e) = model.fits(kind)
        {
            errors.push(format!(
                "{at}: `{called}` cannot run on the {kind} this model runs on: {e}"
            ));
        }
        if let Some(chain) = calls_back(model, &key, published) {
            errors.push(format!(
                "{at}: `{called}` runs `{key}` again ({key} → {}), which would never end",
                chain.join(" → ")
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ModelError(errors))
    }
}

/// The chain of calls from `start` that reaches model `key`, if any.
fn calls_back(start: &Model, key: &str, published: &[Model]) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<(&Model, Vec<String>)> = vec![(start, vec![start.file.key.clone()])];
    while let Some((model, chain)) = todo.pop() {
        if !seen.insert((model.file.key.as_str(), model.version)) {
            continue;
        }
        for (called, version) in called_models(model) {
            let mut next_chain = chain.clone();
            next_chain.push(called.to_owned());
            if called == key {
                return Some(next_chain);
            }
            let next = published
                .iter()
                .find(|m| m.file.key == called && Some(m.version) == version);
            if let Some(next) = next {
                todo.push((next, next_chain));
            }
        }
    }
    None
}
