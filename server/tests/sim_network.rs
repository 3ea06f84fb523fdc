//! The sync protocol on an in-memory network (see `sim/mod.rs`): random
//! seeded runs with drops, partitions, administrative changes and server
//! restarts, checked for convergence, cursor skips, duplicates and leaks.
//!
//! `SIM_SEEDS` (default 20), `SIM_STEPS` (default 300) and `SIM_SEED_BASE`
//! (default 0) and `SIM_CHECK_EVERY` (steps between full convergence
//! checks, default 150) tune the run; `scripts/sim-long.sh SEEDS STEPS` runs long.
//! `SIM_TRACE=1` prints every message; `SIM_TMP` moves the databases (by
//! default in `/dev/shm` when there is one). One seed replays byte for byte.

mod sim;

use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn seeded_runs_converge_without_skips_duplicates_or_leaks() {
    let (seeds, steps, base, every) = (
        env("SIM_SEEDS", 20),
        env("SIM_STEPS", 300),
        env("SIM_SEED_BASE", 0),
        env("SIM_CHECK_EVERY", 150),
    );
    let started = Instant::now();
    let mut total = sim::Stats::default();
    for seed in base..base + seeds {
        let outcome = std::panic::catch_unwind(|| {
            let mut net = sim::Sim::new(seed);
            net.run(steps, every);
            net.stats
        });
        match outcome {
            Ok(stats) => {
                total.steps += stats.steps;
                total.delivered += stats.delivered;
                total.drops += stats.drops;
                total.partitions += stats.partitions;
                total.restarts += stats.restarts;
                total.admin_changes += stats.admin_changes;
                total.refusals += stats.refusals;
                total.checkpoints += stats.checkpoints;
            }
            Err(panic) => {
                eprintln!(
                    "sim failed with seed {seed} (SIM_SEED_BASE={seed} SIM_SEEDS=1 SIM_STEPS={steps} reproduces it)"
                );
                std::panic::resume_unwind(panic);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "sim: {seeds} seeds x {steps} steps in {secs:.1} s ({:.0} steps/s); {total:?}",
        total.steps as f64 / secs
    );
    // A harness that quietly stopped injecting faults would pass the checks
    // above; a run of the default size must have exercised every kind.
    if seeds * steps >= 2_000 {
        for (what, n) in [
            ("frames delivered", total.delivered),
            ("dropped links", total.drops),
            ("partitions", total.partitions),
            ("server restarts", total.restarts),
            ("admin changes", total.admin_changes),
            ("refusals", total.refusals),
            ("checkpoints", total.checkpoints),
        ] {
            assert!(n > 0, "the run had no {what}: {total:?}");
        }
    }
}

/// One seed, run twice, sends the same frames byte for byte (device ids,
/// actors, the server epoch and clocks all come from the seed).
#[test]
fn one_seed_replays_byte_for_byte() {
    let run = |seed| {
        let mut net = sim::Sim::new(seed);
        net.run(150, 75);
        (net.trace_hash(), net.stats.delivered)
    };
    let (first, delivered) = run(3);
    eprintln!("seed 3: {delivered} frames delivered, trace hash {first:016x}");
    assert!(delivered > 50, "the run exchanged too little: {delivered}");
    assert_eq!(run(3), (first, delivered), "seed 3 did not replay");
    assert_ne!(run(4).0, first, "seeds 3 and 4 sent the same frames");
}
