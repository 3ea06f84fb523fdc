//! Bulk migration of every instance of one model version, end to end:
//! a dry run first that lists which instances cannot move and why (the
//! single-instance rule), then the move, through the office API with the
//! caller's `migrate` right and from the server CLI.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner::Control;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{at, device, world};
use fieldwork_tests::runtime;
use fieldwork_tests::server::binary;
use serde_json::json;

fn model(version_note: &str, task: &str) -> String {
    format!(
        r#"
key = "greet"
name = "Greet a new account ({version_note})"
trigger = {{ kind = "record_created", record = "account" }}

[[steps]]
id = "{task}"
kind = "task"
assignee = "owner"
subject = "Greet {{name}}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#
    )
}

#[test]
fn every_instance_of_a_version_migrates_after_a_dry_run_that_says_which_cannot() {
    let rt = runtime();
    let t0 = "2027-01-04T09:00:00Z";
    let w = world(t0);
    let publish = |text: &str| {
        let file = Model::from_toml(text).expect("model").file;
        process_admin::publish(&w.server.state, file, "admin").expect("publish")
    };
    publish(&model("v1", "call"));
    let (ana, _ac, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    for name in ["Alfa", "Bravo", "Charlie"] {
        ana.create(
            RecordKind::Account,
            &[("name", name), ("territory", "madrid")],
        );
    }
    ana.sync();
    mia.sync();
    let mut instances: Vec<RecordId> = mia
        .store(|s| s.process_instances())
        .iter()
        .map(|p| p.id.parse().expect("id"))
        .collect();
    instances.sort();
    assert_eq!(instances.len(), 3);
    // One is completed, one stopped: neither can move.
    let (done, stopped, running) = (&instances[0], &instances[1], &instances[2]);
    ana.store(|s| s.complete_task(&activity_id(done, "call", 0)));
    mia_clock.set(at("2027-01-04T09:01:00Z"));
    w.server_clock.set(at("2027-01-04T09:01:00Z"));
    mia.store(|s| s.control_process(stopped, Control::Stop));
    ana.sync();
    mia.sync();
    publish(&model("v2", "call"));
    publish(&model("v3", "ring"));

    let admin = ApiClient::signed_in(&rt, &w.server.url, "admin");
    let ana_api = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let path = "/v1/processes/models/greet/migrate";

    // Without the right: refused, as for one instance.
    let refused = ana_api.post(path, json!({"from": 1, "to": 2, "dry_run": true}));
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(
        refused.json["code"], "process_forbidden",
        "{}",
        refused.text
    );

    // To a version without the current step: nobody moves, each says why.
    let plan = admin.post(path, json!({"from": 1, "to": 3, "dry_run": true}));
    assert_eq!(plan.status, 200, "{}", plan.text);
    assert_eq!(plan.json["migrated"], json!([]), "{}", plan.text);
    let reasons: Vec<(String, String)> = plan.json["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .map(|r| {
            (
                r["instance"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let why = |id: &RecordId| {
        reasons
            .iter()
            .find(|(i, _)| *i == id.to_string())
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    assert!(why(done).contains("completed"), "{reasons:?}");
    assert!(why(stopped).contains("stopped"), "{reasons:?}");
    assert!(why(running).contains("has no step `call`"), "{reasons:?}");

    // A dry run to v2 changes nothing...
    let plan = admin.post(path, json!({"from": 1, "to": 2, "dry_run": true}));
    assert_eq!(
        plan.json["migrated"],
        json!([running.to_string()]),
        "{}",
        plan.text
    );
    mia.sync();
    let card = mia.store(|s| s.process_card(running));
    assert_eq!(card.version, 1, "a dry run writes nothing");

    // ...the real one moves the running instance, and only it.
    let moved = admin.post(path, json!({"from": 1, "to": 2}));
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["migrated"], json!([running.to_string()]));
    assert_eq!(moved.json["dry_run"], json!(false));
    mia.sync();
    assert_eq!(mia.store(|s| s.process_card(running)).version, 2);
    assert_eq!(
        mia.store(|s| s.process_card(stopped)).status,
        Status::Stopped
    );
    let again = admin.post(path, json!({"from": 1, "to": 2, "dry_run": true}));
    assert_eq!(again.json["migrated"], json!([]), "{}", again.text);

    // A version that does not exist.
    let missing = admin.post(path, json!({"from": 1, "to": 9, "dry_run": true}));
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[test]
fn the_server_cli_migrates_all_instances_of_a_version_with_a_dry_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        std::process::Command::new(binary("fieldwork-server"))
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run fieldwork-server")
    };
    for (note, task) in [("v1", "call"), ("v2", "call")] {
        let file = dir.path().join(format!("{note}.toml"));
        std::fs::write(&file, model(note, task)).expect("write");
        let out = run(&["process", "publish", file.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{out:?}");
    }
    let dry = run(&[
        "process",
        "migrate-all",
        "greet",
        "--from",
        "1",
        "--to",
        "2",
        "--dry-run",
    ]);
    assert!(dry.status.success(), "{dry:?}");
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("greet v1 → v2: would move 0 instance(s), 0 cannot move"),
        "{text}"
    );
    let bad = run(&[
        "process",
        "migrate-all",
        "greet",
        "--from",
        "1",
        "--to",
        "7",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("version 7 of `greet`"),
        "{bad:?}"
    );
}

/// The device CLI's monitor: a table for people by default, JSON with
/// `--json`, and a reader that goes away (`| head`) ends it quietly.
#[test]
fn the_device_monitor_prints_a_table_or_json_and_a_closed_pipe_ends_it_quietly() {
    let dir = tempfile::tempdir().expect("tmp");
    let fw = || {
        let mut c = std::process::Command::new(binary("fieldwork"));
        c.arg("--data")
            .arg(dir.path())
            .env("FIELDWORK_NOW", "2027-01-04T09:00:00Z")
            .env_remove("FIELDWORK_DATA")
            .env_remove("FIELDWORK_KEYS");
        c
    };
    let made = fw()
        .args(["account", "add", "--name", "Alfa"])
        .output()
        .expect("run fieldwork");
    assert!(made.status.success(), "{made:?}");
    let table = fw()
        .args(["process", "monitor"])
        .output()
        .expect("run fieldwork");
    assert!(table.status.success(), "{table:?}");
    assert_eq!(
        String::from_utf8_lossy(&table.stdout),
        "no process instances\n"
    );
    let as_json = fw()
        .args(["process", "monitor", "--json"])
        .output()
        .expect("run fieldwork");
    let parsed: serde_json::Value =
        serde_json::from_slice(&as_json.stdout).expect("JSON with --json");
    assert_eq!(parsed, json!([]));
    for args in [
        &["process", "monitor"][..],
        &["process", "monitor", "--json"][..],
    ] {
        let mut child = fw()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn fieldwork");
        drop(child.stdout.take()); // the reader goes away at once
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
