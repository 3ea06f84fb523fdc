//! From the nodes and flows read out of a `<process>` to a [`ModelFile`]:
//! the trigger from the start event, one step per node, the model's key.
//!
//! Guarantees: every flow connects known elements; a gateway with one way
//! out and no condition (a join) is followed through, never a step; any
//! element or shape outside the supported subset is refused with its line.

use std::collections::BTreeMap;

use super::{BpmnError, Flow, Node, err};
use crate::ids::RecordKind;
use crate::process::model::{BranchFile, ModelFile, StepFile, StepKind, TriggerFile, TriggerKind};

/// The process read so far: its nodes and flows, by id.
struct Graph<'a> {
    nodes: &'a [Node],
    flows: &'a [Flow],
    by_id: BTreeMap<&'a str, &'a Node>,
}

impl<'a> Graph<'a> {
    /// Indexes the nodes; refuses a flow to or from an unknown element.
    fn new(nodes: &'a [Node], flows: &'a [Flow]) -> Result<Self, BpmnError> {
        let by_id: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        for f in flows {
            for end in [&f.source, &f.target] {
                if !by_id.contains_key(end.as_str()) {
                    return Err(err(
                        None,
                        format!(
                            "sequenceFlow `{}` connects to unknown element `{end}`",
                            f.id
                        ),
                    ));
                }
            }
        }
        Ok(Graph {
            nodes,
            flows,
            by_id,
        })
    }

    /// The flows leaving `id`, in file order.
    fn outgoing(&self, id: &str) -> Vec<&'a Flow> {
        self.flows.iter().filter(|f| f.source == id).collect()
    }

    /// Whether `n` is a gateway that only joins paths (one way out, no
    /// condition).
    fn is_join(&self, n: &Node) -> bool {
        let out = self.outgoing(&n.id);
        n.tag == "exclusiveGateway" && out.len() == 1 && out[0].condition.is_none()
    }

    /// The step a flow into `target` really leads to: joins followed through.
    fn resolve(&self, target: &str) -> String {
        let mut target = target.to_owned();
        for _ in 0..self.nodes.len() {
            match self.by_id.get(target.as_str()) {
                Some(n) if self.is_join(n) => target = self.outgoing(&n.id)[0].target.clone(),
                _ => break,
            }
        }
        target
    }

    /// The step after `n`, which must have exactly one way out.
    fn single_next(&self, n: &Node) -> Result<String, BpmnError> {
        match self.outgoing(&n.id).as_slice() {
            [f] => Ok(self.resolve(&f.target)),
            [] => Err(err(
                Some(n.line),
                format!("<{}> `{}` has no outgoing sequenceFlow", n.tag, n.id),
            )),
            _ => Err(err(
                Some(n.line),
                format!(
                    "<{}> `{}` has several outgoing flows; branch with an exclusiveGateway",
                    n.tag, n.id
                ),
            )),
        }
    }
}

/// A `fieldwork:` extension attribute of a node.
fn fw(n: &Node, k: &str) -> Option<String> {
    n.attrs.get(&format!("fieldwork:{k}")).cloned()
}

/// Builds the model of one process from its attributes (`pattrs`, at line
/// `pline`), nodes and flows.
pub(super) fn build(
    pattrs: BTreeMap<String, String>,
    pline: u64,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
) -> Result<ModelFile, BpmnError> {
    let graph = Graph::new(&nodes, &flows)?;
    let start = the_start(&nodes, pline)?;
    let trigger = trigger(start, &pattrs)?;
    let first = graph.single_next(start)?;
    let mut steps = Vec::new();
    for n in &nodes {
        if let Some(step) = step(&graph, n)? {
            steps.push(step);
        }
    }
    let key = key(&pattrs);
    Ok(ModelFile {
        name: pattrs.get("name").cloned().unwrap_or_else(|| key.clone()),
        key,
        description: String::new(),
        trigger,
        start: Some(first),
        steps,
    })
}

/// The one start event of the process.
fn the_start(nodes: &[Node], pline: u64) -> Result<&Node, BpmnError> {
    let starts: Vec<&Node> = nodes.iter().filter(|n| n.tag == "startEvent").collect();
    match starts.as_slice() {
        [start] => Ok(start),
        _ => Err(err(
            Some(pline),
            format!(
                "a process needs exactly one startEvent, this one has {}",
                starts.len()
            ),
        )),
    }
}

/// The trigger the start event describes: the kind of record (on the event
/// or the process), then how it starts (a `fieldwork:trigger`, a condition,
/// a timer cycle, or by hand).
fn trigger(start: &Node, pattrs: &BTreeMap<String, String>) -> Result<TriggerFile, BpmnError> {
    let record_text = fw(start, "record").or_else(|| pattrs.get("fieldwork:record").cloned()).ok_or_else(|| {
        err(Some(start.line), "the startEvent needs fieldwork:record=\"account|contact|deal|activity\": the kind of record the process runs on")
    })?;
    let record: RecordKind = record_text.parse().map_err(|_| {
        err(
            Some(start.line),
            format!("fieldwork:record `{record_text}` is not a kind of record"),
        )
    })?;
    let mut trigger = TriggerFile {
        kind: TriggerKind::Manual,
        record,
        condition: None,
        every: None,
        from: None,
    };
    match (
        fw(start, "trigger").as_deref(),
        &start.conditional,
        &start.timer,
    ) {
        (Some(t), _, _) => {
            trigger.kind = trigger_kind(start, t)?;
            trigger.condition = fw(start, "condition")
                .or_else(|| start.conditional.as_deref().map(super::expression));
        }
        (None, Some(c), _) => {
            trigger.kind = TriggerKind::FieldChange;
            trigger.condition = Some(super::expression(c));
        }
        (None, None, Some((kind, text))) if kind == "timeCycle" => {
            schedule(start, text, &mut trigger)?;
        }
        (None, None, Some((kind, _))) => {
            return Err(err(
                Some(start.line),
                format!("a start timer needs a timeCycle, not a {kind}"),
            ));
        }
        (None, None, None) => {}
    }
    Ok(trigger)
}

/// The trigger kind a `fieldwork:trigger` names.
fn trigger_kind(start: &Node, name: &str) -> Result<TriggerKind, BpmnError> {
    match name {
        "record_created" => Ok(TriggerKind::RecordCreated),
        "field_change" => Ok(TriggerKind::FieldChange),
        "manual" => Ok(TriggerKind::Manual),
        "schedule" => Ok(TriggerKind::Schedule),
        other => Err(err(
            Some(start.line),
            format!(
                "fieldwork:trigger `{other}` is not record_created, field_change, manual or schedule"
            ),
        )),
    }
}

/// A schedule trigger from a start timer's `timeCycle` `R/START/PERIOD`.
fn schedule(start: &Node, text: &str, trigger: &mut TriggerFile) -> Result<(), BpmnError> {
    let parts: Vec<&str> = text.trim().split('/').collect();
    let [_, from, every] = parts.as_slice() else {
        return Err(err(
            Some(start.line),
            format!("timeCycle `{text}`: use R/START/PERIOD, e.g. R/2027-01-01T08:00:00Z/P7D"),
        ));
    };
    trigger.kind = TriggerKind::Schedule;
    trigger.from = Some((*from).to_owned());
    trigger.every = Some((*every).to_owned());
    trigger.condition = fw(start, "condition");
    Ok(())
}

/// The step a node becomes; `None` for the start, boundary events (read
/// with their task) and joins.
fn step(graph: &Graph<'_>, n: &Node) -> Result<Option<StepFile>, BpmnError> {
    let name = n.name.clone().filter(|s| !s.trim().is_empty());
    let mut s = StepFile {
        id: n.id.clone(),
        name: name.clone(),
        ..StepFile::default()
    };
    match n.tag.as_str() {
        "startEvent" | "boundaryEvent" => return Ok(None),
        "exclusiveGateway" if graph.is_join(n) => return Ok(None),
        "exclusiveGateway" => gateway(graph, n, &mut s)?,
        "endEvent" => s.kind = StepKind::End,
        "userTask" => user_task(graph, n, name, &mut s)?,
        "serviceTask" => service_task(graph, n, name, &mut s)?,
        "intermediateCatchEvent" => timer(graph, n, &mut s)?,
        other => {
            return Err(err(
                Some(n.line),
                format!("unsupported BPMN element <{other}>"),
            ));
        }
    }
    Ok(Some(s))
}

/// A gateway's branches: one per conditional flow, the default flow aside.
fn gateway(graph: &Graph<'_>, n: &Node, s: &mut StepFile) -> Result<(), BpmnError> {
    s.kind = StepKind::Gateway;
    for f in graph.outgoing(&n.id) {
        if Some(&f.id) == n.default_flow.as_ref() {
            s.default = Some(graph.resolve(&f.target));
            continue;
        }
        let condition = f.condition.clone().ok_or_else(|| {
            err(
                Some(n.line),
                format!(
                    "flow `{}` out of gateway `{}` has no conditionExpression and is not the default",
                    f.id, n.id
                ),
            )
        })?;
        s.branches.push(BranchFile {
            condition: super::expression(&condition),
            next: graph.resolve(&f.target),
        });
    }
    Ok(())
}

/// A user task, with the deadline its boundary timer sets (at most one).
fn user_task(
    graph: &Graph<'_>,
    n: &Node,
    name: Option<String>,
    s: &mut StepFile,
) -> Result<(), BpmnError> {
    s.kind = StepKind::Task;
    s.assignee = fw(n, "assignee").or(Some("owner".into()));
    s.subject = fw(n, "subject").or(name);
    s.topic = fw(n, "topic");
    s.due = fw(n, "due");
    s.next = Some(graph.single_next(n)?);
    let boundaries: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|b| b.tag == "boundaryEvent" && b.attached_to.as_deref() == Some(&n.id))
        .collect();
    match boundaries.as_slice() {
        [] => Ok(()),
        [b] => deadline(graph, b, s),
        [_, b, ..] => Err(err(
            Some(b.line),
            format!(
                "userTask `{}` has several boundary events; one deadline is supported",
                n.id
            ),
        )),
    }
}

/// A task's deadline from its boundary event, which must be a duration
/// timer.
fn deadline(graph: &Graph<'_>, b: &Node, s: &mut StepFile) -> Result<(), BpmnError> {
    match &b.timer {
        Some((kind, text)) if kind == "timeDuration" => {
            s.deadline = Some(text.trim().to_owned());
            s.on_deadline = Some(graph.single_next(b)?);
            Ok(())
        }
        _ => Err(err(
            Some(b.line),
            format!(
                "boundaryEvent `{}`: only a timer with a timeDuration is supported",
                b.id
            ),
        )),
    }
}

/// A service task: a `set` step or an activity to plan.
fn service_task(
    graph: &Graph<'_>,
    n: &Node,
    name: Option<String>,
    s: &mut StepFile,
) -> Result<(), BpmnError> {
    let action = fw(n, "action").ok_or_else(|| {
        err(
            Some(n.line),
            format!(
                "serviceTask `{}` needs fieldwork:action (call, meeting, visit, email, task or set)",
                n.id
            ),
        )
    })?;
    s.next = Some(graph.single_next(n)?);
    if action == "set" {
        s.kind = StepKind::Set;
        s.field = fw(n, "field");
        s.value = fw(n, "value");
        return Ok(());
    }
    s.kind = StepKind::Activity;
    s.activity = Some(action);
    s.assignee = fw(n, "assignee").or(Some("owner".into()));
    s.subject = fw(n, "subject").or(name);
    s.topic = fw(n, "topic");
    s.offset = fw(n, "offset");
    s.duration_minutes = match fw(n, "duration") {
        Some(d) => Some(d.parse().map_err(|_| {
            err(
                Some(n.line),
                format!("fieldwork:duration `{d}` is not a number of minutes"),
            )
        })?),
        None => None,
    };
    Ok(())
}

/// An intermediate timer: a duration, or until a date field of the record.
fn timer(graph: &Graph<'_>, n: &Node, s: &mut StepFile) -> Result<(), BpmnError> {
    s.kind = StepKind::Timer;
    s.next = Some(graph.single_next(n)?);
    match &n.timer {
        Some((kind, text)) if kind == "timeDuration" => {
            s.duration = Some(text.trim().to_owned());
            Ok(())
        }
        Some((kind, text)) if kind == "timeDate" => {
            let field = super::expression(text);
            if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(
                    Some(n.line),
                    format!("timeDate `{text}`: use ${{field}}, a date field of the record"),
                ));
            }
            s.until_field = Some(field);
            Ok(())
        }
        _ => Err(err(
            Some(n.line),
            format!(
                "intermediateCatchEvent `{}`: only timers (timeDuration or timeDate) are supported",
                n.id
            ),
        )),
    }
}

/// The model's key: `fieldwork:key` or the process id, as at most 64
/// letters, digits, `-` and `_` (anything else becomes `-`).
fn key(pattrs: &BTreeMap<String, String>) -> String {
    let source = pattrs
        .get("fieldwork:key")
        .or(pattrs.get("id"))
        .cloned()
        .unwrap_or_default();
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
