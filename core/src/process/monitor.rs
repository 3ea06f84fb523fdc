//! Monitoring: per model version, where instances are, how long each step
//! takes, what is overdue and where instances are stuck.
//!
//! Times are measured from the event log (entered → left), so they are the
//! same wherever the report is computed.
//!
//! **Overdue follow-ups.** An activity step finishes at once (it puts a
//! call on a calendar and goes on), so a missed call never holds its
//! instance up; the monitor therefore reads the activities the steps
//! created ([`StepActivity`], from the caller's index) and counts, per
//! version and step, those past due (`due_at`, else `starts_at`, before
//! now) and neither done nor cancelled, and lists them
//! ([`OverdueActivity`]). Activities of suspended, stopped or failed
//! instances are left out (held, cancelled, or listed as failed).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::engine::{self, PathVisits};
use super::instance::{Instance, Position, Status, Visit, fold};
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
    /// Running instances here longer than the step's p90 (and at least a
    /// day), or whose task here is past due (never a suspended one).
    pub stuck: usize,
    /// Activities this step created (tasks, calls, meetings...) that are
    /// past due and not done.
    pub overdue: usize,
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
    /// Activities this version's steps created (tasks, calls,
    /// meetings...) past their due time and not done.
    pub overdue: usize,
    /// Those activities, earliest due first (at most
    /// [`MAX_LISTED_OVERDUE`]; `overdue` counts them all).
    pub overdue_activities: Vec<OverdueActivity>,
    /// Instances the engine marked failed (a panic, a run past the step
    /// budget, a refused step): not run again, not counted as running or
    /// stuck, listed here with where they stopped and why.
    pub failed: Vec<FailedInstance>,
}

/// Most overdue activities listed per model version.
pub const MAX_LISTED_OVERDUE: usize = 500;

/// An activity a process step created, as the monitor needs it (read by
/// the caller from the activities it may see).
#[derive(Debug, Clone, PartialEq)]
pub struct StepActivity {
    /// The instance that created it (`process_instance`).
    pub instance: String,
    /// The step that created it (`process_step`).
    pub step: String,
    /// Its id.
    pub activity: String,
    /// Its type: task, call, meeting, visit, email.
    pub kind: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// planned, done or cancelled.
    pub status: String,
    /// When it is due: `due_at`, else `starts_at`.
    pub due: Option<Timestamp>,
}

impl StepActivity {
    /// Reads an activity record; `None` when no process step created it.
    pub fn from_record(r: &crate::record::Record) -> Option<StepActivity> {
        let instant = |k: &str| r.text(k).and_then(|t| t.parse::<Timestamp>().ok());
        Some(StepActivity {
            instance: r.text("process_instance")?.to_owned(),
            step: r.text("process_step")?.to_owned(),
            activity: r.id.to_string(),
            kind: r.text("type").unwrap_or("task").to_owned(),
            assignee: r.text("assignee").map(str::to_owned),
            status: r.text("status").unwrap_or("planned").to_owned(),
            due: instant("due_at").or_else(|| instant("starts_at")),
        })
    }

    /// Whether it is past due at `now` and still to do.
    pub fn overdue_at(&self, now: Timestamp) -> bool {
        !matches!(self.status.as_str(), "done" | "cancelled") && self.due.is_some_and(|d| d < now)
    }
}

/// A follow-up past due: which instance and step created it, who should
/// have done it, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverdueActivity {
    /// The instance.
    pub instance: String,
    /// The step that created it.
    pub step: String,
    /// The activity.
    pub activity: String,
    /// Its type (task, call, meeting...).
    pub kind: String,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// When it was due.
    pub due: Timestamp,
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

/// A report as a table for people: per model version, instances per
/// status, then one row per step (current, completed, median and p90 time,
/// stuck, overdue follow-ups), then its overdue follow-ups (instance, step,
/// activity, assignee, due) and its failed instances with why. The device CLI prints this
/// by default (`--json` prints the report itself).
pub fn table(report: &[VersionReport]) -> String {
    use std::fmt::Write as _;
    let hours = |s: Option<i64>| s.map_or("-".to_owned(), |s| format!("{:.1}h", s as f64 / 3600.0));
    let mut out = String::new();
    if report.is_empty() {
        out.push_str("no process instances\n");
    }
    for r in report {
        let _ = writeln!(
            out,
            "{} v{}: {} running, {} suspended, {} stopped, {} completed, {} failed, {} overdue",
            r.key,
            r.version,
            r.running,
            r.suspended,
            r.stopped,
            r.completed,
            r.failed.len(),
            r.overdue
        );
        let _ = writeln!(
            out,
            "  {:<24} {:>7} {:>9} {:>8} {:>8} {:>6} {:>7}",
            "step", "current", "completed", "median", "p90", "stuck", "overdue"
        );
        for (step, st) in &r.steps {
            let _ = writeln!(
                out,
                "  {:<24} {:>7} {:>9} {:>8} {:>8} {:>6} {:>7}",
                step,
                st.current,
                st.completed,
                hours(st.median_secs),
                hours(st.p90_secs),
                st.stuck,
                st.overdue
            );
        }
        for a in &r.overdue_activities {
            let _ = writeln!(
                out,
                "  overdue: {} {} ({} of {}) for {}, due {}",
                a.kind,
                a.activity,
                a.step,
                a.instance,
                a.assignee.as_deref().unwrap_or("-"),
                a.due
            );
        }
        if r.overdue > r.overdue_activities.len() {
            let _ = writeln!(
                out,
                "  overdue: {} more not listed",
                r.overdue - r.overdue_activities.len()
            );
        }
        for f in &r.failed {
            let _ = writeln!(
                out,
                "  failed: {} at {}: {}",
                f.instance,
                f.step.as_deref().unwrap_or("-"),
                f.reason
            );
        }
    }
    out
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// What a report is built from (read by the caller: the instances and
/// activities it may see, the failures its host recorded).
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Every published model version.
    pub models: &'a [Model],
    /// The instances to report on.
    pub instances: &'a [Instance],
    /// Activities process steps created (any status: the report keeps
    /// those past due and not done); those of other instances are ignored.
    pub activities: &'a [StepActivity],
    /// Instances marked failed: instance id → reason.
    pub failures: &'a BTreeMap<String, String>,
    /// Now.
    pub now: Timestamp,
}

/// Per model version while the report is built.
struct Tally {
    report: VersionReport,
    /// The seconds each finished visit spent in a step, by step.
    durations: BTreeMap<String, Vec<i64>>,
    /// For each instance still in a step: the step, the seconds waited so
    /// far, and whether it may count as stuck (running, not suspended).
    waiting: Vec<(String, i64, bool)>,
    /// Overdue activities by the step that created them.
    overdue_by_step: BTreeMap<String, usize>,
}

/// Builds the report: per model version of the instances, their statuses,
/// time per step, stuck instances, overdue follow-ups and failures.
pub fn report(inputs: &Inputs<'_>) -> Vec<VersionReport> {
    let now = inputs.now;
    let mut overdue: BTreeMap<&str, Vec<&StepActivity>> = BTreeMap::new();
    for a in inputs.activities.iter().filter(|a| a.overdue_at(now)) {
        overdue.entry(a.instance.as_str()).or_default().push(a);
    }
    let models = inputs.models;
    let mut out: BTreeMap<(String, i64), Tally> = BTreeMap::new();
    for inst in inputs.instances {
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
        if let Some(reason) = inputs.failures.get(&key) {
            tally.report.failed.push(FailedInstance {
                instance: key,
                step: pos.current().map(|c| c.step.clone()),
                reason: reason.clone(),
            });
            continue;
        }
        let late = overdue.get(key.as_str()).map_or(&[][..], Vec::as_slice);
        let paths = engine::branch_paths(inst, &pos, model);
        let open: Vec<Visit> = engine::open_visits(inst, &pos, model)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        count(tally, model, (&pos, &paths, &open), late, now);
    }
    out.into_values().map(finish).collect()
}

/// A tally for `model` with every step listed and nothing counted.
fn empty_tally(model: &Model) -> Tally {
    let report = VersionReport {
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
    Tally {
        report,
        durations: BTreeMap::new(),
        waiting: Vec::new(),
        overdue_by_step: BTreeMap::new(),
    }
}

/// Counts one instance, at `pos` on `model`, whose steps created the
/// activities `late` that are past due: its status, how long its finished
/// visits took, how long it has waited in its current step (forever, when
/// the task it waits for is past due), and its overdue follow-ups (not
/// for a suspended or stopped instance: its tasks are held or cancelled).
/// The visits of the paths of its parallel steps count as the main path's
/// do; at a parallel step, each open path's step waits (`open`: see
/// [`engine::open_visits`]).
fn count(
    tally: &mut Tally,
    model: &Model,
    (pos, paths, open): (&Position, &[PathVisits], &[Visit]),
    late: &[&StepActivity],
    now: Timestamp,
) {
    for v in pos
        .path
        .iter()
        .chain(paths.iter().flat_map(|p| p.visits.iter()))
    {
        if let Some((_, e)) = &v.left {
            tally
                .durations
                .entry(v.step.clone())
                .or_default()
                .push((e.at.as_second() - v.entered_at.as_second()).max(0));
        }
    }
    let report = &mut tally.report;
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
    let held = matches!(pos.status, Status::Suspended | Status::Stopped);
    if !held {
        for a in late {
            report.overdue += 1;
            *tally.overdue_by_step.entry(a.step.clone()).or_insert(0) += 1;
            if let Some(due) = a.due {
                report.overdue_activities.push(OverdueActivity {
                    instance: a.instance.clone(),
                    step: a.step.clone(),
                    activity: a.activity.clone(),
                    kind: a.kind.clone(),
                    assignee: a.assignee.clone(),
                    due,
                });
            }
        }
    }
    if at_end || pos.status == Status::Stopped {
        return;
    }
    for v in open {
        let waited = now.as_second() - v.entered_at.as_second();
        let past_due = late.iter().any(|a| a.step == v.step);
        let running = pos.status == Status::Running;
        tally.waiting.push((
            v.step.clone(),
            if past_due { i64::MAX } else { waited },
            running,
        ));
    }
}

/// The report of a tally: per step, visits completed, their median and
/// 90th percentile, instances there now, those stuck (running, and
/// waiting longer than the 90th percentile and at least a day, or past
/// due) and its overdue follow-ups; the list of those, earliest first.
fn finish(tally: Tally) -> VersionReport {
    let Tally {
        mut report,
        mut durations,
        waiting,
        overdue_by_step,
    } = tally;
    for (step, stats) in &mut report.steps {
        let d = durations.entry(step.clone()).or_default();
        d.sort_unstable();
        stats.completed = d.len();
        stats.median_secs = percentile(d, 0.5);
        stats.p90_secs = percentile(d, 0.9);
        stats.overdue = overdue_by_step.get(step).copied().unwrap_or(0);
        for (s, waited, may_be_stuck) in &waiting {
            if s == step {
                stats.current += 1;
                let limit = stats.p90_secs.unwrap_or(0).max(86_400);
                if *may_be_stuck && *waited > limit {
                    stats.stuck += 1;
                }
            }
        }
    }
    report
        .overdue_activities
        .sort_by(|a, b| (a.due, &a.activity).cmp(&(b.due, &b.activity)));
    report.overdue_activities.truncate(MAX_LISTED_OVERDUE);
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
        let out = report(&Inputs {
            models: &[model],
            instances: &[ok, bad.clone()],
            activities: &[],
            failures: &failures,
            now: at,
        });
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

    #[test]
    fn the_table_shows_each_version_its_steps_and_its_failed_instances() {
        let report = vec![VersionReport {
            key: "follow-up".into(),
            version: 2,
            running: 3,
            steps: vec![(
                "call".into(),
                StepStats {
                    current: 3,
                    completed: 4,
                    median_secs: Some(5_400),
                    p90_secs: None,
                    stuck: 1,
                    overdue: 1,
                },
            )],
            overdue: 1,
            overdue_activities: vec![OverdueActivity {
                instance: "process_instance:X".into(),
                step: "call".into(),
                activity: "activity:Y".into(),
                kind: "call".into(),
                assignee: Some("mia".into()),
                due: "2027-01-04T09:00:00Z".parse().expect("t"),
            }],
            failed: vec![FailedInstance {
                instance: "process_instance:X".into(),
                step: Some("call".into()),
                reason: "more than 256 steps".into(),
            }],
            ..VersionReport::default()
        }];
        let t = table(&report);
        assert!(t.starts_with("follow-up v2: 3 running, 0 suspended"), "{t}");
        assert!(t.contains("1 failed"), "{t}");
        assert!(
            t.contains("  call") && t.contains("1.5h") && t.contains(" - "),
            "{t}"
        );
        assert!(
            t.contains("failed: process_instance:X at call: more than 256 steps"),
            "{t}"
        );
        assert!(
            t.contains("overdue: call activity:Y (call of process_instance:X) for mia, due 2027-01-04T09:00:00Z"),
            "{t}"
        );
        assert!(t.contains("1 failed, 1 overdue"), "{t}");
        assert_eq!(table(&[]), "no process instances\n");
    }

    const FOLLOW_UP: &str = r#"
key = "won"
name = "Follow up a won deal"
trigger = { kind = "manual", record = "deal" }
[[steps]]
id = "call"
kind = "activity"
activity = "call"
assignee = "owner"
subject = "How is it going?"
next = "thank"
[[steps]]
id = "thank"
kind = "task"
assignee = "owner"
subject = "Send a thank-you note"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("t")
    }

    /// An instance of `won` on deal `name`, started at `started`, that left
    /// `call` at once and waits in `thank`.
    fn waiting_in_thank(name: &str, started: &str) -> Instance {
        use crate::process::instance::{Event, EventKind};
        let record = RecordId::derived(RecordKind::Deal, &[name]);
        let t = at(started);
        let mut events = BTreeMap::new();
        events.insert(
            Event::done_key(0, "call", "auto"),
            Event {
                kind: EventKind::Done,
                at: t,
                by: "engine".into(),
                pos: Some(0),
                step: Some("call".into()),
                via: Some("auto".into()),
                to: Some("thank".into()),
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            },
        );
        Instance {
            id: Instance::derive_id("won", &record, t),
            model_key: "won".into(),
            model: RecordId::derived(RecordKind::ProcessModel, &["won", "1"]),
            started_version: 1,
            record,
            account: None,
            owner: Some("ana".into()),
            started_at: t,
            events,
            parameters: BTreeMap::new(),
        }
    }

    fn suspend(inst: &mut Instance, when: &str) {
        use crate::process::instance::{Event, EventKind};
        let t = at(when);
        inst.events.insert(
            Event::control_key(t, EventKind::Suspend, "mia"),
            Event {
                kind: EventKind::Suspend,
                at: t,
                by: "mia".into(),
                pos: None,
                step: None,
                via: None,
                to: None,
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            },
        );
    }

    fn activity(inst: &Instance, step: &str, kind: &str, status: &str, due: &str) -> StepActivity {
        StepActivity {
            instance: inst.id.to_string(),
            step: step.into(),
            activity: crate::process::engine::activity_id(&inst.id, step, 0).to_string(),
            kind: kind.into(),
            assignee: Some("ana".into()),
            status: status.into(),
            due: Some(at(due)),
        }
    }

    #[test]
    fn missed_follow_up_calls_are_counted_per_step_and_listed() {
        let mut model = Model::from_toml(FOLLOW_UP).expect("model");
        model.version = 1;
        let a = waiting_in_thank("a", "2027-01-04T09:00:00Z");
        let b = waiting_in_thank("b", "2027-01-06T12:00:00Z");
        let c = waiting_in_thank("c", "2027-01-06T09:00:00Z");
        let activities = vec![
            // a's call was missed, its task too.
            activity(&a, "call", "call", "planned", "2027-01-04T09:00:00Z"),
            activity(&a, "thank", "task", "planned", "2027-01-05T09:00:00Z"),
            // b's call was made; c's is still ahead, d's was cancelled.
            activity(&b, "call", "call", "done", "2027-01-05T09:00:00Z"),
            activity(&c, "call", "call", "planned", "2027-01-20T09:00:00Z"),
            activity(&c, "thank", "task", "cancelled", "2027-01-06T09:00:00Z"),
        ];
        let out = report(&Inputs {
            models: &[model],
            instances: &[a.clone(), b, c],
            activities: &activities,
            failures: &BTreeMap::new(),
            now: at("2027-01-07T09:00:00Z"),
        });
        let r = &out[0];
        assert_eq!(r.overdue, 2, "{r:?}");
        let step = |id: &str| &r.steps.iter().find(|(s, _)| s == id).expect("step").1;
        assert_eq!(step("call").overdue, 1);
        assert_eq!(step("thank").overdue, 1);
        // The task a waits for is past due: a is stuck there (b and c have
        // waited less than a day).
        assert_eq!((step("thank").current, step("thank").stuck), (3, 1));
        let listed: Vec<(&str, &str, Option<&str>)> = r
            .overdue_activities
            .iter()
            .map(|o| (o.step.as_str(), o.kind.as_str(), o.assignee.as_deref()))
            .collect();
        assert_eq!(
            listed,
            [
                ("call", "call", Some("ana")),
                ("thank", "task", Some("ana"))
            ]
        );
        assert!(
            r.overdue_activities
                .iter()
                .all(|o| o.instance == a.id.to_string())
        );
        assert_eq!(r.overdue_activities[0].due, at("2027-01-04T09:00:00Z"));
    }

    #[test]
    fn a_suspended_instance_is_never_stuck_and_its_held_follow_ups_are_not_overdue() {
        let mut model = Model::from_toml(FOLLOW_UP).expect("model");
        model.version = 1;
        let running = waiting_in_thank("a", "2027-01-04T09:00:00Z");
        let mut held = waiting_in_thank("b", "2027-01-04T09:00:00Z");
        suspend(&mut held, "2027-01-04T10:00:00Z");
        let activities = vec![
            activity(&held, "call", "call", "planned", "2027-01-04T09:00:00Z"),
            activity(&held, "thank", "task", "planned", "2027-01-05T09:00:00Z"),
        ];
        // Both have waited in `thank` for a month, far past a day.
        let out = report(&Inputs {
            models: &[model],
            instances: &[running, held],
            activities: &activities,
            failures: &BTreeMap::new(),
            now: at("2027-02-04T09:00:00Z"),
        });
        let r = &out[0];
        assert_eq!((r.running, r.suspended), (1, 1));
        let thank = &r.steps.iter().find(|(s, _)| s == "thank").expect("step").1;
        assert_eq!(thank.current, 2, "both are there");
        assert_eq!(thank.stuck, 1, "only the running one is stuck");
        assert_eq!(r.overdue, 0, "{r:?}");
        assert!(r.overdue_activities.is_empty());
    }

    #[test]
    fn step_activities_are_read_from_activity_records() {
        let mut fields = BTreeMap::new();
        for (k, v) in [
            ("type", "call"),
            ("status", "planned"),
            ("assignee", "ana"),
            ("starts_at", "2027-01-04T09:00:00Z"),
            ("process_instance", "process_instance:X"),
            ("process_step", "call"),
        ] {
            fields.insert(k.to_owned(), crate::value::FieldValue::Text(v.into()));
        }
        let mut r = crate::record::Record {
            id: RecordId::derived(RecordKind::Activity, &["x"]),
            fields,
            conflicts: BTreeMap::new(),
            classes: Vec::new(),
        };
        let a = StepActivity::from_record(&r).expect("a process activity");
        assert_eq!(a.due, Some(at("2027-01-04T09:00:00Z")));
        assert!(a.overdue_at(at("2027-01-04T09:00:01Z")));
        assert!(!a.overdue_at(at("2027-01-04T09:00:00Z")));
        r.fields.remove("process_instance");
        assert!(StepActivity::from_record(&r).is_none(), "not a process's");
    }
}
