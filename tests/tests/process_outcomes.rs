//! Held tasks and task outcomes, end to end: two devices (offline), the
//! server and the office API decide a write to a process task by one rule
//! (`fieldwork_core::process::task_write`): a suspended instance's task is
//! not completed anywhere (`process_held`), a task that asks for an outcome
//! is completed only with one that fits (`invalid_outcome`), and the
//! outcome becomes a variable a gateway branches on, the same on every
//! replica.

use fieldwork_core::automerge::ReadDoc;
use fieldwork_core::automerge::transaction::Transactable;
use fieldwork_core::automerge::{ActorId, ROOT};
use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner::Control;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{CoreError, FieldWrite, RecordId, RecordKind};
use fieldwork_sdk::SdkError;
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{at, device, server_changes, world};
use fieldwork_tests::forge::{doc_from, push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use serde_json::json;

/// A new account's owner calls it and says how it went; an interested
/// customer gets a meeting with the owner's manager, due after the
/// instance's `follow_up` parameter (a week when it is not set).
const CALL_AND_DECIDE: &str = r#"
key = "call-and-decide"
name = "Call a new account and decide"
trigger = { kind = "record_created", record = "account" }

[parameters]
follow_up = "duration"

[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "Call {name}"
outcome = "choice:interested,not_interested,call_back"
next = "decide"

[[steps]]
id = "decide"
kind = "gateway"
branches = [{ condition = 'outcome.call == "interested"', next = "meet" }]
default = "done"

[[steps]]
id = "meet"
kind = "task"
assignee = "owner_manager"
subject = "Meet {name}"
due = "P7D"
due_param = "follow_up"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn publish(w: &fieldwork_tests::clocked::World) {
    let model = Model::from_toml(CALL_AND_DECIDE).expect("model").file;
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
}

fn denied_code(e: SdkError) -> String {
    match e {
        SdkError::Core(CoreError::Denied(d)) => d.code,
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn a_suspended_instances_task_is_held_on_the_device_the_server_and_the_api() {
    let rt = runtime();
    let t0 = "2027-01-04T09:00:00Z";
    let w = world(t0);
    publish(&w);
    let (ana, _ac, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Szőke Kft"), ("territory", "madrid")],
    );
    ana.sync();
    mia.sync();
    let instance: RecordId = mia.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("the instance reached mia");
    let call = activity_id(&instance, "call", 0);
    assert_eq!(ana.get(&call).text("status"), Some("planned"));

    // The manager suspends the instance; the rep, offline, completes the
    // task on her phone, which does not know yet.
    mia.store(|s| s.control_process(&instance, Control::Suspend));
    mia.sync();
    ana.store(|s| s.complete_task_with(&call, Some("interested")));

    // Her push is refused by the server, kept in her quarantine with why.
    ana.sync();
    let held: Vec<_> = ana
        .store(|s| s.quarantine())
        .into_iter()
        .filter(|q| q.code == "process_held")
        .collect();
    assert!(!held.is_empty(), "the completion is quarantined");
    assert!(
        held[0]
            .message
            .contains("the process `call-and-decide` is suspended"),
        "{}",
        held[0].message
    );
    mia.sync();
    assert_eq!(
        mia.get(&call).text("status"),
        Some("planned"),
        "the server kept the task open"
    );
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.status, Status::Suspended);
    assert_eq!(card.history.len(), 1, "the instance did not move");
    assert!(
        card.held
            .as_deref()
            .is_some_and(|h| h.contains("suspended")),
        "the card says why its task is held: {card:?}"
    );

    // Now that the phone knows, it refuses up front: the task command and
    // a plain edit of the status alike.
    ana.sync();
    assert_eq!(
        ana.get(&call).text("status"),
        Some("planned"),
        "the phone shows the server's state; the refused edit waits in quarantine"
    );
    {
        let e = ana
            .device
            .with_store(|s| s.complete_task_with(&call, Some("interested")))
            .expect_err("held");
        assert_eq!(denied_code(e), "process_held");
        let e = ana
            .device
            .update(&call, vec![FieldWrite::set("status", "done")])
            .expect_err("held");
        assert!(e.to_string().contains("process_held"), "{e}");
    }

    // A change forged past the phone, signed as hers: refused the same.
    // So is a completion forged straight into the instance's log.
    let doc = format!("{call}/general");
    let instance_doc = format!("{instance}/general");
    let codes = rt.block_on(async {
        let t = token(&w.server.url, "ana").await;
        let mut c = RawClient::connect(&w.server.url, &t)
            .await
            .expect("connect");
        let welcome = c.hello("forger").await;
        let mut forged = doc_from(&welcome, &doc).with_actor(ActorId::random());
        forged.put(ROOT, "status", "done").expect("put");
        let status = signed(&mut forged, "ana");
        let mut log = doc_from(&welcome, &instance_doc).with_actor(ActorId::random());
        let (_, events) = log.get(ROOT, "events").expect("get").expect("events");
        log.put(
            &events,
            "0000.call.task",
            r#"{"kind":"done","at":"2027-01-04T09:00:00Z","by":"ana","pos":0,"step":"call","via":"task","to":"decide","outcome":"interested"}"#,
        )
        .expect("put");
        let event = signed(&mut log, "ana");
        let mut codes = Vec::new();
        for (d, bytes) in [(&doc, status), (&instance_doc, event)] {
            c.send(&push_one(d, bytes)).await;
            loop {
                match c.recv().await {
                    Some(ServerMessage::PushResult(r)) => {
                        assert!(r.accepted.is_empty(), "accepted: {r:?}");
                        codes.push(r.refused.first().expect("a refusal").code.clone());
                        break;
                    }
                    Some(_) => continue,
                    None => panic!("the connection closed instead of answering"),
                }
            }
        }
        codes
    });
    assert_eq!(codes, ["process_held", "process_held"]);
    let audited: i64 = w
        .server
        .state
        .db
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit WHERE code = 'process_held' AND user_name = 'ana'",
                [],
                |r| r.get(0),
            )?)
        })
        .expect("audit");
    assert!(
        audited >= 2,
        "the device's push and the forged one are audited"
    );

    // The office API: refused with the same code, nothing written.
    let api = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let answer = api.post(
        &format!("/v1/tasks/{call}/complete"),
        json!({"outcome": "interested"}),
    );
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert_eq!(answer.json["code"], "process_held", "{}", answer.text);
    assert!(
        answer.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("suspended")),
        "{}",
        answer.text
    );
    let patched = api.patch(
        &format!("/v1/records/activity/{call}"),
        json!({"fields": {"status": "done"}}),
    );
    assert_eq!(patched.json["code"], "process_held", "{}", patched.text);

    // Resumed (an hour later), the same completion goes through.
    let later = "2027-01-04T10:00:00Z";
    w.server_clock.set(at(later));
    mia_clock.set(at(later));
    mia.store(|s| s.control_process(&instance, Control::Resume));
    mia.sync();
    let answer = api.post(
        &format!("/v1/tasks/{call}/complete"),
        json!({"outcome": "not_interested"}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    mia.sync();
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.status, Status::Completed, "{card:?}");
    let _ = account;
}

#[test]
fn a_task_outcome_chooses_the_gateway_branch_on_two_offline_devices_and_the_server() {
    let rt = runtime();
    let t0 = "2027-01-04T09:00:00Z";
    let w = world(t0);
    publish(&w);
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "José Pérez"), ("territory", "madrid")],
    );
    ana.sync();
    mia.sync();
    let instance: RecordId = mia.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("the instance reached mia");
    // The manager sets the follow-up to three days; both phones know.
    mia.store(|s| {
        s.control_process(
            &instance,
            Control::Parameter("follow_up".into(), "P3D".into()),
        )
    });
    let e = mia
        .device
        .with_store(|s| {
            s.control_process(
                &instance,
                Control::Parameter("follow_up".into(), "three days".into()),
            )
        })
        .expect_err("not a duration");
    assert!(e.to_string().contains("follow_up"), "{e}");
    let e = mia
        .device
        .with_store(|s| {
            s.control_process(&instance, Control::Parameter("colour".into(), "red".into()))
        })
        .expect_err("not declared");
    assert!(e.to_string().contains("declares no parameter"), "{e}");
    mia.sync();
    ana.sync();

    // Offline, ana calls: an outcome is required, and only a listed one.
    let call = activity_id(&instance, "call", 0);
    let done_at = "2027-01-05T10:00:00Z";
    ana_clock.set(at(done_at));
    for bad in [None, Some("maybe")] {
        let e = ana
            .device
            .with_store(|s| s.complete_task_with(&call, bad))
            .expect_err("needs a listed outcome");
        assert_eq!(denied_code(e), "invalid_outcome");
    }
    assert_eq!(ana.get(&call).text("status"), Some("planned"));
    ana.store(|s| s.complete_task_with(&call, Some("interested")));

    // Her phone branches at once: a meeting for mia, in three days.
    let meet = activity_id(&instance, "meet", 2);
    let on_phone = ana.get(&meet);
    assert_eq!(on_phone.text("assignee"), Some("mia"));
    assert_eq!(on_phone.text("due_at"), Some("2027-01-08T10:00:00Z"));

    // The server and mia's phone (offline until now) run it too.
    w.server_clock.set(at("2027-01-05T10:05:00Z"));
    mia_clock.set(at("2027-01-05T10:05:00Z"));
    mia.store(|s| s.run_processes());
    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    assert_eq!(
        server_changes(&w.server, &format!("{meet}/general")),
        1,
        "one creation of the meeting, byte-identical everywhere"
    );
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        let path: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
        assert_eq!(path, ["call", "decide", "meet"], "{card:?}");
        assert_eq!(card.history[0].outcome.as_deref(), Some("interested"));
        assert_eq!(card.held, None);
        assert!(card.superseded.is_empty(), "{:?}", card.superseded);
        assert_eq!(d.get(&call).text("outcome"), Some("interested"));
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
        assert_eq!(tasks.len(), 2, "the call and one meeting: {tasks:?}");
        let meeting = d.get(&meet);
        assert!(meeting.conflicts.is_empty(), "{:?}", meeting.conflicts);
        assert_eq!(meeting.text("due_at"), Some("2027-01-08T10:00:00Z"));
    }
    let cal = mia.store(|s| s.calendar("mia", "2027-01-08", "2027-01-08", None));
    assert_eq!(cal.len(), 1, "{cal:?}");
    let _ = account;
}

#[test]
fn publishing_refuses_a_condition_over_an_undeclared_outcome_or_parameter() {
    let bad = CALL_AND_DECIDE
        .replace("outcome.call ==", "outcome.meet ==")
        .replace("due_param = \"follow_up\"", "due_param = \"later\"");
    let e = Model::from_toml(&bad).expect_err("refused").0.join("\n");
    assert!(e.contains("`outcome.meet` is not declared"), "{e}");
    assert!(
        e.contains("declares no `duration` parameter `later`"),
        "{e}"
    );
    let bad = CALL_AND_DECIDE.replace("outcome.call ==", "param.budget ==");
    let e = Model::from_toml(&bad).expect_err("refused").0.join("\n");
    assert!(e.contains("`param.budget` is not declared"), "{e}");
    let bad = CALL_AND_DECIDE.replace("choice:interested", "choice:interested,interested");
    let e = Model::from_toml(&bad).expect_err("refused").0.join("\n");
    assert!(e.contains("steps.call.outcome"), "{e}");
}
