//! Monitoring: per model version, where instances are, how long each step
//! takes, what is overdue and where instances are stuck.
//!
//! Times are measured from the event log (entered → left), so they are the
//! same wherever the report is computed.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::instance::{Instance, Position, Status, fold};
use super::model::Model;
use super::runner::version;

/// Statistics of one step.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StepStats {
    /// Instances whose current step this is.
    pub current: usize,
    /// How many times the step was left.
    pub completed: usize,
    /// Median seconds from entering to leaving.
    pub median_secs: Option<i64>,
    /// 90th percentile seconds from entering to leaving.
    pub p90_secs: Option<i64>,
    /// Instances here longer than the step's p90 (and at least a day), or
    /// past their task's due time.
    pub stuck: usize,
}

/// One model version's report.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct VersionReport {
    /// Model key.
    pub key: String,
    /// Version.
    pub version: i64,
    /// Instances by status.
    pub running: usize,
    /// Suspended by a person.
    pub suspended: usize,
    /// Stopped by a person.
    pub stopped: usize,
    /// Reached the end.
    pub completed: usize,
    /// Per step, in model order.
    pub steps: Vec<(String, StepStats)>,
    /// Open tasks of this version past their due time.
    pub overdue: usize,
    /// Instances the engine marked failed (a panic, a run past the step
    /// budget, a refused step): not run again, not counted as running or
    /// stuck, listed here with where they stopped and why.
    pub failed: Vec<FailedInstance>,
}

/// An instance the engine gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedInstance {
    /// The instance.
    pub instance: String,
    /// The step it stopped in.
    pub step: Option<String>,
    /// Why it was marked failed.
    pub reason: String,
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Per model version while the report is built: the report, the seconds
/// each finished visit spent in a step (by step), and (step, seconds waited
/// so far) for each instance still in a step.
type Tally = (
    VersionReport,
    BTreeMap<String, Vec<i64>>,
    Vec<(String, i64)>,
);

/// Builds the report over `instances`. `overdue_tasks` counts open tasks
/// past due per instance id (read from the index by the caller).
pub fn report(
    models: &[Model],
    instances: &[Instance],
    overdue_tasks: &BTreeMap<String, usize>,
    now: Timestamp,
) -> Vec<VersionReport> {
    report_with_failures(models, instances, overdue_tasks, &BTreeMap::new(), now)
}

/// [`report`], with the instances marked failed (`failures`: instance id →
/// reason, as the host recorded them) listed apart.
pub fn report_with_failures(
    models: &[Model],
    instances: &[Instance],
    overdue_tasks: &BTreeMap<String, usize>,
    failures: &BTreeMap<String, String>,
    now: Timestamp,
) -> Vec<VersionReport> {
    let mut out: BTreeMap<(String, i64), Tally> = BTreeMap::new();
    for inst in instances {
        let Some(started) = version(models, &inst.model_key, inst.started_version) else {
            continue;
        };
        let pos = fold(inst, &started.start);
        let Some(model) = version(models, &inst.model_key, pos.version) else {
            continue;
        };
        let tally = out
            .entry((model.file.key.clone(), model.version))
            .or_insert_with(|| empty_tally(model));
        let key = inst.id.to_string();
        if let Some(reason) = failures.get(&key) {
            tally.0.failed.push(FailedInstance {
                instance: key,
                step: pos.current().map(|c| c.step.clone()),
                reason: reason.clone(),
            });
            continue;
        }
        let overdue = overdue_tasks.get(&key).copied().unwrap_or(0);
        count(tally, model, &pos, overdue, now);
    }
    out.into_values().map(finish).collect()
}

/// A tally for `model` with every step listed and nothing counted.
fn empty_tally(model: &Model) -> Tally {
    let r = VersionReport {
        key: model.file.key.clone(),
        version: model.version,
        steps: model
            .file
            .steps
            .iter()
            .map(|s| (s.id.clone(), StepStats::default()))
            .collect(),
        ..VersionReport::default()
    };
    (r, BTreeMap::new(), Vec::new())
}

/// Counts one instance, at `pos` on `model` with `overdue` open tasks past
/// due: its status, how long its finished visits took, and how long it has
/// waited in its current step (forever, when a task is overdue).
fn count(tally: &mut Tally, model: &Model, pos: &Position, overdue: usize, now: Timestamp) {
    let (report, durations, waiting) = tally;
    for v in &pos.path {
        if let Some((_, e)) = &v.left {
            durations
                .entry(v.step.clone())
                .or_default()
                .push((e.at.as_second() - v.entered_at.as_second()).max(0));
        }
    }
    report.overdue += overdue;
    let current = pos.current();
    let at_end = current
        .and_then(|c| model.step(&c.step))
        .is_some_and(|s| matches!(s.action, super::model::Action::End));
    match pos.status {
        Status::Stopped => report.stopped += 1,
        Status::Suspended => report.suspended += 1,
        _ if at_end => report.completed += 1,
        _ => report.running += 1,
    }
    if let Some(c) = current.filter(|_| !at_end && pos.status != Status::Stopped) {
        let waited = now.as_second() - c.entered_at.as_second();
        waiting.push((c.step.clone(), if overdue > 0 { i64::MAX } else { waited }));
    }
}

/// The report of a tally: per step, visits completed, their median and
/// 90th percentile, instances there now and those stuck (waiting longer
/// than the 90th percentile, and at least a day).
fn finish((mut report, mut durations, waiting): Tally) -> VersionReport {
    for (step, stats) in &mut report.steps {
        let d = durations.entry(step.clone()).or_default();
        d.sort_unstable();
        stats.completed = d.len();
        stats.median_secs = percentile(d, 0.5);
        stats.p90_secs = percentile(d, 0.9);
        for (s, waited) in &waiting {
            if s == step {
                stats.current += 1;
                let limit = stats.p90_secs.unwrap_or(0).max(86_400);
                if *waited > limit {
                    stats.stuck += 1;
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RecordId, RecordKind};

    #[test]
    fn failed_instances_are_listed_with_their_step_and_reason_not_counted_as_running() {
        let mut model = Model::from_toml(
            r#"
key = "k"
name = "n"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "Call"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
        )
        .expect("model");
        model.version = 1;
        let at: Timestamp = "2027-01-04T09:00:00Z".parse().expect("t");
        let instance = |name: &str| {
            let record = RecordId::derived(RecordKind::Account, &[name]);
            Instance {
                id: Instance::derive_id("k", &record, at),
                model_key: "k".into(),
                model: RecordId::derived(RecordKind::ProcessModel, &["k", "1"]),
                started_version: 1,
                record,
                account: None,
                owner: Some("ana".into()),
                started_at: at,
                events: BTreeMap::new(),
                parameters: BTreeMap::new(),
            }
        };
        let (ok, bad) = (instance("a"), instance("b"));
        let mut failures = BTreeMap::new();
        failures.insert(
            bad.id.to_string(),
            "more than 256 steps in one run without waiting".to_owned(),
        );
        let out = report_with_failures(
            &[model],
            &[ok, bad.clone()],
            &BTreeMap::new(),
            &failures,
            at,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].running, 1, "{out:?}");
        assert_eq!(
            out[0].failed,
            vec![FailedInstance {
                instance: bad.id.to_string(),
                step: Some("call".into()),
                reason: "more than 256 steps in one run without waiting".into(),
            }]
        );
    }
}
