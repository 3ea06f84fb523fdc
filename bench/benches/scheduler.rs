//! One pass of the server's process scheduler over many running instances.
//!
//! `FW_BENCH_INSTANCES` (default 100000) deals are won, each starting the
//! seed's follow-up process (a one-week timer, then a call). 1% of them
//! were won a week earlier, so their timer is due. Measured: one scheduler
//! pass (which creates those calls, writes their events and commits), and
//! a pass when nothing is due.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use fieldwork_bench::{env_usize, machine};
use fieldwork_core::clock::ManualClock;
use fieldwork_core::process::ProcessHost;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner;
use fieldwork_core::{FieldValue, RecordId, RecordKind};
use fieldwork_server::processes::{tick, with_host};
use fieldwork_server::{AppState, ServerConfig, process_admin};

fn main() {
    let n = env_usize("FW_BENCH_INSTANCES", 100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let t0: jiff::Timestamp = "2027-01-08T09:00:00Z".parse().expect("t0");
    let clock = ManualClock::new(t0);
    let state = AppState::open(
        ServerConfig::new(dir.path().to_owned()),
        Some(Arc::new(clock.clone())),
    )
    .expect("server state");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = process_admin::read_model(&root.join("examples/processes/deal-won-follow-up.toml"))
        .expect("model");
    process_admin::publish(&state, model, "admin").expect("publish");
    // Instances run as their owner, who must be an active user.
    let ana = fieldwork_server::db::users::NewUser {
        name: "ana".into(),
        role: "rep".into(),
        territories: vec!["madrid".into()],
        manager: None,
        time_zone: Some("Europe/Madrid".into()),
    };
    fieldwork_server::admin::add_user(&state, &ana, "una clave muy larga").expect("user");

    let setup = Instant::now();
    for batch in 0..n.div_ceil(1000) {
        state
            .db
            .write_blocking(|w| {
                // Set up as of the earliest start, so no timer fires yet.
                with_host(w, None, &state.actor, runner_after(t0, -8), "bench", |h| {
                    let models: Vec<Model> = h.models()?;
                    let model = models[0].clone();
                    for i in batch * 1000..((batch + 1) * 1000).min(n) {
                        let due = i % 100 == 0;
                        let won = if due { runner_after(t0, -8) } else { t0 };
                        let deal = RecordId::derived(RecordKind::Deal, &[&i.to_string()]);
                        let mut f = BTreeMap::new();
                        f.insert("name".to_owned(), FieldValue::Text(format!("Deal {i}")));
                        f.insert("stage".to_owned(), FieldValue::Text("won".into()));
                        f.insert("owner".to_owned(), FieldValue::Text("ana".into()));
                        h.create(&deal, &f, won)?;
                        let record = h.record(&deal)?.expect("deal");
                        runner::start_instance(h, &models, &model, &record, won, "ana")?;
                    }
                    Ok(())
                })
            })
            .expect("setup batch");
    }
    let setup_s = setup.elapsed().as_secs_f64();

    let start = Instant::now();
    let ran = state
        .db
        .write_blocking(|w| tick(w, None, &state.actor, t0))
        .expect("tick");
    let pass = start.elapsed();
    let start = Instant::now();
    let idle = state
        .db
        .write_blocking(|w| tick(w, None, &state.actor, t0))
        .expect("idle tick");
    let idle_pass = start.elapsed();

    println!("# scheduler ({})", machine());
    println!("| measure | value |");
    println!("|---|---|");
    println!("| running instances | {n} |");
    println!("| setup (create deals + start instances) | {setup_s:.1} s |");
    println!(
        "| one pass, {ran} due (1%): calls created, events written, committed | {:.1} ms |",
        pass.as_secs_f64() * 1e3
    );
    println!(
        "| per due instance | {:.0} µs |",
        pass.as_secs_f64() * 1e6 / ran.max(1) as f64
    );
    println!(
        "| one pass, {idle} due | {:.2} ms |",
        idle_pass.as_secs_f64() * 1e3
    );
}

fn runner_after(t: jiff::Timestamp, days: i64) -> jiff::Timestamp {
    fieldwork_core::process::model::after(t, jiff::Span::new().days(days))
}
