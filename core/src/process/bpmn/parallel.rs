//! Parallel and inclusive gateways, fork and join: a diverging
//! `parallelGateway` (two or more ways out) becomes a `parallel` step whose
//! paths are the steps its flows lead to, a diverging `inclusiveGateway` an
//! `inclusive` step whose paths are its flows' conditions and the steps
//! they lead to, plus its `default` flow's ([`inclusive`]); either step's
//! `next` is its join. A converging one with one way out is the join,
//! followed through like an exclusive join (see [`Graph::is_fork_join`]);
//! one that both converges and diverges is a step and may be the join of
//! the fork before it.
//!
//! A fork's join is the converging parallel or inclusive gateway that
//! every one of its paths reaches, the nearest one (the least of the
//! longest distances from its paths, ties in file order): for a
//! well-structured diagram, where the branches meet again. It must be of
//! the fork's kind.
//!
//! Guarantees: every problem is reported, once, on the element it is about
//! (a fork whose paths never meet, or meet at a join of the other kind, a
//! path that goes straight to the join, a parallel or inclusive gateway or
//! an end event inside a path, a join no fork matches, a gateway with no
//! way out, a condition on a flow out of a parallel gateway or of a join, a
//! flow out of an inclusive fork with neither a condition nor being its
//! default); a fork with a problem is no step (the model check adds
//! nothing about it); what a path may hold beyond that (steps shared
//! between paths, flows into a path from outside) is the model check's
//! (`model/parallel.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::graph::{Graph, forks_and_joins};
use super::problems::BpmnError;
use super::read::Node;
use crate::process::model::{BranchFile, StepFile, StepKind};

mod inclusive;
mod walk;

use walk::Walk;

/// A diverging parallel or inclusive gateway, as a step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fork {
    /// [`StepKind::Parallel`] or [`StepKind::Inclusive`].
    pub kind: StepKind,
    /// A parallel fork's paths: the first step of each, one per outgoing
    /// flow.
    pub paths: Vec<String>,
    /// An inclusive fork's paths run when their condition holds.
    pub branches: Vec<BranchFile>,
    /// An inclusive fork's path run when no condition holds.
    pub default: Option<String>,
    /// The step after the join, where the instance goes on.
    pub next: String,
}

impl Fork {
    /// The fork of gateway `g` (a parallel or inclusive one) joined at
    /// `join`.
    fn of(graph: &Graph<'_>, g: &Node, join: &str) -> Self {
        let next = graph.resolve(join);
        if g.tag == "inclusiveGateway" {
            let (branches, default) = inclusive::branches(graph, g);
            return Fork {
                kind: StepKind::Inclusive,
                paths: Vec::new(),
                branches,
                default,
                next,
            };
        }
        Fork {
            kind: StepKind::Parallel,
            paths: graph
                .outgoing(&g.id)
                .iter()
                .map(|f| graph.resolve(&f.target))
                .collect(),
            branches: Vec::new(),
            default: None,
            next,
        }
    }

    /// Writes this fork into step `s`: its kind, paths and join.
    pub fn fill(&self, s: &mut StepFile) {
        s.kind = self.kind;
        s.paths = self.paths.clone();
        s.branches = self.branches.clone();
        s.default = self.default.clone();
        s.next = Some(self.next.clone());
    }
}

/// What gateway `tag` is called in problems: `inclusive` or `parallel`.
fn word(tag: &str) -> &'static str {
    if tag == "inclusiveGateway" {
        "inclusive"
    } else {
        "parallel"
    }
}

/// [`word`] with its article: `an inclusive` or `a parallel`.
fn a_word(tag: &str) -> &'static str {
    if tag == "inclusiveGateway" {
        "an inclusive"
    } else {
        "a parallel"
    }
}

/// Every fork of `graph` that becomes a step, by gateway id; every problem
/// of its parallel and inclusive gateways is pushed to `problems`.
pub(super) fn collect<'a>(
    graph: &Graph<'a>,
    problems: &mut Vec<BpmnError>,
) -> BTreeMap<&'a str, Fork> {
    let gateways: Vec<&'a Node> = graph
        .nodes
        .iter()
        .filter(|n| forks_and_joins(&n.tag) && !n.refused)
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
            problems.push(g.problem(format!(
                "this converging {tag} joins paths that no {tag} forked: a join waits for every path of the fork before it",
                tag = g.tag
            )));
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
            problems.push(g.problem(format!(
                "the paths of this {} gateway never meet at one converging {}",
                word(&g.tag),
                g.tag
            )));
            self.refused.insert(&g.id);
            return;
        };
        self.accounted.insert(join);
        self.join_kind(walk, g, join, problems);
        for (f, first) in graph.outgoing(&g.id).iter().zip(&firsts) {
            if *first == join {
                problems.push(g.problem(straight_to_join(g, &f.id, join)));
                self.refused.insert(&g.id);
            }
            self.path(walk, (g, join, first), problems);
        }
        self.forks.insert(&g.id, Fork::of(graph, g, join));
    }

    /// Fork `g`'s paths meet at `join`, which must be a gateway of its
    /// kind.
    fn join_kind(
        &mut self,
        walk: &Walk<'a, '_>,
        g: &'a Node,
        join: &str,
        problems: &mut Vec<BpmnError>,
    ) {
        let tag = walk.node(join).map_or("", |n| n.tag.as_str());
        if tag != g.tag {
            problems.push(g.problem(format!(
                "the paths of this {} gateway meet at {tag} `{join}`: a fork is joined by a converging gateway of its own kind ({})",
                word(&g.tag),
                g.tag
            )));
            self.refused.insert(&g.id);
        }
    }

    /// The problems of the path of fork `g` from `first` to `join`: a
    /// parallel or inclusive gateway or an end event inside it.
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
                tag if forks_and_joins(tag) => format!(
                    "{} gateways inside {} path are not supported yet: this one is on a path of `{}`",
                    word(tag),
                    a_word(&g.tag),
                    g.id
                ),
                "endEvent" => format!(
                    "ends the process on a path of {} gateway `{}`: every path must reach its join `{join}`",
                    word(&g.tag),
                    g.id
                ),
                _ => continue,
            };
            self.refused.insert(&g.id);
            if forks_and_joins(&n.tag) {
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

/// The problem of flow `flow` out of fork `g` that goes straight to its
/// join.
fn straight_to_join(g: &Node, flow: &str, join: &str) -> String {
    let mut why = format!(
        "flow `{flow}` goes straight to the join `{join}`: every path of {} gateway needs a step",
        a_word(&g.tag)
    );
    if g.tag == "inclusiveGateway" {
        why.push_str(
            " (without a default flow, the process goes on after the join when no condition holds)",
        );
    }
    why
}

/// Whether gateway `g`'s flows are right (at least one way out, and what
/// its kind allows on them); each problem is pushed.
fn flows(graph: &Graph<'_>, g: &Node, problems: &mut Vec<BpmnError>) -> bool {
    let before = problems.len();
    let out = graph.outgoing(&g.id);
    if out.is_empty() {
        problems.push(g.problem(format!(
            "has no outgoing sequenceFlow ({} incoming): a {tag} forks (two or more outgoing flows) or joins (two or more incoming, one outgoing)",
            graph.incoming(&g.id).len(),
            tag = g.tag
        )));
    } else if g.tag == "inclusiveGateway" {
        inclusive::flows(graph, g, problems);
    } else {
        for f in out.iter().filter(|f| f.condition.is_some()) {
            problems.push(g.problem(format!(
                "flow `{}` has a condition; every path of a parallel gateway runs (conditions belong on flows out of an exclusiveGateway)",
                f.id
            )));
        }
    }
    problems.len() == before
}
