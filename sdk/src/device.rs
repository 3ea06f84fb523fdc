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
    pub(crate) store: Mutex<Store>,
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
    /// Opens the device store at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Device> {
        Ok(Device::from_store(Store::open(path, clock)?))
    }

    /// Wraps an open store.
    pub fn from_store(store: Store) -> Device {
        Device {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                status: watch::channel(SyncStatus::Offline).0,
                observers: Mutex::new(Vec::new()),
                local_changes: Notify::new(),
            }),
        }
    }

    /// The store. A lock poisoned by a panic is taken over: every store
    /// write is one SQLite transaction, rolled back as a panic unwinds, so
    /// the file is consistent and the app can still list, sync and log out.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Store>> {
        Ok(self.inner.store.lock().unwrap_or_else(|poisoned| {
            self.inner.store.clear_poison();
            poisoned.into_inner()
        }))
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
