//! The engine with a business-hours calendar in the policy: calls land in
//! opening hours in their assignee's time zone, business durations count
//! only open time, and a policy without a calendar behaves as before.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::{Action, Inputs, Outcome, step};
use crate::ids::{RecordId, RecordKind};
use crate::policy::{DEFAULT_POLICY_TOML, Policy};
use crate::process::instance::Instance;
use crate::process::model::{Model, waits};
use crate::record::Record;
use crate::value::FieldValue;
use crate::wire::DirectoryEntry;

const CALENDAR: &str = r#"
[business_hours]
time_zone = "Europe/Madrid"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-13:00,15:00-18:00"
holidays = ["2027-01-06"]
"#;

/// A deal won on Friday 5 February 2027 at 17:30 in Madrid (16:30 UTC).
const WON: &str = "2027-02-05T16:30:00Z";

fn model(steps: &str) -> Model {
    let text = format!(
        "key = \"won\"\nname = \"Follow up a won deal\"\ntrigger = {{ kind = \"field_change\", record = \"deal\", condition = 'deal.stage == \"won\"' }}\n{steps}\n[[steps]]\nid = \"done\"\nkind = \"end\"\n"
    );
    Model::from_toml(&text).expect("valid model")
}

fn with_calendar() -> Policy {
    Policy::from_toml(&format!("{DEFAULT_POLICY_TOML}\n{CALENDAR}")).expect("policy")
}

fn deal() -> Record {
    let mut fields = BTreeMap::new();
    fields.insert("name".into(), FieldValue::Text("Olivos renewal".into()));
    fields.insert("stage".into(), FieldValue::Text("won".into()));
    fields.insert("owner".into(), FieldValue::Text("ana".into()));
    Record {
        id: RecordId::derived(RecordKind::Deal, &["d"]),
        fields,
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    }
}

fn instance(record: &Record, owner: &str) -> Instance {
    let started: Timestamp = WON.parse().expect("t");
    Instance {
        id: Instance::derive_id("won", &record.id, started),
        model_key: "won".into(),
        model: RecordId::derived(RecordKind::ProcessModel, &["won", "1"]),
        started_version: 1,
        record: record.id.clone(),
        account: None,
        owner: Some(owner.into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    }
}

fn directory() -> Vec<DirectoryEntry> {
    let user = |name: &str, role: &str, tz: Option<&str>| DirectoryEntry {
        name: name.into(),
        role: role.into(),
        manager: None,
        time_zone: tz.map(str::to_owned),
    };
    vec![
        user("ana", "rep", Some("Europe/Madrid")),
        user("lee", "rep", Some("Europe/London")),
        user("kim", "rep", None),
    ]
}

fn run(model: &Model, policy: Option<&Policy>, owner: &str, now: &str) -> Outcome {
    let mut record = deal();
    record
        .fields
        .insert("owner".into(), FieldValue::Text(owner.into()));
    let inst = instance(&record, owner);
    step(&Inputs {
        model,
        start: &model.start,
        instance: &inst,
        record: Some(&record),
        account: None,
        activities: &BTreeMap::new(),
        directory: &directory(),
        policy,
        called: &BTreeMap::new(),
        may_start: true,
        now: now.parse().expect("now"),
    })
}

/// The `starts_at` or `due_at` of the one activity a run created.
fn time_of(out: &Outcome) -> String {
    let fields = out
        .actions
        .iter()
        .find_map(|a| match a {
            Action::CreateActivity { fields, .. } => Some(fields),
            _ => None,
        })
        .expect("an activity");
    ["starts_at", "due_at"]
        .iter()
        .find_map(|k| fields.get(*k).and_then(FieldValue::as_text))
        .expect("a time")
        .to_owned()
}

const CALL_NEXT_DAY: &str = r#"
[[steps]]
id = "call"
kind = "activity"
activity = "call"
assignee = "owner"
subject = "How is {name} going?"
offset = "P1D"
duration_minutes = 30
next = "done"
"#;

#[test]
fn a_deal_won_on_friday_evening_gives_a_call_on_monday_at_nine_not_saturday() {
    let m = model(CALL_NEXT_DAY);
    let policy = with_calendar();
    // Ana is in Madrid: Saturday 17:30 is closed; Monday 09:00 CET.
    let out = run(&m, Some(&policy), "ana", WON);
    assert_eq!(time_of(&out), "2027-02-08T08:00:00Z");
    // Today's behaviour without a calendar: Saturday, 24 hours later.
    let plain = Policy::shipped_default();
    assert_eq!(
        time_of(&run(&m, Some(&plain), "ana", WON)),
        "2027-02-06T16:30:00Z"
    );
    assert_eq!(time_of(&run(&m, None, "ana", WON)), "2027-02-06T16:30:00Z");
    // Lee is in London: Monday 09:00 there is an hour later in UTC.
    assert_eq!(
        time_of(&run(&m, Some(&policy), "lee", WON)),
        "2027-02-08T09:00:00Z"
    );
    // Kim has no time zone: the calendar's (Madrid).
    assert_eq!(
        time_of(&run(&m, Some(&policy), "kim", WON)),
        "2027-02-08T08:00:00Z"
    );
    // The same inputs give the same call on every replica.
    assert_eq!(run(&m, Some(&policy), "ana", WON), out);
}

#[test]
fn a_call_inside_opening_hours_stays_and_one_too_long_for_the_evening_moves() {
    let policy = with_calendar();
    let now = CALL_NEXT_DAY.replace("offset = \"P1D\"", "offset = \"PT0S\"");
    // 17:30 with a 30-minute call: it fits before 18:00.
    assert_eq!(time_of(&run(&model(&now), Some(&policy), "ana", WON)), WON);
    // An hour does not: Monday 09:00.
    let hour = now.replace("duration_minutes = 30", "duration_minutes = 60");
    assert_eq!(
        time_of(&run(&model(&hour), Some(&policy), "ana", WON)),
        "2027-02-08T08:00:00Z"
    );
    // An e-mail is not an appointment: it is not moved.
    let email = hour.replace("activity = \"call\"", "activity = \"email\"");
    let late = email.replace("offset = \"PT0S\"", "offset = \"PT3H\"");
    assert_eq!(
        time_of(&run(&model(&late), Some(&policy), "ana", WON)),
        "2027-02-05T19:30:00Z"
    );
}

#[test]
fn business_offsets_and_dues_count_only_open_time_in_the_assignees_zone() {
    let policy = with_calendar();
    // One business day from Friday 17:30: Monday 17:30 (Madrid).
    let bd = CALL_NEXT_DAY.replace("offset = \"P1D\"", "offset = \"P1BD\"");
    assert_eq!(
        time_of(&run(&model(&bd), Some(&policy), "ana", WON)),
        "2027-02-08T16:30:00Z"
    );
    // One business hour: half an hour on Friday, half on Monday: 09:30.
    let bh = CALL_NEXT_DAY.replace("offset = \"P1D\"", "offset = \"PT1BH\"");
    assert_eq!(
        time_of(&run(&model(&bh), Some(&policy), "ana", WON)),
        "2027-02-08T08:30:00Z"
    );
    // Without a calendar business time is plain time.
    assert_eq!(
        time_of(&run(&model(&bh), None, "ana", WON)),
        "2027-02-05T17:30:00Z"
    );
    // A task due in four business hours: Monday 12:30 in Madrid, 11:30 in
    // London (Lee's opening hours are London's).
    let task = r#"
[[steps]]
id = "thank"
kind = "task"
assignee = "owner"
subject = "Thank {name}"
due = "PT4BH"
next = "done"
"#;
    assert_eq!(
        time_of(&run(&model(task), Some(&policy), "ana", WON)),
        "2027-02-08T11:30:00Z"
    );
    assert_eq!(
        time_of(&run(&model(task), Some(&policy), "lee", WON)),
        "2027-02-08T11:30:00Z"
    );
}

#[test]
fn business_timers_wait_in_the_calendars_zone_and_count_as_waiting() {
    let policy = with_calendar();
    let timer = format!(
        "{}{}",
        r#"
[[steps]]
id = "wait"
kind = "timer"
duration = "P2BD"
next = "call"
"#,
        CALL_NEXT_DAY.replace("offset = \"P1D\"", "offset = \"PT0S\"")
    );
    let m = model(&timer);
    // Friday 17:30 + 2 business days: Tuesday 17:30 Madrid.
    let out = run(&m, Some(&policy), "lee", WON);
    assert_eq!(
        out.wake_at.map(|t| t.to_string()).as_deref(),
        Some("2027-02-09T16:30:00Z")
    );
    assert!(out.actions.is_empty(), "{:?}", out.actions);
    // When it fires, Lee's call is at once: 16:30 in London is open.
    let out = run(&m, Some(&policy), "lee", "2027-02-09T16:30:00Z");
    assert_eq!(time_of(&out), "2027-02-09T16:30:00Z");
    // Without a calendar: two days.
    assert_eq!(
        run(&m, None, "lee", WON)
            .wake_at
            .map(|t| t.to_string())
            .as_deref(),
        Some("2027-02-07T16:30:00Z")
    );
    // A business timer waits (a loop through it cannot spin); a zero one
    // does not.
    assert!(m.step("wait").is_some_and(waits));
    let zero = model(&timer.replace("P2BD", "PT0BH"));
    assert!(!zero.step("wait").is_some_and(waits));
}

#[test]
fn business_time_is_refused_where_it_means_nothing_and_malformed_is_reported() {
    let bad = CALL_NEXT_DAY.replace("offset = \"P1D\"", "offset = \"P1BH\"");
    let errors = Model::from_toml(&format!(
        "key = \"k\"\nname = \"n\"\ntrigger = {{ kind = \"manual\", record = \"deal\" }}\n{bad}\n[[steps]]\nid = \"done\"\nkind = \"end\"\n"
    ))
    .expect_err("malformed")
    .0;
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("steps.call.offset: `P1BH` is not a business duration")),
        "{errors:?}"
    );
    let schedule = "key = \"k\"\nname = \"n\"\ntrigger = { kind = \"schedule\", record = \"deal\", every = \"P5BD\", from = \"2027-01-04T09:00:00Z\" }\n[[steps]]\nid = \"done\"\nkind = \"end\"\n";
    let errors = Model::from_toml(schedule).expect_err("schedule").0;
    assert!(
        errors.iter().any(|e| e.contains("business time")),
        "{errors:?}"
    );
}

#[test]
fn bpmn_timers_and_offsets_take_business_time() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:fieldwork="https://fieldwork.example/bpmn" id="d">
  <bpmn:process id="won" name="Follow up a won deal" isExecutable="true">
    <bpmn:startEvent id="start" fieldwork:trigger="field_change" fieldwork:record="deal" fieldwork:condition="stage == &quot;won&quot;"/>
    <bpmn:intermediateCatchEvent id="wait" name="Two business days">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P2BD</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="call" name="Call" fieldwork:action="call" fieldwork:assignee="owner" fieldwork:offset="PT1BH"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="call"/>
    <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"#;
    let file = crate::process::bpmn::import(xml).expect("imports");
    let m = Model::check(file, 1).expect("checks");
    let out = run(&m, Some(&with_calendar()), "ana", WON);
    assert_eq!(
        out.wake_at.map(|t| t.to_string()).as_deref(),
        Some("2027-02-09T16:30:00Z")
    );
}

#[test]
fn a_reminder_call_moves_into_opening_hours_like_an_activity_steps() {
    // Won Friday 17:30 Madrid; the task's reminder call is due 2 hours
    // later (19:30, closed): it starts Monday 09:00 Madrid instead.
    let model = model(
        "[[steps]]\nid = \"thank\"\nkind = \"task\"\nassignee = \"owner\"\nsubject = \"Thank {name}\"\nreminders = [{ after = \"PT2H\", activity = \"call\", subject = \"Call {name}\" }]\nnext = \"done\"\n",
    );
    let policy = with_calendar();
    let out = run(&model, Some(&policy), "ana", "2027-02-06T12:00:00Z");
    let call = out
        .actions
        .iter()
        .find_map(|a| match a {
            Action::CreateActivity { fields, .. }
                if fields.get("type").and_then(FieldValue::as_text) == Some("call") =>
            {
                Some(fields)
            }
            _ => None,
        })
        .expect("the reminder call");
    assert_eq!(
        call.get("starts_at").and_then(FieldValue::as_text),
        Some("2027-02-08T08:00:00Z")
    );
}
