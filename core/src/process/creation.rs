//! The engine's creation of a record: the same bytes on every replica.
//!
//! One change per class document, made by the deterministic engine actor
//! for (document, content) and stamped with the model-defined time, with
//! the class's containers created first in a fixed order. Two replicas that
//! create the same record from the same inputs produce byte-identical
//! changes, which Automerge stores once; different inputs produce two
//! creation changes that merge field by field into one record.

use std::collections::BTreeMap;

use automerge::Change;
use jiff::Timestamp;

use crate::document::ClassDoc;
use crate::error::{CoreError, Result};
use crate::ids::{ClassName, RecordId};
use crate::policy::Policy;
use crate::schema::{self, FieldDef, FieldType};
use crate::validate::{ENGINE_AUTHOR, engine_actor};
use crate::value::{self, FieldValue};

/// Builds the class documents of record `id` holding `fields`, each with its
/// one creation change. The documents' actor is the engine's: set your own
/// before writing to them again.
pub fn engine_docs(
    policy: &Policy,
    id: &RecordId,
    fields: &BTreeMap<String, FieldValue>,
    at: Timestamp,
) -> Result<Vec<(ClassDoc, Change)>> {
    let kind = id.kind();
    let mut by_class: BTreeMap<ClassName, Vec<(&'static FieldDef, &FieldValue)>> = BTreeMap::new();
    for (field, v) in fields {
        let def = schema::field(kind, field)
            .ok_or_else(|| CoreError::Corrupt(format!("{kind} has no field `{field}`")))?;
        value::check(def, v)?;
        let class = policy.class_of(kind, def.name).cloned().ok_or_else(|| {
            CoreError::Corrupt(format!("policy does not classify {kind}.{field}"))
        })?;
        by_class.entry(class).or_default().push((def, v));
    }
    let mut out = Vec::new();
    for (class, writes) in by_class {
        let doc_id = id.doc(&class);
        let content: BTreeMap<&str, &FieldValue> =
            writes.iter().map(|(d, v)| (d.name, *v)).collect();
        let bytes = serde_json::to_vec(&content).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        let mut doc = ClassDoc::new(doc_id.clone(), engine_actor(&doc_id.to_string(), &bytes));
        let containers: Vec<(&str, FieldType)> = policy
            .fields_in(kind, &class)
            .filter_map(|f| schema::field(kind, f))
            .filter(|d| d.ty.is_container())
            .map(|d| (d.name, d.ty))
            .collect();
        doc.create_containers(&containers)?;
        for (def, v) in writes {
            doc.put_value(def.name, def.ty, v)?;
        }
        if let Some(change) = doc.commit(ENGINE_AUTHOR, at) {
            out.push((doc, change));
        }
    }
    Ok(out)
}
