//! The dispatcher on a local store (no server): initial snapshot, updates in
//! order, equal results skipped, cancel, close, failing observers.

use std::sync::atomic::AtomicUsize;
use std::sync::{Condvar, Weak};
use std::time::Duration;

use super::*;
use crate::device::tests::{Memory, account, serial};
use crate::keystore::Keystore;
use crate::records::FieldEdit;

fn open(dir: &tempfile::TempDir, name: &str) -> Arc<FieldworkDevice> {
    let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
    FieldworkDevice::open(dir.path().join(name).display().to_string(), keystore).expect("open")
}

fn options(territory: Option<&str>) -> ListOptions {
    ListOptions {
        sort: None,
        descending: false,
        stage: None,
        owner: None,
        territory: territory.map(str::to_owned),
        account: None,
        assignee: None,
        status: None,
        limit: 100,
        offset: 0,
        archived: None,
    }
}

fn in_territory(name: &str, territory: &str) -> Vec<FieldEdit> {
    let mut edits = account(name);
    edits.push(FieldEdit {
        field: "territory".into(),
        value: Some(territory.into()),
        currency: None,
    });
    edits
}

/// Every callback of every observer that shares it, in the order they came.
#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Log {
    fn push(&self, event: String) {
        self.events.lock().expect("log").push(event);
        self.grew.notify_all();
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().expect("log").clone()
    }

    /// Waits until the log holds `n` events; they are returned.
    fn wait_for(&self, n: usize) -> Vec<String> {
        let events = self.events.lock().expect("log");
        let (events, timeout) = self
            .grew
            .wait_timeout_while(events, Duration::from_secs(10), |e| e.len() < n)
            .expect("log");
        assert!(!timeout.timed_out(), "only {:?}", *events);
        events.clone()
    }

    /// Gives the dispatcher time to deliver what it would wrongly deliver.
    fn settle() {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Logs `name: title, title...` per list snapshot; optionally misbehaves.
struct Rows {
    name: &'static str,
    log: Arc<Log>,
    behaviour: Behaviour,
    calls: AtomicUsize,
}

#[derive(Default)]
enum Behaviour {
    #[default]
    Log,
    Throw,
    Panic,
    /// Sleeps this long in each callback.
    Slow(Duration),
    /// Closes this device from its first callback.
    Close(Weak<FieldworkDevice>),
    /// Cancels its own subscription from its second callback.
    CancelSelf(Mutex<Option<Arc<Subscription>>>),
}

impl Rows {
    fn new(name: &'static str, log: &Arc<Log>, behaviour: Behaviour) -> Arc<Rows> {
        Arc::new(Rows {
            name,
            log: Arc::clone(log),
            behaviour,
            calls: AtomicUsize::new(0),
        })
    }
}

impl QueryObserver for Rows {
    fn snapshot(&self, rows: Vec<RecordSummary>) -> Result<(), ObserverError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.behaviour {
            Behaviour::Throw => {
                return Err(ObserverError::Failed {
                    detail: "thrown".into(),
                });
            }
            Behaviour::Panic => panic!("an observer panicked (expected by the test)"),
            Behaviour::Slow(d) => std::thread::sleep(*d),
            Behaviour::Close(device) if call == 0 => {
                if let Some(device) = device.upgrade() {
                    device.close_device();
                }
            }
            Behaviour::CancelSelf(sub) if call == 1 => {
                if let Some(sub) = sub.lock().expect("sub").as_ref() {
                    sub.cancel();
                }
            }
            _ => {}
        }
        let titles: Vec<String> = rows.into_iter().map(|r| r.title).collect();
        self.log
            .push(format!("{}: {}", self.name, titles.join(", ")));
        Ok(())
    }

    fn failed(&self, error: FieldworkError) -> Result<(), ObserverError> {
        self.log.push(format!("{} failed: {error:?}", self.name));
        Ok(())
    }
}

/// Logs each card's title (or `gone`).
struct Card(Arc<Log>);

impl RecordObserver for Card {
    fn changed(&self, record: Option<RecordView>) -> Result<(), ObserverError> {
        self.0.push(match record {
            Some(r) => format!("card: {}", r.title),
            None => "card: gone".into(),
        });
        Ok(())
    }

    fn failed(&self, error: FieldworkError) -> Result<(), ObserverError> {
        self.0.push(format!("card failed: {error:?}"));
        Ok(())
    }
}

#[test]
fn an_initial_snapshot_then_one_per_change_in_subscription_order_and_equal_ones_skipped() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    device
        .create(Kind::Account, in_territory("Alba", "north"))
        .expect("create");
    let log = Arc::new(Log::default());
    let _a = device
        .observe_query(
            Kind::Account,
            options(Some("north")),
            Rows::new("a", &log, Behaviour::Log),
        )
        .expect("a");
    let _b = device
        .observe_query(
            Kind::Account,
            options(Some("north")),
            Rows::new("b", &log, Behaviour::Log),
        )
        .expect("b");
    assert_eq!(log.wait_for(2), ["a: Alba", "b: Alba"]);

    device
        .create(Kind::Account, in_territory("Bosque", "north"))
        .expect("create");
    assert_eq!(log.wait_for(4)[2..], ["a: Alba, Bosque", "b: Alba, Bosque"]);

    // An account elsewhere re-runs the query; the page is the same: nothing.
    device
        .create(Kind::Account, in_territory("Cumbre", "south"))
        .expect("create");
    // A contact is another kind: not even re-run.
    let _ = device.create(
        Kind::Contact,
        vec![FieldEdit {
            field: "name".into(),
            value: Some("Dora".into()),
            currency: None,
        }],
    );
    Log::settle();
    assert_eq!(log.events().len(), 4, "{:?}", log.events());
    device.close_device();
}

#[test]
fn after_cancel_returns_nothing_is_called_and_cancel_is_idempotent() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let sub = device
        .observe_query(
            Kind::Account,
            options(None),
            Rows::new("a", &log, Behaviour::Log),
        )
        .expect("observe");
    assert_eq!(log.wait_for(1), ["a: "]);
    assert!(sub.is_active());
    sub.cancel();
    sub.cancel();
    assert!(!sub.is_active());
    device
        .create(Kind::Account, account("Tarde"))
        .expect("create");
    Log::settle();
    assert_eq!(log.events(), ["a: "]);
    device.close_device();
    sub.cancel(); // after close: harmless
}

#[test]
fn cancel_waits_for_a_callback_in_progress_and_an_observer_may_cancel_itself() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let slow = Rows::new("slow", &log, Behaviour::Slow(Duration::from_millis(300)));
    let sub = device
        .observe_query(Kind::Account, options(None), slow.clone())
        .expect("observe");
    // The initial callback is running (it sleeps before it logs).
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no callback");
        std::thread::sleep(Duration::from_millis(5));
    }
    sub.cancel();
    assert_eq!(
        log.events(),
        ["slow: "],
        "cancel returned before the callback"
    );

    let own = Rows::new("own", &log, Behaviour::CancelSelf(Mutex::new(None)));
    let sub = device
        .observe_query(Kind::Account, options(None), own.clone())
        .expect("observe");
    if let Behaviour::CancelSelf(slot) = &own.behaviour {
        *slot.lock().expect("slot") = Some(Arc::clone(&sub));
    }
    log.wait_for(2);
    device
        .create(Kind::Account, account("Uno"))
        .expect("create");
    assert_eq!(log.wait_for(3)[2], "own: Uno");
    device
        .create(Kind::Account, account("Dos"))
        .expect("create");
    Log::settle();
    assert_eq!(log.events().len(), 3, "{:?}", log.events());
    assert!(!sub.is_active());
    if let Behaviour::CancelSelf(slot) = &own.behaviour {
        slot.lock().expect("slot").take(); // the cycle observer → subscription
    }
    device.close_device();
}

#[test]
fn a_throwing_or_panicking_observer_does_not_stop_the_others_nor_a_slow_one_a_write() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let throws = Rows::new("throws", &log, Behaviour::Throw);
    let panics = Rows::new("panics", &log, Behaviour::Panic);
    let slow = Rows::new("slow", &log, Behaviour::Slow(Duration::from_millis(1000)));
    let _t = device
        .observe_query(Kind::Account, options(None), throws.clone())
        .expect("throws");
    let _p = device
        .observe_query(Kind::Account, options(None), panics.clone())
        .expect("panics");
    let _s = device
        .observe_query(Kind::Account, options(None), slow)
        .expect("slow");
    let _ok = device
        .observe_query(
            Kind::Account,
            options(None),
            Rows::new("ok", &log, Behaviour::Log),
        )
        .expect("ok");
    log.wait_for(2);

    let started = Instant::now();
    device
        .create(Kind::Account, account("Rápida"))
        .expect("create");
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "a write waited for a slow observer: {:?}",
        started.elapsed()
    );
    let events = log.wait_for(4);
    assert_eq!(events, ["slow: ", "ok: ", "slow: Rápida", "ok: Rápida"]);
    // The failing ones were called each time and are called again.
    assert_eq!(throws.calls.load(Ordering::SeqCst), 2);
    assert_eq!(panics.calls.load(Ordering::SeqCst), 2);
    device.close_device();
}

#[test]
fn close_ends_every_subscription_and_nothing_is_called_after_it() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let sub = device
        .observe_query(
            Kind::Account,
            options(None),
            Rows::new("a", &log, Behaviour::Log),
        )
        .expect("observe");
    log.wait_for(1);
    device.close_device();
    assert!(!sub.is_active());
    assert!(matches!(
        device.observe_record("account:x".into(), Arc::new(Card(Arc::clone(&log)))),
        Err(FieldworkError::Closed)
    ));
    sub.cancel();
    Log::settle();
    assert_eq!(log.events(), ["a: "]);
}

#[test]
fn an_observer_may_close_its_device_from_its_callback() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d.db").display().to_string();
    let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
    let device = FieldworkDevice::open(path.clone(), keystore.clone()).expect("open");
    let log = Arc::new(Log::default());
    let closer = Rows::new("closer", &log, Behaviour::Close(Arc::downgrade(&device)));
    let sub = device
        .observe_query(Kind::Account, options(None), closer)
        .expect("observe");
    log.wait_for(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sub.is_active() {
        assert!(
            Instant::now() < deadline,
            "the callback's close did not end"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(
        device.count(Kind::Account),
        Err(FieldworkError::Closed)
    ));
    FieldworkDevice::open(path, keystore).expect("released");
}

#[test]
fn a_record_subscription_sees_its_changes_and_a_wipe_ends_it_with_the_error() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let id = device
        .create(Kind::Account, account("Antes"))
        .expect("create");
    let log = Arc::new(Log::default());
    let _sub = device
        .observe_record(id.clone(), Arc::new(Card(Arc::clone(&log))))
        .expect("observe");
    let _missing = device
        .observe_record("account:missing".into(), Arc::new(Card(Arc::clone(&log))))
        .expect("a record not on the device");
    assert_eq!(log.wait_for(2), ["card: Antes", "card: gone"]);
    device
        .update(id.clone(), account("Después"))
        .expect("update");
    // Another record: the card is not re-read.
    device
        .create(Kind::Account, account("Otra"))
        .expect("create");
    assert_eq!(log.wait_for(3)[2], "card: Después");
    assert!(matches!(
        device.observe_record("not an id".into(), Arc::new(Card(Arc::clone(&log)))),
        Err(FieldworkError::NotFound { .. })
    ));

    device.wipe().expect("wipe");
    let events = log.wait_for(5);
    assert_eq!(events[3..], ["card failed: Wiped", "card failed: Wiped"]);
    Log::settle();
    assert_eq!(log.events().len(), 5, "{:?}", log.events());
    device.close_device();
}

/// Logs listener calls (record notices only).
struct Listener {
    name: &'static str,
    log: Arc<Log>,
    panics: bool,
}

impl crate::sync::DeviceListener for Listener {
    fn records_changed(&self, ids: Vec<String>) {
        if self.panics {
            panic!("a listener panicked (expected by the test)");
        }
        self.log
            .push(format!("{}: {} changed", self.name, ids.len()));
    }

    fn sync_status_changed(&self, _status: crate::sync::SyncStatus) {}
}

#[test]
fn listeners_share_the_dispatcher_in_order_and_cancel_removes_one() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let panicking = device
        .add_listener(Arc::new(Listener {
            name: "panics",
            log: Arc::clone(&log),
            panics: true,
        }))
        .expect("listener");
    let first = device
        .add_listener(Arc::new(Listener {
            name: "first",
            log: Arc::clone(&log),
            panics: false,
        }))
        .expect("listener");
    let _rows = device
        .observe_query(
            Kind::Account,
            options(None),
            Rows::new("rows", &log, Behaviour::Log),
        )
        .expect("observe");
    log.wait_for(1);
    // Dropping a listener's subscription does not remove it.
    drop(panicking);
    device
        .create(Kind::Account, account("Uno"))
        .expect("create");
    device
        .create(Kind::Account, account("Dos"))
        .expect("create");
    // Every notice reaches the listener, in order; the list may coalesce.
    let deadline = Instant::now() + Duration::from_secs(10);
    while log
        .events()
        .iter()
        .filter(|e| e.starts_with("first"))
        .count()
        < 2
        || !log.events().iter().any(|e| e == "rows: Dos, Uno")
    {
        assert!(Instant::now() < deadline, "{:?}", log.events());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(log.events().iter().all(|e| !e.starts_with("panics")));

    first.cancel();
    let before = log.events().len();
    device
        .create(Kind::Account, account("Tres"))
        .expect("create");
    assert_eq!(log.wait_for(before + 1)[before], "rows: Dos, Tres, Uno");
    Log::settle();
    assert_eq!(log.events().len(), before + 1, "{:?}", log.events());
    device.close_device();
}
