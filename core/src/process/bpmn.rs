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
use quick_xml::events::{BytesRef, BytesStart, Event};

use super::model::ModelFile;

mod build;

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
    let mut lines = Lines::new(xml);
    let mut reading = Reading::default();
    loop {
        let event = reader.read_event().map_err(|e| {
            err(
                Some(lines.at(reader.error_position())),
                format!("not well-formed XML: {e}"),
            )
        })?;
        let line = lines.element_start(reader.buffer_position());
        if !reading.on_event(event, line)? {
            break;
        }
    }
    reading.finish()
}

/// Line numbers of positions in the file, read forward.
struct Lines<'x> {
    xml: &'x str,
    /// Up to which byte newlines are counted, and how many there are.
    counted: (usize, u64),
}

impl<'x> Lines<'x> {
    fn new(xml: &'x str) -> Self {
        Lines {
            xml,
            counted: (0, 0),
        }
    }

    /// The 1-based line of byte `pos` (clamped to the file). Newlines are
    /// counted from where the previous call stopped (positions only move
    /// forward while reading): counting from the start of the file for
    /// every event made an import take time quadratic in its size.
    fn at(&mut self, pos: u64) -> u64 {
        let xml = self.xml;
        let end = usize::try_from(pos).unwrap_or(xml.len()).min(xml.len());
        let (from, before) = match self.counted {
            (at, n) if at <= end => (at, n),
            _ => (0, 0),
        };
        let newlines = xml.as_bytes()[from..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.counted = (end, before + newlines);
        1 + before + newlines
    }

    /// The line where the element just read starts (the last `<` before the
    /// reader's position `buffer_position`).
    fn element_start(&mut self, buffer_position: u64) -> u64 {
        let xml = self.xml;
        let end = usize::try_from(buffer_position)
            .unwrap_or(xml.len())
            .min(xml.len());
        // Bytes, not `str` slicing: `end` need not be a character boundary.
        self.at(xml.as_bytes()[..end]
            .iter()
            .rposition(|b| *b == b'<')
            .unwrap_or(0) as u64)
    }
}

/// What has been read of the file so far.
#[derive(Default)]
struct Reading {
    /// Local names of the open elements.
    stack: Vec<String>,
    /// The (last) process element's attributes and line.
    process: Option<(BTreeMap<String, String>, u64)>,
    /// How many process elements were met.
    processes: usize,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    /// The depth of the ignored subtree being skipped, if any.
    skip_depth: Option<usize>,
    /// The text read since the last element started or ended.
    text: String,
}

impl Reading {
    /// Takes one XML event read at `line`; `false` at the end of the file.
    /// Refuses an unsupported element, bad text and an unknown entity.
    fn on_event(&mut self, event: Event<'_>, line: u64) -> Result<bool, BpmnError> {
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                self.on_start(e, empty, line)?;
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| err(Some(line), format!("bad text: {e}")))?;
                self.text.push_str(&s);
            }
            Event::CData(t) => {
                let s = t
                    .decode()
                    .map_err(|e| err(Some(line), format!("bad text: {e}")))?;
                self.text.push_str(&s);
            }
            Event::GeneralRef(r) => self.text.push(entity(&r, line)?),
            Event::End(_) => self.on_end(),
            Event::Eof => return Ok(false),
            _ => {}
        }
        Ok(true)
    }

    /// An element starts (and ends at once when `empty`): starts skipping an
    /// ignored subtree, or reads it with [`open`] outside one.
    fn on_start(&mut self, e: &BytesStart<'_>, empty: bool, line: u64) -> Result<(), BpmnError> {
        let name = local(e.name().as_ref());
        if self.skip_depth.is_none() {
            if IGNORED_SUBTREES.contains(&name.as_str()) {
                self.skip_depth = Some(self.stack.len());
            } else {
                open(
                    &name,
                    e,
                    line,
                    &self.stack,
                    &mut self.process,
                    &mut self.processes,
                    &mut self.nodes,
                    &mut self.flows,
                )?;
            }
        }
        self.text.clear();
        if !empty {
            self.stack.push(name);
        } else if self.skip_depth == Some(self.stack.len()) {
            self.skip_depth = None;
        }
        Ok(())
    }

    /// An element ends: stops skipping at the end of the ignored subtree, or
    /// hands its text to [`close`] outside one.
    fn on_end(&mut self) {
        let name = self.stack.pop().unwrap_or_default();
        if self.skip_depth == Some(self.stack.len()) {
            self.skip_depth = None;
        } else if self.skip_depth.is_none() {
            close(
                &name,
                &self.stack,
                self.text.trim(),
                &mut self.nodes,
                &mut self.flows,
            );
        }
        self.text.clear();
    }

    /// The model of the file's one process; refuses a file without a
    /// process or with several.
    fn finish(self) -> Result<ModelFile, BpmnError> {
        let Some((pattrs, pline)) = self.process else {
            return Err(err(None, "no <process> element: is this a BPMN 2.0 file?"));
        };
        if self.processes > 1 {
            return Err(err(
                None,
                "the file holds several processes; import one process per file",
            ));
        }
        build::build(pattrs, pline, self.nodes, self.flows)
    }
}

/// The character an entity reference stands for: the five XML entities
/// and character references; refuses any other.
fn entity(r: &BytesRef<'_>, line: u64) -> Result<char, BpmnError> {
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
        Some(c) => Ok(c),
        None => Err(err(Some(line), format!("unknown entity `&{name};`"))),
    }
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
