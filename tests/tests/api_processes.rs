//! Processes through the office API, end to end with a real server, real
//! HTTP and real devices: models published and instances started, read and
//! controlled with the caller's process rights and visibility, exactly as a
//! device would, and the tasks they create reaching people's phones live.

use std::time::Duration;

use fieldwork_core::automerge::transaction::Transactable;
use fieldwork_core::automerge::{ActorId, ROOT};
use fieldwork_core::process::Status;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{CoreError, RecordId};
use fieldwork_tests::api::{Answer, ApiClient};
use fieldwork_tests::clocked::repo;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{doc_from, push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::server::TestServer;
use fieldwork_tests::{runtime, wait_until};
use serde_json::{Value, json};

/// A manual model: the deal's owner gets a call-back task, due in two days.
const CALL_BACK: &str = r#"
key = "call-back"
name = "Call the customer back"
description = "Started by hand on a deal: its owner calls the customer."
trigger = { kind = "manual", record = "deal" }

[[steps]]
id = "call"
name = "Call the customer"
kind = "task"
assignee = "owner"
subject = "Call back about {name}"
due = "P2D"
next = "done"

[[steps]]
id = "done"
name = "Done"
kind = "end"
"#;

/// The shipped policy, with managers allowed to publish models.
fn policy_where_managers_publish() -> String {
    let shipped = std::fs::read_to_string(repo("core/policy.default.toml")).expect("policy");
    let (head, manager) = shipped
        .split_once("[roles.manager]")
        .expect("a manager role");
    let end = manager.find("[roles.").unwrap_or(manager.len());
    let (section, rest) = manager.split_at(end);
    assert!(section.contains("publish = false"), "{section}");
    format!(
        "{head}[roles.manager]{}{rest}",
        section.replace("publish = false", "publish = true")
    )
}

/// `policy` with `right` given to `role` (`publish = false` becomes
/// `publish = true` in the role's section).
fn grant(policy: &str, role: &str, right: &str) -> String {
    with_right(policy, role, right, true)
}

/// `policy` with `right` of `role` set to `on`.
fn with_right(policy: &str, role: &str, right: &str, on: bool) -> String {
    let header = format!("[roles.{role}]");
    let (head, section) = policy.split_once(&header).expect("the role");
    let end = section.find("[roles.").unwrap_or(section.len());
    let (section, rest) = section.split_at(end);
    let (from, to) = (format!("{right} = {}", !on), format!("{right} = {on}"));
    assert!(section.contains(&from), "{section}");
    format!("{head}{header}{}{rest}", section.replace(&from, &to))
}

/// An admin, a manager (`marta`), two reps she manages (`ana` in madrid,
/// `luis` in sevilla) and an auditor; managers may publish.
fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("luis", "rep", &["sevilla"], Some("marta"));
    server.add_user("audrey", "auditor", &[], None);
    server
        .set_policy(&policy_where_managers_publish())
        .expect("policy");
}

fn id_of(a: &Answer) -> String {
    a.json["id"].as_str().expect("an id").to_owned()
}

/// Publishes [`CALL_BACK`] as `who`.
fn publish(who: &ApiClient) -> Answer {
    who.post(
        "/v1/processes/models",
        json!({"format": "toml", "source": CALL_BACK}),
    )
}

/// An account in `territory` and a deal on it, created through the API
/// by `owner` (who then owns both).
fn deal_in(owner: &ApiClient, territory: &str, name: &str) -> String {
    let account = owner.post(
        "/v1/records/account",
        json!({"fields": {"name": format!("{name} SA"), "territory": territory}}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let deal = owner.post(
        "/v1/records/deal",
        json!({"fields": {"name": name, "account": id_of(&account)}}),
    );
    assert_eq!(deal.status, 201, "{}", deal.text);
    id_of(&deal)
}

fn start(who: &ApiClient, deal: &str) -> Answer {
    who.post(
        "/v1/processes/instances",
        json!({"model": "call-back", "record": deal}),
    )
}

fn control(who: &ApiClient, instance: &str, body: Value) -> Answer {
    who.post(&format!("/v1/processes/instances/{instance}/control"), body)
}

fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.text);
    assert_eq!(a.json["code"], code, "{}", a.text);
}

#[test]
fn a_manager_publishes_and_starts_a_model_and_the_task_reaches_the_reps_phone_live() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");

    let published = publish(&marta);
    assert_eq!(published.status, 201, "{}", published.text);
    assert_eq!(published.json["key"], "call-back");
    assert_eq!(published.json["version"], 1);
    assert_eq!(published.json["trigger"]["kind"], "manual");
    assert_eq!(published.json["trigger"]["record"], "deal");
    assert_eq!(published.json["publisher"], "marta");
    let steps: Vec<(&str, &str)> = published.json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or(""),
                s["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(steps, [("call", "task"), ("done", "end")]);
    let again = publish(&marta);
    assert_eq!(again.json["version"], 2, "the next version: {}", again.text);
    let listed = ana.get("/v1/processes/models");
    assert_eq!(listed.status, 200, "{}", listed.text);
    let versions: Vec<i64> = listed
        .json
        .as_array()
        .expect("models")
        .iter()
        .filter(|m| m["key"] == "call-back")
        .map(|m| m["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(versions, [1, 2]);

    // Ana's deal; her phone is live.
    let deal = deal_in(&ana, "madrid", "Fleet renewal");
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    let _live = phone.go_live();

    let started = start(&marta, &deal);
    assert_eq!(started.status, 201, "{}", started.text);
    let card = &started.json;
    assert_eq!(card["model"], "call-back");
    assert_eq!(card["version"], 2, "the newest version starts");
    assert_eq!(card["record"], deal.as_str());
    assert_eq!(card["status"], "running");
    assert_eq!(card["current"], "call");
    assert_eq!(card["steps"][0]["name"], "Call the customer");
    assert_eq!(card["steps"][0]["activity"]["status"], "planned");
    let task = card["steps"][0]["activity"]["id"]
        .as_str()
        .expect("the task's id")
        .to_owned();
    let instance = id_of(&started);

    // The task is a record like any other: the manager and the assignee
    // read it through the API...
    let read = marta.get(&format!("/v1/records/activity/{task}"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["fields"]["assignee"], "ana", "{}", read.text);
    assert_eq!(
        read.json["fields"]["subject"],
        "Call back about Fleet renewal"
    );
    assert_eq!(read.json["fields"]["process_instance"], instance.as_str());
    let hers = ana.get(&format!("/v1/records/activity/{task}"));
    assert_eq!(hers.status, 200, "{}", hers.text);
    // ...and it reaches her phone live, with the instance (owned by marta).
    let task_id: RecordId = task.parse().expect("activity id");
    wait_until("the task on ana's phone", Duration::from_secs(10), || {
        phone
            .try_get(&task_id)
            .is_some_and(|t| t.text("subject") == Some("Call back about Fleet renewal"))
    });
    let instance_id: RecordId = instance.parse().expect("instance id");
    wait_until(
        "the instance on ana's phone",
        Duration::from_secs(10),
        || {
            phone
                .try_get(&instance_id)
                .is_some_and(|i| i.text("owner") == Some("marta"))
        },
    );

    // The OpenAPI document describes the routes.
    let doc = ana.get("/v1/openapi.json");
    for path in [
        "/v1/processes/models",
        "/v1/processes/instances",
        "/v1/processes/instances/{id}",
        "/v1/processes/instances/{id}/control",
        "/v1/processes/monitor",
    ] {
        assert!(doc.json["paths"][path].is_object(), "{path} missing");
    }

    // The card answers the same on a later read.
    let got = marta.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.json["current"], "call");
    assert_eq!(got.json["steps"][0]["activity"]["id"], task.as_str());
}

#[test]
fn models_are_refused_with_their_problems_and_without_the_publish_right() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");

    let broken = CALL_BACK.replace("next = \"done\"", "next = \"nowhere\"");
    let refused = marta.post(
        "/v1/processes/models",
        json!({"format": "toml", "source": broken}),
    );
    assert_problem(&refused, 422, "invalid_model");
    let errors = refused.json["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.contains("nowhere"))),
        "{}",
        refused.text
    );
    let bpmn = marta.post(
        "/v1/processes/models",
        json!({"format": "bpmn", "source": "<definitions>"}),
    );
    assert_problem(&bpmn, 422, "invalid_model");
    let unknown = marta.post(
        "/v1/processes/models",
        json!({"format": "yaml", "source": CALL_BACK}),
    );
    assert_problem(&unknown, 400, "bad_request");

    // Reps may not publish: the device's code and rule.
    let denied = publish(&ana);
    assert_problem(&denied, 403, "process_forbidden");
    assert_eq!(denied.json["rule"], "roles.rep.process.publish");
    let listed = ana.get("/v1/processes/models");
    assert_eq!(listed.json, json!([]), "nothing was published");
}

#[test]
fn starting_needs_the_start_right_and_a_record_the_caller_sees() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    let audrey = ApiClient::signed_in(&rt, &server.url, "audrey");
    assert_eq!(publish(&marta).status, 201);
    let madrid = deal_in(&ana, "madrid", "Madrid fleet");
    let sevilla = deal_in(&marta, "sevilla", "Sevilla fleet");

    // Auditors may not start processes: the same refusal a device gets.
    let refused = start(&audrey, &madrid);
    assert_problem(&refused, 403, "process_forbidden");
    assert_eq!(refused.json["rule"], "roles.auditor.process.start");
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "audrey");
    phone.sync();
    let deal: RecordId = madrid.parse().expect("deal id");
    let on_device = phone.store(|s| Ok(s.start_process("call-back", &deal)));
    let Err(CoreError::Denied(d)) = on_device else {
        panic!("the device refuses too: {on_device:?}");
    };
    assert_eq!(d.code, refused.json["code"].as_str().expect("code"));
    assert_eq!(Some(d.rule.as_str()), refused.json["rule"].as_str());

    // A record the rep does not see is not found, like one that does not
    // exist; the model must exist; the record must be a record id.
    assert_problem(&start(&ana, &sevilla), 404, "not_found");
    let missing = RecordId::new_random(fieldwork_core::RecordKind::Deal).to_string();
    assert_problem(&start(&ana, &missing), 404, "not_found");
    let no_model = ana.post(
        "/v1/processes/instances",
        json!({"model": "no-such-model", "record": madrid}),
    );
    assert_problem(&no_model, 404, "not_found");
    assert_problem(&start(&ana, "not an id"), 400, "bad_request");
    assert_eq!(
        marta.get("/v1/processes/instances").json,
        json!([]),
        "nothing was started"
    );

    // The rep starts it on her deal; it runs as (is owned by) her.
    let mine = start(&ana, &madrid);
    assert_eq!(mine.status, 201, "{}", mine.text);
    let instance = id_of(&mine);
    let read = ana.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(read.status, 200, "{}", read.text);
    phone.sync();
    let id: RecordId = instance.parse().expect("instance id");
    assert_eq!(phone.get(&id).text("owner"), Some("ana"));
    let card = phone.store(|s| s.process_card(&id));
    assert_eq!(card.status, Status::Running);
    assert_eq!(card.current.as_deref(), Some("call"));
}

#[test]
fn controls_change_the_card_with_the_callers_rights() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    assert_eq!(publish(&marta).status, 201);
    let deal = deal_in(&ana, "madrid", "Control fleet");
    let started = start(&marta, &deal);
    assert_eq!(started.status, 201, "{}", started.text);
    let instance = id_of(&started);

    let suspended = control(&marta, &instance, json!({"action": "suspend"}));
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(suspended.json["status"], "suspended");
    assert_eq!(suspended.json["controls"][0]["kind"], "suspend");
    assert_eq!(suspended.json["controls"][0]["by"], "marta");
    let again = control(&marta, &instance, json!({"action": "suspend"}));
    assert_problem(&again, 409, "control_not_applicable");
    let resumed = control(&marta, &instance, json!({"action": "resume"}));
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json["status"], "running");
    let not = control(&marta, &instance, json!({"action": "resume"}));
    assert_problem(&not, 409, "control_not_applicable");
    assert_eq!(
        marta
            .get(&format!("/v1/processes/instances/{instance}"))
            .json["controls"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "a refused control writes nothing"
    );

    let set = control(
        &marta,
        &instance,
        json!({"action": "set_parameter", "name": "priority", "value": "high"}),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json["parameters"]["priority"], "high");
    let incomplete = control(&marta, &instance, json!({"action": "set_parameter"}));
    assert_problem(&incomplete, 400, "bad_request");
    let huge = "x".repeat(fieldwork_core::process::runner::MAX_PARAMETER_VALUE + 1);
    let oversized = control(
        &marta,
        &instance,
        json!({"action": "set_parameter", "name": "note", "value": huge}),
    );
    assert_problem(&oversized, 400, "bad_request");

    // The rep sees the instance (her deal) but may not stop it.
    assert_eq!(
        ana.get(&format!("/v1/processes/instances/{instance}"))
            .status,
        200
    );
    let denied = control(&ana, &instance, json!({"action": "stop"}));
    assert_problem(&denied, 403, "process_forbidden");
    assert_eq!(denied.json["rule"], "roles.rep.process.stop");
    let denied = control(&ana, &instance, json!({"action": "suspend"}));
    assert_eq!(
        denied.json["rule"], "roles.rep.process.suspend",
        "{}",
        denied.text
    );
    // Managers may not migrate under this policy.
    let denied = control(
        &marta,
        &instance,
        json!({"action": "migrate", "version": 1}),
    );
    assert_problem(&denied, 403, "process_forbidden");
    assert_eq!(denied.json["rule"], "roles.manager.process.migrate");

    // Administrators migrate, to a version that has the current step.
    let admin = ApiClient::signed_in(&rt, &server.url, "admin");
    assert_eq!(publish(&marta).json["version"], 2);
    let moved = control(
        &admin,
        &instance,
        json!({"action": "migrate", "version": 2}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["version"], 2);
    assert_eq!(moved.json["current"], "call");
    let nowhere = control(
        &admin,
        &instance,
        json!({"action": "migrate", "version": 9}),
    );
    assert_problem(&nowhere, 409, "control_not_applicable");

    let stopped = control(&marta, &instance, json!({"action": "stop"}));
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.json["status"], "stopped");
    let task = stopped.json["steps"][0]["activity"]["id"]
        .as_str()
        .expect("task")
        .to_owned();
    assert_ne!(
        stopped.json["steps"][0]["activity"]["status"], "planned",
        "stopping cancels its open task: {}",
        stopped.text
    );
    let read = ana.get(&format!("/v1/records/activity/{task}"));
    assert_ne!(read.json["fields"]["status"], "planned", "{}", read.text);
    let after = control(&marta, &instance, json!({"action": "resume"}));
    assert_problem(&after, 409, "control_not_applicable");
    assert_problem(
        &control(
            &marta,
            "process_instance:nonsense",
            json!({"action": "stop"}),
        ),
        404,
        "not_found",
    );
}

#[test]
fn a_control_by_a_role_that_reads_less_than_the_owner_still_runs_the_instance() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    // Reps may suspend here; they read less than managers do.
    let policy = grant(&policy_where_managers_publish(), "rep", "suspend");
    server.set_policy(&policy).expect("policy");
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    assert_eq!(publish(&marta).status, 201);
    let deal = deal_in(&ana, "madrid", "Reader fleet");
    let instance = id_of(&start(&marta, &deal));
    let suspended = control(&ana, &instance, json!({"action": "suspend"}));
    assert_eq!(suspended.status, 200, "{}", suspended.text);
    assert_eq!(suspended.json["status"], "suspended");
    assert_eq!(suspended.json["controls"][0]["by"], "ana");
    let resumed = control(&ana, &instance, json!({"action": "resume"}));
    assert_eq!(resumed.json["status"], "running", "{}", resumed.text);
}

#[test]
fn a_rep_neither_reads_nor_lists_nor_counts_instances_outside_her_territory() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    assert_eq!(publish(&marta).status, 201);
    let madrid = deal_in(&ana, "madrid", "Madrid fleet");
    let sevilla_a = deal_in(&marta, "sevilla", "Sevilla fleet");
    let sevilla_b = deal_in(&marta, "sevilla", "Sevilla vans");
    let hers = id_of(&start(&marta, &madrid));
    let away = id_of(&start(&marta, &sevilla_a));
    let other = id_of(&start(&marta, &sevilla_b));
    let suspended = control(&marta, &other, json!({"action": "suspend"}));
    assert_eq!(suspended.status, 200, "{}", suspended.text);

    // The rep: only the madrid instance.
    assert_problem(
        &ana.get(&format!("/v1/processes/instances/{away}")),
        404,
        "not_found",
    );
    assert_problem(
        &control(&ana, &away, json!({"action": "stop"})),
        404,
        "not_found",
    );
    let list = ana.get("/v1/processes/instances");
    assert_eq!(list.status, 200, "{}", list.text);
    let ids: Vec<&str> = list
        .json
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [hers.as_str()]);
    let monitor = ana.get("/v1/processes/monitor");
    assert_eq!(monitor.status, 200, "{}", monitor.text);
    let v = &monitor.json["versions"][0];
    assert_eq!(
        (v["running"].clone(), v["suspended"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(v["steps"][0]["step"], "call");
    assert_eq!(v["steps"][0]["current"], 1, "{}", monitor.text);
    assert_eq!(monitor.json["versions"].as_array().map(Vec::len), Some(1));

    // The manager sees all three, newest first, filtered and bounded.
    let list = marta.get("/v1/processes/instances");
    assert_eq!(list.json.as_array().map(Vec::len), Some(3), "{}", list.text);
    assert_eq!(list.json[0]["model"], "call-back");
    let only = marta.get("/v1/processes/instances?status=suspended");
    assert_eq!(only.json.as_array().map(Vec::len), Some(1), "{}", only.text);
    assert_eq!(only.json[0]["id"], other.as_str());
    assert_eq!(
        marta
            .get("/v1/processes/instances?limit=2")
            .json
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        marta.get("/v1/processes/instances?model=other").json,
        json!([])
    );
    assert_problem(
        &marta.get("/v1/processes/instances?status=asleep"),
        400,
        "bad_request",
    );
    let monitor = marta.get("/v1/processes/monitor");
    let v = &monitor.json["versions"][0];
    assert_eq!(v["key"], "call-back");
    assert_eq!(
        (v["running"].clone(), v["suspended"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(v["steps"][0]["current"], 3, "{}", monitor.text);
    assert_eq!(v["steps"][1]["current"], 0, "{}", monitor.text);
    assert_eq!(monitor.json["failed"], json!([]));
}

#[test]
fn a_read_only_key_lists_processes_but_cannot_start_or_control_them() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    assert_eq!(publish(&marta).status, 201);
    let deal = deal_in(&marta, "madrid", "Key fleet");
    let instance = id_of(&start(&marta, &deal));

    // Keys are made on the admin listener, with an administrator's token.
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    let admin = ApiClient::with_bearer(&rt, &server.admin_url, &token);
    let created = admin.post(
        "/v1/admin/api-keys",
        json!({"name": "report tool", "user": "marta", "read_only": true}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let key = ApiClient::with_bearer(&rt, &server.url, created.json["key"].as_str().expect("key"));

    assert_eq!(key.get("/v1/processes/models").status, 200);
    let list = key.get("/v1/processes/instances");
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json[0]["id"], instance.as_str());
    assert_eq!(
        key.get(&format!("/v1/processes/instances/{instance}"))
            .status,
        200
    );
    assert_eq!(key.get("/v1/processes/monitor").status, 200);
    assert_problem(&start(&key, &deal), 403, "key_scope");
    assert_problem(
        &control(&key, &instance, json!({"action": "stop"})),
        403,
        "key_scope",
    );
    assert_problem(&publish(&key), 403, "key_scope");
    let card = marta.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["status"], "running", "the key changed nothing");
    assert_eq!(
        marta
            .get("/v1/processes/instances")
            .json
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// Won deals: the owner gets a task to send the contract, then it ends.
const ON_WON: &str = r#"
key = "send-contract"
name = "Send the contract"
trigger = { kind = "field_change", record = "deal", condition = 'deal.stage == "won"' }

[[steps]]
id = "send"
name = "Send the contract"
kind = "task"
assignee = "owner"
subject = "Send the contract for {name}"
due = "P1D"
next = "done"

[[steps]]
id = "done"
name = "Done"
kind = "end"
"#;

/// Publishes [`ON_WON`] as `who`.
fn publish_on_won(who: &ApiClient) {
    let published = who.post(
        "/v1/processes/models",
        json!({"format": "toml", "source": ON_WON}),
    );
    assert_eq!(published.status, 201, "{}", published.text);
}

/// Moves `deal` to won through the API as `who`.
fn win(who: &ApiClient, deal: &str) {
    let won = who.patch(
        &format!("/v1/records/deal/{deal}"),
        json!({"fields": {"stage": "won"}}),
    );
    assert_eq!(won.status, 200, "{}", won.text);
}

#[test]
fn an_api_write_starts_processes_and_an_api_completion_advances_them_as_on_a_phone() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    publish_on_won(&marta);
    let deal = deal_in(&ana, "madrid", "Tornillos");
    let none = ana.get("/v1/processes/instances?model=send-contract");
    assert_eq!(none.json.as_array().map(Vec::len), Some(0), "{}", none.text);

    // The rep moves her deal to won through the API: the trigger fires.
    win(&ana, &deal);
    let listed = ana.get("/v1/processes/instances?model=send-contract");
    let instances = listed.json.as_array().expect("a list").clone();
    assert_eq!(instances.len(), 1, "{}", listed.text);
    assert_eq!(instances[0]["record"], deal.as_str());
    let instance = instances[0]["id"].as_str().expect("id").to_owned();
    let card = ana.get(&format!("/v1/processes/instances/{instance}")).json;
    assert_eq!(card["status"], "running", "{card}");
    let task = card["steps"][0]["activity"]["id"]
        .as_str()
        .expect("the task's activity")
        .to_owned();

    // Writing won again changes nothing and starts nothing more.
    ana.patch(
        &format!("/v1/records/deal/{deal}"),
        json!({"fields": {"stage": "won"}}),
    );
    let again = ana.get("/v1/processes/instances?model=send-contract");
    assert_eq!(
        again.json.as_array().map(Vec::len),
        Some(1),
        "{}",
        again.text
    );

    // Completing the task through the API moves the instance to its end.
    let done = ana.post(
        &format!("/v1/tasks/{task}/complete"),
        json!({"outcome": "Sent by e-mail"}),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    let card = ana.get(&format!("/v1/processes/instances/{instance}")).json;
    assert_eq!(card["status"], "completed", "{card}");
}

/// Completing a task a process planned moves the process, so it needs the
/// `complete_tasks` right whoever writes it: the office API's completion
/// and a plain edit of `status`, the user's phone, and a change forged
/// past the phone are all refused alike (`process_forbidden`), the
/// instance waits, and someone with the right completes it.
#[test]
fn completing_a_process_task_needs_the_right_through_every_writer() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let policy = with_right(
        &policy_where_managers_publish(),
        "rep",
        "complete_tasks",
        false,
    );
    server.set_policy(&policy).expect("policy");
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    publish_on_won(&marta);
    let deal = deal_in(&ana, "madrid", "Arandelas");
    win(&ana, &deal);
    let listed = ana.get("/v1/processes/instances?model=send-contract");
    let instance = listed.json[0]["id"]
        .as_str()
        .expect("an instance")
        .to_owned();
    let card_of = |who: &ApiClient| who.get(&format!("/v1/processes/instances/{instance}")).json;
    let task = card_of(&ana)["steps"][0]["activity"]["id"]
        .as_str()
        .expect("the task")
        .to_owned();
    let task_id: RecordId = task.parse().expect("a record id");

    // The office API: the completion and a plain edit of its status.
    let completion = ana.post(
        &format!("/v1/tasks/{task}/complete"),
        json!({"outcome": "Sent by e-mail"}),
    );
    assert_problem(&completion, 403, "process_forbidden");
    assert_eq!(completion.json["field"], "status", "{}", completion.text);
    let edit = ana.patch(
        &format!("/v1/records/activity/{task}"),
        json!({"fields": {"status": "done"}}),
    );
    assert_problem(&edit, 403, "process_forbidden");
    // The rest of the task stays hers to write.
    let noted = ana.patch(
        &format!("/v1/records/activity/{task}"),
        json!({"fields": {"topic": "Asked for the signed copy"}}),
    );
    assert_eq!(noted.status, 200, "{}", noted.text);

    // Her phone refuses it before it is queued.
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    phone.sync();
    let on_phone = phone.device.update(
        &task_id,
        vec![fieldwork_core::FieldWrite::set("status", "done")],
    );
    match on_phone {
        Err(e) => assert!(e.to_string().contains("complete process tasks"), "{e}"),
        Ok(()) => panic!("the phone completed a task without the right"),
    }
    assert_eq!(phone.get(&task_id).text("status"), Some("planned"));

    // A change forged past the phone, signed as hers, is refused too.
    let doc = format!("{task}/general");
    let code = rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        let welcome = c.hello("forger").await;
        let mut forged = doc_from(&welcome, &doc).with_actor(ActorId::random());
        forged.put(ROOT, "status", "done").expect("put");
        c.send(&push_one(&doc, signed(&mut forged, "ana"))).await;
        loop {
            match c.recv().await {
                Some(ServerMessage::PushResult(r)) => {
                    assert!(r.accepted.is_empty(), "accepted: {r:?}");
                    break r.refused.first().expect("a refusal").code.clone();
                }
                Some(_) => continue,
                None => panic!("the connection closed instead of answering"),
            }
        }
    });
    assert_eq!(code, "process_forbidden");
    assert_eq!(card_of(&marta)["status"], "running", "the instance waits");

    // Her manager holds the right: the task is done and the process ends.
    let done = marta.post(
        &format!("/v1/tasks/{task}/complete"),
        json!({"outcome": "Sent by e-mail"}),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(card_of(&marta)["status"], "completed");
}
