//! An embedded sub-process, end to end: a deal's offer is priced by its
//! rep and its discount approved by her manager inside a nested
//! sub-process of a Camunda Modeler file, each on a phone that is offline.
//! Every replica ends with one history and no duplicate activities.

use fieldwork_core::process::Status;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::clocked::{at, device, repo, server_changes, world};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;

/// The activities of `instance` on `d`: type and status, sorted.
fn activities_of(d: &TestDevice, instance: &RecordId) -> Vec<(String, String)> {
    d.process_activities(instance, false, &["type", "status"])
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

#[test]
fn the_discount_approved_offline_inside_a_nested_sub_process_leads_to_one_offer() {
    let rt = runtime();
    let t0 = "2027-03-01T09:00:00Z";
    let w = world(t0);
    let file = process_admin::read_model(&repo(
        "tests/fixtures/camunda-modeler-deal-prepare-offer-subprocess.bpmn",
    ))
    .expect("imports");
    process_admin::publish(&w.server.state, file, "admin").expect("publishes");
    let (ana, ana_clock, _a) = device(&rt, &w, "ana", t0);
    let (mia, mia_clock, _m) = device(&rt, &w, "mia", t0);
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Đorđević d.o.o."), ("territory", "madrid")],
    );
    let deal = ana.create(
        RecordKind::Deal,
        &[("name", "Fleet renewal"), ("account", &account.to_string())],
    );
    let instance: RecordId = ana
        .store(|s| s.process_instances())
        .iter()
        .find(|i| i.record == deal.to_string())
        .expect("the deal started the offer")
        .id
        .parse()
        .expect("id");

    // Ana qualifies the deal and prices the offer; the discount goes to mia.
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "qualify", 0), None));
    ana_clock.set(at("2027-03-01T15:00:00Z"));
    ana.store(|s| s.complete_task_with(&activity_id(&instance, "price-offer", 1), None));
    ana.sync();
    mia.sync();
    let approve = activity_id(&instance, "approve", 2);
    assert_eq!(mia.get(&approve).text("assignee"), Some("mia"));

    // Offline, mia approves on day 2; ana's phone, also offline, runs its
    // processes on day 3 without knowing.
    mia_clock.set(at("2027-03-02T10:00:00Z"));
    mia.store(|s| s.complete_task_with(&approve, None));
    assert_eq!(
        mia.store(|s| s.process_card(&instance)).status,
        Status::Completed
    );
    ana_clock.set(at("2027-03-03T09:00:00Z"));
    ana.store(|s| s.run_processes());
    assert_eq!(
        ana.store(|s| s.process_card(&instance)).current.as_deref(),
        Some("approve")
    );

    for d in [&ana, &mia, &ana, &mia] {
        d.sync();
    }
    let mut paths = Vec::new();
    for d in [&ana, &mia] {
        let card = d.store(|s| s.process_card(&instance));
        assert_eq!(card.status, Status::Completed, "{card:?}");
        assert!(card.superseded.is_empty(), "{:?}", card.superseded);
        let path: Vec<String> = card.history.iter().map(|v| v.step.clone()).collect();
        assert_eq!(
            path[..4],
            ["qualify", "price-offer", "approve", "send-offer"],
            "the sub-processes' steps in order: {path:?}"
        );
        assert_eq!(
            card.history[2].left_at,
            Some(at("2027-03-02T10:00:00Z")),
            "left when mia approved"
        );
        assert_eq!(
            activities_of(d, &instance),
            [
                ("email".to_owned(), "planned".to_owned()),
                ("task".to_owned(), "done".to_owned()),
                ("task".to_owned(), "done".to_owned()),
                ("task".to_owned(), "done".to_owned()),
            ],
            "three tasks done and one e-mail to send, once each"
        );
        paths.push(path);
    }
    assert_eq!(paths[0], paths[1], "one history");
    let email = activity_id(&instance, "send-offer", 3);
    assert_eq!(
        server_changes(&w.server, &format!("{email}/general")),
        1,
        "the e-mail activity was created once"
    );
}
