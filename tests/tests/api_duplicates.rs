//! Duplicate candidates end to end (issue 17, item 3, finding them):
//! `GET /v1/duplicates/{kind}` pairs accounts by e-mail, phone, tax id and
//! a name that reads alike, with a score and the reasons, and only from
//! what the caller may read: a tax id a rep may not read pairs nothing for
//! her, and a record she does not see is never named.

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::{Value, json};

fn org(server: &TestServer) {
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// Pairs of titles, each sorted, with the score and the reasons' kinds.
fn pairs(answer: &Value) -> Vec<(Vec<String>, u64, Vec<String>)> {
    answer["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            let mut titles: Vec<String> = c["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r["title"].as_str().expect("title").to_owned())
                .collect();
            titles.sort();
            let reasons = c["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r["reason"].as_str().expect("reason").to_owned())
                .collect();
            (titles, c["score"].as_u64().expect("score"), reasons)
        })
        .collect()
}

#[test]
fn candidates_are_scored_with_reasons_and_rest_only_on_what_the_caller_reads() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let create = |fields: Value| {
        let made = marta.post("/v1/records/account", json!({ "fields": fields }));
        assert_eq!(made.status, 201, "{}", made.text);
    };
    create(
        json!({"name": "Ferretería Ramos S.L.", "territory": "madrid", "phone": "600 11 22 33", "country": "ES"}),
    );
    create(json!({"name": "FERRETERIA RAMOS", "territory": "madrid", "phone": "+34 600112233"}));
    create(json!({"name": "Alfa Suministros", "territory": "madrid", "tax_id": "B-12345678"}));
    create(json!({"name": "Omega Logística", "territory": "madrid", "tax_id": "b12345678"}));
    create(json!({"name": "Ferreteria Ramos", "territory": "sevilla"}));
    create(json!({"name": "Panadería Sol", "territory": "madrid"}));

    let manager = marta.get("/v1/duplicates/account");
    assert_eq!(manager.status, 200, "{}", manager.text);
    let found = pairs(&manager.json);
    assert_eq!(manager.json["compared"], 6);
    assert!(
        found.contains(&(
            vec!["Alfa Suministros".into(), "Omega Logística".into()],
            95,
            vec!["tax_id".into()]
        )),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            vec!["FERRETERIA RAMOS".into(), "Ferretería Ramos S.L.".into()],
            85,
            vec!["phone".into(), "name".into()]
        )),
        "{found:?}"
    );

    // The rep reads neither tax ids nor Sevilla.
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    let rep = ana.get("/v1/duplicates/account");
    assert_eq!(rep.status, 200, "{}", rep.text);
    assert_eq!(rep.json["compared"], 5);
    let seen = pairs(&rep.json);
    assert!(
        seen.iter()
            .all(|(_, _, reasons)| !reasons.contains(&"tax_id".to_owned())),
        "{seen:?}"
    );
    assert!(!rep.text.contains("B-12345678") && !rep.text.contains("sevilla"));
    assert!(seen.iter().all(|(titles, _, _)| titles.len() == 2));
    assert_eq!(
        seen.iter()
            .map(|(titles, _, _)| titles.clone())
            .collect::<Vec<_>>(),
        vec![vec![
            "FERRETERIA RAMOS".to_owned(),
            "Ferretería Ramos S.L.".to_owned()
        ]],
        "only the Madrid pair: the Sevilla namesake is not hers"
    );
    // The manager also sees the Sevilla namesake, by name alone.
    assert!(
        found.iter().any(|(titles, score, reasons)| titles
            .contains(&"Ferreteria Ramos".to_owned())
            && *score == 75
            && reasons == &vec!["name".to_owned()]),
        "{found:?}"
    );

    // Bad input is a 400 naming it; other kinds are refused.
    for bad in [
        "/v1/duplicates/account?min_score=101",
        "/v1/duplicates/account?x=1",
        "/v1/duplicates/deal",
    ] {
        let refused = marta.get(bad);
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text);
    }
    let strict = marta.get("/v1/duplicates/account?min_score=90");
    assert_eq!(pairs(&strict.json).len(), 1, "only the tax id pair");
}
