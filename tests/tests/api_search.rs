//! Search and phone lookup of the office API end to end: records written
//! by real devices and synced to a real server are found by
//! `GET /v1/search` (accents ignored, prefixes, only what the caller sees
//! and may read) and by `GET /v1/lookup/phone` (a national number finds a
//! stored international one), and a change synced later is what they find
//! next.

use std::time::Duration;

use fieldwork_core::RecordKind;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::server::TestServer;
use fieldwork_tests::{runtime, wait_until};
use serde_json::Value;

fn ids(answer: &Value, list: &str) -> Vec<String> {
    answer[list]
        .as_array()
        .expect("a list")
        .iter()
        .map(|h| h["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[test]
fn search_and_phone_lookup_find_what_the_caller_sees() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("ana", "rep", &["madrid"], None);
    let office = TestDevice::new(&rt);
    office.login(&server.url, "admin");
    let madrid = office.create(
        RecordKind::Account,
        &[
            ("name", "José Szőke SL"),
            ("stage", "lead"),
            ("territory", "madrid"),
            ("phone", "+34 600 11 22 33"),
        ],
    );
    let sevilla = office.create(
        RecordKind::Account,
        &[
            ("name", "José Sevilla SA"),
            ("stage", "lead"),
            ("territory", "sevilla"),
            ("phone", "+34 600 11 22 33"),
        ],
    );
    let contact = office.create(
        RecordKind::Contact,
        &[
            ("first_name", "Pilar"),
            ("last_name", "Núñez"),
            ("account", &madrid.to_string()),
            ("mobile", "655 44 33 22"),
        ],
    );
    office.sync();

    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    let admin = ApiClient::signed_in(&rt, &server.url, "admin");

    // Accents and case ignored, words are prefixes; only visible records.
    let found = ana.get("/v1/search?q=jose+szok");
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(ids(&found.json, "hits"), vec![madrid.to_string()]);
    assert_eq!(found.json["hits"][0]["kind"], "account");
    assert_eq!(found.json["hits"][0]["title"], "José Szőke SL");
    assert!(found.json["hits"][0]["rank"].is_number());
    let all = admin.get("/v1/search?q=JOSE");
    let mut got = ids(&all.json, "hits");
    got.sort();
    let mut want = vec![madrid.to_string(), sevilla.to_string()];
    want.sort();
    assert_eq!(got, want, "{}", all.text);
    // Kinds narrow the search.
    let contacts = ana.get("/v1/search?q=nunez&kind=contact");
    assert_eq!(ids(&contacts.json, "hits"), vec![contact.to_string()]);
    assert_eq!(contacts.json["hits"][0]["title"], "Pilar Núñez");
    let none = ana.get("/v1/search?q=nunez&kind=deal&kind=account");
    assert_eq!(ids(&none.json, "hits"), Vec::<String>::new());
    // Malformed requests are problems, not failures.
    for bad in [
        "/v1/search",
        "/v1/search?q=x&kind=planet",
        "/v1/search?q=x&limit=1000",
    ] {
        let answer = ana.get(bad);
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.json["code"], "bad_request");
    }

    // A national number finds the international one stored, only visible.
    let lookup = ana.get("/v1/lookup/phone?number=600112233");
    assert_eq!(lookup.status, 200, "{}", lookup.text);
    assert_eq!(lookup.json["number"], "+34600112233");
    assert_eq!(ids(&lookup.json, "matches"), vec![madrid.to_string()]);
    assert_eq!(lookup.json["matches"][0]["field"], "phone");
    assert_eq!(lookup.json["matches"][0]["title"], "José Szőke SL");
    assert_eq!(
        ids(
            &admin.get("/v1/lookup/phone?number=%2B34600112233").json,
            "matches"
        )
        .len(),
        2
    );
    let mobile = ana.get("/v1/lookup/phone?number=+34655443322");
    assert_eq!(ids(&mobile.json, "matches"), vec![contact.to_string()]);
    assert_eq!(mobile.json["matches"][0]["field"], "mobile");
    let bad = ana.get("/v1/lookup/phone?number=call+me");
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.json["detail"], "not a phone number");

    // A change synced later is what is found next.
    office.set(
        &madrid,
        &[("name", "Nueva Razón SL"), ("phone", "+34 611 22 33 44")],
    );
    office.sync();
    wait_until("the renamed account found", Duration::from_secs(10), || {
        ids(&ana.get("/v1/search?q=razon").json, "hits") == vec![madrid.to_string()]
    });
    assert!(ids(&ana.get("/v1/search?q=szoke").json, "hits").is_empty());
    assert!(
        ids(
            &ana.get("/v1/lookup/phone?number=600112233").json,
            "matches"
        )
        .is_empty()
    );
    assert_eq!(
        ids(
            &ana.get("/v1/lookup/phone?number=611223344").json,
            "matches"
        ),
        vec![madrid.to_string()]
    );
}
