//! Moving attachment bytes between the device store and the server over
//! HTTP(S): uploads of what was attached here, downloads on demand and by
//! the prefetch policy.
//!
//! The endpoints (`PUT`/`GET /v1/files/{sha256}?record=…&field=…`, see
//! docs/API.md "Files") check on the server that the caller may read the
//! field that refers to the bytes; the device asks for a blob only through
//! a record and field it holds, so a user who may not read a class never
//! receives its bytes.
//!
//! Guarantees:
//! - Uploads go in chunks of [`CHUNK`] bytes and resume where the server
//!   says it stopped (`409 offset_mismatch` carries `received`); a link cut
//!   mid-upload costs at most one chunk.
//! - Downloads resume with `Range` after a broken transfer, and are kept
//!   only when they hash to the reference ([`Store::keep_download`]).
//! - A blob the server does not yet know a reference for (`409
//!   not_referenced`: the change attaching it has not arrived) is left
//!   pending and tried again at the next transfer; nothing is dropped.
//! - Transfers never hold the store lock across network I/O.
//!
//! [`Store::keep_download`]: fieldwork_core::Store::keep_download

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fieldwork_core::attachment::split_thumbnail;
use fieldwork_core::store::{Attachment, SignIn};
use fieldwork_core::{RecordId, RecordKind};
use serde::Deserialize;

use crate::error::{Result, SdkError};
use crate::state::DeviceState;
use crate::transport;

/// Bytes per upload request (the server accepts up to 4 MiB).
pub const CHUNK: usize = 1024 * 1024;

/// Attachments at most this large are downloaded by a sync without being
/// asked for (photos a rep will look at); larger ones on demand.
pub const PREFETCH_MAX_BYTES: u64 = 2 * 1024 * 1024;

/// The largest attachment on records of `kind` a sync downloads without
/// being asked: what [`set_prefetch_limit`] set, else
/// [`PREFETCH_MAX_BYTES`].
pub(crate) fn prefetch_limit(device: &DeviceState, kind: RecordKind) -> u64 {
    device
        .prefetch
        .lock()
        .ok()
        .and_then(|limits| limits.get(&kind).copied())
        .unwrap_or(PREFETCH_MAX_BYTES)
}

/// Sets the prefetch policy for attachments on records of `kind`: a sync
/// downloads those of at most `max_bytes` (`0`: only on demand, with
/// `fetch`). Thumbnails always come. Kept for the device handle's life.
pub(crate) fn set_prefetch_limit(device: &DeviceState, kind: RecordKind, max_bytes: u64) {
    if let Ok(mut limits) = device.prefetch.lock() {
        limits.insert(kind, max_bytes);
    }
}

/// What one transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransferReport {
    /// Blobs the server now holds that it did not before this transfer.
    pub uploaded: usize,
    /// Blobs downloaded and kept.
    pub downloaded: usize,
    /// Blobs left for a later transfer (the server did not know the
    /// change that attaches them yet, or the link failed).
    pub deferred: usize,
}

#[derive(Debug, Deserialize)]
struct Progress {
    received: u64,
    #[serde(default)]
    complete: bool,
}

#[derive(Debug, Deserialize)]
struct Refusal {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    received: Option<u64>,
}

/// Where and as whom to transfer.
struct Link {
    client: reqwest::Client,
    base: url::Url,
    token: String,
    server: String,
}

impl Link {
    fn open(device: &DeviceState) -> Result<Link> {
        let sign_in: SignIn = device
            .with_store(|s| s.sign_in())?
            .ok_or(SdkError::NotLoggedIn)?;
        let token = device.token()?.ok_or(SdkError::NotLoggedIn)?;
        Ok(Link {
            client: transport::http_client(&sign_in.transport)?,
            base: transport::base_url(&sign_in.server, &sign_in.transport)?,
            token,
            server: sign_in.server,
        })
    }

    fn url(&self, att: &Attachment, offset: Option<u64>) -> Result<url::Url> {
        let mut url = self
            .base
            .join(&format!("/v1/files/{}", att.reference.sha256))
            .map_err(|_| SdkError::BadUrl(self.server.clone()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("record", &att.record.to_string());
            q.append_pair("field", &att.field);
            if let Some(offset) = offset {
                q.append_pair("offset", &offset.to_string());
            }
        }
        Ok(url)
    }

    fn network(&self, e: reqwest::Error) -> SdkError {
        SdkError::Network(format!("{}: {e}", self.server))
    }
}

/// Uploads what was attached here, then downloads what the prefetch
/// policy covers. One transfer at a time per device: `None` when another
/// is running.
pub(crate) async fn transfer(device: &Arc<DeviceState>) -> Option<Result<TransferReport>> {
    // Released however the transfer ends, also when its future is dropped
    // (a sync's deadline passed mid-upload): the next one can run.
    let _running = Running::take(device)?;
    let result = async {
        let up = upload_pending(device).await?;
        let down = prefetch(device).await?;
        Ok(TransferReport {
            uploaded: up.uploaded,
            downloaded: down.downloaded,
            deferred: up.deferred + down.deferred,
        })
    }
    .await;
    Some(result)
}

/// The device's one-transfer-at-a-time flag, held while a transfer runs.
struct Running<'a>(&'a DeviceState);

impl<'a> Running<'a> {
    /// Takes the flag; `None` when another transfer holds it.
    fn take(device: &'a DeviceState) -> Option<Running<'a>> {
        (!device.transferring.swap(true, Ordering::AcqRel)).then_some(Running(device))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.transferring.store(false, Ordering::Release);
    }
}

/// Runs [`transfer`] in the background for a live sync, trying again a
/// few times (1, 2, 4, 8 s later) while blobs are deferred: the server
/// may not have applied the change that attaches them yet. Failures are
/// logged; the next sync tries again.
pub(crate) fn spawn_transfer(device: &Arc<DeviceState>) {
    let device = device.clone();
    tokio::spawn(async move {
        for attempt in 0..5u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
            }
            match transfer(&device).await {
                None => return, // another transfer is running
                Some(Ok(report)) if report.deferred == 0 => return,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::info!("attachment transfer failed: {e}");
                    return;
                }
            }
        }
    });
}

/// Uploads every attachment made here that the server does not hold yet.
pub(crate) async fn upload_pending(device: &Arc<DeviceState>) -> Result<TransferReport> {
    let pending = device.with_store(|s| s.pending_uploads())?;
    let mut report = TransferReport::default();
    if pending.is_empty() {
        return Ok(report);
    }
    let link = Link::open(device)?;
    for att in pending {
        let Some(bytes) = device.with_store(|s| s.attachment_bytes(&att.record, &att.field))?
        else {
            continue; // replaced since it was listed
        };
        match upload_one(&link, &att, &bytes).await {
            Ok(true) => {
                device.with_store(|s| s.mark_uploaded(&att.reference.sha256))?;
                report.uploaded += 1;
            }
            Ok(false) => report.deferred += 1,
            // Refused for this blob alone (a right lost since it was
            // attached, a mismatch): the others still go; it stays pending.
            Err(SdkError::Server { code, message }) => {
                tracing::info!(
                    "upload of {} refused: {code}: {message}",
                    att.reference.name
                );
                report.deferred += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Sends `bytes` chunk by chunk from wherever the server stands. `false`
/// when the server does not know the reference yet.
async fn upload_one(link: &Link, att: &Attachment, bytes: &[u8]) -> Result<bool> {
    let mut offset = 0u64;
    // Each round trip either advances by a chunk or learns the server's
    // offset; the bound keeps a confused server from looping us forever.
    let rounds = bytes.len() / CHUNK + 4;
    for _ in 0..rounds {
        let start = offset.min(bytes.len() as u64) as usize;
        let end = (start + CHUNK).min(bytes.len());
        let response = link
            .client
            .put(link.url(att, Some(offset))?)
            .bearer_auth(&link.token)
            .header("content-type", "application/octet-stream")
            .body(bytes[start..end].to_vec())
            .send()
            .await
            .map_err(|e| link.network(e))?;
        match response.status().as_u16() {
            200 => {
                let progress: Progress = response
                    .json()
                    .await
                    .map_err(|e| SdkError::Network(format!("unexpected upload answer: {e}")))?;
                if progress.complete {
                    return Ok(true);
                }
                offset = progress.received;
            }
            401 => return Err(SdkError::SessionExpired),
            409 => {
                let refusal: Refusal = response
                    .json()
                    .await
                    .map_err(|e| SdkError::Network(format!("unexpected upload answer: {e}")))?;
                match (refusal.code.as_str(), refusal.received) {
                    ("offset_mismatch", Some(received)) => offset = received,
                    ("not_referenced", _) => return Ok(false),
                    _ => {
                        return Err(SdkError::Server {
                            code: refusal.code,
                            message: refusal.message,
                        });
                    }
                }
            }
            _ => return Err(transport::server_error(response).await),
        }
    }
    Err(SdkError::Server {
        code: "upload_stalled".into(),
        message: "the server did not take the upload's chunks in order".into(),
    })
}

/// The bytes of the attachment in `field` of `record`: from the store, or
/// downloaded (resuming with `Range` if the transfer breaks), checked
/// against the reference and kept.
pub(crate) async fn fetch(
    device: &Arc<DeviceState>,
    record: &RecordId,
    field: &str,
) -> Result<Option<Vec<u8>>> {
    if let Some(bytes) = device.with_store(|s| s.attachment_bytes(record, field))? {
        return Ok(Some(bytes));
    }
    let Some(att) = device.with_store(|s| s.attachment(record, field))? else {
        return Ok(None);
    };
    let link = Link::open(device)?;
    let bytes = download(&link, &att).await?;
    device.with_store(|s| s.keep_download(record, field, &bytes))?;
    Ok(Some(bytes))
}

/// Downloads the attachments the prefetch policy covers, smallest first:
/// every thumbnail, and files up to their kind's limit
/// ([`prefetch_limit`]).
pub(crate) async fn prefetch(device: &Arc<DeviceState>) -> Result<TransferReport> {
    let missing = device.with_store(|s| s.missing_attachments())?;
    let mut report = TransferReport::default();
    let wanted: Vec<Attachment> = missing
        .into_iter()
        .filter(|a| {
            split_thumbnail(&a.field).1
                || a.reference.size <= prefetch_limit(device, a.record.kind())
        })
        .collect();
    if wanted.is_empty() {
        return Ok(report);
    }
    let link = Link::open(device)?;
    for att in wanted {
        match download(&link, &att).await {
            Ok(bytes) => {
                // The field may have changed meanwhile: then it is not kept.
                if device
                    .with_store(|s| s.keep_download(&att.record, &att.field, &bytes))
                    .is_ok()
                {
                    report.downloaded += 1;
                }
            }
            // Refused for this blob alone (not uploaded yet by whoever
            // attached it, or no longer readable on the server): the others
            // still come; it is tried again at the next sync.
            Err(SdkError::Server { code, message }) => {
                tracing::info!(
                    "download of {} deferred: {code}: {message}",
                    att.reference.name
                );
                report.deferred += 1
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Downloads one blob, resuming with `Range` up to three times.
async fn download(link: &Link, att: &Attachment) -> Result<Vec<u8>> {
    let size = att.reference.size as usize;
    let mut bytes: Vec<u8> = Vec::with_capacity(size);
    let mut last_error = None;
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        let mut request = link
            .client
            .get(link.url(att, None)?)
            .bearer_auth(&link.token);
        if !bytes.is_empty() {
            request = request.header("range", format!("bytes={}-", bytes.len()));
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                last_error = Some(link.network(e));
                continue;
            }
        };
        match response.status().as_u16() {
            200 => bytes.clear(),
            206 => {}
            401 => return Err(SdkError::SessionExpired),
            _ => return Err(transport::server_error(response).await),
        }
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > size {
                        return Err(SdkError::Server {
                            code: "file_too_long".into(),
                            message: "the server sent more bytes than the attachment has".into(),
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) if bytes.len() == size => return Ok(bytes),
                Ok(None) => {
                    last_error = Some(SdkError::Network(format!(
                        "{}: the download stopped after {} of {size} bytes",
                        link.server,
                        bytes.len()
                    )));
                    break;
                }
                Err(e) => {
                    last_error = Some(link.network(e));
                    break;
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| SdkError::Network("the download kept failing".into())))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fieldwork_core::{Store, SystemClock};

    use super::*;
    use crate::secrets::MemorySecrets;

    #[tokio::test]
    async fn a_dropped_transfer_lets_the_next_one_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("d.db"), Arc::new(SystemClock)).expect("open");
        let device = Arc::new(DeviceState::new(
            store,
            Arc::new(MemorySecrets::default()),
            None,
        ));
        let first = Running::take(&device).expect("free");
        assert!(Running::take(&device).is_none(), "one at a time");
        drop(first);
        // A transfer cut off by a deadline is dropped mid-way: the flag goes.
        let cut = tokio::time::timeout(std::time::Duration::ZERO, async {
            let _held = Running::take(&device);
            std::future::pending::<()>().await
        });
        assert!(cut.await.is_err(), "timed out");
        assert!(Running::take(&device).is_some(), "free again");
        // Not signed in: a transfer with nothing to do reports nothing.
        let report = transfer(&device)
            .await
            .expect("ran")
            .expect("nothing to move");
        assert_eq!(report, TransferReport::default());
    }
}
