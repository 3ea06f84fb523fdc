//! The writer's side of a merge and of its undo: the records read as the
//! caller reads them, the plan of [`fieldwork_core::merge`] turned into
//! edits ([`write::edit_changes`]), and all of them pushed in one
//! all-or-nothing batch whose transaction also writes the merge log.
//!
//! Process instances on the loser are the exception: no user may change
//! an instance's `record` or `account` (the process guard refuses it in
//! any push), so the server re-points them itself, as its engine writes
//! ([`processes::repoint_instances`]), in that same transaction, and logs
//! them among the re-pointed references. Every instance is re-pointed,
//! running or finished, as a merge re-points done tasks too, so the
//! survivor's process history is whole; the caller need not see them.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::merge::{self, MergeError, Repoint};
use fieldwork_core::schema::MERGED_INTO;
use fieldwork_core::{Access, Denial, Policy, Record, RecordId, RecordKind};
use rusqlite::Connection;

use super::super::problem::Problem;
use super::super::{read, write};
use crate::db::merges::{self, Merge};
use crate::db::users::User;
use crate::db::{Writer, record_index};
use crate::error::ServerError;
use crate::processes;
use crate::state::AppState;
use crate::sync::push::{self, InBatch, InTransaction, Incoming, PushCtx};

/// Most records a merge re-points, and most process instances (`409
/// merge_too_large` beyond).
pub const MAX_REFERRING: usize = 2000;

/// Who merges, and with what rights.
#[derive(Clone, Copy)]
pub(super) struct Who<'a> {
    pub(super) state: &'a AppState,
    pub(super) user: &'a User,
    pub(super) access: &'a Access,
}

/// Merges `loser` into `survivor` (taking the fields in `take` over the
/// survivor's values); returns the merge log's id.
pub(super) fn merge(
    w: &mut Writer,
    who: Who<'_>,
    survivor: &RecordId,
    loser: &RecordId,
    take: &[String],
) -> Result<i64, Problem> {
    let s = current(&w.conn, who, survivor)?;
    let l = current(&w.conn, who, loser)?;
    merge::check_pair((survivor, &s.fields), (loser, &l.fields)).map_err(refused)?;
    may_merge(&w.conn, who, survivor)?;
    may_merge(&w.conn, who, loser)?;
    let policy = policy_of(who)?;
    let fills =
        merge::fills(policy, survivor.kind(), &s.fields, &l.fields, take).map_err(refused)?;
    let referring = referring(&w.conn, who, loser)?;
    let pairs: Vec<(RecordId, _)> = referring
        .iter()
        .map(|r| (r.id.clone(), r.fields.clone()))
        .collect();
    let repoints = merge::repoints(policy, loser, survivor, &pairs);
    let instances = instance_moves(&w.conn, loser)?;
    let mut edits = vec![
        (s, merge::fill_writes(&fills)),
        (l, merge::loser_writes(survivor)),
    ];
    edits.extend(grouped(referring, &repoints, |_, r| {
        FieldWrite::set(&r.field, survivor.to_string())
    }));
    let incoming = changes(&w.conn, who, edits)?;
    let (now, by) = (who.state.now_ms(), who.user.name.clone());
    let mut id = 0;
    push_all(w, who, incoming, &mut |mut b| {
        let mut logged = repoints.clone();
        logged.extend(move_instances(&mut b, who, &instances, (loser, survivor))?);
        id = merges::insert(b.tx, survivor, loser, &by, now, &fills, &logged)?;
        Ok(())
    })?;
    Ok(id)
}

/// Undoes the merge `m` (already read from the log).
pub(super) fn undo(w: &mut Writer, who: Who<'_>, m: &Merge) -> Result<(), Problem> {
    may_merge(&w.conn, who, &m.survivor)?;
    may_merge(&w.conn, who, &m.loser)?;
    if m.undone.is_some() {
        return Err(conflict(
            "merge_already_undone",
            "this merge was undone already",
        ));
    }
    if !merge::undo_open(m.merged_at, who.state.now_ms()) {
        return Err(conflict(
            "merge_undo_expired",
            format!("a merge can be undone for {} days", merge::UNDO_DAYS),
        ));
    }
    let s = current(&w.conn, who, &m.survivor)?;
    let l = current(&w.conn, who, &m.loser)?;
    let fills_back = merge::undo_fills(&s.fields, &m.filled);
    let mut edits = vec![(s, fills_back), (l, merge::loser_undo_writes())];
    let (instances, records): (Vec<Repoint>, Vec<Repoint>) = m
        .repointed
        .iter()
        .cloned()
        .partition(|r| r.record.kind() == RecordKind::ProcessInstance);
    let mut referring = Vec::new();
    for id in distinct(&records) {
        referring.push(current(&w.conn, who, &id)?);
    }
    edits.extend(grouped(referring, &records, |r, p| {
        merge::still_repointed(&r.fields, &p.field, &m.survivor)
            .then(|| merge::undo_repoint(p, &m.loser))
    }));
    let incoming = changes(&w.conn, who, edits)?;
    let (id, by, now) = (m.id, who.user.name.clone(), who.state.now_ms());
    push_all(w, who, incoming, &mut |mut b| {
        move_instances(&mut b, who, &instances, (&m.survivor, &m.loser))?;
        match merges::mark_undone(b.tx, id, &by, now)? {
            true => Ok(()),
            false => Err(ServerError::Internal(format!(
                "merge {id} was undone meanwhile"
            ))),
        }
    })
}

/// The process instances whose `record` (or `account`) holds `loser`, as
/// moves to make ([`merge::instance_fields`]; `409 merge_too_large` past
/// [`MAX_REFERRING`]).
fn instance_moves(conn: &Connection, loser: &RecordId) -> Result<Vec<Repoint>, Problem> {
    let fields: Vec<(RecordKind, &str)> = merge::instance_fields(loser.kind())
        .into_iter()
        .map(|f| (RecordKind::ProcessInstance, f))
        .collect();
    let ids = ids_holding(conn, loser, &fields)?;
    if ids.len() > MAX_REFERRING {
        return Err(conflict(
            "merge_too_large",
            format!("more than {MAX_REFERRING} process instances run on {loser}"),
        ));
    }
    Ok(ids
        .into_iter()
        .flat_map(|record| {
            fields.iter().map(move |(_, f)| Repoint {
                record: record.clone(),
                field: (*f).to_owned(),
            })
        })
        .collect())
}

/// Re-points, in the batch's transaction, the instance fields of `moves`
/// that hold `from` to `to`, as the server's own change
/// ([`processes::repoint_instances`]); returns the moves made.
fn move_instances(
    b: &mut InBatch<'_, '_>,
    who: Who<'_>,
    moves: &[Repoint],
    (from, to): (&RecordId, &RecordId),
) -> crate::error::Result<Vec<Repoint>> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    let now = jiff::Timestamp::from_millisecond(who.state.now_ms())
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let state = who.state;
    let (moved, events) =
        processes::repoint_instances(b.tx, b.cache, &state.actor, now, moves, (from, to))?;
    b.outcome.events.extend(events);
    Ok(moved)
}

/// Record `id` as the caller reads it (`404` when they do not see it).
fn current(conn: &Connection, who: Who<'_>, id: &RecordId) -> Result<Record, Problem> {
    let actor = write::actor_for(&who.state.actor, who.user);
    let Some(mut docs) = read::readable_docs(conn, who.access, id, &actor)? else {
        return Err(Problem::not_found(format!("no record {id}")));
    };
    Ok(read::assemble(id, &mut docs)?.0)
}

/// The caller may mark `id` merged (or take that back): the role's
/// `archive` right and `id` in its edit scopes, as
/// [`Access::check_write`] decides for a device's push.
fn may_merge(conn: &Connection, who: Who<'_>, id: &RecordId) -> Result<(), Problem> {
    let facts = read::facts_of(conn, id)?;
    let doc = id.to_string();
    who.access
        .check_write(id.kind(), MERGED_INTO, Some(&facts), Some(&doc))
        .map_err(Problem::from)
}

/// Every record whose reference fields ([`merge::referring_fields`]) hold
/// `loser`, as the caller reads it (`409 merge_too_large` past
/// [`MAX_REFERRING`]).
fn referring(conn: &Connection, who: Who<'_>, loser: &RecordId) -> Result<Vec<Record>, Problem> {
    let ids = referring_ids(conn, policy_of(who)?, loser)?;
    if ids.len() > MAX_REFERRING {
        return Err(conflict(
            "merge_too_large",
            format!("more than {MAX_REFERRING} records refer to {loser}"),
        ));
    }
    ids.iter()
        .map(|id| visible_referrer(conn, who, id))
        .collect()
}

/// The ids of the records referring to `loser`: a seek in the field index
/// (kind, field, key) per reference field, at most one past
/// [`MAX_REFERRING`].
fn referring_ids(
    conn: &Connection,
    policy: &Policy,
    loser: &RecordId,
) -> crate::error::Result<Vec<RecordId>> {
    ids_holding(conn, loser, &merge::referring_fields(policy, loser.kind()))
}

/// The ids of the records whose field (one of `fields`, by kind) holds
/// `loser`, the loser left out, at most one past [`MAX_REFERRING`].
fn ids_holding(
    conn: &Connection,
    loser: &RecordId,
    fields: &[(RecordKind, &str)],
) -> crate::error::Result<Vec<RecordId>> {
    let key = record_index::sort_key(
        fieldwork_core::schema::FieldType::Ref(&[]),
        &fieldwork_core::FieldValue::Text(loser.to_string()),
    );
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT record_id FROM record_fields
          WHERE kind = ?1 AND field = ?2 AND sort_key = ?3 LIMIT ?4",
    )?;
    let mut ids: Vec<RecordId> = Vec::new();
    for (kind, field) in fields {
        let limit = (MAX_REFERRING + 1) as i64;
        let found = stmt
            .query_map(rusqlite::params![kind.as_str(), field, key, limit], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.extend(found.into_iter().filter_map(|s| s.parse().ok()));
        ids.sort();
        ids.dedup();
        ids.retain(|id| id != loser);
        if ids.len() > MAX_REFERRING {
            break;
        }
    }
    Ok(ids)
}

/// A referring record; one the caller does not see stops the merge, as
/// it could not be re-pointed (`403 record_not_visible`).
fn visible_referrer(conn: &Connection, who: Who<'_>, id: &RecordId) -> Result<Record, Problem> {
    current(conn, who, id).map_err(|p| {
        if p.status != StatusCode::NOT_FOUND.as_u16() {
            return p;
        }
        Problem::from(Denial {
            code: fieldwork_core::policy::codes::RECORD_NOT_VISIBLE.into(),
            doc: Some(id.to_string()),
            field: None,
            rule: "merge.references".into(),
            message: format!("{id} refers to the merged record and you do not see it"),
        })
    })
}

/// The distinct records of `repoints`, in order.
fn distinct(repoints: &[Repoint]) -> Vec<RecordId> {
    let mut ids: Vec<RecordId> = repoints.iter().map(|r| r.record.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Each record of `records` with the writes `write` makes for its
/// entries of `repoints` (one edit per record).
fn grouped<W: Into<Option<FieldWrite>>>(
    records: Vec<Record>,
    repoints: &[Repoint],
    write: impl Fn(&Record, &Repoint) -> W,
) -> Vec<(Record, Vec<FieldWrite>)> {
    let mut by_record: BTreeMap<RecordId, Vec<&Repoint>> = BTreeMap::new();
    for r in repoints {
        by_record.entry(r.record.clone()).or_default().push(r);
    }
    records
        .into_iter()
        .filter_map(|rec| {
            let writes: Vec<FieldWrite> = by_record
                .get(&rec.id)?
                .iter()
                .filter_map(|p| write(&rec, p).into())
                .collect();
            Some((rec, writes))
        })
        .collect()
}

/// The policy the caller's access was built from (custom fields included).
fn policy_of<'a>(who: Who<'a>) -> Result<&'a Policy, Problem> {
    who.access
        .policy()
        .ok_or_else(|| ServerError::Internal("no policy".into()).into())
}

/// The changes of every edit, made as the caller ([`write::edit_changes`]).
fn changes(
    conn: &Connection,
    who: Who<'_>,
    edits: Vec<(Record, Vec<FieldWrite>)>,
) -> Result<Vec<Incoming>, Problem> {
    let policy = policy_of(who)?;
    let actor = write::actor_for(&who.state.actor, who.user);
    let mut out = Vec::new();
    for (record, writes) in edits.into_iter().filter(|(_, w)| !w.is_empty()) {
        let by = write::EditAs {
            access: who.access,
            policy,
            author: &who.user.name,
            actor: &actor,
        };
        let made = write::edit_changes(conn, by, who.state.now_ms(), &record, false, writes)
            .map_err(|e| Problem::from(ServerError::from(e)))?;
        out.extend(made);
    }
    Ok(out)
}

/// Pushes `incoming` all or nothing as the caller, with `then` in the
/// batch's transaction; a refusal answers with its code.
fn push_all(
    w: &mut Writer,
    who: Who<'_>,
    incoming: Vec<Incoming>,
    then: InTransaction<'_>,
) -> Result<(), Problem> {
    let ctx = PushCtx {
        user: who.user,
        access: who.access,
        device: None,
        now_ms: who.state.now_ms(),
        all_or_nothing: true,
    };
    let outcome = push::apply_measured_then(
        w,
        &who.state.hub,
        &who.state.actor,
        ctx,
        incoming,
        Some(then),
    )?;
    match outcome.refused.into_iter().next() {
        None => Ok(()),
        Some(r) => Err(Problem::from(Denial {
            code: r.code,
            doc: Some(r.doc),
            field: r.field,
            rule: r.rule,
            message: r.message,
        })),
    }
}

/// A merge the records' state refuses (`409`).
fn conflict(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::CONFLICT, code, detail)
}

/// A merge refused by [`merge::check_pair`] or [`merge::fills`]: `409`
/// for a record merged already, `400` otherwise.
fn refused(e: MergeError) -> Problem {
    let status = match e {
        MergeError::AlreadyMerged(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    Problem::new(status, e.code(), e.to_string())
}
