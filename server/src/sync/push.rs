//! Accepting pushed changes: decode, check, store, relay — or refuse.
//!
//! Runs on the writer. For every change, in order:
//! 1. the document id must name a known kind and a class the policy has;
//! 2. the bytes must be one valid, uncompressed Automerge change within the
//!    limits of [`fieldwork_core::change_limits`] (checked before parsing);
//! 3. its dependencies must be stored already or earlier in the batch
//!    (a change depending on a refused one is refused too);
//! 4. its actor must be this user's (bound on first use) and its author
//!    (the commit message) this user's name; an engine-actor change must
//!    create a new document exactly as the engine would
//!    ([`fieldwork_core::process::creation::rederives`]);
//! 5. every operation must pass [`fieldwork_core::validate`]: the field
//!    exists in this class, the value has the right type, the user may write
//!    the class and the record; and it must not give a personal field of
//!    an erased contact a value again (`erased`, [`crate::erasure::refusal`]);
//! 6. the record it would make (all the classes the server holds for it,
//!    merged) must not newly break a rule of [`fieldwork_core::rules`]
//!    (required fields, an amount without its currency, ...): the same rule
//!    book the device's write path runs (`invalid_value`, rule `rules.NAME`);
//! 7. a new record must fall within the pusher's edit scopes as the change
//!    leaves it, and a process model or instance must pass
//!    [`fieldwork_core::process::guard`] (process rights, the event log
//!    only grows, events name their pusher);
//! 8. only then is it applied, appended to the feed and published.
//!
//! A panic while checking one change (a bug reachable from its bytes)
//! refuses that change (`malformed_change`) and the push goes on.
//!
//! All accepted changes of a batch commit in one transaction before the
//! result is sent, so an acknowledgement always means "on disk". A refused
//! change is never stored or relayed; its refusal is written to the audit log.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fieldwork_core::automerge::{ActorId, Change, ChangeHash};
use fieldwork_core::change_limits::{self, Shape};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::error::Denial;
use fieldwork_core::policy::codes;
use fieldwork_core::process::{creation, guard};
use fieldwork_core::rules;
use fieldwork_core::sync::protocol::{Refusal, error_codes};
use fieldwork_core::validate::{self, ENGINE_AUTHOR, is_engine_actor};
use fieldwork_core::{Access, DocId, Record, RecordId};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_bytes::ByteBuf;

use crate::db::audit::{self, AuditEntry};
use crate::db::users::User;
use crate::db::{Writer, devices, documents, facts, feed};
use crate::error::{Result, ServerError};
use crate::hub::{FeedEvent, Hub, HubEvent};

/// Who is pushing.
#[derive(Debug, Clone, Copy)]
pub struct PushCtx<'a> {
    /// The user.
    pub user: &'a User,
    /// Their access under the current policy.
    pub access: &'a Access,
    /// The device pushing (`None` for the server's own engine).
    pub device: Option<&'a str>,
    /// Now, in milliseconds.
    pub now_ms: i64,
    /// Store the batch only if every change is accepted (one edit of the
    /// office API, whose class documents stand or fall together); a device's
    /// push is decided change by change.
    pub all_or_nothing: bool,
}

/// A pushed change as received: its document id and bytes, measured once
/// ([`change_limits::measure`], a byte walk without Automerge) and its hash
/// read from the chunk header. The connection's precheck and the writer's
/// checks both use this one measurement.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The document id as sent.
    pub doc: String,
    /// The raw bytes.
    pub bytes: Vec<u8>,
    /// What the byte walk found, or why it refuses the change.
    pub shape: Result<Shape, Denial>,
    /// The change hash from the chunk header, when it has one.
    pub hash: Option<ChangeHash>,
}

impl Incoming {
    /// Measures `bytes` pushed for document `doc`.
    pub fn new(doc: String, bytes: Vec<u8>) -> Incoming {
        Incoming {
            shape: change_limits::measure(&bytes),
            hash: change_limits::chunk_hash(&bytes),
            doc,
            bytes,
        }
    }

    /// How many operations the change holds (0 when it is refused unread).
    pub fn ops(&self) -> u64 {
        self.shape.as_ref().map_or(0, |s| s.ops)
    }
}

/// The outcome of a push.
#[derive(Debug, Default)]
pub struct PushOutcome {
    /// Changes now stored (including ones stored before).
    pub accepted: Vec<(DocId, ChangeHash)>,
    /// Refusals.
    pub refused: Vec<Refusal>,
    /// Feed entries created (already published).
    pub events: Vec<FeedEvent>,
}

fn refusal(hash: &[u8], doc: &str, denial: Denial) -> Refusal {
    Refusal {
        hash: ByteBuf::from(hash.to_vec()),
        doc: doc.to_owned(),
        code: denial.code,
        field: denial.field,
        rule: denial.rule,
        message: denial.message,
    }
}

fn denial(code: &str, message: String) -> Denial {
    Denial {
        code: code.to_owned(),
        doc: None,
        field: None,
        rule: "protocol".to_owned(),
        message,
    }
}

/// Checks, stores and publishes `changes` (document id, raw bytes).
pub fn apply(
    w: &mut Writer,
    hub: &Hub,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    changes: Vec<(String, Vec<u8>)>,
) -> Result<PushOutcome> {
    let incoming = changes
        .into_iter()
        .map(|(doc, bytes)| Incoming::new(doc, bytes))
        .collect();
    apply_measured(w, hub, actor, ctx, incoming)
}

/// [`apply`] for changes already measured.
pub fn apply_measured(
    w: &mut Writer,
    hub: &Hub,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    changes: Vec<Incoming>,
) -> Result<PushOutcome> {
    apply_measured_then(w, hub, actor, ctx, changes, None)
}

/// Work that belongs to a batch's transaction (a merge's log entry and the
/// server's own re-pointing of process instances): run after every change
/// is decided and none refused, before the commit; its error rolls the
/// whole batch back.
pub type InTransaction<'f> = &'f mut dyn FnMut(InBatch<'_, '_>) -> Result<()>;

/// What work in a batch's transaction ([`InTransaction`]) is given.
pub struct InBatch<'a, 't> {
    /// The batch's transaction.
    pub tx: &'a rusqlite::Transaction<'t>,
    /// The writer's document cache: a document the work changes is
    /// changed there too (the whole cache is dropped when the batch fails
    /// after the work ran, so nothing rolled back stays cached).
    pub cache: &'a mut lru::LruCache<DocId, ClassDoc>,
    /// The batch's outcome so far; feed events the work adds to
    /// `events` are published with the batch's after the commit.
    pub outcome: &'a mut PushOutcome,
}

/// [`apply_measured`], running `then` in the batch's transaction when no
/// change was refused (with `all_or_nothing`, when the batch is stored
/// whole), so that what it writes commits with the changes or not at all.
pub fn apply_measured_then(
    w: &mut Writer,
    hub: &Hub,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    changes: Vec<Incoming>,
    then: Option<InTransaction<'_>>,
) -> Result<PushOutcome> {
    let Writer { conn, cache } = w;
    let mut touched: Vec<DocId> = Vec::new();
    let result = commit_batch(conn, cache, actor, ctx, changes, &mut touched, then);
    match result {
        Ok((out, audits)) => {
            announce(hub, &out, &audits);
            Ok(out)
        }
        Err(e) => {
            // The cache may hold changes that were rolled back.
            for doc in touched {
                cache.pop(&doc);
            }
            Err(e)
        }
    }
}

/// The whole batch in one immediate transaction: decides every change in
/// order, stores the accepted ones, writes the refusals to the audit log and
/// commits. Nothing is committed when it fails; `touched` then names the
/// cached documents that may hold rolled-back changes.
fn commit_batch(
    conn: &mut rusqlite::Connection,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    changes: Vec<Incoming>,
    touched: &mut Vec<DocId>,
    then: Option<InTransaction<'_>>,
) -> Result<(PushOutcome, Vec<AuditEntry>)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = PushOutcome::default();
    let mut audits = Vec::new();
    let mut refused_hashes: HashSet<ChangeHash> = HashSet::new();
    for incoming in changes {
        let (doc_text, hash_hint) = (incoming.doc.clone(), incoming.hash);
        match decide(&tx, cache, actor, ctx, incoming, &refused_hashes) {
            Ok(Decision::Duplicate { doc, hash }) => {
                hold(&tx, ctx, &doc)?;
                out.accepted.push((doc, hash));
            }
            Ok(Decision::Accept { doc, change, after }) => {
                let accepted = Accepted {
                    doc,
                    change,
                    after: *after,
                };
                store_accepted(&tx, cache, ctx, accepted, &mut out, touched)?;
            }
            Err(Rejected(d)) => {
                if let Some(h) = hash_hint {
                    refused_hashes.insert(h);
                }
                let (entry, refusal) = refuse(ctx, &doc_text, hash_hint, d);
                audits.push(entry);
                out.refused.push(refusal);
            }
        }
    }
    if ctx.all_or_nothing && !out.refused.is_empty() && !out.accepted.is_empty() {
        // Roll the accepted part back; keep the refusals' audit entries.
        drop(tx);
        for doc in touched.drain(..) {
            cache.pop(&doc);
        }
        out.accepted.clear();
        out.events.clear();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for entry in &audits {
            audit::record(&tx, entry)?;
        }
        tx.commit()?;
        return Ok((out, audits));
    }
    let Some(then) = then.filter(|_| out.refused.is_empty()) else {
        for entry in &audits {
            audit::record(&tx, entry)?;
        }
        tx.commit()?;
        return Ok((out, audits));
    };
    let finished = then(InBatch {
        tx: &tx,
        cache,
        outcome: &mut out,
    })
    .and_then(|()| {
        for entry in &audits {
            audit::record(&tx, entry)?;
        }
        Ok(tx.commit()?)
    });
    if finished.is_err() {
        // The work may have cached documents this rollback undoes.
        cache.clear();
    }
    finished.map(|()| (out, audits))
}

/// [`check_one`], with a panic while checking turned into a
/// `malformed_change` refusal of that change alone.
fn decide(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    incoming: Incoming,
    refused: &HashSet<ChangeHash>,
) -> Result<Decision, Rejected> {
    catch_unwind(AssertUnwindSafe(|| {
        check_one(tx, cache, actor, ctx, incoming, refused)
    }))
    .unwrap_or_else(|_| {
        Err(Rejected(denial(
            error_codes::MALFORMED_CHANGE,
            "the change could not be decoded or applied (the server refused it safely)".into(),
        )))
    })
}

/// Records that the pushing device holds `doc` (nothing for the engine).
/// A device that pushes to a document its connection revoked (the two
/// crossed) is about to drop it; its connection releases it again after
/// the push (see `sync::machine`'s `revoked`).
fn hold(tx: &rusqlite::Transaction<'_>, ctx: PushCtx<'_>, doc: &DocId) -> Result<()> {
    if let Some(device) = ctx.device {
        devices::hold(tx, device, &[doc.to_string()])?;
    }
    Ok(())
}

/// Puts the document an accepted change makes (the checks' scratch copy,
/// so the change is not applied a second time) in place of the cached one
/// (noting it in `touched`), appends the change to the feed, compacts when
/// due, updates the record's facts for a base-class document, and adds it
/// to `out` as accepted and as a feed event to publish after the commit.
fn store_accepted(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    ctx: PushCtx<'_>,
    accepted: Accepted,
    out: &mut PushOutcome,
    touched: &mut Vec<DocId>,
) -> Result<()> {
    let Accepted {
        doc,
        change,
        mut after,
    } = accepted;
    let hash = change.hash();
    let raw = change.raw_bytes().to_vec();
    let Some(loaded) = cache.get_mut(&doc) else {
        return Err(ServerError::Internal("document left the cache".into()));
    };
    touched.push(doc.clone());
    let webhook_before = crate::webhooks::before_push(tx, loaded)?;
    // The copy was forked under another actor: the server's own writes to
    // the cached document keep the actor it had.
    let actor = loaded.automerge().get_actor().clone();
    after.automerge().set_actor(actor);
    *loaded = after;
    let seq = feed::append(
        tx,
        &doc,
        &hash.0,
        &raw,
        Some(ctx.user.id),
        ctx.device,
        ctx.now_ms,
    )?;
    documents::compact_if_due(tx, loaded, seq)?;
    crate::db::record_index::refresh(tx, loaded)?;
    let facts_changed = if Some(doc.class()) == ctx.access.policy().map(|p| p.base_class()) {
        facts::update_facts(tx, &record_of(loaded)?)?
    } else {
        false
    };
    let base = ctx.access.policy().map(|p| p.base_class());
    crate::webhooks::after_push(tx, webhook_before, loaded, base, &ctx.user.name, ctx.now_ms)?;
    out.accepted.push((doc.clone(), hash));
    hold(tx, ctx, &doc)?;
    out.events.push(FeedEvent {
        seq,
        doc,
        hash: hash.0.to_vec(),
        bytes: raw,
        device: ctx.device.map(str::to_owned),
        facts_changed,
    });
    Ok(())
}

/// The audit entry and the refusal sent back for a refused change
/// (`doc_text` as sent, `hash_hint` from its chunk header).
fn refuse(
    ctx: PushCtx<'_>,
    doc_text: &str,
    hash_hint: Option<ChangeHash>,
    mut d: Denial,
) -> (AuditEntry, Refusal) {
    let hash_bytes = hash_hint.map(|h| h.0.to_vec()).unwrap_or_default();
    d.doc.get_or_insert_with(|| doc_text.to_owned());
    let entry = AuditEntry {
        at: ctx.now_ms,
        user: ctx.user.name.clone(),
        device: ctx.device.map(str::to_owned),
        doc: Some(doc_text.to_owned()),
        hash: hash_hint.map(|h| h.to_string()),
        code: d.code.clone(),
        field: d.field.clone(),
        rule: Some(d.rule.clone()),
        message: d.message.clone(),
    };
    (entry, refusal(&hash_bytes, doc_text, d))
}

/// After the commit: logs the refusals and publishes the new feed entries.
fn announce(hub: &Hub, out: &PushOutcome, audits: &[AuditEntry]) {
    for a in audits {
        tracing::info!(user = %a.user, doc = ?a.doc, code = %a.code, field = ?a.field, "refused a change");
    }
    if !out.events.is_empty() {
        hub.publish(HubEvent::Changes(std::sync::Arc::new(out.events.clone())));
    }
}

/// Why a change is not accepted.
struct Rejected(Denial);

enum Decision {
    Duplicate {
        doc: DocId,
        hash: ChangeHash,
    },
    Accept {
        doc: DocId,
        change: Change,
        /// The document with the change applied (the checks' scratch copy).
        after: Box<ClassDoc>,
    },
}

/// An accepted change, and the document it makes.
struct Accepted {
    doc: DocId,
    change: Change,
    after: ClassDoc,
}

/// A server error met while checking, as a `malformed_change` refusal.
fn internal(e: ServerError) -> Rejected {
    Rejected(denial(
        error_codes::MALFORMED_CHANGE,
        format!("server error: {e}"),
    ))
}

/// Checks one change, in the order of the module docs (steps 1–7), and
/// says whether it is new and acceptable or already stored. Leaves its
/// document loaded in the cache when it accepts.
fn check_one(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    ctx: PushCtx<'_>,
    incoming: Incoming,
    refused: &HashSet<ChangeHash>,
) -> Result<Decision, Rejected> {
    let Incoming {
        doc: doc_text,
        bytes,
        shape,
        ..
    } = incoming;
    let doc_text = doc_text.as_str();
    let (doc, policy) = check_doc(ctx, doc_text)?;
    let change = decode(shape, bytes, refused)?;
    let hash = change.hash();
    load_or_create(tx, cache, &doc, actor)?;
    let Some(loaded) = cache.get_mut(&doc) else {
        return Err(internal(ServerError::Internal("cache miss".into())));
    };
    if loaded.automerge().get_change_meta_by_hash(&hash).is_some() {
        return Ok(Decision::Duplicate { doc, hash });
    }
    check_dependencies(loaded, &change)?;
    check_engine_creation(policy, loaded, &change)?;
    check_actor(tx, ctx, &change).map_err(|e| match e {
        ActorCheck::Rejected(r) => r,
        ActorCheck::Db(e) => internal(e),
    })?;
    let facts = facts_for(tx, &doc).map_err(internal)?;
    validate::check_change(ctx.access, loaded, &change, &facts).map_err(Rejected)?;
    let after = scratch_copy(loaded, &change)?;
    let (fresh, before_fields, after_fields) = (loaded.is_empty(), loaded.fields(), after.fields());
    if let Some(d) =
        crate::erasure::refusal(tx, &doc, &before_fields, &after_fields).map_err(internal)?
    {
        return Err(Rejected(d));
    }
    if facts.is_none() && Some(doc.class()) == ctx.access.policy().map(|p| p.base_class()) {
        check_new_record_scope(tx, ctx, &doc, doc_text, &after_fields)?;
    }
    check_guard(tx, ctx, loaded, &after)?;
    check_rules(
        tx,
        cache,
        actor,
        policy,
        &doc,
        fresh,
        before_fields,
        after_fields,
    )?;
    Ok(Decision::Accept {
        doc,
        change,
        after: Box::new(after),
    })
}

/// What the change makes of the document, worked out once on a scratch
/// copy for the checks that look at the whole record (`malformed_change`
/// when it cannot be applied). The stored document is left as it was.
fn scratch_copy(loaded: &mut ClassDoc, change: &Change) -> Result<ClassDoc, Rejected> {
    loaded.with_change(change).map_err(|e| {
        Rejected(denial(
            error_codes::MALFORMED_CHANGE,
            format!("the change cannot be applied: {e}"),
        ))
    })
}

/// Step 1: the document id parses, a policy is loaded, and the policy has
/// the id's class for its record kind (`unknown_document` otherwise).
fn check_doc<'a>(
    ctx: PushCtx<'a>,
    doc_text: &str,
) -> Result<(DocId, &'a fieldwork_core::Policy), Rejected> {
    let doc: DocId = doc_text
        .parse()
        .map_err(|e| Rejected(denial(error_codes::UNKNOWN_DOCUMENT, format!("{e}"))))?;
    let policy = ctx
        .access
        .policy()
        .ok_or_else(|| Rejected(denial(error_codes::UNKNOWN_DOCUMENT, "no policy".into())))?;
    if !policy
        .classes_of_kind(doc.record().kind())
        .contains(doc.class())
    {
        return Err(Rejected(denial(
            error_codes::UNKNOWN_DOCUMENT,
            format!(
                "{} records have no class `{}`",
                doc.record().kind(),
                doc.class()
            ),
        )));
    }
    Ok((doc, policy))
}

/// Step 2 and the first half of step 3: the measurement made on arrival
/// must have passed (before any parsing), the bytes must parse as one
/// Automerge change, and it must not depend on a change refused earlier in
/// the batch (`dependency_refused`).
fn decode(
    shape: Result<Shape, Denial>,
    bytes: Vec<u8>,
    refused: &HashSet<ChangeHash>,
) -> Result<Change, Rejected> {
    // Measured once on arrival (`Incoming::new`), before any parsing.
    shape.map_err(Rejected)?;
    let change = Change::from_bytes(bytes).map_err(|e| {
        Rejected(denial(
            error_codes::MALFORMED_CHANGE,
            format!("not an Automerge change: {e}"),
        ))
    })?;
    if change.deps().iter().any(|d| refused.contains(d)) {
        return Err(Rejected(denial(
            error_codes::DEPENDENCY_REFUSED,
            "depends on a change refused in the same push".into(),
        )));
    }
    Ok(change)
}

/// Loads `doc` into the cache, or puts an empty document there when the
/// server has none stored.
fn load_or_create(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    doc: &DocId,
    actor: &ActorId,
) -> Result<(), Rejected> {
    if documents::load(tx, cache, doc, actor)
        .map_err(internal)?
        .is_none()
    {
        cache.put(doc.clone(), ClassDoc::new(doc.clone(), actor.clone()));
    }
    Ok(())
}

/// Rest of step 3: every dependency must be in the stored document
/// (`missing_dependencies` otherwise).
fn check_dependencies(loaded: &mut ClassDoc, change: &Change) -> Result<(), Rejected> {
    let missing: Vec<_> = change
        .deps()
        .iter()
        .filter(|d| loaded.automerge().get_change_meta_by_hash(d).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Rejected(denial(
            error_codes::MISSING_DEPENDENCIES,
            format!(
                "depends on {} change(s) the server does not have",
                missing.len()
            ),
        )));
    }
    Ok(())
}

/// Part of step 4: an engine-actor change must create a new document
/// exactly as the engine would (`engine_change_refused` otherwise).
fn check_engine_creation(
    policy: &fieldwork_core::Policy,
    loaded: &mut ClassDoc,
    change: &Change,
) -> Result<(), Rejected> {
    if is_engine_actor(change.actor_id())
        && (!loaded.is_empty() || !creation::rederives(policy, loaded, change))
    {
        // The engine only ever creates records, with content and actor the
        // server can work out again; anything else signed by an engine
        // actor is a forgery (or a replica that rendered other content,
        // whose copy the server already has).
        return Err(Rejected(denial(
            error_codes::ENGINE_CHANGE_REFUSED,
            "engine changes only create new documents, exactly as the engine would".into(),
        )));
    }
    Ok(())
}

/// Step 7, first half: a new record must fall within the pusher's edit
/// scopes as the change leaves it (`after_fields`).
fn check_new_record_scope(
    tx: &rusqlite::Transaction<'_>,
    ctx: PushCtx<'_>,
    doc: &DocId,
    doc_text: &str,
    after_fields: &rules::Fields,
) -> Result<(), Rejected> {
    let created = new_record_facts(tx, doc.record().kind(), after_fields).map_err(internal)?;
    validate::check_new_record(ctx.access, doc.record().kind(), &created, Some(doc_text))
        .map_err(Rejected)
}

/// Step 7, second half: the process guard on the document before and
/// after the change, at the push's time, with stored facts.
fn check_guard(
    tx: &rusqlite::Transaction<'_>,
    ctx: PushCtx<'_>,
    loaded: &mut ClassDoc,
    after: &ClassDoc,
) -> Result<(), Rejected> {
    let facts_of = |id: &RecordId| facts_for_record(tx, id).ok().flatten();
    let record_of = |id: &RecordId| stored_record(tx, id).ok().flatten();
    let known = guard::Known {
        now: jiff::Timestamp::from_millisecond(ctx.now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        facts_of: &facts_of,
        record_of: &record_of,
    };
    guard::check(ctx.access, &known, loaded, after).map_err(Rejected)
}

enum ActorCheck {
    Rejected(Rejected),
    Db(ServerError),
}

impl From<rusqlite::Error> for ActorCheck {
    fn from(e: rusqlite::Error) -> Self {
        ActorCheck::Db(e.into())
    }
}

/// Binds the change's actor to the user on first use; refuses an actor
/// bound to someone else, and an author that is not the user.
fn check_actor(
    tx: &rusqlite::Transaction<'_>,
    ctx: PushCtx<'_>,
    change: &Change,
) -> Result<(), ActorCheck> {
    let actor = change.actor_id();
    let author = change.message().unwrap_or_default();
    if is_engine_actor(actor) {
        // Engine actors only create documents: one dependency-free change,
        // the same bytes on every replica that ran the same step.
        if change.seq() != 1 || !change.deps().is_empty() || author != ENGINE_AUTHOR {
            return Err(ActorCheck::Rejected(Rejected(denial(
                error_codes::ACTOR_NOT_YOURS,
                "engine actors may only create documents".into(),
            ))));
        }
        return Ok(());
    }
    if author != ctx.user.name {
        return Err(ActorCheck::Rejected(Rejected(denial(
            error_codes::AUTHOR_MISMATCH,
            format!(
                "the change is signed `{author}`, the session belongs to `{}`",
                ctx.user.name
            ),
        ))));
    }
    let owner: Option<i64> = tx
        .query_row(
            "SELECT user_id FROM actors WHERE actor = ?1",
            [actor.to_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        Some(id) if id == ctx.user.id => Ok(()),
        Some(_) => Err(ActorCheck::Rejected(Rejected(denial(
            error_codes::ACTOR_NOT_YOURS,
            "the change's actor belongs to another user".into(),
        )))),
        None => {
            tx.execute(
                "INSERT INTO actors(actor, user_id) VALUES (?1, ?2)",
                params![actor.to_bytes(), ctx.user.id],
            )?;
            Ok(())
        }
    }
}

/// The visibility facts a record of `kind` being created gets from the
/// `fields` of its base class document (see [`Record::facts`]), with the
/// territory of its parent account as stored.
fn new_record_facts(
    tx: &rusqlite::Transaction<'_>,
    kind: fieldwork_core::RecordKind,
    fields: &rules::Fields,
) -> Result<fieldwork_core::policy::RecordFacts> {
    let record = Record {
        id: RecordId::new_random(kind),
        fields: fields.clone(),
        conflicts: Default::default(),
        classes: Vec::new(),
    };
    let inherited = match record.account() {
        Some(account) => facts_for_record(tx, &account)?.and_then(|f| f.territory),
        None => None,
    };
    Ok(record.facts(inherited))
}

/// Record `id` as stored, every class document merged (a process task's
/// instance and model version, for the guard), read outside the writer's
/// cache so the document being checked stays as it is.
pub(super) fn stored_record(tx: &rusqlite::Connection, id: &RecordId) -> Result<Option<Record>> {
    let mut record = fieldwork_core::edit::empty_record(id);
    let actor = ActorId::random();
    for doc in documents::docs_of_record(tx, &id.to_string())? {
        let Ok(doc) = doc.parse::<DocId>() else {
            continue;
        };
        let Some((snapshot, changes)) = documents::whole(tx, &doc.to_string())? else {
            continue;
        };
        let mut loaded = ClassDoc::load(
            doc,
            snapshot.as_deref(),
            changes.iter().map(Vec::as_slice),
            actor.clone(),
        )?;
        fieldwork_core::edit::absorb(&mut record, &mut loaded)?;
    }
    Ok((!record.classes.is_empty()).then_some(record))
}

/// The stored visibility facts of `record`, if the server holds it.
fn facts_for_record(
    tx: &rusqlite::Transaction<'_>,
    record: &RecordId,
) -> Result<Option<fieldwork_core::policy::RecordFacts>> {
    let record = record.to_string();
    Ok(facts::facts(tx, std::slice::from_ref(&record))?.remove(&record))
}

/// The record's visibility facts as stored (`None` for a record being created).
fn facts_for(
    tx: &rusqlite::Transaction<'_>,
    doc: &DocId,
) -> Result<Option<fieldwork_core::policy::RecordFacts>> {
    facts_for_record(tx, doc.record())
}

/// A record view of one class document (for its routing facts).
fn record_of(doc: &mut ClassDoc) -> Result<Record> {
    let mut record = Record {
        id: doc.id().record().clone(),
        fields: Default::default(),
        conflicts: Default::default(),
        classes: vec![doc.id().class().clone()],
    };
    record.fields = doc.fields();
    Ok(record)
}

/// The rule book ([`rules`]) on the whole record: every class document the
/// server holds for it, merged with this document's fields before and after
/// the change (`this_before`, `this_after`: read from the scratch copy
/// `check_one` applied it to, never from the stored document). Refuses the change, with
/// code `invalid_value` and rule `rules.<name>`, when it makes a content
/// rule newly fail (an amount without its currency, a document created
/// without its required fields, ...); a rule already broken by concurrent
/// edits does not block further edits. Leaves `doc` loaded in the cache for
/// the caller to apply the change to.
#[allow(clippy::too_many_arguments)]
fn check_rules(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut lru::LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    policy: &fieldwork_core::Policy,
    doc: &DocId,
    fresh: bool,
    this_before: rules::Fields,
    this_after: rules::Fields,
) -> Result<(), Rejected> {
    let internal = |e: ServerError| {
        Rejected(denial(
            error_codes::MALFORMED_CHANGE,
            format!("server error: {e}"),
        ))
    };
    let kind = doc.record().kind();
    // The record's other class documents, as stored.
    let mut others = rules::Fields::new();
    for other in documents::docs_of_record(tx, &doc.record().to_string()).map_err(internal)? {
        let Ok(other) = other.parse::<DocId>() else {
            continue;
        };
        if other == *doc {
            continue;
        }
        if let Some(loaded) = documents::load(tx, cache, &other, actor).map_err(internal)? {
            others.extend(loaded.fields());
        }
    }
    // Loading the others may have evicted this document: load it again for
    // the caller, which applies the change to it.
    if documents::load(tx, cache, doc, actor)
        .map_err(internal)?
        .is_none()
    {
        cache.put(doc.clone(), ClassDoc::new(doc.clone(), actor.clone()));
    }
    let mut before = others.clone();
    before.extend(this_before);
    let mut after = others;
    after.extend(this_after);
    // A document being created must hold the required fields of its class.
    let creating = |field: &str| fresh && policy.class_of(kind, field) == Some(doc.class());
    rules::check_transition(kind, &before, &after, creating).map_err(|v| {
        Rejected(Denial {
            code: codes::INVALID_VALUE.to_owned(),
            doc: Some(doc.to_string()),
            message: format!("`{}` {}", v.field, v.message),
            field: Some(v.field),
            rule: format!("rules.{}", v.rule),
        })
    })
}
