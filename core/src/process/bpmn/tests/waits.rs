//! Receive and send tasks, message and conditional catch events, and
//! event-based gateways.

use super::file;
use crate::process::bpmn::import;
use crate::process::model::{ModelFile, StepFile, StepKind, WaitFile};

fn step<'m>(m: &'m ModelFile, id: &str) -> &'m StepFile {
    m.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}: {m:#?}"))
}

fn waits(
    message: Option<&str>,
    condition: Option<&str>,
    after: Option<&str>,
    next: &str,
) -> WaitFile {
    WaitFile {
        message: message.map(str::to_owned),
        condition: condition.map(str::to_owned),
        after: after.map(str::to_owned),
        next: next.to_owned(),
    }
}

#[test]
fn receive_and_send_tasks_and_catch_events_become_waits_and_activities() {
    let xml = file(
        r#"<message id="Message_signed" name="contract_signed"/>
<message id="Message_0reply" name="Reply received"/>
<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<sendTask id="send" name="Send the offer"/>
<receiveTask id="signed" name="Contract signed" messageRef="Message_signed"/>
<intermediateCatchEvent id="reply" name="Reply"><messageEventDefinition messageRef="Message_0reply"/></intermediateCatchEvent>
<intermediateCatchEvent id="paid" f:message="invoice-paid"><messageEventDefinition/></intermediateCatchEvent>
<intermediateCatchEvent id="won"><conditionalEventDefinition><condition xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">${stage == "won"}</condition></conditionalEventDefinition></intermediateCatchEvent>
<sendTask id="call" name="Call to thank" f:action="call" f:offset="P1D"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="send"/>
<sequenceFlow id="f2" sourceRef="send" targetRef="signed"/>
<sequenceFlow id="f3" sourceRef="signed" targetRef="reply"/>
<sequenceFlow id="f4" sourceRef="reply" targetRef="paid"/>
<sequenceFlow id="f5" sourceRef="paid" targetRef="won"/>
<sequenceFlow id="f6" sourceRef="won" targetRef="call"/>
<sequenceFlow id="f7" sourceRef="call" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let send = step(&m, "send");
    assert_eq!(
        (send.kind, send.activity.as_deref(), send.subject.as_deref()),
        (StepKind::Activity, Some("email"), Some("Send the offer")),
        "a send task is an email by default"
    );
    assert_eq!(send.next.as_deref(), Some("signed"));
    let call = step(&m, "call");
    assert_eq!(
        (call.activity.as_deref(), call.offset.as_deref()),
        (Some("call"), Some("P1D"))
    );
    for (id, want) in [
        (
            "signed",
            waits(Some("contract_signed"), None, None, "reply"),
        ),
        ("reply", waits(Some("Message_0reply"), None, None, "paid")),
        ("paid", waits(Some("invoice-paid"), None, None, "won")),
        ("won", waits(None, Some("stage == \"won\""), None, "call")),
    ] {
        let s = step(&m, id);
        assert_eq!(s.kind, StepKind::Wait, "{id}");
        assert_eq!(s.next, None, "{id}: a wait step has no next");
        assert_eq!(s.events, [want], "{id}");
    }
}

#[test]
fn a_message_without_a_name_to_wait_for_is_a_problem() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<receiveTask id="r" name="Reply"/>
<intermediateCatchEvent id="c"><messageEventDefinition messageRef="Message_gone"/></intermediateCatchEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="r"/>
<sequenceFlow id="f2" sourceRef="r" targetRef="c"/>
<sequenceFlow id="f3" sourceRef="c" targetRef="e"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    let lines = e.lines();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        has("line 5: <receiveTask> `r` \"Reply\": which message?"),
        "{lines:#?}"
    );
    assert!(
        has("line 6: <intermediateCatchEvent> `c`: messageRef `Message_gone` names no <message>"),
        "{lines:#?}"
    );
}

#[test]
fn an_event_based_gateway_is_one_wait_for_the_events_after_it() {
    let xml = file(
        r#"<message id="Message_reply" name="reply"/>
<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<eventBasedGateway id="race" name="Reply or timeout?"/>
<intermediateCatchEvent id="reply" name="Reply received"><messageEventDefinition messageRef="Message_reply"/></intermediateCatchEvent>
<intermediateCatchEvent id="timeout" name="3 days"><timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition></intermediateCatchEvent>
<intermediateCatchEvent id="lost"><conditionalEventDefinition><condition>${stage == "lost"}</condition></conditionalEventDefinition></intermediateCatchEvent>
<receiveTask id="signed" f:message="signed"/>
<exclusiveGateway id="join"/>
<userTask id="chase" name="Chase"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="race"/>
<sequenceFlow id="f2" sourceRef="race" targetRef="reply"/>
<sequenceFlow id="f3" sourceRef="race" targetRef="timeout"/>
<sequenceFlow id="f4" sourceRef="race" targetRef="lost"/>
<sequenceFlow id="f5" sourceRef="race" targetRef="signed"/>
<sequenceFlow id="f6" sourceRef="reply" targetRef="join"/>
<sequenceFlow id="f7" sourceRef="timeout" targetRef="chase"/>
<sequenceFlow id="f8" sourceRef="lost" targetRef="join"/>
<sequenceFlow id="f9" sourceRef="signed" targetRef="join"/>
<sequenceFlow id="f10" sourceRef="chase" targetRef="join"/>
<sequenceFlow id="f11" sourceRef="join" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["race", "chase", "e"],
        "catch events are read into the gateway"
    );
    let race = step(&m, "race");
    assert_eq!(race.kind, StepKind::Wait);
    assert_eq!(race.name.as_deref(), Some("Reply or timeout?"));
    assert_eq!(
        race.events,
        [
            waits(Some("reply"), None, None, "e"),
            waits(None, None, Some("P3D"), "chase"),
            waits(None, Some("stage == \"lost\""), None, "e"),
            waits(Some("signed"), None, None, "e"),
        ]
    );
}

#[test]
fn anything_else_after_an_event_based_gateway_is_a_problem_naming_it() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<eventBasedGateway id="race"/>
<userTask id="call" name="Call"/>
<intermediateCatchEvent id="on-date"><timerEventDefinition><timeDate>${close_date}</timeDate></timerEventDefinition></intermediateCatchEvent>
<intermediateCatchEvent id="sig"><signalEventDefinition/></intermediateCatchEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="race"/>
<sequenceFlow id="f2" sourceRef="race" targetRef="call"/>
<sequenceFlow id="f3" sourceRef="race" targetRef="on-date"/>
<sequenceFlow id="f4" sourceRef="race" targetRef="sig"/>
<sequenceFlow id="f5" sourceRef="call" targetRef="e"/>
<sequenceFlow id="f6" sourceRef="on-date" targetRef="e"/>
<sequenceFlow id="f7" sourceRef="sig" targetRef="e"/>
<sequenceFlow id="f8" sourceRef="call" targetRef="on-date"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    let lines = e.lines();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    for want in [
        "line 5: <eventBasedGateway> `race`: an event-based gateway leads to the events it waits for",
        "not to <userTask> `call`",
        "line 7: <intermediateCatchEvent> `on-date`: waited for by event-based gateway `race`: no other flow may lead to it",
        "line 7: <intermediateCatchEvent> `on-date`: a timer after an event-based gateway needs a timeDuration (the timeout), not a timeDate",
        "line 8: <intermediateCatchEvent> `sig`: signal events are not supported",
    ] {
        assert!(has(want), "missing {want}: {lines:#?}");
    }
}

#[test]
fn a_catch_event_with_several_definitions_is_refused() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<intermediateCatchEvent id="c"><messageEventDefinition/><timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></intermediateCatchEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<sequenceFlow id="f2" sourceRef="c" targetRef="e"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    assert!(
        e.0.iter()
            .any(|p| p.line == Some(5)
                && p.message.contains("2 event definitions (a multiple event)")),
        "{e}"
    );
}

#[test]
fn service_tasks_create_records_and_notify_other_systems() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="account"/>
<serviceTask id="open" name="Open the deal" f:action="create" f:create="deal" f:fields="name={name}: first order; account={id}; stage=qualification"/>
<sendTask id="tell" name="Tell the ERP" f:action="notify" f:notice="customer-qualified"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="open"/>
<sequenceFlow id="f2" sourceRef="open" targetRef="tell"/>
<sequenceFlow id="f3" sourceRef="tell" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let open = step(&m, "open");
    assert_eq!(open.kind, StepKind::Create);
    assert_eq!(open.create, Some(crate::ids::RecordKind::Deal));
    assert_eq!(
        open.fields.get("name").map(String::as_str),
        Some("{name}: first order")
    );
    assert_eq!(open.fields.get("account").map(String::as_str), Some("{id}"));
    let tell = step(&m, "tell");
    assert_eq!(tell.kind, StepKind::Notify);
    assert_eq!(tell.notify.as_deref(), Some("customer-qualified"));
    let bad = xml.replace("f:create=\"deal\"", "f:create=\"spaceship\"");
    let problems = import(&bad).expect_err("refused").lines().join("\n");
    assert!(
        problems.contains("fieldwork:create names the kind"),
        "{problems}"
    );
}
