//! `FieldworkDevice`: the one object an app holds.
//!
//! # Threads and blocking
//! - **Store calls** (create, update, card, list, search, history, tasks,
//!   calendar, processes, quarantine) are synchronous. Each takes the store's
//!   lock and one SQLite transaction: on 150,000 records a durable create
//!   takes about 0.8 ms, a list page 0.15 ms, a search 9 ms at the median
//!   (docs/benchmarks.md). A call made while a sync applies a large batch
//!   waits for that batch's transaction.
//!   Call them from a background dispatcher (`Dispatchers.IO`, a `Task`), not
//!   the UI thread, if a frame must never be missed.
//! - **Network calls** (`login`, `logout`, `sync_now`) are `async` (Kotlin
//!   `suspend`, Swift `async`, Python coroutines) and run on the device's own
//!   background runtime (two worker threads); they never block the caller.
//! - **`start_sync`** returns at once; sync then runs on that runtime until
//!   `stop_sync`, which waits for the connection to close (at most about a
//!   second).
//! - **Listeners** are called in order on a dedicated thread per listener,
//!   never on the thread that made the change.

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fieldwork_core::{ListQuery, RecordId, RecordKind, SystemClock, TextWrite};
use fieldwork_sdk::{Backoff, Device, DeviceObserver, SdkError, SyncHandle, internal_codes, login};
use tokio::runtime::Runtime;

use crate::error::{FieldworkError, Result};
use crate::keystore::{AppKeystore, Keystore};
use crate::processes::{
    ProcessCard, ProcessControl, ProcessModelInfo, ProcessSummary, TaskItem, TaskList,
};
use crate::records::{
    FieldEdit, HistoryEntry, Kind, ListOptions, QuarantinedEdit, RecordSummary, RecordView,
    SearchHit,
};
use crate::sync::{DeviceListener, SyncReport, SyncStatus, UserInfo};

/// A device store and its sync: open one per store file and keep it for the
/// life of the app. Safe to call from any thread.
#[derive(uniffi::Object)]
pub struct FieldworkDevice {
    device: Device,
    /// `None` only while being dropped.
    runtime: Option<Runtime>,
    sync: Mutex<Option<SyncHandle>>,
    listeners: Mutex<Vec<ListenerThread>>,
}

impl std::fmt::Debug for FieldworkDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldworkDevice").finish_non_exhaustive()
    }
}

fn record_id(id: &str) -> Result<RecordId> {
    id.parse()
        .map_err(|_| FieldworkError::NotFound { id: id.to_owned() })
}

/// The edits as typed; the core parses them once the policy allowed each
/// field.
fn texts(edits: Vec<FieldEdit>) -> Vec<TextWrite> {
    edits
        .into_iter()
        .map(|e| TextWrite {
            field: e.field,
            text: e.value,
            currency: e.currency,
        })
        .collect()
}

fn vec_of<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
}

/// Hands listener calls to a thread of their own, in order, so that a slow
/// listener never holds up a write or a sync. The device keeps the sending
/// side and closes it when it is dropped, so the thread drains what is queued
/// and ends.
struct OffThread(Arc<Mutex<Option<mpsc::Sender<Notice>>>>);

enum Notice {
    Records(Vec<String>),
    Status(SyncStatus),
}

/// A listener's thread and the switch that ends it.
struct ListenerThread {
    sender: Arc<Mutex<Option<mpsc::Sender<Notice>>>>,
    thread: std::thread::JoinHandle<()>,
}

impl OffThread {
    fn start(listener: Arc<dyn DeviceListener>) -> Result<(OffThread, ListenerThread)> {
        let (tx, rx) = mpsc::channel::<Notice>();
        let thread = std::thread::Builder::new()
            .name("fieldwork-listener".into())
            .spawn(move || {
                for notice in rx {
                    match notice {
                        Notice::Records(ids) => listener.records_changed(ids),
                        Notice::Status(s) => listener.sync_status_changed(s),
                    }
                }
            })
            .map_err(|e| {
                SdkError::internal(
                    internal_codes::RUNTIME,
                    format!("cannot start the listener thread: {e}"),
                )
            })?;
        let sender = Arc::new(Mutex::new(Some(tx)));
        Ok((
            OffThread(Arc::clone(&sender)),
            ListenerThread { sender, thread },
        ))
    }

    fn send(&self, notice: Notice) {
        if let Ok(guard) = self.0.lock()
            && let Some(tx) = guard.as_ref()
        {
            let _ = tx.send(notice);
        }
    }
}

impl DeviceObserver for OffThread {
    fn records_changed(&self, records: &[RecordId]) {
        self.send(Notice::Records(
            records.iter().map(ToString::to_string).collect(),
        ));
    }

    fn sync_status_changed(&self, status: &fieldwork_sdk::SyncStatus) {
        self.send(Notice::Status(status.clone().into()));
    }
}

impl FieldworkDevice {
    /// Runs `f` on the device's store under its lock (for this crate's
    /// other modules, e.g. `reports`).
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut fieldwork_core::Store) -> fieldwork_core::Result<T>,
    ) -> Result<T> {
        Ok(self.device.with_store(f)?)
    }

    /// Runs `work` on the device's runtime and waits for it without blocking
    /// the caller's executor.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime()?.spawn(work).await.map_err(|e| {
            SdkError::internal(
                internal_codes::TASK_FAILED,
                format!("background task failed: {e}"),
            )
        })?
    }

    fn runtime(&self) -> Result<&Runtime> {
        self.runtime.as_ref().ok_or_else(|| {
            SdkError::internal(internal_codes::CLOSED, "the device is closed").into()
        })
    }

    fn take_sync(&self) -> Option<SyncHandle> {
        self.sync.lock().ok().and_then(|mut h| h.take())
    }

    fn user_name(&self) -> Result<String> {
        self.with_store(|s| Ok(s.author()))
    }
}

#[uniffi::export]
impl FieldworkDevice {
    /// Opens (creating if needed) the encrypted device store at `path`, a
    /// file the app owns (e.g. `filesDir/fieldwork.db`), with the key
    /// `keystore` holds for it (made there on first open). The session token
    /// lives in `keystore` too. Fails with `WrongKey` if the key does not
    /// open the file, `Storage` if the file is not a Fieldwork store; a file
    /// is never overwritten. Due process timers run once on opening (the
    /// store runs them; if they cannot, the store still opens and they run
    /// again once the next sync has caught up).
    #[uniffi::constructor]
    pub fn open(path: String, keystore: Arc<dyn Keystore>) -> Result<Arc<FieldworkDevice>> {
        let secrets = Arc::new(AppKeystore(keystore));
        let device = Device::open(Path::new(&path), Arc::new(SystemClock), secrets)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fieldwork-sync")
            .enable_all()
            .build()
            .map_err(|e| {
                SdkError::internal(
                    internal_codes::RUNTIME,
                    format!("cannot start the background runtime: {e}"),
                )
            })?;
        Ok(Arc::new(FieldworkDevice {
            device,
            runtime: Some(runtime),
            sync: Mutex::new(None),
            listeners: Mutex::new(Vec::new()),
        }))
    }

    /// This device's stable id (sent to the server at login).
    pub fn device_id(&self) -> Result<String> {
        self.with_store(|s| Ok(s.device_id().to_owned()))
    }

    /// Registers a listener for changed records and sync status. It is
    /// called until the device is closed (Kotlin `close()`, Swift and
    /// Python: when the last reference goes).
    pub fn add_listener(&self, listener: Arc<dyn DeviceListener>) -> Result<()> {
        let (observer, thread) = OffThread::start(listener)?;
        self.device.add_observer(Arc::new(observer));
        if let Ok(mut threads) = self.listeners.lock() {
            threads.push(thread);
        }
        Ok(())
    }

    // ----- session -------------------------------------------------------

    /// Signs `user` in at `server` (`https://host:port`) and stores the
    /// session, the organisation's policy and `tls` (extra CA, pinned
    /// certificate, plain HTTP allowed; default: public web roots) on the
    /// device; every sync uses the same `tls`. A store that belongs to
    /// another user is refused (`Denied`). An untrusted or mismatching
    /// certificate fails with `Tls`; plain `http://` to another machine
    /// without `insecure_http` with `Invalid` (field `server`), before any
    /// connection.
    #[uniffi::method(default(tls = None))]
    pub async fn login(
        &self,
        server: String,
        user: String,
        password: String,
        tls: Option<crate::sync::TlsOptions>,
    ) -> Result<UserInfo> {
        let device = self.device.clone();
        let transport = tls.unwrap_or_default().into();
        self.on_runtime(async move {
            login::login(&device, &server, &user, &password, transport).await?;
            Ok(())
        })
        .await?;
        self.user()?.ok_or(FieldworkError::NotLoggedIn)
    }

    /// Ends the session (on the server when reachable) and forgets the
    /// token; stops a running sync. The data stays on the device.
    pub async fn logout(&self) -> Result<()> {
        let running = self.take_sync();
        let device = self.device.clone();
        self.on_runtime(async move {
            if let Some(handle) = running {
                handle.stop().await;
            }
            Ok(login::logout(&device).await?)
        })
        .await
    }

    /// The user this store belongs to, if it has ever signed in.
    pub fn user(&self) -> Result<Option<UserInfo>> {
        let sign_in = self.with_store(|s| s.sign_in())?;
        let signed_in = self.device.signed_in()?;
        Ok(sign_in.map(|s| UserInfo {
            signed_in,
            name: s.user.name,
            role: s.user.role,
            territories: s.user.territories,
            server: s.server,
        }))
    }

    // ----- records -------------------------------------------------------

    /// Creates a record from typed text; returns its id. Checked against the
    /// policy (first: a field the user may not write is `Denied` whatever was
    /// typed), the schema and the rules before anything is written.
    pub fn create(&self, kind: Kind, fields: Vec<FieldEdit>) -> Result<String> {
        let id = self.device.create_text(kind.into(), texts(fields))?;
        Ok(id.to_string())
    }

    /// Changes fields of a record; unchanged values make no change. A field
    /// the user may not write is refused (`Denied`) whatever was typed.
    pub fn update(&self, id: String, fields: Vec<FieldEdit>) -> Result<()> {
        let id = record_id(&id)?;
        Ok(self.device.update_text(&id, texts(fields))?)
    }

    /// A record's card: the fields this user may read, with their values
    /// and whether each is writable now.
    pub fn card(&self, id: String) -> Result<RecordView> {
        let id = record_id(&id)?;
        Ok(self.with_store(|s| s.card(&id))?.into())
    }

    /// The fields a "new record" form of `kind` offers this user.
    pub fn creatable_fields(&self, kind: Kind) -> Result<Vec<String>> {
        self.with_store(|s| Ok(s.creatable_fields(kind.into())))
    }

    /// A filtered, sorted page of records of `kind`.
    pub fn list(&self, kind: Kind, options: ListOptions) -> Result<Vec<RecordSummary>> {
        let query = ListQuery {
            kind: Some(kind.into()),
            sort: options.sort.unwrap_or(crate::records::SortBy::Name).into(),
            descending: options.descending,
            stage: options.stage,
            owner: options.owner,
            territory: options.territory,
            account: options.account.as_deref().map(record_id).transpose()?,
            assignee: options.assignee,
            status: options.status,
            limit: Some(options.limit as usize),
            offset: options.offset as usize,
            archived: options.archived.map(Into::into).unwrap_or_default(),
            ..ListQuery::default()
        };
        Ok(vec_of(self.with_store(|s| s.list(&query))?))
    }

    /// Full-text search (prefixes, any accents and case), best first.
    pub fn search(&self, text: String, kind: Option<Kind>, limit: u32) -> Result<Vec<SearchHit>> {
        let kind = kind.map(RecordKind::from);
        Ok(vec_of(
            self.with_store(|s| s.search(&text, kind, limit as usize))?,
        ))
    }

    /// How many records of `kind` are on the device.
    pub fn count(&self, kind: Kind) -> Result<u64> {
        Ok(self.with_store(|s| s.count(kind.into()))? as u64)
    }

    /// Who changed which field when, oldest first.
    pub fn history(&self, id: String) -> Result<Vec<HistoryEntry>> {
        let id = record_id(&id)?;
        Ok(vec_of(self.with_store(|s| s.history(&id))?))
    }

    // ----- tasks and calendar -------------------------------------------

    /// The user's open activities, bucketed into overdue, today, upcoming
    /// and undated in `time_zone` (IANA; the user's own when `None`).
    pub fn tasks(&self, time_zone: Option<String>) -> Result<TaskList> {
        let user = self.user_name()?;
        Ok(self
            .with_store(|s| s.tasks(&user, time_zone.as_deref()))?
            .into())
    }

    /// The user's activities from local day `from` to `to` (`YYYY-MM-DD`,
    /// inclusive), by time.
    pub fn calendar(
        &self,
        from: String,
        to: String,
        time_zone: Option<String>,
    ) -> Result<Vec<TaskItem>> {
        let user = self.user_name()?;
        Ok(vec_of(self.with_store(|s| {
            s.calendar(&user, &from, &to, time_zone.as_deref())
        })?))
    }

    /// Marks a task (any planned activity) done; if a process created it,
    /// the process moves on. Returns the instance advanced, if any.
    pub fn complete_task(&self, activity_id: String) -> Result<Option<String>> {
        let id = record_id(&activity_id)?;
        let instance = self.with_store(|s| s.complete_task(&id))?;
        Ok(instance.map(|i| i.to_string()))
    }

    // ----- processes ----------------------------------------------------

    /// Every published process model version on the device.
    pub fn process_models(&self) -> Result<Vec<ProcessModelInfo>> {
        Ok(vec_of(self.with_store(|s| s.process_models())?))
    }

    /// The process instances this user sees, newest first.
    pub fn process_instances(&self) -> Result<Vec<ProcessSummary>> {
        Ok(vec_of(self.with_store(|s| s.process_instances())?))
    }

    /// Starts the latest version of model `model_key` on record `record_id`
    /// (where the user's role may start processes); returns the instance id.
    pub fn start_process(&self, model_key: String, record_id: String) -> Result<String> {
        let record = self::record_id(&record_id)?;
        let instance = self.with_store(|s| s.start_process(&model_key, &record))?;
        Ok(instance.to_string())
    }

    /// The card of one instance: its path, current step, parameters.
    pub fn process_card(&self, instance_id: String) -> Result<ProcessCard> {
        let id = record_id(&instance_id)?;
        Ok(self.with_store(|s| s.process_card(&id))?.into())
    }

    /// Suspends, resumes, stops an instance or sets a parameter, where the
    /// user's role allows it; returns the card after the change.
    pub fn control_process(
        &self,
        instance_id: String,
        control: ProcessControl,
    ) -> Result<ProcessCard> {
        let id = record_id(&instance_id)?;
        let card = self.with_store(|s| s.control_process(&id, control.into()))?;
        Ok(card.into())
    }

    // ----- sync ---------------------------------------------------------

    /// Connects, sends every local change, receives everything new, and
    /// disconnects. Fails with `Network` when offline (local work is kept),
    /// `Timeout` after `timeout_seconds`.
    pub async fn sync_now(&self, timeout_seconds: u32) -> Result<SyncReport> {
        let device = self.device.clone();
        let timeout = Duration::from_secs(u64::from(timeout_seconds.max(1)));
        let report = self
            .on_runtime(async move { Ok(device.sync_once(timeout).await?) })
            .await?;
        Ok(report.into())
    }

    /// Starts syncing in the background: stays connected, pushes edits as
    /// they are made, receives others' live, reconnects with backoff. Does
    /// nothing if already running.
    pub fn start_sync(&self) -> Result<()> {
        let mut running = self.sync.lock().map_err(|_| {
            SdkError::internal(
                internal_codes::LOCK_POISONED,
                "the sync handle's lock was poisoned",
            )
        })?;
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let _inside = self.runtime()?.enter();
        *running = Some(self.device.start_sync(Backoff::default()));
        Ok(())
    }

    /// Stops background sync and waits for the connection to close.
    pub fn stop_sync(&self) {
        if let (Some(handle), Ok(runtime)) = (self.take_sync(), self.runtime()) {
            runtime.block_on(handle.stop());
        }
    }

    /// The current sync status.
    pub fn sync_status(&self) -> SyncStatus {
        self.device.status().into()
    }

    /// Re-encrypts the store under a new random key, kept in the keystore
    /// (key rotation). One full copy of the file; blocks meanwhile. Safe to
    /// interrupt at any instant: the next `open` finds whichever key the file
    /// is under and finishes the switch.
    pub fn rekey(&self) -> Result<()> {
        Ok(self.device.rekey()?)
    }

    /// Sorts names in `locale` from now on: a BCP 47 tag such as `es`,
    /// `es-ES` or `hu` (Android `Locale.toLanguageTag()`, iOS
    /// `Locale.current.identifier` with `_` or `-`). Kept in the store, so it
    /// holds after the app restarts; every list sorted by name follows it at
    /// once (`Ñandú` after `Nube` in Spanish). A malformed tag fails with
    /// `Invalid` (field `locale`) and changes nothing. Until it is called the
    /// store sorts as the process environment said when it was created
    /// (apps do not set one: `en`).
    pub fn set_locale(&self, locale: String) -> Result<()> {
        Ok(self.device.set_locale(&locale)?)
    }

    /// The locale names are sorted in (canonical BCP 47, e.g. `es-ES`).
    pub fn locale(&self) -> Result<String> {
        Ok(self.device.locale()?)
    }

    /// The app's version (e.g. `crm-android/2.3.1`), reported to the server
    /// at every sync and shown to administrators in the device list.
    pub fn set_app_version(&self, version: String) {
        self.device.set_app_version(version);
    }

    /// Local changes not yet acknowledged by the server.
    pub fn pending_changes(&self) -> Result<u64> {
        Ok(self.with_store(|s| s.outbox_len())? as u64)
    }

    // ----- quarantine ---------------------------------------------------

    /// Edits the server refused, newest first, as the user typed them.
    pub fn quarantine(&self) -> Result<Vec<QuarantinedEdit>> {
        Ok(vec_of(self.with_store(|s| s.quarantine())?))
    }

    /// Forgets a quarantined edit once the user has dealt with it.
    pub fn dismiss_quarantined(&self, id: i64) -> Result<()> {
        self.with_store(|s| s.dismiss_quarantined(id))
    }
}

impl Drop for FieldworkDevice {
    /// Stops background sync and lets every listener thread deliver what is
    /// queued and end, so no callback runs after the device is gone.
    fn drop(&mut self) {
        if let Some(handle) = self.sync.get_mut().ok().and_then(Option::take) {
            handle.request_stop();
        }
        // Never blocks, and is safe even if the last reference is dropped on
        // one of the runtime's own threads.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        let threads = self
            .listeners
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        for t in threads {
            if let Ok(mut sender) = t.sender.lock() {
                sender.take();
            }
            // A listener may drop the last reference from inside a callback:
            // never wait for the thread we are on.
            if t.thread.thread().id() != std::thread::current().id() {
                let _ = t.thread.join();
            }
        }
    }
}
