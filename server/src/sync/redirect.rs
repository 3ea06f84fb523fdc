//! The merge redirect: an edit that reaches a record merged into another
//! (a phone edited the duplicate offline, or an office write named it)
//! is forwarded to the record kept, so nothing typed after a merge stays
//! behind on the archived duplicate.
//!
//! Guarantees:
//! - The edit itself is stored on the merged record as pushed (its
//!   history stays readable by its id); the forward is a second edit, of
//!   the survivor, made with [`fieldwork_core::edit::Editor`] as the same
//!   user under the same policy, with an actor of its own, and pushed
//!   through [`super::push`] like any change: checked, stored in the feed,
//!   relayed live, indexed.
//! - Only what the edit changed is forwarded ([`merge::forwarded`]: the
//!   fields of that class document that differ between the document at the
//!   change's dependencies and with the change applied; system fields,
//!   `archived` and `merged_into` never).
//! - A forward the user may not make (the survivor is out of their reach,
//!   a field is not writable there) is not made, and the audit log says so
//!   (`merge_redirect_refused`), naming both records; nothing is lost, the
//!   merged record still holds the edit.
//! - A chain of merges is followed at most [`MAX_HOPS`] records; a longer
//!   or circular chain is not followed (audited the same way).
//! - A failure here, a panic included, never undoes the push that
//!   triggered it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fieldwork_core::automerge::{ActorId, Change};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::merge;
use fieldwork_core::{Access, DocId, RecordId};
use rusqlite::{Connection, OptionalExtension};

use super::edit::{EditAs, actor_for, edit_changes};
use super::push::{self, Incoming, PushCtx};
use crate::db::audit::{self, AuditEntry};
use crate::db::users::User;
use crate::db::{Writer, documents};
use crate::error::{Result, ServerError};
use crate::hub::FeedEvent;
use crate::state::AppState;

/// How many merges a redirect follows from the record edited.
pub const MAX_HOPS: usize = 8;

/// The audit code of a forward that was not made.
pub const REFUSED: &str = "merge_redirect_refused";

/// Who made the edit being forwarded.
#[derive(Clone, Copy)]
pub struct Editing<'a> {
    /// The state (hub, clock, server actor).
    pub state: &'a AppState,
    /// The user.
    pub user: &'a User,
    /// Their access.
    pub access: &'a Access,
}

/// After a device's push: forwards every newly stored change to a merged
/// record to its survivor. Failures are logged, never returned.
pub fn after_push(w: &mut Writer, who: Editing<'_>, events: &[FeedEvent]) {
    for event in events {
        let result = catch_unwind(AssertUnwindSafe(|| forward_change(w, who, event)));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(doc = %event.doc, error = %e, "merge redirect failed"),
            Err(_) => {
                // The cache may hold what a rolled-back forward applied.
                w.cache.clear();
                tracing::error!(doc = %event.doc, "merge redirect panicked; the push stands");
            }
        }
    }
}

/// After an office write of `writes` to `record`: forwards those it
/// carries when `record` is merged. Failures are logged, never returned.
pub fn after_write(w: &mut Writer, who: Editing<'_>, record: &RecordId, writes: Vec<FieldWrite>) {
    let carried: Vec<FieldWrite> = writes
        .into_iter()
        .filter(|wr| {
            who.access
                .field(record.kind(), &wr.field)
                .is_some_and(merge::carried)
        })
        .collect();
    if carried.is_empty() || !merge::mergeable(record.kind()) {
        return;
    }
    let result = merged_into(&w.conn, record)
        .and_then(|to| to.map_or(Ok(()), |_| forward(w, who, record, carried)));
    if let Err(e) = result {
        tracing::warn!(%record, error = %e, "merge redirect failed");
    }
}

/// The record `record` is merged into, from the field index.
pub fn merged_into(conn: &Connection, record: &RecordId) -> Result<Option<RecordId>> {
    let json: Option<String> = conn
        .prepare_cached(
            "SELECT value_json FROM record_fields WHERE record_id = ?1 AND field = ?2 LIMIT 1",
        )?
        .query_row(
            rusqlite::params![record.to_string(), fieldwork_core::schema::MERGED_INTO],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json
        .and_then(|j| serde_json::from_str::<String>(&j).ok())
        .and_then(|s| s.parse().ok()))
}

/// The record a merged `record` ends in, following at most [`MAX_HOPS`]
/// merges; `None` when the chain is longer or goes round.
fn survivor_of(conn: &Connection, record: &RecordId) -> Result<Option<RecordId>> {
    let mut seen = vec![record.clone()];
    while seen.len() <= MAX_HOPS {
        let Some(last) = seen.last() else { break };
        match merged_into(conn, last)? {
            None => return Ok((seen.len() > 1).then(|| last.clone())),
            Some(next) if seen.contains(&next) => return Ok(None),
            Some(next) => seen.push(next),
        }
    }
    Ok(None)
}

/// Forwards one stored change when its record is merged.
fn forward_change(w: &mut Writer, who: Editing<'_>, event: &FeedEvent) -> Result<()> {
    let record = event.doc.record();
    if !merge::mergeable(record.kind()) || merged_into(&w.conn, record)?.is_none() {
        return Ok(());
    }
    let change = Change::from_bytes(event.bytes.clone())
        .map_err(|e| ServerError::Internal(format!("a stored change: {e}")))?;
    let Some(policy) = who.access.policy() else {
        return Err(ServerError::Internal("no policy".into()));
    };
    let writes = changed_fields(w, policy, &event.doc, &change)?;
    if writes.is_empty() {
        return Ok(());
    }
    forward(w, who, &record.clone(), writes)
}

/// What `change` (stored in `doc`) changed, as writes: the document at the
/// change's dependencies against that with the change applied (custom
/// fields of `policy` included).
fn changed_fields(
    w: &mut Writer,
    policy: &fieldwork_core::Policy,
    doc: &DocId,
    change: &Change,
) -> Result<Vec<FieldWrite>> {
    let actor = ActorId::random();
    let Some(stored) = documents::load(&w.conn, &mut w.cache, doc, &actor)? else {
        return Ok(Vec::new());
    };
    let saved = stored
        .automerge()
        .fork_at(change.deps())
        .map_err(|e| ServerError::Internal(format!("{doc}: {e}")))?
        .save();
    let mut before = ClassDoc::load(doc.clone(), Some(&saved), [], actor)?;
    let after = before.with_change(change)?;
    Ok(merge::forwarded(
        policy,
        doc.record().kind(),
        &before.fields(),
        &after.fields(),
    ))
}

/// Makes `writes` on the survivor of merged `loser` as the user, or audits
/// why not.
fn forward(
    w: &mut Writer,
    who: Editing<'_>,
    loser: &RecordId,
    writes: Vec<FieldWrite>,
) -> Result<()> {
    let Some(survivor) = survivor_of(&w.conn, loser)? else {
        return refused(
            w,
            who,
            loser,
            None,
            "the chain of merges is too long or circular",
        );
    };
    let incoming = match survivor_changes(w, who, &survivor, writes) {
        Ok(incoming) => incoming,
        Err(ServerError::Core(e)) => {
            return refused(w, who, loser, Some(&survivor), &e.to_string());
        }
        Err(e) => return Err(e),
    };
    if incoming.is_empty() {
        return Ok(());
    }
    let ctx = PushCtx {
        user: who.user,
        access: who.access,
        device: None,
        now_ms: who.state.now_ms(),
        all_or_nothing: true,
    };
    let outcome = push::apply_measured(w, &who.state.hub, &who.state.actor, ctx, incoming)?;
    if let Some(r) = outcome.refused.first() {
        return refused(w, who, loser, Some(&survivor), &r.message);
    }
    tracing::info!(%loser, %survivor, user = %who.user.name, "forwarded an edit of a merged record");
    Ok(())
}

/// The changes `writes` make to `survivor` as the user (the edit's checks:
/// policy, schema, rule book).
fn survivor_changes(
    w: &mut Writer,
    who: Editing<'_>,
    survivor: &RecordId,
    writes: Vec<FieldWrite>,
) -> Result<Vec<Incoming>> {
    let Some(policy) = who.access.policy() else {
        return Err(ServerError::Internal("no policy".into()));
    };
    let Some(current) = push::stored_record(&w.conn, survivor)? else {
        return Ok(Vec::new());
    };
    let actor = actor_for(&who.state.actor, who.user);
    let by = EditAs {
        access: who.access,
        policy,
        author: &who.user.name,
        actor: &actor,
    };
    Ok(edit_changes(
        &w.conn,
        by,
        who.state.now_ms(),
        &current,
        false,
        writes,
    )?)
}

/// Audits a forward that was not made.
fn refused(
    w: &mut Writer,
    who: Editing<'_>,
    loser: &RecordId,
    survivor: Option<&RecordId>,
    why: &str,
) -> Result<()> {
    let to = survivor.map_or_else(|| "its survivor".to_owned(), ToString::to_string);
    let entry = AuditEntry {
        at: who.state.now_ms(),
        user: who.user.name.clone(),
        device: None,
        doc: Some(loser.to_string()),
        hash: None,
        code: REFUSED.into(),
        field: None,
        rule: Some("merge.redirect".into()),
        message: format!(
            "an edit of merged {loser} stays there and was not forwarded to {to}: {why}"
        ),
    };
    tracing::info!(%loser, user = %who.user.name, why, "merge redirect refused");
    audit::record(&w.conn, &entry)
}
