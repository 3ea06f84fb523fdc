//! Exports end to end (issue 17, item 2): `GET /v1/export/{kind}` and
//! `fieldwork-server export`, against a real server. An export holds every
//! record the caller sees (over several pages), never a field they may not
//! read, and no cell that a spreadsheet would run as a formula; the CLI
//! writes the same file as the API, and with `--all` the organisation's.

use std::process::{Command, Stdio};

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{TestServer, binary};
use serde_json::{Value, json};

/// More than one export page (200 records) in Madrid.
const MADRID: usize = 203;
/// Accounts in Sevilla, which the Madrid rep does not see.
const SEVILLA: usize = 4;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// The manager's accounts: MADRID in Madrid (one with a credit limit, one
/// whose name is a spreadsheet formula) and SEVILLA in Sevilla.
fn accounts(office: &ApiClient) {
    let create = |fields: Value| {
        let made = office.post("/v1/records/account", json!({ "fields": fields }));
        assert_eq!(made.status, 201, "{}", made.text);
    };
    create(json!({"name": "Crédito Alto SA", "territory": "madrid",
                  "credit_limit": "98765432", "credit_currency": "EUR"}));
    create(json!({"name": "=HYPERLINK(\"http://evil.example\",\"Pay\")", "territory": "madrid"}));
    for i in 2..MADRID {
        create(
            json!({"name": format!("Madrid {i:03}"), "territory": "madrid", "city": "Getafe, Madrid"}),
        );
    }
    for i in 0..SEVILLA {
        create(json!({"name": format!("Sevilla {i}"), "territory": "sevilla"}));
    }
}

/// Lines of a CSV body (no field here spans lines).
fn lines(csv: &str) -> Vec<&str> {
    csv.split_terminator("\r\n").collect()
}

#[test]
fn an_export_has_every_record_the_caller_sees_and_no_field_they_may_not_read() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    accounts(&office);

    let rep = ApiClient::signed_in(&rt, &server.url, "ana");
    let csv = rep.get("/v1/export/account");
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let rows = lines(&csv.text);
    assert_eq!(rows.len(), 1 + MADRID, "a header and every Madrid account");
    assert!(
        rows[0].starts_with("id,title,updated_at,name,"),
        "{}",
        rows[0]
    );
    for hidden in ["credit_limit", "credit_currency", "98765432", "Sevilla"] {
        assert!(
            !csv.text.contains(hidden),
            "{hidden} leaked into the rep's export"
        );
    }
    assert!(csv.text.contains("Crédito Alto SA"));
    assert!(
        csv.text
            .contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Pay\"\")\","),
        "the formula is defused and quoted"
    );
    assert!(
        csv.text.contains(",\"Getafe, Madrid\","),
        "a comma is quoted"
    );

    let json = office.get("/v1/export/account?format=json&sort=name");
    assert_eq!(json.status, 200, "{}", json.text);
    let all = json.json.as_array().expect("a JSON array");
    assert_eq!(
        all.len(),
        MADRID + SEVILLA,
        "the manager sees every account"
    );
    let names: Vec<&str> = all
        .iter()
        .map(|r| r["fields"]["name"].as_str().expect("a name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "in the order asked for");
    let credit = all
        .iter()
        .find(|r| r["title"] == "Crédito Alto SA")
        .expect("the account");
    assert_eq!(
        credit["fields"]["credit_limit"], "98765432",
        "the manager reads it"
    );

    let filtered = office.get("/v1/export/account?filter=territory:eq:sevilla");
    assert_eq!(
        lines(&filtered.text).len(),
        1 + SEVILLA,
        "{}",
        filtered.text
    );
}

#[test]
fn a_bad_request_is_refused_before_anything_is_sent() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let rep = ApiClient::signed_in(&rt, &server.url, "ana");
    for (path, status) in [
        ("/v1/export/account?filter=credit_limit:gt:5", 403),
        ("/v1/export/account?filter=nonsense", 400),
        ("/v1/export/account?format=xlsx", 400),
        ("/v1/export/account?limit=10", 400),
        ("/v1/export/wizard", 404),
    ] {
        let answer = rep.get(path);
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
        assert!(
            answer.content_type.starts_with("application/problem+json"),
            "{path}: {}",
            answer.content_type
        );
    }
    let anonymous = ApiClient::with_bearer(&rt, &server.url, "not-a-token");
    assert_eq!(anonymous.get("/v1/export/account").status, 401);
}

#[test]
fn the_server_cli_writes_the_same_export_as_the_api() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    accounts(&office);
    let rep = ApiClient::signed_in(&rt, &server.url, "ana");

    let cli = |args: &[&str]| {
        let out = Command::new(binary("fieldwork-server"))
            .arg("--data")
            .arg(server.dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run fieldwork-server");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    assert_eq!(
        cli(&["export", "account", "--as", "ana"]),
        rep.get("/v1/export/account").text
    );
    assert_eq!(
        cli(&[
            "--json", "export", "account", "--as", "ana", "--sort", "-name"
        ]),
        rep.get("/v1/export/account?format=json&sort=-name").text
    );
    // The organisation's export: every record and every field.
    let all = cli(&["export", "account", "--all"]);
    assert_eq!(lines(&all).len(), 1 + MADRID + SEVILLA, "every account");
    assert!(
        lines(&all)[0].contains(",credit_limit,"),
        "{}",
        lines(&all)[0]
    );
    assert!(all.contains("98765432") && all.contains("Sevilla 0"));

    // The same organisation export over the admin listener, for
    // administrators only, and audited.
    let admin_token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    let admin = ApiClient::with_bearer(&rt, &server.admin_url, &admin_token);
    let over_api = admin.get("/v1/admin/export/account");
    assert_eq!(over_api.status, 200, "{}", over_api.text);
    assert_eq!(
        over_api.text, all,
        "the API's organisation export is the CLI's"
    );
    let marta_token = rt.block_on(fieldwork_tests::raw::token(&server.url, "marta"));
    let manager = ApiClient::with_bearer(&rt, &server.admin_url, &marta_token);
    let refused = manager.get("/v1/admin/export/account");
    assert_eq!(refused.status, 403, "{}", refused.text);
    let audit = admin.get("/v1/admin/audit?limit=5");
    assert!(
        audit
            .json
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["code"] == "admin_export"
                && e["user"] == "admin"
                && e["message"].as_str().is_some_and(|m| m.contains("account"))),
        "{}",
        audit.text
    );

    let unknown = Command::new(binary("fieldwork-server"))
        .arg("--data")
        .arg(server.dir())
        .args(["export", "account", "--as", "nobody"])
        .output()
        .expect("run fieldwork-server");
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("nobody"),
        "{unknown:?}"
    );
}
