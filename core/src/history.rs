//! A record's history, read from the Automerge history of its documents:
//! who changed which field, when, and to what.

use automerge::{PatchAction, Prop, ROOT};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::document::ClassDoc;
use crate::error::Result;

/// One change to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339, from the change's timestamp; as the author's clock said).
    pub at: String,
    /// Who (the user name the change is signed with).
    pub author: String,
    /// The class document changed.
    pub class: String,
    /// The change's hash (hex).
    pub hash: String,
    /// What changed.
    pub fields: Vec<FieldChange>,
}

/// What one change did to one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// `set`, `cleared` or `edited` (text and logs).
    pub action: String,
    /// The new value (`set`) or the inserted text (`edited`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The history of one class document, oldest first.
pub fn of_doc(doc: &mut ClassDoc) -> Result<Vec<HistoryEntry>> {
    let class = doc.id().class().to_string();
    let am = doc.automerge();
    let changes = am.get_changes(&[]);
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let patches = am.diff(change.deps(), &[change.hash()]);
        let mut fields: Vec<FieldChange> = Vec::new();
        for patch in patches {
            let (field, action, value) = if patch.obj == ROOT {
                match patch.action {
                    PatchAction::PutMap { key, value, .. } => {
                        let shown = match value.0 {
                            automerge::Value::Scalar(s) => Some(scalar_text(&s)),
                            automerge::Value::Object(_) => None,
                        };
                        (key, "set", shown)
                    }
                    PatchAction::DeleteMap { key } => (key, "cleared", None),
                    _ => continue,
                }
            } else {
                let Some((_, Prop::Map(field))) = patch.path.first() else {
                    continue;
                };
                let inserted = match &patch.action {
                    PatchAction::SpliceText { value, .. } => Some(value.make_string()),
                    _ => None,
                };
                (field.clone(), "edited", inserted)
            };
            match fields.iter_mut().find(|f| f.field == field) {
                Some(existing) if action == "edited" => {
                    if let Some(text) = value {
                        existing
                            .value
                            .get_or_insert_with(String::new)
                            .push_str(&text);
                    }
                }
                Some(existing) => {
                    existing.action = action.to_owned();
                    existing.value = value;
                }
                None => fields.push(FieldChange {
                    field,
                    action: action.to_owned(),
                    value,
                }),
            }
        }
        out.push(HistoryEntry {
            at: Timestamp::from_second(change.timestamp())
                .map(|t| t.to_string())
                .unwrap_or_default(),
            author: change.message().unwrap_or("unknown").to_owned(),
            class: class.clone(),
            hash: change.hash().to_string(),
            fields,
        });
    }
    Ok(out)
}

fn scalar_text(s: &automerge::ScalarValue) -> String {
    match s {
        automerge::ScalarValue::Str(s) => s.to_string(),
        automerge::ScalarValue::Int(i) => i.to_string(),
        automerge::ScalarValue::Uint(u) => u.to_string(),
        automerge::ScalarValue::F64(f) => f.to_string(),
        automerge::ScalarValue::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}
