//! Waiting for the customer, end to end: a `wait` step races a message
//! ("reply received") against a timeout, and a task's reminders come while
//! it stays open, on two devices that work offline and the server. Every
//! replica ends with one history and no duplicate activities.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::{activity_id, reminder_id};
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner::Control;
use fieldwork_core::{CoreError, RecordId, RecordKind};
use fieldwork_sdk::SdkError;
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{World, at, device, server_changes, world};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use serde_json::json;

/// The rep sends a new account an offer and waits three days for the
/// reply: a reply gets a meeting with her manager, silence a chasing call.
const OFFER: &str = r#"
key = "offer-reply"
name = "Send an offer and wait for the reply"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "send"
kind = "task"
assignee = "owner"
subject = "Send {name} the offer"
next = "reply"

[[steps]]
id = "reply"
kind = "wait"
events = [
  { message = "reply", next = "meet" },
  { after = "P3D", next = "chase" },
]

[[steps]]
id = "meet"
kind = "activity"
activity = "meeting"
assignee = "owner_manager"
subject = "Meet {name}: they replied"
offset = "P1D"
next = "done"

[[steps]]
id = "chase"
kind = "activity"
activity = "call"
assignee = "owner"
subject = "Chase {name}: no reply"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

/// A new account must be called; while the call is not done, the manager
/// gets a reminder every day, twice at most.
const REMIND: &str = r#"
key = "call-with-reminders"
name = "Call a new account, reminded"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "Call {name}"
reminders = [{ after = "P1D", repeat = 2, activity = "task", assignee = "owner_manager", subject = "{name} has not been called yet" }]
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn publish(w: &World, toml: &str) {
    let model = Model::from_toml(toml).expect("model").file;
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
}

/// The instance a new account started, as the device sees it.
fn only_instance(d: &TestDevice) -> RecordId {
    d.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("an instance")
}

/// The activities of `instance` on `d`, by id, with their status.
fn activities_of(d: &TestDevice, instance: &RecordId) -> Vec<(String, String)> {
    d.process_activities(instance, true, &["status"])
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

#[test]
fn a_reply_sent_offline_wins_over_a_timeout_another_phone_hit() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    publish(&w, OFFER);
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    ana.create(
        RecordKind::Account,
        &[("name", "Nube SL"), ("territory", "madrid")],
    );
    let instance = only_instance(&ana);
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "send", 0), None));
    ana.sync();
    mia.sync();
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.current.as_deref(), Some("reply"));
    assert_eq!(card.awaits, ["reply"], "{card:?}");

    // A message the model does not wait for is refused with what it waits
    // for; so is one from someone without `complete_tasks`... (the
    // server's guard is exercised in attacks_processes). Ana, offline, hears
    // from the customer on day 2.
    let e = ana
        .device
        .with_store(|s| s.control_process(&instance, Control::Message("answer".into())))
        .expect_err("not waited for");
    match e {
        SdkError::Core(CoreError::Invalid(v)) => {
            assert!(v.message.contains("it waits for reply"), "{}", v.message)
        }
        other => panic!("expected invalid, got {other}"),
    }
    ana_clock.set(at("2027-03-03T11:00:00Z"));
    ana.store(|s| s.control_process(&instance, Control::Message("reply".into())));
    let on_phone = ana.store(|s| s.process_card(&instance));
    assert_eq!(on_phone.current.as_deref(), Some("done"), "{on_phone:?}");

    // Mia's phone, offline, and the server see the timeout pass on day 5.
    mia_clock.set(at("2027-03-05T09:00:00Z"));
    mia.store(|s| s.run_processes());
    let chase = activity_id(&instance, "chase", 2);
    assert_eq!(mia.get(&chase).text("status"), Some("planned"));
    w.server_clock.set(at("2027-03-05T09:00:00Z"));
    std::thread::sleep(std::time::Duration::from_millis(300)); // a scheduler tick

    // Everyone syncs: the reply (day 2) came before the timeout (day 4).
    for d in [&mia, &ana, &mia, &ana] {
        d.sync();
    }
    let meet = activity_id(&instance, "meet", 2);
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(path, ["send", "reply", "meet", "done"], "{card:?}");
        assert_eq!(card.status, Status::Completed);
        assert_eq!(card.history[1].via.as_deref(), Some("message"));
        assert_eq!(
            card.history[1].left_at,
            Some(at("2027-03-03T11:00:00Z")),
            "left when the reply came"
        );
        assert!(
            card.superseded.iter().any(|(k, _)| k == "0001.reply.timer"),
            "the timeout is kept as superseded: {:?}",
            card.superseded
        );
        let meeting = d.get(&meet);
        assert_eq!(meeting.text("status"), Some("planned"));
        assert_eq!(meeting.text("assignee"), Some("mia"));
        assert_eq!(meeting.text("starts_at"), Some("2027-03-04T11:00:00Z"));
        assert!(meeting.conflicts.is_empty(), "{:?}", meeting.conflicts);
        assert_eq!(
            d.get(&chase).text("status"),
            Some("cancelled"),
            "the losing path's call"
        );
        let mut acts = activities_of(d, &instance);
        acts.sort();
        acts.dedup_by(|a, b| a.0 == b.0);
        assert!(
            acts.len() <= 3,
            "send, meet and at most the cancelled chase: {acts:?}"
        );
    }
    assert_eq!(
        server_changes(&w.server, &format!("{meet}/general")),
        1,
        "one creation of the meeting, byte-identical everywhere"
    );
}

#[test]
fn the_office_api_sends_a_message_and_refuses_a_malformed_one() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    publish(&w, OFFER);
    let (ana, _c, _a) = device(&rt, &w, "ana", t0);
    ana.sync();
    ana.create(
        RecordKind::Account,
        &[("name", "Łódź Sp. z o.o."), ("territory", "madrid")],
    );
    let instance = only_instance(&ana);
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "send", 0), None));
    ana.sync();
    let api = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let path = format!("/v1/processes/instances/{instance}/control");
    let bad = api.post(&path, json!({"action": "send_message", "name": "re ply"}));
    assert_eq!(bad.status, 400, "{}", bad.text);
    let unknown = api.post(&path, json!({"action": "send_message", "name": "answer"}));
    assert_eq!(unknown.status, 409, "{}", unknown.text);
    assert!(
        unknown.text.contains("it waits for reply"),
        "{}",
        unknown.text
    );
    let card = api.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["awaits"], json!(["reply"]), "{}", card.text);
    w.server_clock.set(at("2027-03-02T10:00:00Z"));
    let sent = api.post(&path, json!({"action": "send_message", "name": "reply"}));
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(sent.json["current"], "done", "{}", sent.text);
    assert!(
        sent.json["controls"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["kind"] == "message" && c["message"] == "reply")),
        "{}",
        sent.text
    );
    ana.sync();
    let card = ana.store(|s| s.process_card(&instance));
    let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
    assert_eq!(path, ["send", "reply", "meet", "done"], "{card:?}");
}

#[test]
fn reminders_come_once_while_a_task_is_open_and_stop_when_it_is_done() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    publish(&w, REMIND);
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    ana.create(
        RecordKind::Account,
        &[("name", "Østergaard ApS"), ("territory", "madrid")],
    );
    ana.sync();
    mia.sync();
    let instance = only_instance(&mia);
    let first = reminder_id(&instance, "call", 0, 0, 0);
    let second = reminder_id(&instance, "call", 0, 0, 1);

    // Day 2, both phones offline: each runs the instance and creates the
    // first reminder, for the manager, dated when it was due.
    for (d, c) in [(&ana, &ana_clock), (&mia, &mia_clock)] {
        c.set(at("2027-03-02T10:00:00Z"));
        d.store(|s| s.run_processes());
        let r = d.get(&first);
        assert_eq!(r.text("assignee"), Some("mia"));
        assert_eq!(r.text("type"), Some("task"));
        assert_eq!(r.text("due_at"), Some("2027-03-02T09:00:00Z"));
        assert_eq!(
            r.text("subject"),
            Some("Østergaard ApS has not been called yet")
        );
        assert!(d.try_get(&second).is_none(), "the second is not due yet");
    }
    ana.sync();
    mia.sync();
    assert_eq!(
        server_changes(&w.server, &format!("{first}/general")),
        1,
        "two phones created the reminder: one change, byte-identical"
    );

    // Ana calls at noon, offline; mia's phone does not know and, on day 4,
    // creates the second reminder (due day 3).
    ana_clock.set(at("2027-03-02T12:00:00Z"));
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "call", 0), None));
    assert_eq!(ana.get(&first).text("status"), Some("cancelled"));
    mia_clock.set(at("2027-03-04T09:00:00Z"));
    mia.store(|s| s.run_processes());
    assert_eq!(mia.get(&second).text("status"), Some("planned"));

    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        assert_eq!(card.status, Status::Completed, "{card:?}");
        let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(path, ["call", "done"]);
        for r in [&first, &second] {
            let reminder = d.get(r);
            assert_eq!(
                reminder.text("status"),
                Some("cancelled"),
                "a reminder of a done task is not left open"
            );
        }
        let acts = activities_of(d, &instance);
        assert_eq!(
            acts.len(),
            3,
            "the call and two reminders, once each: {acts:?}"
        );
    }
}

/// Waits for the deal to be lost, or two weeks.
const UNTIL_LOST: &str = r#"
key = "until-lost"
name = "Watch a deal until it is lost"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "watch"
kind = "wait"
events = [{ condition = 'stage == "lost"', next = "debrief" }, { after = "P14D", next = "done" }]

[[steps]]
id = "debrief"
kind = "activity"
activity = "call"
assignee = "owner_manager"
subject = "Debrief the lost deal {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

#[test]
fn a_change_pushed_by_a_phone_that_does_not_run_the_instance_leaves_a_wait_on_the_server() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    publish(&w, UNTIL_LOST);
    let (ana, _ac, _a) = device(&rt, &w, "ana", t0);
    let (mia, _mc, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Nube SL"), ("territory", "madrid")],
    );
    let deal = ana.create(
        RecordKind::Deal,
        &[("name", "Fleet"), ("account", &account.to_string())],
    );
    ana.sync();
    // The manager starts it: it runs as her, so the rep's phone (which
    // reads less) never runs it.
    mia.sync();
    let instance = mia.store(|s| s.start_process("until-lost", &deal));
    mia.sync();
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.current.as_deref(), Some("watch"));
    assert!(card.awaits.is_empty(), "a condition is not a message");

    // The rep marks the deal lost; the server runs the waiting instance on
    // her accepted push.
    ana.sync();
    w.server_clock.set(at("2027-03-02T10:00:00Z"));
    ana.set(&deal, &[("stage", "lost"), ("close_reason", "Price")]);
    let before = ana.store(|s| s.process_card(&instance));
    assert_eq!(
        before.current.as_deref(),
        Some("watch"),
        "her phone does not run it"
    );
    ana.sync();
    ana.sync();
    for d in [&ana, &mia] {
        d.sync();
        let card = d.store(|s| s.process_card(&instance));
        let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(path, ["watch", "debrief", "done"], "{card:?}");
        assert_eq!(card.history[0].via.as_deref(), Some("condition"));
        assert_eq!(card.history[0].by.as_deref(), Some("engine"));
    }
}
