//! Call and start steps: another model run on the same record, started
//! once by a replica allowed to, and waited for until it completes.

use std::collections::BTreeMap;

use super::test_support::{self, at, inputs, record};
use super::{Action, Called, Inputs, Outcome, called_id, called_state, candidate_called, step};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::{Event, Instance, instance_fields};
use crate::process::model::{Model, ModelFile, pin_calls};
use crate::record::Record;
use crate::value::FieldValue;

const ONBOARD: &str = r#"
key = "onboard"
name = "Onboard a customer"
trigger = { kind = "manual", record = "account" }

[[steps]]
id = "credit"
kind = "call"
process = "credit-check"
process_version = 2
next = "open"

[[steps]]
id = "open"
kind = "task"
assignee = "owner"
subject = "Open the account of {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

const CHECK: &str = r#"
key = "credit-check"
name = "Check the credit"
trigger = { kind = "manual", record = "account" }

[[steps]]
id = "check"
kind = "task"
assignee = "owner_manager"
subject = "Check the credit of {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn account() -> Record {
    record(RecordKind::Account, "a", &[])
}

fn instance(record: &Record) -> Instance {
    test_support::instance("onboard", record, "2027-03-01T09:00:00Z")
}

fn run(
    model: &Model,
    i: &Instance,
    called: &BTreeMap<RecordId, Called>,
    may_start: bool,
) -> Outcome {
    let a = account();
    let none = BTreeMap::new();
    step(&Inputs {
        may_start,
        ..inputs(model, (i, &a), (&none, called), "2027-03-05T09:00:00Z")
    })
}

fn started(o: &Outcome) -> Vec<(RecordId, BTreeMap<String, FieldValue>)> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            Action::StartInstance { id, fields, .. } => Some((id.clone(), fields.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_call_starts_the_pinned_version_once_and_waits_for_it() {
    let model = Model::from_toml(ONBOARD).expect("valid");
    let i = instance(&account());
    let child = called_id(&i.id, "credit", 0);
    let o = run(&model, &i, &BTreeMap::new(), true);
    let made = started(&o);
    assert_eq!(made.len(), 1);
    let (id, fields) = &made[0];
    assert_eq!(id, &child);
    assert_eq!(
        fields,
        &instance_fields(
            ("credit-check", 2),
            (&i.record, i.account.as_ref()),
            "ana",
            i.started_at
        ),
        "the calling instance's record, account and owner, dated when the step was entered"
    );
    assert_eq!(o.awaits_instance.as_ref(), Some(&child));
    assert_eq!(
        o.position.current().map(|v| v.step.as_str()),
        Some("credit")
    );
    assert!(candidate_called(&i, &[&model]).contains(&child));

    // It runs: the caller waits and starts nothing more.
    let running = BTreeMap::from([(child.clone(), Called::Running)]);
    let o = run(&model, &i, &running, true);
    assert!(started(&o).is_empty());
    assert_eq!(o.awaits_instance.as_ref(), Some(&child));

    // It completed on day 3: the caller goes on, dated then.
    let done = BTreeMap::from([(child.clone(), Called::Completed(at("2027-03-03T15:00:00Z")))]);
    let o = run(&model, &i, &done, false);
    let left: Vec<(String, Event)> = o
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Event { key, event } => Some((key.clone(), event.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(left[0].0, "0000.credit.call");
    assert_eq!(left[0].1.at, at("2027-03-03T15:00:00Z"));
    assert_eq!(o.position.current().map(|v| v.step.as_str()), Some("open"));
    assert_eq!(o.awaits_instance, None);
}

#[test]
fn a_replica_that_may_not_start_it_waits_for_it_to_arrive() {
    let model = Model::from_toml(ONBOARD).expect("valid");
    let i = instance(&account());
    let o = run(&model, &i, &BTreeMap::new(), false);
    assert!(
        started(&o).is_empty(),
        "only the owner's device or the server"
    );
    assert!(o.actions.is_empty());
    assert_eq!(o.awaits_instance, None);
    assert_eq!(
        o.position.current().map(|v| v.step.as_str()),
        Some("credit")
    );
}

#[test]
fn a_start_step_goes_on_at_once_and_a_stopped_call_leaves_the_caller_stuck() {
    let model =
        Model::from_toml(&ONBOARD.replace("kind = \"call\"", "kind = \"start\"")).expect("valid");
    let i = instance(&account());
    let o = run(&model, &i, &BTreeMap::new(), true);
    assert_eq!(started(&o).len(), 1);
    assert_eq!(o.position.current().map(|v| v.step.as_str()), Some("open"));
    let entered = o.position.path[1].entered_at;
    assert_eq!(
        entered, i.started_at,
        "dated when the start step was entered"
    );

    let model = Model::from_toml(ONBOARD).expect("valid");
    let child = called_id(&i.id, "credit", 0);
    let o = run(
        &model,
        &i,
        &BTreeMap::from([(child, Called::Stopped)]),
        true,
    );
    assert!(
        o.stuck
            .as_deref()
            .is_some_and(|s| s.contains("was stopped")),
        "{:?}",
        o.stuck
    );
}

#[test]
fn a_called_instance_is_completed_once_its_log_reaches_an_end_step() {
    let check = Model::check(Model::from_toml(CHECK).expect("valid").file, 2).expect("v2");
    let account = account();
    let id = called_id(
        &RecordId::derived(RecordKind::ProcessInstance, &["p"]),
        "credit",
        0,
    );
    let entered = at("2027-03-01T09:00:00Z");
    let mut fields = instance_fields(
        ("credit-check", 2),
        (&account.id, Some(&account.id)),
        "ana",
        entered,
    );
    let record = |fields: &BTreeMap<String, FieldValue>| Record {
        id: id.clone(),
        fields: fields.clone(),
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    };
    let models = vec![check];
    assert_eq!(
        called_state(&record(&fields), &models),
        Some(Called::Running)
    );
    let done = Event {
        step: Some("check".into()),
        pos: Some(0),
        via: Some("task".into()),
        to: Some("done".into()),
        ..Event::control(
            crate::process::instance::EventKind::Done,
            at("2027-03-02T10:00:00Z"),
            "mia",
        )
    };
    let log = serde_json::json!({ done.own_key().expect("key"): done });
    let entries = log.as_object().expect("map").clone().into_iter().collect();
    fields.insert("events".into(), FieldValue::Entries(entries));
    assert_eq!(
        called_state(&record(&fields), &models),
        Some(Called::Completed(at("2027-03-02T10:00:00Z")))
    );
    assert_eq!(
        called_state(&record(&fields), &[]),
        None,
        "its model is not here"
    );
}

fn published(toml: &str, version: i64) -> Model {
    Model::check(Model::from_toml(toml).expect("valid").file, version).expect("checked")
}

fn file(toml: &str) -> ModelFile {
    Model::from_toml(toml).expect("valid").file
}

#[test]
fn publishing_pins_the_latest_version_and_refuses_missing_self_and_circular_calls() {
    let unpinned = ONBOARD.replace("process_version = 2\n", "");
    let mut f = file(&unpinned);
    pin_calls(&mut f, &[published(CHECK, 1), published(CHECK, 4)]).expect("pinned");
    assert_eq!(f.steps[0].process_version, Some(4));

    let mut f = file(&unpinned);
    let e = pin_calls(&mut f, &[]).expect_err("nothing to call");
    assert!(e.0[0].contains("no published model `credit-check`"), "{e}");

    let mut f = file(&unpinned.replace("credit-check", "onboard"));
    let e = pin_calls(&mut f, &[]).expect_err("itself");
    assert!(e.0[0].contains("cannot run itself"), "{e}");

    // credit-check v1 calls onboard: publishing onboard closes the circle.
    let circular = CHECK.replace(
        "[[steps]]\nid = \"check\"",
        "[[steps]]\nid = \"back\"\nkind = \"call\"\nprocess = \"onboard\"\nprocess_version = 1\nnext = \"check\"\n\n[[steps]]\nid = \"check\"",
    );
    let mut f = file(&unpinned);
    let e = pin_calls(&mut f, &[published(&circular, 1)]).expect_err("circular");
    assert!(e.0[0].contains("onboard → credit-check → onboard"), "{e}");

    // A model on deals cannot be run on an account.
    let on_deals = CHECK.replace("record = \"account\"", "record = \"deal\"");
    let mut f = file(&unpinned);
    let e = pin_calls(&mut f, &[published(&on_deals, 1)]).expect_err("unfit");
    assert!(
        e.0[0].contains("`credit-check` cannot run on the account this model runs on"),
        "{e}"
    );
}
