//! Reading a call activity's settings into its Fieldwork settings: the
//! model it runs, the version it pins, whether the instance waits for it.
//!
//! | read                                                          | as        |
//! |---------------------------------------------------------------|-----------|
//! | `calledElement`, `zeebe:calledElement/@processId`             | `process` |
//! | `fieldwork:version`, `camunda:calledElementVersion` when `camunda:calledElementBinding="version"` | `version` |
//! | `fieldwork:wait` (`true`, the default, or `false`)            | `wait`    |
//!
//! Guarantees: a `fieldwork:` setting wins over these (as in
//! `settings.rs`); the key is a literal model key (1-64 letters, digits,
//! `_` or `-`; a FEEL string literal `="key"` is one), never an
//! expression; a version is a number of 1 or more; a binding Fieldwork
//! cannot honour (`versionTag`) is a problem; a multi-instance or looping
//! call activity is one problem. Every problem is returned, none dropped.

use std::collections::BTreeMap;

use super::super::names::Ns;
use super::super::xml::{Element, Tree};
use crate::process::model::valid_id;

/// Fills `fw` (the call activity's Fieldwork settings) from call activity
/// `e`; returns its problems.
pub(super) fn read(tree: &Tree, e: &Element, fw: &mut BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    if tree
        .children(e)
        .any(|c| c.is("multiInstanceLoopCharacteristics") || c.is("standardLoopCharacteristics"))
    {
        problems.push(
            "multi-instance and looping call activities are not supported: it runs the model once"
                .to_owned(),
        );
    }
    let zeebe = zeebe(tree, e);
    let written = fw
        .get("process")
        .map(|v| ("fieldwork:process".to_owned(), v.clone()));
    match written.or_else(|| called(e, zeebe)) {
        Some((what, text)) => match key(&what, &text) {
            Ok(k) => {
                fw.insert("process".into(), k);
            }
            Err(p) => problems.push(p),
        },
        None => problems.push(
            "a callActivity names the process it runs: calledElement, or zeebe:calledElement processId"
                .to_owned(),
        ),
    }
    match version(e, zeebe, fw) {
        Ok(Some(v)) => {
            fw.insert("version".into(), v.to_string());
        }
        Ok(None) => {}
        Err(p) => problems.push(p),
    }
    if let Some(w) = fw
        .get("wait")
        .filter(|w| !matches!(w.as_str(), "true" | "false"))
    {
        problems.push(format!(
            "fieldwork:wait `{w}`: true (wait until the called model completes, the default) or false (start it and go on)"
        ));
    }
    problems
}

/// Zeebe's `<zeebe:calledElement>` in the element's extension elements.
fn zeebe<'t>(tree: &'t Tree, e: &'t Element) -> Option<&'t Element> {
    let ext = tree.child(e, "extensionElements")?;
    tree.children(ext)
        .find(|c| c.ns == Ns::Zeebe && c.name == "calledElement")
}

/// The called process as written, and where: `calledElement` (Camunda 7,
/// bpmn.io) or Zeebe's `processId`; an empty one is none.
fn called(e: &Element, zeebe: Option<&Element>) -> Option<(String, String)> {
    let plain = e.attr("calledElement").map(|v| ("calledElement", v));
    let z = zeebe.and_then(|z| z.attr("processId"));
    plain
        .or(z.map(|v| ("zeebe:calledElement processId", v)))
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(w, v)| (w.to_owned(), v.to_owned()))
}

/// A model key out of `text` (found in `what`): a literal key or a FEEL
/// string literal (`="key"`), never an expression.
fn key(what: &str, text: &str) -> Result<String, String> {
    let t = text.trim();
    let literal = t
        .strip_prefix('=')
        .map(str::trim)
        .and_then(|x| x.strip_prefix('"')?.strip_suffix('"'));
    let k = match literal {
        Some(k) => k,
        None if t.starts_with('=') || t.contains("${") || t.contains("#{") => {
            return Err(format!(
                "{what} `{t}` is an expression Fieldwork cannot evaluate; name the process key"
            ));
        }
        None => t,
    };
    if valid_id(k) {
        Ok(k.to_owned())
    } else {
        Err(format!(
            "{what} `{t}` is not a process key (1-64 letters, digits, `_` or `-`)"
        ))
    }
}

/// The version pinned: `fieldwork:version`, or Camunda 7's version
/// binding; `None` for the latest (pinned when publishing).
fn version(
    e: &Element,
    zeebe: Option<&Element>,
    fw: &BTreeMap<String, String>,
) -> Result<Option<i64>, String> {
    if let Some(v) = fw.get("version") {
        return number("fieldwork:version", v).map(Some);
    }
    if let Some(tag) = zeebe.and_then(|z| z.attr("bindingType")) {
        binding("zeebe:calledElement bindingType", tag)?;
    }
    match e.ext(Ns::Camunda, "calledElementBinding") {
        Some("version") => {
            let v = e.ext(Ns::Camunda, "calledElementVersion").unwrap_or("");
            number("camunda:calledElementVersion", v).map(Some)
        }
        Some(other) => binding("camunda:calledElementBinding", other).map(|()| None),
        None => Ok(None),
    }
}

/// A binding that takes the latest version (`latest`, or `deployment`:
/// publishing pins the latest published with the calling model).
fn binding(what: &str, text: &str) -> Result<(), String> {
    match text.trim() {
        "" | "latest" | "deployment" => Ok(()),
        other => Err(format!(
            "{what} `{other}` is not supported: take the latest version, or pin one with fieldwork:version"
        )),
    }
}

/// A published version number (1 or more).
fn number(what: &str, text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| format!("{what} `{text}` is not a version number (1 or more)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_literal_model_keys() {
        assert_eq!(
            key("calledElement", " credit-check ").as_deref(),
            Ok("credit-check")
        );
        assert_eq!(key("p", "=\"credit_check\"").as_deref(), Ok("credit_check"));
        assert!(key("p", "${key}").is_err_and(|e| e.contains("is an expression")));
        assert!(key("p", "=processKey").is_err_and(|e| e.contains("is an expression")));
        assert!(key("p", "credit check").is_err_and(|e| e.contains("not a process key")));
        assert!(key("p", &"k".repeat(65)).is_err());
    }

    #[test]
    fn versions_are_numbers_of_one_or_more() {
        assert_eq!(number("v", " 3 "), Ok(3));
        assert!(number("v", "0").is_err());
        assert!(number("v", "${v}").is_err());
        assert!(number("v", "").is_err());
        assert!(binding("b", "latest").is_ok());
        assert!(binding("b", "versionTag").is_err());
    }
}
