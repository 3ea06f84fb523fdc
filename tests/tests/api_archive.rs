//! Archiving records end to end: a manager archives through the office API,
//! a rep may not (through the API or a forged push, with the same code), the
//! record leaves lists and search on the server and on the rep's phone, an
//! offline edit of the archived record still merges, and a restore brings it
//! back.

use std::time::Duration;

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, transaction::Transactable};
use fieldwork_core::summary::Archived;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::value::FieldValue;
use fieldwork_core::{ListQuery, RecordId, RecordKind};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::server::TestServer;
use fieldwork_tests::{runtime, wait_until};
use serde_json::json;

fn ids_of(page: &serde_json::Value) -> Vec<String> {
    page["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The refusal a forged push writing `archived` gets: (code, field, rule).
fn forged_archive(server: &TestServer, id: &RecordId) -> (String, Option<String>, String) {
    let rt = runtime();
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger").await;
        let mut doc = AutoCommit::new().with_actor(ActorId::random());
        doc.put(ROOT, "archived", true).expect("put");
        c.send(&push_one(&format!("{id}/general"), signed(&mut doc, "ana")))
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
    })
}

fn device_names(device: &TestDevice, archived: Archived) -> Vec<String> {
    device.store(|s| {
        Ok(s.list(&ListQuery {
            kind: Some(RecordKind::Account),
            archived,
            ..ListQuery::default()
        })?
        .into_iter()
        .map(|r| r.title)
        .collect())
    })
}

#[test]
fn a_manager_archives_a_record_everywhere_and_nothing_typed_offline_is_lost() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    let kept = phone.create(
        RecordKind::Account,
        &[("name", "Ferretería Norte"), ("territory", "madrid")],
    );
    let gone = phone.create(
        RecordKind::Account,
        &[("name", "Ferretería Sur"), ("territory", "madrid")],
    );
    phone.sync();

    // A rep may not archive: through the API and through a forged push,
    // with the same code, field and rule.
    let rep = ApiClient::signed_in(&rt, &server.url, "ana");
    let refused = rep.delete(&format!("/v1/records/account/{gone}"));
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.content_type, "application/problem+json");
    let api = (
        refused.json["code"].as_str().unwrap_or_default().to_owned(),
        refused.json["field"].as_str().map(str::to_owned),
        refused.json["rule"].as_str().unwrap_or_default().to_owned(),
    );
    assert_eq!(api.0, "archive_forbidden", "{}", refused.text);
    assert_eq!(api.2, "roles.rep.archive");
    assert_eq!(forged_archive(&server, &gone), api);

    // The manager archives it; it leaves lists and search, stays readable.
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let archived = office.delete(&format!("/v1/records/account/{gone}"));
    assert_eq!(archived.status, 200, "{}", archived.text);
    assert_eq!(archived.json["fields"]["archived"], "true");
    let listed = office.get("/v1/records/account");
    assert_eq!(ids_of(&listed.json), [kept.to_string()], "{}", listed.text);
    let only = office.get("/v1/records/account?archived=only");
    assert_eq!(ids_of(&only.json), [gone.to_string()], "{}", only.text);
    assert_eq!(
        ids_of(&office.get("/v1/records/account?archived=include").json).len(),
        2
    );
    assert_eq!(office.get("/v1/records/account?archived=maybe").status, 400);
    let found = office.get("/v1/search?q=ferreteria");
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(
        !found.text.contains(&gone.to_string()) && found.text.contains(&kept.to_string()),
        "{}",
        found.text
    );
    assert_eq!(
        office.get(&format!("/v1/records/account/{gone}")).status,
        200
    );
    let again = office.delete(&format!("/v1/records/account/{gone}"));
    assert_eq!(again.status, 200, "archiving twice is harmless");

    // The phone receives it and leaves it out of its list; the rep, offline,
    // edits the archived record: the edit merges, the record stays archived.
    phone.sync();
    assert_eq!(
        phone.get(&gone).get("archived"),
        Some(&FieldValue::Bool(true))
    );
    assert_eq!(
        device_names(&phone, Archived::Exclude),
        ["Ferretería Norte"]
    );
    assert_eq!(device_names(&phone, Archived::Only), ["Ferretería Sur"]);
    phone.set(&gone, &[("city", "Sevilla")]);
    phone.sync();
    let merged = office.get(&format!("/v1/records/account/{gone}"));
    assert_eq!(merged.json["fields"]["city"], "Sevilla", "{}", merged.text);
    assert_eq!(merged.json["fields"]["archived"], "true");

    // Restored: back in every list, on the phone too.
    let restored = office.post(&format!("/v1/records/account/{gone}/restore"), json!({}));
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert_eq!(restored.json["fields"]["archived"], "false");
    assert_eq!(ids_of(&office.get("/v1/records/account").json).len(), 2);
    wait_until("the phone lists it again", Duration::from_secs(10), || {
        phone.sync();
        device_names(&phone, Archived::Exclude).len() == 2
    });
    let history = office.get(&format!("/v1/records/account/{gone}/history"));
    assert!(
        history.text.contains("\"archived\""),
        "archiving is in the record's history: {}",
        history.text
    );
}
