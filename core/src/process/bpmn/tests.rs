//! Unit tests of the importer on small inline files.

use super::*;

mod calls;
mod inclusive;
mod inclusive_run;
mod parallel;
mod reminders;
mod subprocesses;
mod waits;

#[test]
fn multibyte_text_keeps_line_numbers_right_and_never_splits_a_character() {
    let xml = "<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/MODEL'>\n\
               <process id='p' name='Szőke ügyfél'>\n<!-- ő — € -->\n\
               <startEvent id='s' name='Kezdés — ő'/>\nőőő€\n<complexGateway id='g'/>\n\
               </process></definitions>";
    let e = import(xml).expect_err("unsupported");
    let gateway =
        e.0.iter()
            .find(|p| p.tag.as_deref() == Some("complexGateway"));
    assert_eq!(gateway.and_then(|p| p.line), Some(6), "{e}");
    // Cut inside the document at every character: a clear error or a
    // model, never a panic.
    for (at, _) in xml.char_indices() {
        let _ = import(&xml[..at]);
    }
    let broken =
        import("<definitions>\n€\n<process id='é'>\n<startEvent id='s' ü>").expect_err("malformed");
    assert!(broken.0[0].line.is_some(), "{broken}");
}

const HEAD: &str = "<?xml version=\"1.0\"?>\n<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:f=\"https://fieldwork.example/bpmn\">\n";

/// A BPMN file around `body` (the default namespace is BPMN, `f:` is
/// Fieldwork's).
fn file(body: &str) -> String {
    format!("{HEAD}{body}\n</definitions>\n")
}

/// A fixture of `tests/fixtures/`.
fn fixture(name: &str) -> String {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Step `id` of `m`.
fn step<'m>(m: &'m super::super::model::ModelFile, id: &str) -> &'m super::super::model::StepFile {
    m.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step `{id}` in {m:#?}"))
}

/// The problems of a refused import, one line each.
fn refused(xml: &str) -> Vec<String> {
    import(xml).expect_err("refused").lines()
}

#[test]
fn every_problem_of_a_file_is_reported_at_once_with_its_element() {
    let xml = file(
        "<process id=\"p\" isExecutable=\"true\">\n\
         <startEvent id=\"s\" f:record=\"deal\"/>\n\
         <complexGateway id=\"fork\" name=\"Both\"/>\n\
         <subProcess id=\"sub\" triggeredByEvent=\"true\"/>\n\
         <userTask id=\"t\" name=\"Call\"/>\n\
         <boundaryEvent id=\"remind\" attachedToRef=\"t\" cancelActivity=\"false\"><timerEventDefinition><timeCycle>R/P1D</timeCycle></timerEventDefinition></boundaryEvent>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"fork\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n\
         <sequenceFlow id=\"f3\" sourceRef=\"remind\" targetRef=\"e\"/>\n\
         <intermediateCatchEvent id=\"other\"><signalEventDefinition/></intermediateCatchEvent>\n\
         </process>",
    );
    let e = import(&xml).expect_err("refused");
    let lines: Vec<String> = e.lines();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(
        has("line 5: <complexGateway> `fork` \"Both\": complex gateways are not supported yet"),
        "{lines:#?}"
    );
    assert!(has("use an inclusive or parallel gateway"), "{lines:#?}");
    assert!(
        has("line 6: <subProcess> `sub`: event sub-processes"),
        "{lines:#?}"
    );
    assert!(
        has("line 8: <boundaryEvent> `remind`: timeCycle `R/P1D`: R/ repeats forever"),
        "{lines:#?}"
    );
    assert!(
        has("line 13: <intermediateCatchEvent> `other`: signal events are not supported"),
        "{lines:#?}"
    );
    assert!(
        !has("no step"),
        "a refused element's references add no noise: {lines:#?}"
    );
    assert!(!has("invalid record"), "{lines:#?}");
}

#[test]
fn a_start_without_a_trigger_is_a_manual_start_on_any_record() {
    let xml = file(
        "<process id=\"call-back\" name=\"Call back\">\n\
         <startEvent id=\"s\"/>\n\
         <task id=\"t\" name=\"Call back\"/>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n\
         </process>",
    );
    let m = import(&xml).expect("imports");
    assert_eq!(m.trigger.kind, super::super::model::TriggerKind::Manual);
    assert_eq!(m.trigger.record, None);
    assert_eq!(m.steps[0].assignee.as_deref(), Some("owner"));
    let watched = xml.replace(
        "<startEvent id=\"s\"/>",
        "<startEvent id=\"s\" f:trigger=\"record_created\"/>",
    );
    let e = import(&watched).expect_err("a watching trigger needs a record kind");
    assert!(e.to_string().contains("fieldwork:record"), "{e}");
}

#[test]
fn model_check_problems_are_named_by_element_and_line() {
    let xml = file(
        "<process id=\"p\">\n\
         <startEvent id=\"s\" f:record=\"deal\"/>\n\
         <userTask id=\"t\" name=\"Call {nmae}\"/>\n\
         <endEvent id=\"e\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"t\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"t\" targetRef=\"e\"/>\n\
         </process>",
    );
    let e = import(&xml).expect_err("bad placeholder");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].line, Some(5), "{e}");
    assert_eq!(e.0[0].element.as_deref(), Some("t"), "{e}");
    assert!(
        e.0[0].message.starts_with("subject: placeholder `{nmae}`"),
        "{e}"
    );
}

#[test]
fn several_executable_processes_are_refused_and_other_pools_ignored() {
    let one = |exec: &str| {
        format!(
            "<process id=\"{exec}\" isExecutable=\"true\"><startEvent id=\"s{exec}\"/></process>\n"
        )
    };
    let e = import(&file(&(one("a") + &one("b")))).expect_err("two");
    let executable: Vec<_> =
        e.0.iter()
            .filter(|p| p.message.contains("executable processes"))
            .collect();
    assert_eq!(executable.len(), 2, "{e}");
    assert_eq!(executable[1].element.as_deref(), Some("b"), "{e}");
    assert!(
        e.0.iter()
            .any(|p| p.element.as_deref() == Some("sa") && p.message.contains("no outgoing")),
        "the first one is read on: {e}"
    );
    let pools = file(
        "<collaboration id=\"c\"><participant id=\"x\" processRef=\"customer\"/><participant id=\"y\" processRef=\"p\"/></collaboration>\n\
         <process id=\"customer\" isExecutable=\"false\"><task id=\"ignored\"/></process>\n\
         <process id=\"p\" isExecutable=\"true\"><startEvent id=\"s\"/><endEvent id=\"e\"/>\
         <sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/></process>",
    );
    assert_eq!(import(&pools).expect("the executable one").key, "p");
}

#[test]
fn big_processes_are_bounded_and_a_long_valid_chain_imports_quickly() {
    let chain = |n: usize| {
        let mut body =
            String::from("<process id=\"p\">\n<startEvent id=\"s\" f:record=\"account\"/>\n");
        let mut prev = "s".to_owned();
        for i in 0..n {
            body.push_str(&format!(
                "<userTask id=\"t{i}\" name=\"Step {i}\"/>\n<sequenceFlow id=\"f{i}\" sourceRef=\"{prev}\" targetRef=\"t{i}\"/>\n"
            ));
            prev = format!("t{i}");
        }
        body.push_str(&format!(
            "<endEvent id=\"e\"/>\n<sequenceFlow id=\"fe\" sourceRef=\"{prev}\" targetRef=\"e\"/>\n</process>"
        ));
        file(&body)
    };
    let started = std::time::Instant::now();
    let m = import(&chain(900)).expect("900 tasks import");
    assert_eq!(m.steps.len(), 901);
    let e = import(&chain(3_000)).expect_err("too many elements");
    assert!(e.to_string().contains("a process has at most 5000"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_user_task_asks_for_an_outcome_a_gateway_reads_and_the_process_declares_parameters() {
    let xml = file(
        "<process id=\"p\" isExecutable=\"true\" f:parameters=\"follow_up:duration, caller:user\">\n\
         <startEvent id=\"s\" f:record=\"account\"/>\n\
         <userTask id=\"call\" name=\"Call\" f:assignee=\"param:caller\" f:outcome=\"choice:yes,no\" f:dueParam=\"follow_up\" f:due=\"P1D\"/>\n\
         <exclusiveGateway id=\"g\" default=\"f_no\"/>\n\
         <endEvent id=\"e\"/>\n\
         <endEvent id=\"e2\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"call\"/>\n\
         <sequenceFlow id=\"f2\" sourceRef=\"call\" targetRef=\"g\"/>\n\
         <sequenceFlow id=\"f_yes\" sourceRef=\"g\" targetRef=\"e\"><conditionExpression>${outcome.call == \"yes\"}</conditionExpression></sequenceFlow>\n\
         <sequenceFlow id=\"f_no\" sourceRef=\"g\" targetRef=\"e2\"/>\n\
         </process>",
    );
    let file = import(&xml).expect("imports");
    assert_eq!(
        file.parameters.get("follow_up").map(String::as_str),
        Some("duration")
    );
    let call = file.steps.iter().find(|s| s.id == "call").expect("call");
    assert_eq!(call.outcome.as_deref(), Some("choice:yes,no"));
    assert_eq!(call.due_param.as_deref(), Some("follow_up"));
    let model = crate::process::model::Model::check(file, 1).expect("checks");
    assert!(crate::process::variables::form_of(&model, "call").is_some());
    let undeclared = xml.replace("outcome.call", "outcome.g");
    let e = import(&undeclared).expect_err("undeclared");
    let gateway = e.0.iter().find(|p| p.element.as_deref() == Some("g"));
    assert!(
        gateway.is_some_and(|p| p.message.contains("`outcome.g` is not declared")),
        "{e}"
    );
}

#[test]
fn a_zeebe_feel_condition_is_read_as_fieldworks() {
    let xml = file(
        "<process id=\"p\" isExecutable=\"true\">\n\
         <startEvent id=\"s\" f:record=\"deal\"/>\n\
         <exclusiveGateway id=\"g\" default=\"f_other\"/>\n\
         <endEvent id=\"e\"/>\n\
         <endEvent id=\"e2\"/>\n\
         <sequenceFlow id=\"f1\" sourceRef=\"s\" targetRef=\"g\"/>\n\
         <sequenceFlow id=\"f_big\" sourceRef=\"g\" targetRef=\"e\"><conditionExpression>=stage = \"won\" and amount &gt;= 100000 or not(currency != \"EUR\")</conditionExpression></sequenceFlow>\n\
         <sequenceFlow id=\"f_other\" sourceRef=\"g\" targetRef=\"e2\"/>\n\
         </process>",
    );
    let file = import(&xml).expect("imports");
    let g = file.steps.iter().find(|s| s.id == "g").expect("gateway");
    assert_eq!(
        g.branches[0].condition,
        "stage == \"won\" && amount >= 100000 || !(currency != \"EUR\")"
    );
    crate::process::model::Model::check(file, 1).expect("checks");
}
