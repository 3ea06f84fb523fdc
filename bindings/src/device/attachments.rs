//! Photos and files on records: attach offline, read what is here, fetch
//! what is not.
//!
//! Guarantees:
//! - **Thin.** Each call is the SDK's (`Device::attach`,
//!   `Device::attachment`, `Device::fetch_attachment`,
//!   `Device::transfer_files`); the rules (25 MiB, media type, name, who
//!   may write the field) are the core's, refused with the same typed
//!   errors as any write (`Denied` first, then `Invalid` naming the field).
//! - **Offline first.** `attach` keeps the bytes in the encrypted store at
//!   once; the next sync (`sync_now`, or the live sync a moment after the
//!   change is pushed) uploads them. A sync also downloads attachments of at
//!   most 2 MiB; larger ones come with `fetch_attachment`.
//! - **Suspending where the network is.** `fetch_attachment` and
//!   `transfer_files` are `suspend`/`async` and run on the device's runtime;
//!   `attach` and `attachment` are store calls like `update`.

use super::FieldworkDevice;
use crate::error::Result;
use crate::ints::count;

/// A file field's attachment as this device knows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInfo {
    /// Lower-case hex SHA-256 of the bytes: their name everywhere.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Media type (`image/jpeg`, `application/pdf`).
    pub media_type: String,
    /// File name to show.
    pub name: String,
    /// Whether the bytes are on this device (else `fetch_attachment`).
    pub present: bool,
    /// Whether the server holds the bytes (false until uploaded).
    pub uploaded: bool,
    /// Whether the photo has a thumbnail (`thumbnail(recordId, field)`).
    pub has_thumbnail: bool,
}

/// What one transfer of attachment bytes did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FileTransfer {
    /// Attachments uploaded.
    pub uploaded: i64,
    /// Attachments downloaded and kept.
    pub downloaded: i64,
    /// Attachments left for a later sync (the server has not seen the
    /// change attaching them yet, or refused them).
    pub deferred: i64,
    /// Whether another transfer was running, so this one did nothing.
    pub already_running: bool,
}

impl From<fieldwork_sdk::TransferReport> for FileTransfer {
    fn from(r: fieldwork_sdk::TransferReport) -> Self {
        FileTransfer {
            uploaded: count(r.uploaded),
            downloaded: count(r.downloaded),
            deferred: count(r.deferred),
            already_running: false,
        }
    }
}

fn info(
    reference: &fieldwork_core::attachment::AttachmentRef,
    present: bool,
    uploaded: bool,
) -> AttachmentInfo {
    AttachmentInfo {
        sha256: reference.sha256.clone(),
        size: count(reference.size),
        media_type: reference.media_type.clone(),
        name: reference.name.clone(),
        present,
        uploaded,
        has_thumbnail: reference.thumbnail.is_some(),
    }
}

#[uniffi::export]
impl FieldworkDevice {
    /// Attaches `bytes` (a photo of the shelf, a signed delivery note) to
    /// file field `field` of record `record_id` (`photo` and `document` on
    /// activities, `business_card` on contacts, `contract` on accounts),
    /// offline. `Denied` when the user may not write the field; `Invalid`
    /// for a field that is not a file field, more than 25 MiB, a media type
    /// that is not `type/subtype`, or a name with a path separator.
    pub fn attach(
        &self,
        record_id: String,
        field: String,
        bytes: Vec<u8>,
        media_type: String,
        name: String,
    ) -> Result<AttachmentInfo> {
        let id = super::record_id(&record_id)?;
        let reference = self
            .device
            .attach(&id, &field, &bytes, &media_type, &name)?;
        Ok(info(&reference, true, false))
    }

    /// The attachment in file field `field` of `record_id`, or `None` when
    /// the field is empty; says whether the bytes are here. No network.
    pub fn attachment(&self, record_id: String, field: String) -> Result<Option<AttachmentInfo>> {
        let id = super::record_id(&record_id)?;
        let found = self.device.attachment(&id, &field)?;
        Ok(found.map(|a| info(&a.reference, a.present, a.uploaded)))
    }

    /// The JPEG thumbnail (at most 320 pixels a side) of the photo in
    /// `field` of `record_id`, made by the device that took it and brought
    /// by sync with the record; `None` if it has none or it is not here
    /// yet. No network.
    pub fn thumbnail(&self, record_id: String, field: String) -> Result<Option<Vec<u8>>> {
        let id = super::record_id(&record_id)?;
        Ok(self.device.thumbnail(&id, &field)?)
    }

    /// The bytes of the attachment in `field` of `record_id`: from the
    /// store if they are here, else downloaded (resumed if the link breaks),
    /// checked against their hash and kept. `None` when the field is empty.
    /// Fails with `Network` offline and `Server` (code `file_not_uploaded`)
    /// when whoever attached it has not synced the bytes yet.
    pub async fn fetch_attachment(
        &self,
        record_id: String,
        field: String,
    ) -> Result<Option<Vec<u8>>> {
        let id = super::record_id(&record_id)?;
        let device = self.device.clone();
        self.on_runtime(async move { Ok(device.fetch_attachment(&id, &field).await?) })
            .await
    }

    /// The prefetch policy for attachments on records of `kind`: a sync
    /// downloads those of at most `max_bytes` by itself (`0`: only on
    /// demand, with `fetch_attachment`); 2 MiB for every kind until set.
    /// Thumbnails always come. Kept while the device is open. A negative
    /// `max_bytes` is `Invalid` naming it.
    pub fn set_prefetch_limit(&self, kind: crate::records::Kind, max_bytes: i64) -> Result<()> {
        let max_bytes: u64 = crate::ints::not_negative(max_bytes, "max_bytes")?;
        self.device.set_prefetch_limit(kind.into(), max_bytes);
        Ok(())
    }

    /// Uploads what was attached here and downloads what the prefetch
    /// policy covers, now (every sync does this too).
    pub async fn transfer_files(&self) -> Result<FileTransfer> {
        let device = self.device.clone();
        let report = self
            .on_runtime(async move { Ok(device.transfer_files().await?) })
            .await?;
        Ok(report.map(FileTransfer::from).unwrap_or(FileTransfer {
            uploaded: 0,
            downloaded: 0,
            deferred: 0,
            already_running: true,
        }))
    }
}
