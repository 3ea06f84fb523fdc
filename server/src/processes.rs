//! The server as a process host: runs instances next to the data.
//!
//! The server runs the same runner as the device ([`fieldwork_core::process`])
//! over its own documents: a scheduler pass every [`crate::state::ServerConfig::process_tick`]
//! runs due timers and deadlines, and every accepted push that touches an
//! instance or one of its activities runs that instance at once. What the
//! engine writes is stored in the feed and relayed like any change; a device
//! that ran the same step offline wrote the same records under the same
//! ids, so sync merges the two runs into one.
//!
//! An instance runs as its owner (see [`fieldwork_core::process::rights`]):
//! it reads only the classes the owner's role reads, its `set` steps write
//! only what that role writes, and a task shows only what its assignee may
//! read. The server's engine writes are therefore not run through the
//! validator meant for devices; they carry no user of their own. An instance
//! that makes the engine panic, or loops without waiting, is marked failed
//! (`process_wakeups.failed`, shown by `process monitor`) and the others go on.
//!
//! Guarantees: an instance's `record` and `account` change only through
//! [`repoint_instances`], the server's own change for a merge (no pushed
//! change may make it, see [`fieldwork_core::process::guard`]).

use std::collections::BTreeMap;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::error::CoreError;
use fieldwork_core::merge::{self, Repoint};
use fieldwork_core::process::creation::engine_docs;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner::{self, model_from_record};
use fieldwork_core::process::{HostError, ProcessHost};
use fieldwork_core::rules;
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::validate::ENGINE_AUTHOR;
use fieldwork_core::{Access, ClassName, DocId, FieldValue, Policy, Record, RecordId, RecordKind};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Writer, documents, facts, feed, policy, users};
use crate::error::{Result, ServerError};
use crate::hub::{FeedEvent, Hub, HubEvent};

/// The server's host errors are its own: storage failures stay
/// [`ServerError::Storage`], and core errors (a refused step) arrive as
/// [`ServerError::Core`], which the runner tells apart.
impl HostError for ServerError {
    fn as_core(&self) -> Option<&CoreError> {
        match self {
            ServerError::Core(e) => Some(e),
            _ => None,
        }
    }
}

/// A process host over the server's writer, inside one transaction.
pub struct ServerHost<'w> {
    conn: &'w Connection,
    cache: &'w mut lru::LruCache<DocId, ClassDoc>,
    actor: ActorId,
    now: Timestamp,
    user: String,
    policy: Policy,
    access: Access,
    models: Option<Vec<Model>>,
    /// Changes written, to publish once the transaction commits.
    pub events: Vec<FeedEvent>,
}

impl<'w> ServerHost<'w> {
    fn load(&mut self, doc: &DocId) -> Result<Option<&mut ClassDoc>> {
        documents::load(self.conn, self.cache, doc, &self.actor)
    }

    /// Stores one change of `doc` (already applied to the cached copy).
    fn store(&mut self, doc: &DocId, change: &fieldwork_core::automerge::Change) -> Result<()> {
        let raw = change.raw_bytes().to_vec();
        let hash = change.hash();
        let now_ms = self.now.as_millisecond();
        let seq = feed::append(self.conn, doc, &hash.0, &raw, None, None, now_ms)?;
        let base = doc.class() == self.policy.base_class();
        let mut facts_changed = false;
        if let Some(loaded) = self.cache.get_mut(doc) {
            documents::compact_if_due(self.conn, loaded, seq)?;
            crate::db::record_index::refresh(self.conn, loaded)?;
        }
        if base && let Some(record) = self.record(doc.record())? {
            facts_changed = facts::update_facts(self.conn, &record)?;
        }
        let base_class = self.policy.base_class();
        crate::webhooks::after_engine_write(
            self.conn,
            self.cache,
            &self.actor,
            doc,
            change,
            base_class,
            now_ms,
        )?;
        self.events.push(FeedEvent {
            seq,
            doc: doc.clone(),
            hash: hash.0.to_vec(),
            bytes: raw,
            device: None,
            facts_changed,
        });
        Ok(())
    }

    /// `ops` grouped by the class document each field lives in.
    fn by_class(
        &self,
        kind: RecordKind,
        ops: Vec<rules::SystemWrite>,
    ) -> Result<BTreeMap<ClassName, Vec<rules::SystemWrite>>> {
        let mut by_class: BTreeMap<ClassName, Vec<rules::SystemWrite>> = BTreeMap::new();
        for op in ops {
            let name = op.field();
            let class = self
                .policy
                .class_of(kind, name)
                .cloned()
                .ok_or_else(|| CoreError::Corrupt(format!("unclassified field {name}")))?;
            by_class.entry(class).or_default().push(op);
        }
        Ok(by_class)
    }

    /// Applies `ops` to document `doc_id` (created if missing) as one
    /// engine change, and stores it.
    fn apply(&mut self, doc_id: &DocId, ops: Vec<rules::SystemWrite>) -> Result<()> {
        let (kind, now) = (doc_id.record().kind(), self.now);
        if self.load(doc_id)?.is_none() {
            self.cache.put(
                doc_id.clone(),
                ClassDoc::new(doc_id.clone(), self.actor.clone()),
            );
        }
        let Some(doc) = self.cache.get_mut(doc_id) else {
            return Err(CoreError::NotFound(doc_id.to_string()).into());
        };
        for op in ops {
            match op {
                rules::SystemWrite::Set { field, value } => {
                    let ty = fieldwork_core::schema::field(kind, field)
                        .map(|d| d.ty)
                        .ok_or_else(|| {
                            CoreError::Corrupt(format!("{kind} has no field `{field}`"))
                        })?;
                    doc.put(field, ty, value.as_ref())?;
                }
                rules::SystemWrite::AppendStage { field, stage } => {
                    doc.append_stage(field, &stage, now)?;
                }
            }
        }
        if let Some(change) = doc.commit(ENGINE_AUTHOR, now) {
            self.store(doc_id, &change)?;
        }
        Ok(())
    }

    fn ids_of_kind(&self, kind: RecordKind) -> Result<Vec<RecordId>> {
        ids_of_kind(self.conn, kind)
    }

    /// Makes the host's "now" at least `t` (in whole seconds), so that what
    /// is written next is stamped after `t` (see the office API's controls).
    pub fn not_before(&mut self, t: Timestamp) {
        let t = Timestamp::from_second(t.as_second()).unwrap_or(t);
        if t > self.now {
            self.now = t;
        }
    }

    /// The connection of the host's transaction (reads see its writes).
    pub fn conn(&self) -> &Connection {
        self.conn
    }
}

/// Ids of every stored record of `kind`, in id order.
pub fn ids_of_kind(conn: &Connection, kind: RecordKind) -> Result<Vec<RecordId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT record_id FROM documents WHERE record_id >= ?1 AND record_id < ?2 ORDER BY record_id",
    )?;
    let lo = format!("{}:", kind.as_str());
    let hi = format!("{};", kind.as_str());
    let rows: Vec<String> = stmt
        .query_map(params![lo, hi], |r| r.get(0))
        .and_then(|r| r.collect())?;
    Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
}

/// The server's wake-up time (seconds) and failure reason of `instance`.
pub fn wakeup_of(conn: &Connection, instance: &RecordId) -> Result<(Option<i64>, Option<String>)> {
    Ok(conn
        .query_row(
            "SELECT wake_at, failed FROM process_wakeups WHERE instance = ?1",
            [instance.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((None, None)))
}

/// Instances the engine gave up on, with why: (instance, reason), in id
/// order.
pub fn failures(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT instance, failed FROM process_wakeups WHERE failed IS NOT NULL ORDER BY instance",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    Ok(rows)
}

impl ProcessHost for ServerHost<'_> {
    type Error = ServerError;

    fn now(&self) -> Timestamp {
        self.now
    }

    fn acting_user(&self) -> String {
        self.user.clone()
    }

    fn access(&self) -> &Access {
        &self.access
    }

    fn runs_every_instance(&self) -> bool {
        true
    }

    fn policy(&self) -> Option<&Policy> {
        Some(&self.policy)
    }

    fn models(&mut self) -> Result<Vec<Model>> {
        if let Some(m) = &self.models {
            return Ok(m.clone());
        }
        let mut models = Vec::new();
        for id in self.ids_of_kind(RecordKind::ProcessModel)? {
            if let Some(m) = self.record(&id)?.as_ref().and_then(model_from_record) {
                models.push(m);
            }
        }
        self.models = Some(models.clone());
        Ok(models)
    }

    fn record(&mut self, id: &RecordId) -> Result<Option<Record>> {
        let docs = documents::docs_of_record(self.conn, &id.to_string())?;
        if docs.is_empty() {
            return Ok(None);
        }
        let mut record = Record {
            id: id.clone(),
            fields: BTreeMap::new(),
            conflicts: BTreeMap::new(),
            classes: Vec::new(),
        };
        for d in docs {
            let Ok(doc_id) = d.parse::<DocId>() else {
                continue;
            };
            record.classes.push(doc_id.class().clone());
            if let Some(doc) = self.load(&doc_id)? {
                for field in doc.field_names() {
                    if let Ok(Some(v)) = doc.get(&field) {
                        record.fields.insert(field, v);
                    }
                }
            }
        }
        Ok(Some(record))
    }

    fn records_of(&mut self, kind: RecordKind) -> Result<Vec<RecordId>> {
        self.ids_of_kind(kind)
    }

    fn directory(&mut self) -> Result<Vec<DirectoryEntry>> {
        // Enabled users only: the engine never assigns work to someone
        // who can no longer sign in (the same list devices receive).
        users::directory(self.conn)
    }

    fn create(
        &mut self,
        id: &RecordId,
        fields: &BTreeMap<String, FieldValue>,
        at: Timestamp,
    ) -> Result<bool> {
        if !documents::docs_of_record(self.conn, &id.to_string())?.is_empty() {
            return Ok(false);
        }
        for (mut doc, change) in engine_docs(&self.policy, id, fields, at)? {
            doc.automerge().set_actor(self.actor.clone());
            let doc_id = doc.id().clone();
            self.cache.put(doc_id.clone(), doc);
            self.store(&doc_id, &change)?;
        }
        Ok(true)
    }

    fn put_entry(
        &mut self,
        id: &RecordId,
        field: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let class = self
            .policy
            .class_of(id.kind(), field)
            .cloned()
            .ok_or_else(|| CoreError::Corrupt(format!("unclassified field {field}")))?;
        let doc_id = id.doc(&class);
        let now = self.now;
        let Some(doc) = self.load(&doc_id)? else {
            return Err(CoreError::NotFound(doc_id.to_string()).into());
        };
        if let Ok(Some(FieldValue::Entries(map))) = doc.get(field)
            && map.get(key) == Some(value)
        {
            return Ok(());
        }
        doc.put_entry(field, key, value)?;
        if let Some(change) = doc.commit(ENGINE_AUTHOR, now) {
            self.store(&doc_id, &change)?;
        }
        Ok(())
    }

    fn write(&mut self, id: &RecordId, field: &str, value: FieldValue) -> Result<()> {
        // The same steps as the device's write path (core/src/store/write.rs),
        // from the same rule book: schema, unchanged-is-nothing, rules,
        // implied system writes, one change per class document.
        let kind = id.kind();
        let def = settable(kind, field, &value)?;
        let Some(current) = self.record(id)? else {
            return Err(CoreError::NotFound(id.to_string()).into());
        };
        if current.fields.get(def.name) == Some(&value) {
            return Ok(()); // unchanged: no op, no change
        }
        let mut after = current.fields.clone();
        after.insert(def.name.to_owned(), value.clone());
        rules::check_transition(kind, &current.fields, &after, |_| false)
            .map_err(|v| CoreError::Invalid(v.into()))?;
        let mut ops = vec![rules::SystemWrite::Set {
            field: def.name,
            value: Some(value),
        }];
        ops.extend(rules::system_writes(
            kind,
            &current.fields,
            &after,
            self.now,
        ));
        // One change per class document, in class order (as on the device).
        for (class, ops) in self.by_class(kind, ops)? {
            self.apply(&id.doc(&class), ops)?;
        }
        Ok(())
    }

    fn set_wakeup(
        &mut self,
        instance: &RecordId,
        at: Option<Timestamp>,
        active: bool,
        watch: Option<&RecordId>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO process_wakeups(instance, wake_at, active, watch) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(instance) DO UPDATE SET wake_at = excluded.wake_at,
                   active = excluded.active AND process_wakeups.failed IS NULL,
                   watch = excluded.watch",
            params![
                instance.to_string(),
                at.map(|t| t.as_second()),
                active,
                watch.map(ToString::to_string)
            ],
        )?;
        Ok(())
    }

    fn due(&mut self, now: Timestamp) -> Result<Vec<RecordId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT instance FROM process_wakeups WHERE active = 1 AND wake_at <= ?1 ORDER BY wake_at")
            ?;
        let rows: Vec<String> = stmt
            .query_map([now.as_second()], |r| r.get(0))
            .and_then(|r| r.collect())?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn active(&mut self) -> Result<Vec<RecordId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT instance FROM process_wakeups WHERE active = 1")?;
        let rows: Vec<String> = stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect())?;
        Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
    }

    fn watching(&mut self, record: &RecordId) -> Result<Vec<RecordId>> {
        watching(self.conn, record)
    }

    fn schedule_mark(&mut self, key: &str) -> Result<Option<Timestamp>> {
        Ok(
            crate::db::meta_get(self.conn, &format!("schedule:{key}"))?
                .and_then(|t| t.parse().ok()),
        )
    }

    fn set_schedule_mark(&mut self, key: &str, at: Timestamp) -> Result<()> {
        crate::db::meta_set(self.conn, &format!("schedule:{key}"), &at.to_string())
    }

    fn failure(&mut self, instance: &RecordId) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT failed FROM process_wakeups WHERE instance = ?1",
                [instance.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    fn mark_failed(&mut self, instance: &RecordId, reason: &str) -> Result<()> {
        tracing::warn!(%instance, reason = %reason.escape_debug(), "process instance failed");
        self.conn
            .execute(
                "INSERT INTO process_wakeups(instance, wake_at, active, failed) VALUES (?1, NULL, 0, ?2)
                 ON CONFLICT(instance) DO UPDATE SET wake_at = NULL, active = 0, failed = excluded.failed",
                params![instance.to_string(), reason],
            )
            ?;
        Ok(())
    }
}

/// The schema's definition of `field` of `kind`, if a process step may set
/// it to `value`: it exists, is not kept by the system, and `value` fits.
fn settable(
    kind: RecordKind,
    field: &str,
    value: &FieldValue,
) -> Result<&'static fieldwork_core::schema::FieldDef> {
    let def = fieldwork_core::schema::field(kind, field).ok_or_else(|| {
        CoreError::Invalid(fieldwork_core::ValidationError::field(
            field,
            format!("{kind} has no field `{field}`"),
        ))
    })?;
    if def.system {
        return Err(CoreError::Denied(fieldwork_core::Denial {
            code: fieldwork_core::policy::codes::SYSTEM_FIELD.to_owned(),
            doc: None,
            field: Some(def.name.to_owned()),
            rule: "schema".to_owned(),
            message: format!("`{}` is kept by the system and cannot be set", def.name),
        })
        .into());
    }
    fieldwork_core::value::check(def, value).map_err(CoreError::from)?;
    Ok(def)
}

/// Runs `f` with a process host in one transaction of the writer, then
/// publishes what the engine wrote. `user` is who acts (an admin for CLI
/// commands, `engine` for the scheduler), with full rights
/// ([`Access::Local`]).
pub fn with_host<T>(
    w: &mut Writer,
    hub: Option<&Hub>,
    actor: &ActorId,
    now: Timestamp,
    user: &str,
    f: impl FnOnce(&mut ServerHost<'_>) -> Result<T>,
) -> Result<T> {
    with_host_as(w, hub, actor, now, user, Access::Local, f)
}

/// [`with_host`] with the rights of `access` (an office API caller's):
/// what the runner checks against the acting user's process rights
/// (start, suspend, stop, ...) is checked against `access`. Everything `f`
/// writes is one transaction: committed and published to `hub` when `f`
/// succeeds, rolled back (and the writer's cache dropped) when it fails.
pub fn with_host_as<T>(
    w: &mut Writer,
    hub: Option<&Hub>,
    actor: &ActorId,
    now: Timestamp,
    user: &str,
    access: Access,
    f: impl FnOnce(&mut ServerHost<'_>) -> Result<T>,
) -> Result<T> {
    let Writer { conn, cache } = w;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (_, policy) = policy::current(&tx)?;
    let mut host = ServerHost {
        conn: &tx,
        cache,
        actor: actor.clone(),
        now: Timestamp::from_second(now.as_second()).unwrap_or(now),
        user: user.to_owned(),
        policy,
        access,
        models: None,
        events: Vec::new(),
    };
    match f(&mut host) {
        Ok(out) => {
            let events = std::mem::take(&mut host.events);
            drop(host);
            tx.commit()?;
            if let (Some(hub), false) = (hub, events.is_empty()) {
                hub.publish(HubEvent::Changes(std::sync::Arc::new(events)));
            }
            Ok(out)
        }
        Err(e) => {
            drop(host);
            drop(tx);
            cache.clear();
            Err(e)
        }
    }
}

/// Re-points process instances for a merge of the record `from` into `to`
/// (or, for its undo, back): each `(instance, field)` of `moves` that
/// still holds `from` is set to `to` by the server's own engine change
/// (the engine's actor and author, as [`ServerHost`] writes a step), and a
/// waiting instance that watched `from` watches `to`. Returns the moves
/// made and the feed events to publish once `conn`'s transaction commits.
///
/// This is the one way an instance's `record` or `account` changes: the
/// process guard refuses it in every pushed change, and only the office
/// API's merge, already authorised on both records, calls this, inside
/// the transaction of its own changes and its log (`conn`, with the
/// writer's `cache`). A move naming another kind or a field that cannot
/// refer to `from` ([`merge::instance_fields`]) is skipped.
pub fn repoint_instances(
    conn: &Connection,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    now: Timestamp,
    moves: &[Repoint],
    (from, to): (&RecordId, &RecordId),
) -> Result<(Vec<Repoint>, Vec<FeedEvent>)> {
    let (_, policy) = policy::current(conn)?;
    let mut host = ServerHost {
        conn,
        cache,
        actor: actor.clone(),
        now: Timestamp::from_second(now.as_second()).unwrap_or(now),
        user: runner_user().to_owned(),
        policy,
        access: Access::Local,
        models: None,
        events: Vec::new(),
    };
    let fields = merge::instance_fields(from.kind());
    let mut moved = Vec::new();
    for m in moves {
        let kind = m.record.kind();
        let Some(field) = fields.iter().copied().find(|f| *f == m.field) else {
            continue;
        };
        if kind != RecordKind::ProcessInstance {
            continue;
        }
        let Some(current) = host.record(&m.record)? else {
            continue;
        };
        if !merge::still_repointed(&current.fields, field, from) {
            continue;
        }
        let ops = vec![rules::SystemWrite::Set {
            field,
            value: Some(FieldValue::Text(to.to_string())),
        }];
        for (class, ops) in host.by_class(kind, ops)? {
            host.apply(&m.record.doc(&class), ops)?;
        }
        conn.execute(
            "UPDATE process_wakeups SET watch = ?2 WHERE instance = ?1 AND watch = ?3",
            params![m.record.to_string(), to.to_string(), from.to_string()],
        )?;
        moved.push(m.clone());
    }
    Ok((moved, host.events))
}

/// One scheduler pass: due timers and deadlines, scheduled starts.
pub fn tick(w: &mut Writer, hub: Option<&Hub>, actor: &ActorId, now: Timestamp) -> Result<usize> {
    with_host(w, hub, actor, now, runner_user(), |h| runner::run_due(h))
}

fn runner_user() -> &'static str {
    fieldwork_core::process::engine::ENGINE
}

/// Runs the instances touched by accepted changes (an instance's own
/// documents, or an activity that belongs to one).
pub fn after_push(
    w: &mut Writer,
    hub: &Hub,
    actor: &ActorId,
    now: Timestamp,
    docs: &[DocId],
) -> Result<()> {
    let mut records: Vec<RecordId> = docs.iter().map(|d| d.record().clone()).collect();
    records.sort();
    records.dedup();
    // Instances waiting for one of these records to satisfy a condition.
    let mut watchers = Vec::new();
    for r in &records {
        watchers.extend(watching(&w.conn, r)?);
    }
    records.retain(|r| {
        matches!(
            r.kind(),
            RecordKind::ProcessInstance | RecordKind::Activity | RecordKind::ProcessModel
        )
    });
    if records.is_empty() && watchers.is_empty() {
        return Ok(());
    }
    with_host(w, Some(hub), actor, now, runner_user(), |host| {
        let models = host.models()?;
        let mut instances = Vec::new();
        for r in records {
            match r.kind() {
                RecordKind::ProcessInstance => instances.push(r),
                RecordKind::Activity => {
                    if let Some(i) = host
                        .record(&r)?
                        .and_then(|a| a.text("process_instance").and_then(|t| t.parse().ok()))
                    {
                        instances.push(i);
                    }
                }
                _ => {}
            }
        }
        instances.extend(watchers);
        instances.sort();
        instances.dedup();
        for i in instances {
            runner::run_contained(host, &models, &i)?;
        }
        Ok(())
    })
}

/// Active instances waiting for `record` to satisfy a condition (a `wait`
/// step), run after each accepted push that changes it.
pub fn watching(conn: &Connection, record: &RecordId) -> Result<Vec<RecordId>> {
    let mut stmt = conn
        .prepare_cached("SELECT instance FROM process_wakeups WHERE watch = ?1 AND active = 1")?;
    let rows: Vec<String> = stmt
        .query_map([record.to_string()], |r| r.get(0))
        .and_then(|r| r.collect())?;
    Ok(rows.into_iter().filter_map(|r| r.parse().ok()).collect())
}

/// The next wake-up the server knows of (for tests and `process monitor`).
pub fn next_wakeup(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT min(wake_at) FROM process_wakeups WHERE active = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}
