//! A fresh device's initial sync of realistic records (issue 19), over real
//! WebSockets on loopback.
//!
//! Accounts carry 13 filled fields (name, e-mail, phone, website, street,
//! city, postal code, country, territory, owner, stage, industry,
//! description) and activities 9 (type, subject, status, owner, assignee,
//! due date, duration, topic, account); one account in five records, four
//! activities per account. One server is seeded in steps: 5,000 records,
//! then up to 50,000 (and 100,000 with `FIELDWORK_BENCH_BIG=1`); after each
//! step a new device signs in and syncs from nothing.
//! `FIELDWORK_BENCH_SIZES=5000,20000` replaces the list of sizes (a quick
//! look, or one size for a profiler); `FIELDWORK_BENCH_DEVICE_PREFIX`
//! runs the fresh device under a command (`perf record -g -o device.data`).
//!
//! Reported per size: the seeding device's upload, the fresh device's
//! initial sync (from `sync_once` to its return, documents applied and
//! indexed), bytes from the server to the device, documents applied per
//! second, and the fresh device's peak RSS during its sync (`VmHWM` after
//! resetting it with `/proc/self/clear_refs`): the fresh device runs in a
//! child process of its own (this binary again), so the figure is the
//! device's alone, Tokio runtime and SQLCipher included.

use std::time::Instant;

use fieldwork_bench::{bytes, machine, show};
use fieldwork_core::{FieldWrite, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::server::TestServer;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const STAGES: &[&str] = &["lead", "prospect", "customer", "loyal", "churned"];
const INDUSTRIES: &[&str] = &[
    "construcción",
    "logística",
    "farmacia",
    "alimentación",
    "maquinaria",
    "asesoría",
    "hostelería",
    "építőipar",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Madrid", "280", "ES"),
    ("Barcelona", "080", "ES"),
    ("Sevilla", "410", "ES"),
    ("Zaragoza", "500", "ES"),
    ("Valencia", "460", "ES"),
    ("Budapest", "10", "HU"),
    ("Debrecen", "40", "HU"),
    ("Szeged", "67", "HU"),
];
const STREETS: &[&str] = &[
    "Calle Mayor",
    "Avenida de la Constitución",
    "Paseo de Gracia",
    "Calle Alcalá",
    "Andrássy út",
    "Váci utca",
    "Rákóczi út",
    "Calle de Toledo",
];
const TERRITORIES: &[&str] = &["north", "south", "east", "west", "centre"];
const WORDS: &[&str] = &[
    "cliente",
    "pedido",
    "entrega",
    "presupuesto",
    "revisión",
    "contrato",
    "renovación",
    "almacén",
    "furgoneta",
    "ajánlat",
    "szállítás",
    "garantía",
    "descuento",
    "visita",
    "mantenimiento",
];
const OWNERS: &[&str] = &["seed", "ana", "jozsef", "maria"];

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words)
        .map(|_| *WORDS.choose(rng).unwrap_or(&"cliente"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn account(rng: &mut StdRng, n: usize) -> Vec<FieldWrite> {
    let name = fieldwork_bench::company(rng);
    let (city, postal, country) = *CITIES.choose(rng).unwrap_or(&CITIES[0]);
    let slug: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_lowercase();
    let phone = if country == "ES" {
        format!(
            "+34 6{:02} {:03} {:03}",
            rng.random_range(0..100),
            rng.random_range(0..1000),
            n % 1000
        )
    } else {
        format!("+36 30 {:03} {:04}", rng.random_range(0..1000), n % 10_000)
    };
    let words = rng.random_range(8..20);
    vec![
        FieldWrite::set("name", name.clone()),
        FieldWrite::set("email", format!("info{n}@{slug}.example.es")),
        FieldWrite::set("phone", phone),
        FieldWrite::set("website", format!("https://www.{slug}{n}.example.es")),
        FieldWrite::set(
            "street",
            format!(
                "{} {}",
                STREETS.choose(rng).unwrap_or(&STREETS[0]),
                rng.random_range(1..200)
            ),
        ),
        FieldWrite::set("city", city),
        FieldWrite::set(
            "postal_code",
            format!("{postal}{:02}", rng.random_range(1..99)),
        ),
        FieldWrite::set("country", country),
        FieldWrite::set("territory", *TERRITORIES.choose(rng).unwrap_or(&"north")),
        FieldWrite::set("owner", *OWNERS.choose(rng).unwrap_or(&"seed")),
        FieldWrite::set("stage", *STAGES.choose(rng).unwrap_or(&"lead")),
        FieldWrite::set("industry", *INDUSTRIES.choose(rng).unwrap_or(&"farmacia")),
        FieldWrite::set("description", sentence(rng, words)),
    ]
}

fn activity(rng: &mut StdRng, account: &str, k: usize) -> Vec<FieldWrite> {
    let words = rng.random_range(5..15);
    vec![
        FieldWrite::set(
            "type",
            ["call", "meeting", "visit", "email", "task"][(k + rng.random_range(0..5)) % 5],
        ),
        FieldWrite::set(
            "subject",
            format!(
                "{} {}",
                ["Seguimiento", "Visita", "Llamada", "Oferta"][k % 4],
                sentence(rng, 2)
            ),
        ),
        FieldWrite::set(
            "status",
            ["planned", "done", "cancelled"][rng.random_range(0..3)],
        ),
        FieldWrite::set("owner", *OWNERS.choose(rng).unwrap_or(&"seed")),
        FieldWrite::set("assignee", *OWNERS.choose(rng).unwrap_or(&"seed")),
        FieldWrite::set(
            "due_at",
            format!(
                "2027-{:02}-{:02}T{:02}:{:02}:00+01:00",
                rng.random_range(1..13),
                rng.random_range(1..29),
                rng.random_range(8..19),
                [0, 15, 30, 45][k % 4]
            ),
        ),
        FieldWrite::set("duration_minutes", 15 * rng.random_range(1..9i64)),
        FieldWrite::set("topic", sentence(rng, words)),
        FieldWrite::set("account", account.to_string()),
    ]
}

/// Resets the process's peak RSS (Linux ≥ 4.0); false if not possible.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak RSS in bytes, from `VmHWM`.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What the fresh device measured, in its own process.
struct Fresh {
    initial: std::time::Duration,
    docs: usize,
    accounts: usize,
    activities: usize,
    peak: Option<u64>,
}

/// Runs the fresh device in a child process (this binary again, with
/// `FIELDWORK_BENCH_DEVICE` set), so that its peak memory is its own: signs
/// in at `server`, syncs through `proxy` and reports.
fn fresh_device_in_child(server: &str, proxy: &str, user: &str) -> Fresh {
    let exe = std::env::current_exe().expect("own path");
    // `FIELDWORK_BENCH_DEVICE_PREFIX="perf record -g -o device.data"`
    // profiles the device alone.
    let prefix = std::env::var("FIELDWORK_BENCH_DEVICE_PREFIX").unwrap_or_default();
    let mut words = prefix.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = std::process::Command::new(program);
            c.args(words).arg(&exe);
            c
        }
        None => std::process::Command::new(&exe),
    };
    let out = command
        .env(CHILD, format!("{server} {proxy} {user}"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the fresh device");
    assert!(out.status.success(), "the fresh device failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("fresh-device "))
        .expect("the fresh device's report");
    let v: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    Fresh {
        initial: std::time::Duration::from_micros(v[0]),
        docs: v[1] as usize,
        accounts: v[2] as usize,
        activities: v[3] as usize,
        peak: (v[4] > 0).then_some(v[4]),
    }
}

/// The environment variable that makes this binary the fresh device.
const CHILD: &str = "FIELDWORK_BENCH_DEVICE";

/// The fresh device's side: sign in, reset the peak RSS, sync from
/// nothing, print `fresh-device <µs> <documents> <accounts> <activities>
/// <peak bytes or 0>`.
fn run_fresh_device(spec: &str) {
    let mut parts = spec.split(' ');
    let (Some(server), Some(proxy), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("{CHILD} must be `server proxy user`");
    };
    let rt = fieldwork_tests::runtime();
    let fresh = TestDevice::new(&rt);
    fresh.login(server, user);
    fresh.set_server(proxy);
    let peak_ok = reset_peak();
    let t = Instant::now();
    fresh.sync();
    let initial = t.elapsed();
    let peak = peak_rss().filter(|_| peak_ok).unwrap_or(0);
    let docs = fresh.store(|s| s.doc_ids()).len();
    let accounts = fresh.store(|s| s.count(RecordKind::Account));
    let activities = fresh.store(|s| s.count(RecordKind::Activity));
    println!(
        "fresh-device {} {docs} {accounts} {activities} {peak}",
        initial.as_micros()
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        run_fresh_device(&spec);
        return;
    }
    let mut sizes = vec![5_000usize, 50_000];
    if std::env::var_os("FIELDWORK_BENCH_BIG").is_some() {
        sizes.push(100_000);
    }
    if let Ok(s) = std::env::var("FIELDWORK_BENCH_SIZES") {
        sizes = s.split(',').filter_map(|x| x.trim().parse().ok()).collect();
    }
    let rt = fieldwork_tests::runtime();
    let mut rng = StdRng::seed_from_u64(19);
    println!("## First sync of realistic records (issue 19)\n");
    println!("Machine: {}\n", machine());

    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |_| {});
    server.add_user("seed", "admin", &[], None);
    for o in OWNERS {
        if *o != "seed" {
            server.add_user(o, "admin", &[], None);
        }
    }
    let seed = TestDevice::new(&rt);
    seed.login(&server.url, "seed");
    let proxy = Proxy::start(&server.url);

    println!(
        "| records (accounts + activities) | upload from seeding device | fresh device initial sync | bytes to device | device applies | device peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    let mut records = 0usize;
    for (step, &size) in sizes.iter().enumerate() {
        let seed_t = Instant::now();
        let before = records;
        while records < size {
            let accounts = (size - records).div_ceil(5).min(500);
            let rows: Vec<_> = (0..accounts)
                .map(|i| account(&mut rng, records / 5 + i))
                .collect();
            let ids = seed.store(|s| s.import(RecordKind::Account, rows));
            let acts: Vec<_> = ids
                .iter()
                .flat_map(|id| (0..4).map(|k| (id.to_string(), k)).collect::<Vec<_>>())
                .map(|(id, k)| activity(&mut rng, &id, k))
                .collect();
            seed.store(|s| s.import(RecordKind::Activity, acts));
            records += accounts * 5;
        }
        let import_time = seed_t.elapsed();
        let pushed = seed.store(|s| s.outbox_len());
        let t = Instant::now();
        seed.sync();
        let push_time = t.elapsed();

        let user = format!("fresh{step}");
        server.add_user(&user, "admin", &[], None);
        let down0 = proxy.downstream_bytes() as u64;
        let fresh = fresh_device_in_child(&server.url, &proxy.url, &user);
        let down = proxy.downstream_bytes() as u64 - down0;
        let (initial, docs, peak) = (fresh.initial, fresh.docs, fresh.peak);
        assert_eq!(fresh.accounts, records / 5);
        assert_eq!(fresh.activities, records / 5 * 4);
        println!(
            "| {records} ({} + {}; {docs} documents) | {} new records, {pushed} changes in {} ({:.0} records/s; seeding import {}) | {} | {} | {:.0} documents/s ({:.0} records/s) | {} |",
            records / 5,
            records / 5 * 4,
            records - before,
            show(push_time),
            (records - before) as f64 / push_time.as_secs_f64(),
            show(import_time),
            show(initial),
            bytes(down),
            docs as f64 / initial.as_secs_f64(),
            records as f64 / initial.as_secs_f64(),
            peak.map_or("n/a".to_string(), bytes),
        );
    }
    drop(proxy);
    server.stop();
}
