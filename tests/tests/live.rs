//! Staying connected: changes arrive live, observers hear of them, status
//! is reported, and a dropped link is re-established by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldwork_core::{RecordId, RecordKind};
use fieldwork_sdk::{Backoff, DeviceObserver, SyncStatus};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use fieldwork_tests::wait_until;

#[derive(Default)]
struct Recorder {
    records: Mutex<Vec<RecordId>>,
    statuses: Mutex<Vec<SyncStatus>>,
}

impl DeviceObserver for Recorder {
    fn records_changed(&self, records: &[RecordId]) {
        self.records
            .lock()
            .expect("lock")
            .extend_from_slice(records);
    }
    fn sync_status_changed(&self, status: &SyncStatus) {
        self.statuses.lock().expect("lock").push(status.clone());
    }
}

#[test]
fn a_connected_device_receives_changes_live_and_pushes_its_own() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    server.add_user("marta", "admin", &[], None);
    let (rep, office) = (TestDevice::new(&rt), TestDevice::new(&rt));
    rep.login(&server.url, "ana");
    office.login(&server.url, "marta");
    let recorder = Arc::new(Recorder::default());
    office.device.add_observer(recorder.clone());
    let handle = office.go_live();
    // The rep comes online for a moment: the office sees it without asking.
    let id = rep.create(RecordKind::Account, &[("name", "Visto en directo")]);
    rep.sync();
    // The store has the record a moment before observers are told: wait for
    // the callback itself.
    wait_until(
        "the observer to hear of the live change",
        Duration::from_secs(10),
        || recorder.records.lock().expect("lock").contains(&id),
    );
    assert_eq!(office.get(&id).text("name"), Some("Visto en directo"));
    // The office edits while connected: pushed at once, no sync call.
    office.set(&id, &[("industry", "Retail")]);
    wait_until("the push", Duration::from_secs(10), || {
        office.store(|s| s.outbox_len()) == 0
    });
    rep.sync();
    assert_eq!(rep.get(&id).text("industry"), Some("Retail"));
    let statuses = recorder.statuses.lock().expect("lock").clone();
    assert!(statuses.contains(&SyncStatus::Connecting));
    assert!(statuses.contains(&SyncStatus::UpToDate));
    rt.block_on(handle.stop());
    assert_eq!(office.device.status(), SyncStatus::Offline);
}

#[test]
fn a_dropped_link_is_re_established_with_backoff() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    server.add_user("marta", "admin", &[], None);
    let proxy = Proxy::start(&server.url);
    let (rep, office) = (TestDevice::new(&rt), TestDevice::new(&rt));
    rep.login(&server.url, "ana");
    office.login(&server.url, "marta");
    office.set_server(&proxy.url);
    let handle = {
        let _guard = rt.enter();
        office.device.start_sync(Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        })
    };
    wait_until("up to date", Duration::from_secs(10), || {
        office.device.status() == SyncStatus::UpToDate
    });
    // Every connection now dies after a few KB; the loop keeps reconnecting.
    proxy.cut_after(Some(2_000..6_000));
    proxy.cut_open_connections();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(rep.create(
            RecordKind::Account,
            &[
                ("name", &format!("Cuenta {i}")),
                ("description", &"x".repeat(500)),
            ],
        ));
    }
    rep.sync();
    std::thread::sleep(Duration::from_millis(300));
    proxy.cut_after(None);
    wait_until("every record", Duration::from_secs(30), || {
        ids.iter().all(|id| office.try_get(id).is_some())
    });
    assert!(
        proxy.connections() >= 2,
        "it reconnected ({} connections)",
        proxy.connections()
    );
    rt.block_on(handle.stop());
}

#[test]
fn a_fresh_download_reports_progress_n_of_m() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| c.batch_bytes = 8 * 1024);
    server.add_user("seed", "admin", &[], None);
    server.add_user("fresh", "admin", &[], None);
    let seed = TestDevice::new(&rt);
    seed.login(&server.url, "seed");
    let rows = (0..300)
        .map(|i| {
            vec![fieldwork_core::FieldWrite::set(
                "name",
                format!("Cuenta {i}"),
            )]
        })
        .collect();
    seed.store(|s| s.import(RecordKind::Account, rows));
    seed.sync();
    let fresh = TestDevice::new(&rt);
    fresh.login(&server.url, "fresh");
    let recorder = Arc::new(Recorder::default());
    fresh.device.add_observer(recorder.clone());
    fresh.sync();
    let progress: Vec<(u64, Option<u64>)> = recorder
        .statuses
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|s| match s {
            SyncStatus::Syncing { done, total, .. } => Some((*done, *total)),
            _ => None,
        })
        .collect();
    assert!(
        progress.iter().all(|(_, total)| *total == Some(300)),
        "{progress:?}"
    );
    assert!(
        progress.len() > 2,
        "several steps were reported: {progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "monotonic: {progress:?}"
    );
    assert_eq!(progress.last().map(|p| p.0), Some(300));
}

/// The server's side of a first download is cut into steps: the hello's
/// step sends the welcome and no document, each `Continue` step at most a
/// page (1,000 documents), and the last one the cursor (`UpToDate`). The
/// connection's host sends each step's messages before the next, so the
/// device applies a page while the server reads the next, and at most a
/// page waits in the server's memory.
#[test]
fn a_fresh_download_is_sent_a_page_per_step() {
    use fieldwork_core::sync::protocol::{ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage};
    use fieldwork_server::sync::machine::{Effect, Event, Machine};

    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    let seed = TestDevice::new(&rt);
    seed.login(&server.url, "ana");
    let rows = (0..2_500)
        .map(|i| {
            vec![fieldwork_core::FieldWrite::set(
                "name",
                format!("Tienda {i}"),
            )]
        })
        .collect();
    seed.store(|s| s.import(RecordKind::Account, rows));
    seed.sync();
    let total = seed.store(|s| s.doc_ids()).len();

    let user = server
        .state
        .db
        .read_blocking(|c| fieldwork_server::db::users::by_name(c, "ana"))
        .expect("read")
        .expect("ana");
    let mut machine = Machine::new(
        server.state.clone(),
        user,
        None,
        tokio::time::Instant::now(),
    );
    let sent = |effects: Vec<Effect>| -> Vec<ServerMessage> {
        effects
            .into_iter()
            .map(|e| match e {
                Effect::Send(m) => m,
                Effect::Close(c) => panic!("closed: {c:?}"),
            })
            .collect()
    };
    let docs_in = |messages: &[ServerMessage]| -> usize {
        messages
            .iter()
            .map(|m| match m {
                ServerMessage::Batch(b) => b.docs.len(),
                _ => 0,
            })
            .sum()
    };
    let first = sent(machine.step(Event::Message(ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        device_id: "01JDOWNLOADPAGEPERSTEP0000".into(),
        cursor: None,
        resync: false,
        client: "page-test".into(),
        app_version: None,
        pending_changes: None,
    }))));
    assert!(matches!(first.first(), Some(ServerMessage::Welcome(_))));
    assert_eq!(docs_in(&first), 0, "the hello's step sends no document");
    assert!(machine.has_more());

    let (mut steps, mut received, mut up_to_date) = (0, 0, false);
    while machine.has_more() {
        let messages = sent(machine.step(Event::Continue));
        let n = docs_in(&messages);
        assert!(n <= 1_000, "a step sent {n} documents");
        assert!(!up_to_date, "a page after the cursor");
        up_to_date = messages
            .iter()
            .any(|m| matches!(m, ServerMessage::UpToDate(_)));
        received += n;
        steps += 1;
        assert!(steps < 100, "the download never ends");
    }
    assert!(up_to_date, "the last step sends the cursor");
    assert_eq!(received, total);
    assert!(steps >= 3, "{total} documents in {steps} steps");
}
