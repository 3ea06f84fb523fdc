//! The XML namespaces a BPMN file may use, recognised by their URI, never
//! by the prefix a modeler happened to bind them to (`bpmn:`, `bpmn2:`,
//! `semantic:`, a default namespace...).
//!
//! Guarantees: [`Ns::of`] maps each known URI to one [`Ns`] and every other
//! URI (or no namespace) to [`Ns::Other`] / [`Ns::None`].

/// BPMN 2.0 semantic elements.
pub const BPMN: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
/// Fieldwork's extension attributes (`fieldwork:record`, `fieldwork:assignee`...).
pub const FIELDWORK: &str = "https://fieldwork.example/bpmn";
/// Camunda 7 extensions (`camunda:assignee`...).
pub const CAMUNDA: &str = "http://camunda.org/schema/1.0/bpmn";
/// Zeebe (Camunda 8) extensions (`zeebe:assignmentDefinition`...).
pub const ZEEBE: &str = "http://camunda.org/schema/zeebe/1.0";
/// Diagram interchange: layout, ignored with everything inside it.
pub const BPMN_DI: &str = "http://www.omg.org/spec/BPMN/20100524/DI";

/// A namespace the importer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// BPMN 2.0 semantics.
    Bpmn,
    /// Fieldwork's extensions.
    Fieldwork,
    /// Camunda 7.
    Camunda,
    /// Zeebe (Camunda 8).
    Zeebe,
    /// Diagram layout.
    Diagram,
    /// Any other namespace (a modeler's own, `xsi`...).
    Other,
    /// No namespace (an unprefixed attribute, or no default namespace).
    None,
}

impl Ns {
    /// The namespace of a URI.
    pub fn of(uri: &[u8]) -> Ns {
        match uri {
            u if u == BPMN.as_bytes() => Ns::Bpmn,
            u if u == FIELDWORK.as_bytes() => Ns::Fieldwork,
            u if u == CAMUNDA.as_bytes() => Ns::Camunda,
            u if u == ZEEBE.as_bytes() => Ns::Zeebe,
            u if u == BPMN_DI.as_bytes() => Ns::Diagram,
            _ => Ns::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_known_by_uri() {
        assert_eq!(Ns::of(BPMN.as_bytes()), Ns::Bpmn);
        assert_eq!(Ns::of(FIELDWORK.as_bytes()), Ns::Fieldwork);
        assert_eq!(Ns::of(CAMUNDA.as_bytes()), Ns::Camunda);
        assert_eq!(Ns::of(ZEEBE.as_bytes()), Ns::Zeebe);
        assert_eq!(Ns::of(b"http://bpmn.io/schema/bpmn"), Ns::Other);
    }
}
