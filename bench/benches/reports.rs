//! Reports on the device store at the target size: 50,000 records
//! (accounts, deals, contacts) and 200,000 activities, seeded through the
//! store's real import path with a clock moved forward between batches (so
//! stage logs, creation and completion times spread over eleven months),
//! plus a few hundred stage moves made one durable update each.
//!
//! Prints p50 / p99 per report (everything, and the narrower queries a
//! screen makes: one owner, one month). Sizes: `FW_BENCH_RECORDS` (default
//! 50000: a fifth accounts, two fifths deals, two fifths contacts),
//! `FW_BENCH_ACTIVITIES` (default 200000), `FW_BENCH_RUNS` (default 30).
//! `FW_BENCH_ONLY=activities` runs only the reports whose label contains
//! that text (for profiling one report). `FW_BENCH_ENCRYPTED=1` opens the
//! store encrypted (SQLCipher, as on a device) instead of plain.
//! `FW_BENCH_KEEP=DIR` keeps the seeded plain store in `DIR` and reuses it
//! on the next run with the same sizes (for profiling one change after
//! another without seeding again).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldwork_bench::{env_usize, machine, quantile, show};
use fieldwork_core::clock::ManualClock;
use fieldwork_core::report::{GroupBy, ReportName, ReportQuery};
use fieldwork_core::{FieldValue, FieldWrite, RecordId, RecordKind, Store};
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

const OWNERS: usize = 20;
const START: &str = "2026-01-01T08:00:00Z";

fn owner(i: usize) -> String {
    format!("rep{:02}", i % OWNERS)
}

fn at(days: f64) -> Timestamp {
    let start: Timestamp = START.parse().expect("instant");
    start + SignedDuration::from_secs((days * 86_400.0) as i64)
}

fn set(field: &str, value: impl Into<FieldValue>) -> FieldWrite {
    FieldWrite::set(field, value)
}

/// Imports `n` records of `kind` in batches of 1,000, the clock moving
/// evenly over 330 days; `make(i, rng)` gives record `i`'s writes.
fn import(
    store: &mut Store,
    clock: &ManualClock,
    kind: RecordKind,
    n: usize,
    rng: &mut StdRng,
    mut make: impl FnMut(usize, &mut StdRng) -> Vec<FieldWrite>,
) -> Vec<RecordId> {
    let mut ids = Vec::with_capacity(n);
    let mut done = 0;
    while done < n {
        let batch = 1_000.min(n - done);
        clock.set(at(330.0 * done as f64 / n as f64));
        let rows = (done..done + batch).map(|i| make(i, rng)).collect();
        ids.extend(store.import(kind, rows).expect("import"));
        done += batch;
    }
    ids
}

fn seed(store: &mut Store, clock: &ManualClock, records: usize, activities: usize) -> Duration {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(13);
    let stages = ["lead", "prospect", "customer", "loyal", "churned"];
    let accounts = import(
        store,
        clock,
        RecordKind::Account,
        records / 5,
        &mut rng,
        |i, _| {
            vec![
                set("name", format!("Cliente {i}")),
                set("stage", stages[i % 5]),
                set("owner", owner(i)),
                set(
                    "territory",
                    ["madrid", "sevilla", "budapest", "debrecen"][i % 4],
                ),
            ]
        },
    );
    let acc = |i: usize| accounts[i % accounts.len()].to_string();
    let deal_stages = ["qualification", "proposal", "negotiation", "won", "lost"];
    let deals = import(
        store,
        clock,
        RecordKind::Deal,
        records * 2 / 5,
        &mut rng,
        |i, rng| {
            let mut w = vec![
                set("name", format!("Oportunidad {i}")),
                set("account", acc(i)),
                set("stage", deal_stages[i % 5]),
                set("owner", owner(i)),
                set(
                    "amount",
                    FieldValue::Int(rng.random_range(10_000..10_000_000)),
                ),
                set("currency", ["EUR", "HUF", "EUR"][i % 3]),
                set("expected_close", format!("2026-{:02}-15", 1 + i % 12)),
            ];
            if i % 5 == 4 {
                w.push(set("close_reason", "precio"));
            }
            w
        },
    );
    import(
        store,
        clock,
        RecordKind::Contact,
        records * 2 / 5,
        &mut rng,
        |i, _| {
            vec![
                set("last_name", format!("Apellido {i}")),
                set("account", acc(i)),
            ]
        },
    );
    let types = ["call", "meeting", "visit", "email", "task"];
    let statuses = ["done", "planned", "done", "cancelled"];
    import(
        store,
        clock,
        RecordKind::Activity,
        activities,
        &mut rng,
        |i, rng| {
            let due = at(rng.random_range(0.0..365.0));
            let mut w = vec![
                set("type", types[i % 5]),
                set("subject", format!("Actividad {i}")),
                set("status", statuses[i % 4]),
                set("owner", owner(i)),
                set("assignee", owner(i + 1)),
                set("account", acc(i)),
                set("due_at", due.to_string()),
            ];
            if types[i % 5] == "visit" {
                let minutes = rng.random_range(10..120);
                w.push(set("check_in_at", due.to_string()));
                w.push(set(
                    "check_out_at",
                    (due + SignedDuration::from_mins(minutes)).to_string(),
                ));
                w.push(set("check_in_lat", FieldValue::Float(40.4)));
                w.push(set("check_in_lon", FieldValue::Float(-3.7)));
            }
            w
        },
    );
    // Stage moves over time: a few hundred deals move on, one update each.
    for (k, id) in deals.iter().step_by(100).enumerate() {
        clock.set(at(200.0 + k as f64 * 0.2));
        if let Err(e) = store.update(id, vec![set("stage", "negotiation")]) {
            eprintln!("stage move refused: {e}");
        }
    }
    clock.set(at(330.0));
    started.elapsed()
}

/// p50 and p99 of the whole report, p50 of loading its facts alone, and
/// how many facts it read.
/// Three targets per owner, as a manager would set them; their number.
fn seed_targets(store: &mut Store) -> usize {
    let mut n = 0;
    for i in 0..OWNERS {
        for (metric, period, goal) in [
            ("visits", "week", 5_i64),
            ("deals_won", "month", 4),
            ("revenue_won", "quarter", 5_000_000),
        ] {
            let mut writes = vec![
                FieldWrite::set("metric", metric),
                FieldWrite::set("period", period),
                FieldWrite::set("goal", goal),
                FieldWrite::set("assignee", owner(i).as_str()),
            ];
            if metric == "revenue_won" {
                writes.push(FieldWrite::set("currency", "EUR"));
            }
            store.create(RecordKind::Target, writes).expect("target");
            n += 1;
        }
    }
    n
}

fn measure(
    store: &mut Store,
    name: &ReportName,
    q: &ReportQuery,
    runs: usize,
) -> (Duration, Duration, Duration, usize) {
    let mut samples = Vec::with_capacity(runs);
    let mut loads = Vec::with_capacity(runs);
    let mut facts = 0;
    // The report's samples first, then the loads: a load frees some 100 MB
    // of small allocations, and interleaved, the allocator's clean-up of
    // them would be charged to the next report sample.
    for _ in 0..runs {
        let t = Instant::now();
        let result = store.report(name, q).expect("report");
        samples.push(t.elapsed());
        std::hint::black_box(result);
    }
    for _ in 0..runs {
        let t = Instant::now();
        facts = store.report_facts(name, q).expect("facts").len();
        loads.push(t.elapsed());
    }
    (
        quantile(&mut samples, 0.5),
        quantile(&mut samples, 0.99),
        quantile(&mut loads, 0.5),
        facts,
    )
}

fn main() {
    let records = env_usize("FW_BENCH_RECORDS", 50_000);
    let activities = env_usize("FW_BENCH_ACTIVITIES", 200_000);
    let runs = env_usize("FW_BENCH_RUNS", 30).max(1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(at(0.0));
    let encrypted = std::env::var("FW_BENCH_ENCRYPTED").is_ok_and(|v| v == "1");
    let kept = std::env::var_os("FW_BENCH_KEEP")
        .filter(|_| !encrypted)
        .map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).expect("the store's directory");
    let path = dir.join("device.db");
    let marker = dir.join(format!("seeded-{records}-{activities}"));
    let reuse = kept.is_some() && marker.exists();
    if kept.is_some() && !reuse {
        let _ = std::fs::remove_file(&path);
    }
    let mut store = if encrypted {
        let key = fieldwork_core::store::StoreKey::generate();
        Store::open_encrypted(&path, Arc::new(clock.clone()), &key).expect("open")
    } else {
        Store::open(&path, Arc::new(clock.clone())).expect("open")
    };
    let (seeding, targets) = if reuse {
        clock.set(at(330.0));
        (None, OWNERS * 3)
    } else {
        let seeding = seed(&mut store, &clock, records, activities);
        let targets = seed_targets(&mut store);
        if kept.is_some() {
            std::fs::write(&marker, b"").expect("marker");
        }
        (Some(seeding), targets)
    };
    let account = store
        .list(&fieldwork_core::ListQuery {
            kind: Some(RecordKind::Account),
            limit: Some(1),
            ..Default::default()
        })
        .expect("list")
        .first()
        .map(|s| s.id.clone())
        .expect("an account");

    let all = store.report_query();
    let one_owner = ReportQuery {
        owner: Some(owner(3)),
        ..all.clone()
    };
    let month = all
        .clone()
        .with_days("2026-10-01".parse().ok(), "2026-10-31".parse().ok())
        .expect("days");
    let by_owner = ReportQuery {
        group_by: GroupBy::Owner,
        ..all.clone()
    };
    let cases: Vec<(&str, ReportName, ReportQuery)> = vec![
        ("pipeline, everything", ReportName::Pipeline, all.clone()),
        ("pipeline per owner", ReportName::Pipeline, by_owner),
        ("win-rate, everything", ReportName::WinRate, all.clone()),
        ("win-rate, one month", ReportName::WinRate, month.clone()),
        ("cycle, everything", ReportName::Cycle, all.clone()),
        ("funnel, everything", ReportName::Funnel, all.clone()),
        (
            "activities, everything",
            ReportName::Activities,
            all.clone(),
        ),
        (
            "activities, one month",
            ReportName::Activities,
            month.clone(),
        ),
        (
            "activities, one owner",
            ReportName::Activities,
            one_owner.clone(),
        ),
        ("visits, everything", ReportName::Visits, all.clone()),
        ("visits, one month", ReportName::Visits, month),
        ("targets, current periods", ReportName::Targets, all.clone()),
        (
            "timeline of one account",
            ReportName::Timeline(account),
            all,
        ),
    ];
    println!("## Reports on the device: {records} records and {activities} activities\n");
    println!("Machine: {}\n", machine());
    println!(
        "Store: {}.\n",
        if encrypted {
            "encrypted (SQLCipher)"
        } else {
            "plain"
        }
    );
    match seeding {
        Some(took) => println!(
            "Seeded in {} (imports of 1,000 records per transaction).\n",
            show(took)
        ),
        None => println!("Seeded store reused from FW_BENCH_KEEP.\n"),
    }
    println!(
        "One `Facts` is {} bytes (before the strings it owns).\n",
        std::mem::size_of::<fieldwork_core::report::Facts>()
    );
    println!(
        "{targets} targets (three per owner: weekly visits, monthly deals won, quarterly EUR won).\n"
    );
    println!("| report | records read | p50 | p99 | of which loading facts (p50) |");
    println!("|---|---|---|---|---|");
    let only = std::env::var("FW_BENCH_ONLY").unwrap_or_default();
    for (label, name, q) in cases {
        if !label.contains(only.as_str()) {
            continue;
        }
        let (p50, p99, load, facts) = measure(&mut store, &name, &q, runs);
        println!(
            "| {label} | {facts} | {} | {} | {} |",
            show(p50),
            show(p99),
            show(load)
        );
    }
}
