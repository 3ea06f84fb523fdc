//! Targets end to end (issue 13's success metrics): a manager sets targets
//! on his device; they sync to the people they concern and to no one else;
//! a rep cannot change them (on her device, through the API, or with a
//! forged push: the same refusal); with the server down, the rep's
//! progress follows her offline work on her own device.

use std::sync::Arc;

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, transaction::Transactable};
use fieldwork_core::clock::ManualClock;
use fieldwork_core::report::{ReportName, ReportResult};
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{CoreError, FieldWrite, RecordId, RecordKind};
use fieldwork_sdk::SdkError;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::at;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::json;

/// A target of `metric` per `period` for `whose` (`("assignee", user)` or
/// `("territory", name)`).
fn target(d: &TestDevice, metric: &str, period: &str, goal: i64, whose: (&str, &str)) -> RecordId {
    d.device
        .create(
            RecordKind::Target,
            vec![
                FieldWrite::set("name", format!("{metric} per {period}").as_str()),
                FieldWrite::set("metric", metric),
                FieldWrite::set("period", period),
                FieldWrite::set("goal", goal),
                FieldWrite::set(whose.0, whose.1),
            ],
        )
        .expect("create target")
}

/// `(metric, period, actual, goal)` of each row of the device's targets
/// report now, in the rep's time zone.
fn progress(d: &TestDevice) -> Vec<(String, String, i64, i64)> {
    let result = d.store(|s| {
        let mut q = s.report_query();
        q.time_zone = "Europe/Madrid".into();
        s.report(&ReportName::Targets, &q)
    });
    let ReportResult::Targets(t) = result else {
        panic!("not a targets report: {result:?}");
    };
    t.rows
        .into_iter()
        .map(|r| (r.metric.as_str().to_owned(), r.period, r.actual, r.goal))
        .collect()
}

/// A visit done now on `d`, checked in at `check_in`.
fn visit(d: &TestDevice, account: &RecordId, check_in: &str) {
    let id = d.create(
        RecordKind::Activity,
        &[
            ("type", "visit"),
            ("subject", "Visita"),
            ("status", "planned"),
            ("account", account.to_string().as_str()),
            ("check_in_at", check_in),
        ],
    );
    d.set(&id, &[("status", "done")]);
}

/// The refusal a forged push of `field = value` on `doc` by ana gets:
/// (code, rule).
fn forged(server: &TestServer, doc: &str, writes: &[(&str, &str)]) -> (String, String) {
    runtime().block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger").await;
        let mut am = AutoCommit::new().with_actor(ActorId::random());
        for (field, value) in writes {
            am.put(ROOT, *field, *value).expect("put");
        }
        c.send(&push_one(doc, signed(&mut am, "ana"))).await;
        loop {
            match c.recv().await {
                Some(ServerMessage::PushResult(r)) => {
                    let first = r.refused.first().expect("a refusal").clone();
                    break (first.code, first.rule);
                }
                Some(_) => continue,
                None => panic!("the server closed the connection"),
            }
        }
    })
}

#[test]
fn targets_sync_to_whom_they_concern_and_progress_offline_on_the_reps_device() {
    let rt = runtime();
    // Wednesday 2 December 2026, 09:00 UTC.
    let clock = ManualClock::new(at("2026-12-02T09:00:00Z"));
    let dir = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_clocked(dir.path(), Some(Arc::new(clock.clone())), |_| {});
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("bob", "rep", &["sevilla"], None);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let device = |i: usize, user: &str| {
        let d = TestDevice::open_clocked(&rt, dirs[i].path(), Arc::new(clock.clone()));
        d.login(&server.url, user);
        d
    };
    let (marta, ana, bob) = (device(0, "marta"), device(1, "ana"), device(2, "bob"));

    // Marta sets ana's weekly visits and sevilla's monthly deals won.
    let visits = target(&marta, "visits", "week", 3, ("assignee", "ana"));
    let sevilla = target(&marta, "deals_won", "month", 2, ("territory", "sevilla"));
    marta.sync();
    ana.sync();
    bob.sync();
    assert!(ana.try_get(&visits).is_some(), "ana has her target");
    assert!(ana.try_get(&sevilla).is_none(), "not sevilla's");
    assert!(bob.try_get(&sevilla).is_some(), "bob is in sevilla");
    assert!(bob.try_get(&visits).is_none(), "not ana's");
    assert_eq!(progress(&ana), [("visits".into(), "2026-W49".into(), 0, 3)]);

    // Ana may not change it: on her device, through the API, by forging.
    let denied = ana
        .device
        .update(&visits, vec![FieldWrite::set("goal", 1_i64)])
        .expect_err("a rep may not lower her target");
    let SdkError::Core(CoreError::Denied(d)) = &denied else {
        panic!("not a denial: {denied:?}");
    };
    assert_eq!(
        (d.code.as_str(), d.rule.as_str()),
        ("targets_forbidden", "roles.rep.targets")
    );
    let api = ApiClient::signed_in(&rt, &server.url, "ana");
    let patched = api.patch(
        &format!("/v1/records/target/{visits}"),
        json!({"fields": {"goal": "1"}}),
    );
    assert_eq!(patched.status, 403, "{}", patched.text);
    assert_eq!(
        patched.json["code"], "targets_forbidden",
        "{}",
        patched.text
    );
    assert_eq!(
        forged(&server, &format!("{visits}/general"), &[("name", "easy")]),
        ("targets_forbidden".into(), "roles.rep.targets".into())
    );
    let own = RecordId::new_random(RecordKind::Target);
    assert_eq!(
        forged(
            &server,
            &format!("{own}/general"),
            &[
                ("metric", "visits"),
                ("period", "week"),
                ("owner", "ana"),
                ("assignee", "ana")
            ],
        )
        .0,
        "targets_forbidden"
    );

    // The server goes away; ana works on, offline.
    let shop = ana.create(
        RecordKind::Account,
        &[("name", "Ferretería Sol"), ("territory", "madrid")],
    );
    server.stop();
    assert!(ana.try_sync().is_err(), "the server is down");
    clock.set(at("2026-12-02T10:00:00Z"));
    visit(&ana, &shop, "2026-12-02T09:30:00Z");
    assert_eq!(progress(&ana)[0].2, 1);
    clock.set(at("2026-12-03T16:00:00Z"));
    visit(&ana, &shop, "2026-12-03T11:00:00Z");
    visit(&ana, &shop, "2026-12-03T15:00:00Z");
    let done = progress(&ana);
    assert_eq!(done, [("visits".into(), "2026-W49".into(), 3, 3)]);
    // Next Monday (local), a new week starts from zero.
    clock.set(at("2026-12-06T23:30:00Z"));
    assert_eq!(progress(&ana), [("visits".into(), "2026-W50".into(), 0, 3)]);
}
