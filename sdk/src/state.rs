//! What a [`Device`](crate::Device) handle and its sync share: the store,
//! the keystore, the sync status and the observers. The lowest module of
//! the device side: the handle, the sync connection, the background loop
//! and the wipe all build on it, and it depends on none of them.
//!
//! Guarantees:
//! - **Every change is announced, once, however it was made.** When a
//!   [`StoreGuard`] is dropped, the records the store reports as changed
//!   ([`Store::take_changed`]: local writes, what sync applied, what the
//!   process engine created) go to every observer, after the store lock is
//!   released, and wake a running sync so that local changes are pushed.
//! - **A panic does not lock the app out.** A store lock poisoned by a
//!   panic is taken over: every store write is one SQLite transaction,
//!   rolled back as the panic unwinds, so the file is consistent.
//! - **Wiped stays wiped**: once the store is gone every store call fails
//!   with [`SdkError::Wiped`] and the status stays [`SyncStatus::Wiped`].
//! - **Closed stays closed**: once [`DeviceState::close`] returned, the
//!   store is closed, its lock released, the observers dropped, and
//!   every store call fails with [`SdkError::Closed`]. Closing twice is
//!   harmless.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use fieldwork_core::store::Store;
use fieldwork_core::{CoreError, RecordId};
use tokio::sync::{Notify, watch};

use crate::error::{Result, SdkError};
use crate::lock::StoreLock;
use crate::secrets::{SecretError, SecretStore, names};

mod sentences;
pub mod status;

use sentences::Language;
pub use status::{SyncErrorCause, SyncStatus};

/// Told about changes, so a UI can refresh. Called from whichever thread made
/// or received the change: implementations must be quick and thread-safe.
pub trait DeviceObserver: Send + Sync {
    /// These records changed (locally, by sync, or by the process engine).
    fn records_changed(&self, records: &[RecordId]);
    /// The sync status changed.
    fn sync_status_changed(&self, status: &SyncStatus);
}

/// The shared state of one device.
pub(crate) struct DeviceState {
    /// `None` once the device was wiped (see [`crate::wipe`]) or closed.
    store: Mutex<Option<Store>>,
    /// The store file's lock ([`crate::lock`]), held until the device is
    /// closed, wiped or dropped; `None` for a store opened without one
    /// ([`Device::from_store`](crate::Device::from_store)).
    file_lock: Mutex<Option<StoreLock>>,
    /// Set once the device was closed (read without taking the store lock).
    closed: AtomicBool,
    /// Reported to the server in every `Hello`.
    app_version: Mutex<Option<String>>,
    /// Set once the device was wiped (read without taking the store lock).
    wiped: AtomicBool,
    secrets: Arc<dyn SecretStore>,
    status: watch::Sender<SyncStatus>,
    observers: Mutex<Vec<Arc<dyn DeviceObserver>>>,
    /// Woken when records changed, so a running sync pushes what is new.
    changes: Notify,
    /// Set while attachment bytes are moving ([`crate::files`]), so that
    /// one transfer runs at a time.
    pub(crate) transferring: AtomicBool,
    /// Per kind of record, the largest attachment a sync downloads without
    /// being asked ([`crate::files::PREFETCH_MAX_BYTES`] when not set).
    pub(crate) prefetch: Mutex<std::collections::BTreeMap<fieldwork_core::RecordKind, u64>>,
}

impl DeviceState {
    /// The state of a device with an open store.
    pub(crate) fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        file_lock: Option<StoreLock>,
    ) -> DeviceState {
        DeviceState {
            store: Mutex::new(Some(store)),
            file_lock: Mutex::new(file_lock),
            closed: AtomicBool::new(false),
            app_version: Mutex::new(None),
            wiped: AtomicBool::new(false),
            secrets,
            status: watch::channel(SyncStatus::Offline).0,
            observers: Mutex::new(Vec::new()),
            changes: Notify::new(),
            transferring: AtomicBool::new(false),
            prefetch: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// The store, locked; fails with [`SdkError::Wiped`] once the device
    /// was wiped, [`SdkError::Closed`] once it was closed. Dropping the
    /// guard announces what changed.
    pub(crate) fn lock(&self) -> Result<StoreGuard<'_>> {
        let slot = self.lock_slot();
        if slot.is_none() {
            return Err(self.gone());
        }
        Ok(StoreGuard {
            slot: Some(slot),
            state: self,
        })
    }

    fn lock_slot(&self) -> MutexGuard<'_, Option<Store>> {
        self.store.lock().unwrap_or_else(|poisoned| {
            self.store.clear_poison();
            poisoned.into_inner()
        })
    }

    /// Runs `f` with the store; what it changed is announced.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> fieldwork_core::Result<T>,
    ) -> Result<T> {
        let mut store = self.lock()?;
        Ok(f(&mut store)?)
    }

    /// Whether the device was wiped.
    pub(crate) fn is_wiped(&self) -> bool {
        self.wiped.load(Ordering::SeqCst)
    }

    /// Whether the device was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Why the store is not there: wiped, or else closed.
    fn gone(&self) -> SdkError {
        if self.is_wiped() {
            SdkError::Wiped
        } else {
            SdkError::Closed
        }
    }

    /// Closes the device: the observers are dropped (none hears of anything
    /// that happens after this returns), the store is closed (SQLite
    /// checkpoints its WAL) and the store file's lock released. Waits for a store call in progress to finish (one
    /// transaction). Idempotent; a wiped device stays wiped.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut observers) = self.observers.lock() {
            observers.clear();
        }
        // Both go under the store lock: a call that sees `Closed` finds the
        // file released.
        let mut slot = self.lock_slot();
        drop(slot.take());
        drop(self.lock_file_slot().take());
        drop(slot);
        // Receivers of the status (not observers: they are gone) see it.
        self.status.send_if_modified(|s| {
            let closed = if self.is_wiped() {
                SyncStatus::Wiped
            } else {
                SyncStatus::Offline
            };
            let changed = *s != closed;
            *s = closed;
            changed
        });
    }

    fn lock_file_slot(&self) -> MutexGuard<'_, Option<StoreLock>> {
        self.file_lock.lock().unwrap_or_else(|poisoned| {
            self.file_lock.clear_poison();
            poisoned.into_inner()
        })
    }

    /// The bytes the store's files take on disk: the database and its
    /// `-wal`, `-shm` and `-journal` files (missing ones count 0).
    pub(crate) fn store_size(&self) -> Result<u64> {
        let store = self.lock()?;
        let path = store.path().to_owned();
        let mut total = 0;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::metadata(&name) {
                Ok(meta) => total += meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SdkError::Io(format!(
                        "cannot measure `{}`: {e}",
                        std::path::Path::new(&name).display()
                    )));
                }
            }
        }
        Ok(total)
    }

    /// Closes the store, deletes its files (its lock file last, then
    /// releases the lock) and every secret in [`names::ALL`] (also when
    /// deleting the files failed), and leaves the device wiped. See
    /// [`crate::wipe`]. On a closed device, fails with
    /// [`SdkError::Closed`] and deletes nothing.
    pub(crate) fn wipe_local(&self) -> Result<()> {
        let mut slot = self.lock_slot();
        if slot.is_none() && self.is_closed() && !self.is_wiped() {
            return Err(SdkError::Closed);
        }
        let store = slot.take();
        self.wiped.store(true, Ordering::SeqCst);
        drop(slot);
        let path = store.as_ref().map(|s| s.path().to_owned());
        drop(store);
        let mut removed = match &path {
            Some(p) => fieldwork_core::store::cipher::remove_files(p).map_err(SdkError::from),
            None => Ok(()),
        };
        if let Some(file_lock) = self.lock_file_slot().take() {
            removed = removed.and(file_lock.remove());
        }
        let mut forgotten = Ok(());
        for name in names::ALL {
            if let Err(e) = self.secrets.delete(name) {
                forgotten = Err(SdkError::from(e));
            }
        }
        self.set_status(SyncStatus::Wiped);
        removed.and(forgotten)
    }

    /// The keystore.
    pub(crate) fn secrets(&self) -> &dyn SecretStore {
        &*self.secrets
    }

    /// Sets the app version reported to the server.
    pub(crate) fn set_app_version(&self, version: String) {
        if let Ok(mut v) = self.app_version.lock() {
            *v = Some(version);
        }
    }

    /// The app version reported to the server.
    pub(crate) fn app_version(&self) -> Option<String> {
        self.app_version.lock().ok().and_then(|v| v.clone())
    }

    /// The login token, if the device is signed in.
    pub(crate) fn token(&self) -> Result<Option<String>> {
        if self.is_wiped() || self.is_closed() {
            return Err(self.gone());
        }
        let Some(bytes) = self.secrets.get(names::SESSION_TOKEN)? else {
            return Ok(None);
        };
        let token = String::from_utf8(bytes)
            .map_err(|_| SecretError("the stored session token is not text".into()))?;
        Ok(Some(token).filter(|t| !t.is_empty()))
    }

    /// Keeps the login token in the keystore.
    pub(crate) fn set_token(&self, token: &str) -> Result<()> {
        Ok(self.secrets.set(names::SESSION_TOKEN, token.as_bytes())?)
    }

    /// Deletes the login token from the keystore.
    pub(crate) fn forget_token(&self) -> Result<()> {
        Ok(self.secrets.delete(names::SESSION_TOKEN)?)
    }

    /// Publishes how a sync that failed with `error` left things: for a
    /// session the server refused or a device with no token ([`cause`] is
    /// [`SyncErrorCause::SignedOut`]) the token is forgotten, so the device
    /// reads as signed out, and the status is [`SyncStatus::NeedsLogin`];
    /// any other failure is [`SyncStatus::Error`] with its cause. Messages
    /// are sentences in the store's locale (see `sentences`). The one place
    /// both sync drivers (one-shot and background) decide it.
    pub(crate) fn sync_failed(&self, error: &SdkError) {
        let cause = cause(error);
        let message = sentences::message(self.language(), cause, error);
        let status = match cause {
            SyncErrorCause::SignedOut => {
                if let Err(e) = self.forget_token() {
                    tracing::warn!(error = %e, "could not forget the refused login token");
                }
                SyncStatus::NeedsLogin { message }
            }
            cause => SyncStatus::Error { cause, message },
        };
        self.set_status(status);
    }

    /// The language of the store's locale; English once the store is gone.
    /// Takes the store lock briefly: not to be called while holding it.
    fn language(&self) -> Language {
        self.lock_slot()
            .as_ref()
            .map(|store| Language::of(store.locale()))
            .unwrap_or_default()
    }

    /// Completes when records changed since the last wake-up.
    pub(crate) async fn changes_made(&self) {
        self.changes.notified().await
    }

    /// The current sync status.
    pub(crate) fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub(crate) fn subscribe_status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Registers an observer.
    pub(crate) fn add_observer(&self, observer: Arc<dyn DeviceObserver>) {
        if let Ok(mut o) = self.observers.lock() {
            o.push(observer);
        }
    }

    fn observers(&self) -> Vec<Arc<dyn DeviceObserver>> {
        self.observers.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Tells observers that `records` changed and wakes a running sync.
    fn announce(&self, records: &[RecordId]) {
        if records.is_empty() {
            return;
        }
        for o in self.observers() {
            o.records_changed(records);
        }
        self.changes.notify_one();
    }

    /// Publishes a sync status (a wiped device stays wiped).
    pub(crate) fn set_status(&self, status: SyncStatus) {
        let status = if self.is_wiped() {
            SyncStatus::Wiped
        } else {
            status
        };
        let changed = self.status.send_if_modified(|s| {
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
}

/// Why a sync that failed with `error` failed: every [`SdkError`] variant
/// mapped explicitly (no catch-all, so a new variant must be placed here).
pub(crate) fn cause(error: &SdkError) -> SyncErrorCause {
    use SyncErrorCause as C;
    match error {
        SdkError::Core(e) => core_cause(e),
        SdkError::NotLoggedIn | SdkError::InvalidCredentials | SdkError::SessionExpired => {
            C::SignedOut
        }
        SdkError::RateLimited | SdkError::Server { .. } => C::ServerRefused,
        SdkError::Network(_) => C::Network,
        SdkError::BadUrl(_) => C::BadServerUrl,
        SdkError::Tls(_) | SdkError::InsecureHttp(_) => C::Tls,
        SdkError::Timeout(_) => C::Timeout,
        SdkError::Secrets(_) | SdkError::StoreInUse { .. } | SdkError::Io(_) => C::Storage,
        // A wiped device reports `SyncStatus::Wiped` whatever is published.
        SdkError::Wiped | SdkError::Closed | SdkError::Internal { .. } => C::Other,
    }
}

/// Why a sync that failed in the core failed: what the server sent could
/// not be read or applied ([`SyncErrorCause::Protocol`]), or the local
/// store failed ([`SyncErrorCause::Storage`]).
fn core_cause(error: &CoreError) -> SyncErrorCause {
    use SyncErrorCause as C;
    match error {
        CoreError::Protocol(_)
        | CoreError::InvalidId(_)
        | CoreError::Automerge(_)
        | CoreError::Policy(_) => C::Protocol,
        CoreError::Storage(_)
        | CoreError::Corrupt(_)
        | CoreError::WrongKey
        | CoreError::KeyRequired => C::Storage,
        CoreError::Invalid(_) | CoreError::NotFound(_) | CoreError::Denied(_) => C::Other,
    }
}

/// The locked store of a [`Device`](crate::Device)
/// ([`Device::lock_store`](crate::Device::lock_store)); derefs to the
/// [`Store`]. When dropped, it releases the lock and then announces the
/// records that changed while it was held.
pub struct StoreGuard<'a> {
    /// `Some` until dropped.
    slot: Option<MutexGuard<'a, Option<Store>>>,
    state: &'a DeviceState,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        match self.slot.as_deref() {
            Some(Some(store)) => store,
            // Only made by `DeviceState::lock` over a slot that holds a store.
            _ => unreachable!("a StoreGuard over a wiped device"),
        }
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        match self.slot.as_deref_mut() {
            Some(Some(store)) => store,
            _ => unreachable!("a StoreGuard over a wiped device"),
        }
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        let changed = self
            .slot
            .as_deref_mut()
            .and_then(Option::as_mut)
            .map(Store::take_changed)
            .unwrap_or_default();
        // The lock goes first: an observer may call back into the device.
        drop(self.slot.take());
        self.state.announce(&changed);
    }
}

#[cfg(test)]
mod tests;
