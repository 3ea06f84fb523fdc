//! A process creates a record, end to end: a day after an account is
//! qualified, its deal is opened, by whichever replicas run the step (two
//! phones offline and the server), as one record with one creation.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::{activity_id, created_id};
use fieldwork_core::process::model::Model;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::clocked::{at, device, server_changes, world};
use fieldwork_tests::runtime;

const OPEN_DEAL: &str = r#"
key = "open-deal"
name = "Open a deal a day after qualifying"
trigger = { kind = "record_created", record = "account" }

[[steps]]
id = "qualify"
kind = "task"
assignee = "owner"
subject = "Qualify {name}"
next = "a-day"

[[steps]]
id = "a-day"
kind = "timer"
duration = "P1D"
next = "open"

[[steps]]
id = "open"
kind = "create"
create = "deal"
fields = { name = "{name}: first order", account = "{id}", stage = "qualification" }
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

#[test]
fn a_deal_made_by_two_phones_and_the_server_is_one_record() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    let model = Model::from_toml(OPEN_DEAL).expect("model").file;
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Straße GmbH"), ("territory", "madrid")],
    );
    let instance: RecordId = ana.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("instance");
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "qualify", 0), None));
    ana.sync();
    mia.sync();

    // Two days on, both phones offline and the server run the timer and
    // the creation.
    let later = at("2027-03-03T09:00:00Z");
    for c in [&ana_clock, &mia_clock, &w.server_clock] {
        c.set(later);
    }
    std::thread::sleep(std::time::Duration::from_millis(300)); // a server tick
    ana.store(|s| s.run_processes());
    mia.store(|s| s.run_processes());
    let deal = created_id(&instance, RecordKind::Deal, "open", 2);
    for d in [&ana, &mia] {
        assert_eq!(d.get(&deal).text("name"), Some("Straße GmbH: first order"));
    }
    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    assert_eq!(
        server_changes(&w.server, &format!("{deal}/general")),
        1,
        "three creations, byte-identical: one change"
    );
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        assert_eq!(card.status, Status::Completed, "{card:?}");
        let made = d.get(&deal);
        assert_eq!(made.text("account"), Some(account.to_string().as_str()));
        assert_eq!(made.text("owner"), Some("ana"));
        assert_eq!(made.text("stage"), Some("qualification"));
        assert!(made.conflicts.is_empty(), "{:?}", made.conflicts);
        let deals = d.store(|s| {
            s.list(&fieldwork_core::ListQuery {
                kind: Some(RecordKind::Deal),
                limit: Some(10),
                ..Default::default()
            })
        });
        assert_eq!(deals.len(), 1, "one deal: {deals:?}");
    }
}
