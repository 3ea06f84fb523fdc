//! The office API end to end, with a real server and real devices: records
//! written through the API are Automerge changes like a device's, reach
//! devices live, merge with offline edits, and meet exactly the rules and
//! the policy a device's push meets.

use std::time::Duration;

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, transaction::Transactable};
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::server::TestServer;
use fieldwork_tests::{runtime, wait_until};
use serde_json::json;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

fn record_id(answer: &serde_json::Value) -> RecordId {
    answer["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a record id")
}

#[test]
fn a_record_created_through_the_api_reaches_a_reps_device_live() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let rep = TestDevice::new(&rt);
    rep.login(&server.url, "ana");
    let _live = rep.go_live();
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Ferretería Núñez", "territory": "madrid", "phone": "+34 600 11 22 33"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["fields"]["name"], "Ferretería Núñez");
    assert_eq!(
        created.json["fields"]["owner"], "marta",
        "the caller owns it"
    );
    let id = record_id(&created.json);
    wait_until(
        "the account on the rep's phone",
        Duration::from_secs(10),
        || {
            rep.try_get(&id)
                .is_some_and(|r| r.text("name") == Some("Ferretería Núñez"))
        },
    );
    // The API's change is signed by the caller, like a device's.
    let history = office.get(&format!("/v1/records/account/{id}/history"));
    assert_eq!(history.status, 200, "{}", history.text);
    assert!(
        history
            .json
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["author"] == "marta"),
        "{}",
        history.text
    );
}

#[test]
fn an_offline_edit_and_an_api_edit_of_other_fields_both_survive() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let rep = TestDevice::new(&rt);
    rep.login(&server.url, "ana");
    let id = rep.create(
        RecordKind::Account,
        &[("name", "Bodega Ortiz"), ("territory", "madrid")],
    );
    rep.sync();
    // Offline on the phone: the city. At the office: the phone number.
    rep.set(&id, &[("city", "Toledo")]);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let patched = office.patch(
        &format!("/v1/records/account/{id}"),
        json!({"fields": {"phone": "+34 925 00 00 00", "industry": "Wine"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    rep.sync();
    let on_phone = rep.get(&id);
    assert_eq!(on_phone.text("city"), Some("Toledo"));
    assert_eq!(on_phone.text("industry"), Some("Wine"));
    let read = office.get(&format!("/v1/records/account/{id}"));
    assert_eq!(read.json["fields"]["city"], "Toledo", "{}", read.text);
    assert_eq!(read.json["fields"]["industry"], "Wine");
}

#[test]
fn a_role_without_financial_never_reads_credit_limit_through_the_api() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Crédito Alto SA", "territory": "madrid",
                          "credit_limit": "98765432", "credit_currency": "EUR"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains("98765432"),
        "the manager reads it: {}",
        created.text
    );
    let id = record_id(&created.json);
    // An integration's key, for a service user whose role has no
    // `financial`, reads exactly what a rep's session reads.
    server.add_user("erp", "rep", &["madrid"], None);
    let admin_token = rt.block_on(token(&server.url, "admin"));
    let made = ApiClient::with_bearer(&rt, &server.admin_url, &admin_token).post(
        "/v1/admin/api-keys",
        json!({"name": "ERP", "user": "erp", "read_only": true}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let key = made.json["key"].as_str().expect("a key").to_owned();
    for rep in [
        ApiClient::signed_in(&rt, &server.url, "ana"),
        ApiClient::with_bearer(&rt, &server.url, &key),
    ] {
        reads_no_credit(&rep, &id);
    }
}

fn reads_no_credit(rep: &ApiClient, id: &RecordId) {
    let answers = [
        rep.get(&format!("/v1/records/account/{id}")),
        rep.get("/v1/records/account"),
        rep.get(&format!("/v1/records/account/{id}/history")),
        rep.get(&format!("/v1/records/account/{id}/related")),
    ];
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.status, 200, "{}", answer.text);
        if i < 3 {
            assert!(answer.text.contains("Crédito Alto SA"), "{}", answer.text);
        }
        for hidden in ["credit_limit", "credit_currency", "98765432"] {
            assert!(
                !answer.text.contains(hidden),
                "{hidden} leaked: {}",
                answer.text
            );
        }
    }
    let found = rep.get("/v1/search?q=credito");
    assert!(found.text.contains(&id.to_string()), "{}", found.text);
    assert!(!found.text.contains("98765432"), "{}", found.text);
    // Filtering or sorting on it would tell the value by which rows match.
    let probe = rep.get("/v1/records/account?filter=credit_limit:gt:100000");
    assert_eq!(probe.status, 403, "{}", probe.text);
    assert_eq!(probe.json["code"], "class_not_readable");
    assert_eq!(probe.content_type, "application/problem+json");
    let sorted = rep.get("/v1/records/account?sort=-credit_limit");
    assert_eq!(sorted.status, 403, "{}", sorted.text);
}

#[test]
fn an_api_write_to_a_forbidden_field_is_refused_like_a_forged_push() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let rep_device = TestDevice::new(&rt);
    rep_device.login(&server.url, "ana");
    let id = rep_device.create(
        RecordKind::Account,
        &[("name", "Mía"), ("territory", "madrid")],
    );
    rep_device.sync();
    let rep = ApiClient::signed_in(&rt, &server.url, "ana");
    let refused = rep.patch(
        &format!("/v1/records/account/{id}"),
        json!({"fields": {"credit_limit": "100000000"}}),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.content_type, "application/problem+json");
    let api = (
        refused.json["code"].as_str().unwrap_or_default().to_owned(),
        refused.json["field"].as_str().map(str::to_owned),
        refused.json["rule"].as_str().unwrap_or_default().to_owned(),
    );
    // The same write, forged and pushed over sync.
    let pushed = rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger").await;
        let mut fin = AutoCommit::new().with_actor(ActorId::random());
        fin.put(ROOT, "credit_limit", 100_000_000i64).expect("put");
        c.send(&push_one(
            &format!("{id}/financial"),
            signed(&mut fin, "ana"),
        ))
        .await;
        loop {
            match c.recv().await {
                Some(ServerMessage::PushResult(r)) => {
                    let first = r.refused.first().expect("a refusal").clone();
                    break (first.code, first.field, first.rule);
                }
                Some(_) => continue,
                None => panic!("the server closed the connection"),
            }
        }
    });
    assert_eq!(api, pushed, "{}", refused.text);
    assert_eq!(api.0, "class_not_writable");
    // An invalid value is a 422 naming the field; nothing was written.
    let invalid = rep.patch(
        &format!("/v1/records/account/{id}"),
        json!({"fields": {"email": "not an address"}}),
    );
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    assert_eq!(invalid.json["field"], "email");
    let unknown = rep.get("/v1/records/account/01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let anonymous =
        ApiClient::with_bearer(&rt, &server.url, "not-a-token").get("/v1/records/account");
    assert_eq!(anonymous.status, 401);
}

#[test]
fn lists_page_by_cursor_and_complete_a_task() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let mut made = Vec::new();
    for i in 0..7 {
        let r = office.post(
            "/v1/records/account",
            json!({"fields": {"name": format!("Cuenta {i:02}"), "territory": "madrid"}}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        made.push(r.json["id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/records/account?sort=name&limit=3".to_owned();
    loop {
        let page = office.get(&path);
        assert_eq!(page.status, 200, "{}", page.text);
        for r in page.json["records"].as_array().expect("records") {
            seen.push(r["id"].as_str().expect("id").to_owned());
        }
        match page.json["next"].as_str() {
            Some(next) => path = format!("/v1/records/account?sort=name&limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, made, "every account once, in name order");
    let task = office.post(
        "/v1/records/activity",
        json!({"fields": {"type": "call", "subject": "Llamar a Cuenta 00", "account": made[0]}}),
    );
    assert_eq!(task.status, 201, "{}", task.text);
    let task_id = record_id(&task.json);
    let done = office.post(
        &format!("/v1/tasks/{task_id}/complete"),
        json!({"outcome": "Pedido confirmado"}),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["fields"]["status"], "done");
    assert_eq!(done.json["fields"]["outcome"], "Pedido confirmado");
    let bad = office.get("/v1/records/account?filter=name:like:x");
    assert_eq!(bad.status, 400);
    let bad_cursor = office.get("/v1/records/account?after=%%%garbage");
    assert_eq!(bad_cursor.status, 400, "{}", bad_cursor.text);
}

#[test]
fn cors_is_off_unless_an_origin_is_allowed_and_every_answer_has_a_request_id() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.cors_origins = vec!["https://crm.example".into()];
    });
    org(&server);
    let http = reqwest::Client::new();
    let (allowed, other, echoed, generated) = rt.block_on(async {
        let preflight = |origin: &'static str| {
            http.request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/records/account", server.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
        };
        let allowed = preflight("https://crm.example").await.expect("preflight");
        let other = preflight("https://evil.example").await.expect("preflight");
        let echoed = http
            .get(format!("{}/v1/records/account", server.url))
            .header("x-request-id", "trace-42")
            .send()
            .await
            .expect("get");
        let generated = http
            .get(format!("{}/v1/health", server.url))
            .send()
            .await
            .expect("health");
        (allowed, other, echoed, generated)
    });
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://crm.example"
    );
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_eq!(echoed.status(), 401, "no token");
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");
    let id = generated.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 26, "a ULID: {id}");
}

#[test]
fn the_openapi_document_describes_the_routes_served() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let doc = office.get("/v1/openapi.json");
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json["openapi"], "3.1.0");
    for path in [
        "/v1/records/{kind}",
        "/v1/records/{kind}/{id}",
        "/v1/search",
        "/v1/lookup/phone",
        "/v1/calendar/{token}",
    ] {
        assert!(doc.json["paths"][path].is_object(), "{path} missing");
    }
    let admin_doc =
        ApiClient::with_bearer(&rt, &server.admin_url, "").get("/v1/admin/openapi.json");
    assert_eq!(admin_doc.status, 200, "{}", admin_doc.text);
    assert!(admin_doc.json["paths"]["/v1/admin/webhooks"].is_object());
}

/// One API edit is one decision: when one of its class documents' changes
/// is refused by the push path, none is stored (`PushCtx::all_or_nothing`),
/// while a device's push keeps the accepted part.
#[test]
fn an_edit_s_changes_stand_or_fall_together_a_device_push_does_not() {
    use fieldwork_server::sync::push::{self, Incoming, PushCtx};
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    let id = phone.create(
        RecordKind::Account,
        &[("name", "Almacén"), ("territory", "madrid")],
    );
    phone.sync();
    let state = &server.state;
    let user = state
        .db
        .read_blocking(|c| fieldwork_server::db::users::by_name(c, "ana"))
        .expect("read")
        .expect("ana");
    let (_, access) = state
        .db
        .read_blocking(|c| fieldwork_server::db::access::access_for(c, &user))
        .expect("access");
    let batch = || {
        let mut general = AutoCommit::new().with_actor(ActorId::random());
        general.put(ROOT, "industry", "Ferreterías").expect("put");
        let mut financial = AutoCommit::new().with_actor(ActorId::random());
        financial.put(ROOT, "credit_limit", 1i64).expect("put");
        vec![
            Incoming::new(format!("{id}/general"), signed(&mut general, "ana")),
            Incoming::new(format!("{id}/financial"), signed(&mut financial, "ana")),
        ]
    };
    let push = |all_or_nothing: bool| {
        state
            .db
            .write_blocking(|w| {
                push::apply_measured(
                    w,
                    &state.hub,
                    &state.actor,
                    PushCtx {
                        user: &user,
                        access: &access,
                        device: None,
                        now_ms: state.now_ms(),
                        all_or_nothing,
                    },
                    batch(),
                )
            })
            .expect("push")
    };
    let industry = || {
        ApiClient::signed_in(&rt, &server.url, "marta")
            .get(&format!("/v1/records/account/{id}"))
            .json["fields"]["industry"]
            .clone()
    };
    let atomic = push(true);
    assert!(atomic.accepted.is_empty(), "{:?}", atomic.accepted);
    assert_eq!(atomic.refused.len(), 1);
    assert_eq!(atomic.refused[0].code, "class_not_writable");
    assert_eq!(
        industry(),
        serde_json::Value::Null,
        "nothing of the edit was stored"
    );
    let piecewise = push(false);
    assert_eq!(piecewise.accepted.len(), 1);
    assert_eq!(piecewise.refused.len(), 1);
    assert_eq!(
        industry(),
        "Ferreterías",
        "a device's accepted change stands"
    );
}
