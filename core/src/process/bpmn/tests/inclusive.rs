//! Inclusive gateways: forks become `inclusive` steps (a branch per
//! conditional flow, the default flow as `default`), joins are followed
//! through; flows with neither a condition nor being the default, forks
//! joined by a gateway of the other kind and nested forks are refused.

use super::{file, fixture, refused, step};
use crate::process::bpmn::import;
use crate::process::model::{BranchFile, Model, StepKind};

/// The Camunda Modeler fixture.
const FIXTURE: &str = "camunda-modeler-inclusive-offer-checks.bpmn";

#[test]
fn a_camunda_modeler_inclusive_fork_and_join_become_one_inclusive_step() {
    let m = import(&fixture(FIXTURE)).expect("imports");
    assert_eq!(m.start.as_deref(), Some("Gateway_checks"));
    let fork = step(&m, "Gateway_checks");
    assert_eq!(fork.kind, StepKind::Inclusive);
    assert_eq!(fork.name.as_deref(), Some("Which checks?"));
    let branch = |condition: &str, next: &str| BranchFile {
        condition: condition.into(),
        next: next.into(),
    };
    assert_eq!(
        fork.branches,
        [
            branch("amount >= 100000", "legal-review"),
            branch("currency != \"EUR\"", "hedge-currency"),
        ]
    );
    assert_eq!(fork.default.as_deref(), Some("confirm-terms"));
    assert!(fork.paths.is_empty(), "{fork:#?}");
    assert_eq!(
        fork.next.as_deref(),
        Some("send-offer"),
        "the join's way on"
    );
    assert!(
        m.steps.iter().all(|s| s.id != "Gateway_0m6j1sd"),
        "the join is no step"
    );
    for path in ["legal-review", "hedge-currency", "confirm-terms"] {
        assert_eq!(step(&m, path).next.as_deref(), Some("send-offer"));
    }
    assert_eq!(step(&m, "legal-review").assignee.as_deref(), Some("owner"));
    assert_eq!(
        step(&m, "hedge-currency").assignee.as_deref(),
        Some("role:manager")
    );
    assert_eq!(step(&m, "Event_1q0d7lu").kind, StepKind::End);
    Model::check(m, 1).expect("checks");
}

/// An inclusive fork `fork` into tasks `a` and `b` (flows `x2`, `x3`,
/// conditions `ca`, `cb`: empty for none) joined at a `join` gateway.
fn fork_and_join(attrs: &str, (ca, cb): (&str, &str), join: &str) -> String {
    let condition = |c: &str| {
        if c.is_empty() {
            "/>".to_owned()
        } else {
            format!("><conditionExpression>{c}</conditionExpression></sequenceFlow>")
        }
    };
    file(&format!(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<inclusiveGateway id="fork" name="Some"{attrs}/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<{join} id="j" name="Met"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="fork"/>
<sequenceFlow id="x2" sourceRef="fork" targetRef="a"{}
<sequenceFlow id="x3" sourceRef="fork" targetRef="b"{}
<sequenceFlow id="x4" sourceRef="a" targetRef="j"/>
<sequenceFlow id="x5" sourceRef="b" targetRef="j"/>
<sequenceFlow id="x6" sourceRef="j" targetRef="e"/>
</process>"#,
        condition(ca),
        condition(cb)
    ))
}

#[test]
fn feel_conditions_without_a_default_import_and_check() {
    let xml = fork_and_join(
        "",
        ("=amount &gt; 5", "${stage == \"won\"}"),
        "inclusiveGateway",
    );
    let m = import(&xml).expect("imports");
    let fork = step(&m, "fork");
    assert_eq!(fork.kind, StepKind::Inclusive);
    assert_eq!(fork.branches[0].condition, "amount > 5");
    assert_eq!(fork.branches[1].condition, "stage == \"won\"");
    assert_eq!(fork.default, None);
    assert_eq!(fork.next.as_deref(), Some("e"));
    assert!(m.steps.iter().all(|s| s.id != "j"));
    Model::check(m, 1).expect("checks");
}

#[test]
fn a_flow_with_no_condition_that_is_not_the_default_is_refused() {
    let xml = fork_and_join(
        " default=\"gone\"",
        ("${amount > 5}", ""),
        "inclusiveGateway",
    );
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 5: <inclusiveGateway> `fork` \"Some\": default `gone` is not a flow out of this gateway",
            "line 5: <inclusiveGateway> `fork` \"Some\": flow `x3` out of an inclusive gateway has no conditionExpression and is not its default",
        ],
        "{lines:#?}"
    );
    let fixed = xml.replace("default=\"gone\"", "default=\"x3\"");
    let m = import(&fixed).expect("the default needs no condition");
    assert_eq!(step(&m, "fork").default.as_deref(), Some("b"));
}

#[test]
fn an_inclusive_fork_joined_by_a_parallel_gateway_is_refused() {
    let xml = fork_and_join("", ("${amount > 5}", "${amount > 9}"), "parallelGateway");
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 5: <inclusiveGateway> `fork` \"Some\": the paths of this inclusive gateway meet at parallelGateway `j`: a fork is joined by a converging gateway of its own kind (inclusiveGateway)",
        ],
        "{lines:#?}"
    );
    let parallel = xml
        .replace(
            "<inclusiveGateway id=\"fork\"",
            "<parallelGateway id=\"fork\"",
        )
        .replace("<parallelGateway id=\"j\"", "<inclusiveGateway id=\"j\"")
        .replace(
            "<conditionExpression>${amount > 5}</conditionExpression>",
            "",
        )
        .replace(
            "<conditionExpression>${amount > 9}</conditionExpression>",
            "",
        );
    let lines = refused(&parallel);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "line 5: <parallelGateway> `fork` \"Some\": the paths of this parallel gateway meet at inclusiveGateway `j`"
        ),
        "{lines:#?}"
    );
}

#[test]
fn a_converging_inclusive_gateway_that_no_fork_matches_or_whose_way_on_has_a_condition_is_refused()
{
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<exclusiveGateway id="x" default="to-b"/>
<userTask id="a" name="A"/>
<userTask id="b" name="B"/>
<inclusiveGateway id="j" name="Stray"/>
<endEvent id="e"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="x"/>
<sequenceFlow id="to-a" sourceRef="x" targetRef="a"><conditionExpression>${amount > 5}</conditionExpression></sequenceFlow>
<sequenceFlow id="to-b" sourceRef="x" targetRef="b"/>
<sequenceFlow id="x2" sourceRef="a" targetRef="j"/>
<sequenceFlow id="x3" sourceRef="b" targetRef="j"/>
<sequenceFlow id="x4" sourceRef="j" targetRef="e"><conditionExpression>${amount > 9}</conditionExpression></sequenceFlow>
</process>"#,
    );
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 8: <inclusiveGateway> `j` \"Stray\": flow `x4` has a condition; this inclusiveGateway has one way out, so it joins and always goes on (conditions belong on the flows out of the fork)",
            "line 8: <inclusiveGateway> `j` \"Stray\": this converging inclusiveGateway joins paths that no inclusiveGateway forked: a join waits for every path of the fork before it",
        ],
        "{lines:#?}"
    );
}

#[test]
fn nested_forks_an_end_inside_a_path_and_paths_that_never_meet_are_refused_with_their_lines() {
    let xml = file(
        r#"<process id="p" isExecutable="true">
<startEvent id="s" f:record="deal"/>
<inclusiveGateway id="f1" default="x3"/>
<userTask id="a" name="A"/>
<boundaryEvent id="late" attachedToRef="a"><timerEventDefinition><timeDuration>P2D</timeDuration></timerEventDefinition></boundaryEvent>
<endEvent id="gave-up" name="Gave up"/>
<parallelGateway id="f2" name="Inner"/>
<userTask id="b" name="B"/>
<userTask id="c" name="C"/>
<parallelGateway id="j2"/>
<inclusiveGateway id="j1"/>
<inclusiveGateway id="lone" name="Never met"/>
<userTask id="d" name="D"/>
<userTask id="g" name="G"/>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="x1" sourceRef="s" targetRef="f1"/>
<sequenceFlow id="x2" sourceRef="f1" targetRef="a"><conditionExpression>${amount > 5}</conditionExpression></sequenceFlow>
<sequenceFlow id="x3" sourceRef="f1" targetRef="f2"/>
<sequenceFlow id="x4" sourceRef="f2" targetRef="b"/>
<sequenceFlow id="x5" sourceRef="f2" targetRef="c"/>
<sequenceFlow id="x6" sourceRef="b" targetRef="j2"/>
<sequenceFlow id="x7" sourceRef="c" targetRef="j2"/>
<sequenceFlow id="x8" sourceRef="j2" targetRef="j1"/>
<sequenceFlow id="x9" sourceRef="a" targetRef="j1"/>
<sequenceFlow id="x10" sourceRef="late" targetRef="gave-up"/>
<sequenceFlow id="x11" sourceRef="j1" targetRef="lone"/>
<sequenceFlow id="x12" sourceRef="lone" targetRef="d"><conditionExpression>${amount > 5}</conditionExpression></sequenceFlow>
<sequenceFlow id="x13" sourceRef="lone" targetRef="g"><conditionExpression>${amount > 9}</conditionExpression></sequenceFlow>
<sequenceFlow id="x14" sourceRef="d" targetRef="e"/>
<sequenceFlow id="x15" sourceRef="g" targetRef="e2"/>
</process>"#,
    );
    let lines = refused(&xml);
    assert_eq!(
        lines,
        [
            "line 8: <endEvent> `gave-up` \"Gave up\": ends the process on a path of inclusive gateway `f1`: every path must reach its join `j1`",
            "line 9: <parallelGateway> `f2` \"Inner\": parallel gateways inside an inclusive path are not supported yet: this one is on a path of `f1`",
            "line 12: <parallelGateway> `j2`: parallel gateways inside an inclusive path are not supported yet: this one is on a path of `f1`",
            "line 14: <inclusiveGateway> `lone` \"Never met\": the paths of this inclusive gateway never meet at one converging inclusiveGateway",
        ],
        "{lines:#?}"
    );
}

#[test]
fn the_inclusive_fixture_cut_or_rewired_anywhere_gives_a_model_or_problems_never_a_panic() {
    let xml = fixture(FIXTURE);
    let end = xml.find("<bpmndi:").unwrap_or(xml.len());
    for (at, _) in xml[..end].char_indices().step_by(7) {
        if let Err(e) = import(&xml[..at]) {
            assert!(!e.0.is_empty(), "cut at {at}");
        }
    }
    // Each flow in turn pointed back at the fork, then at the join: loops,
    // paths that return, joins that lose or gain a way in.
    for target in ["Gateway_checks", "Gateway_0m6j1sd"] {
        let targets = xml.split("targetRef=\"").count() - 1;
        for k in 0..targets {
            let mut parts: Vec<String> = xml.split("targetRef=\"").map(str::to_owned).collect();
            let rest = parts[k + 1].split_once('"').map(|(_, r)| r.to_owned());
            parts[k + 1] = format!("{target}\"{}", rest.unwrap_or_default());
            if let Err(e) = import(&parts.join("targetRef=\"")) {
                assert!(!e.0.is_empty(), "flow {k} rewired to {target}");
            }
        }
    }
    // Without the default: a flow with neither, refused at its gateway.
    let e = import(&xml.replace(" default=\"Flow_terms\"", "")).expect_err("refused");
    assert!(
        e.to_string().contains(
            "line 8: <inclusiveGateway> `Gateway_checks` \"Which checks?\": flow `Flow_terms` out of an inclusive gateway has no conditionExpression and is not its default"
        ),
        "{e}"
    );
}
