//! The process read so far as a graph: its nodes and flows by id, and the
//! step a flow really leads to once joins and sub-processes are followed
//! through.
//!
//! Two resolutions are worked out: [`Graph::resolve`] (the step a flow
//! leads to: through exclusive, parallel and inclusive joins) and
//! [`Graph::near`] (the element it leads to with parallel and inclusive
//! gateways kept in sight, for matching forks with their joins: see
//! `parallel.rs`).
//!
//! Guarantees: a flow to or from an element that is not in the process is
//! a problem, and so is a flow between different sub-processes; following
//! a flow through joins, into sub-processes and out of their end events
//! is worked out once for every node (each node is walked once; a cycle of
//! such elements ends where it closes), and lookups are by index, so
//! building stays near-linear in the size of the process.

use std::collections::{BTreeMap, BTreeSet};

use super::problems::BpmnError;
use super::read::{Flow, Node, Process};

/// Whether an element named `tag` forks paths that all meet again (and
/// joins them): a parallel or an inclusive gateway.
pub(super) fn forks_and_joins(tag: &str) -> bool {
    matches!(tag, "parallelGateway" | "inclusiveGateway")
}

/// The process read so far: its nodes and flows, by id.
pub(super) struct Graph<'a> {
    /// Every node, in file order (sub-processes' included).
    pub nodes: &'a [Node],
    /// The nodes by id.
    pub by_id: BTreeMap<&'a str, &'a Node>,
    /// The file's `<message>` elements: id → name.
    pub messages: &'a BTreeMap<String, Option<String>>,
    /// The flows leaving each element, in file order.
    out: BTreeMap<&'a str, Vec<&'a Flow>>,
    /// The flows entering each element, in file order.
    into: BTreeMap<&'a str, Vec<&'a Flow>>,
    /// The start events of each sub-process by its id, and of the process
    /// under `""` (no node has an empty id).
    starts: BTreeMap<&'a str, Vec<&'a Node>>,
    /// Where a flow into each node that is no step goes on ([`Self::resolve`]).
    resolved: BTreeMap<&'a str, &'a str>,
    /// The same, parallel and inclusive joins not followed through
    /// ([`Self::near`]).
    near: BTreeMap<&'a str, &'a str>,
}

impl<'a> Graph<'a> {
    /// Indexes the nodes; a flow to or from an element that is not in the
    /// process at all is a problem (one to a refused element was reported
    /// with that element), and so is one crossing a sub-process's border.
    pub fn new(p: &'a Process, problems: &mut Vec<BpmnError>) -> Self {
        let by_id: BTreeMap<&str, &Node> = p.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut out: BTreeMap<&str, Vec<&Flow>> = BTreeMap::new();
        let mut into: BTreeMap<&str, Vec<&Flow>> = BTreeMap::new();
        let mut starts: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
        for n in p.nodes.iter().filter(|n| n.tag == "startEvent") {
            let scope = n.parent.as_deref().unwrap_or_default();
            starts.entry(scope).or_default().push(n);
        }
        for f in &p.flows {
            out.entry(f.source.as_str()).or_default().push(f);
            into.entry(f.target.as_str()).or_default().push(f);
            let problem = |message: String| BpmnError {
                tag: Some("sequenceFlow".into()),
                element: Some(f.id.clone()),
                ..BpmnError::at(Some(f.line), message)
            };
            for end in [&f.source, &f.target] {
                if !p.ids.contains(end.as_str()) {
                    problems.push(problem(format!(
                        "connects to `{end}`, which is not an element of the process"
                    )));
                }
            }
            if let (Some(s), Some(t)) = (by_id.get(f.source.as_str()), by_id.get(f.target.as_str()))
                && s.parent != t.parent
            {
                problems.push(problem(format!(
                    "connects `{}` and `{}`, which are not in the same (sub-)process; a flow stays inside its sub-process",
                    s.id, t.id
                )));
            }
        }
        Graph {
            nodes: &p.nodes,
            by_id,
            messages: &p.messages,
            out,
            into,
            starts,
            resolved: BTreeMap::new(),
            near: BTreeMap::new(),
        }
        .with_resolved()
    }

    /// Works out, once, both resolutions ([`Self::resolve`],
    /// [`Self::near`]).
    fn with_resolved(mut self) -> Self {
        self.resolved = self.chains(true);
        self.near = self.chains(false);
        self
    }

    /// Where each node that is no step leads to (parallel and inclusive
    /// joins followed through when `parallel`): each node is walked once,
    /// the chain it is on stored as it is walked.
    fn chains(&self, parallel: bool) -> BTreeMap<&'a str, &'a str> {
        let mut done: BTreeMap<&'a str, &'a str> = BTreeMap::new();
        for n in self.nodes {
            if done.contains_key(n.id.as_str()) || self.through(n, parallel).is_none() {
                continue;
            }
            let mut chain: Vec<&'a str> = Vec::new();
            let mut on_chain = BTreeSet::new();
            let mut at: &'a str = &n.id;
            let end = loop {
                if let Some(t) = done.get(at) {
                    break *t;
                }
                if !on_chain.insert(at) {
                    break at; // A cycle of joins and sub-processes.
                }
                match self.by_id.get(at).and_then(|m| self.through(m, parallel)) {
                    Some(next) => {
                        chain.push(at);
                        at = next;
                    }
                    None => break at,
                }
            };
            for c in chain {
                done.insert(c, end);
            }
        }
        done
    }

    /// The flows leaving `id`, in file order.
    pub fn outgoing(&self, id: &str) -> &[&'a Flow] {
        self.out.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The flows entering `id`, in file order.
    pub fn incoming(&self, id: &str) -> &[&'a Flow] {
        self.into.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The start events directly inside sub-process `scope` (`None`: the
    /// process).
    pub fn starts_in(&self, scope: Option<&str>) -> &[&'a Node] {
        self.starts
            .get(scope.unwrap_or_default())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Whether `n` is a gateway that only joins paths (one way out, no
    /// condition).
    pub fn is_join(&self, n: &Node) -> bool {
        n.tag == "exclusiveGateway" && matches!(self.outgoing(&n.id), [f] if f.condition.is_none())
    }

    /// Whether `n` is a parallel or inclusive gateway with one way out (a
    /// join, or a gateway that does nothing): followed through, never a
    /// step.
    pub fn is_fork_join(&self, n: &Node) -> bool {
        forks_and_joins(&n.tag) && self.outgoing(&n.id).len() == 1
    }

    /// Whether `n` is an end event inside a sub-process that has a way out:
    /// the path goes on there, so it is no step.
    pub fn continues(&self, n: &Node) -> bool {
        n.tag == "endEvent"
            && n.parent
                .as_deref()
                .is_some_and(|sub| !self.outgoing(sub).is_empty())
    }

    /// Where a flow into `n` goes on when `n` is no step: through a join,
    /// into a sub-process (what its start leads to), or out of a
    /// sub-process's end event (its way out), and through a parallel or
    /// inclusive join when `parallel`. `None` when `n` is a step (or the way on is not
    /// clear; that problem is reported with `n`).
    fn through(&self, n: &Node, parallel: bool) -> Option<&'a str> {
        let only = |id: &str| match self.outgoing(id) {
            [f] => Some(f.target.as_str()),
            _ => None,
        };
        if self.is_join(n) || (parallel && self.is_fork_join(n)) {
            only(&n.id)
        } else if n.tag == "subProcess" {
            match self.starts_in(Some(&n.id)) {
                [start] => only(&start.id),
                _ => None,
            }
        } else if self.continues(n) {
            only(n.parent.as_deref().unwrap_or_default())
        } else {
            None
        }
    }

    /// The step a flow into `target` really leads to: joins, sub-processes
    /// and sub-processes' end events followed through.
    pub fn resolve(&self, target: &str) -> String {
        self.resolved
            .get(target)
            .copied()
            .unwrap_or(target)
            .to_owned()
    }

    /// The element a flow into `target` leads to as [`Self::resolve`]
    /// finds it, but stopping at parallel and inclusive gateways (joins
    /// included).
    pub fn near<'t>(&self, target: &'t str) -> &'t str
    where
        'a: 't,
    {
        self.near.get(target).copied().unwrap_or(target)
    }

    /// The step after `n`, which must have exactly one way out, without a
    /// condition.
    pub fn single_next(&self, n: &Node, problems: &mut Vec<BpmnError>) -> Option<String> {
        self.single_next_raw(n, problems).map(|t| self.resolve(t))
    }

    /// The element `n`'s one way out leads to, joins and sub-processes not
    /// followed through; `n` must have exactly one way out, without a
    /// condition.
    pub fn single_next_raw(&self, n: &Node, problems: &mut Vec<BpmnError>) -> Option<&'a str> {
        let out = self.outgoing(&n.id);
        if let Some(f) = out.iter().find(|f| f.condition.is_some()) {
            problems.push(n.problem(format!(
                "flow `{}` has a condition; conditions belong on flows out of an exclusiveGateway",
                f.id
            )));
        }
        match out {
            [f] => Some(f.target.as_str()),
            [] => {
                problems.push(n.problem("has no outgoing sequenceFlow"));
                None
            }
            _ => {
                problems.push(n.problem(
                    "has several outgoing flows: fork them with a parallelGateway, or branch with an exclusiveGateway",
                ));
                None
            }
        }
    }
}
