//! The local write path: check, apply to the class documents, persist.
//!
//! Order matters and is the guarantee: (1) every write is checked against
//! the schema, (2) the record as it would be is checked against the rule
//! book ([`crate::rules`]: required and cross-field rules; the system writes
//! a write implies come from there too, so the server's engine writes the
//! same), (3) the policy mirror refuses forbidden writes, and only then (4)
//! are documents touched and (5) persisted with their outbox entries and
//! index rows in one transaction. A refusal at any step changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use automerge::Change;
use jiff::Timestamp;
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};

use super::{Store, assemble, docs, index, outbox};

use crate::document::ClassDoc;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{ClassName, RecordId, RecordKind};
use crate::policy::codes;
use crate::record::Record;
use crate::rules::{self, SystemWrite};
use crate::schema::{self, FieldDef, FieldType};
use crate::store::outbox::TypedWrite;
use crate::value::{self, FieldValue};

/// One field to set (`Some`) or clear (`None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldWrite {
    /// The field's name.
    pub field: String,
    /// The new value, or `None` to clear the field.
    pub value: Option<FieldValue>,
}

impl FieldWrite {
    /// Sets `field` to `value`.
    pub fn set(field: &str, value: impl Into<FieldValue>) -> Self {
        FieldWrite {
            field: field.to_owned(),
            value: Some(value.into()),
        }
    }

    /// Clears `field`.
    pub fn clear(field: &str) -> Self {
        FieldWrite {
            field: field.to_owned(),
            value: None,
        }
    }

    /// Parses `FIELD=VALUE` text (the CLI form) against `kind`'s schema. An
    /// empty value clears the field.
    pub fn parse(kind: RecordKind, assignment: &str) -> Result<Self> {
        let (field, raw) = assignment.split_once('=').ok_or_else(|| {
            CoreError::Invalid(ValidationError::record(format!(
                "`{assignment}` is not FIELD=VALUE"
            )))
        })?;
        FieldWrite::text(kind, field.trim(), Some(raw).filter(|r| !r.is_empty()))
    }

    /// Parses text typed into a form field against `kind`'s schema: `None`
    /// clears the field. This is how apps send what users typed; values
    /// come back in the same form in [`CardField::value`](super::CardField).
    pub fn text(kind: RecordKind, field: &str, raw: Option<&str>) -> Result<Self> {
        let def = field_def(kind, field)?;
        Ok(match raw {
            None => FieldWrite::clear(def.name),
            Some(raw) => FieldWrite {
                field: def.name.to_owned(),
                value: Some(value::parse(def, raw)?),
            },
        })
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Text(s)
    }
}

impl From<i64> for FieldValue {
    fn from(i: i64) -> Self {
        FieldValue::Int(i)
    }
}

impl From<f64> for FieldValue {
    fn from(f: f64) -> Self {
        FieldValue::Float(f)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

fn field_def(kind: RecordKind, field: &str) -> Result<&'static FieldDef> {
    schema::field(kind, field).ok_or_else(|| {
        CoreError::Invalid(ValidationError::field(
            field,
            format!("{kind} has no field `{field}`"),
        ))
    })
}

/// A write after checking, with the system writes it implies.
struct Planned {
    def: &'static FieldDef,
    op: Op,
    typed: Option<TypedWrite>,
}

enum Op {
    Put(Option<FieldValue>),
    AppendStage(String),
}

/// What a write needs besides the transaction: borrowed pieces of the store.
pub(crate) struct Ctx<'a> {
    pub(crate) conn: &'a rusqlite::Connection,
    pub(crate) cache: &'a mut docs::DocCache,
    pub(crate) actor: &'a automerge::ActorId,
    pub(crate) policy: &'a crate::policy::Policy,
    pub(crate) access: &'a crate::policy::Access,
    pub(crate) collator: &'a super::NameCollator,
    pub(crate) author: String,
    pub(crate) now: Timestamp,
    /// Records whose documents or index rows this transaction changed;
    /// handed to the store's [`changed`](super::changed) set on commit.
    pub(crate) changed: BTreeSet<RecordId>,
}

/// A class document changed by a write, with its new change and the typed
/// writes it carries.
pub(crate) type Touched = (ClassDoc, Change, Vec<TypedWrite>);

impl Store {
    /// Runs `f` with a write context inside one IMMEDIATE transaction and
    /// commits. Documents taken from the cache are forgotten if anything
    /// fails; the records it changed join [`Store::take_changed`]'s set only
    /// once the transaction committed.
    pub(crate) fn in_write_tx<T>(
        &mut self,
        f: impl FnOnce(&mut Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        // Whole seconds: Automerge stamps changes in seconds, and stage logs
        // and completion times read better without nanoseconds.
        let exact = self.clock.now();
        let now = exact
            .round(
                jiff::TimestampRound::new()
                    .smallest(jiff::Unit::Second)
                    .mode(jiff::RoundMode::Trunc),
            )
            .unwrap_or(exact);
        let author = self.author();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ctx = Ctx {
            conn: &tx,
            cache: &mut self.cache,
            actor: &self.actor,
            policy: &self.policy,
            access: &self.access,
            collator: &self.collator,
            author,
            now,
            changed: BTreeSet::new(),
        };
        let result = f(&mut ctx);
        let changed = std::mem::take(&mut ctx.changed);
        match result {
            Ok(out) => match tx.commit() {
                Ok(()) => {
                    self.changed.extend(changed);
                    Ok(out)
                }
                Err(e) => {
                    self.cache.clear();
                    Err(e.into())
                }
            },
            Err(e) => {
                drop(tx);
                self.cache.clear();
                Err(e)
            }
        }
    }

    /// Creates a record of `kind` from `writes` and returns its new id.
    /// Defaults: `owner` is the signed-in user, accounts start as `lead`,
    /// deals in `qualification`, activities `planned`.
    pub fn create(&mut self, kind: RecordKind, writes: Vec<FieldWrite>) -> Result<RecordId> {
        let id = RecordId::new_random(kind);
        self.in_write_tx(|ctx| write_record(ctx, &id, true, writes))?;
        self.after_write(&id, None);
        Ok(id)
    }

    /// Creates many records in one transaction (an import): all or none.
    /// Much faster than one `create` per record, which commits (and syncs to
    /// disk) each time. Returns the new ids in order.
    pub fn import(
        &mut self,
        kind: RecordKind,
        records: Vec<Vec<FieldWrite>>,
    ) -> Result<Vec<RecordId>> {
        self.in_write_tx(|ctx| {
            let mut ids = Vec::with_capacity(records.len());
            for writes in records {
                let id = RecordId::new_random(kind);
                write_record(ctx, &id, true, writes)?;
                ids.push(id);
            }
            Ok(ids)
        })
        .inspect(|ids| {
            let has_models = crate::process::ProcessHost::models(self).is_ok_and(|m| !m.is_empty());
            if has_models {
                for id in ids {
                    self.after_write(id, None);
                }
            }
        })
    }

    /// Creates a record with a given id (the process engine's deterministic
    /// ids). Refused if the record already exists here.
    pub fn create_with_id(&mut self, id: &RecordId, writes: Vec<FieldWrite>) -> Result<()> {
        self.in_write_tx(|ctx| {
            if !docs::doc_ids_of(ctx.conn, id)?.is_empty() {
                return Err(CoreError::Invalid(ValidationError::record(format!(
                    "{id} already exists"
                ))));
            }
            write_record(ctx, id, true, writes)
        })?;
        self.after_write(id, None);
        Ok(())
    }

    /// Changes fields of an existing record.
    pub fn update(&mut self, id: &RecordId, writes: Vec<FieldWrite>) -> Result<()> {
        let before = self.wants_before(id);
        self.in_write_tx(|ctx| write_record(ctx, id, false, writes))?;
        self.after_write(id, before);
        Ok(())
    }

    /// Edits long text in place: deletes `delete` characters at `pos` and
    /// inserts `insert`. Concurrent edits elsewhere in the text survive.
    pub fn splice_text(
        &mut self,
        id: &RecordId,
        field: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        let def = field_def(id.kind(), field)?;
        if def.ty != FieldType::LongText {
            return Err(CoreError::Invalid(ValidationError::field(
                field,
                "is not a long-text field",
            )));
        }
        self.in_write_tx(|ctx| {
            let current = read_record(ctx, id)?;
            check_policy(ctx, &current, def.name, true)?;
            let class = class_of(ctx, id.kind(), def.name)?;
            let doc_id = id.doc(&class);
            let mut doc = match docs::take(ctx.conn, ctx.cache, &doc_id, ctx.actor)? {
                Some((_, doc)) => doc,
                None => ClassDoc::new(doc_id.clone(), ctx.actor.clone()),
            };
            doc.splice_text(def.name, pos, delete, insert)?;
            let after = doc
                .get(def.name)?
                .unwrap_or(FieldValue::Text(String::new()));
            value::check(def, &after)?;
            let typed = TypedWrite {
                field: def.name.to_owned(),
                value: serde_json::to_value(&after).unwrap_or_default(),
            };
            match doc.commit(&ctx.author, ctx.now) {
                Some(change) => persist(ctx, id, vec![(doc, change, vec![typed])]),
                None => Ok(()),
            }
        })
    }
}

fn class_of(ctx: &Ctx<'_>, kind: RecordKind, field: &str) -> Result<ClassName> {
    ctx.policy
        .class_of(kind, field)
        .cloned()
        .ok_or_else(|| CoreError::Corrupt(format!("policy does not classify {kind}.{field}")))
}

/// Reads the record as stored (inside the write's transaction).
pub(crate) fn read_record(ctx: &mut Ctx<'_>, id: &RecordId) -> Result<Record> {
    assemble(ctx.conn, ctx.cache, ctx.actor, id)?
        .map(|(r, _)| r)
        .ok_or_else(|| CoreError::NotFound(id.to_string()))
}

/// The policy mirror: may the user write `field` of `current`?
pub(crate) fn check_policy(
    ctx: &Ctx<'_>,
    current: &Record,
    field: &str,
    existing: bool,
) -> Result<()> {
    let inherited = match current.account() {
        Some(acc) => index::account_territory(ctx.conn, &acc)?,
        None => None,
    };
    let facts = current.facts(inherited);
    let doc = ctx
        .policy
        .class_of(current.kind(), field)
        .map(|c| current.id.doc(c).to_string());
    ctx.access
        .check_write(
            current.kind(),
            field,
            existing.then_some(&facts),
            doc.as_deref(),
        )
        .map_err(CoreError::Denied)
}

/// Checks, applies and persists `writes` to record `id` inside `ctx`'s
/// transaction, in the module's order: schema, rule book, policy mirror,
/// documents, persistence.
pub(crate) fn write_record(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> Result<()> {
    let kind = id.kind();
    let mut wanted = check_schema(kind, writes)?;
    let current = if creating {
        empty_record(id)
    } else {
        read_record(ctx, id)?
    };
    if creating {
        for (field, default) in defaults(kind, &ctx.author) {
            wanted.entry(field).or_insert(Some(default));
        }
    }
    let after = fields_after(&current, &wanted);
    check_rules(kind, creating, &current, &after)?;
    let plan = plan_writes(kind, creating, &current, &after, wanted, ctx.now)?;
    if plan.is_empty() {
        return Ok(());
    }
    check_permissions(ctx, &current, &after, &plan, creating)?;
    let touched = apply_plan(ctx, &current, plan, creating)?;
    persist(ctx, id, touched)
}

/// The writes a user asked for, by field.
type Wanted = BTreeMap<&'static str, Option<FieldValue>>;

/// Step (1), the schema: every field exists, is user-writable, and its
/// value is valid (a required field cannot be cleared).
fn check_schema(kind: RecordKind, writes: Vec<FieldWrite>) -> Result<Wanted> {
    let mut wanted = Wanted::new();
    for write in writes {
        let def = field_def(kind, &write.field)?;
        if def.system {
            return Err(CoreError::Denied(crate::policy::denial(
                codes::SYSTEM_FIELD,
                None,
                Some(def.name),
                "schema",
                format!("`{}` is kept by the system and cannot be set", def.name),
            )));
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

/// A record with no fields yet (what a creation starts from).
fn empty_record(id: &RecordId) -> Record {
    Record {
        id: id.clone(),
        fields: BTreeMap::new(),
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    }
}

/// The record's fields as they would be after `wanted`.
fn fields_after(current: &Record, wanted: &Wanted) -> BTreeMap<String, FieldValue> {
    let mut after = current.fields.clone();
    for (field, value) in wanted {
        match value {
            Some(v) => after.insert((*field).to_owned(), v.clone()),
            None => after.remove(*field),
        };
    }
    after
}

/// Step (2), required and cross-field rules from the one rule book: a new
/// record must satisfy all of them; an edit must not newly break one.
fn check_rules(
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
fn plan_writes(
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
            def: field_def(kind, field)?,
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

/// Step (3), the policy mirror, before anything is touched: every planned
/// field is writable, and a new record is inside the user's creation scope
/// (the same check the server applies).
fn check_permissions(
    ctx: &Ctx<'_>,
    current: &Record,
    after: &BTreeMap<String, FieldValue>,
    plan: &[Planned],
    creating: bool,
) -> Result<()> {
    for planned in plan {
        check_policy(ctx, current, planned.def.name, !creating)?;
    }
    if !creating {
        return Ok(());
    }
    let created = Record {
        fields: after.clone(),
        ..current.clone()
    };
    let inherited = match created.account() {
        Some(acc) => index::account_territory(ctx.conn, &acc)?,
        None => None,
    };
    crate::validate::check_new_record(ctx.access, current.kind(), &created.facts(inherited), None)
        .map_err(CoreError::Denied)
}

/// Step (4), apply: one change per class document, a new document starting
/// with the containers the user may write.
fn apply_plan(
    ctx: &mut Ctx<'_>,
    current: &Record,
    plan: Vec<Planned>,
    creating: bool,
) -> Result<Vec<Touched>> {
    let kind = current.kind();
    let mut by_class: BTreeMap<ClassName, Vec<Planned>> = BTreeMap::new();
    for planned in plan {
        by_class
            .entry(class_of(ctx, kind, planned.def.name)?)
            .or_default()
            .push(planned);
    }
    let mut touched: Vec<Touched> = Vec::new();
    for (class, planned) in by_class {
        let doc_id = current.id.doc(&class);
        let mut doc = match docs::take(ctx.conn, ctx.cache, &doc_id, ctx.actor)? {
            Some((_, doc)) => doc,
            None => new_class_doc(ctx, current, &class, creating)?,
        };
        let mut typed = Vec::new();
        for p in planned {
            match p.op {
                Op::Put(v) => doc.put(p.def.name, p.def.ty, v.as_ref())?,
                Op::AppendStage(stage) => doc.append_stage(p.def.name, &stage, ctx.now)?,
            }
            typed.extend(p.typed);
        }
        if let Some(change) = doc.commit(&ctx.author, ctx.now) {
            touched.push((doc, change, typed));
        }
    }
    Ok(touched)
}

/// A class document the record does not have yet, with the containers
/// (lists, entries, text) of its fields the user may write.
fn new_class_doc(
    ctx: &Ctx<'_>,
    current: &Record,
    class: &ClassName,
    creating: bool,
) -> Result<ClassDoc> {
    let kind = current.kind();
    let mut doc = ClassDoc::new(current.id.doc(class), ctx.actor.clone());
    let mut containers: Vec<(&str, FieldType)> = Vec::new();
    for field in ctx.policy.fields_in(kind, class) {
        if let Some(def) = schema::field(kind, field)
            && def.ty.is_container()
            && check_policy(ctx, current, def.name, !creating).is_ok()
        {
            containers.push((def.name, def.ty));
        }
    }
    doc.create_containers(&containers)?;
    Ok(doc)
}

/// Persists local changes of one record's documents, their outbox rows and
/// the refreshed index, in `ctx`'s transaction.
pub(crate) fn persist(ctx: &mut Ctx<'_>, id: &RecordId, touched: Vec<Touched>) -> Result<()> {
    let now_ms = ctx.now.as_millisecond();
    for (mut doc, change, typed) in touched {
        let bytes = change.raw_bytes();
        let rev = docs::persist(ctx.conn, &mut doc, bytes, now_ms)?;
        outbox::add(ctx.conn, doc.id(), change.hash(), bytes, &typed, now_ms)?;
        ctx.cache.put(rev, doc);
    }
    let (record, updated) = assemble(ctx.conn, ctx.cache, ctx.actor, id)?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
    ctx.changed.insert(id.clone());
    index::refresh(
        ctx.conn,
        ctx.collator,
        &record,
        updated,
        ctx.now.as_second(),
    )
}

/// Default values for a new record.
fn defaults(kind: RecordKind, author: &str) -> Vec<(&'static str, FieldValue)> {
    let mut out = vec![("owner", FieldValue::Text(author.to_owned()))];
    match kind {
        RecordKind::Account => out.push(("stage", "lead".into())),
        RecordKind::Deal => out.push(("stage", "qualification".into())),
        RecordKind::Activity => out.push(("status", "planned".into())),
        _ => {}
    }
    out
}

/// Creates record `id` as the process engine: one change per class
/// document, made by the deterministic engine actor for (document,
/// content) and stamped `at`, so every replica that runs the same step
/// produces byte-identical changes (which Automerge then deduplicates).
/// Returns `false`, writing nothing, when the record exists here or the
/// user may not create it (another replica will).
pub(crate) fn create_engine(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    fields: &BTreeMap<String, FieldValue>,
    at: Timestamp,
) -> Result<bool> {
    if !docs::doc_ids_of(ctx.conn, id)?.is_empty() {
        return Ok(false);
    }
    let empty = empty_record(id);
    for field in fields.keys() {
        if check_policy(ctx, &empty, field, false).is_err() {
            return Ok(false);
        }
    }
    let mut touched: Vec<Touched> = Vec::new();
    for (mut doc, change) in crate::process::creation::engine_docs(ctx.policy, id, fields, at)? {
        let typed = fields
            .iter()
            .filter(|(f, _)| ctx.policy.class_of(id.kind(), f) == Some(doc.id().class()))
            .map(|(f, v)| TypedWrite {
                field: f.clone(),
                value: serde_json::to_value(v).unwrap_or_default(),
            })
            .collect();
        // Later edits to this document are the user's, not the engine's.
        doc.automerge().set_actor(ctx.actor.clone());
        touched.push((doc, change, typed));
    }
    persist(ctx, id, touched)?;
    Ok(true)
}

/// Sets one entry of an entries field (the engine's event log, process
/// parameters) as the user, with the same policy check as any write.
pub(crate) fn put_entry(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    field: &str,
    key: &str,
    value: &serde_json::Value,
) -> Result<()> {
    let def = field_def(id.kind(), field)?;
    if def.ty != FieldType::Entries {
        return Err(CoreError::Corrupt(format!(
            "`{field}` is not an entries field"
        )));
    }
    let current = read_record(ctx, id)?;
    if let Some(FieldValue::Entries(map)) = current.get(field)
        && map.get(key) == Some(value)
    {
        return Ok(()); // already there, as another replica wrote it
    }
    check_policy(ctx, &current, def.name, true)?;
    let class = class_of(ctx, id.kind(), def.name)?;
    let doc_id = id.doc(&class);
    let mut doc = match docs::take(ctx.conn, ctx.cache, &doc_id, ctx.actor)? {
        Some((_, doc)) => doc,
        None => ClassDoc::new(doc_id, ctx.actor.clone()),
    };
    doc.put_entry(def.name, key, value)?;
    match doc.commit(&ctx.author, ctx.now) {
        Some(change) => persist(ctx, id, vec![(doc, change, Vec::new())]),
        None => Ok(()),
    }
}

/// Re-indexes `records` from their stored documents; records left with no
/// document lose their index rows. Accounts are indexed before their
/// children so that inherited territories are current.
pub(crate) fn refresh_all(ctx: &mut Ctx<'_>, records: &BTreeSet<RecordId>) -> Result<()> {
    let (accounts, others): (Vec<&RecordId>, Vec<&RecordId>) = records
        .iter()
        .partition(|r| r.kind() == crate::ids::RecordKind::Account);
    for record in accounts.into_iter().chain(others) {
        ctx.changed.insert(record.clone());
        match assemble(ctx.conn, ctx.cache, ctx.actor, record)? {
            Some((assembled, updated)) => index::refresh(
                ctx.conn,
                ctx.collator,
                &assembled,
                updated,
                ctx.now.as_second(),
            )?,
            None => index::remove(ctx.conn, record)?,
        }
    }
    Ok(())
}
