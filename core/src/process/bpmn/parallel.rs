//! Parallel gateways, fork and join: a diverging `parallelGateway` (two or
//! more ways out) becomes a `parallel` step whose paths are the steps its
//! flows lead to and whose `next` is its join; a converging one with one
//! way out is the join, followed through like an exclusive join (see
//! [`Graph::is_parallel_join`]); one that both converges and diverges is a
//! step and may be the join of the fork before it.
//!
//! A fork's join is the converging parallel gateway that every one of its
//! paths reaches, the nearest one (the least of the longest distances from
//! its paths, ties in file order): for a well-structured diagram, where the
//! branches meet again.
//!
//! Guarantees: every problem is reported, once, on the element it is about
//! (a fork whose paths never meet, a path that goes straight to the join, a
//! parallel gateway or an end event inside a path, a join no fork matches,
//! a parallel gateway with no way out, a condition on a flow out of one);
//! a fork with a problem is no step (the model check adds nothing about
//! it); what a path may hold beyond that (steps shared between paths,
//! flows into a path from outside) is the model check's (`model/parallel.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
use super::problems::BpmnError;
use super::read::Node;

mod walk;

use walk::Walk;

/// A diverging parallel gateway, as a step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fork {
    /// The first step of each path, one per outgoing flow.
    pub paths: Vec<String>,
    /// The step after the join, where the instance goes on.
    pub next: String,
}

/// Every fork of `graph` that becomes a step, by gateway id; every problem
/// of its parallel gateways is pushed to `problems`.
pub(super) fn collect<'a>(
    graph: &Graph<'a>,
    problems: &mut Vec<BpmnError>,
) -> BTreeMap<&'a str, Fork> {
    let gateways: Vec<&'a Node> = graph
        .nodes
        .iter()
        .filter(|n| n.tag == "parallelGateway" && !n.refused)
        .collect();
    let walk = Walk::new(graph);
    let mut matching = Matching::default();
    for g in &gateways {
        let clean = flows(graph, g, problems);
        if graph.outgoing(&g.id).len() >= 2 {
            matching.fork(graph, &walk, g, problems);
            if !clean {
                matching.refused.insert(&g.id);
            }
        }
    }
    for g in &gateways {
        let converging = graph.incoming(&g.id).len() >= 2;
        if converging && !matching.accounted.contains(g.id.as_str()) {
            problems.push(g.problem(
                "this converging parallelGateway joins paths that no parallelGateway forked: a join waits for every path of the fork before it",
            ));
        }
    }
    matching
        .forks
        .into_iter()
        .filter(|(id, _)| !matching.refused.contains(id))
        .collect()
}

/// What matching forks with joins found so far.
#[derive(Default)]
struct Matching<'a> {
    /// The forks with their join, by gateway id.
    forks: BTreeMap<&'a str, Fork>,
    /// Forks with a problem: no steps.
    refused: BTreeSet<&'a str>,
    /// Converging gateways some fork reached first (its join, or the
    /// nearest one of a path that never meets the others).
    accounted: BTreeSet<&'a str>,
    /// Elements already reported inside a path (said once).
    reported: BTreeSet<&'a str>,
}

impl<'a> Matching<'a> {
    /// Fork `g`: its join, its paths, and what its paths hold.
    fn fork(
        &mut self,
        graph: &Graph<'a>,
        walk: &Walk<'a, '_>,
        g: &'a Node,
        problems: &mut Vec<BpmnError>,
    ) {
        let firsts: Vec<&'a str> = graph
            .outgoing(&g.id)
            .iter()
            .map(|f| graph.near(f.target.as_str()))
            .collect();
        let reached: Vec<BTreeMap<&'a str, usize>> = firsts
            .iter()
            .map(|first| walk.from(first, &[&g.id]))
            .collect();
        for r in &reached {
            if let Some(nearest) = walk.joins_by_distance(r).first() {
                self.accounted.insert(nearest);
            }
        }
        let Some(join) = walk.common_join(&reached) else {
            problems.push(g.problem(
                "the paths of this parallel gateway never meet at one converging parallelGateway",
            ));
            self.refused.insert(&g.id);
            return;
        };
        self.accounted.insert(join);
        for (f, first) in graph.outgoing(&g.id).iter().zip(&firsts) {
            if *first == join {
                problems.push(g.problem(format!(
                    "flow `{}` goes straight to the join `{join}`: every path of a parallel gateway needs a step",
                    f.id
                )));
                self.refused.insert(&g.id);
            }
            self.path(walk, (g, join, first), problems);
        }
        self.forks.insert(
            &g.id,
            Fork {
                paths: graph
                    .outgoing(&g.id)
                    .iter()
                    .map(|f| graph.resolve(&f.target))
                    .collect(),
                next: graph.resolve(join),
            },
        );
    }

    /// The problems of the path of fork `g` from `first` to `join`: a
    /// parallel gateway or an end event inside it.
    fn path(
        &mut self,
        walk: &Walk<'a, '_>,
        (g, join, first): (&'a Node, &'a str, &'a str),
        problems: &mut Vec<BpmnError>,
    ) {
        for id in walk.from(first, &[&g.id, join]).into_keys() {
            let Some(n) = walk.node(id) else { continue };
            let why = match n.tag.as_str() {
                _ if id == g.id || id == join => continue,
                "parallelGateway" => format!(
                    "parallel gateways inside a parallel path are not supported yet: this one is on a path of `{}`",
                    g.id
                ),
                "endEvent" => format!(
                    "ends the process on a path of parallel gateway `{}`: every path must reach its join `{join}`",
                    g.id
                ),
                _ => continue,
            };
            self.refused.insert(&g.id);
            if n.tag == "parallelGateway" {
                // Its own fork is refused with it (said once, here).
                self.refused.insert(id);
                self.accounted.insert(id);
            }
            if self.reported.insert(id) {
                problems.push(n.problem(why));
            }
        }
    }
}

/// Whether parallel gateway `g`'s flows are right (at least one way out,
/// and no conditions); each problem is pushed.
fn flows(graph: &Graph<'_>, g: &Node, problems: &mut Vec<BpmnError>) -> bool {
    let before = problems.len();
    let out = graph.outgoing(&g.id);
    if out.is_empty() {
        problems.push(g.problem(format!(
            "has no outgoing sequenceFlow ({} incoming): a parallelGateway forks (two or more outgoing flows) or joins (two or more incoming, one outgoing)",
            graph.incoming(&g.id).len()
        )));
    }
    for f in out.iter().filter(|f| f.condition.is_some()) {
        problems.push(g.problem(format!(
            "flow `{}` has a condition; every path of a parallel gateway runs (conditions belong on flows out of an exclusiveGateway)",
            f.id
        )));
    }
    problems.len() == before
}
