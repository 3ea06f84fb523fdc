//! The data subject's right of access (issue 17, GDPR export): an
//! administrator gets everything held about one contact on the admin
//! listener (every field, its history, the records referring to it), the
//! export is audited, and nobody else may ask.

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::raw::token;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::{Value, json};

#[test]
fn an_administrator_gets_everything_held_about_a_contact_and_the_export_is_audited() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let create = |kind: &str, fields: Value| -> String {
        let made = marta.post(&format!("/v1/records/{kind}"), json!({ "fields": fields }));
        assert_eq!(made.status, 201, "{}", made.text);
        made.json["id"].as_str().expect("id").to_owned()
    };
    let account = create(
        "account",
        json!({"name": "Sujeto SA", "territory": "madrid"}),
    );
    let contact = create(
        "contact",
        json!({"last_name": "Pérez", "first_name": "Lucía", "account": account,
               "email": "lucia@antes.es", "birthday": "1980-05-17"}),
    );
    let (_, bare) = contact.split_once(':').expect("kind:id");
    let changed = marta.patch(
        &format!("/v1/records/contact/{bare}"),
        json!({"fields": {"email": "lucia@despues.es"}}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text);
    let call = create(
        "activity",
        json!({"type": "call", "subject": "Llamar a Lucía", "account": account, "contact": contact}),
    );
    let note = create(
        "note",
        json!({"title": "Preferencias", "body": "Prefiere la tarde", "contact": contact}),
    );
    let unrelated = create("note", json!({"title": "Otra cosa", "account": account}));

    let admin_token = rt.block_on(token(&server.url, "admin"));
    let admin = ApiClient::with_bearer(&rt, &server.admin_url, &admin_token);
    let answer = admin.get(&format!("/v1/admin/gdpr/contact/{contact}"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    let held = &answer.json;
    assert_eq!(held["contact"]["id"], contact.as_str());
    assert_eq!(
        held["contact"]["fields"]["birthday"], "1980-05-17",
        "every class"
    );
    assert_eq!(held["contact"]["fields"]["email"], "lucia@despues.es");
    assert!(
        answer.text.contains("lucia@antes.es"),
        "the history holds the earlier e-mail"
    );
    let related: Vec<&str> = held["related"]
        .as_array()
        .expect("related")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(related.len(), 2, "{related:?}");
    assert!(related.contains(&call.as_str()) && related.contains(&note.as_str()));
    assert!(!related.contains(&unrelated.as_str()));

    // Audited: that it happened, not what was in it.
    let audit = admin.get("/v1/admin/audit?limit=5");
    let entry = audit
        .json
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["code"] == "admin_gdpr_export");
    let entry = entry.expect("an audit entry");
    assert_eq!(entry["user"], "admin");
    assert!(
        !entry["message"]
            .as_str()
            .expect("message")
            .contains("lucia")
    );

    // Nobody else: a manager on the admin listener, a stranger, a bad id.
    let marta_token = rt.block_on(token(&server.url, "marta"));
    let manager = ApiClient::with_bearer(&rt, &server.admin_url, &marta_token);
    assert_eq!(
        manager
            .get(&format!("/v1/admin/gdpr/contact/{contact}"))
            .status,
        403
    );
    let stranger = ApiClient::with_bearer(&rt, &server.admin_url, "not-a-token");
    assert_eq!(
        stranger
            .get(&format!("/v1/admin/gdpr/contact/{contact}"))
            .status,
        401
    );
    assert_eq!(
        admin
            .get(&format!("/v1/admin/gdpr/contact/{account}"))
            .status,
        404
    );
    assert_eq!(admin.get("/v1/admin/gdpr/contact/nonsense").status, 404);
}
