//! Links that drop mid-sync, devices offline for long, servers killed with
//! SIGKILL or restored from an old backup: nothing is lost or duplicated.

use std::collections::HashSet;
use std::time::Duration;

use fieldwork_core::automerge::ChangeHash;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::replicas::{device_docs, server_change_counts, server_docs};
use fieldwork_tests::runtime;
use fieldwork_tests::server::{ServerProcess, TestServer, add_user_offline};
use rand::Rng;

fn assert_same_docs(a: &TestDevice, b: &TestDevice) {
    let (da, db) = (device_docs(a), device_docs(b));
    assert_eq!(
        da.keys().collect::<Vec<_>>(),
        db.keys().collect::<Vec<_>>(),
        "same documents"
    );
    for (doc, state) in &da {
        assert_eq!(state.heads, db[doc].heads, "{doc}");
        assert_eq!(state.content, db[doc].content, "{doc}");
    }
}

/// Syncs until it succeeds (the proxy keeps cutting connections).
fn sync_through_cuts(d: &TestDevice, max_attempts: usize) {
    for _ in 0..max_attempts {
        if d.try_sync().is_ok() {
            return;
        }
    }
    panic!("no sync succeeded in {max_attempts} attempts");
}

#[test]
fn a_link_cut_at_random_points_loses_and_duplicates_nothing() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    server.add_user("luis", "admin", &[], None);
    let proxy = Proxy::start(&server.url);
    let (a, b) = (TestDevice::new(&rt), TestDevice::new(&rt));
    a.login(&server.url, "ana");
    b.login(&server.url, "luis");
    a.set_server(&proxy.url);
    b.set_server(&proxy.url);
    let mut ids = Vec::new();
    for i in 0..150 {
        let id = a.create(
            RecordKind::Account,
            &[("name", &format!("Cuenta {i}")), ("territory", "madrid")],
        );
        a.set(
            &id,
            &[(
                "description",
                &"Notas de la visita, muy largas. ".repeat(20),
            )],
        );
        ids.push(id);
    }
    b.create(RecordKind::Account, &[("name", "De Luis")]);
    // One cut for certain on each device (a welcome alone is larger than
    // 1 KB), then every connection cut after somewhere between 300 bytes
    // and 40 KB. The random cut points may all fall after a sync's last
    // byte (the proxy draws them from the OS's randomness), so only the
    // forced cuts are asserted.
    proxy.cut_after(Some(1_000..1_001));
    assert!(a.try_sync().is_err(), "a's first sync is cut");
    assert!(b.try_sync().is_err(), "b's first sync is cut");
    proxy.cut_after(Some(300..40_000));
    sync_through_cuts(&a, 200);
    sync_through_cuts(&b, 200);
    sync_through_cuts(&a, 200);
    assert!(proxy.cuts() >= 2, "the proxy cut connections");
    proxy.cut_after(None);
    a.sync();
    b.sync();
    for id in &ids {
        assert!(
            b.get(id)
                .text("description")
                .is_some_and(|d| d.starts_with("Notas"))
        );
    }
    assert_same_docs(&a, &b);
    assert_eq!(a.store(|s| s.outbox_len()), 0);
    let (total, distinct) = server_change_counts(&server);
    assert_eq!(total, distinct, "nothing stored twice");
    assert_eq!(distinct, 150 * 2 + 1, "every change stored once");
}

#[test]
fn a_device_offline_for_long_with_thousands_of_changes_reconnects() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    server.add_user("luis", "admin", &[], None);
    let (a, b) = (TestDevice::new(&rt), TestDevice::new(&rt));
    a.login(&server.url, "ana");
    b.login(&server.url, "luis");
    let shared = a.create(RecordKind::Account, &[("name", "Compartida")]);
    a.sync();
    b.sync();
    // A works offline for a long time; B keeps working online.
    let mut mine = Vec::new();
    for i in 0..300 {
        let id = a.create(RecordKind::Account, &[("name", &format!("Offline {i}"))]);
        for j in 0..9 {
            a.set(&id, &[("industry", &format!("sector {j}"))]);
        }
        mine.push(id);
    }
    for j in 0..50 {
        b.set(&shared, &[("city", &format!("ciudad {j}"))]);
        b.sync();
    }
    let pending = a.store(|s| s.outbox_len());
    assert!(pending >= 3000, "{pending} changes waiting");
    let report = a.sync();
    assert_eq!(report.pushed, pending);
    b.sync();
    assert_eq!(a.get(&shared).text("city"), Some("ciudad 49"));
    assert_eq!(b.get(&mine[299]).text("industry"), Some("sector 8"));
    assert_same_docs(&a, &b);
}

#[test]
fn every_change_acknowledged_before_a_kill_9_survives_it() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    add_user_offline(dir.path(), "ana", "admin", &[]);
    let server = ServerProcess::start(dir.path());
    let a = TestDevice::new(&rt);
    a.login(&server.url, "ana");
    for i in 0..400 {
        a.create(
            RecordKind::Account,
            &[
                ("name", &format!("Cuenta {i}")),
                ("email", &format!("c{i}@example.es")),
            ],
        );
    }
    let created: Vec<ChangeHash> = a
        .store(|s| s.pending(usize::MAX, usize::MAX))
        .into_iter()
        .map(|p| p.hash)
        .collect();
    // Small pushes, so that some are acknowledged before the kill.
    let device = a.device.clone();
    let syncing = rt.spawn(async move { device.sync_once(Duration::from_secs(60)).await });
    std::thread::sleep(Duration::from_millis(rand::rng().random_range(20..400)));
    server.kill_9();
    let _ = rt.block_on(syncing);
    let unacknowledged: HashSet<ChangeHash> = a
        .store(|s| s.pending(usize::MAX, usize::MAX))
        .into_iter()
        .map(|p| p.hash)
        .collect();
    let acknowledged: Vec<&ChangeHash> = created
        .iter()
        .filter(|h| !unacknowledged.contains(h))
        .collect();

    // Read what the killed server's database holds.
    let conn =
        rusqlite::Connection::open(dir.path().join("server.db")).expect("open killed server's db");
    let stored: HashSet<Vec<u8>> = {
        let mut stmt = conn.prepare("SELECT hash FROM changes").expect("query");
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect()
    };
    drop(conn);
    for hash in &acknowledged {
        assert!(
            stored.contains(hash.0.as_slice()),
            "acknowledged change {hash} was lost"
        );
    }
    // Restart: the device finishes, and everything is there exactly once.
    let server = ServerProcess::start(dir.path());
    a.set_server(&server.url);
    a.sync();
    assert_eq!(a.store(|s| s.outbox_len()), 0);
    let conn = rusqlite::Connection::open(dir.path().join("server.db")).expect("open");
    let (total, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT hash) FROM changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(
        (total, distinct),
        (created.len() as i64, created.len() as i64)
    );
    eprintln!(
        "{} of {} changes were acknowledged before the kill",
        acknowledged.len(),
        created.len()
    );
}

#[test]
fn a_server_restored_from_an_old_backup_is_repaired_by_comparing_documents() {
    let rt = runtime();
    let live = tempfile::tempdir().expect("tempdir");
    let backup = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(live.path(), |_| {});
    server.add_user("ana", "admin", &[], None);
    server.add_user("luis", "admin", &[], None);
    let (a, b) = (TestDevice::new(&rt), TestDevice::new(&rt));
    a.login(&server.url, "ana");
    b.login(&server.url, "luis");
    let early = a.create(RecordKind::Account, &[("name", "Antes del backup")]);
    a.sync();
    b.sync();
    // The nightly backup, taken while the server runs.
    server
        .state
        .db
        .backup(&backup.path().join("server.db"))
        .expect("backup");
    let late_a = a.create(RecordKind::Account, &[("name", "Después, de Ana")]);
    a.set(&early, &[("industry", "Retail")]);
    a.sync();
    let late_b = b.create(RecordKind::Account, &[("name", "Después, de Luis")]);
    b.sync();
    a.sync();
    server.stop();
    // Disaster: the server comes back from the old backup.
    let restored = TestServer::start_in(backup.path(), |_| {});
    a.set_server(&restored.url);
    b.set_server(&restored.url);
    let c = TestDevice::new(&rt);
    c.login(&restored.url, "ana");
    for _ in 0..2 {
        a.sync();
        b.sync();
    }
    c.sync();
    for d in [&a, &b, &c] {
        assert_eq!(d.get(&late_a).text("name"), Some("Después, de Ana"));
        assert_eq!(d.get(&late_b).text("name"), Some("Después, de Luis"));
        assert_eq!(d.get(&early).text("industry"), Some("Retail"));
    }
    assert_same_docs(&a, &b);
    assert_same_docs(&a, &c);
    let ids: Vec<String> = device_docs(&a).into_keys().collect();
    let on_server = server_docs(&restored, &ids);
    assert_eq!(
        on_server.len(),
        ids.len(),
        "the restored server has every document again"
    );
}

#[test]
fn syncing_without_a_server_fails_clearly_and_keeps_local_work() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    let a = TestDevice::new(&rt);
    a.login(&server.url, "ana");
    let url = server.url.clone();
    server.stop();
    let id: RecordId = a.create(RecordKind::Account, &[("name", "Sin cobertura")]);
    let before = a.store(|s| s.outbox_len());
    let err = a.try_sync().expect_err("no server");
    assert!(matches!(err, fieldwork_sdk::SdkError::Network(_)), "{err}");
    assert!(err.to_string().contains("cannot reach the server"), "{err}");
    assert_eq!(a.store(|s| s.outbox_len()), before);
    assert_eq!(a.get(&id).text("name"), Some("Sin cobertura"));
    drop(url);
}

/// The issue-19 crash test: a phone killed with SIGKILL while its first
/// sync is downloading (the CLI device as a child process, killed each time
/// its store has grown by 400 documents, three times over), then started
/// again, ends with every record exactly once, every document loading, and
/// a cursor.
#[test]
fn a_device_killed_during_its_first_sync_ends_with_every_record_once() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    const ACCOUNTS: usize = 1_500;
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("seed", "admin", &[], None);
    server.add_user("fresh", "admin", &[], None);
    let seed = TestDevice::new(&rt);
    seed.login(&server.url, "seed");
    let rows = (0..ACCOUNTS)
        .map(|i| {
            vec![
                fieldwork_core::FieldWrite::set("name", format!("Almacenes {i}")),
                fieldwork_core::FieldWrite::set("city", "Zaragoza"),
                fieldwork_core::FieldWrite::set("email", format!("pedidos{i}@example.es")),
            ]
        })
        .collect();
    let accounts: HashSet<RecordId> = seed
        .store(|s| s.import(RecordKind::Account, rows))
        .into_iter()
        .collect();
    let acts = accounts
        .iter()
        .map(|a| {
            vec![
                fieldwork_core::FieldWrite::set("type", "visit"),
                fieldwork_core::FieldWrite::set("subject", "Revisión del pedido"),
                fieldwork_core::FieldWrite::set("account", a.to_string()),
            ]
        })
        .collect();
    seed.store(|s| s.import(RecordKind::Activity, acts));
    seed.sync();
    let docs: HashSet<String> = device_docs(&seed).into_keys().collect();

    let data = tempfile::tempdir().expect("data dir");
    let cli = fieldwork_tests::server::binary("fieldwork");
    let fieldwork = |args: &[&str]| {
        let mut c = Command::new(&cli);
        c.args(args)
            .env("FIELDWORK_DATA", data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut login = fieldwork(&[
        "login",
        "--server",
        &server.url,
        "--user",
        "fresh",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .spawn()
    .expect("login");
    login
        .stdin
        .take()
        .expect("stdin")
        .write_all(fieldwork_tests::server::PASSWORD.as_bytes())
        .expect("password");
    assert!(login.wait().expect("login ends").success());

    // Kill the download three times, each once at least 400 more documents
    // are stored than at the previous kill: read while the device writes
    // (the store is SQLite in WAL mode; the key is the device's file).
    let stored = || -> usize {
        let Ok(key) = std::fs::read(data.path().join("keys").join("store-key")) else {
            return 0;
        };
        let open = || -> rusqlite::Result<usize> {
            let conn = rusqlite::Connection::open_with_flags(
                data.path().join("device.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(&key)))?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.query_row("SELECT count(*) FROM documents", [], |r| r.get(0))
        };
        open().unwrap_or(0)
    };
    let mut interrupted = 0;
    for _ in 0..3 {
        let target = stored() + 400;
        let mut sync = fieldwork(&["sync"]).spawn().expect("sync");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while stored() < target && std::time::Instant::now() < deadline {
            if sync.try_wait().expect("poll").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if sync.try_wait().expect("poll").is_none() {
            sync.kill().expect("kill -9");
            interrupted += 1;
        }
        let _ = sync.wait();
    }
    let partial = {
        let d = TestDevice::open(&rt, data.path());
        d.store(|s| s.count(RecordKind::Account)) + d.store(|s| s.count(RecordKind::Activity))
    };
    assert!(interrupted > 0, "no sync was still running when killed");
    assert!(partial > 0, "no batch was stored before the kills");
    assert!(
        partial < 2 * ACCOUNTS,
        "the kills came after the download ended ({partial} records): the test proves nothing"
    );

    let done = fieldwork(&["sync"]).status().expect("sync to the end");
    assert!(done.success());
    let device = TestDevice::open(&rt, data.path());
    assert_eq!(device.store(|s| s.count(RecordKind::Account)), ACCOUNTS);
    assert_eq!(device.store(|s| s.count(RecordKind::Activity)), ACCOUNTS);
    let listed: Vec<RecordId> = device
        .store(|s| {
            s.list(&fieldwork_core::ListQuery {
                kind: Some(RecordKind::Account),
                limit: Some(10 * ACCOUNTS),
                ..Default::default()
            })
        })
        .into_iter()
        .map(|summary| summary.id)
        .collect();
    assert_eq!(listed.len(), ACCOUNTS, "an account listed twice or missing");
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), accounts);
    let held: HashSet<String> = device_docs(&device).into_keys().collect();
    assert_eq!(held, docs);
    assert!(
        device.store(|s| s.verify()).is_empty(),
        "every document loads"
    );
    assert!(device.store(|s| s.cursor()).is_some());
}
