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
        after: None,
        archived: None,
        custom: Default::default(),
        sort_custom: None,
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
    /// Closes this device from its first callback, after sleeping this long.
    Close(Weak<FieldworkDevice>, Duration),
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
            Behaviour::Close(device, pause) if call == 0 => {
                std::thread::sleep(*pause);
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

    fn ended(&self) -> Result<(), ObserverError> {
        self.log.push(format!("{} ended", self.name));
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

    fn ended(&self) -> Result<(), ObserverError> {
        self.0.push("card ended".into());
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
    assert_eq!(log.events(), ["a: "], "no `ended` after the app's cancel");
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
fn close_ends_every_subscription_with_one_ended_and_nothing_after_it() {
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
    let _card = device
        .observe_record("account:x".into(), Arc::new(Card(Arc::clone(&log))))
        .expect("observe");
    log.wait_for(2);
    device.close_device();
    // `close_device` returned once every `ended` was delivered.
    assert_eq!(log.events()[2..], ["a ended", "card ended"]);
    assert!(!sub.is_active());
    assert!(matches!(
        device.observe_record("account:x".into(), Arc::new(Card(Arc::clone(&log)))),
        Err(FieldworkError::Closed)
    ));
    assert!(matches!(
        device.observe_query(
            Kind::Account,
            options(None),
            Rows::new("b", &log, Behaviour::Log)
        ),
        Err(FieldworkError::Closed)
    ));
    device.close_device();
    sub.cancel();
    Log::settle();
    assert_eq!(log.events().len(), 4, "{:?}", log.events());
}

#[test]
fn close_waits_for_a_running_callback_then_ends_its_subscription() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    let slow = Rows::new("slow", &log, Behaviour::Slow(Duration::from_millis(300)));
    let _sub = device
        .observe_query(Kind::Account, options(None), slow.clone())
        .expect("observe");
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no callback");
        std::thread::sleep(Duration::from_millis(5));
    }
    device.close_device();
    assert_eq!(log.events(), ["slow: ", "slow ended"]);
}

/// Runs `f` on another thread; fails the test if it has not returned
/// within ten seconds (a deadlock).
fn returns_in_time(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("did not return in time: a deadlock");
}

#[test]
fn an_observer_may_close_its_device_from_its_callback_and_is_then_ended() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d.db").display().to_string();
    let keystore: Arc<dyn Keystore> = Arc::new(Memory::default());
    let device = FieldworkDevice::open(path.clone(), keystore.clone()).expect("open");
    let log = Arc::new(Log::default());
    let other = device
        .observe_query(
            Kind::Account,
            options(None),
            Rows::new("other", &log, Behaviour::Log),
        )
        .expect("observe");
    let closer = Rows::new(
        "closer",
        &log,
        Behaviour::Close(Arc::downgrade(&device), Duration::ZERO),
    );
    let sub = device
        .observe_query(Kind::Account, options(None), closer)
        .expect("observe");
    // The closer's first callback closes the device; both subscriptions
    // are ended once it returns, its own included.
    let events = log.wait_for(4);
    assert_eq!(
        events,
        ["other: ", "closer: ", "other ended", "closer ended"]
    );
    assert!(!sub.is_active() && !other.is_active());
    let again = Arc::clone(&device);
    returns_in_time(move || again.close_device());
    assert!(matches!(
        device.count(Kind::Account),
        Err(FieldworkError::Closed)
    ));
    Log::settle();
    assert_eq!(log.events().len(), 4, "{:?}", log.events());
    drop((sub, other));
    FieldworkDevice::open(path, keystore).expect("released");
}

#[test]
fn closing_from_a_callback_while_another_thread_closes_does_not_deadlock() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "d.db");
    let log = Arc::new(Log::default());
    // It closes the device 200 ms into its callback: the test's own close
    // is waiting for that callback by then.
    let closer = Rows::new(
        "closer",
        &log,
        Behaviour::Close(Arc::downgrade(&device), Duration::from_millis(200)),
    );
    let _sub = device
        .observe_query(Kind::Account, options(None), closer.clone())
        .expect("observe");
    let deadline = Instant::now() + Duration::from_secs(10);
    while closer.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no callback");
        std::thread::sleep(Duration::from_millis(5));
    }
    let closing = Arc::clone(&device);
    returns_in_time(move || closing.close_device());
    assert_eq!(log.wait_for(2), ["closer: ", "closer ended"]);
    Log::settle();
    assert_eq!(log.events().len(), 2, "{:?}", log.events());
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
    let events = log.wait_for(7);
    assert_eq!(
        events[3..],
        [
            "card failed: Wiped",
            "card ended",
            "card failed: Wiped",
            "card ended"
        ]
    );
    // Closing afterwards does not end them again.
    device.close_device();
    Log::settle();
    assert_eq!(log.events().len(), 7, "{:?}", log.events());
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

#[test]
fn a_custom_name_list_refuses_is_refused_at_once_and_no_observer_is_called() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("dir");
    let device = open(&dir, "custom.db");
    crate::device::tests::sign_in_rep(&device, &crate::device::tests::custom_policy());
    let log = Arc::new(Log::default());
    let rows = Rows::new("rows", &log, Behaviour::Log);
    for name in ["x_margin", "x_nope", "name"] {
        let mut bad = options(None);
        bad.sort_custom = Some(name.into());
        match device.observe_query(Kind::Account, bad, rows.clone()) {
            Err(FieldworkError::Invalid {
                field: Some(field), ..
            }) => assert_eq!(field, name),
            other => panic!("expected Invalid naming {name}, got {other:?}"),
        }
    }
    Log::settle();
    assert!(log.events().is_empty(), "{:?}", log.events());
    let mut acme = in_territory("Acme", "north");
    acme.push(FieldEdit {
        field: "x_segment".into(),
        value: Some("smb".into()),
        currency: None,
    });
    device.create(Kind::Account, acme).expect("create");
    device
        .create(Kind::Account, in_territory("Beta", "north"))
        .expect("create");
    let mut good = options(None);
    good.custom = [("x_segment".to_owned(), "smb".to_owned())].into();
    let subscription = device
        .observe_query(Kind::Account, good, rows.clone())
        .expect("a readable custom field is observed");
    assert_eq!(log.wait_for(1), ["rows: Acme"]);
    subscription.cancel();
    device.close_device();
}
