//! BPMN files as modelers export them (Camunda Modeler 5 for Camunda 7 and
//! 8, bpmn.io), kept in `tests/fixtures/`: each supported file imports and
//! one path of it runs to its end on a device store (a file whose only path
//! waits for messages is checked step by step instead: nothing sends one
//! here); sub-processes, event-based gateways, reminders, receive and send
//! tasks import as the steps they stand for; a file with several
//! unsupported elements is refused with every problem and its line.

use std::path::Path;
use std::sync::Arc;

use fieldwork_core::clock::ManualClock;
use fieldwork_core::process::Status;
use fieldwork_core::process::bpmn;
use fieldwork_core::process::model::{
    Model, ModelFile, ReminderFile, StepFile, StepKind, TriggerKind, WaitFile,
};
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::{FieldWrite, RecordId, RecordKind, Store};

fn repo(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).expect("read file")
}

fn import(path: &str) -> ModelFile {
    bpmn::import(&repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn step<'m>(m: &'m ModelFile, id: &str) -> &'m StepFile {
    m.steps
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id} in {m:?}"))
}

/// Every supported fixture, and how one path of it starts.
const SUPPORTED: &[(&str, Start)] = &[
    (
        "tests/fixtures/camunda-modeler-call-back-manual.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/bpmn-io-default-namespace-new-deal.bpmn",
        Start::NewDeal,
    ),
    (
        "tests/fixtures/camunda-modeler-bpmn2-new-contact.bpmn",
        Start::NewContact,
    ),
    (
        "tests/fixtures/bpmn-io-fw-prefix-won-deal-review.bpmn",
        Start::WonDeal,
    ),
    (
        "tests/fixtures/camunda-modeler-assignments.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda-modeler-collaboration-lanes.bpmn",
        Start::NewAccount,
    ),
    (
        "tests/fixtures/bpmn-io-manual-start-site-visit.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda8-zeebe-onboarding-call.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda-lead-qualification.bpmn",
        Start::NewAccount,
    ),
    (
        "tests/fixtures/bpmn-io-deal-won-follow-up.bpmn",
        Start::WonDeal,
    ),
    (
        "tests/fixtures/camunda-modeler-deal-prepare-offer-subprocess.bpmn",
        Start::NewDeal,
    ),
    (
        "tests/fixtures/bpmn-io-offer-reply-or-timeout.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda-modeler-offer-reminders.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda-modeler-parallel-offer-and-credit-check.bpmn",
        Start::NewDeal,
    ),
    (
        "tests/fixtures/bpmn-io-parallel-visit-prep.bpmn",
        Start::ByHand,
    ),
    (
        "tests/fixtures/camunda-modeler-inclusive-offer-checks.bpmn",
        Start::NewDeal,
    ),
];

/// How a path of a fixture's model is started on the device.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// `process start` on an account.
    ByHand,
    /// Creating an account.
    NewAccount,
    /// Creating a deal.
    NewDeal,
    /// Creating a contact.
    NewContact,
    /// A deal set to won.
    WonDeal,
}

fn store(dir: &Path) -> (Store, ManualClock) {
    let clock = ManualClock::new("2027-01-04T09:00:00Z".parse().expect("instant"));
    let mut s = Store::open(&dir.join("device.db"), Arc::new(clock.clone())).expect("open");
    let person = |name: &str, role: &str, manager: Option<&str>| DirectoryEntry {
        name: name.into(),
        role: role.into(),
        manager: manager.map(str::to_owned),
        time_zone: Some("Europe/Madrid".into()),
    };
    s.set_directory(&[
        person("local", "rep", Some("mia")),
        person("ana", "rep", Some("mia")),
        person("mia", "manager", None),
    ])
    .expect("directory");
    (s, clock)
}

fn account(s: &mut Store) -> RecordId {
    s.create(
        RecordKind::Account,
        vec![FieldWrite::set("name", "Szőke Kft")],
    )
    .expect("account")
}

/// Starts `model` the way `how` says; returns its instance.
fn start(s: &mut Store, model: &ModelFile, how: Start) -> RecordId {
    let record = match how {
        Start::ByHand => {
            let acc = account(s);
            return s.start_process(&model.key, &acc).expect("started by hand");
        }
        Start::NewAccount => account(s),
        Start::NewContact => {
            let acc = account(s);
            s.create(
                RecordKind::Contact,
                vec![
                    FieldWrite::set("first_name", "José"),
                    FieldWrite::set("last_name", "Pérez"),
                    FieldWrite::set("account", acc.to_string()),
                ],
            )
            .expect("contact")
        }
        Start::NewDeal | Start::WonDeal => {
            let acc = account(s);
            let deal = s
                .create(
                    RecordKind::Deal,
                    vec![
                        FieldWrite::set("name", "Fleet renewal"),
                        FieldWrite::set("account", acc.to_string()),
                    ],
                )
                .expect("deal");
            if matches!(how, Start::WonDeal) {
                s.update(&deal, vec![FieldWrite::set("stage", "won")])
                    .expect("won");
            }
            deal
        }
    };
    let list = s.process_instances().expect("instances");
    let mine: Vec<_> = list
        .iter()
        .filter(|i| i.model_key == model.key && i.record == record.to_string())
        .collect();
    assert_eq!(mine.len(), 1, "{} starts once: {list:?}", model.key);
    mine[0].id.parse().expect("id")
}

/// Runs instance `id` to its end: completes the task it waits on, or lets
/// the clock pass its next wake-up. Returns the steps it went through.
fn run_to_end(s: &mut Store, clock: &ManualClock, id: &RecordId) -> Vec<String> {
    for _ in 0..20 {
        let card = s.process_card(id).expect("card");
        if card.status == Status::Completed {
            return card.history.iter().map(|v| v.step.clone()).collect();
        }
        assert_eq!(card.status, Status::Running, "{card:?}");
        // The task it waits on: the current step's, or at a parallel step
        // the first open path's.
        let open_task = card
            .history
            .iter()
            .filter(|v| v.left_at.is_none())
            .find_map(|v| {
                v.activity
                    .as_ref()
                    .filter(|(_, status)| status == "planned")
            });
        if let Some((task, _)) = open_task {
            s.complete_task(&task.parse().expect("task id"))
                .expect("task completed");
            continue;
        }
        let wake = card
            .wake_at
            .unwrap_or_else(|| panic!("neither a task nor a timer: {card:?}"));
        clock.set(
            wake.checked_add(jiff::SignedDuration::from_secs(60))
                .expect("t"),
        );
        s.run_processes().expect("run");
    }
    panic!("{id} did not finish in 20 moves");
}

#[test]
fn every_supported_fixture_imports_and_runs_one_path_to_its_end_on_a_device() {
    for (path, how) in SUPPORTED {
        let file = import(path);
        let dir = tempfile::tempdir().expect("tmp");
        let (mut s, clock) = store(dir.path());
        s.publish_model(file.clone())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let id = start(&mut s, &file, *how);
        let path_taken = run_to_end(&mut s, &clock, &id);
        assert!(path_taken.len() >= 2, "{path}: {path_taken:?}");
        let last = path_taken.last().expect("a step");
        assert_eq!(
            step(&file, last).kind,
            StepKind::End,
            "{path}: {path_taken:?}"
        );
    }
}

#[test]
fn a_start_without_a_trigger_is_a_manual_start_on_any_record_kind_it_fits() {
    let m = import("tests/fixtures/camunda-modeler-call-back-manual.bpmn");
    assert_eq!(
        (m.trigger.kind, m.trigger.record),
        (TriggerKind::Manual, None)
    );
    let task = step(&m, "call-back-task");
    assert_eq!(
        task.assignee.as_deref(),
        Some("owner"),
        "camunda:assignee ${{owner}}"
    );
    assert_eq!(task.due.as_deref(), Some("P2D"), "plusDays(2)");
    let dir = tempfile::tempdir().expect("tmp");
    let (mut s, _clock) = store(dir.path());
    s.publish_model(m.clone()).expect("publish");
    let acc = account(&mut s);
    let deal = s
        .create(
            RecordKind::Deal,
            vec![
                FieldWrite::set("name", "Fleet"),
                FieldWrite::set("account", acc.to_string()),
            ],
        )
        .expect("deal");
    s.start_process(&m.key, &deal)
        .expect("a deal has a name too");
    let contact = s
        .create(
            RecordKind::Contact,
            vec![
                FieldWrite::set("last_name", "Pérez"),
                FieldWrite::set("account", acc.to_string()),
            ],
        )
        .expect("contact");
    let refused = s
        .start_process(&m.key, &contact)
        .expect_err("a contact has no `name` for the subject");
    let text = refused.to_string();
    assert!(
        text.contains("{name}") && !text.starts_with("invalid record"),
        "{text}"
    );
}

#[test]
fn camunda_and_zeebe_assignments_are_read_as_fieldworks() {
    let m = import("tests/fixtures/camunda-modeler-assignments.bpmn");
    assert_eq!(
        m.trigger.record,
        Some(RecordKind::Account),
        "fieldwork:record on the process"
    );
    assert_eq!(step(&m, "prepare").assignee.as_deref(), Some("owner"));
    assert_eq!(step(&m, "prepare").due.as_deref(), Some("P1D"));
    assert_eq!(
        step(&m, "approve").assignee.as_deref(),
        Some("role:manager")
    );
    assert_eq!(step(&m, "approve").due.as_deref(), Some("P3D"));
    assert_eq!(
        step(&m, "file-notes").assignee.as_deref(),
        Some("user:ana"),
        "an assignee wins over candidate groups"
    );
    let z = import("tests/fixtures/camunda8-zeebe-onboarding-call.bpmn");
    assert_eq!(step(&z, "prepare-call").assignee.as_deref(), Some("owner"));
    assert_eq!(step(&z, "prepare-call").due.as_deref(), Some("P3D"));
    assert_eq!(
        step(&z, "approve-discount").assignee.as_deref(),
        Some("role:manager")
    );
    let call = step(&z, "onboarding-call");
    assert_eq!(
        (
            call.activity.as_deref(),
            call.offset.as_deref(),
            call.duration_minutes
        ),
        (Some("call"), Some("PT1H"), Some(30)),
        "fieldwork's namespace bound to `crm:`"
    );
}

#[test]
fn the_same_process_under_any_prefix_is_the_same_model() {
    let original = repo("tests/fixtures/bpmn-io-deal-won-follow-up.bpmn");
    let want = bpmn::import(&original).expect("import");
    let renamed = original
        .replace("bpmn:", "b2:")
        .replace("xmlns:bpmn=", "xmlns:b2=")
        .replace("fieldwork:", "fw:")
        .replace("xmlns:fieldwork=", "xmlns:fw=");
    assert!(!renamed.contains("bpmn:") && !renamed.contains("fieldwork:"));
    assert_eq!(bpmn::import(&renamed).expect("renamed prefixes"), want);
    let default_ns = original
        .replace("<bpmn:", "<")
        .replace("</bpmn:", "</")
        .replace("xmlns:bpmn=", "xmlns=")
        .replace("\"bpmn:tFormalExpression\"", "\"tFormalExpression\"");
    assert_eq!(bpmn::import(&default_ns).expect("default namespace"), want);
    let wrong_ns = original.replace("https://fieldwork.example/bpmn", "urn:someone-else");
    assert!(
        bpmn::import(&wrong_ns).is_err(),
        "`fieldwork:` bound to another namespace is not ours"
    );
}

#[test]
fn data_annotations_groups_lanes_and_other_pools_are_ignored() {
    let m = import("tests/fixtures/camunda-modeler-collaboration-lanes.bpmn");
    assert_eq!(m.key, "account-onboarding", "the executable pool");
    let ids: Vec<&str> = m.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["send-pack", "first-visit", "Event_onboarded"]);
    let site = import("tests/fixtures/bpmn-io-manual-start-site-visit.bpmn");
    assert_eq!(step(&site, "visit").kind, StepKind::Task);
    assert_eq!(step(&site, "report").kind, StepKind::Task);
}

#[test]
fn a_file_with_several_unsupported_elements_lists_every_problem_with_its_line() {
    let e = bpmn::import(&repo(
        "tests/fixtures/camunda-modeler-unsupported-elements.bpmn",
    ))
    .expect_err("refused");
    let text = e.to_string();
    for (line, what) in [
        (
            7,
            "`offer` \"Send an offer\": one of 2 executable processes",
        ),
        (
            16,
            "`write-offer` \"Write the offer\": camunda:assignee: `${execution.getVariable('writer')}` is an expression",
        ),
        (
            20,
            "<boundaryEvent> `remind` \"Remind every day\": timeCycle `R/P1D`: R/ repeats forever",
        ),
        (
            26,
            "<subProcess> `check-stock` \"Check the stock\": multi-instance and looping sub-processes are not supported",
        ),
        (
            39,
            "<intermediateCatchEvent> `stock` \"Stock arrived\": signal events are not supported",
        ),
        (
            41,
            "<callActivity> `bill` \"Bill the customer\": calledElement `${billingKey}` is an expression Fieldwork cannot evaluate; name the process key",
        ),
        (
            45,
            "`Activity_reminder` \"Reminder\": a serviceTask needs fieldwork:action",
        ),
        (62, "`billing` \"Billing\": one of 2 executable processes"),
    ] {
        let want = format!("line {line}: ");
        assert!(
            e.0.iter().any(|p| p.line == Some(line)
                && p.to_string().starts_with(&want)
                && p.to_string().contains(what)),
            "missing line {line}: {what}\n{text}"
        );
    }
    assert_eq!(e.0.len(), 9, "nothing more, nothing less: {text}");
    assert!(
        text.starts_with("the BPMN file cannot be imported ("),
        "{text}"
    );
    assert!(!text.contains("invalid record"), "{text}");
}

#[test]
fn a_missing_close_tag_is_an_xml_error_not_an_unsupported_element() {
    let good = repo("tests/fixtures/bpmn-io-manual-start-site-visit.bpmn");
    let broken = good.replacen("    </bpmn:endEvent>\n", "", 1);
    assert_ne!(good, broken);
    let e = bpmn::import(&broken).expect_err("not well-formed");
    assert_eq!(e.0.len(), 1, "{e}");
    let p = &e.0[0];
    assert!(
        p.message
            .starts_with("the XML is not well-formed: expected `</bpmn:endEvent>`"),
        "{e}"
    );
    assert_eq!(
        p.line,
        Some(21),
        "where </bpmn:process> closes too early: {e}"
    );
    assert!(!e.to_string().contains("unsupported"), "{e}");
    let bad_attr = good.replacen("id=\"visit\"", "id=visit", 1);
    let e = bpmn::import(&bad_attr).expect_err("bad attribute");
    assert!(e.0[0].message.contains("not well-formed"), "{e}");
    assert_eq!(e.0[0].line, Some(7), "{e}");
}

#[test]
fn models_accepted_offline_are_still_checked_for_placeholders_and_fields() {
    let m = Model::from_toml(
        r#"
key = "k"
name = "n"
trigger = { kind = "field_change", record = "deal", condition = 'stage == "won"' }
[[steps]]
id = "t"
kind = "task"
assignee = "owner"
subject = "Call {acount.name}"
topic = "About {colour}"
next = "g"
[[steps]]
id = "g"
kind = "gateway"
branches = [{ condition = "size > 3", next = "e" }]
default = "e"
[[steps]]
id = "e"
kind = "end"
"#,
    )
    .expect_err("refused");
    let has = |s: &str| m.0.iter().any(|e| e.contains(s));
    assert!(has("steps.t.subject: placeholder `{acount.name}`"), "{m:?}");
    assert!(has("steps.t.topic: placeholder `{colour}`"), "{m:?}");
    assert!(
        has("steps.g.branches[0]: deal has no field `size`"),
        "{m:?}"
    );
}

/// The steps of `m`, by id, in file order.
fn ids(m: &ModelFile) -> Vec<&str> {
    m.steps.iter().map(|s| s.id.as_str()).collect()
}

/// Imports `path` and checks the model as publishing does.
fn checked(path: &str) -> (ModelFile, Model) {
    let file = import(path);
    let model = Model::check(file.clone(), 1).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    (file, model)
}

#[test]
fn a_sub_process_and_the_one_nested_in_it_are_flattened_into_the_deal_process() {
    let (m, _) = checked("tests/fixtures/camunda-modeler-deal-prepare-offer-subprocess.bpmn");
    assert_eq!(
        (m.trigger.kind, m.trigger.record),
        (TriggerKind::RecordCreated, Some(RecordKind::Deal))
    );
    assert_eq!(
        ids(&m),
        [
            "qualify",
            "price-offer",
            "approve",
            "send-offer",
            "Event_0r8l5c2"
        ],
        "sub-processes, their start and end events are no steps"
    );
    assert_eq!(m.start.as_deref(), Some("qualify"));
    for (from, to) in [
        ("qualify", "price-offer"),
        ("price-offer", "approve"),
        ("approve", "send-offer"),
        ("send-offer", "Event_0r8l5c2"),
    ] {
        assert_eq!(step(&m, from).next.as_deref(), Some(to), "{from}");
    }
    assert_eq!(
        step(&m, "approve").assignee.as_deref(),
        Some("owner_manager")
    );
    assert_eq!(step(&m, "price-offer").due.as_deref(), Some("P1D"));
    assert_eq!(step(&m, "send-offer").activity.as_deref(), Some("email"));
}

#[test]
fn an_event_based_gateway_races_the_reply_against_a_three_day_timeout() {
    let (m, model) = checked("tests/fixtures/bpmn-io-offer-reply-or-timeout.bpmn");
    assert_eq!(
        ids(&m),
        [
            "email-offer",
            "reply-or-timeout",
            "read-reply",
            "chase-call",
            "Event_0replied",
            "Event_1chased"
        ],
        "the catch events are read into the gateway's step"
    );
    let email = step(&m, "email-offer");
    assert_eq!(
        (email.kind, email.activity.as_deref(), email.next.as_deref()),
        (StepKind::Activity, Some("email"), Some("reply-or-timeout")),
        "a send task emails"
    );
    let race = step(&m, "reply-or-timeout");
    assert_eq!(race.kind, StepKind::Wait);
    assert_eq!(race.next, None);
    assert_eq!(
        race.events,
        [
            WaitFile {
                message: Some("reply-received".into()),
                condition: None,
                after: None,
                next: "read-reply".into(),
            },
            WaitFile {
                message: None,
                condition: None,
                after: Some("P3D".into()),
                next: "chase-call".into(),
            },
        ]
    );
    assert_eq!(
        fieldwork_core::process::model::messages(&model)
            .into_iter()
            .collect::<Vec<_>>(),
        ["reply-received"]
    );
}

#[test]
fn a_non_interrupting_cycle_gives_the_task_three_daily_reminders() {
    let (m, _) = checked("tests/fixtures/camunda-modeler-offer-reminders.bpmn");
    assert_eq!(
        ids(&m),
        ["follow-up", "Event_0done"],
        "the reminder's path is no step"
    );
    let task = step(&m, "follow-up");
    assert_eq!(task.kind, StepKind::Task);
    assert_eq!(task.next.as_deref(), Some("Event_0done"));
    assert_eq!(task.deadline, None);
    assert_eq!(
        task.reminders,
        [
            ReminderFile {
                after: "P1D".into(),
                repeat: Some(3),
                activity: "email".into(),
                assignee: None,
                subject: Some("Reminder: the offer to {name} is still open".into()),
                topic: None,
            },
            ReminderFile {
                after: "P1D".into(),
                repeat: Some(3),
                activity: "call".into(),
                assignee: Some("owner_manager".into()),
                subject: Some("Call {name} about the offer".into()),
                topic: Some("Is anything missing from the offer?".into()),
            },
        ]
    );
}

#[test]
fn receive_tasks_wait_for_named_messages_and_send_tasks_email() {
    let (m, model) = checked("tests/fixtures/camunda-modeler-zeebe-contract-receive-send.bpmn");
    assert_eq!(
        ids(&m),
        [
            "send-contract",
            "contract-signed",
            "first-payment",
            "welcome",
            "Event_0signed"
        ]
    );
    let send = step(&m, "send-contract");
    assert_eq!(
        (
            send.kind,
            send.activity.as_deref(),
            send.subject.as_deref(),
            send.offset.as_deref()
        ),
        (
            StepKind::Activity,
            Some("email"),
            Some("Contract for {name}"),
            Some("PT1H")
        )
    );
    let wait = |id: &str, message: &str, next: &str| {
        let s = step(&m, id);
        assert_eq!((s.kind, &s.next), (StepKind::Wait, &None), "{id}");
        assert_eq!(
            s.events,
            [WaitFile {
                message: Some(message.into()),
                condition: None,
                after: None,
                next: next.into(),
            }],
            "{id}"
        );
    };
    wait("contract-signed", "contract-signed", "first-payment");
    // "First payment received" is no valid name: the message's id is.
    wait("first-payment", "Message_0pay9x1", "welcome");
    assert_eq!(
        step(&m, "welcome").assignee.as_deref(),
        Some("owner_manager")
    );
    assert_eq!(
        fieldwork_core::process::model::messages(&model).len(),
        2,
        "an instance accepts both"
    );
}

#[test]
fn the_new_elements_cut_or_rewired_anywhere_give_a_model_or_problems_never_a_panic() {
    for path in [
        "tests/fixtures/camunda-modeler-deal-prepare-offer-subprocess.bpmn",
        "tests/fixtures/bpmn-io-offer-reply-or-timeout.bpmn",
        "tests/fixtures/camunda-modeler-offer-reminders.bpmn",
        "tests/fixtures/camunda-modeler-zeebe-contract-receive-send.bpmn",
    ] {
        let xml = repo(path);
        // The semantic part, cut at every 5th character.
        let end = xml.find("<bpmndi:").unwrap_or(xml.len());
        for (at, _) in xml[..end].char_indices().step_by(5) {
            if let Err(e) = bpmn::import(&xml[..at]) {
                assert!(!e.0.is_empty(), "{path} cut at {at}");
            }
        }
        // Every flow pointed back at the first element it leaves from: loops,
        // paths rejoining, catch events reached twice.
        let first_source = xml
            .split("sourceRef=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a flow");
        let rewired = xml.replace(
            "targetRef=\"Event_",
            &format!("targetRef=\"{first_source}\" x=\""),
        );
        match bpmn::import(&rewired) {
            Ok(m) => assert!(Model::check(m, 1).is_ok(), "{path}"),
            Err(e) => assert!(e.0.iter().all(|p| !p.message.is_empty()), "{path}: {e}"),
        }
    }
}
