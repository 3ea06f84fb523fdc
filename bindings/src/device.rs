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
//! - **Listeners and subscriptions** (`add_listener`, `observe_query`,
//!   `observe_search`, `observe_record`: see [`observe`]) are served
//!   by one dispatcher thread per device, `fieldwork-observe`, started with
//!   the first one: they are called there, one after another (each
//!   listener's notices in order), never on the thread that made the
//!   change.
//! - **`close_device`** (and Kotlin's `close()`, Python and Swift dropping
//!   the last reference) blocks for a bounded time: at most
//!   [`STOP_SYNC_WAIT`] for the sync socket to close, then at most
//!   [`LISTENER_WAIT`] for listener and observer callbacks that are running
//!   to return, plus a store call in progress (one transaction).
//!
//! # Closing
//!
//! Guarantees:
//! - **Subscriptions end; nothing after.** Once `close_device` (or the
//!   drop) has begun, no snapshot or listener notice is delivered (those
//!   queued are dropped) and every live query ends: its observer's
//!   `ended()` is called once (not for one the app cancelled), so Flows,
//!   AsyncStreams and Python iterators complete; then nothing is called
//!   again. A callback already running is waited for, and the `ended`
//!   calls too (bounded; never from inside a callback, which would wait
//!   for itself: they follow once it returns).
//! - **Idempotent and typed.** Closing again does nothing; every other call
//!   on a closed device fails with `FieldworkError.Closed`.
//! - **The store is released.** The SQLite file is closed and its lock file
//!   released, so the same path opens again, in this process or another.
//! - **A clean exit.** A process that exits with devices still open must
//!   close them before its runtime tears down the threads that run
//!   callbacks: Python calls [`close_all_devices`] from `atexit` (CPython
//!   kills a thread that calls into it during finalisation, which aborts
//!   the process), the JVM from a shutdown hook.

pub mod attachments;
pub mod observe;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use fieldwork_core::{ListQuery, RecordId, RecordKind, SystemClock, TextWrite};
use fieldwork_sdk::{Backoff, Device, SdkError, SyncHandle, internal_codes, login};
use tokio::runtime::{Handle, Runtime};

use crate::error::{FieldworkError, Result};
use crate::ints::{count, not_negative};
use crate::keystore::{AppKeystore, Keystore};
use crate::processes::{
    ProcessCard, ProcessControl, ProcessModelInfo, ProcessSummary, TaskItem, TaskList,
};
use crate::records::{
    FieldEdit, HistoryEntry, Kind, ListOptions, QuarantinedEdit, RecordPage, RecordSummary,
    RecordView, SearchHit,
};
use crate::sync::{SyncReport, SyncStatus, UserInfo};
use observe::Dispatcher;

/// How long closing waits for the background sync's socket to close.
pub const STOP_SYNC_WAIT: Duration = Duration::from_secs(2);
/// How long closing (or `Subscription::cancel`) waits, in all, for a
/// listener or observer callback that is running to return.
pub const LISTENER_WAIT: Duration = Duration::from_secs(2);

/// Every device opened in this process and not yet dropped, for
/// [`close_all_devices`].
static OPEN_DEVICES: Mutex<Vec<Weak<FieldworkDevice>>> = Mutex::new(Vec::new());

/// A device store and its sync: open one per store file and keep it for the
/// life of the app. Safe to call from any thread.
#[derive(uniffi::Object)]
pub struct FieldworkDevice {
    device: Device,
    /// `None` once closed.
    runtime: Mutex<Option<Runtime>>,
    sync: Mutex<Option<SyncHandle>>,
    /// The dispatcher of subscriptions (`observe_*`), started with the
    /// first one; `None` before and once closed.
    observe: Mutex<Option<Dispatcher>>,
    /// Cleared when closing begins: the dispatcher calls nothing after.
    open: Arc<AtomicBool>,
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

/// The core's query for `list(kind, options)` (and `observe_query`).
pub(crate) fn list_query(kind: Kind, options: ListOptions) -> Result<ListQuery> {
    Ok(ListQuery {
        kind: Some(kind.into()),
        sort: options.sort.unwrap_or(crate::records::SortBy::Name).into(),
        descending: options.descending,
        stage: options.stage,
        owner: options.owner,
        territory: options.territory,
        account: options.account.as_deref().map(record_id).transpose()?,
        assignee: options.assignee,
        status: options.status,
        limit: Some(not_negative(options.limit, "limit")?),
        offset: not_negative(options.offset, "offset")?,
        after: options.after,
        archived: options.archived.map(Into::into).unwrap_or_default(),
        custom: options.custom.into_iter().collect(),
        sort_custom: options.sort_custom,
        ..ListQuery::default()
    })
}

/// Refuses, with `Invalid` naming it, a custom field of `query` (filter or
/// sort) that is not a custom field of the listed kind under the store's
/// policy that its user may read: the fields the core's
/// [`readable_fields`](fieldwork_core::card::readable_fields) gives every
/// card of that kind. A name without the `x_` prefix is left to the core's
/// list, which refuses it (`is not a custom field`) before reading a row.
pub(crate) fn check_custom(
    store: &fieldwork_core::Store,
    query: &ListQuery,
) -> fieldwork_core::Result<()> {
    let kind = query.kind.unwrap_or(RecordKind::Account);
    let readable = fieldwork_core::card::readable_fields(store.access(), store.policy(), kind);
    let named = query.custom.keys().chain(query.sort_custom.iter());
    match named
        .filter(|name| fieldwork_core::schema::custom::is_custom(name))
        .find(|name| !readable.contains(&name.as_str()))
    {
        Some(name) => Err(fieldwork_core::CoreError::Invalid(
            fieldwork_core::ValidationError::field(
                name,
                format!(
                    "is not a custom field of {} records that this user may read",
                    kind.as_str()
                ),
            ),
        )),
        None => Ok(()),
    }
}

fn vec_of<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(U::from).collect()
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

    /// The device's runtime; [`FieldworkError::Closed`] once closed.
    fn runtime(&self) -> Result<Handle> {
        let runtime = self.runtime.lock().map_err(|_| {
            SdkError::internal(
                internal_codes::LOCK_POISONED,
                "the runtime's lock was poisoned",
            )
        })?;
        runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or(FieldworkError::Closed)
    }

    /// Stops background sync, waiting at most `wait` for its socket to
    /// close; on one of the runtime's own threads (where blocking on it
    /// would panic) only asks it to stop.
    fn stop_sync_within(&self, wait: Duration) {
        let Some(handle) = self.take_sync() else {
            return;
        };
        match self.runtime() {
            Ok(runtime) if Handle::try_current().is_err() => {
                // The timer is made inside the runtime, which it needs.
                let _ = runtime.block_on(async { tokio::time::timeout(wait, handle.stop()).await });
            }
            _ => handle.request_stop(),
        }
    }

    /// Fails with [`FieldworkError::Closed`] once closing began.
    fn check_open(&self) -> Result<()> {
        if self.open.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(FieldworkError::Closed)
        }
    }

    /// Closing, for `close_device` and the drop (see the module's
    /// "Closing"): stop calling listeners and observers, stop sync (waiting
    /// at most [`STOP_SYNC_WAIT`] unless called on the runtime), close the
    /// store and release its lock, end every subscription and the
    /// dispatcher thread (waiting at most [`LISTENER_WAIT`] for a callback
    /// that is running), shut the runtime down.
    fn shut(&self) {
        self.open.store(false, Ordering::SeqCst);
        // Blocking on the runtime from one of its own threads would panic.
        let on_a_runtime = Handle::try_current().is_ok();
        // Past the wait the loop is left to end by itself: the store closes
        // under it and it stops at its next step.
        self.stop_sync_within(STOP_SYNC_WAIT);
        self.device.close();
        let dispatcher = self.observe.lock().ok().and_then(|mut d| d.take());
        if let Some(dispatcher) = dispatcher {
            dispatcher.finish(Instant::now() + LISTENER_WAIT);
        }
        let runtime = self.runtime.lock().ok().and_then(|mut r| r.take());
        if let Some(runtime) = runtime {
            if on_a_runtime {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(STOP_SYNC_WAIT);
            }
        }
    }

    /// Runs `f` with the device's subscription dispatcher, started on first
    /// use; [`FieldworkError::Closed`] once closing began.
    pub(crate) fn with_dispatcher<T>(&self, f: impl FnOnce(&Dispatcher) -> T) -> Result<T> {
        let mut slot = self.observe.lock().map_err(|_| {
            SdkError::internal(
                internal_codes::LOCK_POISONED,
                "the dispatcher's lock was poisoned",
            )
        })?;
        // Checked under the lock: closing clears the flag before it takes
        // the dispatcher, so none is started after that.
        self.check_open()?;
        if slot.is_none() {
            *slot = Some(Dispatcher::start(&self.device, Arc::clone(&self.open))?);
        }
        match slot.as_ref() {
            Some(dispatcher) => Ok(f(dispatcher)),
            None => Err(FieldworkError::Closed),
        }
    }

    /// Re-runs every live query (what the store shows changed without a
    /// record changing: the locale, the user).
    fn refresh_subscriptions(&self) {
        if let Ok(slot) = self.observe.lock()
            && let Some(dispatcher) = slot.as_ref()
        {
            dispatcher.refresh_all();
        }
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
    ///
    /// One handle per file: a store another `FieldworkDevice` holds, in this
    /// process or another, fails at once with `StoreInUse` and is not
    /// touched (the handle keeps `<path>.lock` until it is closed).
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
        let device = Arc::new(FieldworkDevice {
            device,
            runtime: Mutex::new(Some(runtime)),
            sync: Mutex::new(None),
            observe: Mutex::new(None),
            open: Arc::new(AtomicBool::new(true)),
        });
        if let Ok(mut open) = OPEN_DEVICES.lock() {
            open.retain(|d| d.strong_count() > 0);
            open.push(Arc::downgrade(&device));
        }
        Ok(device)
    }

    /// Closes the device: stops background sync (waiting at most two
    /// seconds for its socket), delivers no snapshot or listener notice
    /// again (those queued are dropped), ends every live query (its
    /// observer's `ended()` is called once, on the dispatcher thread; not
    /// for one the app cancelled), waits at most two seconds in all for a
    /// callback that is running and those `ended` calls, closes the store
    /// and releases its lock so that the path can be opened again. Idempotent; every other call
    /// afterwards fails with `Closed`. Blocks for those bounded waits: call
    /// it off the UI thread. In Kotlin, `close()` (or `use {}`) does this and
    /// frees the handle; in Python and Swift call it before dropping the
    /// last reference, or let [`close_all_devices`] do it at exit.
    pub fn close_device(&self) {
        self.shut();
    }

    /// The bytes the store's files take on disk now (the database and its
    /// `-wal`, `-shm` and `-journal` files), for a storage screen. Quick: no
    /// SQL runs.
    pub fn store_size(&self) -> Result<i64> {
        Ok(count(self.device.store_size()?))
    }

    /// Gives space back: every document saved whole again, freed pages
    /// returned, the WAL emptied (for a storage screen's "free space"; the
    /// store does the cheap part by itself). Blocks for one transaction per
    /// document; call it off the UI thread. Returns the store's size in
    /// bytes before and after.
    pub fn compact(&self) -> Result<StoreCompaction> {
        let size_before = count(self.device.store_size()?);
        let done = self.with_store(|s| s.compact())?;
        Ok(StoreCompaction {
            documents: count(done.documents),
            size_before,
            size_after: count(self.device.store_size()?),
        })
    }

    /// Deletes everything this device keeps: the store file and its `-wal`,
    /// `-shm`, `-journal` and scratch files, its lock file, and every
    /// keystore entry Fieldwork made (store keys, session token). Unsynced
    /// edits are lost. Stops sync first (as `close_device`); afterwards every
    /// call fails with `Wiped`, and the same path opens as a new, empty
    /// store. The server is not told: `logout()` first to end the session
    /// there. Fails with `Closed` on a closed device, deleting nothing.
    pub fn wipe(&self) -> Result<()> {
        self.check_open()?;
        self.stop_sync_within(STOP_SYNC_WAIT);
        Ok(self.device.wipe()?)
    }

    /// This device's stable id (sent to the server at login).
    pub fn device_id(&self) -> Result<String> {
        self.with_store(|s| Ok(s.device_id().to_owned()))
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
        self.refresh_subscriptions();
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
        self.with_store(|s| Ok(RecordView::of_card(s.card(&id)?, s.policy())))
    }

    /// The fields a "new record" form of `kind` offers this user.
    pub fn creatable_fields(&self, kind: Kind) -> Result<Vec<String>> {
        self.with_store(|s| Ok(s.creatable_fields(kind.into())))
    }

    /// A filtered, sorted page of records of `kind`. A negative
    /// `options.limit` or `options.offset` fails with `Invalid` naming it
    /// (`limit`, `offset`); a malformed `options.account` with `NotFound`;
    /// a name in `options.custom` or `options.sort_custom` that is not a
    /// custom field of `kind` this user may read with `Invalid` naming it.
    pub fn list(&self, kind: Kind, options: ListOptions) -> Result<Vec<RecordSummary>> {
        let query = list_query(kind, options)?;
        Ok(vec_of(self.with_store(|s| {
            check_custom(s, &query)?;
            s.list(&query)
        })?))
    }

    /// A filtered, sorted page of records of `kind` and the cursor of the
    /// next: pass `next_cursor` as `options.after` (same sort and
    /// direction) until it is `None`. Unlike offsets, cursors neither
    /// repeat nor skip records when others change between pages. Refused
    /// as [`list`](Self::list) is, and with `Invalid` naming `after` for a
    /// cursor with a non-zero `options.offset`, of another order or not
    /// handed out by a page.
    pub fn list_page(&self, kind: Kind, options: ListOptions) -> Result<RecordPage> {
        let query = list_query(kind, options)?;
        Ok(self
            .with_store(|s| {
                check_custom(s, &query)?;
                s.list_page(&query)
            })?
            .into())
    }

    /// Full-text search (prefixes, any accents and case), best first, at
    /// most `limit` hits. A negative `limit` fails with `Invalid` (field
    /// `limit`).
    pub fn search(&self, text: String, kind: Option<Kind>, limit: i32) -> Result<Vec<SearchHit>> {
        let kind = kind.map(RecordKind::from);
        let limit = not_negative(limit, "limit")?;
        Ok(vec_of(self.with_store(|s| s.search(&text, kind, limit))?))
    }

    /// How many records of `kind` are on the device (saturates at the
    /// maximum).
    pub fn count(&self, kind: Kind) -> Result<i64> {
        Ok(count(self.with_store(|s| s.count(kind.into()))?))
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
    /// `Timeout` after `timeout_seconds` (`0` counts as one second; a
    /// negative value fails with `Invalid`, field `timeout_seconds`).
    pub async fn sync_now(&self, timeout_seconds: i32) -> Result<SyncReport> {
        let seconds: u64 = not_negative(timeout_seconds, "timeout_seconds")?;
        let device = self.device.clone();
        let timeout = Duration::from_secs(seconds.max(1));
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
        self.check_open()?;
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        let runtime = self.runtime()?;
        let _inside = runtime.enter();
        *running = Some(self.device.start_sync(Backoff::default()));
        Ok(())
    }

    /// Stops background sync and waits for the connection to close (at
    /// most two seconds; then the loop is left to end by itself). Does
    /// nothing if sync is not running or the device is closed.
    pub fn stop_sync(&self) {
        self.stop_sync_within(STOP_SYNC_WAIT);
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
        self.device.set_locale(&locale)?;
        self.refresh_subscriptions();
        Ok(())
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

    /// Local changes not yet acknowledged by the server (saturates at the
    /// maximum).
    pub fn pending_changes(&self) -> Result<i64> {
        Ok(count(self.with_store(|s| s.outbox_len())?))
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

    /// Makes quarantined edit `id` again as a new edit, under today's
    /// policy (after the missing right was given back, or the record came
    /// back into sight); the next sync pushes it. Refused again: the typed
    /// error (`Denied`, `Invalid`) and the entry stays; written: the entry
    /// goes. Returns the record's id. `NotFound` for an unknown id.
    pub fn retry_quarantined(&self, id: i64) -> Result<String> {
        Ok(self.with_store(|s| s.retry_quarantined(id))?.to_string())
    }
}

/// What `compact()` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct StoreCompaction {
    /// Documents saved whole again.
    pub documents: i64,
    /// The store's size on disk before, in bytes.
    pub size_before: i64,
    /// And after.
    pub size_after: i64,
}

impl Drop for FieldworkDevice {
    /// Closes the device if it is still open (see the module's "Closing"):
    /// no callback runs after the device is gone, and its store is released.
    /// Safe on any thread, a listener's or the runtime's own included.
    fn drop(&mut self) {
        self.shut();
    }
}

/// Closes every `FieldworkDevice` this process opened and has not dropped
/// (as `close_device` on each): sync stopped, dispatcher threads ended, stores
/// released. Call it when the process is about to exit with devices still
/// open; Python: `atexit.register(fieldwork.close_all_devices)` once, at
/// import time. At exit CPython kills any thread that calls into Python
/// during finalisation, and a dispatcher thread killed that way (calling a
/// listener or an observer) aborts the process (SIGABRT); after this no
/// listener or observer is called again. Harmless to call more than once.
#[uniffi::export]
pub fn close_all_devices() {
    let devices: Vec<Arc<FieldworkDevice>> = OPEN_DEVICES
        .lock()
        .map(|mut open| std::mem::take(&mut *open))
        .unwrap_or_default()
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for device in devices {
        device.close_device();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use super::*;
    use crate::keystore::KeystoreError;
    use crate::records::FieldEdit;
    use crate::sync::DeviceListener;

    /// The app's keystore, in memory.
    #[derive(Default)]
    pub(crate) struct Memory(Mutex<HashMap<String, Vec<u8>>>);

    impl Keystore for Memory {
        fn get(&self, name: String) -> Result<Option<Vec<u8>>, KeystoreError> {
            Ok(self.0.lock().expect("keystore").get(&name).cloned())
        }
        fn set(&self, name: String, value: Vec<u8>) -> Result<(), KeystoreError> {
            self.0.lock().expect("keystore").insert(name, value);
            Ok(())
        }
        fn delete(&self, name: String) -> Result<(), KeystoreError> {
            self.0.lock().expect("keystore").remove(&name);
            Ok(())
        }
    }

    /// Counts record notices; closes `device` from inside its first
    /// callback when one is set.
    #[derive(Default)]
    struct Counter {
        records: Mutex<usize>,
        close_from_callback: OnceLock<Weak<FieldworkDevice>>,
    }

    impl DeviceListener for Counter {
        fn records_changed(&self, _ids: Vec<String>) {
            *self.records.lock().expect("count") += 1;
            if let Some(device) = self.close_from_callback.get().and_then(Weak::upgrade) {
                device.close_device();
            }
        }
        fn sync_status_changed(&self, _status: SyncStatus) {}
    }

    impl Counter {
        fn records(&self) -> usize {
            *self.records.lock().expect("count")
        }

        fn wait_for(&self, n: usize) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.records() < n {
                assert!(Instant::now() < deadline, "no callback in time");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// `close_all_devices` closes every device of the process: the tests
    /// that open devices take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A device whose store is `name` in `dir`, its key in a memory keystore.
    fn open_in(dir: &std::path::Path, name: &str) -> Arc<FieldworkDevice> {
        FieldworkDevice::open(
            dir.join(name).display().to_string(),
            Arc::new(Memory::default()),
        )
        .expect("open")
    }

    pub(crate) fn account(name: &str) -> Vec<FieldEdit> {
        vec![FieldEdit {
            field: "name".into(),
            value: Some(name.into()),
            currency: None,
        }]
    }

    #[test]
    fn a_closed_device_calls_no_listener_and_every_call_is_closed() {
        let _turn = serial();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("d.db").display().to_string();
        let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
        let device = FieldworkDevice::open(path.clone(), keystore.clone()).expect("open");
        let counter = Arc::new(Counter::default());
        device.add_listener(counter.clone()).expect("listener");
        device
            .create(Kind::Account, account("Antes"))
            .expect("create");
        counter.wait_for(1);
        assert!(matches!(
            FieldworkDevice::open(path.clone(), keystore.clone()),
            Err(FieldworkError::StoreInUse { .. })
        ));

        device.close_device();
        device.close_device();
        assert!(matches!(
            device.create(Kind::Account, account("Después")),
            Err(FieldworkError::Closed)
        ));
        assert!(matches!(device.store_size(), Err(FieldworkError::Closed)));
        assert!(matches!(device.start_sync(), Err(FieldworkError::Closed)));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(counter.records(), 1, "nothing announced after close");

        let again = FieldworkDevice::open(path, keystore).expect("released by close");
        assert_eq!(again.count(Kind::Account).expect("count"), 1);
    }

    #[test]
    fn a_listener_may_close_its_device_from_its_callback_without_waiting_for_itself() {
        let _turn = serial();
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("d.db").display().to_string();
        let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
        let device = FieldworkDevice::open(path.clone(), keystore.clone()).expect("open");
        let counter = Arc::new(Counter::default());
        let _ = counter.close_from_callback.set(Arc::downgrade(&device));
        device.add_listener(counter.clone()).expect("listener");
        device
            .create(Kind::Account, account("Cierra"))
            .expect("create");
        counter.wait_for(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(device.count(Kind::Account), Err(FieldworkError::Closed)) {
            assert!(
                Instant::now() < deadline,
                "the callback's close did not finish"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        FieldworkDevice::open(path, keystore).expect("released");
    }

    /// The field and the sentence of an `Invalid`, or what came instead.
    fn refused<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(FieldworkError::Invalid {
                field: Some(field),
                detail,
            }) => (field, detail),
            other => panic!("expected Invalid naming a field, got {other:?}"),
        }
    }

    #[test]
    fn a_negative_limit_offset_or_timeout_is_invalid_naming_the_argument() {
        let _turn = serial();
        let dir = tempfile::tempdir().expect("dir");
        let device = open_in(dir.path(), "d.db");
        device
            .create(Kind::Account, account("Negativo"))
            .expect("create");
        let options = |limit: i32, offset: i32| ListOptions {
            sort: None,
            descending: false,
            stage: None,
            owner: None,
            territory: None,
            account: None,
            assignee: None,
            status: None,
            limit,
            offset,
            after: None,
            archived: None,
            custom: Default::default(),
            sort_custom: None,
        };
        assert_eq!(
            refused(device.list(Kind::Account, options(-1, 0))),
            ("limit".to_owned(), "limit must not be negative".to_owned())
        );
        assert_eq!(
            refused(device.list(Kind::Account, options(10, -5))),
            (
                "offset".to_owned(),
                "offset must not be negative".to_owned()
            )
        );
        assert_eq!(
            refused(device.search("negativo".into(), None, -1)),
            ("limit".to_owned(), "limit must not be negative".to_owned())
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(
            refused(runtime.block_on(device.sync_now(-1))),
            (
                "timeout_seconds".to_owned(),
                "timeout_seconds must not be negative".to_owned()
            )
        );
        // Zero and positive values behave as before.
        assert!(
            device
                .list(Kind::Account, options(0, 0))
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            device
                .list(Kind::Account, options(10, 0))
                .expect("list")
                .len(),
            1
        );
        assert_eq!(
            device
                .search("negativo".into(), None, 10)
                .expect("search")
                .len(),
            1
        );
        assert_eq!(device.count(Kind::Account).expect("count"), 1);
        device.close_device();
    }

    /// The default policy with a choice `x_segment` (general, labelled
    /// "Segment") and a number `x_margin` (financial, which reps do not
    /// read) on accounts.
    pub(crate) fn custom_policy() -> String {
        let general = "\"website\", \"description\"]";
        let financial = "financial = [\"credit_limit\", \"credit_currency\", \"contract\"]";
        let text = fieldwork_core::policy::DEFAULT_POLICY_TOML
            .replacen(general, "\"website\", \"description\", \"x_segment\"]", 1)
            .replacen(
                financial,
                "financial = [\"credit_limit\", \"credit_currency\", \"contract\", \"x_margin\"]",
                1,
            );
        format!(
            "{text}\n[custom.account.segment]\nlabel = \"Segment\"\ntype = \"choice\"\n\
             choices = [\"smb\", \"mid\", \"enterprise\"]\n\
             [custom.account.margin]\ntype = \"number\"\nmin = 0\nmax = 100\n"
        )
    }

    /// Signs `device` in, offline, as rep `rita` of `north` under `policy`.
    pub(crate) fn sign_in_rep(device: &FieldworkDevice, policy: &str) {
        device
            .with_store(|s| {
                s.set_sign_in(&fieldwork_core::store::SignIn {
                    server: "http://127.0.0.1:1".into(),
                    transport: Default::default(),
                    user: fieldwork_core::UserContext {
                        name: "rita".into(),
                        role: "rep".into(),
                        territories: vec!["north".into()],
                        team: vec![],
                    },
                    policy: policy.to_owned(),
                    policy_revision: 2,
                })
            })
            .expect("sign in");
    }

    fn custom_options(custom: &[(&str, &str)], sort_custom: Option<&str>) -> ListOptions {
        ListOptions {
            sort: None,
            descending: false,
            stage: None,
            owner: None,
            territory: None,
            account: None,
            assignee: None,
            status: None,
            limit: 100,
            offset: 0,
            after: None,
            archived: None,
            custom: custom
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            sort_custom: sort_custom.map(str::to_owned),
        }
    }

    #[test]
    fn custom_fields_filter_sort_and_label_and_a_bad_name_is_invalid_naming_it() {
        let _turn = serial();
        let dir = tempfile::tempdir().expect("dir");
        let device = open_in(dir.path(), "d.db");
        let policy = custom_policy();
        fieldwork_core::Policy::from_toml(&policy).expect("the custom policy is valid");
        sign_in_rep(&device, &policy);
        let mut ids = Vec::new();
        for (name, segment) in [
            ("Acme", Some("smb")),
            ("Beta", Some("mid")),
            ("Cora", Some("enterprise")),
            ("Dune", None),
        ] {
            let mut edits = account(name);
            edits.push(FieldEdit {
                field: "territory".into(),
                value: Some("north".into()),
                currency: None,
            });
            if let Some(segment) = segment {
                edits.push(FieldEdit {
                    field: "x_segment".into(),
                    value: Some(segment.into()),
                    currency: None,
                });
            }
            ids.push(device.create(Kind::Account, edits).expect("create"));
        }
        let titles = |options: ListOptions| -> Vec<String> {
            let rows = device.list(Kind::Account, options).expect("list");
            rows.into_iter().map(|r| r.title).collect()
        };
        assert_eq!(
            titles(custom_options(&[("x_segment", "smb")], None)),
            ["Acme"]
        );
        assert_eq!(
            titles(custom_options(&[], Some("x_segment"))),
            ["Cora", "Beta", "Acme", "Dune"]
        );
        let mut descending = custom_options(&[], Some("x_segment"));
        descending.descending = true;
        assert_eq!(titles(descending), ["Acme", "Beta", "Cora", "Dune"]);
        let page = device
            .list_page(
                Kind::Account,
                custom_options(&[("x_segment", "mid")], Some("x_segment")),
            )
            .expect("page");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].title, "Beta");
        assert_eq!(page.next_cursor, None);

        for (options, field) in [
            (custom_options(&[("x_nope", "smb")], None), "x_nope"),
            (custom_options(&[], Some("x_margin")), "x_margin"),
            (custom_options(&[], Some("name")), "name"),
        ] {
            let (named, detail) = refused(device.list(Kind::Account, options.clone()));
            assert_eq!(named, field);
            assert!(detail.contains("is not a custom field"), "{detail}");
            assert_eq!(refused(device.list_page(Kind::Account, options)).0, field);
        }
        let (named, _) =
            refused(device.list(Kind::Contact, custom_options(&[], Some("x_segment"))));
        assert_eq!(named, "x_segment");

        let card = device.card(ids[0].clone()).expect("card");
        let label = |name: &str| {
            let field = card
                .fields
                .iter()
                .find(|f| f.name == name)
                .expect("on the card");
            field.label.clone()
        };
        assert_eq!(label("x_segment").as_deref(), Some("Segment"));
        assert_eq!(label("name"), None);
        assert!(card.fields.iter().all(|f| f.name != "x_margin"));
        device.close_device();
    }

    #[test]
    fn close_all_devices_closes_every_open_device() {
        let _turn = serial();
        let dir = tempfile::tempdir().expect("dir");
        let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
        let a = FieldworkDevice::open(
            dir.path().join("a.db").display().to_string(),
            keystore.clone(),
        )
        .expect("a");
        let b = open_in(dir.path(), "b.db");
        close_all_devices();
        assert!(matches!(
            a.count(Kind::Account),
            Err(FieldworkError::Closed)
        ));
        assert!(matches!(
            b.count(Kind::Account),
            Err(FieldworkError::Closed)
        ));
        close_all_devices(); // again: nothing to do
    }
}
