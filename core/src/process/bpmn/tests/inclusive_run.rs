//! The inclusive fixture, imported and published on a device store, runs
//! the paths whose condition holds (or its default) and meets at the join.

use std::sync::Arc;

use super::{fixture, step};
use crate::clock::ManualClock;
use crate::process::Status;
use crate::process::bpmn::import;
use crate::process::model::StepKind;
use crate::wire::DirectoryEntry;
use crate::{FieldValue, FieldWrite, RecordId, RecordKind, Store};

/// A device store with a rep and a manager, the fixture published on it.
fn store(dir: &std::path::Path) -> Store {
    let clock = ManualClock::new("2027-01-04T09:00:00Z".parse().expect("instant"));
    let mut s = Store::open(&dir.join("device.db"), Arc::new(clock)).expect("open");
    let person = |name: &str, role: &str, manager: Option<&str>| DirectoryEntry {
        name: name.into(),
        role: role.into(),
        manager: manager.map(str::to_owned),
        time_zone: Some("Europe/Madrid".into()),
    };
    s.set_directory(&[
        person("local", "rep", Some("mia")),
        person("mia", "manager", None),
    ])
    .expect("directory");
    let file = import(&fixture("camunda-modeler-inclusive-offer-checks.bpmn")).expect("imports");
    s.publish_model(file).expect("publish");
    s
}

/// Creates a deal with `amount` and `currency`; the instance it started.
fn new_deal(s: &mut Store, amount: i64, currency: &str) -> RecordId {
    let acc = s
        .create(
            RecordKind::Account,
            vec![FieldWrite::set("name", "Nube SL")],
        )
        .expect("account");
    let deal = s
        .create(
            RecordKind::Deal,
            vec![
                FieldWrite::set("name", "Fleet renewal"),
                FieldWrite::set("account", acc.to_string()),
                FieldWrite::set("amount", FieldValue::Int(amount)),
                FieldWrite::set("currency", currency),
            ],
        )
        .expect("deal");
    let list = s.process_instances().expect("instances");
    let mine: Vec<_> = list
        .iter()
        .filter(|i| i.record == deal.to_string())
        .collect();
    assert_eq!(mine.len(), 1, "{list:?}");
    mine[0].id.parse().expect("id")
}

/// The steps of instance `id` waiting on a planned task, with the task.
fn open_tasks(s: &mut Store, id: &RecordId) -> Vec<(String, String)> {
    let card = s.process_card(id).expect("card");
    assert_eq!(card.status, Status::Running, "{card:?}");
    let mut open: Vec<(String, String)> = card
        .history
        .iter()
        .filter(|v| v.left_at.is_none())
        .filter_map(|v| {
            let (task, status) = v.activity.as_ref()?;
            (status == "planned").then(|| (v.step.clone(), task.clone()))
        })
        .collect();
    open.sort();
    open
}

/// Completes every open task of `id`, expecting them at `steps`.
fn complete(s: &mut Store, id: &RecordId, steps: &[&str]) {
    let open = open_tasks(s, id);
    let at: Vec<&str> = open.iter().map(|(step, _)| step.as_str()).collect();
    assert_eq!(at, steps);
    for (_, task) in open {
        s.complete_task(&task.parse().expect("task id"))
            .expect("completed");
    }
}

#[test]
fn a_big_foreign_deal_runs_both_checks_and_meets_at_the_join() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = store(dir.path());
    let id = new_deal(&mut s, 250_000, "USD");
    complete(&mut s, &id, &["hedge-currency", "legal-review"]);
    complete(&mut s, &id, &["send-offer"]);
    let card = s.process_card(&id).expect("card");
    assert_eq!(card.status, Status::Completed, "{card:?}");
    let file = import(&fixture("camunda-modeler-inclusive-offer-checks.bpmn")).expect("imports");
    let last = card.history.last().expect("a step");
    assert_eq!(step(&file, &last.step).kind, StepKind::End);
}

#[test]
fn a_small_euro_deal_runs_the_default_path_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = store(dir.path());
    let id = new_deal(&mut s, 5_000, "EUR");
    complete(&mut s, &id, &["confirm-terms"]);
    complete(&mut s, &id, &["send-offer"]);
    let card = s.process_card(&id).expect("card");
    assert_eq!(card.status, Status::Completed, "{card:?}");
}
