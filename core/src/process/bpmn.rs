//! Importing a process drawn in a BPMN 2.0 modeler (bpmn.io, Camunda
//! Modeler 5, Camunda 8 / Zeebe) into a [`ModelFile`].
//!
//! Elements and attributes are recognised by namespace URI ([`names`]), so
//! `bpmn:`, `bpmn2:`, `semantic:` or a default namespace all work, and
//! Fieldwork's extension attributes may be bound to any prefix. The subset
//! (the full table is in `docs/PROCESSES.md`):
//!
//! | BPMN                                           | step                 |
//! |------------------------------------------------|----------------------|
//! | `startEvent` (+ `fieldwork:trigger/record/condition`, or a `conditionalEventDefinition`, or a `timerEventDefinition` with `timeCycle` `R/START/PERIOD`; none: a manual start) | the trigger |
//! | `userTask`, `task`, `manualTask` (+ `fieldwork:assignee/due/subject/topic`, or Camunda/Zeebe assignee, candidate group, due date) | `task` |
//! | interrupting `boundaryEvent` with `timeDuration` on a task | its deadline |
//! | non-interrupting `boundaryEvent` timer on a task, its path of service/send tasks creating activities (`reminders.rs`) | its `reminders` |
//! | `serviceTask` with `fieldwork:action` = call, meeting, visit, email, task (+ `fieldwork:assignee/offset/subject/topic/duration`) or `set` (+ `fieldwork:field/value`); `sendTask` likewise, `email` by default | `activity` / `set` |
//! | `intermediateCatchEvent` + `timerEventDefinition` (`timeDuration` ISO 8601, or `timeDate` `${field}`) | `timer` |
//! | `receiveTask`, `intermediateCatchEvent` + message or conditional definition (`messages.rs` names the message) | `wait` (one event) |
//! | `eventBasedGateway` and the catch events after it (`wait.rs`) | one `wait` |
//! | `exclusiveGateway` + `conditionExpression` on its flows, `default` | `gateway` |
//! | `parallelGateway` forking (2+ ways out), and the converging one its paths meet at (`parallel.rs`) | `parallel` (the join followed through) |
//! | `inclusiveGateway` forking (2+ ways out, each with a `conditionExpression` or the `default`), and the converging one its paths meet at (`parallel.rs`) | `inclusive` (the join followed through) |
//! | embedded `subProcess` (`subprocess.rs`)         | flattened            |
//! | `callActivity` (`calledElement`, or `zeebe:calledElement processId`; `fieldwork:version`; `calls.rs`) | `call` (`start` with `fieldwork:wait="false"`) |
//! | `endEvent` (plain or terminate)                | `end`                |
//! | `sequenceFlow`                                 | `next`               |
//!
//! Ignored: diagram layout, documentation, extension elements (other than
//! the task settings read), data stores and objects and their associations,
//! annotations, groups, lanes, and the non-executable pools of a
//! collaboration.
//!
//! Guarantees: an import either returns a model that passes
//! [`Model::check`] or refuses the file with **every** problem found
//! ([`BpmnErrors`]), each naming its line, element id and name; XML that is
//! not well-formed is reported as an XML error with its line and nothing
//! else is read; input size, nesting and element count are bounded
//! ([`xml::MAX_BYTES`], [`xml::MAX_DEPTH`], [`xml::MAX_ELEMENTS`]); no input
//! makes it panic.

use super::model::{Model, ModelError, ModelFile};

mod build;
mod calls;
mod feel;
mod graph;
mod messages;
pub mod names;
mod parallel;
mod problems;
mod read;
mod reminders;
mod settings;
mod subprocess;
mod wait;
pub mod xml;

pub use problems::{BpmnError, BpmnErrors};

/// Parses BPMN 2.0 XML into a checked model file, or every problem of the
/// file.
pub fn import(xml: &str) -> Result<ModelFile, BpmnErrors> {
    let tree = xml::read(xml).map_err(|e| BpmnErrors(vec![e]))?;
    let (process, mut problems) = read::process(&tree);
    let Some(process) = process else {
        return Err(BpmnErrors::sorted(problems));
    };
    let file = build::build(&process, &mut problems);
    let built = problems.is_empty();
    if let Err(ModelError(errors)) = Model::check(file.clone(), 1) {
        for e in errors {
            // A reference to an element refused above, or a step cut off
            // by one, is not news.
            if !built
                && (e.contains(": no step `") || e.ends_with(": not reachable from the start"))
            {
                continue;
            }
            problems.push(locate(&process, &e));
        }
    }
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(BpmnErrors::sorted(problems))
    }
}

/// A problem the model check found, on the element it names: a step's (by
/// id), the start event's (the trigger), or the process's.
fn locate(p: &read::Process, message: &str) -> BpmnError {
    if let Some(rest) = message.strip_prefix("steps.") {
        let end = rest.find(['.', ':']).unwrap_or(rest.len());
        let (id, tail) = rest.split_at(end);
        if let Some(n) = p.nodes.iter().find(|n| n.id == id) {
            let tail = tail.trim_start_matches(['.', ':', ' ']);
            return n.problem(tail);
        }
    }
    let start = p
        .nodes
        .iter()
        .find(|n| n.tag == "startEvent" && n.parent.is_none());
    match start {
        Some(s) if message.starts_with("trigger") => s.problem(message),
        _ => p.node.problem(message),
    }
}

/// The condition inside `${...}` / `#{...}` (JUEL), or after `=` (FEEL,
/// translated: see [`feel`]).
fn expression(text: &str) -> String {
    let t = text.trim();
    for (open, close) in [("${", "}"), ("#{", "}")] {
        if let Some(inner) = t.strip_prefix(open).and_then(|x| x.strip_suffix(close)) {
            return inner.trim().to_owned();
        }
    }
    match t.strip_prefix('=') {
        Some(feel) if !feel.starts_with('=') => feel::to_condition(feel.trim()),
        _ => t.to_owned(),
    }
}

#[cfg(test)]
mod tests;
