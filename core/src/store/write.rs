//! The local write path: check, apply to the class documents, persist.
//!
//! Order matters and is the guarantee, [`crate::edit`]'s: (1) the fields
//! exist and are the user's to set, (2) the policy mirror refuses a field
//! the user may not write, whatever its value, (3) values (or text as
//! typed, parsed now) are checked against the schema, (4) the record as it
//! would be is checked against the rule book ([`crate::rules`]: required
//! and cross-field rules; the system writes a write implies come from
//! there too, so the server's engine writes the same), and only then (5)
//! are documents touched and persisted with their outbox entries and index
//! rows in one transaction. A refusal at any step changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use rusqlite::TransactionBehavior;

use super::{Store, assemble, docs, index, outbox};

use crate::document::ClassDoc;
use crate::edit::{EditEnv, Editor, TypedWrite, empty_record, field_def};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{ClassName, RecordId, RecordKind};
use crate::record::Record;
use crate::schema::FieldType;
use crate::value::{self, FieldValue};

pub(crate) use crate::edit::Touched;
pub use crate::edit::{FieldWrite, TextWrite};

/// What a write needs besides the transaction: borrowed pieces of the store.
pub(crate) struct Ctx<'a> {
    pub(crate) conn: &'a rusqlite::Connection,
    pub(crate) cache: &'a mut docs::DocCache,
    pub(crate) actor: &'a automerge::ActorId,
    pub(crate) policy: &'a crate::policy::Policy,
    pub(crate) access: &'a crate::policy::Access,
    pub(crate) collator: &'a super::NameCollator,
    pub(crate) author: &'a str,
    pub(crate) now: Timestamp,
    /// Records whose documents or index rows this transaction changed;
    /// handed to the store's [`changed`](super::changed) set on commit.
    pub(crate) changed: BTreeSet<RecordId>,
}

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
            author: &author,
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

    /// [`Store::create`] from text as a person typed it into a form: a
    /// field the user may not write is refused (`Denied`) before its text
    /// is parsed; then the text is parsed against the schema
    /// ([`FieldWrite::text`]) and written as `create` does.
    pub fn create_text(&mut self, kind: RecordKind, texts: Vec<TextWrite>) -> Result<RecordId> {
        let id = RecordId::new_random(kind);
        self.in_write_tx(|ctx| write_record_text(ctx, &id, true, texts))?;
        self.after_write(&id, None);
        Ok(id)
    }

    /// [`Store::update`] from text as typed, in [`Store::create_text`]'s
    /// order (policy before parsing).
    pub fn update_text(&mut self, id: &RecordId, texts: Vec<TextWrite>) -> Result<()> {
        let before = self.wants_before(id);
        self.in_write_tx(|ctx| write_record_text(ctx, id, false, texts))?;
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
            match doc.commit(ctx.author, ctx.now) {
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

/// What an edit reads from the store: its documents and index.
struct StoreEnv<'x> {
    conn: &'x rusqlite::Connection,
    cache: &'x mut docs::DocCache,
    actor: &'x automerge::ActorId,
}

impl EditEnv for StoreEnv<'_> {
    fn account_territory(&self, account: &RecordId) -> Result<Option<String>> {
        index::account_territory(self.conn, account)
    }

    fn take_doc(&mut self, doc: &crate::ids::DocId) -> Result<Option<ClassDoc>> {
        Ok(docs::take(self.conn, self.cache, doc, self.actor)?.map(|(_, d)| d))
    }

    fn actor(&self) -> &automerge::ActorId {
        self.actor
    }
}

impl<'a> Ctx<'a> {
    /// The editor for this write: the store's user, policy and clock.
    fn editor(&self) -> Editor<'a> {
        Editor {
            access: self.access,
            policy: self.policy,
            author: self.author,
            now: self.now,
            locale: crate::locale::Locale::from_tag(self.collator.locale()).unwrap_or_default(),
        }
    }

    /// The store as an edit sees it.
    fn env(&mut self) -> StoreEnv<'_> {
        StoreEnv {
            conn: self.conn,
            cache: self.cache,
            actor: self.actor,
        }
    }
}

/// The policy mirror: may the user write `field` of `current`?
pub(crate) fn check_policy(
    ctx: &mut Ctx<'_>,
    current: &Record,
    field: &str,
    existing: bool,
) -> Result<()> {
    let editor = ctx.editor();
    editor.check_field(&ctx.env(), current, field, existing)
}

/// Checks, applies and persists `writes` to record `id` inside `ctx`'s
/// transaction, in [`crate::edit`]'s order (fields, policy, values, rule
/// book, documents), then persists.
pub(crate) fn write_record(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    creating: bool,
    writes: Vec<FieldWrite>,
) -> Result<()> {
    edit_record(ctx, id, creating, |editor, env, current| {
        editor.write(env, current, creating, writes)
    })
}

/// [`write_record`] for text as typed ([`Editor::write_text`]).
fn write_record_text(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    creating: bool,
    texts: Vec<TextWrite>,
) -> Result<()> {
    edit_record(ctx, id, creating, |editor, env, current| {
        editor.write_text(env, current, creating, texts)
    })
}

/// Reads record `id` (an empty one when `creating`), runs the edit `f` on
/// it and persists what it changed.
fn edit_record(
    ctx: &mut Ctx<'_>,
    id: &RecordId,
    creating: bool,
    f: impl FnOnce(&Editor<'_>, &mut StoreEnv<'_>, &Record) -> Result<Vec<Touched>>,
) -> Result<()> {
    let current = if creating {
        empty_record(id)
    } else {
        read_record(ctx, id)?
    };
    let editor = ctx.editor();
    let touched = f(&editor, &mut ctx.env(), &current)?;
    if touched.is_empty() {
        return Ok(());
    }
    if id.kind() == RecordKind::Activity {
        check_process_task(ctx, &current, &touched)?;
    }
    persist(ctx, id, touched)
}

/// A task a process planned: the one rule of
/// [`crate::process::task_write`] (not completed while its instance is
/// held; an outcome that fits its step), as the server applies it.
fn check_process_task(ctx: &mut Ctx<'_>, current: &Record, touched: &[Touched]) -> Result<()> {
    let mut after = current.fields.clone();
    for (doc, _, _) in touched {
        after.extend(doc.fields());
    }
    let doc = touched.first().map(|(d, _, _)| d.id().to_string());
    let mut failed = None;
    let decided = crate::process::task_write::check(
        &current.id,
        &current.fields,
        &after,
        doc.as_deref(),
        &mut |rid| match assemble(ctx.conn, ctx.cache, ctx.actor, rid) {
            Ok(r) => r.map(|(r, _)| r),
            Err(e) => {
                failed.get_or_insert(e);
                None
            }
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    decided.map_err(CoreError::Denied)
}

/// Persists local changes of one record's documents, their outbox rows and
/// the refreshed index, in `ctx`'s transaction.
pub(crate) fn persist(ctx: &mut Ctx<'_>, id: &RecordId, touched: Vec<Touched>) -> Result<()> {
    let now_ms = ctx.now.as_millisecond();
    for (mut doc, change, typed) in touched {
        let bytes = change.raw_bytes();
        // A document this write created holds just this change: stored as
        // that change (no full save, the larger part of an import's cost).
        let whole_history = change.deps().is_empty() && doc.heads() == [change.hash()];
        let rev = if whole_history && !docs::exists(ctx.conn, doc.id())? {
            docs::insert_new(ctx.conn, doc.id(), None, bytes, now_ms)?
        } else {
            docs::persist(ctx.conn, &mut doc, bytes, now_ms)?
        };
        outbox::add(ctx.conn, doc.id(), change.hash(), bytes, &typed, now_ms)?;
        ctx.cache.put(rev, doc);
    }
    let (record, updated) = assemble(ctx.conn, ctx.cache, ctx.actor, id)?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
    ctx.changed.insert(id.clone());
    index::refresh(
        ctx.conn,
        ctx.collator,
        ctx.policy,
        &record,
        updated,
        ctx.now.as_second(),
    )
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
    match doc.commit(ctx.author, ctx.now) {
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
        refresh_record(ctx, record, &mut [])?;
    }
    Ok(())
}

/// Refreshes (or removes) the index rows of `record` from its documents,
/// taking those in `in_hand` from there instead of loading them, and notes
/// the record as changed.
pub(crate) fn refresh_record(
    ctx: &mut Ctx<'_>,
    record: &RecordId,
    in_hand: &mut [&mut ClassDoc],
) -> Result<()> {
    ctx.changed.insert(record.clone());
    match super::assemble_with(ctx.conn, ctx.cache, ctx.actor, record, in_hand)? {
        Some((assembled, updated)) => index::refresh(
            ctx.conn,
            ctx.collator,
            ctx.policy,
            &assembled,
            updated,
            ctx.now.as_second(),
        ),
        None => index::remove(ctx.conn, record),
    }
}
