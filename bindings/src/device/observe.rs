//! Live queries: observe a list, a search or one record, and hear of every
//! change that alters what it shows.
//!
//! [`FieldworkDevice::observe_query`], [`FieldworkDevice::observe_search`]
//! and [`FieldworkDevice::observe_record`] return a [`Subscription`] and
//! call their observer with an **initial snapshot**, then with a **new
//! snapshot** (the whole result again, never a diff) each time a change
//! alters it: a local write, what a sync brought or revoked, what the
//! process engine wrote. A result equal to the last one delivered is not
//! delivered again. Snapshots are coalesced: when changes come faster than
//! an observer takes them, it sees the latest state, not every step.
//!
//! # One dispatcher thread per device
//! Every subscription of a device, and every listener
//! ([`FieldworkDevice::add_listener`]: each hears every notice, in order,
//! none coalesced), is served by one thread, `fieldwork-observe`, started
//! with the first subscription or listener. It re-runs the
//! queries a change may affect and calls the observers one after another,
//! in the order the subscriptions were made. The thread that made the
//! change (a write, the sync) only records which records changed and wakes
//! the dispatcher: a slow observer delays the other observers, never a
//! write or a sync. A query runs under the store's lock like any read (a
//! list page takes about 0.15 ms); observers are called without it, so an
//! observer may call the device (read, write, cancel, even close it).
//!
//! Which changes re-run a query:
//! - a list of kind K: a change to a record of kind K, or to an account
//!   (children show their account's territory);
//! - a search: a change to a record of its kind (any record without one);
//! - a record: a change to that record;
//! - every subscription: `set_locale` (names sort anew), `login`, sync
//!   reaching `UpToDate` (a new policy may show other fields) and a wipe.
//!
//! # Guarantees
//! - **No callback after `cancel()` returns**, not even `ended`: a callback
//!   already running on another thread is waited for (at most
//!   [`LISTENER_WAIT`]); called from an observer (the dispatcher thread)
//!   `cancel()` never waits for itself. Cancelling again, or after the
//!   device was closed, does nothing. Dropping the `Subscription` of a live
//!   query (Kotlin `close()`, the last Python or Swift reference) cancels
//!   it; dropping a listener's does not.
//! - **Every subscription the app did not cancel ends with `ended()`**,
//!   exactly once, its observer's last call: when the device is closed, and
//!   just after `failed` when its query failed (a wipe). That is where the
//!   Kotlin Flow, the Swift stream and the Python iterator complete.
//! - **Close ends everything**: once closing begins no snapshot and no
//!   listener notice is delivered (those queued are dropped); the
//!   dispatcher calls each observer's `ended` in subscription order, then
//!   its thread ends. `close_device` waits for that (at most
//!   [`LISTENER_WAIT`] in all, a running callback included; past it no
//!   `ended` is called). Called from a callback it does not wait (it would
//!   wait for itself): the `ended` calls follow once that callback returns,
//!   its own observer's included. Subscribing afterwards fails with
//!   `Closed`.
//! - **A failing observer hurts nobody else**: an observer that throws (or
//!   panics) is skipped for that snapshot, which counts as not delivered
//!   (the next change that touches its query delivers again); a listener
//!   that throws loses that notice; the dispatcher and the other
//!   subscriptions go on.
//! - **Errors end a subscription**: a query that fails (the device was
//!   wiped, the store failed) calls the observer's `failed` once, with the
//!   typed error, and nothing after. A record that is not (or no longer) on
//!   the device, or that the user may not read, is not an error: it is a
//!   `None` snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::ThreadId;
use std::time::Instant;

use fieldwork_core::{ListQuery, RecordId, RecordKind};
use fieldwork_sdk::{Device, DeviceObserver, SdkError, internal_codes};

use crate::device::{FieldworkDevice, LISTENER_WAIT};
use crate::error::{FieldworkError, Result};
use crate::records::{Kind, ListOptions, RecordSummary, RecordView, SearchHit};
use crate::sync::{DeviceListener, SyncStatus};

/// What an observer may fail with. Anything an observer throws comes back
/// to Fieldwork as this (Kotlin `ObserverException`, Python
/// `ObserverError`); Fieldwork skips that one snapshot and goes on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ObserverError {
    /// The observer failed.
    #[error("the observer failed: {detail}")]
    Failed {
        /// What it said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ObserverError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ObserverError::Failed { detail: e.reason }
    }
}

/// Told the rows of a list ([`FieldworkDevice::observe_query`]). Called on
/// the device's dispatcher thread (never the UI thread): post to the UI
/// thread yourself, and return quickly.
#[uniffi::export(with_foreign)]
pub trait QueryObserver: Send + Sync {
    /// The whole page as it is now: first at once, then after each change
    /// that altered it.
    fn snapshot(&self, rows: Vec<RecordSummary>) -> Result<(), ObserverError>;
    /// The query failed (the device was wiped, the store failed): the
    /// subscription has ended; only [`QueryObserver::ended`] follows.
    fn failed(&self, error: FieldworkError) -> Result<(), ObserverError>;
    /// The subscription has ended (the device was closed, or the query
    /// failed: then just after `failed`): the last call, exactly once,
    /// unless the app cancelled the subscription first. Complete the
    /// stream here.
    fn ended(&self) -> Result<(), ObserverError>;
}

/// Told the hits of a search ([`FieldworkDevice::observe_search`]), on the
/// device's dispatcher thread.
#[uniffi::export(with_foreign)]
pub trait SearchObserver: Send + Sync {
    /// The hits as they are now, best first: first at once, then after each
    /// change that altered them.
    fn snapshot(&self, hits: Vec<SearchHit>) -> Result<(), ObserverError>;
    /// The search failed: the subscription has ended; only
    /// [`SearchObserver::ended`] follows.
    fn failed(&self, error: FieldworkError) -> Result<(), ObserverError>;
    /// The subscription has ended, as [`QueryObserver::ended`]: the last
    /// call, exactly once, unless the app cancelled it first.
    fn ended(&self) -> Result<(), ObserverError>;
}

/// Told one record's card ([`FieldworkDevice::observe_record`]), on the
/// device's dispatcher thread.
#[uniffi::export(with_foreign)]
pub trait RecordObserver: Send + Sync {
    /// The record's card as it is now; `None` when it is not on the device
    /// (not yet synced, revoked: moved out of the user's sight) or the user
    /// may not read it. First at once, then after each change to it.
    fn changed(&self, record: Option<RecordView>) -> Result<(), ObserverError>;
    /// Reading the record failed: the subscription has ended; only
    /// [`RecordObserver::ended`] follows.
    fn failed(&self, error: FieldworkError) -> Result<(), ObserverError>;
    /// The subscription has ended, as [`QueryObserver::ended`]: the last
    /// call, exactly once, unless the app cancelled it first.
    fn ended(&self) -> Result<(), ObserverError>;
}

/// A live query (or a listener); cancel it to stop hearing of it. Dropping
/// the subscription of a live query cancels it too; dropping a listener's
/// does not (`add_listener` returned nothing before, and an app that
/// ignores its result keeps its listener).
#[derive(uniffi::Object)]
pub struct Subscription {
    sub: Arc<Sub>,
    shared: Arc<Shared>,
    cancel_on_drop: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.sub.id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the subscription: once this returns its observer is not called
    /// again, not even `ended` (the app knows it cancelled). Waits (at most
    /// two seconds) for a callback running on the dispatcher thread to
    /// return, unless called from that callback. Idempotent; harmless after
    /// the device was closed.
    pub fn cancel(&self) {
        self.shared.remove(self.sub.id);
        let deadline = Instant::now() + LISTENER_WAIT;
        self.sub
            .cancel_within(deadline, self.shared.is_dispatcher_thread());
    }

    /// Whether the subscription still delivers snapshots: `false` after
    /// `cancel`, after an error ended it, and once the device began closing
    /// (its `ended` may still be on its way).
    pub fn is_active(&self) -> bool {
        !self.sub.is_done() && self.shared.open.load(Ordering::SeqCst)
    }
}

impl Drop for Subscription {
    /// Dropping the subscription of a live query cancels it.
    fn drop(&mut self) {
        if self.cancel_on_drop {
            self.cancel();
        }
    }
}

/// What a subscription watches, and whom it tells.
enum Watch {
    List {
        query: ListQuery,
        observer: Arc<dyn QueryObserver>,
    },
    Search {
        text: String,
        kind: Option<RecordKind>,
        limit: usize,
        observer: Arc<dyn SearchObserver>,
    },
    Record {
        id: RecordId,
        observer: Arc<dyn RecordObserver>,
    },
    /// A [`DeviceListener`]: every notice, in order, none coalesced.
    Listener {
        listener: Arc<dyn DeviceListener>,
        queue: Mutex<VecDeque<Notice>>,
    },
}

/// One call owed to a listener.
enum Notice {
    Records(Vec<String>),
    Status(SyncStatus),
}

/// What a query answered, as last delivered.
#[derive(Debug, Clone, PartialEq)]
enum Snapshot {
    Rows(Vec<RecordSummary>),
    Hits(Vec<SearchHit>),
    Record(Option<RecordView>),
}

impl Watch {
    /// Whether a change to `changed` may alter this query's result.
    fn touched_by(&self, changed: &BTreeSet<RecordId>) -> bool {
        match self {
            Watch::List { query, .. } => {
                let kind = query.kind.unwrap_or(RecordKind::Account);
                changed
                    .iter()
                    .any(|r| r.kind() == kind || r.kind() == RecordKind::Account)
            }
            Watch::Search { kind, .. } => match kind {
                Some(kind) => changed.iter().any(|r| r.kind() == *kind),
                None => !changed.is_empty(),
            },
            Watch::Record { id, .. } => changed.contains(id),
            Watch::Listener { .. } => false,
        }
    }

    /// Runs the query on the store.
    fn run(&self, device: &Device) -> Result<Snapshot> {
        match self {
            Watch::List { query, .. } => {
                let rows = device.with_store(|s| s.list(query))?;
                Ok(Snapshot::Rows(rows.into_iter().map(Into::into).collect()))
            }
            Watch::Search {
                text, kind, limit, ..
            } => {
                let hits = device.with_store(|s| s.search(text, *kind, *limit))?;
                Ok(Snapshot::Hits(hits.into_iter().map(Into::into).collect()))
            }
            Watch::Record { id, .. } => {
                match device.with_store(|s| Ok(RecordView::of_card(s.card(id)?, s.policy()))) {
                    Ok(view) => Ok(Snapshot::Record(Some(view))),
                    Err(e) => match FieldworkError::from(e) {
                        FieldworkError::NotFound { .. } | FieldworkError::Denied { .. } => {
                            Ok(Snapshot::Record(None))
                        }
                        other => Err(other),
                    },
                }
            }
            // Never run: listeners are handed their notices.
            Watch::Listener { .. } => Ok(Snapshot::Record(None)),
        }
    }

    /// Calls the observer with `snapshot`.
    fn deliver(&self, snapshot: Snapshot) -> Result<(), ObserverError> {
        match (self, snapshot) {
            (Watch::List { observer, .. }, Snapshot::Rows(rows)) => observer.snapshot(rows),
            (Watch::Search { observer, .. }, Snapshot::Hits(hits)) => observer.snapshot(hits),
            (Watch::Record { observer, .. }, Snapshot::Record(record)) => observer.changed(record),
            // A watch only ever runs into its own kind of snapshot.
            _ => Ok(()),
        }
    }

    /// Tells the observer that its query failed.
    fn fail(&self, error: FieldworkError) -> Result<(), ObserverError> {
        match self {
            Watch::List { observer, .. } => observer.failed(error),
            Watch::Search { observer, .. } => observer.failed(error),
            Watch::Record { observer, .. } => observer.failed(error),
            Watch::Listener { .. } => Ok(()),
        }
    }

    /// Tells the observer that its subscription ended (listeners have no
    /// such call: they just stop).
    fn end(&self) -> Result<(), ObserverError> {
        match self {
            Watch::List { observer, .. } => observer.ended(),
            Watch::Search { observer, .. } => observer.ended(),
            Watch::Record { observer, .. } => observer.ended(),
            Watch::Listener { .. } => Ok(()),
        }
    }
}

/// One subscription as the dispatcher holds it.
struct Sub {
    id: u64,
    watch: Watch,
    /// Set until the initial snapshot was attempted.
    initial: AtomicBool,
    gate: Mutex<Gate>,
    /// Notified when a callback returns.
    idle: Condvar,
}

/// Whether a subscription is done (cancelled, or told it ended) and whether
/// its observer is being called: both under one lock, so that `cancel` and
/// the dispatcher agree on which callback is the last.
#[derive(Default)]
struct Gate {
    done: bool,
    running: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held (observers are called
    // without them); a poisoned one still holds consistent flags.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sub {
    fn is_done(&self) -> bool {
        lock(&self.gate).done
    }

    /// Calls `call` unless the subscription is done or the device closing:
    /// `None` if not called, else whether the observer returned normally.
    fn call(
        &self,
        open: &AtomicBool,
        call: impl FnOnce() -> Result<(), ObserverError>,
    ) -> Option<bool> {
        {
            let mut gate = lock(&self.gate);
            if gate.done || !open.load(Ordering::SeqCst) {
                return None;
            }
            gate.running = true;
        }
        Some(self.run(call))
    }

    /// Runs a callback the gate let through. A panic in it is caught: the
    /// dispatcher serves the others.
    fn run(&self, call: impl FnOnce() -> Result<(), ObserverError>) -> bool {
        let outcome = catch_unwind(AssertUnwindSafe(call));
        lock(&self.gate).running = false;
        self.idle.notify_all();
        matches!(outcome, Ok(Ok(())))
    }

    /// Ends the subscription: calls the observer's `ended` unless it is done
    /// already (cancelled, ended) or `end_by` has passed; done afterwards.
    fn end(&self, end_by: Option<Instant>) {
        {
            let mut gate = lock(&self.gate);
            if gate.done {
                return;
            }
            gate.done = true;
            if end_by.is_some_and(|t| Instant::now() >= t) {
                return;
            }
            gate.running = true;
        }
        self.run(|| self.watch.end());
    }

    /// Marks the subscription done and waits until `deadline` for a
    /// callback in progress to return (not when `on_dispatcher`: that
    /// callback is the caller's own).
    fn cancel_within(&self, deadline: Instant, on_dispatcher: bool) {
        let mut gate = lock(&self.gate);
        gate.done = true;
        if on_dispatcher {
            return;
        }
        while gate.running {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            gate = self
                .idle
                .wait_timeout(gate, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What the dispatcher must look at on its next round.
#[derive(Default)]
struct Work {
    /// Records changed since the last round.
    changed: BTreeSet<RecordId>,
    /// Re-run every query.
    all: bool,
    /// A subscription waits for its initial snapshot.
    fresh: bool,
    /// A listener has notices queued.
    notices: bool,
}

#[derive(Default)]
struct State {
    /// In subscription order.
    subs: BTreeMap<u64, Arc<Sub>>,
    work: Work,
    stopped: bool,
    /// When the closer stops waiting: no `ended` is called after it (`None`
    /// when closed from a callback: nobody waits).
    end_by: Option<Instant>,
}

impl State {
    /// Queues `notice()` for every listener; whether there was one.
    fn queue_for_listeners(&self, notice: impl Fn() -> Notice) -> bool {
        let mut any = false;
        for sub in self.subs.values() {
            if let Watch::Listener { queue, .. } = &sub.watch {
                lock(queue).push_back(notice());
                any = true;
            }
        }
        any
    }
}

/// What the device, the subscriptions and the dispatcher thread share.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The device's own flag: cleared when closing begins.
    open: Arc<AtomicBool>,
    next_id: AtomicU64,
    thread: Mutex<Option<ThreadId>>,
}

impl Shared {
    fn is_dispatcher_thread(&self) -> bool {
        *lock(&self.thread) == Some(std::thread::current().id())
    }

    fn remove(&self, id: u64) {
        lock(&self.state).subs.remove(&id);
    }

    fn changed(&self, records: &[RecordId]) {
        let mut state = lock(&self.state);
        if state.stopped || state.subs.is_empty() {
            return;
        }
        let ids: Vec<String> = records.iter().map(ToString::to_string).collect();
        if state.queue_for_listeners(|| Notice::Records(ids.clone())) {
            state.work.notices = true;
        }
        state.work.changed.extend(records.iter().cloned());
        self.wake.notify_all();
    }

    fn status_changed(&self, status: &fieldwork_sdk::SyncStatus) {
        use fieldwork_sdk::SyncStatus as S;
        let mut state = lock(&self.state);
        if state.stopped || state.subs.is_empty() {
            return;
        }
        if state.queue_for_listeners(|| Notice::Status(status.clone().into())) {
            state.work.notices = true;
        }
        if matches!(status, S::UpToDate | S::Wiped) {
            state.work.all = true;
        }
        self.wake.notify_all();
    }

    fn refresh_all(&self) {
        let mut state = lock(&self.state);
        if state.stopped || state.subs.is_empty() {
            return;
        }
        state.work.all = true;
        self.wake.notify_all();
    }

    /// Stops the dispatcher: it ends every subscription (until `end_by`)
    /// and its thread.
    fn stop(&self, end_by: Option<Instant>) {
        let mut state = lock(&self.state);
        state.stopped = true;
        state.end_by = end_by;
        self.wake.notify_all();
    }

    /// Waits for work; `None` once stopped.
    fn next_round(&self) -> Option<(Work, Vec<Arc<Sub>>)> {
        let mut state = lock(&self.state);
        loop {
            if state.stopped {
                return None;
            }
            let w = &state.work;
            if w.all || w.fresh || w.notices || !w.changed.is_empty() {
                let work = std::mem::take(&mut state.work);
                let subs = state.subs.values().cloned().collect();
                return Some((work, subs));
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Hears the SDK's change notices (on the thread that made the change) and
/// hands them to the dispatcher.
struct Relay(Arc<Shared>);

impl DeviceObserver for Relay {
    fn records_changed(&self, records: &[RecordId]) {
        self.0.changed(records);
    }

    fn sync_status_changed(&self, status: &fieldwork_sdk::SyncStatus) {
        self.0.status_changed(status);
    }
}

/// A device's dispatcher: its thread and what it shares with it.
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<()>,
    /// Disconnected when the thread ends.
    ended: mpsc::Receiver<()>,
}

impl Dispatcher {
    /// Starts the dispatcher thread of `device`, which hears of changes
    /// from then on. `open` is the device's flag, cleared when it closes.
    pub(crate) fn start(device: &Device, open: Arc<AtomicBool>) -> Result<Dispatcher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            open,
            next_id: AtomicU64::new(1),
            thread: Mutex::new(None),
        });
        let (ended_tx, ended) = mpsc::channel::<()>();
        let for_thread = Arc::clone(&shared);
        let store = device.clone();
        let thread = std::thread::Builder::new()
            .name("fieldwork-observe".into())
            .spawn(move || {
                let _ended = ended_tx;
                dispatch(&for_thread, &store);
            })
            .map_err(|e| {
                SdkError::internal(
                    internal_codes::RUNTIME,
                    format!("cannot start the observer thread: {e}"),
                )
            })?;
        *lock(&shared.thread) = Some(thread.thread().id());
        device.add_observer(Arc::new(Relay(Arc::clone(&shared))));
        Ok(Dispatcher {
            shared,
            thread,
            ended,
        })
    }

    /// Registers a subscription; its initial snapshot follows on the
    /// dispatcher thread. [`FieldworkError::Closed`] once stopped.
    fn subscribe(&self, watch: Watch) -> Result<Arc<Subscription>> {
        let cancel_on_drop = !matches!(watch, Watch::Listener { .. });
        let sub = Arc::new(Sub {
            id: self.shared.next_id.fetch_add(1, Ordering::SeqCst),
            watch,
            initial: AtomicBool::new(true),
            gate: Mutex::new(Gate::default()),
            idle: Condvar::new(),
        });
        {
            let mut state = lock(&self.shared.state);
            if state.stopped {
                return Err(FieldworkError::Closed);
            }
            state.subs.insert(sub.id, Arc::clone(&sub));
            state.work.fresh = true;
            self.shared.wake.notify_all();
        }
        Ok(Arc::new(Subscription {
            sub,
            shared: Arc::clone(&self.shared),
            cancel_on_drop,
        }))
    }

    /// Re-runs every query (the locale or the user changed).
    pub(crate) fn refresh_all(&self) {
        self.shared.refresh_all();
    }

    /// Ends every subscription and the thread: the thread calls each
    /// observer's `ended` (until `deadline`) and stops. Waits until
    /// `deadline` for that; called from a callback (on the thread itself)
    /// it does not wait: the thread ends them once that callback returns.
    pub(crate) fn finish(self, deadline: Instant) {
        let on_dispatcher = self.shared.is_dispatcher_thread();
        self.shared.stop((!on_dispatcher).then_some(deadline));
        if on_dispatcher {
            // Detached: it ends by itself after the callback that closed.
            return;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.ended.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Disconnected) | Ok(()) => {
                let _ = self.thread.join();
            }
            // A callback still runs: the thread calls nothing more and ends
            // when it returns.
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The dispatcher thread: one round per wake-up, subscriptions in order;
/// once stopped, every subscription still on is told it ended.
fn dispatch(shared: &Shared, device: &Device) {
    // What each subscription was last told, by id.
    let mut last: HashMap<u64, Snapshot> = HashMap::new();
    while let Some((work, subs)) = shared.next_round() {
        last.retain(|id, _| subs.iter().any(|s| s.id == *id));
        for sub in subs {
            if !shared.open.load(Ordering::SeqCst) {
                break;
            }
            serve(shared, device, &work, &sub, &mut last);
        }
    }
    end_all(shared);
}

/// One subscription's turn in a round: re-runs its query if the round's
/// changes may alter it and tells the observer (a listener its notices).
fn serve(
    shared: &Shared,
    device: &Device,
    work: &Work,
    sub: &Sub,
    last: &mut HashMap<u64, Snapshot>,
) {
    if sub.is_done() {
        return;
    }
    if let Watch::Listener { listener, queue } = &sub.watch {
        return tell(shared, sub, listener.as_ref(), queue);
    }
    let initial = sub.initial.swap(false, Ordering::SeqCst);
    if !initial && !work.all && !sub.watch.touched_by(&work.changed) {
        return;
    }
    match sub.watch.run(device) {
        Ok(snapshot) if !initial && last.get(&sub.id) == Some(&snapshot) => {}
        Ok(snapshot) => {
            let copy = snapshot.clone();
            if sub.call(&shared.open, || sub.watch.deliver(copy)) == Some(true) {
                last.insert(sub.id, snapshot);
            } else {
                // Not delivered: the next change delivers again.
                last.remove(&sub.id);
            }
        }
        Err(error) => {
            // An error ends the subscription: `failed`, then `ended`. Not
            // called: cancelled, or closing (which ends it).
            if sub.call(&shared.open, || sub.watch.fail(error)).is_some() {
                sub.end(None);
                shared.remove(sub.id);
                last.remove(&sub.id);
            }
        }
    }
}

/// Tells every subscription still on, in order, that it ended (listeners
/// just stop; their queued notices are dropped).
fn end_all(shared: &Shared) {
    let (subs, end_by) = {
        let mut state = lock(&shared.state);
        (std::mem::take(&mut state.subs), state.end_by)
    };
    for sub in subs.values() {
        sub.end(end_by);
    }
}

/// Hands a listener its queued notices, in order, while it is not cancelled.
fn tell(
    shared: &Shared,
    sub: &Sub,
    listener: &dyn DeviceListener,
    queue: &Mutex<VecDeque<Notice>>,
) {
    loop {
        let Some(notice) = lock(queue).pop_front() else {
            return;
        };
        // A listener's callbacks return nothing: a foreign exception is a
        // panic here, caught by `call`.
        let called = sub.call(&shared.open, || {
            match notice {
                Notice::Records(ids) => listener.records_changed(ids),
                Notice::Status(status) => listener.sync_status_changed(status),
            }
            Ok(())
        });
        if called.is_none() {
            return;
        }
    }
}

impl FieldworkDevice {
    /// The device's dispatcher, started on first use.
    fn subscribe(&self, watch: Watch) -> Result<Arc<Subscription>> {
        self.with_dispatcher(|d| d.subscribe(watch))?
    }
}

#[uniffi::export]
impl FieldworkDevice {
    /// Registers a listener for changed records and sync status. It is
    /// called, in order, on the device's dispatcher thread (shared with the
    /// observers of live queries), until the returned subscription is
    /// cancelled or the device is closed (`close_device`, Kotlin `close()`,
    /// Swift and Python: when the last reference goes), never after.
    /// Dropping the returned subscription does not remove the listener.
    pub fn add_listener(&self, listener: Arc<dyn DeviceListener>) -> Result<Arc<Subscription>> {
        self.subscribe(Watch::Listener {
            listener,
            queue: Mutex::new(VecDeque::new()),
        })
    }

    /// Observes a list: the same `kind` and `options` as [`list`]. `observer`
    /// is told the page at once, then again whenever a change (a local
    /// write, sync, the process engine) alters it; see [`Subscription`].
    /// A malformed `options.account` fails at once with `NotFound`, a
    /// negative `limit` or `offset` with `Invalid` naming it, as does
    /// anything else [`list`] refuses (a custom field a later policy
    /// removes then leaves the list, as it does in the core's lists).
    ///
    /// [`list`]: FieldworkDevice::list
    pub fn observe_query(
        &self,
        kind: Kind,
        options: ListOptions,
        observer: Arc<dyn QueryObserver>,
    ) -> Result<Arc<Subscription>> {
        let query = crate::device::list_query(kind, options)?;
        // The core's own refusals (a name not named `x_…`, a cursor with a
        // custom sort) at once too: a query of no rows runs its checks.
        let probe = ListQuery {
            limit: Some(0),
            ..query.clone()
        };
        self.with_store(|s| {
            crate::device::check_custom(s, &query)?;
            s.list(&probe).map(drop)
        })?;
        self.subscribe(Watch::List { query, observer })
    }

    /// Observes a search: the same arguments as [`search`]; the hits at
    /// once, then whenever a change alters them. A negative `limit` fails
    /// at once with `Invalid` (field `limit`).
    ///
    /// [`search`]: FieldworkDevice::search
    pub fn observe_search(
        &self,
        text: String,
        kind: Option<Kind>,
        limit: i32,
        observer: Arc<dyn SearchObserver>,
    ) -> Result<Arc<Subscription>> {
        let limit = crate::ints::not_negative(limit, "limit")?;
        self.subscribe(Watch::Search {
            text,
            kind: kind.map(RecordKind::from),
            limit,
            observer,
        })
    }

    /// Observes one record: its card at once (`None` if it is not on the
    /// device or not readable), then after each change to it, `None` once
    /// it is revoked. A malformed id fails at once with `NotFound`.
    pub fn observe_record(
        &self,
        id: String,
        observer: Arc<dyn RecordObserver>,
    ) -> Result<Arc<Subscription>> {
        let id: RecordId = id
            .parse()
            .map_err(|_| FieldworkError::NotFound { id: id.clone() })?;
        self.subscribe(Watch::Record { id, observer })
    }
}

#[cfg(test)]
mod tests;
