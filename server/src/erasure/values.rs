//! The values an erasure removes from one contact's documents, found in
//! their current state and in every change of their history, so the
//! server's other tables can be searched for them (`super::purge`).
//!
//! Guarantees: only fields that do not survive an erasure
//! ([`super::survives`]) are collected, never the placeholder name; the
//! work is bounded by the documents' sizes and histories.

use std::collections::BTreeSet;

use fieldwork_core::attachment::AttachmentRef;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::{FieldValue, RecordKind};

use super::{PLACEHOLDER, survives};
use crate::error::Result;

/// Erased values found so far.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Every text value a removed field held (as typed).
    pub texts: BTreeSet<String>,
    /// The SHA-256 of every attachment (and thumbnail) a removed field
    /// referred to.
    pub blobs: BTreeSet<String>,
}

impl Found {
    /// Collects the personal values of `doc`, current and past; returns
    /// how many it met (repeats included: 0 means nothing personal left).
    pub fn collect(&mut self, doc: &mut ClassDoc) -> Result<usize> {
        let kind = doc.id().record().kind();
        let mut met = 0;
        for (field, value) in doc.fields() {
            if let Some(text) = personal_text(kind, &field, &value) {
                self.add(kind, &field, text);
                met += 1;
            }
        }
        for entry in fieldwork_core::history::of_doc(doc)? {
            for change in entry.fields {
                let Some(text) = change.value else { continue };
                if !survives(kind, &change.field) && !is_placeholder(&change.field, &text) {
                    self.add(kind, &change.field, text);
                    met += 1;
                }
            }
        }
        Ok(met)
    }

    /// Notes `text`, the value of `field`: an attachment reference also
    /// gives its blobs and its file name.
    fn add(&mut self, kind: RecordKind, field: &str, text: String) {
        let is_file = schema::field(kind, field).is_some_and(|d| d.ty == FieldType::File);
        if is_file && let Ok(reference) = AttachmentRef::parse(&text) {
            self.blobs.insert(reference.sha256.clone());
            if let Some(thumb) = &reference.thumbnail {
                self.blobs.insert(thumb.sha256.clone());
            }
            self.texts.insert(reference.name.clone());
        }
        if !text.is_empty() {
            self.texts.insert(text);
        }
    }
}

/// The text of a current value that an erasure removes, if any.
fn personal_text(kind: RecordKind, field: &str, value: &FieldValue) -> Option<String> {
    if survives(kind, field) {
        return None;
    }
    let text = match value {
        FieldValue::Text(s) => s.clone(),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Float(f) => f.to_string(),
        FieldValue::Bool(_) => return Some(String::new()),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    (!is_placeholder(field, &text)).then_some(text)
}

/// The name an erased contact keeps.
fn is_placeholder(field: &str, text: &str) -> bool {
    field == "last_name" && text == PLACEHOLDER
}
