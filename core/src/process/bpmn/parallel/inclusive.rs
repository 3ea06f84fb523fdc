//! The flows out of an inclusive gateway: out of a fork, each has a
//! `conditionExpression` (its path runs when it holds) or is the gateway's
//! `default` (run when none holds); out of a join (one way out), the one
//! flow has none.
//!
//! Guarantees: every problem of the flows is reported on the gateway, each
//! naming the flow; conditions are translated as an exclusive gateway's
//! are (`${...}`, FEEL `=...`).

use super::super::graph::Graph;
use super::super::problems::BpmnError;
use super::super::read::Node;
use crate::process::model::BranchFile;

/// Pushes every problem of inclusive gateway `g`'s flows (it has at least
/// one way out).
pub(super) fn flows(graph: &Graph<'_>, g: &Node, problems: &mut Vec<BpmnError>) {
    let out = graph.outgoing(&g.id);
    if let [f] = out {
        if f.condition.is_some() {
            problems.push(g.problem(format!(
                "flow `{}` has a condition; this inclusiveGateway has one way out, so it joins and always goes on (conditions belong on the flows out of the fork)",
                f.id
            )));
        }
        return;
    }
    let default = g.attrs.get("default");
    if let Some(d) = default
        && !out.iter().any(|f| &f.id == d)
    {
        problems.push(g.problem(format!("default `{d}` is not a flow out of this gateway")));
    }
    for f in out {
        if Some(&f.id) != default && f.condition.is_none() {
            problems.push(g.problem(format!(
                "flow `{}` out of an inclusive gateway has no conditionExpression and is not its default",
                f.id
            )));
        }
    }
}

/// Inclusive fork `g`'s branches (one per flow with a condition, in file
/// order) and its default path, each the step its flow leads to.
pub(super) fn branches(graph: &Graph<'_>, g: &Node) -> (Vec<BranchFile>, Option<String>) {
    let mut branches = Vec::new();
    let mut default = None;
    for f in graph.outgoing(&g.id) {
        let next = graph.resolve(&f.target);
        if Some(&f.id) == g.attrs.get("default") {
            default = Some(next);
        } else if let Some(c) = &f.condition {
            branches.push(BranchFile {
                condition: super::super::expression(c),
                next,
            });
        }
    }
    (branches, default)
}
