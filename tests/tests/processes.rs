//! Processes end to end: a device and the server both run the same steps,
//! and sync merges them into one instance and one set of activities.

use std::time::{Duration, Instant};

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::clocked::{at, device, repo, server_changes, world};
use fieldwork_tests::runtime;
use fieldwork_tests::server::binary;

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_deal_won_offline_gives_the_manager_exactly_one_follow_up_call() {
    let rt = runtime();
    let t0 = "2027-01-01T09:00:00Z";
    let w = world(t0);
    let model = process_admin::read_model(&repo("examples/processes/deal-won-follow-up.bpmn"))
        .expect("bpmn");
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    ana.sync(); // receives the model

    // Offline: the deal is won and the follow-up starts on the phone at once.
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Szőke Kft"), ("territory", "madrid")],
    );
    let deal = ana.create(
        RecordKind::Deal,
        &[("name", "Fleet renewal"), ("account", &account.to_string())],
    );
    ana.set(&deal, &[("stage", "won")]);
    let list = ana.store(|s| s.process_instances());
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (list[0].current.as_deref(), list[0].status),
        (Some("wait-a-week"), Status::Running)
    );
    let instance: RecordId = list[0].id.parse().expect("id");
    ana.sync();

    // A week passes. The server runs the step on its own...
    let week = "2027-01-08T09:30:00Z";
    w.server_clock.set(at(week));
    let call = activity_id(&instance, "call-customer", 1);
    let call_doc = format!("{call}/general");
    wait_for("the server's scheduler to create the call", || {
        server_changes(&w.server, &call_doc) > 0
    });
    // ...and so does the phone, still offline.
    ana_clock.set(at(week));
    ana.store(|s| s.run_processes());
    assert!(
        ana.try_get(&call).is_some(),
        "the phone created the call offline"
    );
    ana.sync();

    // Both created it: one record, from one byte-identical creation change.
    assert_eq!(
        server_changes(&w.server, &call_doc),
        1,
        "the same change, stored once"
    );
    let (mia, _mc, _m) = device(&rt, &w, "mia", week);
    mia.sync();
    let cal = mia.store(|s| s.calendar("mia", "2027-01-08", "2027-01-08", None));
    assert_eq!(cal.len(), 1, "exactly one call: {cal:?}");
    assert_eq!(cal[0].id, call.to_string());
    assert_eq!(cal[0].kind, "call");
    assert_eq!(
        cal[0].subject,
        "Call the customer: how is Fleet renewal going?"
    );
    assert_eq!(
        cal[0].at,
        Some(at("2027-01-08T09:00:00Z")),
        "a week after the deal was won"
    );
    let record = mia.get(&call);
    assert_eq!(
        record.text("topic"),
        Some("Ask how the delivery went and whether they need anything else")
    );
    assert!(record.conflicts.is_empty(), "{:?}", record.conflicts);
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.status, Status::Completed);
}

#[test]
fn two_devices_advance_one_instance_offline_and_merge_into_one_history() {
    let rt = runtime();
    let t0 = "2027-01-04T09:00:00Z";
    let w = world(t0);
    let model = process_admin::read_model(&repo("examples/processes/lead-qualification.toml"))
        .expect("toml");
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let lead = ana.create(
        RecordKind::Account,
        &[("name", "José Pérez"), ("territory", "madrid")],
    );
    ana.sync();
    mia.sync();
    let instance: RecordId = mia.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("instance reached mia");
    let task = activity_id(&instance, "qualify", 0);

    // Offline: ana qualifies the lead on day 2; mia's phone sees the
    // deadline pass on day 4 and schedules the chasing call.
    ana_clock.set(at("2027-01-05T10:00:00Z"));
    ana.store(|s| s.complete_task(&task));
    mia_clock.set(at("2027-01-07T09:00:00Z"));
    mia.store(|s| s.run_processes());
    // Everyone's clock has moved on when they sync (the server refuses
    // events dated in its future).
    w.server_clock.set(at("2027-01-07T09:05:00Z"));
    let chase = activity_id(&instance, "chase", 1);
    assert_eq!(mia.get(&chase).text("status"), Some("planned"));

    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(
            path,
            ["qualify", "promote", "done"],
            "the task, completed first, wins"
        );
        assert_eq!(card.history[0].via.as_deref(), Some("task"));
        assert_eq!(card.history[0].by.as_deref(), Some("ana"));
        assert!(
            card.superseded
                .iter()
                .any(|(k, _)| k == "0000.qualify.deadline"),
            "the deadline is kept in the history: {:?}",
            card.superseded
        );
        assert_eq!(d.get(&task).text("status"), Some("done"));
        assert_eq!(
            d.get(&chase).text("status"),
            Some("cancelled"),
            "the call on the losing path is cancelled"
        );
        assert_eq!(d.get(&lead).text("stage"), Some("prospect"));
        let tasks: Vec<_> = d
            .store(|s| {
                s.list(&fieldwork_core::ListQuery {
                    kind: Some(RecordKind::Activity),
                    limit: Some(100),
                    ..Default::default()
                })
            })
            .into_iter()
            .filter(|a| a.kind_type.as_deref() == Some("task"))
            .collect();
        assert_eq!(tasks.len(), 1, "one qualification task, not two: {tasks:?}");
    }
}

#[test]
fn the_server_cli_imports_bpmn_and_refuses_unsupported_elements_with_their_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        std::process::Command::new(binary("fieldwork-server"))
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run fieldwork-server")
    };
    let bad = run(&[
        "process",
        "import",
        repo("tests/fixtures/unsupported-parallel-gateway.bpmn")
            .to_str()
            .expect("utf-8"),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("line 7") && err.contains("parallelGateway"),
        "{err}"
    );
    let listed = run(&["process", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).trim().is_empty(),
        "nothing half-imported"
    );

    let ok = run(&[
        "process",
        "import",
        repo("tests/fixtures/camunda-lead-qualification.bpmn")
            .to_str()
            .expect("utf-8"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let again = run(&[
        "process",
        "publish",
        repo("examples/processes/lead-qualification.toml")
            .to_str()
            .expect("utf-8"),
    ]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("version 2"),
        "{:?}",
        again
    );
    let listed = String::from_utf8_lossy(&run(&["process", "list"]).stdout).into_owned();
    assert!(
        listed.contains("lead-qualification\tv1") && listed.contains("lead-qualification\tv2"),
        "{listed}"
    );
}
