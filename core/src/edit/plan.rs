//! The steps of an edit: schema, rule book, the operations to carry out,
//! and applying them to class documents.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{EditEnv, Editor, FieldWrite, Touched, TypedWrite, field_def, policy_field_def};
use crate::document::ClassDoc;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{ClassName, RecordKind};
use crate::policy::{Policy, codes};
use crate::record::Record;
use crate::rules::{self, SystemWrite};
use crate::schema::{self, FieldDef, FieldType};
use crate::value::{self, FieldValue};

/// The writes a user asked for, by field.
pub(super) type Wanted = BTreeMap<&'static str, Option<FieldValue>>;

/// A write after checking, or a system write it implies.
pub(super) struct Planned {
    pub(super) def: &'static FieldDef,
    op: Op,
    typed: Option<TypedWrite>,
}

enum Op {
    Put(Option<FieldValue>),
    AppendStage(String),
}

/// Step (1), the schema's names: every field exists and is one a user may
/// set (not kept by the system). Values are not looked at yet: the policy
/// decides on the fields first.
pub(super) fn user_fields(policy: &Policy, kind: RecordKind, fields: &[&str]) -> Result<()> {
    for field in fields {
        let def = policy_field_def(policy, kind, field)?;
        if def.system {
            return Err(CoreError::Denied(crate::policy::denial(
                codes::SYSTEM_FIELD,
                None,
                Some(def.name),
                "schema",
                format!("`{}` is kept by the system and cannot be set", def.name),
            )));
        }
    }
    Ok(())
}

/// Step (3), the schema's values: every value is valid for its field (a
/// required field cannot be cleared). Run once the policy allowed every
/// field. A custom field's value given as text (typed before the policy
/// was at hand, see [`FieldWrite::text`]) is parsed with its definition.
pub(super) fn check_values(
    policy: &Policy,
    kind: RecordKind,
    writes: Vec<FieldWrite>,
) -> Result<Wanted> {
    let mut wanted = Wanted::new();
    for mut write in writes {
        let def = policy_field_def(policy, kind, &write.field)?;
        if let (true, Some(FieldValue::Text(text))) =
            (schema::custom::is_custom(def.name), &write.value)
        {
            write.value = Some(value::parse(def, text)?);
        }
        if let Some(v) = &write.value {
            value::check(def, v)?;
        } else if def.required {
            return Err(
                ValidationError::field(def.name, "is required and cannot be cleared").into(),
            );
        }
        wanted.insert(def.name, write.value);
    }
    Ok(wanted)
}

/// Default values for a new record: the author owns it, accounts start as
/// `lead`, deals in the first deal stage in force (`qualification` unless
/// the policy lists its own), activities `planned`.
pub(super) fn defaults(
    policy: &Policy,
    kind: RecordKind,
    author: &str,
) -> Vec<(&'static str, FieldValue)> {
    let mut out = vec![("owner", FieldValue::Text(author.to_owned()))];
    match kind {
        RecordKind::Account => out.push(("stage", "lead".into())),
        // The first stage in force (the policy's list always has some).
        RecordKind::Deal => {
            let first = policy.deal_stages().first().copied();
            out.push(("stage", first.unwrap_or("qualification").into()));
        }
        RecordKind::Activity => out.push(("status", "planned".into())),
        _ => {}
    }
    out
}

/// The record's fields as they would be after `wanted`.
pub(super) fn fields_after(current: &Record, wanted: &Wanted) -> BTreeMap<String, FieldValue> {
    let mut after = current.fields.clone();
    for (field, value) in wanted {
        match value {
            Some(v) => after.insert((*field).to_owned(), v.clone()),
            None => after.remove(*field),
        };
    }
    after
}

/// Step (4), required and cross-field rules from the one rule book: a new
/// record must satisfy all of them; an edit must not newly break one.
pub(super) fn check_rules(
    kind: RecordKind,
    creating: bool,
    current: &Record,
    after: &BTreeMap<String, FieldValue>,
) -> Result<()> {
    if creating {
        rules::check_record(kind, after)?;
    } else {
        rules::check_transition(kind, &current.fields, after, |_| false)
            .map_err(ValidationError::from)?;
    }
    Ok(())
}

/// The operations to carry out: the user's writes that change something,
/// then the system writes they imply (from the rule book).
pub(super) fn plan_writes(
    policy: &Policy,
    kind: RecordKind,
    creating: bool,
    current: &Record,
    after: &BTreeMap<String, FieldValue>,
    wanted: Wanted,
    now: Timestamp,
) -> Result<Vec<Planned>> {
    let mut plan: Vec<Planned> = Vec::new();
    for (field, value) in wanted {
        if !creating && current.fields.get(field) == value.as_ref() {
            continue; // unchanged: no op, no change
        }
        plan.push(Planned {
            def: policy_field_def(policy, kind, field)?,
            typed: Some(TypedWrite {
                field: field.to_owned(),
                value: serde_json::to_value(&value).unwrap_or_default(),
            }),
            op: Op::Put(value),
        });
    }
    for implied in rules::system_writes(kind, &current.fields, after, now) {
        let (field, op) = match implied {
            SystemWrite::Set { field, value } => (field, Op::Put(value)),
            SystemWrite::AppendStage { field, stage } => (field, Op::AppendStage(stage)),
        };
        plan.push(Planned {
            def: field_def(kind, field)?,
            op,
            typed: None,
        });
    }
    Ok(plan)
}

/// Step (5), apply: one change per class document, a new document starting
/// with the containers the user may write.
pub(super) fn apply(
    editor: &Editor<'_>,
    env: &mut impl EditEnv,
    current: &Record,
    plan: Vec<Planned>,
    creating: bool,
) -> Result<Vec<Touched>> {
    let kind = current.kind();
    let mut by_class: BTreeMap<ClassName, Vec<Planned>> = BTreeMap::new();
    for planned in plan {
        by_class
            .entry(editor.class_of(kind, planned.def.name)?)
            .or_default()
            .push(planned);
    }
    let mut touched: Vec<Touched> = Vec::new();
    for (class, planned) in by_class {
        let doc_id = current.id.doc(&class);
        let mut doc = match env.take_doc(&doc_id)? {
            Some(doc) => doc,
            None => new_class_doc(editor, env, current, &class, creating)?,
        };
        let mut typed = Vec::new();
        for p in planned {
            match p.op {
                Op::Put(v) => doc.put(p.def.name, p.def.ty, v.as_ref())?,
                Op::AppendStage(stage) => doc.append_stage(p.def.name, &stage, editor.now)?,
            }
            typed.extend(p.typed);
        }
        if let Some(change) = doc.commit(editor.author, editor.now) {
            touched.push((doc, change, typed));
        }
    }
    Ok(touched)
}

/// A class document the record does not have yet, with the containers
/// (lists, entries, text) of its fields the user may write.
fn new_class_doc(
    editor: &Editor<'_>,
    env: &impl EditEnv,
    current: &Record,
    class: &ClassName,
    creating: bool,
) -> Result<ClassDoc> {
    let kind = current.kind();
    let mut doc = ClassDoc::new(current.id.doc(class), env.actor().clone());
    let mut containers: Vec<(&str, FieldType)> = Vec::new();
    for field in editor.policy.fields_in(kind, class) {
        if let Some(def) = schema::field(kind, field)
            && def.ty.is_container()
            && editor
                .check_field(env, current, def.name, !creating)
                .is_ok()
        {
            containers.push((def.name, def.ty));
        }
    }
    doc.create_containers(&containers)?;
    Ok(doc)
}
