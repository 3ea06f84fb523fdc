//! Parallel steps (BPMN's parallel gateway, fork and join): each path runs
//! as a token of its own, and the instance goes on at the join once every
//! path has reached it.
//!
//! A path's `done` events carry its scope (`PPPP.FORK.K`: the parallel
//! step, where the main path entered it, and which path) and count their
//! positions from zero; its activities, reminders and created records
//! derive their ids from `SCOPE/STEP` ([`step_label`]). The main path
//! leaves the parallel step `via: join`, dated when the last path reached
//! the join.
//!
//! Guarantees:
//! - **One history per path**: within a path, as on the main path, the
//!   earliest way out of a step wins on every replica
//!   ([`fold_branch`]); paths never share a step (checked at publish), so
//!   what one path does leaves another's ids and log keys alone.
//! - **The join waits for every path** and is dated by the latest
//!   arrival, the same on every replica whichever order it learns them in.
//! - **One budget**: steps on every path count against the run's
//!   [`super::MAX_STEPS_PER_RUN`].
//! - **An inclusive step decides each path once**: a path whose condition
//!   does not hold is logged skipped (`via: skip`, dated when the step was
//!   entered) unless it has started here; see `docs/PROCESSES.md`.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{ENGINE, Here, Run, activity_id, reminder_ids};
use crate::ids::RecordId;
use crate::process::condition::Condition;
use crate::process::instance::{Event, EventKind, Instance, MAX_POS, fold_branch, step_label};
use crate::process::model::{Action as StepAction, Model};

impl Run<'_, '_> {
    /// A parallel or inclusive step: skips the paths an inclusive step does
    /// not take, runs each other path as far as it goes, and leaves (to the
    /// join) once every path has reached it.
    pub(super) fn parallel(
        &mut self,
        at: &Here<'_>,
        paths: &[String],
        (when, default): (&[Option<Condition>], Option<usize>),
    ) -> Option<(String, Event)> {
        let join = at.step.next.clone()?;
        let active = self.active_paths(at, when, default);
        let mut met = Some(at.entered);
        for (k, first) in paths.iter().enumerate() {
            let scope = Event::branch_scope(at.pos, &at.step.id, k);
            if !active.get(k).copied().unwrap_or(true) {
                self.skip(at, (&scope, first), &join);
            }
            let arrived = self.run_path(&scope, first, &join, at.entered);
            met = met.zip(arrived).map(|(a, b)| a.max(b));
        }
        Some(at.left("join", met?, ENGINE, Some(join)))
    }

    /// Which paths of an inclusive step run: those whose condition holds
    /// now, the default when none does; every path of a parallel step.
    fn active_paths(
        &self,
        at: &Here<'_>,
        when: &[Option<Condition>],
        default: Option<usize>,
    ) -> Vec<bool> {
        if when.iter().all(Option::is_none) {
            return vec![true; when.len()];
        }
        let fields = self.condition_fields(at.record);
        let holds: Vec<bool> = when
            .iter()
            .map(|w| w.as_ref().is_some_and(|c| c.eval(&fields)))
            .collect();
        let any = holds.iter().any(|h| *h);
        (0..when.len())
            .map(|k| holds[k] || (Some(k) == default && !any))
            .collect()
    }

    /// Marks path `scope` (first step `first`) of the inclusive step at
    /// `at` as not taken, unless it has started already (a step of it was
    /// left, or its first activity exists): it reaches the join when the
    /// step was entered.
    fn skip(&mut self, at: &Here<'_>, (scope, first): (&str, &str), join: &str) {
        let started = self
            .instance
            .events
            .values()
            .any(|e| e.branch.as_deref() == Some(scope));
        let label = step_label(Some(scope), first);
        let planned = super::status_of(
            self.inputs,
            &activity_id(&self.instance.id, &label, 0),
            &self.created,
        )
        .is_some();
        let Some(step) = self.inputs.model.step(first) else {
            return;
        };
        if started || planned {
            return;
        }
        let here = Here {
            step,
            record: at.record,
            pos: 0,
            entered: at.entered,
            branch: Some(scope),
        };
        let (key, event) = here.left("skip", at.entered, ENGINE, Some(join.to_owned()));
        self.log(key, event);
    }

    /// Runs path `scope` (from `first`, entered at `entered`) as far as it
    /// goes: when it has reached `join`, when it arrived there.
    fn run_path(
        &mut self,
        scope: &str,
        first: &str,
        join: &str,
        entered: Timestamp,
    ) -> Option<Timestamp> {
        loop {
            let visits = fold_branch(&self.instance, scope, first, entered);
            let current = visits.last()?;
            if current.step == join && current.left.is_none() {
                return Some(current.entered_at);
            }
            if current.left.is_some() {
                return None; // a step left to nowhere: nothing runs on
            }
            let (key, event) = self.advance(current, Some(scope))?;
            self.log(key, event);
        }
    }
}

/// Ids of every activity and reminder on the paths of parallel steps that
/// the instance may have made (see [`lanes`]).
pub(super) fn candidate_activities(instance: &Instance, models: &[&Model]) -> Vec<RecordId> {
    let steps = steps_with_activities(models);
    let mut out = BTreeSet::new();
    for (scope, last) in lanes(instance, models) {
        for pos in 0..=last {
            for (step, reminders) in &steps {
                let label = step_label(Some(&scope), step);
                out.insert(activity_id(&instance.id, &label, pos));
                out.extend(reminder_ids(&instance.id, &label, pos, reminders));
            }
        }
    }
    out.into_iter().collect()
}

/// The paths of parallel steps the instance may have run, each with the
/// last position a visit on it may have: each path the log names (one past
/// the furthest position it mentions), and each path of a parallel step
/// the main path entered (its first position).
pub(super) fn lanes(instance: &Instance, models: &[&Model]) -> BTreeMap<String, u32> {
    let forks: BTreeMap<&str, usize> = models
        .iter()
        .flat_map(|m| m.steps.values())
        .filter_map(|s| match &s.action {
            StepAction::Parallel { paths, .. } => Some((s.id.as_str(), paths.len())),
            _ => None,
        })
        .collect();
    if forks.is_empty() {
        return BTreeMap::new();
    }
    let mut scopes: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let enter = |scopes: &mut BTreeMap<String, (u32, u32)>, pos: u32, fork: &str| {
        for k in 0..forks.get(fork).copied().unwrap_or(0) {
            scopes.entry(Event::branch_scope(pos, fork, k)).or_default();
        }
    };
    for m in models {
        enter(&mut scopes, 0, &m.start);
    }
    for e in instance
        .events
        .values()
        .filter(|e| e.kind == EventKind::Done)
    {
        let Some(pos) = e.pos.filter(|p| *p <= MAX_POS) else {
            continue;
        };
        match &e.branch {
            Some(scope) => {
                let (furthest, count) = scopes.entry(scope.clone()).or_default();
                *furthest = (*furthest).max(pos + 1);
                *count += 1;
            }
            None => {
                if let Some(to) = e.to.as_deref() {
                    enter(&mut scopes, pos + 1, to);
                }
            }
        }
    }
    // A path reaches position `p` only through an event at each position
    // before it: a forged position cannot widen the search.
    scopes
        .into_iter()
        .map(|(scope, (furthest, count))| (scope, furthest.min(count)))
        .collect()
}

/// The task and activity steps of every version in `models`, with their
/// reminders.
fn steps_with_activities<'m>(
    models: &[&'m Model],
) -> Vec<(&'m str, &'m [crate::process::model::Reminder])> {
    models
        .iter()
        .flat_map(|m| m.steps.values())
        .filter_map(|s| match &s.action {
            StepAction::Task { reminders, .. } => Some((s.id.as_str(), reminders.as_slice())),
            StepAction::Activity { .. } => Some((s.id.as_str(), &[][..])),
            _ => None,
        })
        .collect()
}
