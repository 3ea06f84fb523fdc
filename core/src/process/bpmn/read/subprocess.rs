//! Reading an embedded sub-process and what it holds into the process
//! (flattened: see [`crate::process::bpmn`]'s `subprocess` module for how
//! its flows continue).
//!
//! Guarantees: an event sub-process and a multi-instance or looping
//! sub-process are refused, each with one problem, and nothing inside them
//! is read; reading stops at [`MAX_PROCESS_ELEMENTS`] elements in all.

use super::super::problems::BpmnError;
use super::super::xml::{Element, Tree};
use super::{MAX_PROCESS_ELEMENTS, Process, element, node, note_id, problem};

/// Reads sub-process `e` (inside sub-process `scope`, or the process) and
/// everything inside it into `p`.
pub(super) fn read(
    tree: &Tree,
    e: &Element,
    scope: Option<&str>,
    p: &mut Process,
    problems: &mut Vec<BpmnError>,
) {
    if e.attr("triggeredByEvent") == Some("true") {
        problems.push(problem(
            e,
            "event sub-processes (triggeredByEvent) are not supported yet",
        ));
        return;
    }
    let looping = tree
        .children(e)
        .any(|c| c.is("multiInstanceLoopCharacteristics") || c.is("standardLoopCharacteristics"));
    if looping {
        problems.push(problem(
            e,
            "multi-instance and looping sub-processes are not supported",
        ));
        return;
    }
    p.count += e.children.len();
    if p.count > MAX_PROCESS_ELEMENTS {
        problems.push(problem(
            e,
            format!(
                "more than {MAX_PROCESS_ELEMENTS} elements with its sub-processes; a process has at most {MAX_PROCESS_ELEMENTS}"
            ),
        ));
        return;
    }
    let mut n = node(e);
    n.parent = scope.map(str::to_owned);
    p.nodes.push(n);
    for c in tree.children(e) {
        if note_id(c, p, problems) {
            element(tree, c, Some(e.id()), p, problems);
        }
    }
}
