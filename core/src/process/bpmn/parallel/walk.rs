//! Walking a process element by element to match parallel and inclusive
//! forks with their joins: along sequence flows ([`Graph::near`]: through
//! exclusive joins and sub-processes, stopping at parallel and inclusive
//! gateways) and from a task to its interrupting boundary events (a
//! deadline's path is part of the task's).
//!
//! Guarantees: each walk visits an element once and is breadth-first, so
//! the distances it gives are the fewest flows from where it started.

use std::collections::{BTreeMap, VecDeque};

use super::super::graph::{Graph, forks_and_joins};
use super::super::read::Node;
use super::super::reminders;

/// The process as the walks see it.
pub(super) struct Walk<'a, 'g> {
    /// The process.
    graph: &'g Graph<'a>,
    /// The interrupting boundary events of each task, by the task's id.
    boundaries: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a, 'g> Walk<'a, 'g> {
    /// The walks of `graph`.
    pub fn new(graph: &'g Graph<'a>) -> Self {
        let mut boundaries: BTreeMap<&'a str, Vec<&'a str>> = BTreeMap::new();
        for b in graph.nodes {
            if b.tag == "boundaryEvent"
                && !reminders::non_interrupting(b)
                && let Some(on) = b.attrs.get("attachedToRef")
            {
                boundaries.entry(on.as_str()).or_default().push(&b.id);
            }
        }
        Walk { graph, boundaries }
    }

    /// The node `id`, if it is one.
    pub fn node(&self, id: &str) -> Option<&'a Node> {
        self.graph.by_id.get(id).copied()
    }

    /// Every element reached from `first`, with the fewest flows to it;
    /// the elements in `stop` are reached but not walked on from.
    pub fn from(&self, first: &'a str, stop: &[&str]) -> BTreeMap<&'a str, usize> {
        let mut reached = BTreeMap::from([(first, 0)]);
        let mut todo = VecDeque::from([(first, 0)]);
        while let Some((id, d)) = todo.pop_front() {
            if stop.contains(&id) {
                continue;
            }
            for next in self.after(id) {
                if !reached.contains_key(next) {
                    reached.insert(next, d + 1);
                    todo.push_back((next, d + 1));
                }
            }
        }
        reached
    }

    /// The elements one step after `id`.
    fn after(&self, id: &str) -> impl Iterator<Item = &'a str> + '_ {
        let graph = self.graph;
        let flows = graph.outgoing(id).iter().map(|f| graph.near(&f.target));
        let boundaries = self.boundaries.get(id).into_iter().flatten().copied();
        flows.chain(boundaries)
    }

    /// Whether `id` is a converging parallel or inclusive gateway (two or
    /// more ways in), of either kind: a fork met by a join of the other
    /// kind is a problem said with the fork.
    fn is_join(&self, id: &str) -> bool {
        self.node(id).is_some_and(|n| forks_and_joins(&n.tag)) && self.graph.incoming(id).len() >= 2
    }

    /// The converging gateways ([`Self::is_join`]) in `reached`, nearest first (ties
    /// in file order).
    pub fn joins_by_distance(&self, reached: &BTreeMap<&'a str, usize>) -> Vec<&'a str> {
        let mut joins: Vec<(usize, u64, &'a str)> = reached
            .iter()
            .filter(|(id, _)| self.is_join(id))
            .map(|(id, d)| (*d, self.line(id), *id))
            .collect();
        joins.sort();
        joins.into_iter().map(|(_, _, id)| id).collect()
    }

    /// The converging gateway ([`Self::is_join`]) every walk in `reached` reached,
    /// the one whose farthest distance is least (ties in file order).
    pub fn common_join(&self, reached: &[BTreeMap<&'a str, usize>]) -> Option<&'a str> {
        reached
            .first()?
            .keys()
            .filter(|id| self.is_join(id))
            .filter_map(|id| {
                let ds: Option<Vec<usize>> = reached.iter().map(|r| r.get(id).copied()).collect();
                let farthest = ds?.into_iter().max()?;
                Some((farthest, self.line(id), *id))
            })
            .min()
            .map(|(_, _, id)| id)
    }

    /// The line of element `id` (0 when it is no node).
    fn line(&self, id: &str) -> u64 {
        self.node(id).map_or(0, |n| n.line)
    }
}
