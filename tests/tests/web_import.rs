//! The customer import from the web app, saved column mappings and XLSX
//! files (issue 17, part 1), against a real server: the web page over
//! plain HTTP (a session cookie, the page's form token, the file as
//! `multipart/form-data`), the admin API's saved mappings used by the
//! office API and the server CLI, and XLSX files written at test time
//! ([`fieldwork_tests::xlsx`]). The office API is the independent reader
//! of what was written.

use std::process::{Command, Stdio};

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{TestServer, binary};
use fieldwork_tests::xlsx::{Cell, package, sheet_xml, t, xlsx};
use serde_json::{Value, json};

use super::web::{csrf_in, form_sign_in, session_cookie};

type Rt = std::sync::Arc<tokio::runtime::Runtime>;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &["madrid"], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// One signed-in web session over HTTP.
struct Web {
    rt: Rt,
    http: reqwest::Client,
    base: String,
    cookie: String,
}

/// An answer: status and body.
struct Page {
    status: u16,
    body: String,
}

/// A file part of a multipart form.
struct FilePart<'a> {
    name: &'a str,
    bytes: &'a [u8],
}

impl Web {
    fn sign_in(rt: &Rt, server: &TestServer, user: &str) -> Web {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let answer = form_sign_in(rt, &http, &server.url, user, &server.url);
        assert_eq!(answer.status().as_u16(), 303, "{user} signs in");
        let line = session_cookie(&answer).expect("a session cookie");
        Web {
            rt: rt.clone(),
            http,
            base: server.url.clone(),
            cookie: line.split(';').next().expect("pair").to_owned(),
        }
    }

    fn send(&self, r: reqwest::RequestBuilder) -> Page {
        self.rt.block_on(async {
            let response = r
                .header("cookie", &self.cookie)
                .send()
                .await
                .expect("request");
            Page {
                status: response.status().as_u16(),
                body: response.text().await.expect("body"),
            }
        })
    }

    fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// The session's form token (from the sign-out form of any page).
    fn csrf(&self) -> String {
        let page = self.get("/web/accounts");
        assert_eq!(page.status, 200, "{}", page.body);
        csrf_in(&page.body)
    }

    /// Posts `fields` and `file` as `multipart/form-data` from `origin`.
    fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<FilePart<'_>>,
        origin: &str,
    ) -> Page {
        let boundary = "----fieldworkTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some(f) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n",
                    f.name
                )
                .as_bytes(),
            );
            body.extend_from_slice(f.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("origin", origin)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
    }

    /// Checks `file` on the import page with the session's form token.
    fn check(&self, fields: &[(&str, &str)], name: &str, bytes: &[u8]) -> Page {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_multipart(
            "/web/admin/import",
            &all,
            Some(FilePart { name, bytes }),
            &self.base.clone(),
        )
    }

    /// Posts a plain form with the session's form token.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("origin", &self.base)
                .form(&all),
        )
    }
}

/// The text of the element with `id` (its first text, tags left out).
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = html[start..].find('>')? + start + 1;
    let close = html[open..].find("</")? + open;
    Some(html[open..close].to_owned())
}

/// The value of the hidden `token` input of the confirm form.
fn token_in(html: &str) -> Option<String> {
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// The refused rows' table as (line, column, problem) triples.
fn refused_rows(html: &str) -> Vec<(String, String, String)> {
    let Some(start) = html.find("id=\"refused-rows\"") else {
        return Vec::new();
    };
    let table = &html[start..html[start..].find("</table>").expect("table end") + start];
    table
        .split("<tr class=\"problem\">")
        .skip(1)
        .map(|row| {
            let cell = |class: &str| {
                let m = format!("<td class=\"{class}\">");
                let s = row.find(&m).expect("cell") + m.len();
                row[s..s + row[s..].find("</td>").expect("cell end")].to_owned()
            };
            (cell("line"), cell("column"), cell("message"))
        })
        .collect()
}

/// Records of `kind` the administrator sees (every one).
fn records(office: &ApiClient, kind: &str) -> Vec<Value> {
    let page = office.get(&format!("/v1/records/{kind}?limit=200"));
    assert_eq!(page.status, 200, "{}", page.text);
    page.json["records"].as_array().expect("records").clone()
}

fn by_name<'a>(records: &'a [Value], name: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["fields"]["name"] == name)
        .unwrap_or_else(|| panic!("no record named {name}: {records:?}"))
}

/// The admin API, signed in as `admin`.
fn admin_api(rt: &Rt, server: &TestServer) -> ApiClient {
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    ApiClient::with_bearer(rt, &server.admin_url, &token)
}

/// `POST /v1/import/{kind}…` with `body` as the file, as `user`.
fn post_file(server: &TestServer, user: &str, path_and_query: &str, body: Vec<u8>) -> (u16, Value) {
    let rt = runtime();
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, user));
    rt.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}{path_and_query}", server.url))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
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

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = reqwest::Url::parse("http://x/").expect("url");
    q.query_pairs_mut().extend_pairs(pairs);
    q.query().expect("query").to_owned()
}

const BAD_CSV: &str = "external_id,name,territory,email\n\
                       w1,Ñandú SL,madrid,info@nandu.es\n\
                       w2,Café Olé,madrid,not-an-email\n";
const GOOD_CSV: &str = "external_id,name,territory,email\n\
                        w1,Ñandú SL,madrid,info@nandu.es\n\
                        w2,Café Olé,madrid,hola@cafeole.es\n";

#[test]
fn an_admin_checks_a_csv_on_the_web_page_fixes_it_and_imports_it() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let web = Web::sign_in(&rt, &server, "admin");

    let form = web.get("/web/admin/import");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    assert!(
        form.body
            .contains("href=\"/web/admin/import\" id=\"tab-import\" aria-current=\"page\""),
        "the administration tabs link the page"
    );
    assert!(
        web.get("/web/admin")
            .body
            .contains("href=\"/web/admin/import\"")
    );

    // A file with a bad row: the row is listed with its line, column and
    // reason, there is nothing to confirm, and nothing is written.
    let bad = web.check(&[("kind", "account")], "bad.csv", BAD_CSV.as_bytes());
    assert_eq!(bad.status, 422, "{}", bad.body);
    let rows = refused_rows(&bad.body);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("3", "email"));
    assert!(rows[0].2.contains("e-mail"), "{rows:?}");
    assert!(bad.body.contains("id=\"refused-whole\""));
    assert!(token_in(&bad.body).is_none(), "nothing to confirm");
    assert_eq!(text_of(&bad.body, "count-refused").as_deref(), Some("1"));
    assert!(records(&office, "account").is_empty(), "nothing written");

    // Fixed: a dry run with its counts and the button, still nothing written.
    let good = web.check(&[("kind", "account")], "good.csv", GOOD_CSV.as_bytes());
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(
        text_of(&good.body, "report-h")
            .unwrap_or_default()
            .contains("Dry run of good.csv"),
        "{}",
        good.body
    );
    assert_eq!(text_of(&good.body, "count-created").as_deref(), Some("2"));
    assert_eq!(text_of(&good.body, "count-refused").as_deref(), Some("0"));
    assert!(refused_rows(&good.body).is_empty());
    let token = token_in(&good.body).expect("the confirm form");
    assert!(
        records(&office, "account").is_empty(),
        "a check writes nothing"
    );

    // Confirmed: the records are there, with their values.
    let done = web.post("/web/admin/import/confirm", &[("token", &token)]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        text_of(&done.body, "admin-notice")
            .unwrap_or_default()
            .contains("Imported: 2 created, 0 updated, 0 unchanged."),
        "{}",
        done.body
    );
    let all = records(&office, "account");
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        by_name(&all, "Café Olé")["fields"]["email"],
        "hola@cafeole.es"
    );
    assert_eq!(by_name(&all, "Ñandú SL")["fields"]["territory"], "madrid");

    // The token was used once: confirming again imports nothing more.
    let again = web.post("/web/admin/import/confirm", &[("token", &token)]);
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("no longer kept"), "{}", again.body);
    assert_eq!(records(&office, "account").len(), 2);

    // Checking the same file again: both rows are unchanged, nothing to do.
    let same = web.check(&[("kind", "account")], "good.csv", GOOD_CSV.as_bytes());
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(text_of(&same.body, "count-unchanged").as_deref(), Some("2"));
    assert!(token_in(&same.body).is_none(), "nothing to import");
}

#[test]
fn a_rep_gets_403_and_a_post_without_the_form_token_or_from_elsewhere_is_refused() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "admin");

    let ana = Web::sign_in(&rt, &server, "ana");
    let page = ana.get("/web/admin/import");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("Administrators only"));
    // With her own valid form token: still refused, nothing written.
    let posted = ana.check(&[("kind", "account")], "good.csv", GOOD_CSV.as_bytes());
    assert_eq!(posted.status, 403, "{}", posted.body);
    assert!(posted.body.contains("Administrators only"));
    let confirm = ana.post("/web/admin/import/confirm", &[("token", "00")]);
    assert_eq!(confirm.status, 403, "{}", confirm.body);

    let admin = Web::sign_in(&rt, &server, "admin");
    let file = || {
        Some(FilePart {
            name: "good.csv",
            bytes: GOOD_CSV.as_bytes(),
        })
    };
    let no_token = admin.post_multipart(
        "/web/admin/import",
        &[("kind", "account")],
        file(),
        &server.url,
    );
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(no_token.body.contains("Request refused"));
    let csrf = admin.csrf();
    let foreign = admin.post_multipart(
        "/web/admin/import",
        &[("csrf", &csrf), ("kind", "account")],
        file(),
        "https://evil.example",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let confirm = admin.send(
        admin
            .http
            .post(format!("{}/web/admin/import/confirm", server.url))
            .header("origin", &server.url)
            .form(&[("token", "00")]),
    );
    assert_eq!(confirm.status, 403, "{}", confirm.body);
    assert!(records(&office, "account").is_empty());

    // A form that is not multipart, or has no file, is refused clearly.
    let plain = admin.post("/web/admin/import", &[("kind", "account")]);
    assert_eq!(plain.status, 400, "{}", plain.body);
    let no_file = admin.post_multipart(
        "/web/admin/import",
        &[("csrf", &csrf), ("kind", "account")],
        None,
        &server.url,
    );
    assert_eq!(no_file.status, 422, "{}", no_file.body);
    assert!(no_file.body.contains("Choose a file."), "{}", no_file.body);
    assert!(records(&office, "account").is_empty());
}

const SPANISH_CSV: &str = "Ref;Empresa;Territorio;Ciudad\n\
                           s1;Ferretería Núñez;sevilla;Sevilla\n\
                           s2;Bodegas Ruiz;madrid;Getafe\n";
const SPANISH_MAPPING: &str = r#"{"columns": {"Ref": "external_id", "Empresa": "name",
    "Territorio": "territory", "Ciudad": "city"}}"#;

#[test]
fn a_saved_mapping_is_checked_then_used_by_name_from_the_api_the_cli_and_the_web_page() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let mapping: Value = serde_json::from_str(SPANISH_MAPPING).expect("json");

    // Refused before saving: a field accounts do not have, a kind an
    // import does not make, a bad name; nothing is saved.
    let wrong = api.send(
        reqwest::Method::PUT,
        "/v1/admin/import-mappings/es-accounts",
        Some(json!({"kind": "account", "mapping": {"columns": {"Empresa": "colour"}}})),
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    assert_eq!(wrong.json["code"], "invalid_mapping");
    assert!(wrong.text.contains("colour"), "{}", wrong.text);
    let note = api.send(
        reqwest::Method::PUT,
        "/v1/admin/import-mappings/es-accounts",
        Some(json!({"kind": "note", "mapping": mapping})),
    );
    assert_eq!(note.status, 400, "{}", note.text);
    let name = api.send(
        reqwest::Method::PUT,
        "/v1/admin/import-mappings/a%20b",
        Some(json!({"kind": "account", "mapping": mapping})),
    );
    assert_eq!(name.status, 400, "{}", name.text);
    assert_eq!(api.get("/v1/admin/import-mappings").json, json!([]));
    let saved = api.send(
        reqwest::Method::PUT,
        "/v1/admin/import-mappings/es-accounts",
        Some(json!({"kind": "account", "mapping": mapping})),
    );
    assert_eq!(saved.status, 200, "{}", saved.text);
    let listed = api.get("/v1/admin/import-mappings").json;
    assert_eq!(listed[0]["name"], "es-accounts");
    assert_eq!(listed[0]["kind"], "account");
    assert_eq!(listed[0]["updated_by"], "admin");
    assert_eq!(listed[0]["mapping"], mapping);

    // Without the mapping the Spanish headers are refused; with its name,
    // the file imports.
    let (status, report) = post_file(
        &server,
        "admin",
        "/v1/import/account?dry_run=true",
        SPANISH_CSV.as_bytes().to_vec(),
    );
    assert_eq!(status, 422, "{report}");
    let (status, report) = post_file(
        &server,
        "admin",
        "/v1/import/account?mapping_name=es-accounts",
        SPANISH_CSV.as_bytes().to_vec(),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 2, "{report}");
    let all = records(&office, "account");
    assert_eq!(by_name(&all, "Bodegas Ruiz")["fields"]["city"], "Getafe");
    // A mapping of another kind, an unknown name, or both ways at once.
    for q in [
        "/v1/import/contact?mapping_name=es-accounts",
        "/v1/import/account?mapping_name=nope",
    ] {
        let (status, report) = post_file(&server, "admin", q, SPANISH_CSV.as_bytes().to_vec());
        assert_eq!(status, 400, "{q}: {report}");
    }
    let both = format!(
        "/v1/import/account?mapping_name=es-accounts&{}",
        query(&[("mapping", SPANISH_MAPPING)])
    );
    assert_eq!(
        post_file(&server, "admin", &both, SPANISH_CSV.as_bytes().to_vec()).0,
        400
    );

    // The server CLI by name: the same file again changes nothing.
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("cuentas.csv");
    std::fs::write(&path, SPANISH_CSV).expect("write");
    let out = Command::new(binary("fieldwork-server"))
        .arg("--data")
        .arg(server.dir())
        .args(["import", "account"])
        .arg(&path)
        .args(["--mapping-name", "es-accounts", "--dry-run"])
        .stdin(Stdio::null())
        .output()
        .expect("run fieldwork-server");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("0 created, 0 updated, 2 unchanged"),
        "{stdout}"
    );

    // The web page offers it, uses it, and saves a typed one.
    let web = Web::sign_in(&rt, &server, "admin");
    let form = web.get("/web/admin/import");
    assert!(
        form.body
            .contains("<option value=\"es-accounts\">es-accounts (account)</option>"),
        "{}",
        form.body
    );
    let used = web.check(
        &[("kind", "account"), ("saved", "es-accounts")],
        "cuentas.csv",
        SPANISH_CSV.as_bytes(),
    );
    assert_eq!(used.status, 200, "{}", used.body);
    assert_eq!(text_of(&used.body, "count-unchanged").as_deref(), Some("2"));
    let typed = r#"{"columns": {"Ref": "external_id", "Empresa": "name", "Territorio": "territory", "Ciudad": ""}}"#;
    let saving = web.check(
        &[
            ("kind", "account"),
            ("mapping", typed),
            ("save_as", "web-saved"),
        ],
        "cuentas.csv",
        SPANISH_CSV.as_bytes(),
    );
    assert_eq!(saving.status, 200, "{}", saving.body);
    assert!(
        text_of(&saving.body, "admin-notice")
            .unwrap_or_default()
            .contains("Saved the mapping web-saved."),
        "{}",
        saving.body
    );
    let names: Vec<Value> = api
        .get("/v1/admin/import-mappings")
        .json
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, [json!("es-accounts"), json!("web-saved")]);
    // A typed mapping the kind refuses is not saved, and said so.
    let refused = web.check(
        &[
            ("kind", "account"),
            ("mapping", r#"{"columns": {"Empresa": "colour"}}"#),
            ("save_as", "broken"),
        ],
        "cuentas.csv",
        SPANISH_CSV.as_bytes(),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("colour"), "{}", refused.body);
    assert_eq!(
        api.get("/v1/admin/import-mappings")
            .json
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let gone = api.delete("/v1/admin/import-mappings/web-saved");
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert_eq!(
        api.delete("/v1/admin/import-mappings/web-saved").status,
        404
    );
    let audit = api.get("/v1/admin/audit?limit=20").text;
    assert!(audit.contains("admin_save_import_mapping"), "{audit}");
    assert!(audit.contains("admin_delete_import_mapping"), "{audit}");
}

const XLSX_MAPPING: &str = r#"{"columns": {"Ref": "external_id", "Empresa": "name",
    "Territorio": "territory", "Código postal": "postal_code", "Límite": "credit_limit",
    "Email": "email"}, "currency": "EUR"}"#;

fn account_header() -> Vec<Cell> {
    vec![
        t("Ref"),
        t("Empresa"),
        t("Territorio"),
        t("Código postal"),
        t("Límite"),
        t("Email"),
    ]
}

#[test]
fn xlsx_files_import_numbers_and_dates_and_a_bad_row_is_refused_by_its_spreadsheet_row() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let accounts_path = format!("/v1/import/account?{}", query(&[("mapping", XLSX_MAPPING)]));

    let accounts = xlsx(&[
        account_header(),
        vec![
            t("X1"),
            t("Ñandú SL"),
            t("madrid"),
            Cell::Number(28001.0),
            Cell::Number(1250.5),
            t("info@nandu.es"),
        ],
        vec![
            t("X2"),
            t("Café Olé"),
            t("madrid"),
            Cell::Number(8001.0),
            // 0.1 + 0.2 as a spreadsheet stores it: no float noise.
            Cell::Number(0.1 + 0.2),
            Cell::Empty,
        ],
    ]);
    assert!(accounts.starts_with(b"PK\x03\x04"));
    let (status, report) = post_file(&server, "admin", &accounts_path, accounts);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["format"], "xlsx");
    assert_eq!(report["created"], 2, "{report}");
    let all = records(&office, "account");
    let nandu = by_name(&all, "Ñandú SL");
    assert_eq!(nandu["fields"]["postal_code"], "28001", "{nandu}");
    assert_eq!(nandu["fields"]["credit_limit"], "125050", "{nandu}");
    assert_eq!(nandu["fields"]["credit_currency"], "EUR");
    let cafe = by_name(&all, "Café Olé");
    assert_eq!(cafe["fields"]["postal_code"], "8001", "{cafe}");
    assert_eq!(cafe["fields"]["credit_limit"], "30", "0.30 EUR: {cafe}");

    // Deals: a date cell, an amount, the account by its external id.
    let deals = xlsx(&[
        vec![
            t("name"),
            t("account"),
            t("stage"),
            t("amount"),
            t("currency"),
            t("expected_close"),
        ],
        vec![
            t("Ampliación tienda"),
            t("X1"),
            t("proposal"),
            Cell::Number(4950.75),
            t("EUR"),
            Cell::Date("2027-03-01".into()),
        ],
    ]);
    // The web page reads the same bytes (a binary upload) the same way.
    let web = Web::sign_in(&rt, &server, "admin");
    let checked = web.check(&[("kind", "deal")], "deals.xlsx", &deals);
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert_eq!(
        text_of(&checked.body, "count-created").as_deref(),
        Some("1")
    );
    assert!(
        records(&office, "deal").is_empty(),
        "a check writes nothing"
    );
    let (status, report) = post_file(&server, "admin", "/v1/import/deal", deals);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 1, "{report}");
    let deal = &records(&office, "deal")[0];
    assert_eq!(deal["fields"]["expected_close"], "2027-03-01", "{deal}");
    assert_eq!(deal["fields"]["amount"], "495075", "{deal}");
    assert_eq!(deal["fields"]["account"], nandu["id"], "{deal}");

    // A bad e-mail on spreadsheet row 5 (rows 3 and 4 empty) and an error
    // cell on row 6: refused by row number, nothing written.
    let rows = vec![
        account_header(),
        vec![t("X3"), t("Uno"), t("madrid")],
        Vec::new(),
        Vec::new(),
        vec![
            t("X4"),
            t("Dos"),
            t("madrid"),
            Cell::Empty,
            Cell::Empty,
            t("not-an-email"),
        ],
        vec![t("X5"), t("Tres"), t("madrid"), Cell::Error("#N/A".into())],
    ];
    let bad = xlsx(&rows);
    let (status, report) = post_file(&server, "admin", &accounts_path, bad);
    assert_eq!(status, 422, "{report}");
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert_eq!(lines, [5, 6], "{report}");
    assert_eq!(report["errors"][0]["column"], "Email", "{report}");
    assert!(
        report["errors"][1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("#N/A"),
        "{report}"
    );
    assert_eq!(records(&office, "account").len(), 2, "nothing written");
    // Skipping the invalid rows imports row 2 only.
    let (status, report) = post_file(
        &server,
        "admin",
        &format!("{accounts_path}&skip_invalid=true"),
        xlsx(&rows),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].as_u64(), report["refused"].as_u64()),
        (Some(1), Some(2))
    );

    // A far cell (Excel's last, XFD1048576) is one refused row, not a
    // grid of seventeen billion cells.
    let far = sheet_xml(&[account_header(), vec![t("X9"), t("Nueve"), t("madrid")]]).replace(
        "</sheetData>",
        "<row r=\"1048576\"><c r=\"XFD1048576\" t=\"inlineStr\"><is><t>far</t></is></c></row></sheetData>",
    );
    let (status, report) = post_file(&server, "admin", &accounts_path, package(&far));
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["errors"][0]["line"], 1048576, "{report}");
    assert_eq!(records(&office, "account").len(), 3);

    // A zip that is not a spreadsheet: a clear refusal of the whole file.
    let mut not_xlsx = package("<worksheet/>");
    not_xlsx.truncate(not_xlsx.len() / 2);
    let (status, report) = post_file(&server, "admin", &accounts_path, not_xlsx);
    assert_eq!(status, 400, "{report}");
    assert!(
        report["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("zip"),
        "{report}"
    );
}

#[test]
fn an_admin_checks_and_imports_an_xlsx_file_in_the_browser() {
    use super::web::{WAIT, browser, one_at_a_time, shot, sign_in};
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "admin");
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("cuentas.xlsx");
    let file = xlsx(&[
        account_header(),
        vec![t("B1"), t("Ñandú SL"), t("madrid"), Cell::Number(28001.0)],
        vec![t("B2"), t("Café Olé"), t("madrid"), Cell::Number(8001.0)],
    ]);
    std::fs::write(&path, file).expect("write the file");

    let b = browser(&rt);
    sign_in(&b, &server, "admin");
    b.goto(&format!("{}/web/admin", server.url));
    b.click(&b.find("#tab-import"));
    b.wait_for("the import page", WAIT, |b| {
        b.try_find("#import-form").is_some()
    });
    // A CSV file with a bad row first: listed, nothing to confirm.
    let bad = tmp.path().join("malas.csv");
    std::fs::write(&bad, BAD_CSV).expect("write the file");
    b.type_into(&b.find("#i-file"), bad.to_str().expect("UTF-8 path"));
    b.click(&b.find("#check"));
    b.wait_for("the refused rows", WAIT, |b| {
        b.try_find("#refused-rows").is_some()
    });
    assert_eq!(b.text_of("#refused-rows td.line").as_deref(), Some("3"));
    assert!(b.try_find("#confirm").is_none());
    shot(&b, "admin-import-refused");

    b.type_into(&b.find("#i-file"), path.to_str().expect("UTF-8 path"));
    b.type_into(&b.find("#i-mapping"), XLSX_MAPPING);
    b.click(&b.find("#check"));
    b.wait_for("the dry run's report", WAIT, |b| {
        b.try_find("#confirm").is_some()
    });
    assert_eq!(b.text_of("#count-created").as_deref(), Some("2"));
    assert!(
        b.text_of("#report-h")
            .unwrap_or_default()
            .contains("cuentas.xlsx")
    );
    shot(&b, "admin-import-checked");
    assert!(
        records(&office, "account").is_empty(),
        "a check writes nothing"
    );

    b.click(&b.find("#confirm"));
    b.wait_for("the import's notice", WAIT, |b| {
        b.text_of("#admin-notice")
            .is_some_and(|t| t.contains("2 created"))
    });
    shot(&b, "admin-import-done");
    let all = records(&office, "account");
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(by_name(&all, "Ñandú SL")["fields"]["postal_code"], "28001");
}

/// A shared string is stored once in the archive but named by every cell
/// that uses it: 300 cells naming one 1 MB string would be 300 MB of text
/// from a file of a few kilobytes, which unpacks to about 1 MB and so
/// passes the zip-bomb check. The reader counts what it keeps, as a CSV
/// file's bytes are counted, and refuses the file past the same limit.
#[test]
fn a_shared_string_named_by_many_cells_is_refused_by_what_it_would_take_in_memory() {
    use fieldwork_tests::xlsx::package_with_shared;

    let big = "a".repeat(1 << 20);
    let mut sheet = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>\
<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>name</t></is></c></row>",
    );
    for row in 2..=301 {
        sheet.push_str(&format!(
            "<row r=\"{row}\"><c r=\"A{row}\" t=\"s\"><v>0</v></c></row>"
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let file = package_with_shared(&sheet, &[&big]);
    assert!(file.len() < 64 * 1024, "{} bytes", file.len());
    let refused = fieldwork_server::api::import::xlsx::read(&file).expect_err("refused");
    assert!(refused.contains("bytes of text"), "{refused}");

    // The same string named by a few cells is read.
    let few: String = sheet
        .split("<row r=\"5\">")
        .next()
        .expect("head")
        .to_owned()
        + "</sheetData></worksheet>";
    let table = fieldwork_server::api::import::xlsx::read(&package_with_shared(&few, &[&big]))
        .expect("three cells are read");
    assert_eq!(table.rows.len(), 3);
}
