//! Reading a BPMN file's XML into a small element tree, with every element's
//! namespace resolved by URI ([`Ns`]) and its line.
//!
//! Guarantees: a file that is not well-formed XML (a missing close tag, a bad
//! attribute, an unbound prefix, an unknown entity) is refused with one XML
//! error naming its line, before anything is read as BPMN; the work is
//! bounded: at most [`MAX_BYTES`] bytes, [`MAX_DEPTH`] levels of nesting and
//! [`MAX_ELEMENTS`] elements; diagram layout (`bpmndi`) is read for
//! well-formedness and then dropped; nothing here panics on any input.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::names::Ns;
use super::problems::BpmnError;

/// Largest file imported, in bytes.
pub const MAX_BYTES: usize = 8 << 20;
/// Deepest nesting of elements.
pub const MAX_DEPTH: usize = 100;
/// Most elements in a file (diagram layout included).
pub const MAX_ELEMENTS: usize = 200_000;

/// An attribute: its namespace (`Ns::None` for an unprefixed one), local
/// name and value.
#[derive(Debug, Clone)]
pub(super) struct Attr {
    /// Its namespace.
    pub ns: Ns,
    /// Its local name.
    pub name: String,
    /// Its value, entities resolved.
    pub value: String,
}

/// An element: namespace, local name, attributes, line, children (indexes
/// into [`Tree::elements`]) and the text directly inside it.
#[derive(Debug, Clone)]
pub(super) struct Element {
    /// Its namespace.
    pub ns: Ns,
    /// Its local name (`userTask`).
    pub name: String,
    /// Its attributes, namespace declarations left out.
    pub attrs: Vec<Attr>,
    /// The line its start tag is on (1-based).
    pub line: u64,
    /// Its child elements (indexes into [`Tree::elements`]).
    pub children: Vec<usize>,
    /// The text directly inside it, entities resolved.
    pub text: String,
}

impl Element {
    /// Whether this is the BPMN element `name`.
    pub fn is(&self, name: &str) -> bool {
        self.ns == Ns::Bpmn && self.name == name
    }

    /// An unprefixed attribute (BPMN's own: `id`, `name`, `sourceRef`...).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.ext(Ns::None, name)
    }

    /// An attribute in namespace `ns`.
    pub fn ext(&self, ns: Ns, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The element's `id` (empty when it has none).
    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or_default()
    }
}

/// The elements of a file; the first is the root.
#[derive(Debug, Default)]
pub(super) struct Tree {
    /// Every element kept, in file order.
    pub elements: Vec<Element>,
}

impl Tree {
    /// The root element, if the file has one.
    pub fn root(&self) -> Option<&Element> {
        self.elements.first()
    }

    /// The children of `e`, in file order.
    pub fn children<'t>(&'t self, e: &'t Element) -> impl Iterator<Item = &'t Element> + 't {
        e.children.iter().filter_map(|i| self.elements.get(*i))
    }

    /// The first child of `e` that is the BPMN element `name`.
    pub fn child<'t>(&'t self, e: &'t Element, name: &str) -> Option<&'t Element> {
        self.children(e).find(|c| c.is(name))
    }
}

fn xml_error(line: u64, what: impl std::fmt::Display) -> BpmnError {
    BpmnError::at(Some(line), format!("the XML is not well-formed: {what}"))
}

/// What quick-xml found wrong, without its category prefix.
fn describe(e: &quick_xml::Error) -> String {
    match e {
        quick_xml::Error::IllFormed(x) => x.to_string(),
        quick_xml::Error::Syntax(x) => x.to_string(),
        other => other.to_string(),
    }
}

/// An element still open while reading: where it is in the tree (`None`
/// inside a dropped subtree), its line and its name as written.
struct Open {
    index: Option<usize>,
    line: u64,
    qname: String,
}

/// Reads `xml` into a tree, or the XML error that stops it.
pub(super) fn read(xml: &str) -> Result<Tree, BpmnError> {
    if xml.len() > MAX_BYTES {
        return Err(BpmnError::at(
            None,
            format!(
                "the file is {} bytes; at most {MAX_BYTES} are imported",
                xml.len()
            ),
        ));
    }
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut r = Reading {
        lines: Lines::new(xml),
        tree: Tree::default(),
        stack: Vec::new(),
        dropping: None,
        count: 0,
    };
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => return Err(xml_error(r.lines.at(reader.error_position()), describe(&e))),
        };
        let line = r.lines.element_start(reader.buffer_position());
        match event {
            Event::Start(e) => r.start(&reader, &e, line, false)?,
            Event::Empty(e) => r.start(&reader, &e, line, true)?,
            Event::End(_) => r.end(),
            Event::Text(t) => {
                let s = t.decode().map_err(|e| xml_error(line, e))?;
                r.text(&s);
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| xml_error(line, e))?;
                r.text(&s);
            }
            Event::GeneralRef(g) => {
                let c = entity(&g, line)?;
                r.text(c.encode_utf8(&mut [0; 4]));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = r.stack.last() {
        return Err(xml_error(
            open.line,
            format!("`<{}>` is never closed", open.qname),
        ));
    }
    if r.tree.elements.is_empty() {
        return Err(BpmnError::at(None, "the file holds no XML element"));
    }
    Ok(r.tree)
}

/// The state of [`read`].
struct Reading<'x> {
    lines: Lines<'x>,
    tree: Tree,
    stack: Vec<Open>,
    /// The depth at which a dropped subtree (diagram layout) started.
    dropping: Option<usize>,
    count: usize,
}

impl Reading<'_> {
    /// An element starts (and ends at once when `empty`).
    fn start(
        &mut self,
        reader: &NsReader<&[u8]>,
        e: &BytesStart<'_>,
        line: u64,
        empty: bool,
    ) -> Result<(), BpmnError> {
        self.count += 1;
        if self.count > MAX_ELEMENTS {
            return Err(BpmnError::at(
                Some(line),
                format!("more than {MAX_ELEMENTS} elements; the file is not imported"),
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(BpmnError::at(
                Some(line),
                format!("elements nested more than {MAX_DEPTH} deep"),
            ));
        }
        let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let (res, local) = reader.resolver().resolve_element(e.name());
        let ns = namespace(res, &qname, line)?;
        let attrs = attributes(reader, e, line)?;
        let drop = self.dropping.is_some() || ns == Ns::Diagram;
        let index = if drop {
            None
        } else {
            let i = self.tree.elements.len();
            self.tree.elements.push(Element {
                ns,
                name: String::from_utf8_lossy(local.as_ref()).into_owned(),
                attrs,
                line,
                children: Vec::new(),
                text: String::new(),
            });
            if let Some(parent) = self.stack.last().and_then(|o| o.index)
                && let Some(p) = self.tree.elements.get_mut(parent)
            {
                p.children.push(i);
            }
            Some(i)
        };
        if !empty {
            if drop && self.dropping.is_none() {
                self.dropping = Some(self.stack.len());
            }
            self.stack.push(Open { index, line, qname });
        }
        Ok(())
    }

    /// An element ends (quick-xml has checked that its name matches).
    fn end(&mut self) {
        self.stack.pop();
        if self.dropping == Some(self.stack.len()) {
            self.dropping = None;
        }
    }

    /// Text inside the innermost element kept.
    fn text(&mut self, s: &str) {
        if let Some(i) = self.stack.last().and_then(|o| o.index)
            && let Some(e) = self.tree.elements.get_mut(i)
        {
            e.text.push_str(s);
        }
    }
}

/// The namespace of an element; an unbound prefix is an XML error.
fn namespace(res: ResolveResult<'_>, qname: &str, line: u64) -> Result<Ns, BpmnError> {
    match res {
        ResolveResult::Bound(ns) => Ok(Ns::of(ns.as_ref())),
        ResolveResult::Unbound => Ok(Ns::None),
        ResolveResult::Unknown(p) => Err(xml_error(
            line,
            format!(
                "the prefix `{}` of `<{qname}>` is not bound to a namespace (no xmlns:{} declaration)",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&p)
            ),
        )),
    }
}

/// The attributes of `e` with their namespaces, without namespace
/// declarations; a malformed attribute is an XML error.
fn attributes(
    reader: &NsReader<&[u8]>,
    e: &BytesStart<'_>,
    line: u64,
) -> Result<Vec<Attr>, BpmnError> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|x| xml_error(line, format!("bad attribute: {x}")))?;
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        let qname = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let (res, local) = reader.resolver().resolve_attribute(a.key);
        let ns = namespace(res, &qname, line)?;
        let value = a
            .unescape_value()
            .map_err(|x| xml_error(line, format!("bad value of attribute `{qname}`: {x}")))?
            .into_owned();
        out.push(Attr {
            ns,
            name: String::from_utf8_lossy(local.as_ref()).into_owned(),
            value,
        });
    }
    Ok(out)
}

/// The character an entity reference stands for: the five XML entities
/// and character references; any other is an XML error.
fn entity(r: &BytesRef<'_>, line: u64) -> Result<char, BpmnError> {
    let name = r.decode().map_err(|e| xml_error(line, e))?;
    let c = match name.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => r.resolve_char_ref().ok().flatten(),
    };
    c.ok_or_else(|| xml_error(line, format!("unknown entity `&{name};`")))
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
    /// forward while reading), so an import takes time linear in its size.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_prefix_or_a_default_namespace_is_bpmn() {
        for xml in [
            "<bpmn2:definitions xmlns:bpmn2='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
            "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
            "<semantic:definitions xmlns:semantic='http://www.omg.org/spec/BPMN/20100524/MODEL'/>",
        ] {
            let tree = read(xml).expect("well-formed");
            assert!(tree.root().is_some_and(|r| r.is("definitions")), "{xml}");
        }
        let other = read("<bpmn:definitions xmlns:bpmn='urn:not-bpmn'/>").expect("xml");
        assert!(!other.root().is_some_and(|r| r.is("definitions")));
    }

    #[test]
    fn a_missing_close_tag_is_an_xml_error_with_its_line() {
        let xml = "<definitions>\n<process>\n<endEvent id='e'>\n</process>\n</definitions>";
        let e = read(xml).expect_err("not well-formed");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(
            e.message
                .starts_with("the XML is not well-formed: expected `</endEvent>`"),
            "{e}"
        );
        let open = read("<definitions>\n<process>").expect_err("unclosed");
        assert_eq!(open.line, Some(2), "{open}");
        assert!(
            open.message.contains("`<process>` is never closed"),
            "{open}"
        );
        let attr = read("<definitions>\n<process id='a' id='b'/></definitions>").expect_err("attr");
        assert_eq!(attr.line, Some(2), "{attr}");
        assert!(attr.message.contains("not well-formed"), "{attr}");
        let prefix = read("<x:definitions/>").expect_err("unbound prefix");
        assert!(prefix.message.contains("prefix `x`"), "{prefix}");
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(read(&deep).expect_err("deep").message.contains("nested"));
        let big = " ".repeat(MAX_BYTES + 1);
        assert!(read(&big).expect_err("big").message.contains("bytes"));
    }
}
