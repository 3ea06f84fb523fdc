//! Call activities: `call` steps (or `start` ones), from Camunda 7,
//! bpmn.io and Zeebe files; the forms refused, all at once.

use super::file;
use crate::process::bpmn::import;
use crate::process::model::{Model, ModelFile, StepFile, StepKind, TriggerKind, pin_calls};

/// A fixture of `tests/fixtures/`.
fn fixture(name: &str) -> String {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Step `id` of `m`.
fn step<'m>(m: &'m ModelFile, id: &str) -> &'m StepFile {
    m.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step `{id}` in {m:#?}"))
}

/// A process on an account: start → `call` (its attributes `attrs`, its
/// body `inner`) → end, with Camunda and Zeebe namespaces bound to
/// unusual prefixes.
fn calling(attrs: &str, inner: &str) -> String {
    file(&format!(
        "<process id=\"p\" isExecutable=\"true\" xmlns:c7=\"http://camunda.org/schema/1.0/bpmn\" xmlns:z=\"http://camunda.org/schema/zeebe/1.0\">\n\
         <startEvent id=\"s\" f:record=\"account\"/>\n\
         <callActivity id=\"call\" name=\"Check\" {attrs}>{inner}</callActivity>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"call\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"call\" targetRef=\"e\"/>\n\
         </process>"
    ))
}

/// The `call` step of [`calling`]'s process.
fn called(attrs: &str, inner: &str) -> StepFile {
    let m = import(&calling(attrs, inner)).expect("imports");
    step(&m, "call").clone()
}

#[test]
fn a_camunda_modeler_call_activity_becomes_a_call_step_pinned_when_published() {
    let mut m = import(&fixture("camunda-modeler-call-activity-onboarding.bpmn")).expect("imports");
    assert_eq!(m.key, "account-onboarding");
    assert_eq!(m.start.as_deref(), Some("welcome-call"));
    let ids: Vec<(&str, StepKind)> = m.steps.iter().map(|s| (s.id.as_str(), s.kind)).collect();
    assert_eq!(
        ids,
        [
            ("welcome-call", StepKind::Task),
            ("credit-check-call", StepKind::Call),
            ("open-account", StepKind::Task),
            ("Event_1n6m0pq", StepKind::End),
        ]
    );
    let call = step(&m, "credit-check-call");
    assert_eq!(call.name.as_deref(), Some("Run the credit check"));
    assert_eq!(call.process.as_deref(), Some("credit-check"));
    assert_eq!(
        call.process_version, None,
        "the latest, pinned when published"
    );
    assert_eq!(call.next.as_deref(), Some("open-account"));
    assert_eq!(
        step(&m, "welcome-call").next.as_deref(),
        Some("credit-check-call")
    );
    let e = pin_calls(&mut m.clone(), &[]).expect_err("credit-check is not published");
    assert!(
        e.0[0].contains("no published model `credit-check`"),
        "{e:?}"
    );
    let called =
        import(&fixture("camunda8-zeebe-call-activity-credit-check.bpmn")).expect("imports");
    let published = Model::check(called, 2).expect("checks");
    pin_calls(&mut m, &[published]).expect("pins");
    assert_eq!(step(&m, "credit-check-call").process_version, Some(2));
}

#[test]
fn the_zeebe_called_process_imports_as_a_manual_start_on_an_account() {
    let m = import(&fixture("camunda8-zeebe-call-activity-credit-check.bpmn")).expect("imports");
    assert_eq!(m.key, "credit-check");
    assert_eq!(m.trigger.kind, TriggerKind::Manual);
    assert_eq!(m.trigger.record, Some(crate::ids::RecordKind::Account));
    let task = step(&m, "check-credit");
    assert_eq!(task.kind, StepKind::Task);
    assert_eq!(task.subject.as_deref(), Some("Check the credit"));
    assert_eq!(task.assignee.as_deref(), Some("role:manager"));
    assert_eq!(task.due.as_deref(), Some("P2D"));
    assert_eq!(task.next.as_deref(), Some("Event_0x2hw8f"));
}

#[test]
fn zeebes_called_element_versions_and_wait_give_the_right_steps() {
    let zeebe = called(
        "",
        "<extensionElements><z:calledElement processId=\"credit-check\" propagateAllChildVariables=\"false\"/></extensionElements>",
    );
    assert_eq!(zeebe.kind, StepKind::Call);
    assert_eq!(zeebe.process.as_deref(), Some("credit-check"));
    assert_eq!(zeebe.next.as_deref(), Some("e"));
    let feel = called(
        "",
        "<extensionElements><z:calledElement processId=\"=&quot;credit-check&quot;\" bindingType=\"deployment\"/></extensionElements>",
    );
    assert_eq!(
        feel.process.as_deref(),
        Some("credit-check"),
        "a FEEL string literal"
    );
    let start = called("calledElement=\"credit-check\" f:wait=\"false\"", "");
    assert_eq!(start.kind, StepKind::Start);
    assert_eq!(start.next.as_deref(), Some("e"));
    let waits = called("calledElement=\"credit-check\" f:wait=\"true\"", "");
    assert_eq!(waits.kind, StepKind::Call);
    let pinned = called("calledElement=\"credit-check\" f:version=\"3\"", "");
    assert_eq!(pinned.process_version, Some(3));
    let camunda = called(
        "calledElement=\"credit-check\" c7:calledElementBinding=\"version\" c7:calledElementVersion=\"4\"",
        "",
    );
    assert_eq!(camunda.process_version, Some(4));
    let latest = called(
        "calledElement=\"credit-check\" c7:calledElementBinding=\"latest\" c7:calledElementVersion=\"4\"",
        "",
    );
    assert_eq!(latest.process_version, None, "latest: no pin");
}

#[test]
fn every_problem_of_call_activities_is_listed_with_its_line() {
    let xml = file(
        "<process id=\"p\" isExecutable=\"true\" xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\">\n\
         <startEvent id=\"s\" f:record=\"account\"/>\n\
         <callActivity id=\"none\" name=\"Nothing\"/>\n\
         <callActivity id=\"juel\" calledElement=\"${key}\"/>\n\
         <callActivity id=\"feel\" calledElement=\"=processKey\"/>\n\
         <callActivity id=\"bad\" calledElement=\"credit check\"/>\n\
         <callActivity id=\"each\" calledElement=\"credit-check\"><multiInstanceLoopCharacteristics/></callActivity>\n\
         <callActivity id=\"v0\" calledElement=\"credit-check\" f:version=\"0\"/>\n\
         <callActivity id=\"vx\" calledElement=\"credit-check\" camunda:calledElementBinding=\"version\" camunda:calledElementVersion=\"${v}\"/>\n\
         <callActivity id=\"tag\" calledElement=\"credit-check\" camunda:calledElementBinding=\"versionTag\"/>\n\
         <callActivity id=\"w\" calledElement=\"credit-check\" f:wait=\"maybe\"/>\n\
         <callActivity id=\"ok\" calledElement=\"credit-check\"/>\n\
         <boundaryEvent id=\"late\" attachedToRef=\"ok\"><timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></boundaryEvent>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"none\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"none\" targetRef=\"juel\"/>\n\
         <sequenceFlow id=\"f3\" sourceRef=\"juel\" targetRef=\"feel\"/>\n\
         <sequenceFlow id=\"f4\" sourceRef=\"feel\" targetRef=\"bad\"/>\n\
         <sequenceFlow id=\"f5\" sourceRef=\"bad\" targetRef=\"each\"/>\n\
         <sequenceFlow id=\"f6\" sourceRef=\"each\" targetRef=\"v0\"/>\n\
         <sequenceFlow id=\"f7\" sourceRef=\"v0\" targetRef=\"vx\"/>\n\
         <sequenceFlow id=\"f8\" sourceRef=\"vx\" targetRef=\"tag\"/>\n\
         <sequenceFlow id=\"f9\" sourceRef=\"tag\" targetRef=\"w\"/>\n\
         <sequenceFlow id=\"f10\" sourceRef=\"w\" targetRef=\"ok\"/>\n\
         <sequenceFlow id=\"f11\" sourceRef=\"ok\" targetRef=\"e\"/>\n\
         <sequenceFlow id=\"f12\" sourceRef=\"late\" targetRef=\"e\"/>\n\
         </process>",
    );
    let e = import(&xml).expect_err("refused");
    let lines = e.lines();
    let want = [
        "line 5: <callActivity> `none` \"Nothing\": a callActivity names the process it runs: calledElement, or zeebe:calledElement processId",
        "line 6: <callActivity> `juel`: calledElement `${key}` is an expression Fieldwork cannot evaluate; name the process key",
        "line 7: <callActivity> `feel`: calledElement `=processKey` is an expression Fieldwork cannot evaluate",
        "line 8: <callActivity> `bad`: calledElement `credit check` is not a process key (1-64 letters, digits, `_` or `-`)",
        "line 9: <callActivity> `each`: multi-instance and looping call activities are not supported",
        "line 10: <callActivity> `v0`: fieldwork:version `0` is not a version number (1 or more)",
        "line 11: <callActivity> `vx`: camunda:calledElementVersion `${v}` is not a version number",
        "line 12: <callActivity> `tag`: camunda:calledElementBinding `versionTag` is not supported",
        "line 13: <callActivity> `w`: fieldwork:wait `maybe`: true",
        "line 15: <boundaryEvent> `late`: boundary events on a call activity are not supported yet",
    ];
    for w in want {
        assert!(
            lines.iter().any(|l| l.starts_with(w)),
            "missing {w}: {lines:#?}"
        );
    }
    assert_eq!(lines.len(), want.len(), "nothing more: {lines:#?}");
}

#[test]
fn call_activities_in_sub_processes_and_after_gateways_are_steps_too() {
    let xml = file(
        "<process id=\"p\" isExecutable=\"true\">\n\
         <startEvent id=\"s\" f:record=\"account\"/>\n\
         <subProcess id=\"sub\">\n\
           <startEvent id=\"sub-s\"/>\n\
           <callActivity id=\"inner\" calledElement=\"credit-check\"/>\n\
           <endEvent id=\"sub-e\"/>\n\
           <sequenceFlow id=\"i1\" sourceRef=\"sub-s\" targetRef=\"inner\"/>\n\
           <sequenceFlow id=\"i2\" sourceRef=\"inner\" targetRef=\"sub-e\"/>\n\
         </subProcess>\n\
         <exclusiveGateway id=\"g\" default=\"fd\"/>\n\
         <callActivity id=\"kyc\" calledElement=\"kyc\" f:wait=\"false\"/>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"sub\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"sub\" targetRef=\"g\"/>\n\
         <sequenceFlow id=\"fy\" sourceRef=\"g\" targetRef=\"kyc\"><conditionExpression>${name == \"x\"}</conditionExpression></sequenceFlow>\n\
         <sequenceFlow id=\"fd\" sourceRef=\"g\" targetRef=\"e\"/>\n\
         <sequenceFlow id=\"f3\" sourceRef=\"kyc\" targetRef=\"e\"/>\n\
         </process>",
    );
    let m = import(&xml).expect("imports");
    assert_eq!(m.start.as_deref(), Some("inner"));
    assert_eq!(step(&m, "inner").kind, StepKind::Call);
    assert_eq!(step(&m, "inner").next.as_deref(), Some("g"));
    assert_eq!(step(&m, "kyc").kind, StepKind::Start);
    assert_eq!(step(&m, "kyc").process.as_deref(), Some("kyc"));
}

#[test]
fn the_call_activity_fixtures_cut_or_rewired_anywhere_give_a_model_or_problems_never_a_panic() {
    for name in [
        "camunda-modeler-call-activity-onboarding.bpmn",
        "camunda8-zeebe-call-activity-credit-check.bpmn",
    ] {
        let xml = fixture(name);
        let end = xml.find("<bpmndi:").unwrap_or(xml.len());
        for (at, _) in xml[..end].char_indices().step_by(5) {
            if let Err(e) = import(&xml[..at]) {
                assert!(!e.0.is_empty(), "{name} cut at {at}");
            }
        }
        // Each flow in turn pointed back at the first flow's target: loops
        // through the call activity, steps cut off.
        let targets: Vec<&str> = xml.split("targetRef=\"").skip(1).collect();
        let first = targets[0].split('"').next().unwrap_or_default();
        for k in 0..targets.len() {
            let mut parts: Vec<String> = xml.split("targetRef=\"").map(str::to_owned).collect();
            let rest = parts[k + 1].split_once('"').map(|(_, r)| r.to_owned());
            parts[k + 1] = format!("{first}\"{}", rest.unwrap_or_default());
            if let Err(e) = import(&parts.join("targetRef=\"")) {
                assert!(!e.0.is_empty(), "{name}: flow {k} rewired");
            }
        }
    }
}
