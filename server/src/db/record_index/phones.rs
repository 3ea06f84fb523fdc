//! Finding records by phone number (caller lookup).
//!
//! Guarantees: one index lookup on the E.164 number; only records the
//! caller sees and that are not archived, and only phone fields of classes the caller may read; at
//! most [`MAX_PHONE_HITS`] hits, in record id order.

use fieldwork_core::{Access, RecordKind};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Archived, archived, readable_classes, stored_kind, visible};
use crate::error::Result;

/// Most hits of one lookup.
pub const MAX_PHONE_HITS: usize = 100;

/// A record with a phone field holding the number looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneHit {
    /// The record.
    pub record_id: String,
    /// Its kind.
    pub kind: RecordKind,
    /// The field holding the number (`phone`, `mobile`, ...).
    pub field: String,
}

/// The records `access` sees with a readable phone field whose E.164 form
/// is `e164` (as [`crate::phone::normalise`] writes it); at most `limit`
/// (capped at [`MAX_PHONE_HITS`]).
pub fn by_phone(
    conn: &Connection,
    access: &Access,
    e164: &str,
    limit: usize,
) -> Result<Vec<PhoneHit>> {
    let (classes, class_args) = readable_classes(access, "p.class");
    let (vis, vis_args) = visible(access, "p");
    let arch = archived::condition(Archived::Exclude, "p.record_id");
    let sql = format!(
        "SELECT p.record_id, p.kind, p.field FROM record_phones p
           LEFT JOIN records r ON r.record_id = p.record_id
          WHERE p.e164 = ? AND {classes} AND {vis}{arch}
          ORDER BY p.record_id, p.field LIMIT ?"
    );
    let mut args = vec![Value::Text(e164.to_owned())];
    args.extend(class_args);
    args.extend(vis_args);
    args.push(Value::Integer(limit.clamp(1, MAX_PHONE_HITS) as i64));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(record_id, kind, field)| {
            Ok(PhoneHit {
                record_id,
                kind: stored_kind(&kind)?,
                field,
            })
        })
        .collect()
}
