//! Non-interrupting boundary timers on tasks: reminders.

use super::file;
use crate::process::bpmn::import;
use crate::process::model::{ReminderFile, StepKind};

/// A deal process whose task `offer` has a non-interrupting timer `timer`
/// (a timer definition's inside) leading through `path` (elements and
/// flows, from `remind` to its end).
fn with_reminder(timer: &str, path: &str) -> String {
    file(&format!(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<userTask id="offer" name="Write the offer" f:assignee="role:sales"/>
<boundaryEvent id="remind" name="Every day" cancelActivity="false" attachedToRef="offer"><timerEventDefinition>{timer}</timerEventDefinition></boundaryEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="offer"/>
<sequenceFlow id="f2" sourceRef="offer" targetRef="e"/>
{path}
</process>"#
    ))
}

const EMAIL_AND_CALL: &str = r#"<sendTask id="nudge" name="Nudge {name}" f:subject="Offer for {name} still open"/>
<serviceTask id="call" name="Call the owner" f:action="call" f:assignee="owner_manager" f:topic="The offer"/>
<endEvent id="reminded"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="nudge"/>
<sequenceFlow id="r2" sourceRef="nudge" targetRef="call"/>
<sequenceFlow id="r3" sourceRef="call" targetRef="reminded"/>"#;

#[test]
fn a_repeating_non_interrupting_timer_gives_its_task_one_reminder_per_activity() {
    let xml = with_reminder("<timeCycle>R3/P1D</timeCycle>", EMAIL_AND_CALL);
    let m = import(&xml).expect("imports");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["offer", "e"], "the reminder's path is no step");
    let offer = m.steps.first().expect("offer");
    assert_eq!(offer.kind, StepKind::Task);
    assert_eq!(offer.next.as_deref(), Some("e"));
    assert_eq!(offer.deadline, None, "a reminder is no deadline");
    assert_eq!(
        offer.reminders,
        [
            ReminderFile {
                after: "P1D".into(),
                repeat: Some(3),
                activity: "email".into(),
                assignee: None,
                subject: Some("Offer for {name} still open".into()),
                topic: None,
            },
            ReminderFile {
                after: "P1D".into(),
                repeat: Some(3),
                activity: "call".into(),
                assignee: Some("owner_manager".into()),
                subject: Some("Call the owner".into()),
                topic: Some("The offer".into()),
            },
        ]
    );
    let once = import(&with_reminder(
        "<timeDuration>PT4H</timeDuration>",
        EMAIL_AND_CALL,
    ))
    .expect("imports");
    let r = &once.steps.first().expect("offer").reminders;
    assert_eq!(r.len(), 2);
    assert!(
        r.iter().all(|r| r.after == "PT4H" && r.repeat.is_none()),
        "{r:?}"
    );
}

#[test]
fn a_reminder_and_a_deadline_on_one_task() {
    let xml = with_reminder(
        "<timeDuration>P1D</timeDuration>",
        &format!(
            "{EMAIL_AND_CALL}\n<boundaryEvent id=\"late\" attachedToRef=\"offer\"><timerEventDefinition><timeDuration>P5D</timeDuration></timerEventDefinition></boundaryEvent>\n<sequenceFlow id=\"l1\" sourceRef=\"late\" targetRef=\"e\"/>"
        ),
    );
    let m = import(&xml).expect("imports");
    let offer = m.steps.first().expect("offer");
    assert_eq!(offer.deadline.as_deref(), Some("P5D"));
    assert_eq!(offer.on_deadline.as_deref(), Some("e"));
    assert_eq!(offer.reminders.len(), 2);
}

#[test]
fn a_reminders_path_may_only_create_activities_and_end() {
    let off_path = [
        (
            r#"<userTask id="x" name="Chase"/><endEvent id="r-end"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="x"/><sequenceFlow id="r2" sourceRef="x" targetRef="r-end"/>"#,
            "<userTask> `x` is on it",
        ),
        (
            r#"<serviceTask id="x" f:action="set" f:field="stage" f:value="lost"/><endEvent id="r-end"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="x"/><sequenceFlow id="r2" sourceRef="x" targetRef="r-end"/>"#,
            "<serviceTask> `x` has action `set`",
        ),
        (
            r#"<exclusiveGateway id="x"/><endEvent id="r-end"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="x"/><sequenceFlow id="r2" sourceRef="x" targetRef="r-end"/>"#,
            "<exclusiveGateway> `x` is on it",
        ),
        (
            r#"<sequenceFlow id="r1" sourceRef="remind" targetRef="offer"/>"#,
            "<userTask> `offer` leads back into the process",
        ),
    ];
    for (path, what) in off_path {
        let e = import(&with_reminder("<timeCycle>R2/P1D</timeCycle>", path)).expect_err(what);
        let mine: Vec<_> =
            e.0.iter()
                .filter(|p| {
                    p.message
                        .contains("a reminder's path may only create activities and end")
                })
                .collect();
        assert_eq!(mine.len(), 1, "{what}: {e}");
        assert_eq!(mine[0].line, Some(6), "{e}");
        assert_eq!(mine[0].element.as_deref(), Some("remind"), "{e}");
        assert!(mine[0].message.contains(what), "{what}: {e}");
    }
}

#[test]
fn unbounded_or_long_cycles_and_dates_are_refused() {
    for (timer, what) in [
        ("<timeCycle>R/P1D</timeCycle>", "repeats forever"),
        ("<timeCycle>R11/P1D</timeCycle>", "n from 1 to 10"),
        (
            "<timeDate>2027-01-01T09:00:00Z</timeDate>",
            "a reminder needs a timeDuration (once) or a timeCycle",
        ),
    ] {
        let e = import(&with_reminder(timer, EMAIL_AND_CALL)).expect_err(what);
        assert!(
            e.0.iter()
                .any(|p| p.line == Some(6) && p.message.contains(what)),
            "{what}: {e}"
        );
    }
    let message = with_reminder("", EMAIL_AND_CALL).replace(
        "<timerEventDefinition></timerEventDefinition>",
        "<messageEventDefinition/>",
    );
    let e = import(&message).expect_err("a non-interrupting message");
    assert!(
        e.0.iter().any(|p| p.line == Some(6)
            && p.message
                .contains("message events are supported on intermediate catch events only")),
        "{e}"
    );
    assert!(
        !e.to_string().contains("not reachable"),
        "its path adds no noise: {e}"
    );
}

#[test]
fn two_timers_may_share_the_end_of_their_paths_and_the_main_flow_keeps_its_own() {
    let path = r#"<sendTask id="nudge" name="Nudge"/>
<endEvent id="reminded"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="nudge"/>
<sequenceFlow id="r2" sourceRef="nudge" targetRef="reminded"/>
<boundaryEvent id="weekly" cancelActivity="false" attachedToRef="offer"><timerEventDefinition><timeDuration>P7D</timeDuration></timerEventDefinition></boundaryEvent>
<serviceTask id="escalate" name="Call about {name}" f:action="call" f:assignee="owner_manager"/>
<sequenceFlow id="w1" sourceRef="weekly" targetRef="escalate"/>
<sequenceFlow id="w2" sourceRef="escalate" targetRef="reminded"/>"#;
    let m = import(&with_reminder("<timeCycle>R2/P1D</timeCycle>", path)).expect("imports");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["offer", "e"]);
    let r = &m.steps.first().expect("offer").reminders;
    let got: Vec<(&str, Option<u32>, &str)> = r
        .iter()
        .map(|r| (r.after.as_str(), r.repeat, r.activity.as_str()))
        .collect();
    assert_eq!(got, [("P1D", Some(2), "email"), ("P7D", None, "call")]);
    // A path ending where the main flow ends: that end stays a step.
    let shared_end = with_reminder(
        "<timeDuration>P1D</timeDuration>",
        r#"<sendTask id="nudge" name="Nudge"/>
<sequenceFlow id="r1" sourceRef="remind" targetRef="nudge"/>
<sequenceFlow id="r2" sourceRef="nudge" targetRef="e"/>"#,
    );
    let m = import(&shared_end).expect("imports");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["offer", "e"]);
}
