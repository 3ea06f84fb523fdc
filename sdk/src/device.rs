//! The `Device` handle: the store, change observers and sync status.
//!
//! `Device` is cheap to clone and safe to share between threads. Every call
//! that touches the store takes a short lock on it; the calls that may run
//! long (sync) are async and do their store work on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fieldwork_core::store::Store;
use fieldwork_core::sync::SyncStatus;
use fieldwork_core::{Clock, FieldWrite, RecordId, RecordKind};
use tokio::sync::{Notify, watch};

use crate::connection::{self, Mode};
use crate::error::{Result, SdkError};
use crate::secrets::{SecretStore, names};
use crate::watch::{Backoff, SyncHandle};

/// Told about changes, so a UI can refresh. Called from whichever thread made
/// or received the change: implementations must be quick and thread-safe.
pub trait DeviceObserver: Send + Sync {
    /// These records changed (locally or by sync).
    fn records_changed(&self, records: &[RecordId]);
    /// The sync status changed.
    fn sync_status_changed(&self, status: &SyncStatus);
}

pub(crate) struct Inner {
    /// `None` once the device was wiped (see [`crate::wipe`]).
    pub(crate) store: Mutex<Option<Store>>,
    /// Reported to the server in every `Hello` ([`Device::set_app_version`]).
    pub(crate) app_version: Mutex<Option<String>>,
    /// Set once the device was wiped (read without taking the store lock).
    pub(crate) wiped: std::sync::atomic::AtomicBool,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) status: watch::Sender<SyncStatus>,
    pub(crate) observers: Mutex<Vec<Arc<dyn DeviceObserver>>>,
    pub(crate) local_changes: Notify,
}

/// A device: its store, its sync, its observers.
#[derive(Clone)]
pub struct Device {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").finish_non_exhaustive()
    }
}

/// What a one-shot sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Local changes sent.
    pub pushed: usize,
    /// Records that changed on this device.
    pub changed: usize,
    /// Local changes the server refused (see the quarantine).
    pub refused: usize,
}

impl Device {
    /// Opens the device store at `path` with the key `secrets` holds for
    /// it, and keeps the session token there too.
    pub fn open(
        path: &Path,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Device> {
        let store = crate::keys::open_store(path, clock, &*secrets)?;
        Ok(Device::from_store(store, secrets))
    }

    /// Wraps an open store; `secrets` keeps its session token.
    pub fn from_store(store: Store, secrets: Arc<dyn SecretStore>) -> Device {
        Device {
            inner: Arc::new(Inner {
                store: Mutex::new(Some(store)),
                app_version: Mutex::new(None),
                wiped: std::sync::atomic::AtomicBool::new(false),
                secrets,
                status: watch::channel(SyncStatus::Offline).0,
                observers: Mutex::new(Vec::new()),
                local_changes: Notify::new(),
            }),
        }
    }

    /// The store. A lock poisoned by a panic is taken over: every store
    /// write is one SQLite transaction, rolled back as a panic unwinds, so
    /// the file is consistent and the app can still list, sync and log out.
    /// Fails with [`SdkError::Wiped`] once the device was wiped.
    pub(crate) fn lock(&self) -> Result<StoreGuard<'_>> {
        let slot = self.lock_slot();
        if slot.is_none() {
            return Err(SdkError::Wiped);
        }
        Ok(StoreGuard(slot))
    }

    fn lock_slot(&self) -> MutexGuard<'_, Option<Store>> {
        self.inner.store.lock().unwrap_or_else(|poisoned| {
            self.inner.store.clear_poison();
            poisoned.into_inner()
        })
    }

    /// Whether an administrator wiped this device (remote wipe): its store
    /// and secrets are deleted and every call fails with
    /// [`SdkError::Wiped`].
    pub fn is_wiped(&self) -> bool {
        self.inner.wiped.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Carries out a wipe locally: closes the store, deletes its files and
    /// every secret in [`names::ALL`] (also when deleting the files failed),
    /// and leaves this handle wiped. See [`crate::wipe`].
    pub(crate) fn wipe_local(&self) -> Result<()> {
        let store = self.lock_slot().take();
        self.inner
            .wiped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let path = store.as_ref().map(|s| s.path().to_owned());
        drop(store);
        let removed = match &path {
            Some(p) => fieldwork_core::store::cipher::remove_files(p).map_err(SdkError::from),
            None => Ok(()),
        };
        let mut forgotten = Ok(());
        for name in names::ALL {
            if let Err(e) = self.inner.secrets.delete(name) {
                forgotten = Err(SdkError::from(e));
            }
        }
        self.set_status(SyncStatus::Wiped);
        removed.and(forgotten)
    }

    /// The app version reported to the server at every sync (shown to
    /// administrators in the device list), e.g. `crm-android/2.3.1`.
    pub fn set_app_version(&self, version: impl Into<String>) {
        if let Ok(mut v) = self.inner.app_version.lock() {
            *v = Some(version.into());
        }
    }

    /// The app version set with [`Device::set_app_version`].
    pub fn app_version(&self) -> Option<String> {
        self.inner.app_version.lock().ok().and_then(|v| v.clone())
    }

    /// The store, locked, for a caller that reads a lot at once (the CLI).
    /// Hold it briefly: sync and observers wait for it.
    pub fn lock_store(&self) -> Result<StoreGuard<'_>> {
        self.lock()
    }

    /// Runs `f` with the store, for reads and for anything `Device` has no
    /// method for. If `f` makes local changes, call [`Device::local_changes`].
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> fieldwork_core::Result<T>,
    ) -> Result<T> {
        let mut store = self.lock()?;
        Ok(f(&mut store)?)
    }

    /// Re-encrypts the store under a new random key kept in the keystore
    /// (see [`crate::keys`]: safe to interrupt at any instant).
    pub fn rekey(&self) -> Result<()> {
        let mut store = self.lock()?;
        crate::keys::rekey(&mut store, &*self.inner.secrets)
    }

    /// The session token, if the device is signed in.
    pub fn token(&self) -> Result<Option<String>> {
        if self.is_wiped() {
            return Err(SdkError::Wiped);
        }
        let Some(bytes) = self.inner.secrets.get(names::SESSION_TOKEN)? else {
            return Ok(None);
        };
        let token = String::from_utf8(bytes).map_err(|_| {
            crate::secrets::SecretError("the stored session token is not text".into())
        })?;
        Ok(Some(token).filter(|t| !t.is_empty()))
    }

    /// Whether the device holds a session token (is signed in).
    pub fn signed_in(&self) -> Result<bool> {
        Ok(self.token()?.is_some())
    }

    pub(crate) fn set_token(&self, token: &str) -> Result<()> {
        Ok(self
            .inner
            .secrets
            .set(names::SESSION_TOKEN, token.as_bytes())?)
    }

    pub(crate) fn forget_token(&self) -> Result<()> {
        Ok(self.inner.secrets.delete(names::SESSION_TOKEN)?)
    }

    /// Tells observers and a running sync that `records` changed locally.
    pub fn local_changes(&self, records: &[RecordId]) {
        self.notify_changed(records);
        self.inner.local_changes.notify_one();
    }

    /// Creates a record; observers and sync hear of it.
    pub fn create(&self, kind: RecordKind, writes: Vec<FieldWrite>) -> Result<RecordId> {
        let id = self.with_store(|s| s.create(kind, writes))?;
        self.local_changes(std::slice::from_ref(&id));
        Ok(id)
    }

    /// Changes a record; observers and sync hear of it.
    pub fn update(&self, id: &RecordId, writes: Vec<FieldWrite>) -> Result<()> {
        self.with_store(|s| s.update(id, writes))?;
        self.local_changes(std::slice::from_ref(id));
        Ok(())
    }

    /// The current sync status.
    pub fn status(&self) -> SyncStatus {
        self.inner.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn subscribe_status(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.subscribe()
    }

    /// Registers an observer.
    pub fn add_observer(&self, observer: Arc<dyn DeviceObserver>) {
        if let Ok(mut o) = self.inner.observers.lock() {
            o.push(observer);
        }
    }

    fn observers(&self) -> Vec<Arc<dyn DeviceObserver>> {
        self.inner
            .observers
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    pub(crate) fn notify_changed(&self, records: &[RecordId]) {
        if records.is_empty() {
            return;
        }
        for o in self.observers() {
            o.records_changed(records);
        }
    }

    pub(crate) fn set_status(&self, status: SyncStatus) {
        // A wiped device stays wiped, whatever a sync loop ending says.
        let status = if self.is_wiped() {
            SyncStatus::Wiped
        } else {
            status
        };
        let changed = self.inner.status.send_if_modified(|s| {
            if *s == status {
                false
            } else {
                *s = status.clone();
                true
            }
        });
        if changed {
            for o in self.observers() {
                o.sync_status_changed(&status);
            }
        }
    }

    /// Connects, pushes every local change, receives everything new, and
    /// disconnects once both sides are up to date. Fails with
    /// [`SdkError::Network`] when the server cannot be reached; local work
    /// is untouched either way.
    ///
    /// Processes run around it: due timers before connecting (so what they
    /// create goes up in this sync), and whatever the sync brought after it;
    /// if that wrote anything, one more round sends it.
    pub async fn sync_once(&self, timeout: Duration) -> Result<SyncReport> {
        self.with_store(|s| s.run_processes())?;
        let mut report = self.sync_round(timeout).await?;
        let ran = self.with_store(|s| {
            s.run_processes()?;
            s.outbox_len()
        })?;
        if ran > 0 {
            let more = self.sync_round(timeout).await?;
            report.pushed += more.pushed;
            report.changed += more.changed;
            report.refused += more.refused;
        }
        Ok(report)
    }

    async fn sync_round(&self, timeout: Duration) -> Result<SyncReport> {
        let (_stop_tx, mut stop) = watch::channel(false);
        match tokio::time::timeout(timeout, connection::run(self, Mode::Once, &mut stop)).await {
            Ok(ended) => {
                if let Some(e) = ended.error {
                    self.set_status(SyncStatus::Error {
                        message: e.to_string(),
                    });
                    return Err(e);
                }
                self.set_status(SyncStatus::Offline);
                Ok(ended.report)
            }
            Err(_) => {
                self.set_status(SyncStatus::Error {
                    message: "timed out".into(),
                });
                Err(SdkError::Timeout(timeout.as_secs()))
            }
        }
    }

    /// Starts syncing in the background: stays connected, pushes local
    /// changes as they are made, receives others' changes live, and
    /// reconnects with exponential backoff and jitter when the link drops.
    /// Must be called inside a tokio runtime.
    pub fn start_sync(&self, backoff: Backoff) -> SyncHandle {
        crate::watch::spawn(self.clone(), backoff)
    }
}

/// The locked store of a [`Device`] ([`Device::lock_store`]); derefs to
/// the [`Store`].
pub struct StoreGuard<'a>(MutexGuard<'a, Option<Store>>);

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        match self.0.as_ref() {
            Some(store) => store,
            // Only made by `Device::lock` over a slot that holds a store.
            None => unreachable!("a StoreGuard over a wiped device"),
        }
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        match self.0.as_mut() {
            Some(store) => store,
            None => unreachable!("a StoreGuard over a wiped device"),
        }
    }
}
