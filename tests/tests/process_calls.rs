//! Call activities, end to end: a new account's onboarding runs the
//! credit-check model on the same account and waits for it. The rep's
//! phone starts the called instance (it runs as her); the manager completes
//! its task on his phone, offline; the onboarding goes on once, on every
//! replica, when the check has completed.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::{activity_id, called_id};
use fieldwork_core::process::model::Model;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::{World, at, device, server_changes, world};
use fieldwork_tests::runtime;

const CHECK: &str = r#"
key = "credit-check"
name = "Check the credit"
trigger = { kind = "manual", record = "account" }

[[steps]]
id = "check"
kind = "task"
assignee = "owner_manager"
subject = "Check the credit of {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

const ONBOARD: &str = r#"
key = "onboard"
name = "Onboard a new account"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "credit"
kind = "call"
process = "credit-check"
next = "open"

[[steps]]
id = "open"
kind = "task"
assignee = "owner"
subject = "Open the account of {name}"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn publish(w: &World, toml: &str) -> i64 {
    let model = Model::from_toml(toml).expect("model").file;
    process_admin::publish(&w.server.state, model, "admin")
        .expect("publish")
        .1
}

#[test]
fn the_onboarding_waits_for_the_credit_check_it_called_and_goes_on_once() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    // Without a published credit check, the onboarding is refused.
    let refused = process_admin::publish(
        &w.server.state,
        Model::from_toml(ONBOARD).expect("model").file,
        "admin",
    )
    .expect_err("nothing to call");
    assert!(
        refused
            .to_string()
            .contains("no published model `credit-check`"),
        "{refused}"
    );
    publish(&w, CHECK);
    publish(&w, CHECK); // version 2: the onboarding pins it
    publish(&w, ONBOARD);
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    mia.sync();
    ana.create(
        RecordKind::Account,
        &[("name", "Ærøskøbing A/S"), ("territory", "madrid")],
    );
    let onboarding: RecordId = ana
        .store(|s| s.process_instances())
        .iter()
        .find(|i| i.model_key == "onboard")
        .expect("onboarding")
        .id
        .parse()
        .expect("id");
    let check = called_id(&onboarding, "credit", 0);
    let card = ana.store(|s| s.process_card(&check));
    assert_eq!(card.model_key, "credit-check");
    assert_eq!(card.version, 2, "the version pinned when publishing");
    let caller = ana.store(|s| s.process_card(&onboarding));
    assert_eq!(caller.current.as_deref(), Some("credit"));
    assert_eq!(
        caller.history[0].called.as_deref(),
        Some(check.to_string().as_str())
    );
    ana.sync();
    mia.sync();

    // Mia checks the credit offline on day 2; her phone runs the check to
    // its end and the onboarding on (she reads all ana reads).
    let task = activity_id(&check, "check", 0);
    assert_eq!(mia.get(&task).text("assignee"), Some("mia"));
    mia_clock.set(at("2027-03-02T11:00:00Z"));
    mia.store(|s| s.complete_task_with(&task, None));
    ana_clock.set(at("2027-03-03T09:00:00Z"));
    w.server_clock.set(at("2027-03-03T09:00:00Z"));
    for d in [&mia, &ana, &mia, &ana] {
        d.sync();
    }
    let open = activity_id(&onboarding, "open", 1);
    for d in [&ana, &mia] {
        assert_eq!(
            d.store(|s| s.process_card(&check)).status,
            Status::Completed
        );
        let card = d.store(|s| s.process_card(&onboarding));
        assert_eq!(card.current.as_deref(), Some("open"), "{card:?}");
        assert_eq!(card.history[0].via.as_deref(), Some("call"));
        assert_eq!(
            card.history[0].left_at,
            Some(at("2027-03-02T11:00:00Z")),
            "went on when the check completed"
        );
        assert!(card.superseded.is_empty(), "{:?}", card.superseded);
        assert_eq!(d.get(&open).text("status"), Some("planned"));
    }
    let instances = ana.store(|s| s.process_instances());
    assert_eq!(
        instances.len(),
        2,
        "one onboarding, one credit check: {instances:?}"
    );
    assert_eq!(
        server_changes(&w.server, &format!("{check}/general")),
        2,
        "the called instance: its creation, once, and its task's completion"
    );
    let api = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let office = api.get(&format!("/v1/processes/instances/{onboarding}"));
    assert_eq!(office.json["current"], "open", "{}", office.text);
    assert_eq!(
        office.json["steps"][0]["called"],
        check.to_string(),
        "{}",
        office.text
    );
}
