//! From the nodes and flows read out of a `<process>` to a [`ModelFile`]:
//! the trigger from the start event, one step per node, the model's key.
//!
//! Guarantees: every problem is collected (building goes on past one);
//! every flow connects known elements ([`Graph`]); a gateway with one way
//! out and no condition (a join), a sub-process, its start and the end
//! events it goes on from are followed through, never steps; so is a
//! parallel or inclusive gateway with one way out (a join: [`parallel`]);
//! the catch events after an event-based gateway ([`wait`]) and the nodes
//! of a reminder's path ([`reminders`]) are read into another step, never
//! steps themselves; a start event without a trigger makes a manual-start
//! model.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
use super::parallel::{self, Fork};
use super::problems::BpmnError;
use super::read::{Node, Process};
use super::reminders::{self, Reminders};
use super::{calls, subprocess, wait};
use crate::ids::RecordKind;
use crate::process::model::{BranchFile, ModelFile, StepFile, StepKind, TriggerFile, TriggerKind};

/// What the steps are built from: the graph, and what other steps read.
struct Parts<'a> {
    /// The process as a graph.
    graph: Graph<'a>,
    /// The reminders of tasks, and the nodes of their paths.
    reminders: Reminders<'a>,
    /// The catch nodes read into event-based gateways' steps.
    after_gateways: BTreeSet<&'a str>,
    /// The parallel and inclusive gateways that fork (the others are no
    /// steps).
    forks: BTreeMap<&'a str, Fork>,
}

/// Builds the model of process `p`, pushing every problem to `problems`.
pub(super) fn build(p: &Process, problems: &mut Vec<BpmnError>) -> ModelFile {
    let graph = Graph::new(p, problems);
    let start = the_start(&graph, p, problems);
    let trigger = trigger(start.unwrap_or(&p.node), &p.node, problems);
    let first = start.and_then(|s| graph.single_next(s, problems));
    let parts = Parts {
        reminders: reminders::collect(&graph, problems),
        after_gateways: wait::after_gateways(&graph),
        forks: parallel::collect(&graph, problems),
        graph,
    };
    let mut steps = Vec::new();
    for n in &p.nodes {
        if let Some(step) = step(&parts, n, problems) {
            steps.push(step);
        }
    }
    let key = key(&p.node);
    ModelFile {
        name: p
            .node
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| key.clone()),
        key,
        description: String::new(),
        trigger,
        start: first,
        steps,
        parameters: parameters(&p.node, problems),
    }
}

/// `fieldwork:parameters="follow_up:duration,caller:user"` on the process:
/// the parameters its steps read (types are checked with the model).
fn parameters(process: &Node, problems: &mut Vec<BpmnError>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(list) = process.fw.get("parameters") else {
        return out;
    };
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once(':') {
            Some((name, ty)) => {
                out.insert(name.trim().to_owned(), ty.trim().to_owned());
            }
            None => problems.push(process.problem(format!(
                "fieldwork:parameters: `{item}` is not NAME:TYPE (text, number, date, duration or user)"
            ))),
        }
    }
    out
}

/// The one start event of the process (sub-processes' own start events
/// aside).
fn the_start<'p>(
    graph: &Graph<'p>,
    p: &'p Process,
    problems: &mut Vec<BpmnError>,
) -> Option<&'p Node> {
    match graph.starts_in(None) {
        [start] => Some(start),
        [] => {
            problems.push(p.node.problem("a process needs a startEvent; it has none"));
            None
        }
        several => {
            for s in several {
                problems.push(s.problem(format!(
                    "one of {} start events; a process needs exactly one",
                    several.len()
                )));
            }
            None
        }
    }
}

/// The trigger the start event describes: the kind of record (on the event
/// or the process; any kind for a manual start), then how it starts (a
/// `fieldwork:trigger`, a condition, a timer cycle, or by hand).
fn trigger(start: &Node, process: &Node, problems: &mut Vec<BpmnError>) -> TriggerFile {
    let record_text = start.fw.get("record").or_else(|| process.fw.get("record"));
    let record = record_text.and_then(|t| match t.parse::<RecordKind>() {
        Ok(k) => Some(k),
        Err(_) => {
            problems.push(start.problem(format!(
                "fieldwork:record `{t}` is not account, contact, deal or activity"
            )));
            None
        }
    });
    let mut trigger = TriggerFile {
        kind: TriggerKind::Manual,
        record,
        condition: None,
        every: None,
        from: None,
    };
    match (start.fw.get("trigger"), &start.conditional, &start.timer) {
        (Some(t), _, _) => {
            trigger.kind = trigger_kind(start, t, problems);
            trigger.condition = start
                .fw
                .get("condition")
                .cloned()
                .or_else(|| start.conditional.as_deref().map(super::expression));
        }
        (None, Some(c), _) => {
            trigger.kind = TriggerKind::FieldChange;
            trigger.condition = Some(super::expression(c));
        }
        (None, None, Some((kind, text))) if kind == "timeCycle" => {
            schedule(start, text, &mut trigger, problems);
        }
        (None, None, Some((kind, _))) => problems.push(start.problem(format!(
            "a start timer needs a timeCycle (R/START/PERIOD), not a {kind}"
        ))),
        (None, None, None) => {}
    }
    if trigger.record.is_none() && record_text.is_none() && trigger.kind != TriggerKind::Manual {
        problems.push(start.problem(
            "this start needs fieldwork:record=\"account|contact|deal|activity\": the kind of record it watches (only a manual start runs on any record)",
        ));
    }
    trigger
}

/// The trigger kind a `fieldwork:trigger` names.
fn trigger_kind(start: &Node, name: &str, problems: &mut Vec<BpmnError>) -> TriggerKind {
    match name {
        "record_created" => TriggerKind::RecordCreated,
        "field_change" => TriggerKind::FieldChange,
        "manual" => TriggerKind::Manual,
        "schedule" => TriggerKind::Schedule,
        other => {
            problems.push(start.problem(format!(
                "fieldwork:trigger `{other}` is not record_created, field_change, manual or schedule"
            )));
            TriggerKind::Manual
        }
    }
}

/// A schedule trigger from a start timer's `timeCycle` `R/START/PERIOD`.
fn schedule(start: &Node, text: &str, trigger: &mut TriggerFile, problems: &mut Vec<BpmnError>) {
    let parts: Vec<&str> = text.trim().split('/').collect();
    let [_, from, every] = parts.as_slice() else {
        problems.push(start.problem(format!(
            "timeCycle `{text}`: use R/START/PERIOD, e.g. R/2027-01-01T08:00:00Z/P7D"
        )));
        return;
    };
    trigger.kind = TriggerKind::Schedule;
    trigger.from = Some((*from).to_owned());
    trigger.every = Some((*every).to_owned());
    trigger.condition = start.fw.get("condition").cloned();
}

/// The step a node becomes; `None` for start events, boundary events
/// (read with their task), joins (exclusive, parallel and inclusive),
/// parallel and inclusive gateways with a problem, sub-processes and the
/// end events they go on from, nodes read into another step, and nodes
/// with a problem.
fn step(parts: &Parts<'_>, n: &Node, problems: &mut Vec<BpmnError>) -> Option<StepFile> {
    let graph = &parts.graph;
    let before = problems.len();
    let name = n.name.clone().filter(|s| !s.trim().is_empty());
    let mut s = StepFile {
        id: n.id.clone(),
        name: name.clone(),
        ..StepFile::default()
    };
    let elsewhere = parts.reminders.path.contains(n.id.as_str())
        || parts.after_gateways.contains(n.id.as_str());
    match n.tag.as_str() {
        // Refused while reading: said once, not built.
        _ if n.refused && n.tag != "boundaryEvent" => return None,
        _ if elsewhere => return None,
        "startEvent" => return None,
        "boundaryEvent" => {
            attached(graph, n, problems);
            return None;
        }
        "subProcess" => {
            subprocess::check(graph, n, problems);
            return None;
        }
        "endEvent" if graph.continues(n) => return None,
        "exclusiveGateway" if graph.is_join(n) => return None,
        "exclusiveGateway" => gateway(graph, n, &mut s, problems),
        "eventBasedGateway" => wait::gateway(graph, n, &mut s, problems),
        "parallelGateway" | "inclusiveGateway" => parts.forks.get(n.id.as_str())?.fill(&mut s),
        "endEvent" => s.kind = StepKind::End,
        "userTask" | "task" | "manualTask" => {
            user_task(parts, n, name, &mut s, problems);
        }
        "serviceTask" | "sendTask" => service_task(graph, n, name, &mut s, problems),
        "callActivity" => calls::step(graph, n, &mut s, problems),
        "intermediateCatchEvent" if n.timer.is_some() => timer(graph, n, &mut s, problems),
        "intermediateCatchEvent" | "receiveTask" => wait::single(graph, n, &mut s, problems),
        _ => problems.push(n.problem("unsupported BPMN element")),
    }
    (problems.len() == before).then_some(s)
}

/// A boundary event must sit on a task (its deadline or reminders are read
/// there).
fn attached(graph: &Graph<'_>, b: &Node, problems: &mut Vec<BpmnError>) {
    let on = b
        .attrs
        .get("attachedToRef")
        .map(String::as_str)
        .unwrap_or_default();
    match graph.by_id.get(on) {
        Some(t) if matches!(t.tag.as_str(), "userTask" | "task" | "manualTask") => {}
        Some(t) if t.tag == "subProcess" => problems.push(b.problem(format!(
            "a boundary event on a sub-process (`{on}`) is not supported yet: put the timer on a task inside it"
        ))),
        Some(t) if t.tag == "callActivity" => problems.push(b.problem(format!(
            "boundary events on a call activity are not supported yet (attached to `{on}`): put the timer on a task of the called model"
        ))),
        Some(t) => problems.push(b.problem(format!(
            "a boundary timer is supported on a user task, not on <{}> `{on}`",
            t.tag
        ))),
        None => {
            problems.push(b.problem(format!("attachedToRef `{on}` is not a task of the process")))
        }
    }
}

/// A gateway's branches: one per conditional flow, the default flow aside.
fn gateway(graph: &Graph<'_>, n: &Node, s: &mut StepFile, problems: &mut Vec<BpmnError>) {
    s.kind = StepKind::Gateway;
    for f in graph.outgoing(&n.id) {
        if Some(&f.id) == n.attrs.get("default") {
            s.default = Some(graph.resolve(&f.target));
            continue;
        }
        match &f.condition {
            Some(c) => s.branches.push(BranchFile {
                condition: super::expression(c),
                next: graph.resolve(&f.target),
            }),
            None => problems.push(n.problem(format!(
                "flow `{}` has no conditionExpression and is not the gateway's default",
                f.id
            ))),
        }
    }
}

/// A user (or plain, or manual) task, with the deadline its interrupting
/// boundary timer sets (at most one) and the reminders its non-interrupting
/// ones create.
fn user_task(
    parts: &Parts<'_>,
    n: &Node,
    name: Option<String>,
    s: &mut StepFile,
    problems: &mut Vec<BpmnError>,
) {
    s.kind = StepKind::Task;
    s.assignee = n.fw.get("assignee").cloned().or(Some("owner".into()));
    s.subject = n.fw.get("subject").cloned().or(name);
    s.topic = n.fw.get("topic").cloned();
    s.due = n.fw.get("due").cloned();
    s.outcome = n.fw.get("outcome").cloned();
    s.due_param = n.fw.get("dueParam").cloned();
    let graph = &parts.graph;
    s.next = graph.single_next(n, problems);
    if let Some(r) = parts.reminders.by_task.get(n.id.as_str()) {
        s.reminders = r.clone();
    }
    let boundaries: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|b| {
            b.tag == "boundaryEvent"
                && !reminders::non_interrupting(b)
                && b.attrs.get("attachedToRef").map(String::as_str) == Some(&n.id)
        })
        .collect();
    match boundaries.as_slice() {
        [] => {}
        [b] => deadline(graph, b, s, problems),
        [_, rest @ ..] => {
            for b in rest {
                problems.push(b.problem(format!(
                    "task `{}` has several interrupting boundary events; one deadline is supported",
                    n.id
                )));
            }
        }
    }
}

/// A task's deadline from its boundary event, which must be a duration
/// timer.
fn deadline(graph: &Graph<'_>, b: &Node, s: &mut StepFile, problems: &mut Vec<BpmnError>) {
    match &b.timer {
        Some((kind, text)) if kind == "timeDuration" => {
            s.deadline = Some(text.trim().to_owned());
            s.on_deadline = graph.single_next(b, problems);
        }
        Some((kind, _)) => {
            problems.push(b.problem(format!("a deadline needs a timeDuration, not a {kind}")))
        }
        None if b.refused => {}
        None => problems.push(b.problem("only timer boundary events (deadlines) are supported")),
    }
}

/// A service task: a `set` step or an activity to plan; a send task is the
/// same, its action `email` unless it says otherwise.
fn service_task(
    graph: &Graph<'_>,
    n: &Node,
    name: Option<String>,
    s: &mut StepFile,
    problems: &mut Vec<BpmnError>,
) {
    s.next = graph.single_next(n, problems);
    let email = String::from("email");
    let action = match n.fw.get("action") {
        Some(a) => a,
        None if n.tag == "sendTask" => &email,
        None => {
            problems.push(n.problem(
                "a serviceTask needs fieldwork:action (call, meeting, visit, email, task, set, create or notify)",
            ));
            return;
        }
    };
    match action.as_str() {
        "set" => {
            s.kind = StepKind::Set;
            s.field = n.fw.get("field").cloned();
            s.value = n.fw.get("value").cloned();
            return;
        }
        "notify" => {
            s.kind = StepKind::Notify;
            s.notify = n.fw.get("notice").cloned();
            return;
        }
        "create" => {
            s.kind = StepKind::Create;
            s.create = n.fw.get("create").and_then(|k| k.trim().parse().ok());
            if s.create.is_none() {
                problems.push(n.problem(
                    "fieldwork:create names the kind of record (account, contact, deal or activity)",
                ));
            }
            s.fields = created_fields(n.fw.get("fields").map_or("", String::as_str));
            return;
        }
        _ => {}
    }
    s.kind = StepKind::Activity;
    s.activity = Some(action.clone());
    s.assignee = n.fw.get("assignee").cloned().or(Some("owner".into()));
    s.subject = n.fw.get("subject").cloned().or(name);
    s.topic = n.fw.get("topic").cloned();
    s.offset = n.fw.get("offset").cloned();
    if let Some(d) = n.fw.get("duration") {
        match d.parse() {
            Ok(m) => s.duration_minutes = Some(m),
            Err(_) => problems.push(n.problem(format!(
                "fieldwork:duration `{d}` is not a number of minutes"
            ))),
        }
    }
}

/// `fieldwork:fields="name={name}: first order; account={id}"`: each
/// `FIELD=TEMPLATE`, separated by `;` (a value cannot hold one).
fn created_fields(text: &str) -> std::collections::BTreeMap<String, String> {
    text.split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(f, v)| (f.trim().to_owned(), v.trim().to_owned()))
        .filter(|(f, _)| !f.is_empty())
        .collect()
}

/// An intermediate timer: a duration, or until a date field of the record.
fn timer(graph: &Graph<'_>, n: &Node, s: &mut StepFile, problems: &mut Vec<BpmnError>) {
    s.kind = StepKind::Timer;
    s.next = graph.single_next(n, problems);
    s.duration_param = n.fw.get("durationParam").cloned();
    match &n.timer {
        Some((kind, text)) if kind == "timeDuration" => {
            s.duration = Some(text.trim().to_owned());
        }
        Some((kind, text)) if kind == "timeDate" => {
            let field = super::expression(text);
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                problems.push(n.problem(format!(
                    "timeDate `{text}`: use ${{field}}, a date field of the record"
                )));
            }
            s.until_field = Some(field);
        }
        Some((kind, _)) => problems.push(n.problem(format!(
            "a timer step needs a timeDuration or a timeDate, not a {kind}"
        ))),
        None => {}
    }
}

/// The model's key: `fieldwork:key` or the process id, as at most 64
/// letters, digits, `-` and `_` (anything else becomes `-`).
fn key(process: &Node) -> String {
    let source = process.fw.get("key").unwrap_or(&process.id);
    source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}
