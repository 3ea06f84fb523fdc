//! Parallel paths, end to end: a new account's offer is written by its
//! rep while her manager checks the customer's credit, each on a phone
//! that is offline; the offer is sent only once both are done. Every
//! replica ends with one history and no duplicate activities.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::process::instance::{Event, step_label};
use fieldwork_core::process::model::Model;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{World, at, device, server_changes, world};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use serde_json::json;

const PREPARE: &str = r#"
key = "prepare-offer"
name = "Prepare an offer while the credit is checked"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "prepare"
kind = "parallel"
paths = ["offer", "credit"]
next = "send"

[[steps]]
id = "offer"
kind = "task"
assignee = "owner"
subject = "Write the offer for {name}"
next = "send"

[[steps]]
id = "credit"
kind = "task"
assignee = "owner_manager"
subject = "Check the credit of {name}"
next = "send"

[[steps]]
id = "send"
kind = "task"
assignee = "owner"
subject = "Send {name} the offer"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn publish(w: &World) {
    let model = Model::from_toml(PREPARE).expect("model").file;
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
}

/// The task of path `k`'s step `step` (its first visit).
fn path_task(instance: &RecordId, k: usize, step: &str) -> RecordId {
    let scope = Event::branch_scope(0, "prepare", k);
    activity_id(instance, &step_label(Some(&scope), step), 0)
}

/// The activities of `instance` on `d`: id, subject and status.
fn activities_of(d: &TestDevice, instance: &RecordId) -> Vec<(String, String, String)> {
    d.process_activities(instance, true, &["subject", "status"])
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}

#[test]
fn two_phones_each_finish_one_path_offline_and_the_offer_is_sent_once() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    publish(&w);
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    ana.create(
        RecordKind::Account,
        &[("name", "Nguyễn & Søn"), ("territory", "madrid")],
    );
    let instance: RecordId = ana.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("an instance");
    ana.sync();
    mia.sync();
    let (offer, credit) = (
        path_task(&instance, 0, "offer"),
        path_task(&instance, 1, "credit"),
    );
    assert_eq!(mia.get(&credit).text("assignee"), Some("mia"));
    assert_eq!(mia.get(&offer).text("assignee"), Some("ana"));
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.current.as_deref(), Some("prepare"));
    assert_eq!(card.open_steps, ["offer", "credit"], "{card:?}");

    // The office sees the same two open steps.
    let api = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let office = api.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(
        office.json["open_steps"],
        json!(["offer", "credit"]),
        "{}",
        office.text
    );

    // Offline: ana writes the offer on day 2, mia checks the credit on day 3.
    ana_clock.set(at("2027-03-02T10:00:00Z"));
    ana.store(|s| s.complete_task_with(&offer, None));
    let on_ana = ana.store(|s| s.process_card(&instance));
    assert_eq!(
        on_ana.open_steps,
        ["credit"],
        "the offer path reached the join"
    );
    mia_clock.set(at("2027-03-03T15:00:00Z"));
    mia.store(|s| s.complete_task_with(&credit, None));
    assert_eq!(
        mia.store(|s| s.process_card(&instance)).open_steps,
        ["offer"]
    );

    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    let send = activity_id(&instance, "send", 1);
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        assert_eq!(card.current.as_deref(), Some("send"), "{card:?}");
        assert_eq!(card.status, Status::Running);
        let main: Vec<&str> = card
            .history
            .iter()
            .filter(|v| v.path.is_none())
            .map(|v| v.step.as_str())
            .collect();
        assert_eq!(main, ["prepare", "send"]);
        let joined = &card.history[0];
        assert_eq!(joined.via.as_deref(), Some("join"));
        assert_eq!(
            joined.left_at,
            Some(at("2027-03-03T15:00:00Z")),
            "joined when the last path arrived"
        );
        let paths: Vec<(&str, Option<&str>, Option<&str>)> = card
            .history
            .iter()
            .filter_map(|v| Some((v.path.as_deref()?, v.via.as_deref(), v.by.as_deref())))
            .collect();
        assert_eq!(
            paths,
            [
                ("0000.prepare.0", Some("task"), Some("ana")),
                ("0000.prepare.1", Some("task"), Some("mia"))
            ]
        );
        assert!(card.superseded.is_empty(), "{:?}", card.superseded);
        let acts = activities_of(d, &instance);
        let statuses: Vec<(&str, &str)> = acts
            .iter()
            .map(|(_, s, st)| (s.as_str(), st.as_str()))
            .collect();
        assert_eq!(
            statuses.len(),
            3,
            "offer, credit check and one send task: {acts:?}"
        );
        assert_eq!(d.get(&send).text("status"), Some("planned"));
        assert_eq!(d.get(&offer).text("status"), Some("done"));
        assert_eq!(d.get(&credit).text("status"), Some("done"));
    }
    assert_eq!(
        server_changes(&w.server, &format!("{send}/general")),
        1,
        "both phones planned the send task: one change, byte-identical"
    );

    ana.store(|s| s.complete_task_with(&send, None));
    ana.sync();
    mia.sync();
    let card = mia.store(|s| s.process_card(&instance));
    assert_eq!(card.status, Status::Completed, "{card:?}");
}
