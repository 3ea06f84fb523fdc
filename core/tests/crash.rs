//! A process killed with SIGKILL at a random moment while writing loses
//! nothing it reported as saved, and leaves a store that opens cleanly.
//!
//! The test re-runs its own executable as the writer (`FW_CRASH_CHILD` set):
//! the child creates accounts and prints each id after `create` returned;
//! the parent kills it at a random point and checks every printed id.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fieldwork_core::{RecordId, RecordKind};

const CHILD_ENV: &str = "FW_CRASH_CHILD";

#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return; // Only does something when started by the parent test.
    };
    let path = std::path::PathBuf::from(path);
    let clock = std::sync::Arc::new(fieldwork_core::SystemClock);
    let mut s = fieldwork_core::Store::open(&path, clock).expect("open");
    for i in 0.. {
        let id = s
            .create(
                RecordKind::Account,
                vec![
                    common::set("name", &format!("Account {i}")),
                    common::set("email", &format!("a{i}@example.es")),
                    common::set("description", &"Notas de la visita. ".repeat(20)),
                ],
            )
            .expect("create");
        if i % 3 == 0 {
            s.update(&id, vec![common::set("industry", "Retail")])
                .expect("update");
        }
        println!("saved {id}");
    }
}

#[test]
fn kill_9_at_random_moments_loses_nothing_reported_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().expect("exe");
    let mut total = Vec::new();
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                &common::test_name(module_path!(), "crash_child_writer"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        // A pseudo-random point: between 20 and ~200 reported saves.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(7)
            ^ round.wrapping_mul(0x9E37_79B9);
        let kill_after = 20 + (seed % 180) as usize;
        let mut saved: Vec<RecordId> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if let Some(id) = line.strip_prefix("saved ") {
                saved.push(id.parse().expect("id"));
            }
            if saved.len() >= kill_after || Instant::now() > deadline {
                // SIGKILL while the child is in the middle of its next write.
                child.kill().expect("kill -9");
                break;
            }
        }
        child.wait().expect("reap");
        assert!(
            saved.len() >= 20,
            "the child saved too little before the deadline"
        );
        total.extend(saved);

        let mut s = common::store(dir.path(), "crash.db");
        assert!(
            s.verify().expect("verify").is_empty(),
            "store damaged after round {round}"
        );
        for id in &total {
            let r = s
                .get(id)
                .unwrap_or_else(|e| panic!("{id} reported saved but lost: {e}"));
            assert!(r.text("name").is_some_and(|n| n.starts_with("Account ")));
        }
        assert!(s.count(RecordKind::Account).expect("count") >= total.len());
        let outbox = s.outbox_len().expect("outbox");
        assert!(
            outbox >= total.len() * 2,
            "outbox entries are durable too: {outbox} for {} accounts",
            total.len()
        );
    }
}
