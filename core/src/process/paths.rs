//! Where the paths of an instance's parallel steps stand, folded from its
//! log with the model: what the engine runs, the card and the monitor show,
//! and gateways read outcomes from.
//!
//! Guarantees: a pure function of (instance, position, model): every
//! replica with the same log finds the same paths.

use super::instance::{Event, Instance, Position, Visit, fold_branch};
use super::model::{Action as StepAction, Model};

/// One path of a parallel step on an instance's path, as far as its log
/// goes.
#[derive(Debug, Clone, PartialEq)]
pub struct PathVisits {
    /// Its scope (see [`Event::branch_scope`]).
    pub scope: String,
    /// The parallel step it belongs to.
    pub fork: String,
    /// That step's position on the main path.
    pub fork_pos: u32,
    /// Where its paths meet.
    pub join: String,
    /// Its visits; the last is current, or the join once it has arrived.
    pub visits: Vec<Visit>,
}

impl PathVisits {
    /// The step the path waits at, unless it has reached the join.
    pub fn current(&self) -> Option<&Visit> {
        self.visits
            .last()
            .filter(|v| v.left.is_none() && v.step != self.join)
    }
}

/// Every path of every parallel step on `position`'s main path, by
/// `model` (the version in force).
pub fn branch_paths(instance: &Instance, position: &Position, model: &Model) -> Vec<PathVisits> {
    let mut out = Vec::new();
    for v in &position.path {
        let Some(step) = model.step(&v.step) else {
            continue;
        };
        let (StepAction::Parallel { paths, .. }, Some(join)) = (&step.action, &step.next) else {
            continue;
        };
        for (k, first) in paths.iter().enumerate() {
            let scope = Event::branch_scope(v.pos, &v.step, k);
            let visits = fold_branch(instance, &scope, first, v.entered_at);
            out.push(PathVisits {
                scope,
                fork: v.step.clone(),
                fork_pos: v.pos,
                join: join.clone(),
                visits,
            });
        }
    }
    out
}

/// The steps the instance waits at now: the main path's current step, or,
/// while that is a parallel step, the current step of each of its paths
/// that has not reached the join; each with its path's scope.
pub fn open_visits(
    instance: &Instance,
    position: &Position,
    model: &Model,
) -> Vec<(Option<String>, Visit)> {
    let Some(current) = position.current() else {
        return Vec::new();
    };
    if !matches!(
        model.step(&current.step).map(|s| &s.action),
        Some(StepAction::Parallel { .. })
    ) {
        return vec![(None, current.clone())];
    }
    branch_paths(instance, position, model)
        .into_iter()
        .filter(|p| p.fork_pos == current.pos)
        .filter_map(|p| p.current().cloned().map(|v| (Some(p.scope.clone()), v)))
        .collect()
}
