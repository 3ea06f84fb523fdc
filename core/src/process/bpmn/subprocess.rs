//! Embedded sub-processes, flattened: a `subProcess` is no step; a flow
//! into it continues at what its inner (plain) start event leads to, and
//! its inner end events continue at the sub-process's outgoing flow.
//! Nested sub-processes flatten the same way; the inner elements keep
//! their ids (BPMN ids are unique per file), so they stay unique step ids.
//!
//! Guarantees: the elements inside a sub-process are read like the
//! process's own, each knowing the sub-process it sits in; an event
//! sub-process (`triggeredByEvent="true"`) and a multi-instance or looping
//! sub-process are refused, each with one problem on the sub-process, and
//! nothing inside them is read (`read/subprocess.rs`); a sub-process needs
//! exactly one start event without an event definition, and at most one way
//! out (checked here); reading stops at
//! [`read::MAX_PROCESS_ELEMENTS`] elements in all.

use super::graph::Graph;
use super::problems::BpmnError;
use super::read;

/// The problems of sub-process `sub` as a whole: its start event (exactly
/// one, plain, with one way out) and its way out (at most one).
pub(super) fn check(graph: &Graph<'_>, sub: &read::Node, problems: &mut Vec<BpmnError>) {
    let starts = graph.starts_in(Some(&sub.id));
    match starts {
        [] => problems.push(sub.problem("a sub-process needs a startEvent; it has none")),
        [start] => {
            let triggered = start.timer.is_some()
                || start.conditional.is_some()
                || start.message
                || start.fw.contains_key("trigger");
            if triggered {
                problems.push(start.problem(
                    "the start event of a sub-process starts when the sub-process is reached; remove its trigger",
                ));
            }
            graph.single_next(start, problems);
        }
        several => {
            for s in several {
                problems.push(s.problem(format!(
                    "one of {} start events of sub-process `{}`; it needs exactly one",
                    several.len(),
                    sub.id
                )));
            }
        }
    }
    if !graph.outgoing(&sub.id).is_empty() {
        graph.single_next(sub, problems);
    }
}
