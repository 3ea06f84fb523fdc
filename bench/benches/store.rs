//! The device store at scale: 50,000 accounts with two contacts each.
//!
//! Reports creation rate (imports and single durable creates), size on disk,
//! cold open time, search latency and sorted-list latency; then runs the
//! same workload on an encrypted store (SQLCipher, raw 32-byte key) and
//! compares the two.
//!
//! `FW_BENCH_ACCOUNTS` (default 50000) sets the number of accounts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldwork_bench::{bytes, env_usize, machine, quantile, show};
use fieldwork_core::store::{Store, StoreKey};
use fieldwork_core::{FieldWrite, ListQuery, RecordKind, Sort, SystemClock};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn open(path: &Path, key: Option<&StoreKey>) -> Store {
    match key {
        Some(key) => Store::open_encrypted(path, Arc::new(SystemClock), key),
        None => Store::open(path, Arc::new(SystemClock)),
    }
    .expect("open")
}

/// What one run measured (sorted samples are taken by `quantile`).
struct Figures {
    created: usize,
    import_time: Duration,
    single: usize,
    single_time: Duration,
    size: u64,
    synced_size: u64,
    opens: Vec<Duration>,
    searches: Vec<Duration>,
    hits: usize,
    first_pages: Vec<Duration>,
    deep_pages: Vec<Duration>,
    filtered: Vec<Duration>,
}

fn main() {
    let accounts = env_usize("FW_BENCH_ACCOUNTS", 50_000);
    let batch = 1_000;
    let mut plain = run(accounts, batch, None);
    print_plain(accounts, batch, &mut plain);
    let key = StoreKey::generate();
    let mut encrypted = run(accounts, batch, Some(&key));
    print_comparison(accounts, &mut plain, &mut encrypted);
}

fn run(accounts: usize, batch: usize, key: Option<&StoreKey>) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let mut store = open(&path, key);
    store.set_locale("es").expect("locale");
    let mut rng = StdRng::seed_from_u64(7);

    // Imports: accounts, then two contacts per account, a batch per transaction.
    let started = Instant::now();
    let mut created = 0usize;
    let mut done = 0;
    while done < accounts {
        let n = batch.min(accounts - done);
        let rows: Vec<Vec<FieldWrite>> = (0..n)
            .map(|i| {
                vec![
                    FieldWrite::set("name", fieldwork_bench::company(&mut rng)),
                    FieldWrite::set(
                        "territory",
                        ["madrid", "sevilla", "budapest", "debrecen"][i % 4],
                    ),
                    FieldWrite::set("stage", ["lead", "prospect", "customer", "loyal"][i % 4]),
                    FieldWrite::set("email", format!("info{}@cliente.example.es", done + i)),
                    FieldWrite::set("phone", format!("+34 9{:08}", done + i)),
                ]
            })
            .collect();
        let ids = store
            .import(RecordKind::Account, rows)
            .expect("import accounts");
        let contacts: Vec<Vec<FieldWrite>> = ids
            .iter()
            .flat_map(|id| {
                (0..2)
                    .map(|_| {
                        vec![
                            FieldWrite::set("first_name", fieldwork_bench::first_name(&mut rng)),
                            FieldWrite::set("last_name", fieldwork_bench::last_name(&mut rng)),
                            FieldWrite::set("account", id.to_string()),
                            FieldWrite::set(
                                "mobile",
                                format!("+36 30 {:07}", rng.random_range(0..10_000_000)),
                            ),
                        ]
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        created += ids.len();
        created += store
            .import(RecordKind::Contact, contacts)
            .expect("import contacts")
            .len();
        done += n;
    }
    let import_time = started.elapsed();

    // Single creates, each its own durable (fsynced) transaction.
    let single = 500;
    let started = Instant::now();
    for i in 0..single {
        store
            .create(
                RecordKind::Account,
                vec![FieldWrite::set("name", format!("Suelta {i}"))],
            )
            .expect("create");
    }
    let single_time = started.elapsed();
    drop(store);

    // Cold open (a new process's first open; the OS page cache is warm).
    let mut opens = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let s = open(&path, key);
        opens.push(t.elapsed());
        drop(s);
    }
    let mut store = open(&path, key);
    let size = dir_size(dir.path());
    // What a synced device keeps: the server acknowledged every change.
    let pending = store.pending(usize::MAX, usize::MAX).expect("pending");
    let acks: Vec<_> = pending.iter().map(|p| (p.doc.clone(), p.hash)).collect();
    store.acknowledge(&acks).expect("acknowledge");
    drop(store);
    let store = open(&path, key);
    let synced_size = dir_size(dir.path());

    // Search: what people type.
    let mut searches = Vec::new();
    let mut hits = 0usize;
    for _ in 0..1_000 {
        let q = fieldwork_bench::typed_prefix(&mut rng);
        let t = Instant::now();
        hits += store.search(&q, None, 20).expect("search").len();
        searches.push(t.elapsed());
    }
    // Lists sorted by name (locale collation): first page and a deep page.
    let mut first_pages = Vec::new();
    let mut deep_pages = Vec::new();
    for i in 0..300 {
        let q = ListQuery {
            kind: Some(RecordKind::Account),
            sort: Sort::Name,
            limit: Some(50),
            ..Default::default()
        };
        let t = Instant::now();
        let rows = store.list(&q).expect("list");
        first_pages.push(t.elapsed());
        assert_eq!(rows.len(), 50);
        let q = ListQuery {
            offset: (i * 97) % accounts.max(1),
            ..q
        };
        let t = Instant::now();
        store.list(&q).expect("list");
        deep_pages.push(t.elapsed());
    }
    let mut filtered = Vec::new();
    for _ in 0..300 {
        let q = ListQuery {
            kind: Some(RecordKind::Account),
            sort: Sort::Name,
            territory: Some("budapest".into()),
            stage: Some("customer".into()),
            limit: Some(50),
            ..Default::default()
        };
        let t = Instant::now();
        store.list(&q).expect("list");
        filtered.push(t.elapsed());
    }

    Figures {
        created,
        import_time,
        single,
        single_time,
        size,
        synced_size,
        opens,
        searches,
        hits,
        first_pages,
        deep_pages,
        filtered,
    }
}

fn print_plain(accounts: usize, batch: usize, f: &mut Figures) {
    let Figures {
        created,
        import_time,
        single,
        single_time,
        size,
        synced_size,
        opens,
        searches,
        hits,
        first_pages,
        deep_pages,
        filtered,
    } = f;
    let (created, import_time, single, single_time, size, synced_size, hits) = (
        *created,
        *import_time,
        *single,
        *single_time,
        *size,
        *synced_size,
        *hits,
    );
    println!("## Device store: {accounts} accounts with 2 contacts each\n");
    println!("Machine: {}\n", machine());
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| import ({created} records, batches of {batch} accounts) | {} ({:.0} records/s) |",
        show(import_time),
        created as f64 / import_time.as_secs_f64()
    );
    println!(
        "| single durable creates ({single}, one fsynced transaction each) | {:.0} records/s |",
        single as f64 / single_time.as_secs_f64()
    );
    let records = (created + single) as u64;
    println!(
        "| store size on disk, nothing synced yet (outbox full) | {} ({} per record) |",
        bytes(size),
        bytes(size / records)
    );
    println!(
        "| store size on disk after sync (outbox acknowledged) | {} ({} per record) |",
        bytes(synced_size),
        bytes(synced_size / records)
    );
    println!(
        "| open (median of 7; OS cache warm) | {} |",
        show(quantile(opens, 0.5))
    );
    println!(
        "| search, typed prefix, 20 results (p50 / p99; {} hits in 1000) | {} / {} |",
        hits,
        show(quantile(searches, 0.5)),
        show(quantile(searches, 0.99))
    );
    println!(
        "| list by name, first 50 (p50 / p99) | {} / {} |",
        show(quantile(first_pages, 0.5)),
        show(quantile(first_pages, 0.99))
    );
    println!(
        "| list by name, 50 at a deep offset (p50 / p99) | {} / {} |",
        show(quantile(deep_pages, 0.5)),
        show(quantile(deep_pages, 0.99))
    );
    println!(
        "| list by name filtered by territory and stage (p50 / p99) | {} / {} |",
        show(quantile(filtered, 0.5)),
        show(quantile(filtered, 0.99))
    );
}

/// The plain and the encrypted store side by side, with encrypted/plain.
fn print_comparison(accounts: usize, plain: &mut Figures, enc: &mut Figures) {
    println!(
        "\n## Encrypted store (SQLCipher) vs plain: {accounts} accounts with 2 contacts each\n"
    );
    println!("Machine: {}\n", machine());
    println!("| measure | plain | encrypted | encrypted / plain |");
    println!("|---|---|---|---|");
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    let (p, e) = (
        rate(plain.created, plain.import_time),
        rate(enc.created, enc.import_time),
    );
    println!(
        "| import ({} records), records/s | {p:.0} | {e:.0} | {:.2}× time |",
        plain.created,
        p / e
    );
    let (p, e) = (
        rate(plain.single, plain.single_time),
        rate(enc.single, enc.single_time),
    );
    println!(
        "| single durable creates ({}), records/s | {p:.0} | {e:.0} | {:.2}× time |",
        plain.single,
        p / e
    );
    let timed = |name: &str, p: Duration, e: Duration| {
        println!(
            "| {name} | {} | {} | {:.2}× |",
            show(p),
            show(e),
            e.as_secs_f64() / p.as_secs_f64()
        );
    };
    timed(
        "open (median of 7; OS cache warm)",
        quantile(&mut plain.opens, 0.5),
        quantile(&mut enc.opens, 0.5),
    );
    timed(
        "search, typed prefix, 20 results, p50",
        quantile(&mut plain.searches, 0.5),
        quantile(&mut enc.searches, 0.5),
    );
    timed(
        "search, p99",
        quantile(&mut plain.searches, 0.99),
        quantile(&mut enc.searches, 0.99),
    );
    timed(
        "list by name, first 50, p50",
        quantile(&mut plain.first_pages, 0.5),
        quantile(&mut enc.first_pages, 0.5),
    );
    timed(
        "list by name, 50 at a deep offset, p50",
        quantile(&mut plain.deep_pages, 0.5),
        quantile(&mut enc.deep_pages, 0.5),
    );
    println!(
        "| store size on disk after sync | {} | {} | {:.2}× |",
        bytes(plain.synced_size),
        bytes(enc.synced_size),
        enc.synced_size as f64 / plain.synced_size as f64
    );
    assert_eq!(plain.hits, enc.hits, "both stores find the same records");
}
