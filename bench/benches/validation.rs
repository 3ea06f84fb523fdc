//! The cost of checking every operation of every incoming change.
//!
//! Compares, on the same changes, applying them to the server's copy of a
//! document with and without `validate::check_change` first, and measures
//! the full push path (decode, actor check, validation, apply, SQLite feed
//! append, commit) for context.
//!
//! `FW_BENCH_CHANGES` (default 20000) sets the number of changes.

use std::sync::Arc;
use std::time::Instant;

use fieldwork_bench::{env_usize, machine};
use fieldwork_core::automerge::{ActorId, Change};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::policy::RecordFacts;
use fieldwork_core::store::Store;
use fieldwork_core::validate::check_change;
use fieldwork_core::{Access, FieldWrite, Policy, RecordKind, SystemClock, UserContext};
use fieldwork_server::db::users::NewUser;
use fieldwork_server::sync::push::{self, PushCtx};
use fieldwork_server::{AppState, ServerConfig, admin};

fn main() {
    let n = env_usize("FW_BENCH_CHANGES", 20_000);
    // A rep's device makes `n` edits across 100 accounts in her territory.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut device = Store::open(&dir.path().join("d.db"), Arc::new(SystemClock)).expect("open");
    let user = UserContext {
        name: "ana".into(),
        role: "rep".into(),
        territories: vec!["madrid".into()],
        team: vec![],
    };
    device
        .update_policy(&user, fieldwork_core::policy::DEFAULT_POLICY_TOML, 1)
        .expect("session");
    let ids: Vec<_> = (0..100)
        .map(|i| {
            device
                .create(
                    RecordKind::Account,
                    vec![
                        FieldWrite::set("name", format!("Cuenta {i}")),
                        FieldWrite::set("territory", "madrid"),
                    ],
                )
                .expect("create")
        })
        .collect();
    for i in 0..n.saturating_sub(100) {
        let id = &ids[i % ids.len()];
        let w = match i % 3 {
            0 => FieldWrite::set("industry", format!("sector {i}")),
            1 => FieldWrite::set("city", format!("ciudad {i}")),
            _ => FieldWrite::set("description", format!("Visita número {i}: todo bien.")),
        };
        device.update(id, vec![w]).expect("update");
    }
    let pending = device.pending(usize::MAX, usize::MAX).expect("pending");
    let changes: Vec<(String, Vec<u8>)> = pending
        .iter()
        .map(|p| (p.doc.to_string(), p.bytes.clone()))
        .collect();
    let ops: usize = pending
        .iter()
        .map(|p| {
            Change::from_bytes(p.bytes.clone())
                .map(|c| c.len())
                .unwrap_or(0)
        })
        .sum();

    // In memory: apply with and without validation, same changes, same order.
    let access = Access::User {
        user,
        policy: Policy::shipped_default(),
    };
    let facts = Some(RecordFacts {
        owner: Some("ana".into()),
        assignee: None,
        territory: Some("madrid".into()),
        process_task: false,
    });
    let run = |validate: bool| -> f64 {
        let mut docs: std::collections::HashMap<String, ClassDoc> =
            std::collections::HashMap::new();
        let t = Instant::now();
        for (doc, bytes) in &changes {
            let change = Change::from_bytes(bytes.clone()).expect("change");
            let d = docs
                .entry(doc.clone())
                .or_insert_with(|| ClassDoc::new(doc.parse().expect("doc id"), ActorId::random()));
            if validate {
                check_change(&access, d, &change, &facts).expect("valid");
            }
            d.apply_changes(vec![change]).expect("apply");
        }
        t.elapsed().as_secs_f64()
    };
    // Warm up, then measure each three times and keep the best.
    run(true);
    let plain = (0..3).map(|_| run(false)).fold(f64::MAX, f64::min);
    let checked = (0..3).map(|_| run(true)).fold(f64::MAX, f64::min);

    // The full push path on a real server database, in batches of 1000.
    let server_dir = tempfile::tempdir().expect("tempdir");
    let state =
        AppState::open(ServerConfig::new(server_dir.path().to_owned()), None).expect("server");
    let new = NewUser {
        name: "ana".into(),
        role: "rep".into(),
        territories: vec!["madrid".into()],
        manager: None,
        time_zone: None,
    };
    let config_user = admin::add_user(&state, &new, "correct horse battery").expect("user");
    let t = Instant::now();
    for chunk in changes.chunks(1000) {
        let outcome = state
            .db
            .write_blocking(|w| {
                push::apply(
                    w,
                    &state.hub,
                    &state.actor,
                    PushCtx {
                        user: &config_user,
                        access: &access,
                        device: Some("bench"),
                        now_ms: 0,
                        all_or_nothing: false,
                    },
                    chunk.to_vec(),
                )
            })
            .expect("push");
        assert!(outcome.refused.is_empty(), "{:?}", outcome.refused.first());
    }
    let full = t.elapsed().as_secs_f64();

    let rate = |secs: f64| changes.len() as f64 / secs;
    println!(
        "## Server-side validation: {} changes ({ops} operations) from a rep\n",
        changes.len()
    );
    println!("Machine: {}\n", machine());
    println!("| path | changes/s | operations/s |");
    println!("|---|---|---|");
    println!(
        "| apply without validation (in memory) | {:.0} | {:.0} |",
        rate(plain),
        ops as f64 / plain
    );
    println!(
        "| validate, then apply (in memory) | {:.0} | {:.0} |",
        rate(checked),
        ops as f64 / checked
    );
    println!(
        "| full push path (decode, actor, validate, apply, SQLite feed, commit) | {:.0} | {:.0} |",
        rate(full),
        ops as f64 / full
    );
    println!(
        "\nValidation costs {:.1} µs per change; validated apply takes {:.2}× the time of a plain apply.",
        (checked - plain) / changes.len() as f64 * 1e6,
        checked / plain
    );
}
