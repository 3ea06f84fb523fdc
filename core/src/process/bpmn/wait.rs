//! Steps that wait for something to happen: a `receiveTask`, a message or
//! conditional `intermediateCatchEvent`, and an `eventBasedGateway`, which
//! becomes ONE `wait` step (its id) waiting for every catch event after it;
//! the first to happen leads on.
//!
//! Guarantees: a wait step has no `next`, only events, each with the step
//! its catch node leads to (joins and sub-processes followed through); the
//! catch nodes after an event-based gateway are read into the gateway's
//! step and never become steps themselves ([`after_gateways`]); anything
//! else after an event-based gateway, a timer there without a
//! `timeDuration`, or a catch node another flow also leads to, is a problem
//! naming it; message names are chosen by [`super::messages`].

use std::collections::BTreeSet;

use super::graph::Graph;
use super::messages;
use super::problems::BpmnError;
use super::read::Node;
use crate::process::model::{StepFile, StepKind, WaitFile};

/// Whether `n` is a node an event-based gateway may lead to.
fn catches(n: &Node) -> bool {
    matches!(n.tag.as_str(), "intermediateCatchEvent" | "receiveTask")
}

/// The catch nodes right after an event-based gateway: read into its step.
pub(super) fn after_gateways<'a>(graph: &Graph<'a>) -> BTreeSet<&'a str> {
    graph
        .nodes
        .iter()
        .filter(|g| g.tag == "eventBasedGateway")
        .flat_map(|g| graph.outgoing(&g.id))
        .filter_map(|f| graph.by_id.get(f.target.as_str()))
        .filter(|n| catches(n))
        .map(|n| n.id.as_str())
        .collect()
}

/// A receive task, or a message or conditional catch event on its own: a
/// wait step with one event.
pub(super) fn single(graph: &Graph<'_>, n: &Node, s: &mut StepFile, problems: &mut Vec<BpmnError>) {
    s.kind = StepKind::Wait;
    if let Some(e) = event(graph, n, problems) {
        s.events.push(e);
    }
}

/// An event-based gateway: one event per outgoing flow, each read from the
/// catch node the flow leads to.
pub(super) fn gateway(
    graph: &Graph<'_>,
    g: &Node,
    s: &mut StepFile,
    problems: &mut Vec<BpmnError>,
) {
    s.kind = StepKind::Wait;
    if g.attrs.get("instantiate").map(String::as_str) == Some("true") {
        problems.push(g.problem(
            "an event-based gateway that starts the process is not supported; start with a startEvent",
        ));
    }
    let out = graph.outgoing(&g.id);
    if out.is_empty() {
        problems.push(g.problem("has no outgoing sequenceFlow"));
    }
    for f in out {
        if f.condition.is_some() {
            problems.push(g.problem(format!(
                "flow `{}` has a condition; the events after an event-based gateway decide",
                f.id
            )));
        }
        let Some(n) = graph.by_id.get(f.target.as_str()) else {
            continue; // A refused element, or no element: reported already.
        };
        if !catches(n) {
            problems.push(g.problem(format!(
                "an event-based gateway leads to the events it waits for (a message, timer or conditional intermediateCatchEvent, or a receiveTask), not to <{}> `{}`",
                n.tag, n.id
            )));
            continue;
        }
        if graph.incoming(&n.id).len() > 1 {
            problems.push(n.problem(format!(
                "waited for by event-based gateway `{}`: no other flow may lead to it",
                g.id
            )));
        }
        if n.refused {
            continue;
        }
        if let Some(e) = event(graph, n, problems) {
            s.events.push(e);
        }
    }
}

/// What catch node `n` waits for (a message, a condition or, after an
/// event-based gateway, a timeout) and where it leads.
fn event(graph: &Graph<'_>, n: &Node, problems: &mut Vec<BpmnError>) -> Option<WaitFile> {
    let next = graph.single_next(n, problems);
    let mut e = WaitFile {
        message: None,
        condition: None,
        after: None,
        next: next.clone().unwrap_or_default(),
    };
    if n.message {
        match messages::name(n, graph.messages) {
            Ok(m) => e.message = Some(m),
            Err(why) => problems.push(n.problem(why)),
        }
    } else if let Some(c) = &n.conditional {
        e.condition = Some(super::expression(c)).filter(|c| !c.is_empty());
        if e.condition.is_none() {
            problems.push(n.problem("a conditional event needs a <condition>"));
        }
    } else {
        match &n.timer {
            Some((kind, text)) if kind == "timeDuration" => e.after = Some(text.trim().to_owned()),
            Some((kind, _)) => problems.push(n.problem(format!(
                "a timer after an event-based gateway needs a timeDuration (the timeout), not a {kind}"
            ))),
            None if n.refused => {}
            None => problems.push(n.problem(
                "waits for nothing: give it a message, timer or conditional event definition",
            )),
        }
    }
    let complete = e.message.is_some() || e.condition.is_some() || e.after.is_some();
    (complete && next.is_some()).then_some(e)
}
