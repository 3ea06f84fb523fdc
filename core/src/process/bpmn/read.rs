//! From the element tree to the one executable process: its nodes and
//! flows, with everything the importer ignores dropped and everything it
//! refuses listed as a problem.
//!
//! Guarantees: every element inside the process (and inside its embedded
//! sub-processes, read by [`super::subprocess`] into the same lists) is
//! either read, ignored (documentation, data, annotations, groups, lanes,
//! extension elements, incoming/outgoing references) or reported as a
//! problem with its line, id and name; reading goes on after a problem, so
//! one pass finds them all; at most [`MAX_PROCESS_ELEMENTS`] elements are
//! read, sub-processes included.

use std::collections::{BTreeMap, BTreeSet};

mod call;
mod subprocess;

use super::names::Ns;
use super::problems::BpmnError;
use super::settings;
use super::xml::{Element, Tree};

/// A flow node read from the process.
#[derive(Debug, Default)]
pub(super) struct Node {
    /// The element's local name (`userTask`).
    pub tag: String,
    /// Its `id` (the step id).
    pub id: String,
    /// Its `name`.
    pub name: Option<String>,
    /// The line it starts on.
    pub line: u64,
    /// BPMN attributes (unprefixed: `default`, `attachedToRef`...).
    pub attrs: BTreeMap<String, String>,
    /// Fieldwork settings: `fieldwork:` attributes, and Camunda/Zeebe ones
    /// read as the same.
    pub fw: BTreeMap<String, String>,
    /// A timer definition: (`timeDuration`|`timeDate`|`timeCycle`, text).
    pub timer: Option<(String, String)>,
    /// A start or catch event's condition.
    pub conditional: Option<String>,
    /// Whether it waits for a message (a `messageEventDefinition` on a
    /// catch event, or a receive task).
    pub message: bool,
    /// The `messageRef` of that message, when given.
    pub message_ref: Option<String>,
    /// The sub-process it sits in (`None`: directly in the process).
    pub parent: Option<String>,
    /// Whether reading it found a problem (building adds no second one
    /// about the same thing).
    pub refused: bool,
}

impl Node {
    /// A problem about this node.
    pub fn problem(&self, message: impl Into<String>) -> BpmnError {
        BpmnError {
            line: Some(self.line),
            tag: Some(self.tag.clone()),
            element: Some(self.id.clone()).filter(|i| !i.is_empty()),
            name: self.name.clone(),
            message: message.into(),
        }
    }
}

/// A sequence flow.
#[derive(Debug, Default)]
pub(super) struct Flow {
    /// Its `id`.
    pub id: String,
    /// The line it starts on.
    pub line: u64,
    /// `sourceRef`.
    pub source: String,
    /// `targetRef`.
    pub target: String,
    /// Its `conditionExpression`, as written.
    pub condition: Option<String>,
}

/// The process to import.
#[derive(Debug, Default)]
pub(super) struct Process {
    /// Its BPMN attributes and Fieldwork settings.
    pub node: Node,
    /// Its flow nodes, in file order.
    pub nodes: Vec<Node>,
    /// Its sequence flows, in file order.
    pub flows: Vec<Flow>,
    /// The id of every element inside the process, refused ones included.
    pub ids: BTreeSet<String>,
    /// The file's `<message>` elements: id → `name` (when it has one).
    pub messages: BTreeMap<String, Option<String>>,
    /// How many elements were read, sub-processes included.
    pub count: usize,
}

/// A problem about element `e`.
pub(super) fn problem(e: &Element, message: impl Into<String>) -> BpmnError {
    BpmnError {
        line: Some(e.line),
        tag: Some(e.name.clone()),
        element: e.attr("id").map(str::to_owned),
        name: e.attr("name").map(str::to_owned),
        message: message.into(),
    }
}

/// Most elements directly inside the process (building the model is not
/// linear in their number).
pub const MAX_PROCESS_ELEMENTS: usize = 5_000;

/// Flow nodes read as steps (sub-processes are read by
/// [`super::subprocess`], call activities' settings by [`call`]).
const NODES: &[&str] = &[
    "startEvent",
    "endEvent",
    "userTask",
    "task",
    "manualTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "intermediateCatchEvent",
    "exclusiveGateway",
    "eventBasedGateway",
    "parallelGateway",
    "inclusiveGateway",
    "boundaryEvent",
    "callActivity",
];

/// Elements a CRM engine need not execute but modelers draw: ignored with
/// everything inside them, wherever they are.
const IGNORED: &[&str] = &[
    "documentation",
    "extensionElements",
    "incoming",
    "outgoing",
    "dataStoreReference",
    "dataObject",
    "dataObjectReference",
    "dataInputAssociation",
    "dataOutputAssociation",
    "association",
    "textAnnotation",
    "group",
    "laneSet",
    "property",
    "ioSpecification",
];

/// Elements refused, with why.
fn refused(tag: &str) -> Option<&'static str> {
    Some(match tag {
        "complexGateway" => {
            "complex gateways are not supported yet; use an inclusive or parallel gateway, or an exclusive gateway with conditions"
        }
        "adHocSubProcess" => "ad-hoc sub-processes are not supported yet",
        "transaction" => "transactions (sub-processes that compensate) are not supported yet",
        "scriptTask" => "script tasks are not supported: Fieldwork runs no scripts",
        "businessRuleTask" => "business rule tasks are not supported",
        "intermediateThrowEvent" => {
            "throw events (messages, signals, escalations) are not supported"
        }
        "multiInstanceLoopCharacteristics" | "standardLoopCharacteristics" => {
            "loops and multi-instance activities are not supported"
        }
        "messageEventDefinition" => {
            "message events are supported on intermediate catch events only (or use a receiveTask)"
        }
        "signalEventDefinition" => "signal events are not supported",
        "errorEventDefinition" => "error events are not supported",
        "escalationEventDefinition" => "escalation events are not supported",
        "compensateEventDefinition" => "compensation events are not supported",
        "linkEventDefinition" => "link events are not supported",
        "cancelEventDefinition" => "cancel events are not supported",
        _ => return None,
    })
}

/// The process to import out of `tree`, and every problem met.
pub(super) fn process(tree: &Tree) -> (Option<Process>, Vec<BpmnError>) {
    let mut problems = Vec::new();
    let Some(root) = tree.root().filter(|r| r.is("definitions")) else {
        let what = tree.root().map(|r| r.name.clone()).unwrap_or_default();
        problems.push(BpmnError::at(
            tree.root().map(|r| r.line),
            format!(
                "the root element is <{what}>, not BPMN 2.0 <definitions> (namespace {}): is this a BPMN file?",
                super::names::BPMN
            ),
        ));
        return (None, problems);
    };
    let Some(chosen) = choose(tree, root, &mut problems) else {
        return (None, problems);
    };
    let mut p = Process {
        node: node(chosen),
        messages: messages(tree, root),
        ..Process::default()
    };
    let count = chosen.children.len();
    p.count = count;
    if count > MAX_PROCESS_ELEMENTS {
        problems.push(problem(
            chosen,
            format!("{count} elements; a process has at most {MAX_PROCESS_ELEMENTS}"),
        ));
        return (None, problems);
    }
    for e in tree.children(chosen) {
        if note_id(e, &mut p, &mut problems) {
            element(tree, e, None, &mut p, &mut problems);
        }
    }
    (Some(p), problems)
}

/// Notes the id of `e`, an element inside the process; `false` (and a
/// problem) when another element has it already: ids are unique in a file,
/// and each is a step's.
pub(super) fn note_id(e: &Element, p: &mut Process, problems: &mut Vec<BpmnError>) -> bool {
    let id = e.id();
    if id.is_empty() || p.ids.insert(id.to_owned()) {
        return true;
    }
    problems.push(problem(
        e,
        format!("another element has the id `{id}`: ids are unique in a BPMN file"),
    ));
    false
}

/// The `<message>` elements of the file (children of `<definitions>`):
/// id → name.
fn messages(tree: &Tree, root: &Element) -> BTreeMap<String, Option<String>> {
    tree.children(root)
        .filter(|c| c.is("message") && !c.id().is_empty())
        .map(|c| (c.id().to_owned(), c.attr("name").map(str::to_owned)))
        .collect()
}

/// The process to import: the one marked `isExecutable="true"`, or the only
/// one. Several executable processes, or several and none executable, are a
/// problem (a collaboration's other pools are documentation); with several
/// executable ones the first is read on, to list its problems too.
fn choose<'t>(
    tree: &'t Tree,
    root: &'t Element,
    problems: &mut Vec<BpmnError>,
) -> Option<&'t Element> {
    let all: Vec<&Element> = tree.children(root).filter(|c| c.is("process")).collect();
    let executable: Vec<&Element> = all
        .iter()
        .copied()
        .filter(|p| p.attr("isExecutable") == Some("true"))
        .collect();
    match (executable.as_slice(), all.as_slice()) {
        ([one], _) | ([], [one]) => Some(one),
        ([], []) => {
            problems.push(BpmnError::at(
                Some(root.line),
                "no <process> element: the file holds no process to import",
            ));
            None
        }
        ([], _) => {
            problems.push(BpmnError::at(
                Some(root.line),
                format!(
                    "the file holds {} processes and none is executable: mark the one to import isExecutable=\"true\"",
                    all.len()
                ),
            ));
            None
        }
        (several, _) => {
            for p in several {
                problems.push(problem(
                    p,
                    format!(
                        "one of {} executable processes: Fieldwork imports one; mark the others isExecutable=\"false\"",
                        several.len()
                    ),
                ));
            }
            // Read on in the first, so that its problems are listed too.
            several.first().copied()
        }
    }
}

/// A node with its BPMN attributes and `fieldwork:` settings.
pub(super) fn node(e: &Element) -> Node {
    let mut n = Node {
        tag: e.name.clone(),
        id: e.id().to_owned(),
        name: e.attr("name").map(str::to_owned),
        line: e.line,
        ..Node::default()
    };
    for a in &e.attrs {
        match a.ns {
            Ns::None => {
                n.attrs.insert(a.name.clone(), a.value.clone());
            }
            Ns::Fieldwork => {
                n.fw.insert(a.name.clone(), a.value.clone());
            }
            _ => {}
        }
    }
    n
}

/// One child of the process, or of sub-process `scope`: a node, a flow, a
/// sub-process, something ignored, or a problem.
pub(super) fn element(
    tree: &Tree,
    e: &Element,
    scope: Option<&str>,
    p: &mut Process,
    problems: &mut Vec<BpmnError>,
) {
    if e.ns != Ns::Bpmn {
        problems.push(problem(
            e,
            "not a BPMN element: only extensionElements may hold other namespaces",
        ));
        return;
    }
    let name = e.name.as_str();
    if IGNORED.contains(&name) {
        return;
    }
    if let Some(why) = refused(name) {
        problems.push(problem(e, why));
        return;
    }
    if e.id().is_empty() {
        problems.push(problem(e, "has no id"));
        return;
    }
    if name == "sequenceFlow" {
        p.flows.push(flow(tree, e, problems));
    } else if name == "subProcess" {
        subprocess::read(tree, e, scope, p, problems);
    } else if NODES.contains(&name) {
        let mut n = flow_node(tree, e, problems);
        n.parent = scope.map(str::to_owned);
        p.nodes.push(n);
    } else {
        problems.push(problem(e, "unsupported BPMN element"));
    }
}

/// A sequence flow and its condition.
fn flow(tree: &Tree, e: &Element, problems: &mut Vec<BpmnError>) -> Flow {
    let mut f = Flow {
        id: e.id().to_owned(),
        line: e.line,
        source: e.attr("sourceRef").unwrap_or_default().to_owned(),
        target: e.attr("targetRef").unwrap_or_default().to_owned(),
        condition: None,
    };
    for c in tree.children(e) {
        match c.name.as_str() {
            "conditionExpression" if c.ns == Ns::Bpmn => {
                f.condition = Some(c.text.trim().to_owned());
            }
            _ => unexpected(c, problems),
        }
    }
    f
}

/// A child that is neither read nor ignored: refused with why, or as
/// unsupported here.
fn unexpected(c: &Element, problems: &mut Vec<BpmnError>) {
    if c.ns == Ns::Bpmn && IGNORED.contains(&c.name.as_str()) {
        return;
    }
    let why = refused(&c.name)
        .filter(|_| c.ns == Ns::Bpmn)
        .unwrap_or("not supported here");
    problems.push(problem(c, why));
}

/// A flow node: its settings, its event definition, and Camunda/Zeebe
/// settings of a user task or a call activity.
fn flow_node(tree: &Tree, e: &Element, problems: &mut Vec<BpmnError>) -> Node {
    let before = problems.len();
    let mut n = node(e);
    if n.tag == "receiveTask" {
        n.message = true;
        n.message_ref = n.attrs.get("messageRef").cloned().filter(|r| !r.is_empty());
    }
    let catch = n.tag == "intermediateCatchEvent";
    for c in tree.children(e) {
        match (c.ns, c.name.as_str()) {
            (Ns::Bpmn, "timerEventDefinition") if n.tag != "endEvent" => {
                n.timer = timer(tree, c);
                if n.timer.is_none() {
                    problems.push(problem(
                        c,
                        "a timer needs a timeDuration, timeDate or timeCycle",
                    ));
                }
            }
            (Ns::Bpmn, "conditionalEventDefinition") if n.tag == "startEvent" || catch => {
                n.conditional = tree.child(c, "condition").map(|x| x.text.trim().to_owned());
            }
            (Ns::Bpmn, "messageEventDefinition") if catch => {
                n.message = true;
                n.message_ref = c
                    .attr("messageRef")
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned);
            }
            (Ns::Bpmn, "terminateEventDefinition") if n.tag == "endEvent" => {}
            // Refused as a whole by `call::read`.
            (Ns::Bpmn, "multiInstanceLoopCharacteristics" | "standardLoopCharacteristics")
                if n.tag == "callActivity" => {}
            (Ns::Bpmn, "conditionalEventDefinition") => problems.push(problem(
                c,
                "conditional events are supported on start and intermediate catch events only",
            )),
            (Ns::Bpmn, other) if refused(other).is_some() => {
                let why = refused(other).unwrap_or_default();
                problems.push(BpmnError {
                    line: Some(c.line),
                    ..n.problem(why)
                });
            }
            _ => unexpected(c, problems),
        }
    }
    let definitions = tree
        .children(e)
        .filter(|c| c.ns == Ns::Bpmn && c.name.ends_with("EventDefinition"))
        .count();
    if definitions > 1 {
        problems.push(n.problem(format!(
            "{definitions} event definitions (a multiple event) are not supported: give it one"
        )));
    }
    if n.tag == "userTask" {
        for p in settings::read(tree, e, &mut n.fw) {
            problems.push(n.problem(p));
        }
    }
    if n.tag == "callActivity" {
        for p in call::read(tree, e, &mut n.fw) {
            problems.push(n.problem(p));
        }
    }
    n.refused = problems.len() > before;
    n
}

/// A timer definition's kind and text.
fn timer(tree: &Tree, def: &Element) -> Option<(String, String)> {
    tree.children(def)
        .find(|c| {
            c.ns == Ns::Bpmn && matches!(c.name.as_str(), "timeDuration" | "timeDate" | "timeCycle")
        })
        .map(|c| (c.name.clone(), c.text.trim().to_owned()))
}
