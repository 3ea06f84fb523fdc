//! The admin API's people and rules end to end (issue 12): users, roles,
//! territories, the policy and the audit log on the admin listener, with a
//! real server, real HTTP and real devices. A change made through the API
//! has the same effect on live devices as the same change made with
//! `fieldwork-server user set`; refusals are problem details and change
//! nothing; every change is audited with who made it.

use std::process::{Command, Stdio};
use std::time::Duration;

use fieldwork_core::{RecordId, RecordKind};
use fieldwork_tests::api::{Answer, ApiClient};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer, binary};
use fieldwork_tests::wait_until;
use serde_json::{Value, json};

const PROBLEM: &str = "application/problem+json";

/// A server and its data directory (dropped in this order).
struct World {
    server: TestServer,
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl World {
    /// root (admin), ana (rep, madrid), luis (rep, madrid and sevilla).
    fn start() -> World {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("tmp");
        let server = TestServer::start_in(dir.path(), |_| {});
        server.add_user("root", "admin", &[], None);
        server.add_user("ana", "rep", &["madrid"], None);
        server.add_user("luis", "rep", &["madrid", "sevilla"], None);
        World {
            server,
            rt,
            _dir: dir,
        }
    }

    /// `user` signed in, calling the admin listener.
    fn admin_api(&self, user: &str) -> ApiClient {
        let token = self
            .rt
            .block_on(fieldwork_tests::raw::token(&self.server.url, user));
        ApiClient::with_bearer(&self.rt, &self.server.admin_url, &token)
    }

    /// `PUT /v1/admin/policy` with a TOML body, as root.
    fn put_policy(&self, toml: &str) -> Answer {
        let token = self
            .rt
            .block_on(fieldwork_tests::raw::token(&self.server.url, "root"));
        self.rt.block_on(async {
            let r = reqwest::Client::new()
                .put(format!("{}/v1/admin/policy", self.server.admin_url))
                .bearer_auth(token)
                .header("content-type", "application/toml")
                .body(toml.to_owned())
                .send()
                .await
                .expect("put policy");
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = r.text().await.expect("body");
            Answer {
                status,
                content_type,
                json: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }
        })
    }

    /// An account in `territory`, made by root's device and synced.
    fn account(&self, root: &TestDevice, name: &str, territory: &str) -> RecordId {
        let id = root.create(
            RecordKind::Account,
            &[("name", name), ("territory", territory)],
        );
        root.sync();
        id
    }

    /// Whether `user` can sign in with the test password.
    fn can_sign_in(&self, user: &str) -> bool {
        self.rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/v1/login", self.server.url))
                .json(&json!({ "user": user, "password": PASSWORD }))
                .send()
                .await
                .expect("login")
                .status()
                .is_success()
        })
    }
}

/// A problem detail with `status` and `code`, as `application/problem+json`.
fn assert_problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.content_type, PROBLEM, "{}", a.text);
    assert_eq!(a.json["code"], code, "{}", a.text);
    assert_eq!(a.json["status"], status, "{}", a.text);
}

#[test]
fn patching_a_rep_s_territories_moves_documents_on_her_live_device_as_the_cli_does() {
    let w = World::start();
    let root = TestDevice::new(&w.rt);
    root.login(&w.server.url, "root");
    let madrid = w.account(&root, "Talleres Madrid", "madrid");
    let sevilla = w.account(&root, "Aceitunas Sevilla", "sevilla");
    let ana = TestDevice::new(&w.rt);
    ana.login(&w.server.url, "ana");
    let _live = ana.go_live();
    assert!(ana.try_get(&madrid).is_some(), "madrid is hers before");
    assert!(
        ana.try_get(&sevilla).is_none(),
        "sevilla is not hers before"
    );

    // Through the API: she gets Sevilla's account and loses Madrid's.
    let api = w.admin_api("root");
    let moved = api.patch("/v1/admin/users/ana", json!({ "territories": ["sevilla"] }));
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["territories"], json!(["sevilla"]));
    assert_eq!(moved.json["role"], "rep");
    wait_until(
        "ana's device to follow the API change",
        Duration::from_secs(10),
        || ana.try_get(&sevilla).is_some() && ana.try_get(&madrid).is_none(),
    );

    // Through the CLI, the same operation back: the same effect, the same audit.
    let out = Command::new(binary("fieldwork-server"))
        .arg("--data")
        .arg(w.server.dir())
        .args(["user", "set", "ana", "--territory", "madrid"])
        .stdin(Stdio::null())
        .output()
        .expect("run fieldwork-server");
    assert!(out.status.success(), "{out:?}");
    wait_until(
        "ana's device to follow the CLI change",
        Duration::from_secs(10),
        || ana.try_get(&madrid).is_some() && ana.try_get(&sevilla).is_none(),
    );
    let audit = api.get("/v1/admin/audit");
    let sets: Vec<&Value> = audit
        .json
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["code"] == "admin_set_user")
        .collect();
    let who: Vec<&str> = sets.iter().filter_map(|e| e["user"].as_str()).collect();
    assert_eq!(who, ["admin-cli", "root"], "newest first: {sets:?}");
    let message = sets[1]["message"].as_str().expect("message");
    assert!(
        message.contains("ana") && message.contains("[madrid] → [sevilla]"),
        "{message}"
    );
}

#[test]
fn a_refused_change_is_a_problem_and_changes_nothing() {
    let w = World::start();
    let api = w.admin_api("root");
    let before = api.get("/v1/admin/users/ana");
    assert_eq!(before.status, 200, "{}", before.text);

    let refused = api.patch(
        "/v1/admin/users/ana",
        json!({ "role": "boss", "territories": ["sevilla"], "time_zone": "Mars/Olympus", "manager": "nobody" }),
    );
    assert_problem(&refused, 422, "invalid_value");
    let detail = refused.json["detail"].as_str().expect("detail");
    for said in [
        "role `boss` is not in the policy (roles: admin",
        "`Mars/Olympus` is not a known IANA time zone",
        "manager `nobody` is not a user",
    ] {
        assert!(detail.contains(said), "{said:?} missing from {detail}");
    }
    assert_eq!(
        api.get("/v1/admin/users/ana").json,
        before.json,
        "unchanged"
    );

    let typo = api.patch("/v1/admin/users/ana", json!({ "territory": ["sevilla"] }));
    assert_problem(&typo, 400, "bad_request");
    let circle = api.patch("/v1/admin/users/root", json!({ "manager": "root" }));
    assert_problem(&circle, 422, "invalid_value");
    let missing = api.patch("/v1/admin/users/nobody", json!({ "role": "rep" }));
    assert_problem(&missing, 404, "not_found");
    assert_problem(&api.get("/v1/admin/users/nobody"), 404, "not_found");
    // Creation keeps its codes: an unknown role is `400 invalid_request`.
    let created = api.post(
        "/v1/admin/users",
        json!({ "name": "eva", "role": "boss", "password": "a long enough password" }),
    );
    assert_problem(&created, 400, "invalid_request");
    assert_eq!(
        api.get("/v1/admin/users").json.as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn only_administrators_reach_the_admin_api() {
    let w = World::start();
    let rep = w.admin_api("ana");
    for (method, path) in [
        ("GET", "/v1/admin/users"),
        ("GET", "/v1/admin/users/ana"),
        ("PATCH", "/v1/admin/users/ana"),
        ("POST", "/v1/admin/users/luis/enable"),
        ("POST", "/v1/admin/users/luis/disable"),
        ("GET", "/v1/admin/roles"),
        ("GET", "/v1/admin/territories"),
        ("GET", "/v1/admin/policy"),
        ("GET", "/v1/admin/devices"),
        ("GET", "/v1/admin/audit"),
    ] {
        let method: reqwest::Method = method.parse().expect("method");
        let body = (method == reqwest::Method::PATCH).then(|| json!({ "role": "admin" }));
        let refused = rep.send(method.clone(), path, body);
        assert_problem(&refused, 403, "forbidden");
        let anonymous = ApiClient::with_bearer(&w.rt, &w.server.admin_url, "not-a-token");
        assert_problem(&anonymous.send(method, path, None), 401, "unauthorized");
    }
    let root = w.admin_api("root");
    let ana = root.get("/v1/admin/users/ana");
    assert_eq!(
        (ana.json["role"].as_str(), ana.json["disabled"].as_bool()),
        (Some("rep"), Some(false))
    );
    assert!(w.can_sign_in("luis"), "luis was not disabled");
}

#[test]
fn enabling_a_disabled_user_lets_them_sign_in_again() {
    let w = World::start();
    let api = w.admin_api("root");
    let disabled = api.post("/v1/admin/users/ana/disable", Value::Null);
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.json["disabled"], true);
    assert!(!w.can_sign_in("ana"));
    let enabled = api.post("/v1/admin/users/ana/enable", Value::Null);
    assert_eq!(enabled.status, 200, "{}", enabled.text);
    assert_eq!(enabled.json["disabled"], false);
    assert!(w.can_sign_in("ana"));
    assert_problem(
        &api.post("/v1/admin/users/nobody/enable", Value::Null),
        404,
        "not_found",
    );
    // An administrator cannot lock themself out.
    let myself = api.post("/v1/admin/users/root/disable", Value::Null);
    assert_problem(&myself, 409, "would_lock_out");
    let demoted = api.patch("/v1/admin/users/root", json!({ "role": "rep" }));
    assert_problem(&demoted, 409, "would_lock_out");
    assert!(w.can_sign_in("root"));
    assert_eq!(api.get("/v1/admin/users/root").json["role"], "admin");
}

#[test]
fn roles_are_those_of_the_policy_in_force_with_their_users() {
    let w = World::start();
    let api = w.admin_api("root");
    let roles = api.get("/v1/admin/roles");
    assert_eq!(roles.status, 200, "{}", roles.text);
    let (_, policy) = w
        .server
        .state
        .db
        .read_blocking(fieldwork_server::db::policy::current)
        .expect("policy");
    let listed = roles.json.as_array().expect("roles");
    let names: Vec<&str> = listed.iter().filter_map(|r| r["name"].as_str()).collect();
    let expected: Vec<&str> = policy.roles().keys().map(String::as_str).collect();
    assert_eq!(names, expected);
    for r in listed {
        let role = policy
            .role(r["name"].as_str().expect("name"))
            .expect("in the policy");
        assert_eq!(r["admin"], role.admin, "{r}");
        assert_eq!(r["description"], role.description.as_str(), "{r}");
        let read: Vec<String> = role.read.iter().map(ToString::to_string).collect();
        assert_eq!(r["read"], json!(read), "{r}");
        let write: Vec<String> = role.write.iter().map(ToString::to_string).collect();
        assert_eq!(r["write"], json!(write), "{r}");
        assert_eq!(
            r["sees"],
            serde_json::to_value(&role.sees).expect("json"),
            "{r}"
        );
        assert_eq!(
            r["edits"],
            serde_json::to_value(&role.edits).expect("json"),
            "{r}"
        );
        assert_eq!(r["process"]["start"], role.process.start, "{r}");
        assert_eq!(r["archive"], role.archive, "{r}");
        let users = match r["name"].as_str() {
            Some("admin") => 1,
            Some("rep") => 2,
            _ => 0,
        };
        assert_eq!(r["users"], users, "{r}");
    }
}

#[test]
fn territories_in_use_are_counted_from_users_and_accounts() {
    let w = World::start();
    let root = TestDevice::new(&w.rt);
    root.login(&w.server.url, "root");
    w.account(&root, "Uno", "madrid");
    w.account(&root, "Dos", "madrid");
    w.account(&root, "Tres", "bilbao");
    let api = w.admin_api("root");
    let listed = api.get("/v1/admin/territories");
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(
        listed.json,
        json!([
            { "name": "bilbao", "users": 0, "accounts": 1 },
            { "name": "madrid", "users": 2, "accounts": 2 },
            { "name": "sevilla", "users": 1, "accounts": 0 },
        ])
    );
}

#[test]
fn every_change_is_audited_with_who_made_it_and_policies_are_checked_whole() {
    let w = World::start();
    let api = w.admin_api("root");
    let created = api.post(
        "/v1/admin/users",
        json!({ "name": "eva", "role": "rep", "territories": ["bilbao"], "password": "a long enough password" }),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json["created_at"].as_i64().expect("created_at") > 0);
    let changed = api.patch(
        "/v1/admin/users/eva",
        json!({ "role": "manager", "manager": "root", "time_zone": "Europe/Madrid" }),
    );
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["manager"], "root");
    let unset = api.patch("/v1/admin/users/eva", json!({ "manager": null }));
    assert_eq!(unset.json["manager"], Value::Null, "{}", unset.text);
    assert_eq!(unset.json["time_zone"], "Europe/Madrid", "kept");
    assert_eq!(
        api.post("/v1/admin/users/eva/disable", Value::Null).status,
        200
    );
    assert_eq!(
        api.post("/v1/admin/users/eva/enable", Value::Null).status,
        200
    );

    // A policy: invalid, then one that takes administration from root, then valid.
    let policy = api.get("/v1/admin/policy");
    let revision = policy.json["revision"].as_u64().expect("revision");
    let source = policy.json["source"].as_str().expect("source").to_owned();
    let invalid = w.put_policy("[roles.admin]\nadmin = \"yes\"\n");
    assert_problem(&invalid, 422, "invalid_policy");
    assert!(
        !invalid.json["errors"]
            .as_array()
            .expect("errors")
            .is_empty(),
        "{}",
        invalid.text
    );
    // Valid, but root's role would no longer administer (the auditors would).
    let lockout = source
        .replacen("admin = true", "admin = false", 1)
        .replacen("[roles.auditor]\n", "[roles.auditor]\nadmin = true\n", 1);
    let refused = w.put_policy(&lockout);
    assert_problem(&refused, 422, "invalid_policy");
    assert!(
        refused.text.contains("roles.admin: you (`root`)"),
        "{}",
        refused.text
    );
    assert_eq!(
        api.get("/v1/admin/policy").json["revision"],
        revision,
        "old one kept"
    );
    let installed = w.put_policy(&source);
    assert_eq!(installed.status, 200, "{}", installed.text);
    assert_eq!(installed.json["revision"], revision + 1);

    let audit = api.get("/v1/admin/audit?limit=50");
    let entries = audit.json.as_array().expect("entries");
    for code in [
        "admin_add_user",
        "admin_set_user",
        "admin_disable_user",
        "admin_enable_user",
        "admin_set_policy",
    ] {
        let entry = entries
            .iter()
            .find(|e| e["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {entries:?}"));
        assert_eq!(entry["user"], "root", "{entry}");
        assert!(entry["at"].as_i64().expect("at") > 0, "{entry}");
    }
    let set = entries
        .iter()
        .find(|e| e["code"] == "admin_set_user")
        .expect("set");
    assert!(
        set["message"]
            .as_str()
            .expect("message")
            .contains("manager root → -"),
        "{set}"
    );
    assert_problem(&api.get("/v1/admin/audit?limit=-1"), 400, "bad_request");
}

#[test]
fn the_admin_document_describes_the_whole_admin_api() {
    let w = World::start();
    let doc = ApiClient::with_bearer(&w.rt, &w.server.admin_url, "").get("/v1/admin/openapi.json");
    assert_eq!(doc.status, 200, "{}", doc.text);
    let paths = &doc.json["paths"];
    for (path, method) in [
        ("/v1/admin/users", "get"),
        ("/v1/admin/users", "post"),
        ("/v1/admin/users/{name}", "get"),
        ("/v1/admin/users/{name}", "patch"),
        ("/v1/admin/users/{name}/disable", "post"),
        ("/v1/admin/users/{name}/enable", "post"),
        ("/v1/admin/roles", "get"),
        ("/v1/admin/territories", "get"),
        ("/v1/admin/policy", "get"),
        ("/v1/admin/policy", "put"),
        ("/v1/admin/devices", "get"),
        ("/v1/admin/devices/{id}/wipe", "post"),
        ("/v1/admin/audit", "get"),
        ("/v1/admin/api-keys", "post"),
        ("/v1/admin/import-mappings", "get"),
        ("/v1/admin/gdpr/contact/{id}/erase", "post"),
        ("/v1/admin/export/{kind}", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    // Every schema the document points to is in it.
    let mut refs = Vec::new();
    collect_refs(&doc.json, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc.json["components"]["schemas"][name].is_object(),
            "{r} points nowhere"
        );
    }
}

/// Every `$ref` in a JSON document.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
