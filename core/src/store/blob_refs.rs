//! Which field of which record refers to which attachment bytes
//! (`blob_refs`; a photo's thumbnail under `photo.thumbnail`), kept by the index whenever a record's index row is
//! written or removed, and the bytes nothing refers to any more dropped in
//! the same transaction. A leaf: it reads records, never writes them.

use rusqlite::Connection;
use rusqlite::params;

use crate::attachment::{AttachmentRef, THUMBNAIL_SUFFIX};
use crate::error::Result;
use crate::ids::RecordId;
use crate::record::Record;
use crate::schema::{self, FieldType};
use crate::value::FieldValue;

/// Rewrites `record`'s rows in `blob_refs` from its file fields and drops
/// the bytes it referred to that nothing refers to any more. Called by the
/// index whenever a record's index row is written.
pub(crate) fn refresh_refs(tx: &Connection, record: &Record) -> Result<()> {
    let before = forget_refs_only(tx, &record.id)?;
    for def in schema::fields(record.kind()) {
        if def.ty != FieldType::File {
            continue;
        }
        let Some(reference) = record
            .get(def.name)
            .and_then(FieldValue::as_text)
            .and_then(|t| AttachmentRef::parse(t).ok())
        else {
            continue;
        };
        insert_ref(tx, &record.id, def.name, &reference)?;
        if let Some(thumbnail) = reference.thumbnail_ref() {
            let address = format!("{}{THUMBNAIL_SUFFIX}", def.name);
            insert_ref(tx, &record.id, &address, &thumbnail)?;
        }
    }
    drop_unreferenced(tx, &before)
}

fn insert_ref(tx: &Connection, record: &RecordId, field: &str, r: &AttachmentRef) -> Result<()> {
    tx.execute(
        "INSERT INTO blob_refs(record_id, field, sha256, size, media_type, name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.to_string(),
            field,
            r.sha256,
            r.size as i64,
            r.media_type,
            r.name
        ],
    )?;
    Ok(())
}

/// Removes `record`'s references and the bytes only it referred to.
pub(crate) fn forget_refs(tx: &Connection, record: &RecordId) -> Result<()> {
    let before = forget_refs_only(tx, record)?;
    drop_unreferenced(tx, &before)
}

fn forget_refs_only(tx: &Connection, record: &RecordId) -> Result<Vec<String>> {
    let mut stmt =
        tx.prepare_cached("DELETE FROM blob_refs WHERE record_id = ?1 RETURNING sha256")?;
    let shas = stmt
        .query_map([record.to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(shas)
}

fn drop_unreferenced(tx: &Connection, candidates: &[String]) -> Result<()> {
    for sha in candidates {
        tx.execute(
            "DELETE FROM blobs WHERE sha256 = ?1
               AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = ?1)",
            [sha],
        )?;
    }
    Ok(())
}
