//! Call activities: a `callActivity` becomes a `call` step, which runs the
//! called model on the same record and waits until that instance
//! completes (BPMN's semantics), or a `start` step with
//! `fieldwork:wait="false"` (start it and go on at once). Its settings
//! (`process`, `version`, `wait`) were read and checked with the node
//! (`read/call.rs`).
//!
//! Guarantees: a call activity has exactly one way out (its `next`); the
//! called model's existence, its version and its fit to the record kind
//! are checked when the calling model is published
//! ([`crate::process::model::pin_calls`]), not here: the called
//! model may be published after the import.

use super::graph::Graph;
use super::problems::BpmnError;
use super::read::Node;
use crate::process::model::{StepFile, StepKind};

/// Fills `s` with the `call` (or `start`) step call activity `n` is.
pub(super) fn step(graph: &Graph<'_>, n: &Node, s: &mut StepFile, problems: &mut Vec<BpmnError>) {
    s.kind = if n.fw.get("wait").map(String::as_str) == Some("false") {
        StepKind::Start
    } else {
        StepKind::Call
    };
    s.process = n.fw.get("process").cloned();
    s.process_version = n.fw.get("version").and_then(|v| v.parse().ok());
    s.next = graph.single_next(n, problems);
}
