//! CSV import end to end (issue 17, item 1): `fieldwork-server import`
//! against a real server's data directory. Files are checked whole and
//! refused by line; accounts resolve by external id or name; re-importing
//! a file changes nothing, a changed cell changes exactly its record; a dry
//! run writes nothing; duplicates are flagged; and the imported records
//! reach the devices that may see them, and no others.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use fieldwork_core::{ListQuery, RecordKind};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{TestServer, binary};
use serde_json::Value;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// Runs `fieldwork-server import ARGS` on the server's data directory.
fn import(server: &TestServer, args: &[&str]) -> Output {
    Command::new(binary("fieldwork-server"))
        .arg("--data")
        .arg(server.dir())
        .arg("import")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run fieldwork-server")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// Records of `kind` the administrator sees (every one).
fn records(office: &ApiClient, kind: &str) -> Vec<Value> {
    let page = office.get(&format!("/v1/records/{kind}?limit=200"));
    assert_eq!(page.status, 200, "{}", page.text);
    page.json["records"].as_array().expect("records").clone()
}

fn by_name<'a>(records: &'a [Value], field: &str, name: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["fields"][field] == name)
        .unwrap_or_else(|| panic!("no record with {field} {name}: {records:?}"))
}

/// The accounts file as a Spanish spreadsheet saves it: Windows-1252,
/// semicolons, amounts with a decimal comma.
fn accounts_cp1252(city_of_third: &[u8]) -> Vec<u8> {
    let mut f = b"Ref;Empresa;Territorio;Ciudad;L\xEDmite\r\n".to_vec();
    f.extend_from_slice(b"A1;\xD1and\xFA SL;madrid;Getafe;1.250,50\r\n");
    f.extend_from_slice(b"A2;Ferreter\xEDa N\xFA\xF1ez;sevilla;Sevilla;\r\n");
    f.extend_from_slice(b"A3;Caf\xE9 Ol\xE9;madrid;");
    f.extend_from_slice(city_of_third);
    f.extend_from_slice(b";\r\n");
    f
}

const ACCOUNT_MAPPING: &str = r#"{"columns": {"Ref": "external_id", "Empresa": "name",
    "Territorio": "territory", "Ciudad": "city", "Límite": "credit_limit"}, "currency": "EUR"}"#;

#[test]
fn accounts_then_contacts_resolve_by_id_and_name_and_a_reimport_changes_only_what_changed() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mapping = write(tmp.path(), "accounts.json", ACCOUNT_MAPPING.as_bytes());
    let accounts = write(tmp.path(), "accounts.csv", &accounts_cp1252(b"Madrid"));

    let out = ok(import(
        &server,
        &["account", &accounts, "--mapping", &mapping],
    ));
    assert!(out.contains("Windows-1252"), "{out}");
    assert!(out.contains("3 created, 0 updated, 0 unchanged"), "{out}");
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let all = records(&office, "account");
    assert_eq!(all.len(), 3);
    let nandu = by_name(&all, "name", "Ñandú SL");
    assert_eq!(nandu["fields"]["credit_limit"], "125050", "{nandu}");
    assert_eq!(nandu["fields"]["credit_currency"], "EUR");
    assert_eq!(nandu["fields"]["territory"], "madrid");
    let nandu_id = nandu["id"].as_str().expect("id").to_owned();
    let ferreteria_id = by_name(&all, "name", "Ferretería Núñez")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Contacts: UTF-8 with commas; the account by external id and by name.
    let contacts = write(
        tmp.path(),
        "contacts.csv",
        "external_id,First name,Last name,Email,Account\n\
         c1,José,Müller,jose@example.com,A1\n\
         c2,Inés,Ruiz,ines@example.com,Ferretería Núñez\n"
            .as_bytes(),
    );
    let out = ok(import(&server, &["contact", &contacts]));
    assert!(out.contains("UTF-8"), "{out}");
    assert!(out.contains("2 created"), "{out}");
    let people = records(&office, "contact");
    assert_eq!(
        by_name(&people, "last_name", "Müller")["fields"]["account"],
        nandu_id
    );
    assert_eq!(
        by_name(&people, "last_name", "Ruiz")["fields"]["account"],
        ferreteria_id
    );

    // The same file again changes nothing.
    let out = ok(import(
        &server,
        &["account", &accounts, "--mapping", &mapping],
    ));
    assert!(out.contains("0 created, 0 updated, 3 unchanged"), "{out}");
    let out = ok(import(&server, &["contact", &contacts]));
    assert!(out.contains("0 created, 0 updated, 2 unchanged"), "{out}");

    // One cell changed: exactly that record is updated.
    let changed = write(tmp.path(), "accounts2.csv", &accounts_cp1252(b"Alcal\xE1"));
    let before = records(&office, "account");
    let out = ok(import(
        &server,
        &["--json", "account", &changed, "--mapping", &mapping],
    ));
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(
        (&report["created"], &report["updated"], &report["unchanged"]),
        (&Value::from(0), &Value::from(1), &Value::from(2)),
        "{report}"
    );
    let after = records(&office, "account");
    assert_eq!(
        by_name(&after, "name", "Café Olé")["fields"]["city"],
        "Alcalá"
    );
    for name in ["Ñandú SL", "Ferretería Núñez"] {
        assert_eq!(
            by_name(&after, "name", name)["updated_at"],
            by_name(&before, "name", name)["updated_at"],
            "{name} was not touched"
        );
    }

    // Ana (Madrid) receives the Madrid accounts, not Sevilla's.
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    phone.sync();
    let mut seen: Vec<String> = phone
        .store(|s| {
            s.list(&ListQuery {
                kind: Some(RecordKind::Account),
                ..Default::default()
            })
        })
        .into_iter()
        .map(|s| s.title)
        .collect();
    seen.sort();
    assert_eq!(seen, ["Café Olé", "Ñandú SL"]);
}

/// Contacts with three bad rows: a bad e-mail on line 4, no last name on
/// line 7, an unknown account on line 9 (line 5's ignored note spans two
/// lines).
const BAD_CONTACTS: &str = "external_id,first_name,last_name,email,account,Notes\n\
k1,Ana,Uno,ana1@example.com,Acme,\n\
k2,Bea,Dos,,Acme,\n\
k3,Carla,Tres,not-an-email,Acme,\n\
k4,Dora,Cuatro,,Acme,\"met twice,\nonce in Toledo\"\n\
k6,Eva,,,Acme,\n\
k7,Fe,Siete,,ext-acme,\n\
k8,Gil,Ocho,,Nowhere Ltd,\n";

#[test]
fn bad_rows_are_refused_by_line_and_nothing_is_written_unless_skipped() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let tmp = tempfile::tempdir().expect("tempdir");
    let acme = write(tmp.path(), "acme.csv", b"external_id,name\next-acme,Acme\n");
    ok(import(&server, &["account", &acme]));
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let mapping = write(tmp.path(), "m.json", br#"{"columns": {"Notes": ""}}"#);
    let bad = write(tmp.path(), "bad.csv", BAD_CONTACTS.as_bytes());

    let refused = import(&server, &["contact", &bad, "--mapping", &mapping]);
    assert!(!refused.status.success(), "{refused:?}");
    let out = stdout(&refused);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("error: line 4: column \"email\": "),
        "{out}"
    );
    assert!(lines[1].starts_with("error: line 7: "), "{out}");
    assert!(lines[1].contains("last_name"), "{out}");
    assert!(
        lines[2].starts_with("error: line 9: column \"account\": "),
        "{out}"
    );
    assert!(lines[2].contains("Nowhere Ltd"), "{out}");
    assert!(
        records(&office, "contact").is_empty(),
        "nothing was written"
    );

    // A dry run with --skip-invalid says what would happen, writes nothing.
    let out = ok(import(
        &server,
        &[
            "contact",
            &bad,
            "--mapping",
            &mapping,
            "--skip-invalid",
            "--dry-run",
        ],
    ));
    assert!(
        out.contains("4 created, 0 updated, 0 unchanged, 3 refused"),
        "{out}"
    );
    assert!(
        records(&office, "contact").is_empty(),
        "a dry run writes nothing"
    );

    let out = ok(import(
        &server,
        &["contact", &bad, "--mapping", &mapping, "--skip-invalid"],
    ));
    assert!(
        out.contains("4 created, 0 updated, 0 unchanged, 3 refused"),
        "{out}"
    );
    let people = records(&office, "contact");
    let mut names: Vec<&str> = people
        .iter()
        .map(|p| p["fields"]["last_name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(names, ["Cuatro", "Dos", "Siete", "Uno"]);

    // A new row with the name or e-mail of an existing contact is flagged,
    // not refused.
    let dup = write(
        tmp.path(),
        "dup.csv",
        b"external_id,first_name,last_name,email\nz1,ANA,uno,\nz2,Zoe,Zeta,ana1@example.com\n",
    );
    let out = ok(import(&server, &["contact", &dup, "--dry-run"]));
    assert!(out.contains("2 created"), "{out}");
    let warnings: Vec<&str> = out.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{out}");
    assert!(warnings[0].starts_with("warning: line 2: "), "{out}");
    assert!(warnings[1].starts_with("warning: line 3: "), "{out}");
    assert_eq!(
        records(&office, "contact").len(),
        4,
        "a dry run writes nothing"
    );
}

/// `POST /v1/import/{kind}` with `body` as the file; the status and the
/// report.
fn post_file(server: &TestServer, user: &str, path_and_query: &str, body: Vec<u8>) -> (u16, Value) {
    let rt = runtime();
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, user));
    rt.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}{path_and_query}", server.url))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    })
}

#[test]
fn the_office_api_imports_the_same_way_for_administrators_only() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let query = reqwest::Url::parse_with_params("http://x/", &[("mapping", ACCOUNT_MAPPING)])
        .expect("url")
        .query()
        .expect("query")
        .to_owned();
    let path = format!("/v1/import/account?{query}");

    // A manager may not import; an administrator may, dry run first.
    let (status, _) = post_file(&server, "marta", &path, accounts_cp1252(b"Getafe"));
    assert_eq!(status, 403);
    let (status, report) = post_file(
        &server,
        "admin",
        &format!("{path}&dry_run=true"),
        accounts_cp1252(b"Getafe"),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["dry_run"].as_bool(), report["created"].as_u64()),
        (Some(true), Some(3))
    );
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    assert!(
        records(&office, "account").is_empty(),
        "a dry run writes nothing"
    );

    let (status, report) = post_file(&server, "admin", &path, accounts_cp1252(b"Getafe"));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 3);
    assert_eq!(records(&office, "account").len(), 3);
    // The same file again changes nothing, as from the CLI.
    let (_, again) = post_file(&server, "admin", &path, accounts_cp1252(b"Getafe"));
    assert_eq!(
        (again["created"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );

    // A bad row: 422 with the report naming its line, nothing written.
    let mut bad = accounts_cp1252(b"Getafe");
    bad.extend_from_slice(b"A4;;madrid;Leganes;\r\n");
    let (status, refused) = post_file(&server, "admin", &path, bad);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["refused_whole"], true);
    assert!(
        refused["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e["line"] == 5),
        "{refused}"
    );
    assert_eq!(records(&office, "account").len(), 3);

    // Unknown parameters and kinds are refused before the file is read.
    assert_eq!(
        post_file(&server, "admin", "/v1/import/account?x=1", Vec::new()).0,
        400
    );
    assert_eq!(
        post_file(&server, "admin", "/v1/import/note", Vec::new()).0,
        400
    );
}
