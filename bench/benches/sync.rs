//! Sync at scale, over real WebSockets on loopback.
//!
//! 1. A fresh device's initial sync of 10,000 accounts and 40,000 activities:
//!    time, and bytes on the wire against the documents' saved size.
//! 2. Reconnecting that device when it is already up to date.
//! 3. Latency from an edit on device A (connected live) to its arrival on
//!    device B (connected live), with B alone and with 499 other live
//!    connections that receive every change too.
//!
//! `FW_BENCH_SYNC_ACCOUNTS` (default 10000; activities are 4 per account),
//! `FW_BENCH_LISTENERS` (default 500), `FW_BENCH_EDITS` (default 200).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldwork_bench::{bytes, env_usize, machine, quantile, show};
use fieldwork_core::{FieldWrite, RecordId, RecordKind};
use fieldwork_sdk::{Backoff, DeviceObserver, SyncStatus};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::server::TestServer;
use rand::SeedableRng;
use rand::rngs::StdRng;

struct Arrivals(Mutex<mpsc::Sender<(RecordId, Instant)>>);

impl DeviceObserver for Arrivals {
    fn records_changed(&self, records: &[RecordId]) {
        let now = Instant::now();
        if let Ok(tx) = self.0.lock() {
            for r in records {
                let _ = tx.send((r.clone(), now));
            }
        }
    }
    fn sync_status_changed(&self, _: &SyncStatus) {}
}

fn wait_up_to_date(d: &TestDevice) {
    let t = Instant::now();
    while d.device.status() != SyncStatus::UpToDate {
        assert!(t.elapsed() < Duration::from_secs(120), "never up to date");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let accounts = env_usize("FW_BENCH_SYNC_ACCOUNTS", 10_000);
    let listeners = env_usize("FW_BENCH_LISTENERS", 500);
    let edits = env_usize("FW_BENCH_EDITS", 200);
    let rt = fieldwork_tests::runtime();
    let mut rng = StdRng::seed_from_u64(11);
    println!("## Sync over WebSockets on loopback\n");
    println!("Machine: {}\n", machine());

    // 1 and 2: initial sync and reconnect.
    let server = TestServer::start();
    server.add_user("seed", "admin", &[], None);
    server.add_user("fresh", "admin", &[], None);
    let seed = TestDevice::new(&rt);
    seed.login(&server.url, "seed");
    let mut done = 0;
    while done < accounts {
        let n = 500.min(accounts - done);
        let rows = (0..n)
            .map(|i| {
                vec![
                    FieldWrite::set("name", fieldwork_bench::company(&mut rng)),
                    FieldWrite::set("territory", "madrid"),
                    FieldWrite::set("email", format!("c{}@cliente.example.es", done + i)),
                ]
            })
            .collect();
        let ids = seed.store(|s| s.import(RecordKind::Account, rows));
        let acts = ids
            .iter()
            .flat_map(|id| {
                (0..4).map(move |k| {
                    vec![
                        FieldWrite::set("type", ["call", "meeting", "visit", "task"][k]),
                        FieldWrite::set("subject", format!("Seguimiento {k}")),
                        FieldWrite::set("account", id.to_string()),
                        FieldWrite::set(
                            "due_at",
                            format!("2027-01-{:02}T09:00:00+01:00", 1 + k * 7),
                        ),
                        FieldWrite::set("assignee", "seed"),
                    ]
                })
            })
            .collect();
        seed.store(|s| s.import(RecordKind::Activity, acts));
        done += n;
    }
    let pushed = seed.store(|s| s.outbox_len());
    let t = Instant::now();
    seed.sync();
    let push_time = t.elapsed();
    let saved: u64 = server
        .state
        .db
        .read_blocking(|c| {
            let snapshots: i64 = c.query_row("SELECT COALESCE(sum(length(snapshot)), 0) FROM documents", [], |r| r.get(0))?;
            let tails: i64 = c.query_row(
                "SELECT COALESCE(sum(length(c.bytes)), 0) FROM changes c JOIN documents d ON d.doc_id = c.doc_id WHERE c.seq > d.snapshot_seq",
                [],
                |r| r.get(0),
            )?;
            Ok((snapshots + tails) as u64)
        })
        .expect("sizes");
    let docs = server
        .state
        .db
        .read_blocking(fieldwork_server::db::documents::doc_count)
        .expect("count");

    let proxy = Proxy::start(&server.url);
    let fresh = TestDevice::new(&rt);
    fresh.login(&server.url, "fresh");
    fresh.set_server(&proxy.url);
    let t = Instant::now();
    fresh.sync();
    let initial = t.elapsed();
    let (down, up) = (
        proxy.downstream_bytes() as u64,
        proxy.upstream_bytes() as u64,
    );
    assert_eq!(fresh.store(|s| s.count(RecordKind::Activity)), accounts * 4);
    let mut reconnects = Vec::new();
    let (mut rdown, mut rup) = (0u64, 0u64);
    for _ in 0..5 {
        let (d0, u0) = (proxy.downstream_bytes(), proxy.upstream_bytes());
        let t = Instant::now();
        fresh.sync();
        reconnects.push(t.elapsed());
        rdown = (proxy.downstream_bytes() - d0) as u64;
        rup = (proxy.upstream_bytes() - u0) as u64;
    }
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| seeding device pushes {pushed} changes ({accounts} accounts, {} activities) | {} ({:.0} changes/s) |",
        accounts * 4,
        show(push_time),
        pushed as f64 / push_time.as_secs_f64()
    );
    println!(
        "| fresh device, initial sync of {docs} documents | {} |",
        show(initial)
    );
    println!(
        "| bytes on the wire, server to device / device to server | {} / {} |",
        bytes(down),
        bytes(up)
    );
    println!(
        "| documents' saved size on the server (snapshots + trailing changes) | {} (wire = {:.2}× saved) |",
        bytes(saved),
        down as f64 / saved as f64
    );
    println!(
        "| reconnect when up to date ({docs} documents; median of 5) | {}; {} down, {} up |",
        show(quantile(&mut reconnects, 0.5)),
        bytes(rdown),
        bytes(rup)
    );
    drop(fresh);
    drop(proxy);
    server.stop();

    // 3: live latency, B alone and B among many live connections.
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| c.max_connections = listeners + 16);
    server.add_user("a", "admin", &[], None);
    server.add_user("b", "admin", &[], None);
    server.add_user("watcher", "admin", &[], None);
    let (a, b) = (TestDevice::new(&rt), TestDevice::new(&rt));
    a.login(&server.url, "a");
    b.login(&server.url, "b");
    let targets: Vec<RecordId> = (0..20)
        .map(|i| a.create(RecordKind::Account, &[("name", &format!("Latencia {i}"))]))
        .collect();
    a.sync();
    b.sync();
    let (tx, rx) = mpsc::channel();
    b.device.add_observer(Arc::new(Arrivals(Mutex::new(tx))));
    let (ha, hb) = {
        let _g = rt.enter();
        (
            a.device.start_sync(Backoff::default()),
            b.device.start_sync(Backoff::default()),
        )
    };
    wait_up_to_date(&a);
    wait_up_to_date(&b);
    let watcher_token = rt.block_on(token(&server.url, "watcher"));
    let mut rows = Vec::new();
    let mut drains = Vec::new();
    for connected in [1usize, listeners] {
        // Open the extra live connections (each says hello, catches up, then listens).
        while drains.len() + 1 < connected {
            let url = server.url.clone();
            let t = watcher_token.clone();
            let i = drains.len();
            drains.push(rt.spawn(async move {
                let mut c = RawClient::connect(&url, &t).await.expect("listener");
                c.hello(&format!("listener-{i}")).await;
                c.drain().await
            }));
        }
        std::thread::sleep(Duration::from_millis(500));
        while rx.try_recv().is_ok() {}
        let mut latencies = Vec::new();
        for i in 0..edits {
            let id = &targets[i % targets.len()];
            let t0 = Instant::now();
            a.device
                .update(
                    id,
                    vec![FieldWrite::set("industry", format!("v{connected}-{i}"))],
                )
                .expect("edit");
            loop {
                let (got, at) = rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the edit arrives on B");
                if &got == id && at >= t0 {
                    latencies.push(at - t0);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        rows.push((
            connected,
            quantile(&mut latencies, 0.5),
            quantile(&mut latencies, 0.99),
        ));
    }
    println!("\n| live connections (B included) | edit on A → arrival on B, p50 | p99 |");
    println!("|---|---|---|");
    for (n, p50, p99) in rows {
        println!("| {n} | {} | {} |", show(p50), show(p99));
    }
    rt.block_on(ha.stop());
    rt.block_on(hb.stop());
    server.stop();
    for d in drains {
        let _ = rt.block_on(d);
    }
}
