//! Attachment bytes on the device: which fields refer to which blobs, the
//! blobs themselves, and what still has to go up or come down.
//!
//! Guarantees:
//! - Bytes are stored only under the SHA-256 they hash to: a download is
//!   checked against the reference its field holds before it is kept
//!   ([`Store::keep_download`]), and [`Store::attach`] names bytes by
//!   hashing them.
//! - Attaching is one transaction: the bytes and the field that refers to
//!   them are written together or not at all, and the write goes through
//!   the same policy and schema checks as any other field write.
//! - Bytes no readable field refers to are deleted in the same transaction
//!   that removed the last reference (`blob_refs`, kept by the index): a
//!   record that became unreadable after a role change, or a field
//!   overwritten with another photo, leaves no bytes behind.
//! - The bytes live in the store's database, so they are encrypted with it,
//!   counted in its size and removed by a wipe.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::write::{check_policy, read_record, write_record};
use crate::attachment::{AttachmentRef, THUMBNAIL_SUFFIX, Thumbnail, split_thumbnail};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::RecordId;
use crate::schema::{self, FieldType};
use crate::store::FieldWrite;
use crate::value::FieldValue;

/// A file field's reference and what this device holds of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The record it is attached to.
    pub record: RecordId,
    /// The file field.
    pub field: String,
    /// Hash, size, media type and name, as the document holds them.
    pub reference: AttachmentRef,
    /// Whether the bytes are on this device.
    pub present: bool,
    /// Whether the server holds the bytes (uploaded from here, or
    /// downloaded from it); `false` for bytes not yet uploaded.
    pub uploaded: bool,
}

impl Store {
    /// Attaches `bytes` (a photo, a scanned delivery note) to file field
    /// `field` of record `id`, named `name`, of `media_type`, with the
    /// photo's `thumbnail` (a JPEG) when the caller made one. Refused like
    /// any write the user may not make (`Denied`), and `Invalid` when the
    /// field is not a file field or the attachment breaks a rule
    /// ([`AttachmentRef::check`]: 25 MiB, media type, name).
    pub fn attach(
        &mut self,
        id: &RecordId,
        field: &str,
        bytes: &[u8],
        media_type: &str,
        name: &str,
        thumbnail: Option<&[u8]>,
    ) -> Result<AttachmentRef> {
        file_field(id, field)?;
        let described =
            AttachmentRef::for_bytes(bytes, media_type, name).and_then(|r| match thumbnail {
                Some(thumb) => r.with_thumbnail(thumb),
                None => Ok(r),
            });
        let before = self.wants_before(id);
        let reference = self.in_write_tx(|ctx| {
            // Policy before the attachment's own rules: a user who may not
            // write the field learns nothing about what it would accept.
            let current = read_record(ctx, id)?;
            check_policy(ctx, &current, field, true)?;
            let reference =
                described.map_err(|m| CoreError::Invalid(ValidationError::field(field, m)))?;
            insert_blob(ctx.conn, &reference, bytes, false, ctx.now)?;
            if let (Some(thumb), Some(thumb_ref)) = (thumbnail, reference.thumbnail_ref()) {
                insert_blob(ctx.conn, &thumb_ref, thumb, false, ctx.now)?;
            }
            let write = FieldWrite::set(field, FieldValue::Text(reference.to_text()));
            write_record(ctx, id, false, vec![write])?;
            Ok(reference)
        })?;
        self.after_write(id, before);
        Ok(reference)
    }

    /// The attachment in file field `field` of record `id`, if it holds
    /// one (and the record is on this device); `photo.thumbnail` names the
    /// thumbnail of `photo` (see [`crate::attachment::THUMBNAIL_SUFFIX`]).
    pub fn attachment(&self, id: &RecordId, field: &str) -> Result<Option<Attachment>> {
        file_field(id, split_thumbnail(field).0)?;
        let found = self
            .conn
            .query_row(
                "SELECT r.sha256, r.size, r.media_type, r.name, b.uploaded
                   FROM blob_refs r LEFT JOIN blobs b ON b.sha256 = r.sha256
                  WHERE r.record_id = ?1 AND r.field = ?2",
                params![id.to_string(), field],
                |row| {
                    Ok((
                        AttachmentRef {
                            sha256: row.get(0)?,
                            size: row.get::<_, i64>(1)?.max(0) as u64,
                            media_type: row.get(2)?,
                            name: row.get(3)?,
                            thumbnail: None,
                        },
                        row.get::<_, Option<bool>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((mut reference, uploaded)) = found else {
            return Ok(None);
        };
        if !split_thumbnail(field).1 {
            reference.thumbnail = self.thumbnail_of(id, field)?;
        }
        Ok(Some(Attachment {
            record: id.clone(),
            field: field.to_owned(),
            reference,
            present: uploaded.is_some(),
            uploaded: uploaded.unwrap_or(false),
        }))
    }

    /// The thumbnail the reference in `field` of `id` names, as indexed.
    fn thumbnail_of(&self, id: &RecordId, field: &str) -> Result<Option<Thumbnail>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sha256, size FROM blob_refs WHERE record_id = ?1 AND field = ?2",
                params![id.to_string(), format!("{field}{THUMBNAIL_SUFFIX}")],
                |row| {
                    Ok(Thumbnail {
                        sha256: row.get(0)?,
                        size: row.get::<_, i64>(1)?.max(0) as u64,
                    })
                },
            )
            .optional()?)
    }

    /// The bytes of the attachment in `field` of `id` (`photo.thumbnail`:
    /// its thumbnail), if they are on this device (`None` when the field is
    /// empty or the bytes have not been downloaded yet).
    pub fn attachment_bytes(&self, id: &RecordId, field: &str) -> Result<Option<Vec<u8>>> {
        file_field(id, split_thumbnail(field).0)?;
        Ok(self
            .conn
            .query_row(
                "SELECT b.data FROM blob_refs r JOIN blobs b ON b.sha256 = r.sha256
                  WHERE r.record_id = ?1 AND r.field = ?2",
                params![id.to_string(), field],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Attachments whose bytes were attached here and are not on the
    /// server yet, one per blob, oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<Attachment>> {
        self.attachments_where(
            "JOIN blobs b ON b.sha256 = r.sha256 WHERE b.uploaded = 0
             GROUP BY r.sha256 ORDER BY b.created_at, r.sha256",
            true,
            false,
        )
    }

    /// Attachments whose bytes are not on this device, smallest first.
    pub fn missing_attachments(&self) -> Result<Vec<Attachment>> {
        self.attachments_where(
            "WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = r.sha256)
             GROUP BY r.sha256 ORDER BY r.size, r.sha256",
            false,
            false,
        )
    }

    /// Records that the server now holds the blob `sha256`.
    pub fn mark_uploaded(&self, sha256: &str) -> Result<()> {
        self.conn
            .execute("UPDATE blobs SET uploaded = 1 WHERE sha256 = ?1", [sha256])?;
        Ok(())
    }

    /// Keeps downloaded `bytes` for the attachment in `field` of `id`.
    /// Refused (`Invalid`) unless they are exactly the bytes the field
    /// refers to now; bytes nothing refers to are not kept.
    pub fn keep_download(&self, id: &RecordId, field: &str, bytes: &[u8]) -> Result<()> {
        let Some(found) = self.attachment(id, field)? else {
            return Err(CoreError::Invalid(ValidationError::field(
                field,
                "no longer holds an attachment",
            )));
        };
        if !found.reference.matches(bytes) {
            return Err(CoreError::Invalid(ValidationError::field(
                field,
                "the downloaded bytes do not match the attachment's hash",
            )));
        }
        insert_blob(&self.conn, &found.reference, bytes, true, self.clock.now())
    }

    /// Bytes of attachments held on this device.
    pub fn attachment_bytes_held(&self) -> Result<u64> {
        let total: i64 =
            self.conn
                .query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| r.get(0))?;
        Ok(total.max(0) as u64)
    }

    fn attachments_where(
        &self,
        tail: &str,
        present: bool,
        uploaded: bool,
    ) -> Result<Vec<Attachment>> {
        let sql = format!(
            "SELECT r.record_id, r.field, r.sha256, r.size, r.media_type, r.name FROM blob_refs r {tail}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                AttachmentRef {
                    sha256: row.get(2)?,
                    size: row.get::<_, i64>(3)?.max(0) as u64,
                    media_type: row.get(4)?,
                    name: row.get(5)?,
                    thumbnail: None,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (record, field, reference) = row?;
            let Ok(record) = record.parse::<RecordId>() else {
                continue;
            };
            out.push(Attachment {
                record,
                field,
                reference,
                present,
                uploaded,
            });
        }
        Ok(out)
    }
}

/// Refuses (`Invalid`) a field that is not a file field of `id`'s kind.
fn file_field(id: &RecordId, field: &str) -> Result<()> {
    match schema::field(id.kind(), field) {
        Some(def) if def.ty == FieldType::File => Ok(()),
        _ => Err(CoreError::Invalid(ValidationError::field(
            field,
            format!("is not a photo or file field of a {}", id.kind()),
        ))),
    }
}

fn insert_blob(
    conn: &Connection,
    reference: &AttachmentRef,
    bytes: &[u8],
    uploaded: bool,
    now: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO blobs(sha256, size, media_type, data, uploaded, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(sha256) DO UPDATE SET uploaded = MAX(uploaded, ?5)",
        params![
            reference.sha256,
            reference.size as i64,
            reference.media_type,
            bytes,
            uploaded,
            now.as_second()
        ],
    )?;
    Ok(())
}
