//! Reminders: a non-interrupting boundary timer (`cancelActivity="false"`)
//! on a user task, with a path of service or send tasks that create
//! activities and then end. Each such node becomes one reminder of the
//! task, at the timer's times:
//!
//! | timer                       | `after`    | `repeat` |
//! |-----------------------------|------------|----------|
//! | `timeDuration` `P1D`        | `P1D`      | 1        |
//! | `timeCycle` `R3/P1D`        | `P1D`      | 3        |
//!
//! Guarantees: the nodes of a reminder's path (and its end event, when
//! only reminders' paths lead there) never become steps; a path that does anything
//! but create activities and end (a user task, a gateway, a `set`, a way
//! back into the process) is one problem on the boundary event; a cycle
//! `R/...` (forever) or of more than [`MAX_REMINDER_REPEAT`] is a problem;
//! walking a path takes at most one hop per node.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
use super::problems::BpmnError;
use super::read::Node;
use crate::process::model::{MAX_REMINDER_REPEAT, ReminderFile};
use crate::schema::ACTIVITY_TYPES;

/// The reminders of every task, and the nodes their paths are made of.
#[derive(Default)]
pub(super) struct Reminders<'a> {
    /// Task id → its reminders, in file order.
    pub by_task: BTreeMap<&'a str, Vec<ReminderFile>>,
    /// The nodes on reminders' paths: no steps.
    pub path: BTreeSet<&'a str>,
}

/// Whether `b` is a non-interrupting boundary event.
pub(super) fn non_interrupting(b: &Node) -> bool {
    b.tag == "boundaryEvent" && b.attrs.get("cancelActivity").map(String::as_str) == Some("false")
}

/// The reminders of every user task in `graph`, with every problem.
pub(super) fn collect<'a>(graph: &Graph<'a>, problems: &mut Vec<BpmnError>) -> Reminders<'a> {
    let mut out = Reminders::default();
    let mut ends = BTreeSet::new();
    for b in graph.nodes.iter().filter(|b| non_interrupting(b)) {
        let on = b
            .attrs
            .get("attachedToRef")
            .map(String::as_str)
            .unwrap_or_default();
        let Some(task) = graph.by_id.get(on) else {
            continue; // Reported with the boundary event.
        };
        if !matches!(task.tag.as_str(), "userTask" | "task" | "manualTask") {
            continue; // Reported with the boundary event.
        }
        // A boundary refused (a message one...) or without a timer: its
        // path is still no step, but only a timer's path is a reminder's.
        let mut ignored = Vec::new();
        let timer = b.timer.as_ref().filter(|_| !b.refused);
        let told = if timer.is_some() {
            &mut *problems
        } else {
            &mut ignored
        };
        let nodes = walk(graph, b, told, &mut out.path, &mut ends);
        let Some((kind, text)) = timer else {
            if !b.refused {
                problems.push(b.problem(
                    "only timer boundary events are supported (a deadline, or reminders when non-interrupting)",
                ));
            }
            continue;
        };
        let Some((after, repeat)) = when(b, kind, text, problems) else {
            continue;
        };
        let list = out.by_task.entry(task.id.as_str()).or_default();
        for n in nodes {
            list.push(ReminderFile {
                after: after.clone(),
                repeat,
                activity: action(n).unwrap_or_default().to_owned(),
                assignee: n.fw.get("assignee").cloned(),
                subject: n
                    .fw
                    .get("subject")
                    .cloned()
                    .or_else(|| n.name.clone().filter(|s| !s.trim().is_empty())),
                topic: n.fw.get("topic").cloned(),
            });
        }
    }
    // An end event only reminders' paths lead to (one or several) is no
    // step either.
    for end in ends {
        let only_reminders = graph.incoming(end).iter().all(|f| {
            out.path.contains(f.source.as_str())
                || graph
                    .by_id
                    .get(f.source.as_str())
                    .is_some_and(|n| non_interrupting(n))
        });
        if only_reminders {
            out.path.insert(end);
        }
    }
    out
}

/// The activity a service or send task on a reminder's path creates (a
/// send task: `email` unless it says otherwise).
fn action(n: &Node) -> Option<&str> {
    match n.fw.get("action") {
        Some(a) => Some(a.as_str()),
        None if n.tag == "sendTask" => Some("email"),
        None => None,
    }
}

/// When the reminders come: `after` and how many times (`None`: once).
fn when(
    b: &Node,
    kind: &str,
    text: &str,
    problems: &mut Vec<BpmnError>,
) -> Option<(String, Option<u32>)> {
    let text = text.trim();
    match kind {
        "timeDuration" => Some((text.to_owned(), None)),
        "timeCycle" => match cycle(text) {
            Ok(c) => Some(c),
            Err(why) => {
                problems.push(b.problem(format!("timeCycle `{text}`: {why}")));
                None
            }
        },
        _ => {
            problems.push(b.problem(format!(
                "a reminder needs a timeDuration (once) or a timeCycle R<n>/<duration>, not a {kind}"
            )));
            None
        }
    }
}

/// A reminder's cycle `R<n>/<duration>`: the duration and `n` (1 to
/// [`MAX_REMINDER_REPEAT`]).
fn cycle(text: &str) -> Result<(String, Option<u32>), String> {
    let shape = format!("use R<n>/<duration> with n from 1 to {MAX_REMINDER_REPEAT}, e.g. R3/P1D");
    let (count, duration) = text
        .strip_prefix('R')
        .and_then(|t| t.split_once('/'))
        .filter(|(_, d)| !d.is_empty() && !d.contains('/'))
        .ok_or_else(|| shape.clone())?;
    if count.is_empty() {
        return Err(format!("R/ repeats forever; {shape}"));
    }
    match count.parse::<u32>() {
        Ok(n) if (1..=MAX_REMINDER_REPEAT).contains(&n) => Ok((duration.to_owned(), Some(n))),
        _ => Err(shape),
    }
}

/// The nodes creating activities on the path out of boundary event `b`,
/// in order; every node walked goes to `path` unless something else leads
/// there too, and the end event it reaches to `ends`. A path doing anything
/// else is one problem.
fn walk<'a>(
    graph: &Graph<'a>,
    b: &'a Node,
    problems: &mut Vec<BpmnError>,
    path: &mut BTreeSet<&'a str>,
    ends: &mut BTreeSet<&'a str>,
) -> Vec<&'a Node> {
    let mut creates = Vec::new();
    let mut at = b;
    let off_path = |n: &Node, why: String| {
        b.problem(format!(
            "a reminder's path may only create activities and end: <{}> `{}` {why}",
            n.tag, n.id
        ))
    };
    for _ in 0..graph.nodes.len() {
        let Some(next) = graph.single_next_raw(at, problems) else {
            return creates;
        };
        let Some(n) = graph.by_id.get(next).copied() else {
            return creates; // A refused element, or no element: reported.
        };
        if n.tag == "endEvent" {
            ends.insert(&n.id);
            return creates;
        }
        let shared = graph.incoming(&n.id).iter().any(|f| f.source != at.id);
        if shared || path.contains(n.id.as_str()) {
            problems.push(off_path(n, "leads back into the process".into()));
            return creates;
        }
        if !matches!(n.tag.as_str(), "serviceTask" | "sendTask") {
            problems.push(off_path(n, "is on it".into()));
            path.insert(&n.id);
            return creates;
        }
        path.insert(&n.id);
        match action(n) {
            Some(a) if ACTIVITY_TYPES.contains(&a) => {
                for what in ["offset", "duration"] {
                    if n.fw.contains_key(what) {
                        problems.push(n.problem(format!(
                            "fieldwork:{what} does not apply to a reminder (it comes when the timer fires)"
                        )));
                    }
                }
                creates.push(n);
            }
            Some(a) => problems.push(off_path(
                n,
                format!("has action `{a}`, which creates no activity"),
            )),
            None => problems.push(n.problem(
                "a serviceTask needs fieldwork:action (call, meeting, visit, email, task or set)",
            )),
        }
        at = n;
    }
    creates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_repeats_one_to_ten_times_never_forever() {
        assert_eq!(cycle("R3/P1D"), Ok(("P1D".to_owned(), Some(3))));
        assert_eq!(cycle("R10/PT4H"), Ok(("PT4H".to_owned(), Some(10))));
        assert!(cycle("R/P1D").expect_err("forever").contains("forever"));
        assert!(cycle("R11/P1D").is_err());
        assert!(cycle("R0/P1D").is_err());
        assert!(cycle("R3/2027-01-01T09:00:00Z/P1D").is_err());
        assert!(cycle("P1D").is_err());
        assert!(cycle("R3/").is_err());
    }
}
