//! Erasing a contact (GDPR right to erasure, issue 17; `docs/GDPR.md`).
//!
//! What survives of an erased contact: its references ([`survives`]: every
//! field of type reference or user, e.g. `account`, `owner`) and
//! `archived`, set true so lists drop it; `last_name` becomes
//! [`PLACEHOLDER`]. Every other field (names, e-mail addresses, phones,
//! position, birthday, the business card, any field added later) is
//! removed, from the current state and from history.
//!
//! Guarantees:
//! - one writer transaction ([`erase`]): every class document of the
//!   contact is rewritten with a fresh history holding only the surviving
//!   values (`reclassify::rewrite_fresh`: old feed entries deleted,
//!   generation bumped, so every device that holds it *replaces* its copy
//!   at its next sync); the erased values are purged from the server's
//!   other tables (`purge`: the record index and its full-text segments,
//!   webhook payloads, import keys holding them, audit messages holding
//!   them, the business card's bytes when no other field refers to them);
//!   the erasure log (`db::erasures`) and the audit log (`admin_gdpr_erase`)
//!   record that it happened, who asked and how much went, never a value;
//! - afterwards the WAL is checkpointed and truncated; with
//!   `secure_delete` (always on, `db::configure`) no freed page keeps the
//!   bytes;
//! - idempotent: erasing an erased contact rewrites nothing and purges
//!   nothing (the answer says `already_erased`), and is logged again;
//! - once erased, a change that writes a personal field of the contact is
//!   refused with code `erased` ([`refusal`], called by the push path for
//!   devices, the office API and imports alike), so an edit typed offline
//!   cannot bring the data back: the device keeps it in its quarantine;
//! - NOT covered: free text typed in *other* records (an activity's
//!   subject, a note's body) that mentions the person is not found by
//!   value unless it holds an erased value verbatim in the tables above
//!   (their documents' histories are not searched); backups made before;
//!   devices that never sync again (wipe them remotely).

mod purge;
mod values;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::error::Denial;
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::sync::protocol::error_codes;
use fieldwork_core::{DocId, FieldValue, Policy, RecordId, RecordKind};
use jiff::Timestamp;
use lru::LruCache;
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use crate::db::audit::{self, AuditEntry};
use crate::db::erasures::{self, ErasureEntry};
use crate::db::{Writer, documents, policy};
use crate::error::Result;
use crate::hub::{FeedEvent, HubEvent};
use crate::state::AppState;

pub use purge::Purged;

/// The `last_name` an erased contact keeps (the field is required).
pub const PLACEHOLDER: &str = "Erased contact";

/// The audit code of an erasure.
pub const AUDIT_CODE: &str = "admin_gdpr_erase";

/// Whether field `field` of a `kind` record keeps its value when the
/// record is erased: references to other records and users, and
/// `archived`. Unknown fields do not.
pub fn survives(kind: RecordKind, field: &str) -> bool {
    schema::field(kind, field).is_some_and(|def| {
        def.name == schema::ARCHIVED || matches!(def.ty, FieldType::Ref(_) | FieldType::User)
    })
}

/// What an erasure did (counts only, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The contact (`contact:ULID`).
    pub contact: String,
    /// The contact had been erased before and nothing was left to erase.
    pub already_erased: bool,
    /// Class documents rewritten with a fresh history.
    pub documents_rewritten: u64,
    /// Stored changes (history) deleted from the feed.
    pub changes_deleted: u64,
    /// Rows removed or redacted elsewhere.
    pub purged: Purged,
    /// The WAL was checkpointed and truncated afterwards (false: a reader
    /// held it; the pages are zeroed anyway and go at the next checkpoint).
    pub wal_truncated: bool,
}

/// Erases `contact` as administrator `by` (see the module docs), publishes
/// the rewritten documents to live sync connections and truncates the WAL.
/// `None` when the server holds no such contact. The operation behind
/// `POST /v1/admin/gdpr/contact/{id}/erase` and `fieldwork-server gdpr erase`.
pub fn erase_contact(state: &AppState, contact: &RecordId, by: &str) -> Result<Option<Erased>> {
    let now = state.clock.now();
    state.db.write_blocking(|w| {
        let Some((mut erased, events)) = erase(w, &state.actor, contact, by, now)? else {
            return Ok(None);
        };
        // Published while the writer is held, so feed order is kept.
        if !events.is_empty() {
            state
                .hub
                .publish(HubEvent::Changes(std::sync::Arc::new(events)));
        }
        erased.wal_truncated = truncate_wal(&w.conn)?;
        tracing::info!(contact = %contact, by, docs = erased.documents_rewritten, "contact erased");
        Ok(Some(erased))
    })
}

/// The erasure itself, in one immediate transaction on the writer;
/// returns what it did and the feed entries to publish. The document cache
/// is emptied when it fails (it may hold rolled-back documents).
pub fn erase(
    w: &mut Writer,
    actor: &ActorId,
    contact: &RecordId,
    by: &str,
    now: Timestamp,
) -> Result<Option<(Erased, Vec<FeedEvent>)>> {
    let Writer { conn, cache } = w;
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = erase_in(&tx, cache, actor, contact, by, now)?;
        tx.commit()?;
        Ok(out)
    })();
    if result.is_err() {
        cache.clear();
    }
    result
}

/// [`erase`] inside its transaction.
fn erase_in(
    conn: &Connection,
    cache: &mut LruCache<DocId, ClassDoc>,
    actor: &ActorId,
    contact: &RecordId,
    by: &str,
    now: Timestamp,
) -> Result<Option<(Erased, Vec<FeedEvent>)>> {
    if contact.kind() != RecordKind::Contact {
        return Ok(None);
    }
    let doc_ids = documents::docs_of_record(conn, &contact.to_string())?;
    if doc_ids.is_empty() {
        return Ok(None);
    }
    let (_, policy) = policy::current(conn)?;
    let was_erased = erasures::is_erased(conn, contact)?;
    let index_before = purge::index_rows(conn, contact)?;
    let mut found = values::Found::default();
    let mut events = Vec::new();
    let mut changes_deleted = 0;
    for text in &doc_ids {
        let doc_id: DocId = text.parse()?;
        let Some(doc) = documents::load(conn, cache, &doc_id, actor)? else {
            continue;
        };
        let met = found.collect(doc)?;
        if was_erased && met == 0 {
            continue; // erased before and nothing personal since
        }
        changes_deleted += change_count(conn, text)?;
        let kept = kept_values(&policy, doc)?;
        events.push(crate::reclassify::rewrite_fresh(
            conn, cache, &doc_id, &kept, actor, now,
        )?);
    }
    let mut purged = purge::other_stores(conn, contact, &found, !events.is_empty())?;
    purged.index_rows = index_before.saturating_sub(purge::index_rows(conn, contact)?);
    let erased = Erased {
        contact: contact.to_string(),
        already_erased: was_erased && events.is_empty(),
        documents_rewritten: events.len() as u64,
        changes_deleted,
        purged,
        wal_truncated: false,
    };
    log(conn, &erased, by, now.as_millisecond())?;
    Ok(Some((erased, events)))
}

/// The values a rewritten document of an erased contact holds: its
/// surviving fields, the placeholder name and `archived` where the policy
/// puts those fields.
fn kept_values(policy: &Policy, doc: &ClassDoc) -> Result<Vec<(String, FieldValue)>> {
    let kind = RecordKind::Contact;
    let mut kept = Vec::new();
    for field in doc.field_names() {
        if survives(kind, &field)
            && field != schema::ARCHIVED
            && let Some(value) = doc.get(&field)?
        {
            kept.push((field, value));
        }
    }
    let class = doc.id().class();
    if policy.class_of(kind, "last_name") == Some(class) {
        kept.push(("last_name".into(), FieldValue::Text(PLACEHOLDER.into())));
    }
    let archived_class = policy
        .class_of(kind, schema::ARCHIVED)
        .unwrap_or(policy.base_class());
    if archived_class == class {
        kept.push((schema::ARCHIVED.into(), FieldValue::Bool(true)));
    }
    Ok(kept)
}

/// How many changes of document `doc_id` the feed holds.
fn change_count(conn: &Connection, doc_id: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM changes WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The erasure log's row, the audit entry (no values in either) and the
/// admin version bump that tells another running server process to drop
/// its cached copies.
fn log(conn: &Connection, erased: &Erased, by: &str, now_ms: i64) -> Result<()> {
    erasures::record(
        conn,
        &ErasureEntry {
            contact: erased.contact.clone(),
            by: by.to_owned(),
            at: now_ms,
            documents_rewritten: erased.documents_rewritten,
            rows_purged: erased.purged.total(),
        },
    )?;
    let what = format!(
        "erased contact {} (GDPR): {} documents rewritten, {} changes and {} other rows removed",
        erased.contact,
        erased.documents_rewritten,
        erased.changes_deleted,
        erased.purged.total()
    );
    audit::record(conn, &AuditEntry::admin(now_ms, by, AUDIT_CODE, what))?;
    crate::db::bump_admin_version(conn)
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`, retried a few times while a reader
/// holds the WAL; whether it completed.
fn truncate_wal(conn: &Connection) -> Result<bool> {
    for _ in 0..5 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    tracing::warn!("the WAL could not be truncated after an erasure: a reader held it");
    Ok(false)
}

/// The push path's check (step 5 of `sync::push`): a change to a document
/// of an erased contact that gives a field other than the surviving ones a
/// new value is refused with code `erased` (naming the field), so the
/// pushing device quarantines it. `before` and `after` are the document's
/// fields without and with the change.
pub fn refusal(
    conn: &Connection,
    doc: &DocId,
    before: &std::collections::BTreeMap<String, FieldValue>,
    after: &std::collections::BTreeMap<String, FieldValue>,
) -> Result<Option<Denial>> {
    let record = doc.record();
    if record.kind() != RecordKind::Contact || !erasures::is_erased(conn, record)? {
        return Ok(None);
    }
    let written = after
        .iter()
        .find(|(f, v)| before.get(*f) != Some(v) && !survives(record.kind(), f));
    Ok(written.map(|(field, _)| Denial {
        code: error_codes::ERASED.to_owned(),
        doc: Some(doc.to_string()),
        field: Some(field.clone()),
        rule: "gdpr.erasure".to_owned(),
        message: format!("{record} was erased (GDPR): its personal fields cannot be written again"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_references_and_archived_survive() {
        let kind = RecordKind::Contact;
        for kept in ["account", "owner", "archived"] {
            assert!(survives(kind, kept), "{kept}");
        }
        for gone in [
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "position",
            "birthday",
            "business_card",
            "no_such_field",
        ] {
            assert!(!survives(kind, gone), "{gone}");
        }
    }
}
