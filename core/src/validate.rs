//! Checking an incoming Automerge change operation by operation.
//!
//! The server runs [`check_change`] on every change a device pushes, before
//! storing or relaying it. The rules mirror what the core's write path can
//! produce, and nothing else is accepted (deny by default):
//!
//! - a root key is a field of the record's kind (built-in, or a custom
//!   field of the policy in force) that the policy puts in *this*
//!   document's class;
//! - a scalar has the field's type and passes [`value::check`];
//! - containers have their one allowed shape: long text is a `Text` object of
//!   characters; a stage log is a `List` of `{stage, at}` maps that only
//!   grows; an entries field is a `Map` of JSON objects;
//! - the user may write the class, and may edit the record given its
//!   visibility facts (`None`: a record being created);
//! - counters, marks, tables and anything not listed are refused.
//!
//! Paths of objects that existed before the change are resolved in the
//! document; objects created by the change are tracked while walking it.
//! A path that cannot be resolved refuses the change.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, Op, OpType};
use automerge::{ActorId, Change, ObjType, Prop, ReadDoc, ScalarValue};
use sha2::{Digest, Sha256};

use crate::document::ClassDoc;
use crate::error::Denial;
use crate::ids::{ClassName, RecordKind};
use crate::policy::{Access, RecordFacts, codes, denial};
use crate::schema::{self, FieldDef, FieldType};
use crate::value::{self, FieldValue};

/// The commit message of changes made by the process engine.
pub const ENGINE_AUTHOR: &str = "fieldwork-engine";
/// The first two bytes of every engine actor id.
pub const ENGINE_ACTOR_PREFIX: [u8; 2] = [0xFE, 0x01];
/// Most operations accepted in one change.
pub const MAX_OPS: usize = crate::change_limits::MAX_OPS;

/// Whether `actor` is a deterministic process-engine actor.
pub fn is_engine_actor(actor: &ActorId) -> bool {
    actor.to_bytes().starts_with(&ENGINE_ACTOR_PREFIX)
}

/// The deterministic engine actor for creating `doc` with `content`:
/// identical inputs give identical actors on every replica.
pub fn engine_actor(doc: &str, content: &[u8]) -> ActorId {
    let mut hasher = Sha256::new();
    hasher.update(doc.as_bytes());
    hasher.update([0]);
    hasher.update(content);
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes[..2].copy_from_slice(&ENGINE_ACTOR_PREFIX);
    bytes[2..].copy_from_slice(&digest[..14]);
    ActorId::from(&bytes[..])
}

/// Where an object sits: the root field it belongs to and how deep.
#[derive(Debug, Clone, Copy)]
struct Place {
    def: &'static FieldDef,
    depth: usize,
}

/// Checks every operation of `change` against `doc` as it stands.
pub fn check_change(
    access: &Access,
    doc: &mut ClassDoc,
    change: &Change,
    facts: &Option<RecordFacts>,
) -> Result<(), Denial> {
    let doc_id = doc.id().to_string();
    // Bound the work before anything is expanded: the operations Automerge
    // counted while parsing (at most MAX_OPS), and the raw bytes' other
    // limits (chunk type, predecessor references), without expanding them.
    crate::change_limits::check_parsed(change).map_err(|d| Denial {
        doc: Some(doc_id.clone()),
        ..d
    })?;
    let expanded = change.decode();
    let mut walk = Walk {
        access,
        kind: doc.id().record().kind(),
        class: doc.id().class().clone(),
        doc,
        facts: facts.as_ref(),
        doc_id,
        actor: expanded.actor_id.clone(),
        created: HashMap::new(),
        checked_fields: Vec::new(),
    };
    let start = expanded.start_op.get();
    for (i, op) in expanded.operations.iter().enumerate() {
        walk.check(start.saturating_add(i as u64), op)?;
    }
    Ok(())
}

/// A walk over one change's operations, in order: the document they apply
/// to, and what the walk has learnt so far.
struct Walk<'a> {
    access: &'a Access,
    doc: &'a mut ClassDoc,
    facts: Option<&'a RecordFacts>,
    doc_id: String,
    kind: RecordKind,
    class: ClassName,
    /// The change's actor (objects it creates are named by it).
    actor: ActorId,
    /// Objects the change created so far, by operation counter.
    created: HashMap<u64, Place>,
    /// Fields whose write right was checked already.
    checked_fields: Vec<&'static str>,
}

impl Walk<'_> {
    fn refuse(&self, code: &str, field: Option<&str>, rule: &str, message: String) -> Denial {
        denial(code, Some(&self.doc_id), field, rule, message)
    }

    /// Checks operation number `counter` of the change.
    fn check(&mut self, counter: u64, op: &Op) -> Result<(), Denial> {
        let place = self.place(&op.obj)?;
        let def = match place {
            Some(p) => p.def,
            None => self.root_field(&op.key)?,
        };
        self.may_write(def)?;
        match place {
            None => self.check_root(def, counter, op),
            Some(p) => self.check_inside(p.depth, def, counter, op),
        }
    }

    /// Where an operation acts: `None` for the root, else the field and
    /// depth of its object (created earlier in the change, or existing).
    fn place(&mut self, obj: &ObjectId) -> Result<Option<Place>, Denial> {
        let ObjectId::Id(id) = obj else {
            return Ok(None);
        };
        if *id.actor() == self.actor
            && let Some(p) = self.created.get(&id.counter())
        {
            return Ok(Some(*p));
        }
        let found = resolve(self.doc, self.kind, id.counter(), id.actor());
        found.map(Some).ok_or_else(|| {
            self.refuse(
                codes::UNKNOWN_FIELD,
                None,
                "schema",
                "an operation targets an object outside any known field".into(),
            )
        })
    }

    /// The field a root operation's key names.
    fn root_field(&self, key: &Key) -> Result<&'static FieldDef, Denial> {
        let kind = self.kind;
        let Key::Map(name) = key else {
            return Err(self.refuse(
                codes::UNKNOWN_FIELD,
                None,
                "schema",
                "the root is a map".into(),
            ));
        };
        self.access.field(kind, name).ok_or_else(|| {
            self.refuse(
                codes::UNKNOWN_FIELD,
                Some(name),
                "schema",
                format!("{kind} has no field `{name}`"),
            )
        })
    }

    /// The user may write `def` where the policy puts it (checked once per
    /// field), and it lives in this document's class: a field moved to a
    /// class the user may not write is refused for that reason, naming the
    /// rule.
    fn may_write(&mut self, def: &'static FieldDef) -> Result<(), Denial> {
        let (kind, field, class) = (self.kind, def.name, &self.class);
        if !self.checked_fields.contains(&field) {
            self.access
                .check_write(kind, field, self.facts, Some(&self.doc_id))?;
            self.checked_fields.push(field);
        }
        if let Some(policy) = self.access.policy()
            && let Some(home) = policy.class_of(kind, field).filter(|c| *c != class)
        {
            return Err(self.refuse(
                codes::FIELD_MOVED,
                Some(field),
                &format!("fields.{kind}.{home}"),
                format!(
                    "`{field}` now belongs to class `{home}`, not `{class}`; sync to get the new layout"
                ),
            ));
        }
        Ok(())
    }

    /// An operation on the root: a scalar put, a clear, or making the one
    /// container the field's type allows.
    fn check_root(&mut self, def: &'static FieldDef, counter: u64, op: &Op) -> Result<(), Denial> {
        let field = def.name;
        match (def.ty, &op.action) {
            (ty, OpType::Put(v)) if !ty.is_container() => {
                let value = field_value(v)
                    .ok_or_else(|| self.bad_value(field, format!("`{field}` cannot hold {v:?}")))?;
                value::check(def, &value).map_err(|e| self.bad_value(field, e.message))
            }
            // The logs only grow: never deleted or replaced once they exist.
            (FieldType::StageLog | FieldType::Entries, OpType::Delete | OpType::Make(_))
                if holds(self.doc, field) =>
            {
                Err(self.refuse(
                    codes::IMMUTABLE,
                    Some(field),
                    "schema",
                    format!("`{field}` only grows; it cannot be cleared or replaced"),
                ))
            }
            (_, OpType::Delete) if def.required => Err(self.bad_value(
                field,
                format!("`{field}` is required and cannot be cleared"),
            )),
            (_, OpType::Delete) => Ok(()),
            (FieldType::LongText, OpType::Make(ObjType::Text))
            | (FieldType::StageLog, OpType::Make(ObjType::List))
            | (FieldType::Entries, OpType::Make(ObjType::Map)) => {
                self.created.insert(counter, Place { def, depth: 1 });
                Ok(())
            }
            (_, action) => Err(self.not_allowed(def, action)),
        }
    }

    /// An operation inside a field's container at `depth`: long text takes
    /// characters, a stage log appends `{stage, at}` maps, entries map short
    /// keys to JSON objects (the event log only grows).
    fn check_inside(
        &mut self,
        depth: usize,
        def: &'static FieldDef,
        counter: u64,
        op: &Op,
    ) -> Result<(), Denial> {
        let field = def.name;
        match (depth, def.ty, &op.action) {
            (1, FieldType::LongText, OpType::Put(ScalarValue::Str(s))) if s.len() <= 16 => Ok(()),
            (1, FieldType::LongText, OpType::Delete) => Ok(()),
            (1, FieldType::StageLog, OpType::Make(ObjType::Map)) if op.insert => {
                self.created.insert(counter, Place { def, depth: 2 });
                Ok(())
            }
            (2, FieldType::StageLog, OpType::Put(ScalarValue::Str(s))) => {
                // The stages in force: the `stage` field's choices under
                // the policy (a deal stage picklist replaces them).
                let stages = match self.access.field(self.kind, "stage").map(|d| d.ty) {
                    Some(FieldType::Enum(stages)) => stages,
                    _ => &[],
                };
                match &op.key {
                    Key::Map(k) if k == "stage" && stages.contains(&s.as_str()) => Ok(()),
                    Key::Map(k) if k == "at" && s.parse::<jiff::Timestamp>().is_ok() => Ok(()),
                    _ => Err(self.bad_value(
                        field,
                        format!("`{field}` entries hold a known stage and a time"),
                    )),
                }
            }
            (1, FieldType::Entries, OpType::Put(ScalarValue::Str(s))) => {
                let ok = matches!(&op.key, Key::Map(k) if !k.is_empty() && k.len() <= 200)
                    && s.len() <= 64 * 1024
                    && serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_object());
                ok.then_some(()).ok_or_else(|| {
                    self.bad_value(
                        field,
                        format!("`{field}` entries are JSON objects under short keys"),
                    )
                })
            }
            (1, FieldType::Entries, OpType::Delete) if field != "events" => Ok(()),
            (_, _, action) => Err(self.not_allowed(def, action)),
        }
    }

    fn bad_value(&self, field: &str, message: String) -> Denial {
        self.refuse(codes::INVALID_VALUE, Some(field), "schema", message)
    }

    fn not_allowed(&self, def: &FieldDef, action: &OpType) -> Denial {
        self.bad_value(
            def.name,
            format!(
                "operation {} is not allowed on `{}` ({})",
                action_name(action),
                def.name,
                def.ty.describe()
            ),
        )
    }
}

/// Checks that the user may create a record of `kind` that its first
/// changes give these `facts` (owner, assignee, territory): the same edit
/// scopes as for changing it afterwards, so a rep cannot create an account
/// owned by someone else in a territory that is not hers.
pub fn check_new_record(
    access: &Access,
    kind: crate::ids::RecordKind,
    facts: &RecordFacts,
    doc: Option<&str>,
) -> Result<(), Denial> {
    access.check_write(kind, "owner", Some(facts), doc)
}

/// Whether `field` holds a value in the document as it stands.
fn holds(doc: &mut ClassDoc, field: &str) -> bool {
    doc.automerge()
        .get(automerge::ROOT, field)
        .is_ok_and(|v| v.is_some())
}

fn action_name(action: &OpType) -> &'static str {
    match action {
        OpType::Make(_) => "make-object",
        OpType::Delete => "delete",
        OpType::Increment(_) => "increment",
        OpType::Put(_) => "put",
        OpType::MarkBegin(_) | OpType::MarkEnd(_) => "mark",
    }
}

fn field_value(v: &ScalarValue) -> Option<FieldValue> {
    match v {
        ScalarValue::Str(s) => Some(FieldValue::Text(s.to_string())),
        ScalarValue::Int(i) => Some(FieldValue::Int(*i)),
        ScalarValue::Uint(u) => i64::try_from(*u).ok().map(FieldValue::Int),
        ScalarValue::F64(f) => Some(FieldValue::Float(*f)),
        ScalarValue::Boolean(b) => Some(FieldValue::Bool(*b)),
        _ => None,
    }
}

/// Finds the root field and depth of an existing object, or `None`.
fn resolve(
    doc: &mut ClassDoc,
    kind: crate::ids::RecordKind,
    counter: u64,
    actor: &ActorId,
) -> Option<Place> {
    let am = doc.automerge();
    let obj = am
        .import_obj(&format!("{counter}@{}", actor.to_hex_string()))
        .ok()?;
    let path = am.parents(&obj).ok()?.path();
    let (_, Prop::Map(field)) = path.first()? else {
        return None;
    };
    let def = schema::field(kind, field)?;
    Some(Place {
        def,
        depth: path.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClassName, RecordId, RecordKind};
    use crate::policy::{Policy, UserContext};
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn access(role: &str) -> Access {
        Access::User {
            user: UserContext {
                name: "ana".into(),
                role: role.into(),
                territories: vec!["madrid".into()],
                team: vec![],
            },
            policy: Policy::shipped_default(),
        }
    }

    fn class_doc(kind: RecordKind, class: &str) -> ClassDoc {
        let id = RecordId::new_random(kind).doc(&ClassName::new(class).expect("class"));
        ClassDoc::new(id, ActorId::random())
    }

    /// A change made with raw Automerge calls on a copy of `doc`.
    fn forge(doc: &mut ClassDoc, f: impl FnOnce(&mut AutoCommit)) -> Change {
        let mut copy = doc.automerge().fork();
        f(&mut copy);
        copy.commit();
        copy.get_last_local_change().expect("a change")
    }

    fn madrid() -> Option<RecordFacts> {
        Some(RecordFacts {
            owner: Some("luis".into()),
            assignee: None,
            territory: Some("madrid".into()),
            process_task: false,
        })
    }

    #[test]
    fn valid_changes_made_by_the_core_pass() {
        let mut doc = class_doc(RecordKind::Account, "general");
        let change = forge(&mut doc, |d| {
            d.put(ROOT, "name", "Acme").expect("put");
            d.put(ROOT, "stage", "lead").expect("put");
            let text = d
                .put_object(ROOT, "description", ObjType::Text)
                .expect("text");
            d.splice_text(&text, 0, 0, "Cliente desde 2019")
                .expect("splice");
            let log = d
                .put_object(ROOT, "stage_history", ObjType::List)
                .expect("list");
            let entry = d.insert_object(&log, 0, ObjType::Map).expect("entry");
            d.put(&entry, "stage", "lead").expect("put");
            d.put(&entry, "at", "2026-11-24T09:00:00Z").expect("put");
        });
        assert_eq!(
            check_change(&access("rep"), &mut doc, &change, &None),
            Ok(())
        );
        doc.apply_changes(vec![change]).expect("apply");
        // Editing the existing text resolves its path through the document.
        let edit = forge(&mut doc, |d| {
            let (_, text) = d.get(ROOT, "description").expect("get").expect("present");
            d.splice_text(&text, 0, 7, "Socio").expect("splice");
        });
        assert_eq!(
            check_change(&access("rep"), &mut doc, &edit, &madrid()),
            Ok(())
        );
    }

    #[test]
    fn forbidden_unknown_and_mistyped_writes_are_refused_with_reasons() {
        let mut fin = class_doc(RecordKind::Account, "financial");
        let credit = forge(&mut fin, |d| {
            d.put(ROOT, "credit_limit", 1_000_000i64).expect("put")
        });
        let d = check_change(&access("rep"), &mut fin, &credit, &madrid())
            .expect_err("reps may not write it");
        assert_eq!(
            (d.code.as_str(), d.field.as_deref(), d.rule.as_str()),
            (
                "class_not_writable",
                Some("credit_limit"),
                "roles.rep.write"
            )
        );
        assert!(check_change(&access("manager"), &mut fin, &credit, &madrid()).is_ok());

        let mut general = class_doc(RecordKind::Account, "general");
        let cases: Vec<(Change, &str, &str)> = vec![
            (
                forge(&mut general, |d| d.put(ROOT, "colour", "red").expect("put")),
                "unknown_field",
                "colour",
            ),
            (
                forge(&mut general, |d| {
                    d.put(ROOT, "email", "a@b.es").expect("put")
                }),
                "field_moved",
                "email",
            ),
            (
                forge(&mut general, |d| d.put(ROOT, "name", 42i64).expect("put")),
                "invalid_value",
                "name",
            ),
            (
                forge(&mut general, |d| {
                    d.put(ROOT, "stage", "dreaming").expect("put")
                }),
                "invalid_value",
                "stage",
            ),
            (
                forge(&mut general, |d| {
                    d.put(ROOT, "website", "javascript:alert(1)").expect("put")
                }),
                "invalid_value",
                "website",
            ),
            (
                forge(&mut general, |d| {
                    d.put_object(ROOT, "name", ObjType::Map).expect("map");
                }),
                "invalid_value",
                "name",
            ),
            (
                forge(&mut general, |d| {
                    d.put(ROOT, "industry", ScalarValue::counter(1))
                        .expect("put")
                }),
                "invalid_value",
                "industry",
            ),
        ];
        for (change, code, field) in cases {
            let d =
                check_change(&access("rep"), &mut general, &change, &madrid()).expect_err(field);
            assert_eq!(
                (d.code.as_str(), d.field.as_deref()),
                (code, Some(field)),
                "{d:?}"
            );
        }
    }

    #[test]
    fn records_outside_the_users_scope_are_refused() {
        let mut doc = class_doc(RecordKind::Account, "general");
        let change = forge(&mut doc, |d| d.put(ROOT, "name", "Hijack").expect("put"));
        let sevilla = Some(RecordFacts {
            owner: Some("luis".into()),
            assignee: None,
            territory: Some("sevilla".into()),
            process_task: false,
        });
        let d = check_change(&access("rep"), &mut doc, &change, &sevilla).expect_err("not hers");
        assert_eq!(d.code, "record_not_visible");
    }

    #[test]
    fn the_stage_log_only_grows_and_the_event_log_is_never_pruned() {
        let mut doc = class_doc(RecordKind::Account, "general");
        let create = forge(&mut doc, |d| {
            let log = d
                .put_object(ROOT, "stage_history", ObjType::List)
                .expect("list");
            let e = d.insert_object(&log, 0, ObjType::Map).expect("entry");
            d.put(&e, "stage", "lead").expect("put");
            d.put(&e, "at", "2026-11-24T09:00:00Z").expect("put");
        });
        doc.apply_changes(vec![create]).expect("apply");
        let prune = forge(&mut doc, |d| {
            let (_, log) = d.get(ROOT, "stage_history").expect("get").expect("log");
            d.delete(&log, 0).expect("delete");
        });
        assert_eq!(
            check_change(&access("admin"), &mut doc, &prune, &madrid())
                .expect_err("no pruning")
                .code,
            "invalid_value"
        );
        let bogus = forge(&mut doc, |d| {
            let (_, log) = d.get(ROOT, "stage_history").expect("get").expect("log");
            let e = d.insert_object(&log, 1, ObjType::Map).expect("entry");
            d.put(&e, "stage", "bankrupt").expect("put");
        });
        assert!(check_change(&access("admin"), &mut doc, &bogus, &madrid()).is_err());

        let mut inst = class_doc(RecordKind::ProcessInstance, "general");
        let events = forge(&mut inst, |d| {
            let m = d.put_object(ROOT, "events", ObjType::Map).expect("map");
            d.put(&m, "start#0", "{\"kind\":\"started\"}").expect("put");
        });
        assert!(check_change(&access("admin"), &mut inst, &events, &None).is_ok());
        inst.apply_changes(vec![events]).expect("apply");
        let drop_event = forge(&mut inst, |d| {
            let (_, m) = d.get(ROOT, "events").expect("get").expect("map");
            d.delete(&m, "start#0").expect("delete");
        });
        assert!(check_change(&access("admin"), &mut inst, &drop_event, &None).is_err());
        let not_json = forge(&mut inst, |d| {
            let (_, m) = d.get(ROOT, "events").expect("get").expect("map");
            d.put(&m, "x", "not json").expect("put");
        });
        assert!(check_change(&access("admin"), &mut inst, &not_json, &None).is_err());
    }

    #[test]
    fn engine_actors_are_deterministic_and_recognisable() {
        let a = engine_actor("activity:X/general", b"{}");
        assert_eq!(a, engine_actor("activity:X/general", b"{}"));
        assert_ne!(a, engine_actor("activity:X/general", b"{ }"));
        assert!(is_engine_actor(&a));
        assert!(!is_engine_actor(&ActorId::from(&[0u8; 16][..])));
    }
}
