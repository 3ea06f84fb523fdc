//! Business hours and overdue follow-ups end to end: the policy's calendar
//! reaches the phone, which plans a call in opening hours offline; the
//! server plans the same call (one stored change); a missed call shows in
//! the server's monitor and the office API until it is done.

use fieldwork_core::process::engine::activity_id;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{at, device, repo, server_changes, world};
use fieldwork_tests::runtime;

const CALENDAR: &str = r#"
[business_hours]
time_zone = "Europe/Madrid"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-13:00,15:00-18:00"
holidays = ["2027-01-06"]
"#;

const MODEL: &str = r#"
key = "won-call-next-day"
name = "Call the day after a deal is won"
trigger = { kind = "field_change", record = "deal", condition = 'deal.stage == "won"' }

[[steps]]
id = "call"
kind = "activity"
activity = "call"
assignee = "owner"
subject = "How is {name} going?"
offset = "P1D"
duration_minutes = 30
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

#[test]
fn a_deal_won_on_friday_evening_gives_one_call_on_monday_and_a_missed_one_shows_as_overdue() {
    let rt = runtime();
    // Friday 5 February 2027, 17:30 in Madrid.
    let t0 = "2027-02-05T16:30:00Z";
    let w = world(t0);
    let default = std::fs::read_to_string(repo("core/policy.default.toml")).expect("policy");
    w.server
        .set_policy(&format!("{default}\n{CALENDAR}"))
        .expect("a policy with a calendar");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("won.toml");
    std::fs::write(&path, MODEL).expect("model file");
    let model = process_admin::read_model(&path).expect("model");
    process_admin::publish(&w.server.state, model, "admin").expect("publish");

    let (ana, _clock, _a) = device(&rt, &w, "ana", t0);
    ana.sync(); // the policy (with its calendar) and the model

    // Offline, the deal is won: the phone plans the call for Monday 09:00
    // (Ana's zone is Madrid), not Saturday 17:30.
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Olivos SL"), ("territory", "madrid")],
    );
    let deal = ana.create(
        RecordKind::Deal,
        &[("name", "Olive press"), ("account", &account.to_string())],
    );
    ana.set(&deal, &[("stage", "won")]);
    let list = ana.store(|s| s.process_instances());
    assert_eq!(list.len(), 1, "{list:?}");
    let instance: RecordId = list[0].id.parse().expect("id");
    let call = activity_id(&instance, "call", 0);
    assert_eq!(
        ana.get(&call).text("starts_at"),
        Some("2027-02-08T08:00:00Z"),
        "Monday 09:00 in Madrid"
    );
    ana.sync();
    // The server runs the same step with the same calendar: one creation.
    assert_eq!(server_changes(&w.server, &format!("{call}/general")), 1);

    // Monday 10:00 in Madrid: the call was due at 09:00 and is not done.
    w.server_clock.set(at("2027-02-08T09:00:00Z"));
    let report = process_admin::report(&w.server.state).expect("report");
    let r = report
        .iter()
        .find(|r| r.key == "won-call-next-day")
        .expect("the version");
    assert_eq!((r.completed, r.overdue), (1, 1), "{r:?}");
    let step = &r.steps.iter().find(|(s, _)| s == "call").expect("step").1;
    assert_eq!((step.overdue, step.stuck), (1, 0));
    let listed = &r.overdue_activities[0];
    assert_eq!(
        (
            listed.instance.as_str(),
            listed.step.as_str(),
            listed.activity.as_str(),
            listed.kind.as_str(),
            listed.assignee.as_deref(),
        ),
        (
            instance.to_string().as_str(),
            "call",
            call.to_string().as_str(),
            "call",
            Some("ana")
        )
    );
    assert_eq!(listed.due, at("2027-02-08T08:00:00Z"));

    // The office API says the same to her manager.
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let monitor = mia.get("/v1/processes/monitor");
    assert_eq!(monitor.status, 200, "{}", monitor.text);
    let v = monitor.json["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["key"] == "won-call-next-day"))
        .expect("the version")
        .clone();
    assert_eq!(v["overdue"], 1, "{}", monitor.text);
    assert_eq!(v["steps"][0]["overdue"], 1, "{}", monitor.text);
    assert_eq!(v["overdue_activities"][0]["activity"], call.to_string());
    assert_eq!(v["overdue_activities"][0]["assignee"], "ana");
    assert_eq!(v["overdue_activities"][0]["due"], "2027-02-08T08:00:00Z");

    // Ana makes the call: it is no longer overdue anywhere.
    ana.set(&call, &[("status", "done")]);
    ana.sync();
    let report = process_admin::report(&w.server.state).expect("report");
    let r = report
        .iter()
        .find(|r| r.key == "won-call-next-day")
        .expect("the version");
    assert_eq!(r.overdue, 0, "{r:?}");
    assert!(r.overdue_activities.is_empty());
    let monitor = mia.get("/v1/processes/monitor");
    assert!(
        monitor.json["versions"]
            .as_array()
            .is_some_and(|vs| vs.iter().all(|v| v["overdue"] == 0)),
        "{}",
        monitor.text
    );
}
