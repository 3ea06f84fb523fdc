//! Custom fields end to end: an administrator adds fields and a stage
//! probability to the policy; a rep's device receives them by sync and
//! uses them offline (checked, searched, listed, sorted); the manager reads
//! them through the office API; a custom field in a class the rep may not
//! read never reaches her device, and a forged push writing it is refused.
//! The organisation's own deal stages (`[picklists.deal] stage`) are
//! written, checked and reported in their order.

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, transaction::Transactable};
use fieldwork_core::error::CoreError;
use fieldwork_core::{FieldWrite, ListQuery, RecordKind};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

/// The default policy plus `x_segment` (choice) and `x_note` (text) in
/// `general`, `x_margin` (number) in `financial`, which reps do not read,
/// and a 20 % probability for qualification.
fn custom_policy() -> String {
    let text = fieldwork_core::policy::DEFAULT_POLICY_TOML
        .replacen(
            "\"website\", \"description\"]",
            "\"website\", \"description\", \"x_segment\", \"x_note\"]",
            1,
        )
        .replacen(
            "financial = [\"credit_limit\", \"credit_currency\", \"contract\"]",
            "financial = [\"credit_limit\", \"credit_currency\", \"contract\", \"x_margin\"]",
            1,
        );
    format!(
        "{text}
[custom.account.segment]
label = \"Segment\"
type = \"choice\"
choices = [\"smb\", \"mid\", \"enterprise\"]
[custom.account.note]
type = \"text\"
max = 40
[custom.account.margin]
type = \"number\"
min = 0
max = 100
[pipeline.probability]
qualification = 20
"
    )
}

fn titles(device: &TestDevice, q: ListQuery) -> Vec<String> {
    let rows = device.store(|s| s.list(&q));
    rows.into_iter().map(|r| r.title).collect()
}

#[test]
fn a_custom_field_is_used_offline_and_keeps_to_its_class() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    server
        .set_policy(&custom_policy())
        .expect("policy installed");
    // Devices signed in before the policy get its fields by sync.
    let before = rep.device.update(
        &rep.create(RecordKind::Account, &[("name", "Zeta")]),
        vec![FieldWrite::set("x_segment", "mid")],
    );
    assert!(before.is_err(), "unknown before the sync: {before:?}");
    manager.sync();
    rep.sync();

    let acme = manager.create(
        RecordKind::Account,
        &[("name", "Acme"), ("territory", "madrid")],
    );
    manager.set(
        &acme,
        &[("x_margin", "37"), ("x_note", "Hafenstraße promo")],
    );
    manager.sync();
    rep.sync();
    let beta = rep.create(
        RecordKind::Account,
        &[("name", "Beta"), ("territory", "madrid")],
    );
    rep.sync();

    // Offline: nothing below talks to the server.
    rep.set_server("http://127.0.0.1:9");
    let refused = rep
        .device
        .update(&beta, vec![FieldWrite::set("x_segment", "huge")]);
    let Err(fieldwork_sdk::SdkError::Core(CoreError::Invalid(e))) = refused else {
        panic!("a bad choice must be refused on the device: {refused:?}");
    };
    assert_eq!(e.field.as_deref(), Some("x_segment"));
    assert!(
        e.message.contains("is not one of smb, mid, enterprise"),
        "{}",
        e.message
    );
    rep.set(&acme, &[("x_segment", "mid")]);
    rep.set(&beta, &[("x_segment", "smb")]);
    let hits = rep.store(|s| s.search("hafenstrasse", Some(RecordKind::Account), 10));
    assert_eq!(hits.iter().map(|h| &h.id).collect::<Vec<_>>(), [&acme]);
    let only_mid = ListQuery {
        custom: [("x_segment".to_owned(), "mid".to_owned())].into(),
        ..ListQuery::default()
    };
    assert_eq!(titles(&rep, only_mid), ["Acme"]);
    let by_segment = ListQuery {
        sort_custom: Some("x_segment".into()),
        ..ListQuery::default()
    };
    // mid before smb, then the record without a segment.
    assert_eq!(titles(&rep, by_segment), ["Acme", "Beta", "Zeta"]);
    assert!(rep.try_sync().is_err(), "the device was offline");

    // Back online: the manager reads the rep's value through the office API.
    rep.set_server(&server.url);
    rep.sync();
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let read = office.get(&format!("/v1/records/account/{acme}"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["fields"]["x_segment"], "mid", "{}", read.text);
    assert_eq!(read.json["fields"]["x_margin"], "37", "{}", read.text);
    let listed = office.get("/v1/records/account?filter=x_segment:eq:mid");
    assert_eq!(listed.status, 200, "{}", listed.text);
    let ids: Vec<&str> = listed.json["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [acme.to_string()], "{}", listed.text);
    let found = office.get("/v1/search?q=hafenstrasse");
    assert!(found.text.contains(&acme.to_string()), "{}", found.text);
    // The rep may not filter on a class she may not read.
    let rep_api = ApiClient::signed_in(&rt, &server.url, "ana");
    let probe = rep_api.get("/v1/records/account?filter=x_margin:gt:10");
    assert_eq!(probe.status, 403, "{}", probe.text);
    assert_eq!(probe.json["code"], "class_not_readable");

    // The financial custom field never reached the rep's device.
    let seen = rep.get(&acme);
    assert!(seen.get("x_margin").is_none());
    let card = rep.store(|s| s.card(&acme));
    assert!(card.fields.iter().all(|f| f.name != "x_margin"));
    assert!(card.fields.iter().any(|f| f.name == "x_segment"));
    // Its value lives only in the financial document, which the rep's
    // device does not hold (the manager's does).
    let financial = format!("{acme}/financial");
    let held = |d: &TestDevice| {
        d.store(|s| s.doc_ids())
            .iter()
            .any(|id| id.to_string() == financial)
    };
    assert!(!held(&rep), "the rep holds {financial}");
    assert!(held(&manager), "the control: the manager holds it");

    // A forged push writing it is refused with the usual code.
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger").await;
        let mut fin = AutoCommit::new().with_actor(ActorId::random());
        fin.put(ROOT, "x_margin", 99i64).expect("put");
        c.send(&push_one(
            &format!("{acme}/financial"),
            signed(&mut fin, "ana"),
        ))
        .await;
        let r = c.push_result().await.expect("a push result");
        assert!(r.accepted.is_empty(), "{r:?}");
        let first = r.refused.first().expect("a refusal");
        assert_eq!(first.code, "class_not_writable");
        assert_eq!(first.field.as_deref(), Some("x_margin"));
    });
    manager.sync();
    assert_eq!(
        manager.get(&acme).get("x_margin").and_then(|v| v.as_int()),
        Some(37)
    );
}

#[test]
fn the_pipeline_weighs_with_the_policys_probability_unless_asked_otherwise() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server
        .set_policy(&custom_policy())
        .expect("policy installed");
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let acme = manager.create(
        RecordKind::Account,
        &[("name", "Acme"), ("territory", "madrid")],
    );
    let acme_text = acme.to_string();
    let deal = manager.create(
        RecordKind::Deal,
        &[
            ("name", "Big one"),
            ("account", acme_text.as_str()),
            ("currency", "EUR"),
        ],
    );
    manager
        .device
        .update(&deal, vec![FieldWrite::set("amount", 10_000i64)])
        .expect("amount");
    manager.sync();
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let weight = |path: &str| {
        let answer = office.get(path);
        assert_eq!(answer.status, 200, "{}", answer.text);
        let rows = answer.json["rows"].as_array().cloned().unwrap_or_default();
        let row = rows
            .iter()
            .find(|r| r["stage"] == "qualification")
            .cloned()
            .unwrap_or_else(|| panic!("no qualification row: {}", answer.text));
        (
            row["weight_percent"].as_u64(),
            row["weighted"]["EUR"].as_i64(),
        )
    };
    assert_eq!(weight("/v1/reports/pipeline"), (Some(20), Some(2_000)));
    assert_eq!(
        weight("/v1/reports/pipeline?weight=qualification:50"),
        (Some(50), Some(5_000))
    );
    // The device weighs offline with the synced policy too.
    let q = manager.store(|s| Ok(s.report_query()));
    assert_eq!(q.weights.percent("qualification"), 20);
}

#[test]
fn an_import_fills_a_custom_field_checked_by_the_policy() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server
        .set_policy(&custom_policy())
        .expect("policy installed");
    let csv =
        "name,territory,x_segment\nImported One,madrid,enterprise\nImported Two,madrid,huge\n";
    let token = rt.block_on(token(&server.url, "admin"));
    let (status, report) = rt.block_on(async {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/v1/import/account?skip_invalid=true",
                server.url
            ))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let report: serde_json::Value = response.json().await.unwrap_or_default();
        (status, report)
    });
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].as_u64(), report["refused"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert!(
        report["errors"].to_string().contains("x_segment"),
        "{report}"
    );
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let listed = office.get("/v1/records/account?filter=x_segment:eq:enterprise");
    let records = listed.json["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), 1, "{}", listed.text);
}

/// The default policy with the deal stage `demo` between qualification and
/// proposal, weighed 35 %.
fn demo_stage_policy() -> String {
    format!(
        "{}
[picklists.deal]
stage = [\"qualification\", \"demo\", \"proposal\", \"negotiation\", \"won\", \"lost\"]
[pipeline.probability]
demo = 35
",
        fieldwork_core::policy::DEFAULT_POLICY_TOML
    )
}

#[test]
fn the_organisations_deal_stages_are_written_checked_and_reported_in_order() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    // A list without `lost` is refused, naming its key.
    let refused = server
        .set_policy(&demo_stage_policy().replace(", \"lost\"]", "]"))
        .expect_err("no lost");
    assert!(
        refused
            .to_string()
            .contains("picklists.deal.stage: the list must hold `lost`"),
        "{refused}"
    );
    server
        .set_policy(&demo_stage_policy())
        .expect("policy installed");
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let acme = manager.create(
        RecordKind::Account,
        &[("name", "Acme"), ("territory", "madrid")],
    );
    let acme_text = acme.to_string();
    let deal = |name: &str| {
        manager.create(
            RecordKind::Deal,
            &[
                ("name", name),
                ("account", acme_text.as_str()),
                ("currency", "EUR"),
            ],
        )
    };
    let (big, small, early) = (deal("Big one"), deal("Small one"), deal("Early"));
    manager
        .device
        .update(&big, vec![FieldWrite::set("amount", 10_000i64)])
        .expect("amount");
    // Offline on the device: the synced list is in force.
    manager
        .device
        .update(&small, vec![FieldWrite::set("stage", "demo")])
        .expect("demo on the device");
    let offline = manager
        .device
        .update(&small, vec![FieldWrite::set("stage", "pitch")])
        .expect_err("pitch is no stage");
    assert!(
        matches!(&offline, fieldwork_sdk::SdkError::Core(CoreError::Invalid(e)) if e.field.as_deref() == Some("stage")),
        "{offline:?}"
    );
    manager.sync();
    assert_eq!(manager.get(&early).text("stage"), Some("qualification"));

    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let path = format!("/v1/records/deal/{big}");
    let moved = office.patch(&path, serde_json::json!({"fields": {"stage": "demo"}}));
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["fields"]["stage"], "demo", "{}", moved.text);
    let refused = office.patch(&path, serde_json::json!({"fields": {"stage": "pitch"}}));
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.json["code"], "invalid_value", "{}", refused.text);
    assert_eq!(refused.json["field"], "stage", "{}", refused.text);
    let moved = office.patch(
        &format!("/v1/records/deal/{small}"),
        serde_json::json!({"fields": {"stage": "proposal"}}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);

    let answer = office.get("/v1/reports/pipeline");
    assert_eq!(answer.status, 200, "{}", answer.text);
    let rows = answer.json["rows"].as_array().cloned().unwrap_or_default();
    let stages: Vec<(&str, Option<u64>)> = rows
        .iter()
        .map(|r| {
            (
                r["stage"].as_str().unwrap_or(""),
                r["weight_percent"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("qualification", Some(10)),
            ("demo", Some(35)),
            ("proposal", Some(30))
        ],
        "{}",
        answer.text
    );
    assert_eq!(rows[1]["weighted"]["EUR"].as_i64(), Some(3_500));
    let overridden = office.get("/v1/reports/pipeline?weight=demo:50");
    assert_eq!(overridden.status, 200, "{}", overridden.text);
    let unknown = office.get("/v1/reports/pipeline?weight=pitch:50");
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert_eq!(unknown.json["field"], "weight", "{}", unknown.text);

    // The device reports in the same order offline.
    manager.sync();
    let q = manager.store(|s| Ok(s.report_query()));
    assert_eq!(q.deal_stages[1], "demo");
    assert_eq!(q.weights.percent("demo"), 35);

    let cycle = office.get("/v1/reports/cycle");
    assert_eq!(cycle.status, 200, "{}", cycle.text);
    let flow: Vec<&str> = cycle.json["stages"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["stage"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        flow,
        [
            "qualification",
            "demo",
            "proposal",
            "negotiation",
            "won",
            "lost"
        ],
        "{}",
        cycle.text
    );

    // The web board's columns are the stages in force, in order.
    let board = web_board(&rt, &server.url, "marta");
    assert_eq!(
        board,
        [
            "qualification",
            "demo",
            "proposal",
            "negotiation",
            "won",
            "lost"
        ]
    );

    // `demo` removed again: the deal keeps it, shown and reported under its
    // own name after the stages in force; a new write must choose another.
    server
        .set_policy(fieldwork_core::policy::DEFAULT_POLICY_TOML)
        .expect("default policy");
    let read = office.get(&path);
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["fields"]["stage"], "demo", "{}", read.text);
    let answer = office.get("/v1/reports/pipeline");
    let rows = answer.json["rows"].as_array().cloned().unwrap_or_default();
    let stages: Vec<&str> = rows.iter().filter_map(|r| r["stage"].as_str()).collect();
    assert_eq!(
        stages,
        ["qualification", "proposal", "demo"],
        "{}",
        answer.text
    );
    let again = office.patch(
        &format!("/v1/records/deal/{small}"),
        serde_json::json!({"fields": {"stage": "demo"}}),
    );
    assert_eq!(again.status, 422, "{}", again.text);
    assert_eq!(again.json["code"], "invalid_value", "{}", again.text);
    // On the board, in a column of its own after the stages in force.
    let board = web_board(&rt, &server.url, "marta");
    assert_eq!(
        board,
        [
            "qualification",
            "proposal",
            "negotiation",
            "won",
            "lost",
            "demo"
        ]
    );
}

/// The stages of the columns of `user`'s web pipeline board, in order.
fn web_board(rt: &std::sync::Arc<tokio::runtime::Runtime>, url: &str, user: &str) -> Vec<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = super::web::form_sign_in(rt, &http, url, user, url);
    let line = super::web::session_cookie(&answer).expect("a session cookie");
    let pair = line.split(';').next().expect("pair").to_owned();
    let page = rt.block_on(async {
        let answer = http
            .get(format!("{url}/web/pipeline"))
            .header("cookie", &pair)
            .send()
            .await
            .expect("board");
        assert_eq!(answer.status().as_u16(), 200);
        answer.text().await.expect("body")
    });
    page.split("data-stage=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}
