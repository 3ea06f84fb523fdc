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

/// Whether `change` is exactly the engine's creation of the empty document
/// `doc`: the engine, given the fields the change writes and its time,
/// produces a change with the same hash. This is how the server accepts an
/// engine-signed change from a device without trusting the device: it
/// re-derives it. Anything else signed by an engine actor is a forgery.
pub fn rederives(policy: &Policy, doc: &mut ClassDoc, change: &Change) -> bool {
    let Ok(after) = doc.with_change(change) else {
        return false;
    };
    let mut fields = after.fields();
    fields.retain(|_, v| !is_empty_container(v));
    let Ok(at) = Timestamp::from_second(change.timestamp()) else {
        return false;
    };
    let id = doc.id().record().clone();
    let Ok(docs) = engine_docs(policy, &id, &fields, at) else {
        return false;
    };
    docs.iter()
        .any(|(d, c)| d.id() == doc.id() && c.hash() == change.hash())
}

/// An empty long text, stage log or entries map: what the engine's
/// `create_containers` leaves, which is not part of the written content.
fn is_empty_container(v: &FieldValue) -> bool {
    match v {
        FieldValue::Entries(m) => m.is_empty(),
        FieldValue::Stages(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordKind;
    use automerge::transaction::Transactable;

    #[test]
    fn the_engines_creation_is_rederived_and_a_forgery_is_not() {
        let policy = Policy::shipped_default();
        let id = RecordId::derived(RecordKind::Activity, &["instance", "call", "1"]);
        let mut fields = BTreeMap::new();
        fields.insert("type".to_owned(), FieldValue::Text("call".into()));
        fields.insert("subject".to_owned(), FieldValue::Text("Llamar".into()));
        fields.insert("status".to_owned(), FieldValue::Text("planned".into()));
        let at: Timestamp = "2027-01-08T09:00:00Z".parse().expect("at");
        let (doc, change) = engine_docs(&policy, &id, &fields, at)
            .expect("docs")
            .into_iter()
            .next()
            .expect("one class");
        let mut empty = ClassDoc::new(doc.id().clone(), automerge::ActorId::random());
        assert!(rederives(&policy, &mut empty, &change));

        // The same engine actor, other content: a forgery.
        let mut forged = automerge::AutoCommit::new().with_actor(change.actor_id().clone());
        forged
            .put(automerge::ROOT, "subject", "Transferir fondos")
            .expect("put");
        forged.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message(ENGINE_AUTHOR)
                .with_time(at.as_second()),
        );
        let forged = forged.get_last_local_change().expect("change");
        let mut empty = ClassDoc::new(doc.id().clone(), automerge::ActorId::random());
        assert!(!rederives(&policy, &mut empty, &forged));
    }
}
