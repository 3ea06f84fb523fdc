//! Processes on one device store: models from TOML and BPMN, triggers on
//! local writes, timers, task completion, versions, cards and monitoring.

use std::path::Path;
use std::sync::Arc;

use fieldwork_core::clock::ManualClock;
use fieldwork_core::process::Status;
use fieldwork_core::process::bpmn;
use fieldwork_core::process::model::{Model, ModelFile};
use fieldwork_core::process::runner::Control;
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::{FieldWrite, RecordKind, Store};

fn repo(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).expect("read file")
}

fn toml_model(path: &str) -> ModelFile {
    Model::from_toml(&repo(path)).expect("valid model").file
}

fn store(dir: &Path, at: &str) -> (Store, ManualClock) {
    let clock = ManualClock::new(at.parse().expect("instant"));
    let mut s = Store::open(&dir.join("device.db"), Arc::new(clock.clone())).expect("open");
    s.set_directory(&[
        DirectoryEntry {
            name: "local".into(),
            role: "rep".into(),
            manager: Some("mia".into()),
            time_zone: Some("Europe/Madrid".into()),
        },
        DirectoryEntry {
            name: "mia".into(),
            role: "manager".into(),
            manager: None,
            time_zone: Some("Europe/Budapest".into()),
        },
    ])
    .expect("directory");
    (s, clock)
}

fn won_deal(s: &mut Store, name: &str) -> fieldwork_core::RecordId {
    let acc = s
        .create(RecordKind::Account, vec![FieldWrite::set("name", name)])
        .expect("account");
    let deal = s
        .create(
            RecordKind::Deal,
            vec![
                FieldWrite::set("name", format!("{name} fleet")),
                FieldWrite::set("account", acc.to_string()),
            ],
        )
        .expect("deal");
    s.update(&deal, vec![FieldWrite::set("stage", "won")])
        .expect("won");
    deal
}

#[test]
fn the_bpmn_and_toml_forms_of_the_follow_up_are_the_same_model() {
    let from_toml = toml_model("examples/processes/deal-won-follow-up.toml");
    let from_bpmn =
        bpmn::import(&repo("examples/processes/deal-won-follow-up.bpmn")).expect("import");
    let checked = Model::check(from_bpmn.clone(), 1).expect("runs");
    assert_eq!(checked.start, "wait-a-week");
    assert_eq!(from_bpmn.trigger, from_toml.trigger);
    let steps = |m: &ModelFile| {
        m.steps
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    s.kind,
                    s.next.clone(),
                    s.subject.clone(),
                    s.topic.clone(),
                    s.duration.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(&from_bpmn), steps(&from_toml));
}

#[test]
fn a_camunda_export_with_lanes_gateways_and_a_deadline_imports() {
    let file =
        bpmn::import(&repo("tests/fixtures/camunda-lead-qualification.bpmn")).expect("import");
    let model = Model::check(file, 1).expect("runs");
    assert_eq!(model.file.key, "lead-qualification");
    assert_eq!(model.start, "size", "the first step is the gateway");
    let qualify = model
        .file
        .steps
        .iter()
        .find(|s| s.id == "qualify")
        .expect("task");
    assert_eq!(qualify.deadline.as_deref(), Some("P2D"));
    assert_eq!(qualify.on_deadline.as_deref(), Some("manager-call"));
    let promote = model
        .file
        .steps
        .iter()
        .find(|s| s.id == "promote")
        .expect("set");
    assert_eq!(
        promote.next.as_deref(),
        Some("end"),
        "the joining gateway is followed through"
    );
    let size = model
        .file
        .steps
        .iter()
        .find(|s| s.id == "size")
        .expect("gateway");
    assert_eq!(
        size.branches[0].condition,
        "territory == \"key-accounts\" && stage == \"lead\""
    );
    assert_eq!(size.default.as_deref(), Some("qualify"));
}

#[test]
fn an_unsupported_element_is_refused_with_its_name_and_line() {
    let e = bpmn::import(&repo("tests/fixtures/unsupported-parallel-gateway.bpmn"))
        .expect_err("refused");
    let gateway =
        e.0.iter()
            .find(|p| p.tag.as_deref() == Some("parallelGateway"));
    assert_eq!(gateway.and_then(|p| p.line), Some(7), "{e}");
    assert!(e.to_string().contains("<parallelGateway>"), "{e}");
    let broken =
        bpmn::import("<definitions><process id='p'><startEvent id='s'>").expect_err("truncated");
    assert!(
        broken.to_string().contains("startEvent") || broken.to_string().contains("XML"),
        "{broken}"
    );
}

#[test]
fn a_deal_won_offline_starts_the_follow_up_at_once_and_the_call_lands_a_week_later() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut s, clock) = store(dir.path(), "2027-01-01T09:00:00Z");
    s.publish_model(toml_model("examples/processes/deal-won-follow-up.toml"))
        .expect("publish");
    let deal = won_deal(&mut s, "Szőke Kft");
    let instances = s.process_instances().expect("list");
    assert_eq!(instances.len(), 1, "{instances:?}");
    let id: fieldwork_core::RecordId = instances[0].id.parse().expect("id");
    let card = s.process_card(&id).expect("card");
    assert_eq!(
        (card.current.as_deref(), card.status, card.version),
        (Some("wait-a-week"), Status::Running, 1)
    );
    assert_eq!(card.record, deal.to_string());
    assert_eq!(
        card.wake_at.map(|t| t.to_string()).as_deref(),
        Some("2027-01-08T09:00:00Z")
    );

    // Nothing happens before the week is over; after it, one call for the manager.
    clock.set("2027-01-05T09:00:00Z".parse().expect("t"));
    s.run_processes().expect("run");
    assert!(
        s.calendar("mia", "2027-01-01", "2027-01-31", None)
            .expect("cal")
            .is_empty()
    );
    clock.set("2027-01-08T10:00:00Z".parse().expect("t"));
    s.run_processes().expect("run");
    s.run_processes().expect("running twice changes nothing");
    let cal = s
        .calendar("mia", "2027-01-08", "2027-01-08", None)
        .expect("cal");
    assert_eq!(cal.len(), 1, "{cal:?}");
    assert_eq!(
        cal[0].subject,
        "Call the customer: how is Szőke Kft fleet going?"
    );
    assert_eq!(
        cal[0].at.map(|t| t.to_string()).as_deref(),
        Some("2027-01-08T09:00:00Z")
    );
    assert_eq!(
        cal[0].local.as_deref(),
        Some("2027-01-08 10:00 CET"),
        "in the manager's zone"
    );
    let call = s.get(&cal[0].id.parse().expect("id")).expect("call");
    assert_eq!(
        call.text("topic"),
        Some("Ask how the delivery went and whether they need anything else")
    );
    let card = s.process_card(&id).expect("card");
    assert_eq!(card.status, Status::Completed);
    let steps: Vec<&str> = card.history.iter().map(|v| v.step.as_str()).collect();
    assert_eq!(steps, ["wait-a-week", "call-customer", "done"]);
}

#[test]
fn completing_a_task_advances_the_instance_and_sets_the_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut s, clock) = store(dir.path(), "2027-01-04T09:00:00Z");
    s.publish_model(toml_model("examples/processes/lead-qualification.toml"))
        .expect("publish");
    let acc = s
        .create(
            RecordKind::Account,
            vec![FieldWrite::set("name", "José Pérez")],
        )
        .expect("lead");
    let tasks = s.tasks("local", None).expect("tasks");
    assert_eq!(tasks.time_zone, "Europe/Madrid");
    assert_eq!(tasks.upcoming.len(), 1, "{tasks:?}");
    assert_eq!(tasks.upcoming[0].subject, "Qualify José Pérez");
    clock.set("2027-01-05T11:00:00Z".parse().expect("t"));
    let task = tasks.upcoming[0].id.parse().expect("id");
    let inst = s.complete_task(&task).expect("done").expect("instance");
    assert_eq!(s.get(&acc).expect("acc").text("stage"), Some("prospect"));
    let card = s.process_card(&inst).expect("card");
    assert_eq!(card.status, Status::Completed);
    assert_eq!(card.history[0].via.as_deref(), Some("task"));
    assert_eq!(card.history[0].by.as_deref(), Some("local"));
    assert_eq!(
        card.history[0].left_at.map(|t| t.to_string()).as_deref(),
        Some("2027-01-05T11:00:00Z")
    );
    assert!(s.tasks("local", None).expect("tasks").upcoming.is_empty());
    let report = s.process_monitor().expect("monitor");
    let qualify = &report[0]
        .steps
        .iter()
        .find(|(id, _)| id == "qualify")
        .expect("step")
        .1;
    assert_eq!(
        (qualify.completed, qualify.median_secs),
        (1, Some(26 * 3600))
    );
}

#[test]
fn a_new_version_affects_new_instances_and_migration_checks_the_step() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut s, _clock) = store(dir.path(), "2027-01-01T09:00:00Z");
    let v1 = toml_model("examples/processes/deal-won-follow-up.toml");
    s.publish_model(v1.clone()).expect("v1");
    let old = won_deal(&mut s, "Old Co");
    let mut v2 = v1.clone();
    v2.steps[0].duration = Some("P3D".into());
    v2.steps[0].id = "wait-three-days".into();
    v2.start = None;
    let (_, version) = s.publish_model(v2).expect("v2");
    assert_eq!(version, 2);
    let new = won_deal(&mut s, "New Co");
    let list = s.process_instances().expect("list");
    let on = |deal: &fieldwork_core::RecordId| {
        list.iter()
            .find(|i| i.record == deal.to_string())
            .expect("instance")
            .clone()
    };
    assert_eq!(
        (on(&old).version, on(&old).current.as_deref()),
        (1, Some("wait-a-week"))
    );
    assert_eq!(
        (on(&new).version, on(&new).current.as_deref()),
        (2, Some("wait-three-days"))
    );
    // The old instance waits in a step v2 does not have: migration is refused.
    let err = s
        .control_process(&on(&old).id.parse().expect("id"), Control::Migrate(2))
        .expect_err("refused");
    assert!(
        err.to_string().contains("has no step `wait-a-week`"),
        "{err}"
    );
}

#[test]
fn a_missed_follow_up_call_shows_in_the_devices_monitor_until_it_is_done() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut s, clock) = store(dir.path(), "2027-01-01T09:00:00Z");
    s.publish_model(toml_model("examples/processes/deal-won-follow-up.toml"))
        .expect("publish");
    won_deal(&mut s, "Szőke Kft");
    // The call lands on 8 January at 09:00; nobody makes it.
    clock.set("2027-01-08T10:00:00Z".parse().expect("t"));
    s.run_processes().expect("run");
    let report = s.process_monitor().expect("monitor");
    let r = &report[0];
    assert_eq!((r.completed, r.overdue), (1, 1), "{r:?}");
    let call_step = &r
        .steps
        .iter()
        .find(|(id, _)| id == "call-customer")
        .expect("step")
        .1;
    assert_eq!((call_step.overdue, call_step.stuck), (1, 0));
    let missed = &r.overdue_activities[0];
    assert_eq!(
        (
            missed.step.as_str(),
            missed.kind.as_str(),
            missed.assignee.as_deref()
        ),
        ("call-customer", "call", Some("mia"))
    );
    assert_eq!(missed.due.to_string(), "2027-01-08T09:00:00Z");
    let table = fieldwork_core::process::monitor::table(&report);
    assert!(
        table.contains(&format!(
            "overdue: call {} (call-customer of {}) for mia, due 2027-01-08T09:00:00Z",
            missed.activity, missed.instance
        )),
        "{table}"
    );
    // Made (late): it is no longer overdue.
    let call: fieldwork_core::RecordId = missed.activity.parse().expect("id");
    s.update(&call, vec![FieldWrite::set("status", "done")])
        .expect("done");
    let report = s.process_monitor().expect("monitor");
    assert_eq!(report[0].overdue, 0, "{:?}", report[0]);
    assert!(report[0].overdue_activities.is_empty());
}
