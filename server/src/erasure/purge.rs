//! The erased values out of the server's other tables, in the erasure's
//! transaction: the full-text index's old segments, webhook payloads,
//! import keys, audit messages, attachment bytes.
//!
//! Guarantees:
//! - a webhook delivery (pending or sent) about the contact, or whose
//!   payload holds an erased value, is deleted with its attempts: it will
//!   not be sent again after the erasure;
//! - an audit entry about one of the contact's documents made before the
//!   erasure (but the `erased` refusals, whose message holds no value), or
//!   whose message holds an erased value, keeps its code, time and actor
//!   but its message is replaced by [`REDACTED`]. (After an erasure, a
//!   stale change is refused `missing_dependencies` before any value is
//!   read, and a new one holds only what was typed since.);
//! - an import key of the contact is deleted only when its external id
//!   holds an erased value (otherwise it stays, so a re-import of the same
//!   row is refused `erased` instead of creating the person again);
//! - a blob the erased fields referred to is deleted when no indexed field
//!   of any record refers to it any more;
//! - values shorter than [`MIN_MATCH_CHARS`] are searched only where the
//!   row is known to be about the contact, so a two-letter name does not
//!   redact half the audit log. The searches scan these tables once per
//!   value: an erasure is a rare administrative act.

use fieldwork_core::RecordId;
use fieldwork_core::sync::protocol::error_codes;
use rusqlite::{Connection, params};
use serde::Serialize;

use super::values::Found;
use crate::error::Result;

/// An audit message that held personal data of an erased contact.
pub const REDACTED: &str = "(redacted: held personal data of a contact erased under the GDPR)";

/// Shorter erased values are not searched for in other records' rows.
pub const MIN_MATCH_CHARS: usize = 3;

/// How many rows an erasure removed or redacted outside the contact's
/// documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Purged {
    /// Rows of the record index (field values, phone numbers) fewer than
    /// before (net: `archived` is added where it was unset).
    pub index_rows: u64,
    /// Webhook deliveries deleted.
    pub webhook_deliveries: u64,
    /// Audit messages redacted.
    pub audit_entries: u64,
    /// Import keys deleted.
    pub import_keys: u64,
    /// Attachment blobs deleted.
    pub blobs: u64,
}

impl Purged {
    /// All rows together.
    pub fn total(&self) -> u64 {
        self.index_rows
            + self.webhook_deliveries
            + self.audit_entries
            + self.import_keys
            + self.blobs
    }
}

/// Rows of the record index that belong to `contact`.
pub(super) fn index_rows(conn: &Connection, contact: &RecordId) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT (SELECT count(*) FROM record_fields WHERE record_id = ?1)
              + (SELECT count(*) FROM record_phones WHERE record_id = ?1)",
        [contact.to_string()],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Purges `found` from every table but the documents' (see the module
/// docs); `rewritten`: some document was rewritten, so the full-text index
/// is merged to drop the tokens its old segments still hold.
pub(super) fn other_stores(
    conn: &Connection,
    contact: &RecordId,
    found: &Found,
    rewritten: bool,
) -> Result<Purged> {
    if rewritten {
        conn.execute(
            "INSERT INTO record_search(record_search) VALUES ('optimize')",
            [],
        )?;
    }
    let searchable: Vec<&str> = found
        .texts
        .iter()
        .map(String::as_str)
        .filter(|t| t.chars().count() >= MIN_MATCH_CHARS)
        .collect();
    Ok(Purged {
        index_rows: 0,
        webhook_deliveries: webhooks(conn, contact, &searchable)?,
        audit_entries: audit(conn, contact, &searchable, rewritten)?,
        import_keys: import_keys(conn, contact, &searchable)?,
        blobs: blobs(conn, found)?,
    })
}

/// Deletes webhook deliveries about `contact` or holding a value as a
/// whole JSON string (a field copied into another record's payload). A
/// value only inside a longer text of another record ("CEO" in a deal's
/// description) does not cost that record's delivery.
fn webhooks(conn: &Connection, contact: &RecordId, values: &[&str]) -> Result<u64> {
    let about = format!("\"record\":{{\"id\":\"{contact}\"");
    let quoted: Vec<String> = values
        .iter()
        .map(|v| serde_json::Value::from(*v).to_string())
        .collect();
    let mut ids: Vec<i64> = Vec::new();
    let mut find =
        conn.prepare_cached("SELECT id FROM webhook_deliveries WHERE instr(payload, ?1) > 0")?;
    for needle in std::iter::once(&about).chain(&quoted) {
        for id in find.query_map([needle], |r| r.get(0))? {
            ids.push(id?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    for id in &ids {
        conn.execute("DELETE FROM webhook_attempts WHERE delivery_id = ?1", [id])?;
        conn.execute("DELETE FROM webhook_deliveries WHERE id = ?1", [id])?;
    }
    Ok(ids.len() as u64)
}

/// Redacts audit messages holding a value and, when documents were
/// rewritten now (`about_too`), every message about `contact`'s documents.
fn audit(conn: &Connection, contact: &RecordId, values: &[&str], about_too: bool) -> Result<u64> {
    let mut n = 0;
    if about_too {
        n += redact_about(conn, contact)?;
    }
    let mut redact = conn.prepare_cached(
        "UPDATE audit SET message = ?2 WHERE instr(message, ?1) > 0 AND message != ?2",
    )?;
    for value in values {
        n += redact.execute(params![value, REDACTED])?;
    }
    Ok(n as u64)
}

/// Redacts the messages of audit entries about `contact`'s documents
/// (refusals may quote what was typed), but the `erased` refusals, whose
/// message holds no value.
fn redact_about(conn: &Connection, contact: &RecordId) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE audit SET message = ?2
          WHERE substr(doc_id, 1, length(?1)) = ?1 AND message != ?2 AND code != ?3",
        params![format!("{contact}/"), REDACTED, error_codes::ERASED],
    )?)
}

/// Deletes `contact`'s import keys whose external id holds a value.
fn import_keys(conn: &Connection, contact: &RecordId, values: &[&str]) -> Result<u64> {
    let mut n = 0;
    let mut delete = conn.prepare_cached(
        "DELETE FROM import_keys WHERE record_id = ?1 AND instr(external_id, ?2) > 0",
    )?;
    for value in values {
        n += delete.execute(params![contact.to_string(), value])?;
    }
    Ok(n as u64)
}

/// Deletes the blobs the erased fields referred to that no indexed field
/// refers to any more (complete ones and uploads under way).
fn blobs(conn: &Connection, found: &Found) -> Result<u64> {
    let mut n = 0;
    for sha in &found.blobs {
        let referenced = conn
            .prepare_cached("SELECT 1 FROM record_fields WHERE instr(value_json, ?1) > 0 LIMIT 1")?
            .exists([sha])?;
        if referenced {
            continue;
        }
        n += conn.execute("DELETE FROM blobs WHERE sha256 = ?1", [sha])?;
        conn.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [sha])?;
    }
    Ok(n as u64)
}
