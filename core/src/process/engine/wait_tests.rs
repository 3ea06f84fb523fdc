//! The engine's `wait` steps (message, condition, timeout) and a task's
//! reminders, as pure functions of (model, instance, record, now).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Action, Inputs, Outcome, reminder_id, step};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::{Event, EventKind, Instance};
use crate::process::model::{Model, ModelError};
use crate::record::Record;
use crate::value::FieldValue;

const RACE: &str = r#"
key = "offer"
name = "Send an offer and wait for the reply"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "reply"
kind = "wait"
events = [
  { message = "reply", next = "meet" },
  { condition = 'stage == "lost"', next = "done" },
  { after = "P3D", next = "chase" },
]

[[steps]]
id = "meet"
kind = "task"
assignee = "owner"
subject = "Meet {name}"
next = "done"

[[steps]]
id = "chase"
kind = "task"
assignee = "owner"
subject = "Chase {name}"
reminders = [{ after = "P1D", repeat = 3, activity = "call", subject = "Call {name} again" }]
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn deal(stage: &str) -> Record {
    let mut fields = BTreeMap::new();
    fields.insert("name".into(), FieldValue::Text("Nube SL".into()));
    fields.insert("owner".into(), FieldValue::Text("ana".into()));
    fields.insert("stage".into(), FieldValue::Text(stage.into()));
    Record {
        id: RecordId::derived(RecordKind::Deal, &["d"]),
        fields,
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    }
}

fn instance(record: &Record) -> Instance {
    let started = at("2027-03-01T09:00:00Z");
    Instance {
        id: Instance::derive_id("offer", &record.id, started),
        model_key: "offer".into(),
        model: RecordId::derived(RecordKind::ProcessModel, &["offer", "1"]),
        started_version: 1,
        record: record.id.clone(),
        account: None,
        owner: Some("ana".into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    }
}

fn message(i: &mut Instance, name: &str, when: &str) -> String {
    let e = Event {
        message: Some(name.into()),
        ..Event::control(EventKind::Message, at(when), "mia")
    };
    let key = e.own_key().expect("a message has a key");
    i.events.insert(key.clone(), e);
    key
}

fn run(
    model: &Model,
    i: &Instance,
    record: &Record,
    activities: &BTreeMap<RecordId, Record>,
    now: &str,
) -> Outcome {
    step(&Inputs {
        model,
        start: &model.start,
        instance: i,
        record: Some(record),
        account: None,
        activities,
        directory: &[],
        policy: None,
        called: &BTreeMap::new(),
        may_start: true,
        now: at(now),
    })
}

fn events(o: &Outcome) -> Vec<(String, Event)> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            Action::Event { key, event } => Some((key.clone(), event.clone())),
            _ => None,
        })
        .collect()
}

fn created(o: &Outcome) -> Vec<(RecordId, BTreeMap<String, FieldValue>)> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateActivity { id, fields, .. } => Some((id.clone(), fields.clone())),
            _ => None,
        })
        .collect()
}

fn current(o: &Outcome) -> Option<&str> {
    o.position.current().map(|v| v.step.as_str())
}

#[test]
fn a_wait_waits_for_its_timeout_and_for_the_record() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("proposal");
    let i = instance(&d);
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-02T09:00:00Z");
    assert_eq!(current(&o), Some("reply"));
    assert_eq!(o.wake_at, Some(at("2027-03-04T09:00:00Z")), "the timeout");
    assert!(o.watch, "the host runs it again when the deal changes");
    assert!(events(&o).is_empty());
}

#[test]
fn a_message_sent_while_waiting_leaves_at_the_moment_it_was_sent() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("proposal");
    let mut i = instance(&d);
    let sent = message(&mut i, "reply", "2027-03-02T11:00:00Z");
    // Noticed late, after the timeout: the message was first.
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-05T09:00:00Z");
    let left = events(&o);
    let (key, event) = left.first().expect("the wait was left");
    assert_eq!(key, "0000.reply.message.reply");
    assert_eq!(event.at, at("2027-03-02T11:00:00Z"));
    assert_eq!(event.to.as_deref(), Some("meet"));
    assert_eq!(event.message.as_deref(), Some(sent.as_str()));
    assert_eq!(event.own_key().as_deref(), Some(key.as_str()));
    assert_eq!(current(&o), Some("meet"));
    assert!(!o.watch);
}

#[test]
fn a_message_sent_before_the_wait_or_of_another_name_leaves_nothing() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("proposal");
    let mut i = instance(&d);
    message(&mut i, "reply", "2027-03-01T08:00:00Z");
    message(&mut i, "other", "2027-03-02T08:00:00Z");
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-02T09:00:00Z");
    assert_eq!(current(&o), Some("reply"));
    assert!(events(&o).is_empty());
}

#[test]
fn the_timeout_leaves_when_due_and_reminders_follow_the_open_task() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("proposal");
    let i = instance(&d);
    // Five days on: timed out on day 3 (03-04 09:00), the chase task was
    // entered then, and its daily reminders of 03-05 and 03-06 09:00 are
    // due (now is the second); 03-07 is not yet.
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-06T09:00:00Z");
    let left = events(&o);
    let (key, timeout) = left.first().expect("timed out");
    assert_eq!(key, "0000.reply.timer");
    assert_eq!(timeout.at, at("2027-03-04T09:00:00Z"));
    assert_eq!(current(&o), Some("chase"));
    let reminders = created(&o)
        .into_iter()
        .filter(|(_, f)| f.get("type") == Some(&FieldValue::Text("call".into())))
        .count();
    assert_eq!(reminders, 2);
    assert_eq!(o.wake_at, Some(at("2027-03-07T09:00:00Z")));
}

#[test]
fn reminders_are_created_once_each_and_only_while_the_task_is_open() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("proposal");
    let i = instance(&d);
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-06T10:00:00Z");
    let calls: Vec<_> = created(&o)
        .into_iter()
        .filter(|(_, f)| f.get("type") == Some(&FieldValue::Text("call".into())))
        .collect();
    // Entered at 2027-03-04T09:00; reminders at 03-05 and 03-06 09:00 are
    // due, 03-07 is not.
    assert_eq!(calls.len(), 2, "{calls:?}");
    let first = reminder_id(&i.id, "chase", 1, 0, 0);
    assert_eq!(calls.first().map(|(id, _)| id), Some(&first));
    assert_eq!(
        calls.first().and_then(|(_, f)| f.get("starts_at")),
        Some(&FieldValue::Text("2027-03-05T09:00:00Z".into()))
    );
    assert_eq!(
        calls.first().and_then(|(_, f)| f.get("subject")),
        Some(&FieldValue::Text("Call Nube SL again".into()))
    );
    assert_eq!(o.wake_at, Some(at("2027-03-07T09:00:00Z")));

    // The same run again with what it created: nothing new.
    let mut i2 = i.clone();
    let mut acts = BTreeMap::new();
    for a in &o.actions {
        match a {
            Action::Event { key, event } => {
                i2.events.insert(key.clone(), event.clone());
            }
            Action::CreateActivity { id, fields, .. } => {
                acts.insert(
                    id.clone(),
                    Record {
                        id: id.clone(),
                        fields: fields.clone(),
                        conflicts: BTreeMap::new(),
                        classes: Vec::new(),
                    },
                );
            }
            _ => {}
        }
    }
    let again = run(&model, &i2, &d, &acts, "2027-03-06T10:00:00Z");
    assert!(created(&again).is_empty(), "{:?}", created(&again));

    // The chase task is completed at 03-06 12:00: the third reminder
    // (03-07) is never created, and the planned ones are cancelled.
    let task = super::activity_id(&i.id, "chase", 1);
    let t = acts.get_mut(&task).expect("the chase task");
    t.fields
        .insert("status".into(), FieldValue::Text("done".into()));
    t.fields.insert(
        "completed_at".into(),
        FieldValue::Text("2027-03-06T12:00:00Z".into()),
    );
    let done = run(&model, &i2, &d, &acts, "2027-03-09T10:00:00Z");
    assert!(created(&done).is_empty(), "{:?}", created(&done));
    let cancelled: Vec<_> = done
        .actions
        .iter()
        .filter(|a| matches!(a, Action::SetActivityStatus { status, .. } if status == "cancelled"))
        .collect();
    assert_eq!(cancelled.len(), 2, "{:?}", done.actions);
    assert_eq!(current(&done), Some("done"));
}

#[test]
fn a_condition_leaves_when_the_record_satisfies_it() {
    let model = Model::from_toml(RACE).expect("valid");
    let d = deal("lost");
    let i = instance(&d);
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-02T09:00:00Z");
    let left = events(&o);
    let (key, event) = left.first().expect("left");
    assert_eq!(key, "0000.reply.condition");
    assert_eq!(event.at, at("2027-03-02T09:00:00Z"));
    assert_eq!(current(&o), Some("done"));
}

#[test]
fn a_message_is_used_once_on_a_path_that_loops() {
    let looping = RACE.replace(
        "[[steps]]\nid = \"meet\"\nkind = \"task\"\nassignee = \"owner\"\nsubject = \"Meet {name}\"\nnext = \"done\"",
        "[[steps]]\nid = \"meet\"\nkind = \"set\"\nfield = \"close_reason\"\nvalue = \"meet\"\nnext = \"reply\"",
    );
    // Without the condition (which may hold at once): a loop through a
    // wait for a message or a timeout waits.
    let looping = looping.replace(
        "  { condition = 'stage == \"lost\"', next = \"done\" },\n",
        "",
    );
    let model = Model::from_toml(&looping).expect("valid: a message wait waits");
    let d = deal("proposal");
    let mut i = instance(&d);
    message(&mut i, "reply", "2027-03-02T11:00:00Z");
    let o = run(&model, &i, &d, &BTreeMap::new(), "2027-03-02T12:00:00Z");
    assert_eq!(events(&o).len(), 2, "reply left, meet set, waiting again");
    assert_eq!(current(&o), Some("reply"));
    assert!(o.failed.is_none());
}

#[test]
fn waits_and_reminders_are_checked_when_published() {
    let bad = RACE
        .replace("{ after = \"P3D\", next = \"chase\" },", "{ after = \"P3D\", next = \"chase\" },\n  { after = \"P1D\", message = \"x\", next = \"nowhere\" },\n  { after = \"P5D\", next = \"done\" },")
        .replace("{ message = \"reply\", next = \"meet\" },", "{ message = \"reply\", next = \"meet\" },\n  { message = \"reply\", next = \"done\" },\n  { condition = 'colour == \"red\"', next = \"done\" },")
        .replace("repeat = 3, activity = \"call\"", "repeat = 30, activity = \"fax\"");
    let ModelError(errors) = Model::from_toml(&bad).expect_err("invalid");
    let has = |s: &str| errors.iter().any(|e| e.contains(s));
    assert!(
        has("steps.reply.events[1].message: `reply` is waited for twice"),
        "{errors:?}"
    );
    assert!(has("deal has no field `colour`"), "{errors:?}");
    assert!(
        has("exactly one of `message`, `condition` or `after`"),
        "{errors:?}"
    );
    assert!(
        has("steps.reply.events[5].next: no step `nowhere`"),
        "{errors:?}"
    );
    assert!(has("at most one `after`"), "{errors:?}");
    assert!(has("steps.chase.reminders[0].repeat"), "{errors:?}");
    assert!(
        has("steps.chase.reminders[0].activity: `fax`"),
        "{errors:?}"
    );

    let spins = RACE.replace(
        "{ condition = 'stage == \"lost\"', next = \"done\" },",
        "{ condition = 'stage == \"lost\"', next = \"again\" },",
    ) + "\n[[steps]]\nid = \"again\"\nkind = \"set\"\nfield = \"close_reason\"\nvalue = \"x\"\nnext = \"reply\"\n";
    let ModelError(errors) = Model::from_toml(&spins).expect_err("a condition loop may spin");
    assert!(
        errors.iter().any(|e| e.contains("never waits")),
        "{errors:?}"
    );
}
