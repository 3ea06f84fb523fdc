//! What the paths of a `parallel` step may hold, checked over the whole
//! model.
//!
//! A path is every step reachable from its first step without passing its
//! join (the parallel step's `next`). The engine runs each path as a token
//! of its own and goes on at the join once every path has reached it, so
//! a path must be a closed block:
//!
//! - it reaches the join, and neither returns to its parallel step nor
//!   holds an end step (an instance completes on the main path only);
//! - it holds no other parallel step (parallel steps do not nest yet);
//! - paths of one step share no step, and nothing outside a path (other
//!   than its parallel step) leads into it, nor does the model start in one.
//!
//! Guarantees: every problem is reported, each naming the parallel step.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Step, successors};

/// Every problem of the model's parallel steps (none when it has none).
pub(super) fn check_paths(steps: &BTreeMap<String, Step>, start: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for fork in steps.values() {
        let (Action::Parallel { paths, .. }, Some(join)) = (&fork.action, &fork.next) else {
            continue;
        };
        let blocks: Vec<BTreeSet<&str>> = paths.iter().map(|p| block(steps, p, join)).collect();
        for (k, (first, b)) in paths.iter().zip(&blocks).enumerate() {
            let at = format!("steps.{}.paths[{k}]", fork.id);
            check_block(steps, (fork, join, first), b, &at, &mut errors);
            if b.contains(start) {
                errors.push(format!("{at}: the model starts inside this path"));
            }
            for (j, other) in blocks.iter().enumerate().skip(k + 1) {
                if let Some(shared) = b.intersection(other).next() {
                    errors.push(format!("{at}: shares step `{shared}` with paths[{j}]"));
                }
            }
            for outside in steps
                .values()
                .filter(|s| s.id != fork.id && !b.contains(s.id.as_str()))
            {
                if let Some(into) = successors(outside)
                    .into_iter()
                    .find(|n| b.contains(n.as_str()))
                {
                    errors.push(format!(
                        "steps.{}: leads into `{into}` on a path of `{}`; a path is entered only from its parallel step",
                        outside.id, fork.id
                    ));
                }
            }
        }
    }
    errors
}

/// The steps reachable from `first` without passing `join`.
fn block<'s>(steps: &'s BTreeMap<String, Step>, first: &str, join: &str) -> BTreeSet<&'s str> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![first.to_owned()];
    while let Some(id) = todo.pop() {
        let Some((key, step)) = steps.get_key_value(&id) else {
            continue;
        };
        if id == join || !seen.insert(key.as_str()) {
            continue;
        }
        todo.extend(successors(step));
    }
    seen
}

/// The problems of one path `b` of `fork` (which meets at `join`).
fn check_block(
    steps: &BTreeMap<String, Step>,
    (fork, join, first): (&Step, &str, &str),
    b: &BTreeSet<&str>,
    at: &str,
    errors: &mut Vec<String>,
) {
    if b.contains(fork.id.as_str()) {
        errors.push(format!(
            "{at}: the path from `{first}` returns to `{}`",
            fork.id
        ));
    }
    let mut reaches = false;
    for id in b {
        let Some(step) = steps.get(*id) else { continue };
        match step.action {
            Action::End => errors.push(format!(
                "{at}: `{id}` ends the instance before the path reaches `{join}`"
            )),
            Action::Parallel { .. } if *id != fork.id => errors.push(format!(
                "{at}: `{id}` is a parallel step on a path of `{}`; parallel steps do not nest",
                fork.id
            )),
            _ => {}
        }
        reaches |= successors(step).iter().any(|n| n == join);
    }
    if !reaches {
        errors.push(format!(
            "{at}: the path from `{first}` never reaches `{join}`"
        ));
    }
}
