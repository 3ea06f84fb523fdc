//! Every modeler file in `tests/fixtures/` that imports runs one path to
//! its end, on a device and on the server: the instance is started on a
//! record of its kind, and a driver plays the people (completes each task
//! with an outcome that fits its form, sends each message the current step
//! waits for) and moves the clocks a day at a time for timers, timeouts
//! and reminders, until both the device's card and the server's say
//! `completed` with the same path.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::process::instance::step_label;
use fieldwork_core::process::model::{Action, Model};
use fieldwork_core::process::runner::Control;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{at, device, repo, world};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;

/// The fixtures that import (the others are refusal tests).
const RUNNABLE: &[&str] = &[
    "bpmn-io-deal-won-follow-up.bpmn",
    "bpmn-io-default-namespace-new-deal.bpmn",
    "bpmn-io-fw-prefix-won-deal-review.bpmn",
    "bpmn-io-manual-start-site-visit.bpmn",
    "bpmn-io-offer-reply-or-timeout.bpmn",
    "bpmn-io-parallel-visit-prep.bpmn",
    "camunda8-zeebe-call-activity-credit-check.bpmn",
    "camunda-modeler-call-activity-onboarding.bpmn",
    "camunda-lead-qualification.bpmn",
    "camunda-modeler-assignments.bpmn",
    "camunda-modeler-bpmn2-new-contact.bpmn",
    "camunda-modeler-call-back-manual.bpmn",
    "camunda-modeler-collaboration-lanes.bpmn",
    "camunda-modeler-deal-prepare-offer-subprocess.bpmn",
    "camunda-modeler-offer-reminders.bpmn",
    "camunda-modeler-inclusive-offer-checks.bpmn",
    "camunda-modeler-parallel-offer-and-credit-check.bpmn",
    "camunda-modeler-zeebe-contract-receive-send.bpmn",
    "camunda8-zeebe-onboarding-call.bpmn",
];

/// Fixtures whose call activities run another fixture's model, published
/// first.
const CALLS: &[(&str, &str)] = &[(
    "camunda-modeler-call-activity-onboarding.bpmn",
    "camunda8-zeebe-call-activity-credit-check.bpmn",
)];

/// A record `model` can run on, created by `d`.
fn record_for(d: &TestDevice, model: &Model) -> RecordId {
    let account = |d: &TestDevice| {
        d.create(
            RecordKind::Account,
            &[("name", "Nube SL"), ("territory", "madrid")],
        )
    };
    match model.trigger.record.unwrap_or(RecordKind::Account) {
        RecordKind::Deal => {
            let a = account(d).to_string();
            d.create(RecordKind::Deal, &[("name", "Fleet"), ("account", &a)])
        }
        RecordKind::Contact => {
            let a = account(d).to_string();
            d.create(
                RecordKind::Contact,
                &[("last_name", "Pérez"), ("account", &a)],
            )
        }
        RecordKind::Activity => d.create(
            RecordKind::Activity,
            &[
                ("type", "call"),
                ("subject", "Hello"),
                ("status", "planned"),
            ],
        ),
        _ => account(d),
    }
}

/// An outcome that fits `form` (as written in the model).
fn outcome_for(form: &str) -> String {
    match form.split_once(':') {
        Some(("choice", options)) => options.split(',').next().unwrap_or_default().to_owned(),
        _ if form == "number" => "1".into(),
        _ if form == "date" => "2027-01-01".into(),
        _ => "done".into(),
    }
}

/// Plays the people until the instance is completed on `d` (and, first,
/// each instance it calls), the clocks moving a day at a time from `day`:
/// its path.
fn drive(
    d: &TestDevice,
    clocks: &[&fieldwork_core::clock::ManualClock],
    models: &[Model],
    instance: &RecordId,
    day: &mut jiff::Timestamp,
) -> Vec<String> {
    for _ in 0..60 {
        d.sync();
        let card = d.store(|s| s.process_card(instance));
        if card.status == Status::Completed {
            return card.history.iter().map(|v| v.step.clone()).collect();
        }
        let model = models
            .iter()
            .find(|m| m.file.key == card.model_key)
            .expect("the instance's model");
        let called = card
            .history
            .iter()
            .filter(|v| v.left_at.is_none())
            .find_map(|v| v.called.as_deref()?.parse::<RecordId>().ok());
        // The task it waits on: the current step's, or at a parallel step
        // the first open path's.
        let open_task = card
            .history
            .iter()
            .filter(|v| v.left_at.is_none())
            .filter(|v| {
                matches!(
                    model.step(&v.step).map(|s| &s.action),
                    Some(Action::Task { .. })
                )
            })
            .map(|v| {
                (
                    v,
                    activity_id(instance, &step_label(v.path.as_deref(), &v.step), v.pos),
                )
            })
            .find(|(_, task)| {
                d.try_get(task)
                    .and_then(|t| t.text("status").map(str::to_owned))
                    == Some("planned".into())
            });
        if let Some((current, task)) = open_task {
            let form = model
                .file
                .steps
                .iter()
                .find(|s| s.id == current.step)
                .and_then(|s| s.outcome.clone());
            let outcome = form.as_deref().map(outcome_for);
            d.store(|s| s.complete_task_with(&task, outcome.as_deref()));
        } else if let Some(child) = called {
            drive(d, clocks, models, &child, day);
            d.store(|s| s.run_processes());
        } else if let Some(m) = card.awaits.first() {
            d.store(|s| s.control_process(instance, Control::Message(m.clone())));
        } else {
            *day = day
                .checked_add(jiff::SignedDuration::from_hours(24))
                .expect("a day later");
            for c in clocks {
                c.set(*day);
            }
            std::thread::sleep(std::time::Duration::from_millis(120)); // a server tick
            d.store(|s| s.run_processes());
        }
    }
    panic!(
        "{instance}: not completed after 60 rounds: {:?}",
        d.store(|s| s.process_card(instance))
    );
}

#[test]
fn every_modelers_file_runs_a_path_to_its_end_on_a_device_and_the_server() {
    let rt = runtime();
    for name in RUNNABLE {
        let t0 = "2027-01-04T09:00:00Z";
        let w = world(t0);
        let file = process_admin::read_model(&repo(&format!("tests/fixtures/{name}")))
            .unwrap_or_else(|e| panic!("{name} imports: {e}"));
        let mut models = Vec::new();
        for (_, called) in CALLS.iter().filter(|(caller, _)| caller == name) {
            let file = process_admin::read_model(&repo(&format!("tests/fixtures/{called}")))
                .unwrap_or_else(|e| panic!("{called} imports: {e}"));
            models.push(Model::check(file.clone(), 1).expect("checked"));
            process_admin::publish(&w.server.state, file, "admin")
                .unwrap_or_else(|e| panic!("{called} publishes: {e}"));
        }
        let model = Model::check(file.clone(), 1).expect("checked");
        models.push(model.clone());
        process_admin::publish(&w.server.state, file, "admin")
            .unwrap_or_else(|e| panic!("{name} publishes: {e}"));
        let (ana, ana_clock, _dir) = device(&rt, &w, "ana", t0);
        ana.sync();
        let record = record_for(&ana, &model);
        let started = ana.store(|s| s.process_instances());
        let instance: RecordId = match started.first() {
            Some(p) => p.id.parse().expect("id"),
            None => ana.store(|s| s.start_process(&model.file.key, &record)),
        };
        let mut day = at(t0);
        let clocks = [&ana_clock, &w.server_clock];
        let path = drive(&ana, &clocks, &models, &instance, &mut day);
        let api = ApiClient::signed_in(&rt, &w.server.url, "mia");
        let card = api.get(&format!("/v1/processes/instances/{instance}"));
        assert_eq!(card.json["status"], "completed", "{name}: {}", card.text);
        let on_server: Vec<&str> = card.json["steps"]
            .as_array()
            .map(|s| s.iter().filter_map(|v| v["step"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            on_server, path,
            "{name}: one history on the device and the server"
        );
    }
}
