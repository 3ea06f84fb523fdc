//! Building webhook events from stored changes and writing them to the
//! outbox, in the transaction of the change.
//!
//! Guarantees:
//! - an event is queued for a subscription only when its service user (as
//!   the policy now stands, and only while enabled) may see the record and
//!   read the class of the document changed ([`crate::visibility::doc_visible`]);
//! - a payload holds the fields of that one class document only, so
//!   nothing of a class the service user may not read ever enters it;
//! - with no active subscription the cost is one indexed query.

use std::collections::BTreeMap;

use fieldwork_core::automerge::{ActorId, Change};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::process::model::Action as StepAction;
use fieldwork_core::process::runner::model_from_record;
use fieldwork_core::process::{Event, EventKind};
use fieldwork_core::{Access, ClassName, DocId, FieldValue, Record, RecordId, RecordKind};
use rusqlite::Connection;
use serde_json::{Value, json};

use crate::db::webhooks::{self as store, NewDelivery};
use crate::db::{documents, facts, policy, users};
use crate::error::{Result, ServerError};

/// A record was created (its base-class document's first change).
pub const RECORD_CREATED: &str = "record.created";
/// A class document of a record changed (`changed_fields` names how).
pub const RECORD_CHANGED: &str = "record.changed";
/// A record was archived (a field in [`DELETION_FIELDS`] set true; records
/// are archived, never erased, see `fieldwork_core::schema::ARCHIVED`).
pub const RECORD_DELETED: &str = "record.deleted";
/// A process instance was created.
pub const PROCESS_STARTED: &str = "process.started";
/// An instance left a step for the next one.
pub const PROCESS_STEP_REACHED: &str = "process.step_reached";
/// A person completed an instance's task.
pub const PROCESS_TASK_DONE: &str = "process.task_done";
/// An instance reached an end step.
pub const PROCESS_COMPLETED: &str = "process.completed";
/// The engine marked an instance failed.
pub const PROCESS_FAILED: &str = "process.failed";
/// A `notify` step ran: its notice, for the systems subscribed.
pub const PROCESS_NOTIFIED: &str = "process.notified";

/// Every event type a subscription may name.
pub const EVENT_TYPES: &[&str] = &[
    RECORD_CREATED,
    RECORD_CHANGED,
    RECORD_DELETED,
    PROCESS_STARTED,
    PROCESS_STEP_REACHED,
    PROCESS_TASK_DONE,
    PROCESS_COMPLETED,
    PROCESS_FAILED,
    PROCESS_NOTIFIED,
];

/// Fields whose change to `true` reports a record as deleted: archiving.
pub const DELETION_FIELDS: &[&str] = &[fieldwork_core::schema::ARCHIVED];

/// A class document's state before a change, taken only when some
/// subscription is active.
#[derive(Debug)]
pub struct Before {
    was_empty: bool,
    fields: BTreeMap<String, FieldValue>,
}

/// For the push path, before it applies a change to `loaded`: what the
/// document holds now, or `None` (nothing to do later) when no
/// subscription is active.
pub fn before_push(conn: &Connection, loaded: &mut ClassDoc) -> Result<Option<Before>> {
    if !store::any_active(conn)? {
        return Ok(None);
    }
    Ok(Some(Before {
        was_empty: loaded.is_empty(),
        fields: loaded.fields(),
    }))
}

/// For the push path, once the change is applied to `loaded` and the
/// record's facts are updated: queues the events it makes (see
/// [`on_change`]); `base` is the policy's base class, `user` the pusher.
pub fn after_push(
    conn: &Connection,
    before: Option<Before>,
    loaded: &ClassDoc,
    base: Option<&ClassName>,
    user: &str,
    now_ms: i64,
) -> Result<()> {
    let Some(before) = before else {
        return Ok(());
    };
    let doc = loaded.id();
    let created = before.was_empty && Some(doc.class()) == base;
    on_change(
        conn,
        doc,
        &before.fields,
        &loaded.fields(),
        created,
        Some(user),
        now_ms,
    )
}

/// For the process engine's writes (the server's `processes` module), once `change`
/// of `doc` is stored and applied to the cached copy: queues the events it
/// makes, with the actor `engine`. The state before the change is the
/// document at the change's dependencies (empty for a creation), worked
/// out only when a subscription is active.
pub fn after_engine_write(
    conn: &Connection,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    doc: &DocId,
    change: &Change,
    base: &ClassName,
    now_ms: i64,
) -> Result<()> {
    if !store::any_active(conn)? {
        return Ok(());
    }
    let Some(loaded) = documents::load(conn, cache, doc, actor)? else {
        return Ok(());
    };
    let after = loaded.fields();
    let before = if change.deps().is_empty() {
        BTreeMap::new()
    } else {
        let mut fork = loaded
            .automerge()
            .fork_at(change.deps())
            .map_err(|e| ServerError::Internal(format!("webhooks: {e}")))?;
        ClassDoc::load(
            doc.clone(),
            Some(&fork.save()),
            std::iter::empty::<&[u8]>(),
            actor.clone(),
        )?
        .fields()
    };
    let created = before.is_empty() && doc.class() == base;
    on_change(conn, doc, &before, &after, created, None, now_ms)
}

/// Queues the events a stored change of class document `doc` makes, from
/// its fields `before` and `after`: `record.created` when `created` (the
/// record's base-class document was empty), else `record.changed` with the
/// changed field names (or `record.deleted`, see [`DELETION_FIELDS`]); for
/// a process instance also `process.started` and, from the new entries of
/// its event log, `process.step_reached`, `process.task_done` and
/// `process.completed`. `actor_user` is the user who pushed (`None`: the
/// engine). Each event goes to every active subscription that wants its
/// type and the record's kind and whose service user may see the record and
/// read the class; runs in the caller's transaction.
pub fn on_change(
    tx: &Connection,
    doc: &DocId,
    before: &BTreeMap<String, FieldValue>,
    after: &BTreeMap<String, FieldValue>,
    created: bool,
    actor_user: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    let subscriptions = store::active(tx)?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let changed = changed_fields(before, after);
    if !created && changed.is_empty() {
        return Ok(());
    }
    let mut events: Vec<(&'static str, Option<Value>)> = Vec::new();
    if created {
        events.push((RECORD_CREATED, None));
    } else if DELETION_FIELDS
        .iter()
        .any(|f| after.get(*f) == Some(&FieldValue::Bool(true)) && before.get(*f) != after.get(*f))
    {
        events.push((RECORD_DELETED, None));
    } else {
        events.push((RECORD_CHANGED, None));
    }
    if doc.record().kind() == RecordKind::ProcessInstance {
        events.extend(process_events(tx, doc, before, after, created)?);
    }
    let content = Content {
        doc,
        fields: after,
        changed: &changed,
        actor: actor_user.unwrap_or(fieldwork_core::process::engine::ENGINE),
        now_ms,
    };
    queue(tx, &subscriptions, &content, &events)
}

/// Queues `process.failed` for `instance`, marked failed for `reason`
/// (called by the delivery worker for the notes migration 008's triggers
/// write): the payload holds the instance's base-class fields.
pub fn on_process_failed(tx: &Connection, instance: &str, reason: &str, now_ms: i64) -> Result<()> {
    let subscriptions = store::active(tx)?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let Ok(id) = instance.parse::<RecordId>() else {
        return Ok(());
    };
    let (_, policy) = policy::current(tx)?;
    let doc = id.doc(policy.base_class());
    let fields = stored_fields(tx, &doc)?.unwrap_or_default();
    let content = Content {
        doc: &doc,
        fields: &fields,
        changed: &[],
        actor: fieldwork_core::process::engine::ENGINE,
        now_ms,
    };
    let detail = json!({ "reason": reason });
    queue(
        tx,
        &subscriptions,
        &content,
        &[(PROCESS_FAILED, Some(detail))],
    )
}

/// What every event about one change shares.
struct Content<'a> {
    doc: &'a DocId,
    fields: &'a BTreeMap<String, FieldValue>,
    changed: &'a [String],
    actor: &'a str,
    now_ms: i64,
}

/// Writes `events` (type, process detail) for every subscription that
/// wants them and whose service user may read the document.
fn queue(
    tx: &Connection,
    subscriptions: &[store::Active],
    content: &Content<'_>,
    events: &[(&'static str, Option<Value>)],
) -> Result<()> {
    let kind = content.doc.record().kind().as_str();
    let wanted: Vec<&store::Active> = subscriptions
        .iter()
        .filter(|s| events.iter().any(|(t, _)| s.wants(t, kind)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let (_, policy) = policy::current(tx)?;
    let record = content.doc.record().to_string();
    let facts = facts::facts(tx, std::slice::from_ref(&record))?;
    let facts = facts.get(&record);
    // One id per event, the same for every subscription.
    let ids: Vec<String> = events
        .iter()
        .map(|_| ulid::Ulid::new().to_string())
        .collect();
    for sub in wanted {
        let Some(user) = users::by_id(tx, sub.user_id)? else {
            continue;
        };
        if user.disabled {
            continue;
        }
        let access = Access::User {
            user: users::context(tx, &user)?,
            policy: policy.clone(),
        };
        if !crate::visibility::doc_visible(&access, content.doc, facts) {
            continue;
        }
        for ((event_type, detail), id) in events.iter().zip(&ids) {
            if !sub.wants(event_type, kind) {
                continue;
            }
            let body = payload(id, event_type, content, detail.as_ref());
            store::enqueue(
                tx,
                &NewDelivery {
                    subscription: sub.id,
                    event_id: id,
                    event_type,
                    payload: &body,
                    now_ms: content.now_ms,
                },
            )?;
        }
    }
    Ok(())
}

/// The JSON body of one event.
fn payload(id: &str, event_type: &str, c: &Content<'_>, detail: Option<&Value>) -> String {
    let occurred_at = jiff::Timestamp::from_millisecond(c.now_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let fields: serde_json::Map<String, Value> = c
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect();
    let mut body = json!({
        "id": id,
        "type": event_type,
        "occurred_at": occurred_at,
        "record": { "id": c.doc.record().to_string(), "kind": c.doc.record().kind().as_str() },
        "class": c.doc.class().to_string(),
        "fields": fields,
        "changed_fields": c.changed,
        "actor": c.actor,
    });
    if let (Some(detail), Some(map)) = (detail, body.as_object_mut()) {
        map.insert("process".into(), detail.clone());
    }
    body.to_string()
}

/// The names of the fields whose values differ, sorted.
fn changed_fields(
    before: &BTreeMap<String, FieldValue>,
    after: &BTreeMap<String, FieldValue>,
) -> Vec<String> {
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    names.dedup();
    names.sort();
    names.dedup();
    names
}

/// The process events of an instance document's change: `started` for a
/// new instance, and for every `done` event new in its log
/// `step_reached`, `task_done` (left by a person's task) and `completed`
/// (its next step ends the model).
fn process_events(
    tx: &Connection,
    doc: &DocId,
    before: &BTreeMap<String, FieldValue>,
    after: &BTreeMap<String, FieldValue>,
    created: bool,
) -> Result<Vec<(&'static str, Option<Value>)>> {
    let mut out = Vec::new();
    let text = |f: &str| {
        after
            .get(f)
            .and_then(FieldValue::as_text)
            .map(str::to_owned)
    };
    if created {
        out.push((
            PROCESS_STARTED,
            Some(json!({ "model_key": text("model_key"), "on": text("record") })),
        ));
    }
    let log = |m: &BTreeMap<String, FieldValue>| match m.get("events") {
        Some(FieldValue::Entries(e)) => e.clone(),
        _ => BTreeMap::new(),
    };
    let (old, new) = (log(before), log(after));
    let mut model = None;
    // Bounded: the log only grows by what one change adds.
    for (key, value) in new.iter().filter(|(k, _)| !old.contains_key(*k)) {
        let Ok(event) = serde_json::from_value::<Event>(value.clone()) else {
            continue;
        };
        if event.kind != EventKind::Done {
            continue;
        }
        let detail = json!({
            "event": key, "step": event.to, "from": event.step, "via": event.via, "by": event.by,
        });
        if event.via.as_deref() == Some("task") {
            out.push((PROCESS_TASK_DONE, Some(detail.clone())));
        }
        out.push((PROCESS_STEP_REACHED, Some(detail.clone())));
        if model.is_none() {
            model = Some(model_of(tx, doc, after)?);
        }
        let notice = model.as_ref().and_then(Option::as_ref).and_then(|m| {
            match event
                .step
                .as_deref()
                .and_then(|s| m.step(s))
                .map(|s| &s.action)
            {
                Some(StepAction::Notify { name }) => Some(name.clone()),
                _ => None,
            }
        });
        if let Some(notice) = notice {
            let mut d = detail.clone();
            d["notice"] = json!(notice);
            d["on"] = json!(text("record"));
            out.push((PROCESS_NOTIFIED, Some(d)));
        }
        let ends = model.as_ref().and_then(Option::as_ref).is_some_and(|m| {
            event
                .to
                .as_deref()
                .and_then(|to| m.step(to))
                .is_some_and(|s| matches!(s.action, StepAction::End))
        });
        if ends {
            out.push((PROCESS_COMPLETED, Some(detail)));
        }
    }
    Ok(out)
}

/// The model version an instance runs on, from its stored document (of
/// the same class as the instance's document).
fn model_of(
    tx: &Connection,
    doc: &DocId,
    instance: &BTreeMap<String, FieldValue>,
) -> Result<Option<fieldwork_core::process::Model>> {
    let Some(id) = instance
        .get("model")
        .and_then(FieldValue::as_text)
        .and_then(|t| t.parse::<RecordId>().ok())
    else {
        return Ok(None);
    };
    let model_doc = id.doc(doc.class());
    let Some(fields) = stored_fields(tx, &model_doc)? else {
        return Ok(None);
    };
    let record = Record {
        id,
        fields,
        conflicts: Default::default(),
        classes: vec![doc.class().clone()],
    };
    Ok(model_from_record(&record))
}

/// The fields of a stored document, loaded outside the writer's cache.
fn stored_fields(tx: &Connection, doc: &DocId) -> Result<Option<BTreeMap<String, FieldValue>>> {
    let Some((snapshot, changes)) = documents::whole(tx, &doc.to_string())? else {
        return Ok(None);
    };
    let loaded = ClassDoc::load(
        doc.clone(),
        snapshot.as_deref(),
        changes.iter().map(Vec::as_slice),
        ActorId::random(),
    )?;
    Ok(Some(loaded.fields()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_names_every_difference_once() {
        let mut before = BTreeMap::new();
        before.insert("name".to_owned(), FieldValue::Text("A".into()));
        before.insert("phone".to_owned(), FieldValue::Text("1".into()));
        before.insert("same".to_owned(), FieldValue::Int(1));
        let mut after = before.clone();
        after.insert("name".to_owned(), FieldValue::Text("B".into()));
        after.remove("phone");
        after.insert("city".to_owned(), FieldValue::Text("Madrid".into()));
        assert_eq!(changed_fields(&before, &after), ["city", "name", "phone"]);
        assert!(changed_fields(&before, &before).is_empty());
    }
}
