//! Applying one batch from the server inside the caller's transaction.
//!
//! The batch is regrouped per record (accounts first, so that their
//! children inherit an indexed territory; a document's payloads keep their
//! order), and each record is applied and indexed at once from the
//! documents still in hand: nothing the batch wrote is read back from the
//! database, whatever the size of the batch.
//!
//! A document this device does not hold yet (the whole of a first sync) is
//! loaded once, before anything is written and on several threads when the
//! batch brings many (loading is most of such a document's cost), and
//! stored as it came: the server's saved bytes become the snapshot and its
//! changes one chunk, so it is neither saved again nor loaded twice.
//! Everything else (changes to a held document, a whole document merged
//! into a held one, a new generation) takes the general path, which appends
//! exactly the changes that were new.
//!
//! Guarantees: the same as [`super::Store::apply_remote`]'s; a malformed
//! payload fails the whole batch with [`CoreError::Protocol`], and since
//! the caller's transaction then rolls back, nothing of it is stored.

use std::collections::{BTreeSet, HashMap};

use automerge::{ActorId, AutoCommit, Change, ChangeHash};

use super::super::write::{self, Ctx};
use super::super::{docs, quarantine};
use super::{RemoteDoc, RemotePayload};
use crate::document::ClassDoc;
use crate::error::{CoreError, Result};
use crate::ids::{DocId, RecordId, RecordKind};

/// One record's share of a batch: its documents in the order they
/// arrived.
struct Group {
    record: RecordId,
    docs: Vec<Planned>,
}

/// One document of a batch and what is to be done with it.
struct Planned {
    id: DocId,
    work: Work,
}

/// How a document of a batch is applied.
enum Work {
    /// Payloads applied one by one to the stored copy (or a new one).
    General(Vec<RemotePayload>),
    /// New here, in the common shape: to be loaded (off the writing
    /// thread) and stored as received.
    New {
        document: Option<Vec<u8>>,
        changes: Vec<Vec<u8>>,
    },
    /// New here and loaded: stored as received.
    Loaded(Fresh),
}

/// A document new to this device, loaded from what was received.
struct Fresh {
    doc: ClassDoc,
    snapshot: Option<Vec<u8>>,
    chunk: Vec<u8>,
}

/// Below this many new documents a batch loads them on the writing thread.
pub(super) const PARALLEL_FROM: usize = 64;
/// At most this many threads load a batch's new documents.
const MAX_LOADERS: usize = 4;

/// Applies `batch` in `ctx`'s transaction and indexes what changed.
/// Returns the records whose content changed.
///
/// Three phases: plan (which documents are new here), load the new ones
/// (pure work: on several threads when there are many), then write and
/// index record by record on this thread.
pub(super) fn apply(ctx: &mut Ctx<'_>, batch: Vec<RemoteDoc>) -> Result<BTreeSet<RecordId>> {
    let mut groups = regroup(batch);
    plan(ctx, &mut groups)?;
    load_new(&mut groups, ctx.actor)?;
    let mut changed = BTreeSet::new();
    for group in groups {
        if apply_group(ctx, group.docs)? {
            changed.insert(group.record);
        }
    }
    Ok(changed)
}

/// Groups `batch` per record and per document: account records first, then
/// the others, each in the order of its first appearance; a document's
/// payloads keep their order.
fn regroup(batch: Vec<RemoteDoc>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut at: HashMap<RecordId, usize> = HashMap::new();
    for item in batch {
        let record = item.doc.record().clone();
        let i = *at.entry(record.clone()).or_insert_with(|| {
            groups.push(Group {
                record,
                docs: Vec::new(),
            });
            groups.len() - 1
        });
        let docs = &mut groups[i].docs;
        match docs.iter_mut().find(|p| p.id == item.doc) {
            Some(Planned {
                work: Work::General(payloads),
                ..
            }) => payloads.push(item.payload),
            _ => docs.push(Planned {
                id: item.doc,
                work: Work::General(vec![item.payload]),
            }),
        }
    }
    // Stable: the order of first appearance holds within each kind.
    groups.sort_by_key(|g| g.record.kind() != RecordKind::Account);
    groups
}

/// Marks the documents not stored here whose payloads have the common
/// shape as [`Work::New`].
fn plan(ctx: &Ctx<'_>, groups: &mut [Group]) -> Result<()> {
    for planned in groups.iter_mut().flat_map(|g| g.docs.iter_mut()) {
        let Work::General(payloads) = &mut planned.work else {
            continue;
        };
        if docs::exists(ctx.conn, &planned.id)? {
            continue;
        }
        planned.work = work_for_new(std::mem::take(payloads));
    }
    Ok(())
}

/// Loads every [`Work::New`] document into [`Work::Loaded`]: on up to
/// [`MAX_LOADERS`] threads when there are many (loading is most of a new
/// document's cost and touches no shared state). The first failure fails
/// the batch.
fn load_new(groups: &mut [Group], actor: &ActorId) -> Result<()> {
    let mut jobs: Vec<&mut Planned> = groups
        .iter_mut()
        .flat_map(|g| g.docs.iter_mut())
        .filter(|p| matches!(p.work, Work::New { .. }))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_LOADERS);
    if jobs.len() < PARALLEL_FROM || threads < 2 {
        return jobs.iter_mut().try_for_each(|p| load_one(p, actor));
    }
    let per_thread = jobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks_mut(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter_mut().try_for_each(|p| load_one(p, actor))))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(CoreError::Protocol("a document failed to load".into())))
        })
    })
}

/// Loads one [`Work::New`] document (checking it) into [`Work::Loaded`].
fn load_one(planned: &mut Planned, actor: &ActorId) -> Result<()> {
    let Work::New { document, changes } = &mut planned.work else {
        return Ok(());
    };
    let (document, changes) = (document.take(), std::mem::take(changes));
    let id = &planned.id;
    let mut doc = match &document {
        Some(bytes) => ClassDoc::load(id.clone(), Some(bytes), [], actor.clone())
            .map_err(|e| CoreError::Protocol(e.to_string()))?,
        None => ClassDoc::new(id.clone(), actor.clone()),
    };
    let new = if changes.is_empty() {
        Vec::new()
    } else {
        doc.apply_changes(parse_changes(id, changes)?)?
    };
    let chunk = raw_changes(&mut doc, &new);
    planned.work = Work::Loaded(Fresh {
        doc,
        snapshot: document,
        chunk,
    });
    Ok(())
}

/// Applies one record's documents, then refreshes its index rows from the
/// documents in hand. Returns whether its content changed.
fn apply_group(ctx: &mut Ctx<'_>, docs: Vec<Planned>) -> Result<bool> {
    let Some(record) = docs.first().map(|p| p.id.record().clone()) else {
        return Ok(false);
    };
    let mut held: Vec<(i64, ClassDoc)> = Vec::with_capacity(docs.len());
    let mut changed = false;
    for Planned { id, work } in docs {
        match work {
            Work::Loaded(fresh) => {
                let now_ms = ctx.now.as_millisecond();
                let rev = docs::insert_new(
                    ctx.conn,
                    &id,
                    fresh.snapshot.as_deref(),
                    &fresh.chunk,
                    now_ms,
                )?;
                held.push((rev, fresh.doc));
                changed = true;
            }
            Work::General(payloads) => changed |= general(ctx, &id, payloads)?,
            Work::New { .. } => {
                // `load_new` loads every one; unreachable.
                return Err(CoreError::Corrupt(format!("{id}: was not loaded")));
            }
        }
    }
    if changed {
        let mut in_hand: Vec<&mut ClassDoc> = held.iter_mut().map(|(_, d)| d).collect();
        write::refresh_record(ctx, &record, &mut in_hand)?;
    }
    for (rev, doc) in held {
        ctx.cache.put(rev, doc);
    }
    Ok(changed)
}

/// The work for a document this device lacks: [`Work::New`] when its
/// payloads have the common shape (a saved document, then changes after
/// it, either optional), [`Work::General`] otherwise.
fn work_for_new(payloads: Vec<RemotePayload>) -> Work {
    let common = matches!(
        payloads.as_slice(),
        [RemotePayload::Document(_)]
            | [RemotePayload::Changes(_)]
            | [RemotePayload::Document(_), RemotePayload::Changes(_)]
    );
    if !common {
        return Work::General(payloads);
    }
    let mut document = None;
    let mut changes = Vec::new();
    for payload in payloads {
        match payload {
            RemotePayload::Document(bytes) => document = Some(bytes),
            RemotePayload::Changes(raw) => changes = raw,
            RemotePayload::Replace { .. } => {}
        }
    }
    Work::New { document, changes }
}

/// Applies payloads one by one, each as its own write to the stored copy
/// (the rare shapes: changes to a document held here, a whole document
/// merged into one, a new generation). Leaves the document in the cache;
/// returns whether anything was new.
fn general(ctx: &mut Ctx<'_>, id: &DocId, payloads: Vec<RemotePayload>) -> Result<bool> {
    let mut changed = false;
    for payload in payloads {
        changed |= apply_one(ctx, id, payload)?;
    }
    Ok(changed)
}

/// Applies one payload to the stored copy of `id` (or a new document) and
/// persists the changes that were new to it; returns whether there were any.
fn apply_one(ctx: &mut Ctx<'_>, id: &DocId, payload: RemotePayload) -> Result<bool> {
    let (mut doc, existed) = match docs::take(ctx.conn, ctx.cache, id, ctx.actor)? {
        Some((_, doc)) => (doc, true),
        None => (ClassDoc::new(id.clone(), ctx.actor.clone()), false),
    };
    let new = match payload {
        RemotePayload::Changes(raw) => doc.apply_changes(parse_changes(id, raw)?)?,
        RemotePayload::Document(bytes) => {
            let mut incoming = AutoCommit::load(&bytes)
                .map_err(|e| CoreError::Protocol(format!("{id}: malformed document: {e}")))?;
            merge_whole(&mut doc, &mut incoming)?
        }
        RemotePayload::Replace { document, changes } => {
            let replacement = ClassDoc::load(
                id.clone(),
                Some(&document),
                changes.iter().map(Vec::as_slice),
                ctx.actor.clone(),
            )
            .map_err(|e| CoreError::Protocol(e.to_string()))?;
            ctx.cache.forget(id);
            drop(doc);
            quarantine::replace(ctx, id, replacement)?;
            return Ok(true);
        }
    };
    if existed && new.is_empty() {
        return Ok(false); // nothing new: leave the stored document alone
    }
    // A document new here is stored whole (`persist` compacts when given no
    // appended bytes).
    let appended = if existed {
        raw_changes(&mut doc, &new)
    } else {
        Vec::new()
    };
    let rev = docs::persist(ctx.conn, &mut doc, &appended, ctx.now.as_millisecond())?;
    ctx.cache.put(rev, doc);
    Ok(true)
}

/// Parses raw changes, refusing a malformed one.
fn parse_changes(id: &DocId, raw: Vec<Vec<u8>>) -> Result<Vec<Change>> {
    raw.into_iter()
        .map(|bytes| {
            Change::from_bytes(bytes)
                .map_err(|e| CoreError::Protocol(format!("{id}: malformed change: {e}")))
        })
        .collect()
}

/// Merges a whole document received from the server into the stored copy
/// and returns the hashes of every change that was new to it, in dependency
/// order.
///
/// Not `AutoCommit::merge`'s return value: that is the heads after the
/// merge, which names only the newest change(s). Persisting just those as
/// the appended chunk lost every change in between, and the stored copy
/// failed to load ("misses change(s) its history depends on") once it
/// left the cache.
fn merge_whole(doc: &mut ClassDoc, incoming: &mut AutoCommit) -> Result<Vec<ChangeHash>> {
    let before = doc.heads();
    doc.automerge().merge(incoming)?;
    Ok(doc
        .automerge()
        .get_changes(&before)
        .iter()
        .map(Change::hash)
        .collect())
}

/// The raw bytes of the given changes of `doc`, concatenated (a valid chunk
/// sequence for `load_incremental`).
pub(super) fn raw_changes(doc: &mut ClassDoc, hashes: &[ChangeHash]) -> Vec<u8> {
    let mut out = Vec::new();
    for hash in hashes {
        if let Some(change) = doc.automerge().get_change_by_hash(hash) {
            out.extend_from_slice(change.raw_bytes());
        }
    }
    out
}
