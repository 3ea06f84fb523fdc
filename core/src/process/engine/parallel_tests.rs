//! The engine's parallel steps: paths as tokens of their own, one join,
//! the same history on every replica.

use std::collections::BTreeMap;

use super::test_support::{self, apply, at, record, run_on};
use super::{Outcome, activity_id, candidate_activities, open_visits};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::{Event, Instance, fold, step_label};
use crate::process::model::Model;
use crate::record::Record;
use crate::value::FieldValue;

const PREPARE: &str = r#"
key = "prepare"
name = "Prepare the offer"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "both"
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
assignee = "owner"
subject = "Check the credit of {name}"
next = "bank"

[[steps]]
id = "bank"
kind = "timer"
duration = "P1D"
next = "send"

[[steps]]
id = "send"
kind = "task"
assignee = "owner"
subject = "Send the offer to {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn deal() -> Record {
    record(RecordKind::Deal, "d", &[])
}

fn instance(record: &Record) -> Instance {
    test_support::instance("prepare", record, "2027-03-01T09:00:00Z")
}

fn run(model: &Model, i: &Instance, activities: &BTreeMap<RecordId, Record>, now: &str) -> Outcome {
    run_on(model, (i, &deal()), (activities, &BTreeMap::new()), now)
}

/// A person completes `id` at `when`.
fn complete(acts: &mut BTreeMap<RecordId, Record>, id: &RecordId, when: &str) {
    let task = acts.get_mut(id).expect("the task exists");
    task.fields
        .insert("status".into(), FieldValue::Text("done".into()));
    task.fields
        .insert("completed_at".into(), FieldValue::Text(when.into()));
}

fn task(i: &Instance, path: usize, step: &str) -> RecordId {
    let scope = Event::branch_scope(0, "both", path);
    activity_id(&i.id, &step_label(Some(&scope), step), 0)
}

fn subjects(acts: &BTreeMap<RecordId, Record>) -> Vec<String> {
    let mut s: Vec<String> = acts
        .values()
        .filter_map(|r| r.text("subject").map(str::to_owned))
        .collect();
    s.sort();
    s
}

#[test]
fn entering_a_parallel_step_plans_the_first_step_of_every_path() {
    let model = Model::from_toml(PREPARE).expect("valid");
    let i = instance(&deal());
    let o = run(&model, &i, &BTreeMap::new(), "2027-03-01T10:00:00Z");
    let (mut i2, mut acts) = (i.clone(), BTreeMap::new());
    apply(&o, &mut i2, &mut acts);
    assert_eq!(
        subjects(&acts),
        ["Check the credit of Nube SL", "Write the offer for Nube SL"]
    );
    assert!(acts.contains_key(&task(&i, 0, "offer")));
    assert!(acts.contains_key(&task(&i, 1, "credit")));
    assert_eq!(o.position.current().map(|v| v.step.as_str()), Some("both"));
    let open: Vec<String> = open_visits(&i2, &o.position, &model)
        .into_iter()
        .map(|(_, v)| v.step)
        .collect();
    assert_eq!(open, ["offer", "credit"]);
    // Every id the engine made is among those a host loads for it.
    let candidates = candidate_activities(&i2, &[&model]);
    assert!(acts.keys().all(|id| candidates.contains(id)));
}

#[test]
fn the_join_waits_for_every_path_and_is_dated_by_the_last_arrival() {
    let model = Model::from_toml(PREPARE).expect("valid");
    let (mut i, mut acts) = (instance(&deal()), BTreeMap::new());
    let o = run(&model, &i, &acts, "2027-03-01T10:00:00Z");
    apply(&o, &mut i, &mut acts);

    complete(&mut acts, &task(&i, 0, "offer"), "2027-03-01T12:00:00Z");
    let o = run(&model, &i, &acts, "2027-03-01T12:00:00Z");
    apply(&o, &mut i, &mut acts);
    let (key, offer) = i
        .events
        .iter()
        .find(|(_, e)| e.step.as_deref() == Some("offer"))
        .expect("the offer path moved on");
    assert_eq!(key, "0000.both.0/0000.offer.task");
    assert_eq!(offer.branch.as_deref(), Some("0000.both.0"));
    assert_eq!(
        o.position.current().map(|v| v.step.as_str()),
        Some("both"),
        "the credit path still waits"
    );

    complete(&mut acts, &task(&i, 1, "credit"), "2027-03-02T09:00:00Z");
    let o = run(&model, &i, &acts, "2027-03-02T09:30:00Z");
    apply(&o, &mut i, &mut acts);
    assert_eq!(
        o.wake_at,
        Some(at("2027-03-03T09:00:00Z")),
        "the bank's day"
    );
    assert_eq!(o.position.current().map(|v| v.step.as_str()), Some("both"));

    let o = run(&model, &i, &acts, "2027-03-04T08:00:00Z");
    apply(&o, &mut i, &mut acts);
    let join = i.events.get("0000.both.join").expect("joined");
    assert_eq!(
        join.at,
        at("2027-03-03T09:00:00Z"),
        "when the last path arrived"
    );
    assert_eq!(join.to.as_deref(), Some("send"));
    assert_eq!(o.position.current().map(|v| v.step.as_str()), Some("send"));
    assert_eq!(
        o.position.current().map(|v| v.entered_at),
        Some(at("2027-03-03T09:00:00Z"))
    );
    assert_eq!(
        acts.values()
            .filter(|r| r.text("subject") == Some("Send the offer to Nube SL"))
            .count(),
        1
    );
    // The path tasks were done, not cancelled, when the paths moved on.
    assert_eq!(acts[&task(&i, 0, "offer")].text("status"), Some("done"));
    assert_eq!(acts[&task(&i, 1, "credit")].text("status"), Some("done"));
}

#[test]
fn two_replicas_that_each_completed_one_path_merge_into_one_history() {
    let model = Model::from_toml(PREPARE).expect("valid");
    let (mut start, mut acts) = (instance(&deal()), BTreeMap::new());
    let o = run(&model, &start, &acts, "2027-03-01T10:00:00Z");
    apply(&o, &mut start, &mut acts);

    // Phone A completes the offer, phone B the credit check, both offline.
    let (mut a, mut a_acts) = (start.clone(), acts.clone());
    complete(
        &mut a_acts,
        &task(&start, 0, "offer"),
        "2027-03-01T12:00:00Z",
    );
    let o = run(&model, &a, &a_acts, "2027-03-01T12:00:00Z");
    apply(&o, &mut a, &mut a_acts);
    let (mut b, mut b_acts) = (start.clone(), acts.clone());
    complete(
        &mut b_acts,
        &task(&start, 1, "credit"),
        "2027-03-01T11:00:00Z",
    );
    let o = run(&model, &b, &b_acts, "2027-03-01T11:00:00Z");
    apply(&o, &mut b, &mut b_acts);

    // They sync: the logs and the activities merge; each runs again.
    let mut merged = a.clone();
    merged.events.extend(b.events.clone());
    let mut merged_acts = a_acts.clone();
    merged_acts.insert(
        task(&start, 1, "credit"),
        b_acts[&task(&start, 1, "credit")].clone(),
    );
    let (mut x, mut x_acts) = (merged.clone(), merged_acts.clone());
    let ox = run(&model, &x, &x_acts, "2027-03-03T10:00:00Z");
    apply(&ox, &mut x, &mut x_acts);
    let (mut y, mut y_acts) = (merged.clone(), merged_acts.clone());
    let oy = run(&model, &y, &y_acts, "2027-03-05T10:00:00Z");
    apply(&oy, &mut y, &mut y_acts);
    assert_eq!(x.events, y.events, "one history");
    assert_eq!(
        x_acts.keys().collect::<Vec<_>>(),
        y_acts.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        x_acts
            .values()
            .filter(|r| r.text("subject") == Some("Send the offer to Nube SL"))
            .count(),
        1,
        "no duplicate activity"
    );
    assert_eq!(
        fold(&x, "both").current().map(|v| v.step.as_str()),
        Some("send")
    );
}

#[test]
fn a_stopped_instance_cancels_the_open_tasks_of_every_path() {
    let model = Model::from_toml(PREPARE).expect("valid");
    let (mut i, mut acts) = (instance(&deal()), BTreeMap::new());
    let o = run(&model, &i, &acts, "2027-03-01T10:00:00Z");
    apply(&o, &mut i, &mut acts);
    let stop = Event::control(
        crate::process::instance::EventKind::Stop,
        at("2027-03-01T11:00:00Z"),
        "mia",
    );
    i.events.insert(stop.own_key().expect("key"), stop);
    let o = run(&model, &i, &acts, "2027-03-01T11:00:00Z");
    apply(&o, &mut i, &mut acts);
    assert_eq!(
        acts[&task(&i, 0, "offer")].text("status"),
        Some("cancelled")
    );
    assert_eq!(
        acts[&task(&i, 1, "credit")].text("status"),
        Some("cancelled")
    );
}

/// `PREPARE` with `step` replaced by `with` (the TOML of one step).
fn prepare_with(step: &str, with: &str) -> String {
    let start = PREPARE.find(&format!("id = \"{step}\"")).expect("step");
    let block = PREPARE[..start].rfind("[[steps]]").expect("block");
    let end = PREPARE[start..]
        .find("[[steps]]")
        .map_or(PREPARE.len(), |e| start + e);
    format!("{}{with}\n{}", &PREPARE[..block], &PREPARE[end..])
}

fn problems(text: &str) -> String {
    Model::from_toml(text).expect_err("refused").0.join("\n")
}

#[test]
fn a_path_must_be_a_closed_block_that_reaches_its_join() {
    let ends = prepare_with("bank", "[[steps]]\nid = \"bank\"\nkind = \"end\"\n");
    assert!(
        problems(&ends).contains("`bank` ends the instance before the path reaches `send`"),
        "{}",
        problems(&ends)
    );
    let back = prepare_with(
        "bank",
        "[[steps]]\nid = \"bank\"\nkind = \"timer\"\nduration = \"P1D\"\nnext = \"both\"\n",
    );
    assert!(
        problems(&back).contains("returns to `both`"),
        "{}",
        problems(&back)
    );
    let shared = prepare_with(
        "bank",
        "[[steps]]\nid = \"bank\"\nkind = \"timer\"\nduration = \"P1D\"\nnext = \"offer\"\n",
    );
    assert!(
        problems(&shared).contains("shares step `offer` with paths[1]"),
        "{}",
        problems(&shared)
    );
    let into = prepare_with(
        "send",
        "[[steps]]\nid = \"send\"\nkind = \"task\"\nassignee = \"owner\"\nsubject = \"S\"\nnext = \"done\"\ndeadline = \"P1D\"\non_deadline = \"bank\"\n",
    );
    assert!(
        problems(&into).contains("steps.send: leads into `bank` on a path of `both`"),
        "{}",
        problems(&into)
    );
    let one = prepare_with(
        "both",
        "[[steps]]\nid = \"both\"\nkind = \"parallel\"\npaths = [\"offer\"]\nnext = \"send\"\n",
    );
    assert!(
        problems(&one).contains("a parallel or inclusive step runs 2 to 8 paths, not 1"),
        "{}",
        problems(&one)
    );
}

#[test]
fn parallel_steps_do_not_nest() {
    let nested = format!(
        "{}\n[[steps]]\nid = \"inner\"\nkind = \"parallel\"\npaths = [\"i1\", \"i2\"]\nnext = \"send\"\n\
         [[steps]]\nid = \"i1\"\nkind = \"set\"\nfield = \"stage\"\nvalue = \"proposal\"\nnext = \"send\"\n\
         [[steps]]\nid = \"i2\"\nkind = \"timer\"\nduration = \"P1D\"\nnext = \"send\"\n",
        prepare_with(
            "bank",
            "[[steps]]\nid = \"bank\"\nkind = \"timer\"\nduration = \"P1D\"\nnext = \"inner\"\n"
        )
    );
    assert!(
        problems(&nested).contains("`inner` is a parallel step on a path of `both`"),
        "{}",
        problems(&nested)
    );
}

#[test]
fn path_scopes_are_well_formed_or_refused() {
    assert_eq!(Event::branch_scope(3, "both", 1), "0003.both.1");
    assert!(Event::valid_branch_scope("0003.both.1"));
    for bad in [
        "",
        "3.both.1",
        "0003.both",
        "0003.both.8",
        "0003.both.01",
        "0003.b/x.1",
        "0003.both.1.2",
        "99999999999.both.1",
    ] {
        assert!(!Event::valid_branch_scope(bad), "{bad}");
    }
}

#[test]
fn an_outcome_recorded_on_a_path_decides_a_gateway_after_the_join() {
    let text = PREPARE
        .replace(
            "subject = \"Check the credit of {name}\"\nnext = \"bank\"",
            "subject = \"Check the credit of {name}\"\noutcome = \"choice:ok,refused\"\nnext = \"bank\"",
        )
        .replace(
            "paths = [\"offer\", \"credit\"]\nnext = \"send\"",
            "paths = [\"offer\", \"credit\"]\nnext = \"decide\"",
        )
        .replace("next = \"send\"\n\n[[steps]]\nid = \"credit\"", "next = \"decide\"\n\n[[steps]]\nid = \"credit\"")
        .replace("duration = \"P1D\"\nnext = \"send\"", "duration = \"P1D\"\nnext = \"decide\"")
        + "\n[[steps]]\nid = \"decide\"\nkind = \"gateway\"\nbranches = [{ condition = 'outcome.credit == \"refused\"', next = \"done\" }]\ndefault = \"send\"\n";
    let model = Model::from_toml(&text).expect("valid");
    let (mut i, mut acts) = (instance(&deal()), BTreeMap::new());
    let o = run(&model, &i, &acts, "2027-03-01T10:00:00Z");
    apply(&o, &mut i, &mut acts);
    complete(&mut acts, &task(&i, 0, "offer"), "2027-03-01T12:00:00Z");
    let credit = task(&i, 1, "credit");
    complete(&mut acts, &credit, "2027-03-01T13:00:00Z");
    acts.get_mut(&credit)
        .expect("task")
        .fields
        .insert("outcome".into(), FieldValue::Text("refused".into()));
    let o = run(&model, &i, &acts, "2027-03-05T10:00:00Z");
    apply(&o, &mut i, &mut acts);
    let decided = i.events.get("0001.decide.auto").expect("the gateway ran");
    assert_eq!(
        decided.to.as_deref(),
        Some("done"),
        "the path's outcome was read"
    );
}

const OFFER_CHECKS: &str = r#"
key = "offer-checks"
name = "Checks an offer needs"
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "checks"
kind = "inclusive"
branches = [
  { condition = "amount >= 100000", next = "legal" },
  { condition = 'currency != "EUR"', next = "treasury" },
]
default = "plain"
next = "send"

[[steps]]
id = "legal"
kind = "task"
assignee = "owner"
subject = "Legal review of {name}"
next = "send"

[[steps]]
id = "treasury"
kind = "task"
assignee = "owner"
subject = "Hedge the currency of {name}"
next = "send"

[[steps]]
id = "plain"
kind = "activity"
activity = "call"
assignee = "owner"
subject = "Tell {name} the offer is coming"
next = "send"

[[steps]]
id = "send"
kind = "task"
assignee = "owner"
subject = "Send the offer to {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

/// Runs `OFFER_CHECKS` on a deal with `fields`, once: what it planned and
/// where its paths stand.
fn inclusive_run(fields: &[(&str, FieldValue)]) -> (Outcome, Instance, BTreeMap<RecordId, Record>) {
    let model = Model::from_toml(OFFER_CHECKS).expect("valid");
    let mut d = deal();
    for (k, v) in fields {
        d.fields.insert((*k).to_owned(), v.clone());
    }
    let mut i = instance(&d);
    i.model_key = "offer-checks".into();
    let o = run_on(
        &model,
        (&i, &d),
        (&BTreeMap::new(), &BTreeMap::new()),
        "2027-03-01T10:00:00Z",
    );
    let mut acts = BTreeMap::new();
    apply(&o, &mut i, &mut acts);
    (o, i, acts)
}

#[test]
fn an_inclusive_step_runs_the_paths_whose_condition_holds_and_skips_the_others() {
    let (o, i, acts) = inclusive_run(&[
        ("amount", FieldValue::Int(250_000)),
        ("currency", FieldValue::Text("USD".into())),
    ]);
    assert_eq!(
        subjects(&acts),
        ["Hedge the currency of Nube SL", "Legal review of Nube SL"]
    );
    let skipped = i
        .events
        .get("0000.checks.2/0000.plain.skip")
        .expect("the default path is skipped");
    assert_eq!(skipped.to.as_deref(), Some("send"));
    assert_eq!(
        o.position.current().map(|v| v.step.as_str()),
        Some("checks")
    );

    let (_, i, acts) = inclusive_run(&[
        ("amount", FieldValue::Int(5_000)),
        ("currency", FieldValue::Text("EUR".into())),
    ]);
    assert_eq!(
        subjects(&acts),
        [
            "Send the offer to Nube SL",
            "Tell Nube SL the offer is coming"
        ],
        "no condition holds: the default path, whose call goes on at once to the join"
    );
    // The call goes on at once: every path reached the join.
    assert!(
        i.events.contains_key("0000.checks.join"),
        "{:?}",
        i.events.keys()
    );
    assert_eq!(
        fold(&i, "checks").current().map(|v| v.step.as_str()),
        Some("send")
    );
}

#[test]
fn a_path_already_started_is_not_skipped_when_the_record_changes() {
    let (_, mut i, mut acts) = inclusive_run(&[
        ("amount", FieldValue::Int(250_000)),
        ("currency", FieldValue::Text("EUR".into())),
    ]);
    let model = Model::from_toml(OFFER_CHECKS).expect("valid");
    let mut d = deal();
    d.fields.insert("amount".into(), FieldValue::Int(10));
    d.fields
        .insert("currency".into(), FieldValue::Text("EUR".into()));
    // Another replica runs it on the changed deal: the legal review it
    // finds planned stays, and nothing else starts.
    let o = run_on(
        &model,
        (&i, &d),
        (&acts, &BTreeMap::new()),
        "2027-03-01T11:00:00Z",
    );
    apply(&o, &mut i, &mut acts);
    assert!(
        !i.events.keys().any(|k| k.starts_with("0000.checks.0/")),
        "{:?}",
        i.events.keys()
    );
    assert_eq!(subjects(&acts), ["Legal review of Nube SL"]);
}
