//! What is wrong with a BPMN file: every problem, each with the element it
//! concerns (id, name) and its line.
//!
//! Guarantees: a refused import carries at least one [`BpmnError`]; the
//! problems are in file order (by line, then as found), each printed on one
//! line as `line N: <tag> `id` "name": what is wrong`.

use std::fmt;

/// One problem of a BPMN file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpmnError {
    /// Where (1-based), when it is about one place of the file.
    pub line: Option<u64>,
    /// The element's tag (local name, e.g. `userTask`), when the
    /// problem is about one element.
    pub tag: Option<String>,
    /// The element's `id`, when it has one.
    pub element: Option<String>,
    /// The element's `name`, when it has one.
    pub name: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl BpmnError {
    /// A problem about the file as a whole, or a place without an element.
    pub fn at(line: Option<u64>, message: impl Into<String>) -> BpmnError {
        BpmnError {
            line,
            tag: None,
            element: None,
            name: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for BpmnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        let mut about = Vec::new();
        if let Some(t) = &self.tag {
            about.push(format!("<{t}>"));
        }
        if let Some(id) = &self.element {
            about.push(format!("`{id}`"));
        }
        if let Some(n) = self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            about.push(format!("\"{}\"", n.trim()));
        }
        if !about.is_empty() {
            write!(f, "{}: ", about.join(" "))?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for BpmnError {}

/// Why a BPMN file was refused: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpmnErrors(pub Vec<BpmnError>);

impl BpmnErrors {
    /// The problems, one line each (for a CLI or an API's `errors` list).
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// Sorts by line (problems without a line first), keeping the order in
    /// which problems on one line were found.
    pub(super) fn sorted(mut problems: Vec<BpmnError>) -> BpmnErrors {
        problems.sort_by_key(|p| p.line.unwrap_or(0));
        BpmnErrors(problems)
    }
}

impl fmt::Display for BpmnErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "the BPMN file cannot be imported: {one}"),
            many => {
                write!(
                    f,
                    "the BPMN file cannot be imported ({} problems):",
                    many.len()
                )?;
                for p in many {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BpmnErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_its_line_element_and_name() {
        let p = BpmnError {
            line: Some(7),
            tag: Some("complexGateway".into()),
            element: Some("some".into()),
            name: Some("Some".into()),
            message: "complex gateways are not supported yet".into(),
        };
        assert_eq!(
            p.to_string(),
            "line 7: <complexGateway> `some` \"Some\": complex gateways are not supported yet"
        );
        let all = BpmnErrors::sorted(vec![p.clone(), BpmnError::at(Some(2), "first")]);
        assert_eq!(all.0[0].message, "first");
        assert!(
            all.to_string()
                .contains("(2 problems):\n  line 2: first\n  line 7")
        );
    }
}
