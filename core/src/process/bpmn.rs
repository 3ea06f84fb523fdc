//! Importing a process drawn in a BPMN 2.0 modeler (bpmn.io, Camunda
//! Modeler) into a [`ModelFile`].
//!
//! The supported subset (see `docs/PROCESSES.md`):
//!
//! | BPMN                                           | step                 |
//! |------------------------------------------------|----------------------|
//! | `startEvent` (+ `fieldwork:trigger/record/condition`, or a `conditionalEventDefinition`, or a `timerEventDefinition` with `timeCycle` `R/START/PERIOD`) | the trigger |
//! | `userTask` (+ `fieldwork:assignee/due/subject/topic`) | `task`        |
//! | `boundaryEvent` with `timeDuration` on a user task | its deadline     |
//! | `serviceTask` with `fieldwork:action` = call, meeting, visit, email, task (+ `fieldwork:assignee/offset/subject/topic/duration`) or `set` (+ `fieldwork:field/value`) | `activity` / `set` |
//! | `intermediateCatchEvent` + `timerEventDefinition` (`timeDuration` ISO 8601, or `timeDate` `${field}`) | `timer` |
//! | `exclusiveGateway` + `conditionExpression` on its flows, `default` | `gateway` |
//! | `endEvent`                                     | `end`                |
//! | `sequenceFlow`                                 | `next`               |
//!
//! Diagram layout (`bpmndi`), documentation, `extensionElements`,
//! `incoming`/`outgoing`, lanes and collaboration participants are ignored.
//! Anything else inside the process is refused, naming the element and its
//! line, and nothing is imported: a model runs as drawn or not at all.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::model::{BranchFile, ModelFile, StepFile, StepKind, TriggerFile, TriggerKind};
use crate::ids::RecordKind;

/// Why a BPMN file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .line { Some(l) => format!("line {l}: {}", .message), None => .message.clone() })]
pub struct BpmnError {
    /// Where (1-based), when it is about one element.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

fn err(line: Option<u64>, message: impl Into<String>) -> BpmnError {
    BpmnError {
        line,
        message: message.into(),
    }
}

#[derive(Debug, Default)]
struct Node {
    tag: String,
    id: String,
    name: Option<String>,
    line: u64,
    attrs: BTreeMap<String, String>,
    timer: Option<(String, String)>,
    conditional: Option<String>,
    attached_to: Option<String>,
    default_flow: Option<String>,
}

#[derive(Debug, Default)]
struct Flow {
    id: String,
    source: String,
    target: String,
    condition: Option<String>,
}

/// Elements inside a process we read.
const NODES: &[&str] = &[
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "intermediateCatchEvent",
    "exclusiveGateway",
    "boundaryEvent",
];
/// Elements ignored wherever they are, with everything inside them.
const IGNORED_SUBTREES: &[&str] = &[
    "extensionElements",
    "documentation",
    "laneSet",
    "textAnnotation",
    "association",
    "BPMNDiagram",
];
/// Children of nodes that carry nothing we need.
const IGNORED_CHILDREN: &[&str] = &["incoming", "outgoing"];

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or_default().to_owned()
}

fn attrs(e: &BytesStart<'_>, line: u64) -> Result<BTreeMap<String, String>, BpmnError> {
    let mut out = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|x| err(Some(line), format!("bad attribute: {x}")))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|x| err(Some(line), format!("bad attribute value: {x}")))?
            .into_owned();
        // Our extension attributes, whatever prefix the file binds to our
        // namespace; plain BPMN attributes by their local name.
        let key = match key.split_once(':') {
            Some((_, l)) if key.starts_with("fieldwork:") => format!("fieldwork:{l}"),
            Some(("xmlns", _)) => continue,
            Some((_, l)) => l.to_owned(),
            None => key,
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// Parses BPMN 2.0 XML into a model file (checked later by
/// [`super::model::Model::check`]).
pub fn import(xml: &str) -> Result<ModelFile, BpmnError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    // Newlines are counted from where the previous call stopped (positions
    // only move forward while reading): counting from the start of the file
    // for every event made an import take time quadratic in its size.
    let counted = std::cell::Cell::new((0usize, 0u64));
    let line_at = |pos: u64| -> u64 {
        let end = usize::try_from(pos).unwrap_or(xml.len()).min(xml.len());
        let (from, before) = match counted.get() {
            (at, n) if at <= end => (at, n),
            _ => (0, 0),
        };
        let newlines = xml.as_bytes()[from..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted.set((end, before + newlines));
        1 + before + newlines
    };

    let mut stack: Vec<String> = Vec::new();
    let mut process: Option<(BTreeMap<String, String>, u64)> = None;
    let mut processes = 0;
    let mut nodes: Vec<Node> = Vec::new();
    let mut flows: Vec<Flow> = Vec::new();
    let mut skip_depth: Option<usize> = None;
    let mut text = String::new();

    loop {
        let event = reader.read_event().map_err(|e| {
            err(
                Some(line_at(reader.error_position())),
                format!("not well-formed XML: {e}"),
            )
        })?;
        // The line where the element just read starts.
        let end = usize::try_from(reader.buffer_position())
            .unwrap_or(xml.len())
            .min(xml.len());
        // Bytes, not `str` slicing: `end` need not be a character boundary.
        let line = line_at(
            xml.as_bytes()[..end]
                .iter()
                .rposition(|b| *b == b'<')
                .unwrap_or(0) as u64,
        );
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(e.name().as_ref());
                if skip_depth.is_none() {
                    if IGNORED_SUBTREES.contains(&name.as_str()) {
                        skip_depth = Some(stack.len());
                    } else {
                        open(
                            &name,
                            e,
                            line,
                            &stack,
                            &mut process,
                            &mut processes,
                            &mut nodes,
                            &mut flows,
                        )?;
                    }
                }
                text.clear();
                if !empty {
                    stack.push(name);
                } else if skip_depth == Some(stack.len()) {
                    skip_depth = None;
                }
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| err(Some(line), format!("bad text: {e}")))?;
                text.push_str(&s);
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| err(Some(line), format!("bad text: {e}")))?;
                text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let name = r
                    .decode()
                    .map_err(|e| err(Some(line), format!("bad entity: {e}")))?;
                let c = match name.as_ref() {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                match c {
                    Some(c) => text.push(c),
                    None => return Err(err(Some(line), format!("unknown entity `&{name};`"))),
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if skip_depth == Some(stack.len()) {
                    skip_depth = None;
                } else if skip_depth.is_none() {
                    close(&name, &stack, text.trim(), &mut nodes, &mut flows);
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let Some((pattrs, pline)) = process else {
        return Err(err(None, "no <process> element: is this a BPMN 2.0 file?"));
    };
    if processes > 1 {
        return Err(err(
            None,
            "the file holds several processes; import one process per file",
        ));
    }
    build(pattrs, pline, nodes, flows)
}

#[allow(clippy::too_many_arguments)]
fn open(
    name: &str,
    e: &BytesStart<'_>,
    line: u64,
    stack: &[String],
    process: &mut Option<(BTreeMap<String, String>, u64)>,
    processes: &mut usize,
    nodes: &mut Vec<Node>,
    flows: &mut Vec<Flow>,
) -> Result<(), BpmnError> {
    let in_process = stack.iter().any(|s| s == "process");
    let parent = stack.last().map(String::as_str).unwrap_or_default();
    if name == "process" {
        *processes += 1;
        *process = Some((attrs(e, line)?, line));
        return Ok(());
    }
    if !in_process {
        return Ok(()); // definitions, collaboration, messages, diagrams
    }
    let unsupported = || {
        err(
            Some(line),
            format!(
                "unsupported BPMN element <{name}> (supported: startEvent, endEvent, userTask, serviceTask, intermediateCatchEvent with a timer, exclusiveGateway, boundaryEvent with a timer, sequenceFlow)"
            ),
        )
    };
    if parent == "process" {
        let a = attrs(e, line)?;
        let id = a
            .get("id")
            .cloned()
            .ok_or_else(|| err(Some(line), format!("<{name}> has no id")))?;
        if name == "sequenceFlow" {
            flows.push(Flow {
                id,
                source: a.get("sourceRef").cloned().unwrap_or_default(),
                target: a.get("targetRef").cloned().unwrap_or_default(),
                condition: None,
            });
            return Ok(());
        }
        if !NODES.contains(&name) {
            return Err(unsupported());
        }
        nodes.push(Node {
            tag: name.to_owned(),
            id,
            name: a.get("name").cloned(),
            line,
            attached_to: a.get("attachedToRef").cloned(),
            default_flow: a.get("default").cloned(),
            attrs: a,
            ..Node::default()
        });
        return Ok(());
    }
    // Inside a node or a flow.
    match (parent, name) {
        (_, n) if IGNORED_CHILDREN.contains(&n) => Ok(()),
        ("sequenceFlow", "conditionExpression") => Ok(()),
        ("startEvent" | "intermediateCatchEvent" | "boundaryEvent", "timerEventDefinition") => {
            Ok(())
        }
        ("startEvent", "conditionalEventDefinition") => Ok(()),
        ("conditionalEventDefinition", "condition") => Ok(()),
        ("timerEventDefinition", "timeDuration" | "timeDate" | "timeCycle") => Ok(()),
        _ => {
            let _ = nodes;
            let _ = flows;
            Err(unsupported())
        }
    }
}

fn close(name: &str, stack: &[String], text: &str, nodes: &mut [Node], flows: &mut [Flow]) {
    let parent = stack.last().map(String::as_str).unwrap_or_default();
    match (parent, name) {
        ("sequenceFlow", "conditionExpression") => {
            if let Some(f) = flows.last_mut() {
                f.condition = Some(text.to_owned());
            }
        }
        ("timerEventDefinition", "timeDuration" | "timeDate" | "timeCycle") => {
            if let Some(n) = nodes.last_mut() {
                n.timer = Some((name.to_owned(), text.to_owned()));
            }
        }
        ("conditionalEventDefinition", "condition") => {
            if let Some(n) = nodes.last_mut() {
                n.conditional = Some(text.to_owned());
            }
        }
        _ => {}
    }
}

fn outgoing_of<'a>(flows: &'a [Flow], id: &str) -> Vec<&'a Flow> {
    flows.iter().filter(|f| f.source == id).collect()
}

/// Strips `${...}` / `#{...}` around an expression.
fn expression(text: &str) -> String {
    let t = text.trim();
    for (open, close) in [("${", "}"), ("#{", "}")] {
        if let Some(inner) = t.strip_prefix(open).and_then(|x| x.strip_suffix(close)) {
            return inner.trim().to_owned();
        }
    }
    t.to_owned()
}

fn build(
    pattrs: BTreeMap<String, String>,
    pline: u64,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
) -> Result<ModelFile, BpmnError> {
    let by_id: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let flows = flows.as_slice();
    let outgoing = |id: &str| outgoing_of(flows, id);
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
    // A gateway with one way out and no conditions only joins paths: follow it.
    let resolve = |target: &str| -> String {
        let mut target = target.to_owned();
        for _ in 0..nodes.len() {
            match by_id.get(target.as_str()) {
                Some(n) if n.tag == "exclusiveGateway" => {
                    let out = outgoing(&n.id);
                    if out.len() == 1 && out[0].condition.is_none() {
                        target = out[0].target.clone();
                        continue;
                    }
                    break;
                }
                _ => break,
            }
        }
        target
    };
    let single_next = |n: &Node| -> Result<String, BpmnError> {
        match outgoing(&n.id).as_slice() {
            [f] => Ok(resolve(&f.target)),
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
    };
    let fw = |n: &Node, k: &str| n.attrs.get(&format!("fieldwork:{k}")).cloned();

    let starts: Vec<&Node> = nodes.iter().filter(|n| n.tag == "startEvent").collect();
    let [start] = starts.as_slice() else {
        return Err(err(
            Some(pline),
            format!(
                "a process needs exactly one startEvent, this one has {}",
                starts.len()
            ),
        ));
    };
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
            trigger.kind = match t {
                "record_created" => TriggerKind::RecordCreated,
                "field_change" => TriggerKind::FieldChange,
                "manual" => TriggerKind::Manual,
                "schedule" => TriggerKind::Schedule,
                other => {
                    return Err(err(
                        Some(start.line),
                        format!(
                            "fieldwork:trigger `{other}` is not record_created, field_change, manual or schedule"
                        ),
                    ));
                }
            };
            trigger.condition =
                fw(start, "condition").or_else(|| start.conditional.as_deref().map(expression));
        }
        (None, Some(c), _) => {
            trigger.kind = TriggerKind::FieldChange;
            trigger.condition = Some(expression(c));
        }
        (None, None, Some((kind, text))) if kind == "timeCycle" => {
            let parts: Vec<&str> = text.trim().split('/').collect();
            let [_, from, every] = parts.as_slice() else {
                return Err(err(
                    Some(start.line),
                    format!(
                        "timeCycle `{text}`: use R/START/PERIOD, e.g. R/2027-01-01T08:00:00Z/P7D"
                    ),
                ));
            };
            trigger.kind = TriggerKind::Schedule;
            trigger.from = Some((*from).to_owned());
            trigger.every = Some((*every).to_owned());
            trigger.condition = fw(start, "condition");
        }
        (None, None, Some((kind, _))) => {
            return Err(err(
                Some(start.line),
                format!("a start timer needs a timeCycle, not a {kind}"),
            ));
        }
        (None, None, None) => {}
    }
    let first = single_next(start)?;

    let mut steps = Vec::new();
    for n in &nodes {
        let name = n.name.clone().filter(|s| !s.trim().is_empty());
        let mut s = StepFile {
            id: n.id.clone(),
            name: name.clone(),
            ..StepFile::default()
        };
        match n.tag.as_str() {
            "startEvent" | "boundaryEvent" => continue,
            "exclusiveGateway" => {
                let out = outgoing(&n.id);
                if out.len() == 1 && out[0].condition.is_none() {
                    continue; // a join, followed through by `resolve`
                }
                s.kind = StepKind::Gateway;
                for f in out {
                    if Some(&f.id) == n.default_flow.as_ref() {
                        s.default = Some(resolve(&f.target));
                    } else {
                        let condition = f.condition.clone().ok_or_else(|| {
                            err(Some(n.line), format!("flow `{}` out of gateway `{}` has no conditionExpression and is not the default", f.id, n.id))
                        })?;
                        s.branches.push(BranchFile {
                            condition: expression(&condition),
                            next: resolve(&f.target),
                        });
                    }
                }
            }
            "endEvent" => s.kind = StepKind::End,
            "userTask" => {
                s.kind = StepKind::Task;
                s.assignee = fw(n, "assignee").or(Some("owner".into()));
                s.subject = fw(n, "subject").or(name.clone());
                s.topic = fw(n, "topic");
                s.due = fw(n, "due");
                s.next = Some(single_next(n)?);
                let boundaries: Vec<&Node> = nodes
                    .iter()
                    .filter(|b| b.tag == "boundaryEvent" && b.attached_to.as_deref() == Some(&n.id))
                    .collect();
                match boundaries.as_slice() {
                    [] => {}
                    [b] => match &b.timer {
                        Some((kind, text)) if kind == "timeDuration" => {
                            s.deadline = Some(text.trim().to_owned());
                            s.on_deadline = Some(single_next(b)?);
                        }
                        _ => {
                            return Err(err(
                                Some(b.line),
                                format!(
                                    "boundaryEvent `{}`: only a timer with a timeDuration is supported",
                                    b.id
                                ),
                            ));
                        }
                    },
                    [_, b, ..] => {
                        return Err(err(
                            Some(b.line),
                            format!(
                                "userTask `{}` has several boundary events; one deadline is supported",
                                n.id
                            ),
                        ));
                    }
                }
            }
            "serviceTask" => {
                let action = fw(n, "action").ok_or_else(|| {
                    err(Some(n.line), format!("serviceTask `{}` needs fieldwork:action (call, meeting, visit, email, task or set)", n.id))
                })?;
                s.next = Some(single_next(n)?);
                if action == "set" {
                    s.kind = StepKind::Set;
                    s.field = fw(n, "field");
                    s.value = fw(n, "value");
                } else {
                    s.kind = StepKind::Activity;
                    s.activity = Some(action);
                    s.assignee = fw(n, "assignee").or(Some("owner".into()));
                    s.subject = fw(n, "subject").or(name.clone());
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
                }
            }
            "intermediateCatchEvent" => {
                s.kind = StepKind::Timer;
                s.next = Some(single_next(n)?);
                match &n.timer {
                    Some((kind, text)) if kind == "timeDuration" => {
                        s.duration = Some(text.trim().to_owned())
                    }
                    Some((kind, text)) if kind == "timeDate" => {
                        let field = expression(text);
                        if field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                            s.until_field = Some(field);
                        } else {
                            return Err(err(
                                Some(n.line),
                                format!(
                                    "timeDate `{text}`: use ${{field}}, a date field of the record"
                                ),
                            ));
                        }
                    }
                    _ => {
                        return Err(err(
                            Some(n.line),
                            format!(
                                "intermediateCatchEvent `{}`: only timers (timeDuration or timeDate) are supported",
                                n.id
                            ),
                        ));
                    }
                }
            }
            other => {
                return Err(err(
                    Some(n.line),
                    format!("unsupported BPMN element <{other}>"),
                ));
            }
        }
        steps.push(s);
    }
    let key_source = pattrs
        .get("fieldwork:key")
        .or(pattrs.get("id"))
        .cloned()
        .unwrap_or_default();
    let key: String = key_source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    Ok(ModelFile {
        name: pattrs.get("name").cloned().unwrap_or_else(|| key.clone()),
        key,
        description: String::new(),
        trigger,
        start: Some(first),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_text_keeps_line_numbers_right_and_never_splits_a_character() {
        let xml = "<definitions>\n<process id='p' name='Szőke ügyfél'>\n<!-- ő — € -->\n\
                   <startEvent id='s' name='Kezdés — ő'/>\nőőő€\n<parallelGateway id='g'/>\n\
                   </process></definitions>";
        let e = import(xml).expect_err("unsupported");
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("<parallelGateway>"), "{e}");
        // Cut inside the document at every character: a clear error or a
        // model, never a panic.
        for (at, _) in xml.char_indices() {
            let _ = import(&xml[..at]);
        }
        let broken = import("<definitions>\n€\n<process id='é'>\n<startEvent id='s' ü>")
            .expect_err("malformed");
        assert!(broken.line.is_some(), "{broken}");
    }
}
