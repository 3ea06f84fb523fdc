//! Parallel gateways: forks become `parallel` steps, joins are followed
//! through; forks whose paths never meet and nested ones are refused.

use super::{file, fixture, refused, step};
use crate::process::bpmn::import;
use crate::process::model::{Model, StepKind};

#[test]
fn a_camunda_modeler_fork_and_join_become_one_parallel_step() {
    let m = import(&fixture(
        "camunda-modeler-parallel-offer-and-credit-check.bpmn",
    ))
    .expect("imports");
    assert_eq!(m.start.as_deref(), Some("Gateway_both"));
    let fork = step(&m, "Gateway_both");
    assert_eq!(fork.kind, StepKind::Parallel);
    assert_eq!(fork.paths, ["prepare-offer", "check-credit"]);
    assert_eq!(
        fork.next.as_deref(),
        Some("send-offer"),
        "the join's way on"
    );
    assert!(
        m.steps.iter().all(|s| s.id != "Gateway_1j0in4k"),
        "the join is no step"
    );
    for path in ["prepare-offer", "check-credit"] {
        assert_eq!(step(&m, path).next.as_deref(), Some("send-offer"));
    }
    assert_eq!(step(&m, "prepare-offer").assignee.as_deref(), Some("owner"));
    assert_eq!(
        step(&m, "check-credit").assignee.as_deref(),
        Some("role:manager")
    );
    assert_eq!(step(&m, "Event_0s3nt7q").kind, StepKind::End);
    Model::check(m, 1).expect("checks");
}

#[test]
fn a_bpmn_io_fork_into_three_paths_meets_at_its_join_before_the_end() {
    let m = import(&fixture("bpmn-io-parallel-visit-prep.bpmn")).expect("imports");
    let fork = step(&m, "Gateway_0f2rk9a");
    assert_eq!(fork.kind, StepKind::Parallel);
    assert_eq!(
        fork.paths,
        ["confirm-visit", "print-prices", "check-tickets"]
    );
    assert_eq!(fork.next.as_deref(), Some("Event_0r3ady1"));
    assert_eq!(
        step(&m, "confirm-visit").next.as_deref(),
        Some("send-agenda")
    );
    let agenda = step(&m, "send-agenda");
    assert_eq!(agenda.kind, StepKind::Activity);
    assert_eq!(agenda.next.as_deref(), Some("Event_0r3ady1"));
    assert!(m.steps.iter().all(|s| s.id != "Gateway_1j2o3i4"));
    Model::check(m, 1).expect("checks");
}

#[test]
fn a_gateway_that_joins_and_forks_again_is_the_join_of_the_fork_before_it() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<parallelGateway id="f1"/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<parallelGateway id="m"/>
<userTask id="c" name="C"/>
<userTask id="d" name="D"/>
<parallelGateway id="j"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="f1"/>
<sequenceFlow id="x2" sourceRef="f1" targetRef="a"/>
<sequenceFlow id="x3" sourceRef="f1" targetRef="b"/>
<sequenceFlow id="x4" sourceRef="a" targetRef="m"/>
<sequenceFlow id="x5" sourceRef="b" targetRef="m"/>
<sequenceFlow id="x6" sourceRef="m" targetRef="c"/>
<sequenceFlow id="x7" sourceRef="m" targetRef="d"/>
<sequenceFlow id="x8" sourceRef="c" targetRef="j"/>
<sequenceFlow id="x9" sourceRef="d" targetRef="j"/>
<sequenceFlow id="x10" sourceRef="j" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    assert_eq!(step(&m, "f1").next.as_deref(), Some("m"));
    let again = step(&m, "m");
    assert_eq!(again.kind, StepKind::Parallel);
    assert_eq!(again.paths, ["c", "d"]);
    assert_eq!(again.next.as_deref(), Some("e"));
    assert!(m.steps.iter().all(|s| s.id != "j"));
    Model::check(m, 1).expect("checks");
}

#[test]
fn a_fork_whose_paths_never_meet_is_refused_with_every_problem() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<parallelGateway id="fork" name="Both"/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<endEvent id="e1"/>
<endEvent id="e2"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="x2" sourceRef="fork" targetRef="a"/>
<sequenceFlow id="x3" sourceRef="fork" targetRef="b"><conditionExpression>${amount > 5}</conditionExpression></sequenceFlow>
<sequenceFlow id="x4" sourceRef="a" targetRef="e1"/>
<sequenceFlow id="x5" sourceRef="b" targetRef="e2"/>
</process>"#,
    );
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 5: <parallelGateway> `fork` \"Both\": flow `x3` has a condition; every path of a parallel gateway runs (conditions belong on flows out of an exclusiveGateway)",
            "line 5: <parallelGateway> `fork` \"Both\": the paths of this parallel gateway never meet at one converging parallelGateway",
        ],
        "{lines:#?}"
    );
}

#[test]
fn a_nested_fork_and_an_end_inside_a_path_are_refused_with_their_lines() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<parallelGateway id="f1"/>
<userTask id="a" name="A"/>
<boundaryEvent id="late" attachedToRef="a"><timerEventDefinition><timeDuration>P2D</timeDuration></timerEventDefinition></boundaryEvent>
<endEvent id="gave-up" name="Gave up"/>
<parallelGateway id="f2" name="Inner"/>
<userTask id="b" name="B"/>
<userTask id="c" name="C"/>
<parallelGateway id="j2"/>
<parallelGateway id="j1"/>
<userTask id="d" name="D"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="f1"/>
<sequenceFlow id="x2" sourceRef="f1" targetRef="a"/>
<sequenceFlow id="x3" sourceRef="f1" targetRef="f2"/>
<sequenceFlow id="x4" sourceRef="f2" targetRef="b"/>
<sequenceFlow id="x5" sourceRef="f2" targetRef="c"/>
<sequenceFlow id="x6" sourceRef="b" targetRef="j2"/>
<sequenceFlow id="x7" sourceRef="c" targetRef="j2"/>
<sequenceFlow id="x8" sourceRef="j2" targetRef="j1"/>
<sequenceFlow id="x9" sourceRef="a" targetRef="j1"/>
<sequenceFlow id="x10" sourceRef="late" targetRef="gave-up"/>
<sequenceFlow id="x11" sourceRef="j1" targetRef="d"/>
<sequenceFlow id="x12" sourceRef="d" targetRef="e"/>
</process>"#,
    );
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 8: <endEvent> `gave-up` \"Gave up\": ends the process on a path of parallel gateway `f1`: every path must reach its join `j1`",
            "line 9: <parallelGateway> `f2` \"Inner\": parallel gateways inside a parallel path are not supported yet: this one is on a path of `f1`",
            "line 12: <parallelGateway> `j2`: parallel gateways inside a parallel path are not supported yet: this one is on a path of `f1`",
        ],
        "{lines:#?}"
    );
}

#[test]
fn a_join_no_fork_matches_and_a_gateway_without_a_way_out_are_refused() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<exclusiveGateway id="x" default="to-b"/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<parallelGateway id="j" name="Stray"/>
<parallelGateway id="dead"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="x"/>
<sequenceFlow id="to-a" sourceRef="x" targetRef="a"><conditionExpression>${amount > 5}</conditionExpression></sequenceFlow>
<sequenceFlow id="to-b" sourceRef="x" targetRef="b"/>
<sequenceFlow id="x2" sourceRef="a" targetRef="j"/>
<sequenceFlow id="x3" sourceRef="b" targetRef="j"/>
<sequenceFlow id="x4" sourceRef="j" targetRef="e"/>
</process>"#,
    );
    let lines = refused(&xml);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "line 8: <parallelGateway> `j` \"Stray\": this converging parallelGateway joins paths that no parallelGateway forked"
        ),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("line 9: <parallelGateway> `dead`: has no outgoing sequenceFlow"),
        "{lines:#?}"
    );
}

#[test]
fn model_check_problems_of_a_fork_surface_on_its_elements_with_their_lines() {
    // The paths from `a` and `b` share `c`, and the way on after the join
    // loops back into a path: the model check (not the importer) finds
    // both, and names the elements.
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<parallelGateway id="fork"/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<userTask id="c" name="C"/>
<userTask id="d" name="D"/>
<parallelGateway id="j"/>
<exclusiveGateway id="again" default="done"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="x2" sourceRef="fork" targetRef="a"/>
<sequenceFlow id="x3" sourceRef="fork" targetRef="b"/>
<sequenceFlow id="x4" sourceRef="fork" targetRef="d"/>
<sequenceFlow id="x5" sourceRef="a" targetRef="c"/>
<sequenceFlow id="x6" sourceRef="b" targetRef="c"/>
<sequenceFlow id="x7" sourceRef="c" targetRef="j"/>
<sequenceFlow id="x8" sourceRef="d" targetRef="j"/>
<sequenceFlow id="x9" sourceRef="j" targetRef="again"/>
<sequenceFlow id="back" sourceRef="again" targetRef="a"><conditionExpression>${stage == "won"}</conditionExpression></sequenceFlow>
<sequenceFlow id="done" sourceRef="again" targetRef="e"/>
</process>"#,
    );
    let lines = refused(&xml);
    let has = |s: &str| lines.iter().any(|l| l.starts_with(s));
    assert!(
        has("line 5: <parallelGateway> `fork`: paths[0]: shares step `c` with paths[1]"),
        "{lines:#?}"
    );
    assert!(
        has("line 11: <exclusiveGateway> `again`: leads into `a` on a path of `fork`"),
        "{lines:#?}"
    );
}

#[test]
fn complex_gateways_stay_refused() {
    let complex = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s"/>
<complexGateway id="g" name="Some"/>
</process>"#,
    );
    let lines = refused(&complex);
    assert!(
        lines.iter().any(|l| l.starts_with(
            "line 5: <complexGateway> `g` \"Some\": complex gateways are not supported yet; use an inclusive or parallel gateway"
        )),
        "{lines:#?}"
    );
}

#[test]
fn a_path_through_a_sub_process_meets_the_others_at_the_join() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<parallelGateway id="fork"/>
<subProcess id="sub">
  <startEvent id="sub-start"/>
  <userTask id="a" name="A"/>
  <endEvent id="sub-end"/>
  <sequenceFlow id="i1" sourceRef="sub-start" targetRef="a"/>
  <sequenceFlow id="i2" sourceRef="a" targetRef="sub-end"/>
</subProcess>
<userTask id="b" name="B"/>
<parallelGateway id="j"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="x2" sourceRef="fork" targetRef="sub"/>
<sequenceFlow id="x3" sourceRef="fork" targetRef="b"/>
<sequenceFlow id="x4" sourceRef="sub" targetRef="j"/>
<sequenceFlow id="x5" sourceRef="b" targetRef="j"/>
<sequenceFlow id="x6" sourceRef="j" targetRef="e"/>
</process>"#,
    );
    let m = import(&xml).expect("imports");
    let fork = step(&m, "fork");
    assert_eq!(fork.paths, ["a", "b"]);
    assert_eq!(fork.next.as_deref(), Some("e"));
    assert_eq!(step(&m, "a").next.as_deref(), Some("e"));
}

#[test]
fn a_lone_parallel_gateway_is_refused_at_its_line() {
    let e = import(&fixture("unsupported-parallel-gateway.bpmn")).expect_err("refused");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].line, Some(7), "{e}");
    assert_eq!(e.0[0].tag.as_deref(), Some("parallelGateway"), "{e}");
    assert!(
        e.0[0].message.starts_with("has no outgoing sequenceFlow"),
        "{e}"
    );
}

#[test]
fn the_parallel_fixtures_cut_or_rewired_anywhere_give_a_model_or_problems_never_a_panic() {
    for name in [
        "camunda-modeler-parallel-offer-and-credit-check.bpmn",
        "bpmn-io-parallel-visit-prep.bpmn",
    ] {
        let xml = fixture(name);
        let end = xml.find("<bpmndi:").unwrap_or(xml.len());
        for (at, _) in xml[..end].char_indices().step_by(7) {
            if let Err(e) = import(&xml[..at]) {
                assert!(!e.0.is_empty(), "{name} cut at {at}");
            }
        }
        // Each flow in turn pointed back at the fork: loops into it, paths
        // that return, joins that lose a way in.
        let fork = xml
            .split("<bpmn:parallelGateway id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a fork");
        let targets: Vec<&str> = xml.split("targetRef=\"").skip(1).collect();
        for k in 0..targets.len() {
            let mut parts: Vec<String> = xml.split("targetRef=\"").map(str::to_owned).collect();
            let rest = parts[k + 1].split_once('"').map(|(_, r)| r.to_owned());
            parts[k + 1] = format!("{fork}\"{}", rest.unwrap_or_default());
            let rewired = parts.join("targetRef=\"");
            if let Err(e) = import(&rewired) {
                assert!(!e.0.is_empty(), "{name}: flow {k} rewired");
            }
        }
    }
}
