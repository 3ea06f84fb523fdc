//! Embedded sub-processes: flattened, nested ones too; the kinds refused.

use super::file;
use crate::process::bpmn::import;
use crate::process::model::StepKind;

#[test]
fn nested_sub_processes_are_flattened_into_the_steps_around_them() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<subProcess id="outer" name="Prepare offer">
  <startEvent id="outer-start"/>
  <userTask id="a" name="Price it"/>
  <subProcess id="inner" name="Approval">
    <startEvent id="inner-start"/>
    <userTask id="b" name="Approve" f:assignee="owner_manager"/>
    <endEvent id="inner-end"/>
    <sequenceFlow id="i1" sourceRef="inner-start" targetRef="b"/>
    <sequenceFlow id="i2" sourceRef="b" targetRef="inner-end"/>
  </subProcess>
  <endEvent id="outer-end"/>
  <sequenceFlow id="o1" sourceRef="outer-start" targetRef="a"/>
  <sequenceFlow id="o2" sourceRef="a" targetRef="inner"/>
  <sequenceFlow id="o3" sourceRef="inner" targetRef="outer-end"/>
</subProcess>
<userTask id="c" name="Send it"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="outer"/>
<sequenceFlow id="f2" sourceRef="outer" targetRef="c"/>
<sequenceFlow id="f3" sourceRef="c" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "e"], "{m:#?}");
    assert_eq!(m.start.as_deref(), Some("a"));
    let next = |id: &str| {
        m.steps
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.next.clone())
    };
    assert_eq!(
        next("a").as_deref(),
        Some("b"),
        "into the inner sub-process"
    );
    assert_eq!(
        next("b").as_deref(),
        Some("c"),
        "out of both sub-processes at once"
    );
    assert_eq!(next("c").as_deref(), Some("e"));
    assert!(m.steps.iter().all(|s| s.kind != StepKind::Wait));
}

#[test]
fn a_sub_process_without_a_way_out_ends_the_process_at_its_end_events() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="sub-start"/>
  <task id="t" name="Call"/>
  <endEvent id="sub-end"/>
  <sequenceFlow id="i1" sourceRef="sub-start" targetRef="t"/>
  <sequenceFlow id="i2" sourceRef="t" targetRef="sub-end"/>
</subProcess>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let ids: Vec<(&str, StepKind)> = m.steps.iter().map(|s| (s.id.as_str(), s.kind)).collect();
    assert_eq!(ids, [("t", StepKind::Task), ("sub-end", StepKind::End)]);
}

#[test]
fn boundary_events_on_event_looping_and_transactional_sub_processes_are_refused() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<subProcess id="sub" name="Prepare">
  <startEvent id="sub-start"/>
  <endEvent id="sub-end"/>
  <sequenceFlow id="i1" sourceRef="sub-start" targetRef="sub-end"/>
</subProcess>
<boundaryEvent id="late" attachedToRef="sub"><timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></boundaryEvent>
<subProcess id="on-event" triggeredByEvent="true"><startEvent id="x"/></subProcess>
<subProcess id="each"><multiInstanceLoopCharacteristics/></subProcess>
<adHocSubProcess id="adhoc"/>
<transaction id="tx"/>
<subProcess id="empty"/>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="empty"/>
<sequenceFlow id="f3" sourceRef="late" targetRef="e2"/>
<sequenceFlow id="f4" sourceRef="empty" targetRef="e"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    let lines = e.lines();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    for want in [
        "line 10: <boundaryEvent> `late`: a boundary event on a sub-process (`sub`) is not supported yet",
        "line 11: <subProcess> `on-event`: event sub-processes (triggeredByEvent) are not supported yet",
        "line 12: <subProcess> `each`: multi-instance and looping sub-processes are not supported",
        "line 13: <adHocSubProcess> `adhoc`: ad-hoc sub-processes are not supported yet",
        "line 14: <transaction> `tx`: transactions",
        "line 15: <subProcess> `empty`: a sub-process needs a startEvent; it has none",
    ] {
        assert!(has(want), "missing {want}: {lines:#?}");
    }
}

#[test]
fn a_flow_across_a_sub_processs_border_is_a_problem() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="sub-start"/>
  <task id="t" name="Call"/>
  <endEvent id="sub-end"/>
  <sequenceFlow id="i1" sourceRef="sub-start" targetRef="t"/>
  <sequenceFlow id="i2" sourceRef="t" targetRef="sub-end"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    assert!(
        e.0.iter()
            .any(|p| p.line == Some(13) && p.message.contains("not in the same (sub-)process")),
        "{e}"
    );
}

#[test]
fn an_id_used_twice_is_a_problem_on_the_second_element() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<task id="t" name="Call"/>
<subProcess id="sub">
  <startEvent id="sub-start"/>
  <task id="t" name="Call again"/>
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
</process>"#,
    );
    let e = import(&xml).expect_err("refused");
    assert!(
        e.0.iter()
            .any(|p| p.line == Some(8) && p.message.contains("another element has the id `t`")),
        "{e}"
    );
}

#[test]
fn a_long_chain_of_sub_processes_imports_quickly() {
    let mut body = String::from("<process id=\"p\">\n<startEvent id=\"s\"/>\n");
    let mut prev = "s".to_owned();
    for i in 0..900 {
        body.push_str(&format!(
            "<subProcess id=\"sub{i}\"><startEvent id=\"in{i}\"/><endEvent id=\"out{i}\"/>\
             <sequenceFlow id=\"i{i}\" sourceRef=\"in{i}\" targetRef=\"out{i}\"/></subProcess>\n\
             <sequenceFlow id=\"f{i}\" sourceRef=\"{prev}\" targetRef=\"sub{i}\"/>\n"
        ));
        prev = format!("sub{i}");
    }
    body.push_str(&format!(
        "<task id=\"t\" name=\"Call\"/>\n<endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"ft\" sourceRef=\"{prev}\" targetRef=\"t\"/>\n\
         <sequenceFlow id=\"fe\" sourceRef=\"t\" targetRef=\"e\"/>\n</process>"
    ));
    let started = std::time::Instant::now();
    let m = import(&file(&body)).expect("imports");
    assert_eq!(
        m.start.as_deref(),
        Some("t"),
        "through 900 empty sub-processes"
    );
    assert_eq!(m.steps.len(), 2);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_cycle_of_empty_sub_processes_and_joins_ends_with_a_problem() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<task id="t" name="Call"/>
<exclusiveGateway id="j1"/>
<subProcess id="sub">
  <startEvent id="in"/>
  <endEvent id="out"/>
  <sequenceFlow id="i1" sourceRef="in" targetRef="out"/>
</subProcess>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="j1"/>
<sequenceFlow id="f3" sourceRef="j1" targetRef="sub"/>
<sequenceFlow id="f4" sourceRef="sub" targetRef="j1"/>
</process>"#,
    );
    let e = import(&xml).expect_err("a loop without a step");
    assert!(
        e.0.iter().any(|p| p.element.as_deref() == Some("t")),
        "named on the task that leads into it: {e}"
    );
}
