//! The `Device` handle: the store, change observers and sync status.
//!
//! `Device` is cheap to clone and safe to share between threads. Every call
//! that touches the store takes a short lock on it; the calls that may run
//! long (sync) are async and do their store work on tokio's blocking pool.
//! Whatever a call changed (a user's write, what sync applied, what the
//! process engine created) is announced to observers when the store lock is
//! released (see [`crate::state`]). The device never starts the process
//! engine itself: the store runs it (see `fieldwork_core::store`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::state::SyncStatus;
use fieldwork_core::attachment::AttachmentRef;
use fieldwork_core::store::{Attachment, Store};

use crate::files::TransferReport;
use fieldwork_core::{Clock, FieldWrite, RecordId, RecordKind, TextWrite};
use tokio::sync::watch;

use crate::background_sync::{Backoff, SyncHandle};
use crate::connection::{self, Mode};
use crate::error::{Result, SdkError};
use crate::lock::StoreLock;
use crate::secrets::SecretStore;
use crate::state::DeviceState;

pub use crate::connection::SyncReport;
pub use crate::state::{DeviceObserver, StoreGuard};

/// A device: its store, its sync, its observers.
#[derive(Clone)]
pub struct Device {
    pub(crate) state: Arc<DeviceState>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").finish_non_exhaustive()
    }
}

impl Device {
    /// Opens the device store at `path` with the key `secrets` holds for
    /// it, and keeps the session token there too. The store runs due
    /// process timers as it opens.
    ///
    /// One handle per store file: the device holds `<path>.lock` until it
    /// is closed, wiped or dropped (see [`crate::lock`]). A store another
    /// handle holds, in this process or another, fails at once with
    /// [`SdkError::StoreInUse`] and is not touched.
    pub fn open(
        path: &Path,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Device> {
        let file_lock = StoreLock::acquire(path)?;
        let store = crate::keys::open_store(path, clock, &*secrets)?;
        Ok(Device {
            state: Arc::new(DeviceState::new(store, secrets, Some(file_lock))),
        })
    }

    /// Wraps an open store; `secrets` keeps its session token. The caller
    /// opened the store, so no lock file is taken (see [`Device::open`]).
    pub fn from_store(store: Store, secrets: Arc<dyn SecretStore>) -> Device {
        Device {
            state: Arc::new(DeviceState::new(store, secrets, None)),
        }
    }

    /// Closes the device: observers hear of nothing more, the store is
    /// closed and its lock file released, so the store can be opened again
    /// (here or by another process). Every later call fails with
    /// [`SdkError::Closed`]; a running background sync sees that and stops
    /// (stop it first with [`SyncHandle::stop`] to wait for its socket).
    /// Blocks only while a store call in progress finishes its
    /// transaction. Closing again does nothing; every clone of this
    /// `Device` is closed.
    pub fn close(&self) {
        self.state.close();
    }

    /// Whether [`Device::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// The bytes the store's files take on disk now: the database and its
    /// `-wal`, `-shm` and `-journal` files. Takes the store lock briefly
    /// (no SQL runs).
    pub fn store_size(&self) -> Result<u64> {
        self.state.store_size()
    }

    /// Deletes this device's data: the store file and its companions
    /// (`-wal`, `-shm`, `-journal`, scratch files), its lock file, and
    /// every secret the SDK keeps in the keystore (store keys, session
    /// token). What was not synced is lost. The device is then wiped:
    /// every later call fails with [`SdkError::Wiped`], and a new store
    /// can be opened at the same path. The server is not told (sign out
    /// first to end the session there). Fails with [`SdkError::Closed`] on
    /// a closed device, deleting nothing.
    pub fn wipe(&self) -> Result<()> {
        self.state.wipe_local()
    }

    /// Whether an administrator wiped this device (remote wipe): its store
    /// and secrets are deleted and every call fails with
    /// [`SdkError::Wiped`].
    pub fn is_wiped(&self) -> bool {
        self.state.is_wiped()
    }

    /// The app version reported to the server at every sync (shown to
    /// administrators in the device list), e.g. `crm-android/2.3.1`.
    pub fn set_app_version(&self, version: impl Into<String>) {
        self.state.set_app_version(version.into());
    }

    /// The app version set with [`Device::set_app_version`].
    pub fn app_version(&self) -> Option<String> {
        self.state.app_version()
    }

    /// The store, locked, for a caller that reads a lot at once (the CLI).
    /// Hold it briefly: sync and observers wait for it. A lock poisoned by
    /// a panic is taken over (every store write is one transaction, rolled
    /// back as a panic unwinds). Fails with [`SdkError::Wiped`] once the
    /// device was wiped. Changes made through it are announced when it is
    /// dropped.
    pub fn lock_store(&self) -> Result<StoreGuard<'_>> {
        self.state.lock()
    }

    /// Runs `f` with the store, for reads and for anything `Device` has no
    /// method for. Whatever `f` changed is announced to observers and
    /// pushed by a running sync.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> fieldwork_core::Result<T>,
    ) -> Result<T> {
        self.state.with_store(f)
    }

    /// Re-encrypts the store under a new random key kept in the keystore
    /// (see [`crate::keys`]: safe to interrupt at any instant).
    pub fn rekey(&self) -> Result<()> {
        let mut store = self.state.lock()?;
        crate::keys::rekey(&mut store, self.state.secrets())
    }

    /// The session token, if the device is signed in.
    pub fn token(&self) -> Result<Option<String>> {
        self.state.token()
    }

    /// Whether the device holds a session token (is signed in).
    pub fn signed_in(&self) -> Result<bool> {
        Ok(self.token()?.is_some())
    }

    /// Creates a record; observers and sync hear of it (and of anything
    /// the process engine created because of it).
    pub fn create(&self, kind: RecordKind, writes: Vec<FieldWrite>) -> Result<RecordId> {
        self.with_store(|s| s.create(kind, writes))
    }

    /// Changes a record; observers and sync hear of it (and of anything the
    /// process engine created because of it).
    pub fn update(&self, id: &RecordId, writes: Vec<FieldWrite>) -> Result<()> {
        self.with_store(|s| s.update(id, writes))
    }

    /// [`Device::create`] from text as a person typed it into a form
    /// (`Store::create_text`: a field the user may not write is refused
    /// before its text is parsed).
    pub fn create_text(&self, kind: RecordKind, texts: Vec<TextWrite>) -> Result<RecordId> {
        self.with_store(|s| s.create_text(kind, texts))
    }

    /// [`Device::update`] from text as typed (`Store::update_text`).
    pub fn update_text(&self, id: &RecordId, texts: Vec<TextWrite>) -> Result<()> {
        self.with_store(|s| s.update_text(id, texts))
    }

    /// Attaches `bytes` to file field `field` of record `id` (a visit's
    /// photo, a signed delivery note): kept in the store at once, uploaded
    /// by the next sync (`Store::attach` for the rules). A JPEG or PNG photo
    /// gets a thumbnail ([`crate::thumbnail`]), made before the store is
    /// locked.
    pub fn attach(
        &self,
        id: &RecordId,
        field: &str,
        bytes: &[u8],
        media_type: &str,
        name: &str,
    ) -> Result<AttachmentRef> {
        let normalized = media_type.trim().to_ascii_lowercase();
        let thumbnail = crate::thumbnail::make(bytes, &normalized);
        self.with_store(|s| s.attach(id, field, bytes, media_type, name, thumbnail.as_deref()))
    }

    /// The thumbnail of the photo in `field` of `id`, if it has one and it
    /// is on this device (a sync brings thumbnails with the records).
    pub fn thumbnail(&self, id: &RecordId, field: &str) -> Result<Option<Vec<u8>>> {
        let address = format!("{field}{}", fieldwork_core::attachment::THUMBNAIL_SUFFIX);
        self.with_store(|s| s.attachment_bytes(id, &address))
    }

    /// The attachment in file field `field` of `id` and whether its bytes
    /// are here, without any network.
    pub fn attachment(&self, id: &RecordId, field: &str) -> Result<Option<Attachment>> {
        self.with_store(|s| s.attachment(id, field))
    }

    /// The bytes of the attachment in `field` of `id`: from the store, or
    /// downloaded from the server (resumed if the link breaks), checked
    /// against its hash and kept. `None` when the field holds none.
    pub async fn fetch_attachment(&self, id: &RecordId, field: &str) -> Result<Option<Vec<u8>>> {
        crate::files::fetch(&self.state, id, field).await
    }

    /// The prefetch policy for attachments on records of `kind`: a sync
    /// downloads those of at most `max_bytes` by itself (`0`: only on
    /// demand, with [`Device::fetch_attachment`]); 2 MiB for every kind
    /// until set. Thumbnails always come. Kept for this handle's life:
    /// set it after opening.
    pub fn set_prefetch_limit(&self, kind: RecordKind, max_bytes: u64) {
        crate::files::set_prefetch_limit(&self.state, kind, max_bytes);
    }

    /// Uploads what was attached here and downloads what the prefetch
    /// policy covers now, outside a sync (a sync does it too). `None` if
    /// a transfer is already running.
    pub async fn transfer_files(&self) -> Result<Option<TransferReport>> {
        crate::files::transfer(&self.state).await.transpose()
    }

    /// The locale names are sorted in (see `Store::locale`).
    pub fn locale(&self) -> Result<String> {
        self.with_store(|s| Ok(s.locale().to_owned()))
    }

    /// Sorts names in `locale` from now on (BCP 47, e.g. `es-ES`): kept in
    /// the store, the index re-sorted at once (`Store::set_locale`).
    pub fn set_locale(&self, locale: &str) -> Result<()> {
        self.with_store(|s| s.set_locale(locale))
    }

    /// The current sync status.
    pub fn status(&self) -> SyncStatus {
        self.state.status()
    }

    /// A receiver that sees every status change.
    pub fn subscribe_status(&self) -> watch::Receiver<SyncStatus> {
        self.state.subscribe_status()
    }

    /// Registers an observer.
    pub fn add_observer(&self, observer: Arc<dyn DeviceObserver>) {
        self.state.add_observer(observer);
    }

    /// Connects, pushes every local change, receives everything new, and
    /// disconnects once both sides are up to date. Fails with
    /// [`SdkError::Network`] when the server cannot be reached; local work
    /// is untouched either way.
    ///
    /// Once caught up, the store runs the process engine (due timers and
    /// whatever the sync brought); what it writes is pushed before this
    /// returns.
    pub async fn sync_once(&self, timeout: Duration) -> Result<SyncReport> {
        let state = &self.state;
        let started = std::time::Instant::now();
        let (_stop_tx, mut stop) = watch::channel(false);
        match tokio::time::timeout(timeout, connection::run(state, Mode::Once, &mut stop)).await {
            Ok(ended) => {
                if let Some(e) = ended.error {
                    state.sync_failed(&e);
                    return Err(e);
                }
                let mut report = ended.report;
                report.files = self
                    .move_files(timeout.saturating_sub(started.elapsed()))
                    .await;
                state.set_status(SyncStatus::Offline);
                Ok(report)
            }
            Err(_) => {
                let e = SdkError::Timeout(timeout.as_secs());
                state.sync_failed(&e);
                Err(e)
            }
        }
    }

    /// Moves attachment bytes for a one-shot sync within what is `left` of
    /// its deadline. What does not fit, or fails, waits for the next sync
    /// (uploads resume where the server stopped): the records synced, so
    /// the sync succeeded.
    async fn move_files(&self, left: Duration) -> crate::files::TransferReport {
        match tokio::time::timeout(left, crate::files::transfer(&self.state)).await {
            Ok(Some(Ok(files))) => files,
            Ok(Some(Err(e))) => {
                tracing::info!("attachment transfer failed: {e}");
                Default::default()
            }
            Ok(None) => Default::default(),
            Err(_) => {
                tracing::info!("attachment transfer continues at the next sync (deadline)");
                Default::default()
            }
        }
    }

    /// Starts syncing in the background: stays connected, pushes local
    /// changes as they are made, receives others' changes live, and
    /// reconnects with exponential backoff and jitter when the link drops.
    /// Must be called inside a tokio runtime.
    pub fn start_sync(&self, backoff: Backoff) -> SyncHandle {
        crate::background_sync::spawn(self.state.clone(), backoff)
    }
}

#[cfg(test)]
mod tests;
