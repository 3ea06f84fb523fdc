//! The web app's administration pages over plain HTTP (a cookie jar of
//! one session cookie and the pages' form tokens, no browser): users,
//! the policy, devices and remote wipe, the audit log, API keys and
//! webhooks, against a real server, with the admin API as the
//! independent reader of what changed.

use fieldwork_tests::api::{Answer, ApiClient};
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer};
use serde_json::{Value, json};

use super::web::{csrf_in, form_sign_in, html_escaped, session_cookie};

type Rt = std::sync::Arc<tokio::runtime::Runtime>;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &["madrid"], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// A browser without a browser: one signed-in session over HTTP, posting
/// forms from this origin.
struct Web {
    rt: Rt,
    http: reqwest::Client,
    base: String,
    cookie: String,
}

/// An answer: status, `Location`, body.
struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Web {
    /// Signs `user` in through the sign-in form.
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
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Page {
                status,
                location,
                body: response.text().await.expect("body"),
            }
        })
    }

    fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// Posts `form` from this origin, with no form token added.
    fn post_raw(&self, path: &str, form: &[(&str, &str)], origin: &str) -> Page {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("origin", origin)
                .form(form),
        )
    }

    /// Posts `form` from this origin with the session's form token.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        self.post_raw(path, &all, &self.base.clone())
    }

    /// The session's form token (from the sign-out form of any page).
    fn csrf(&self) -> String {
        let page = self.get("/web/accounts");
        assert_eq!(page.status, 200, "{}", page.body);
        csrf_in(&page.body)
    }
}

/// The admin API, signed in as `admin`.
fn admin_api(rt: &Rt, server: &TestServer) -> ApiClient {
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    ApiClient::with_bearer(rt, &server.admin_url, &token)
}

/// The text of the element with `id` (its first text, tags left out).
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = html[start..].find('>')? + start + 1;
    let close = html[open..].find("</")? + open;
    Some(html[open..close].to_owned())
}

fn user(api: &ApiClient, name: &str) -> Answer {
    api.get(&format!("/v1/admin/users/{name}"))
}

#[test]
fn an_admin_adds_a_user_who_can_then_sign_in_and_changes_them() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let web = Web::sign_in(&rt, &server, "admin");
    // The navigation offers the administration, which lists the users.
    let accounts = web.get("/web/accounts");
    assert!(
        accounts.body.contains("href=\"/web/admin\""),
        "{}",
        accounts.body
    );
    let users = web.get("/web/admin");
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(
        users
            .body
            .contains("<a href=\"/web/admin\" aria-current=\"page\">")
    );
    assert!(
        users
            .body
            .contains("id=\"tab-users\" aria-current=\"page\"")
    );
    for name in ["admin", "marta", "ana"] {
        assert!(
            users.body.contains(&format!("id=\"user-{name}\"")),
            "{name}"
        );
    }
    assert!(!users.body.contains("argon2"), "no password hash");

    let added = web.post(
        "/web/admin/users",
        &[
            ("name", "lucia"),
            ("password", PASSWORD),
            ("role", "rep"),
            ("territories", "madrid, toledo"),
            ("manager", "marta"),
            ("time_zone", "Europe/Madrid"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.location, "/web/admin?added=lucia");
    let listed = web.get(&added.location);
    assert!(listed.body.contains("Added user lucia."), "{}", listed.body);
    let read = user(&api, "lucia");
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["role"], "rep");
    assert_eq!(read.json["territories"], json!(["madrid", "toledo"]));
    assert_eq!(read.json["manager"], "marta");
    assert_eq!(read.json["time_zone"], "Europe/Madrid");
    // Lucía signs in with the password typed for her, and is no admin.
    let lucia = Web::sign_in(&rt, &server, "lucia");
    let hers = lucia.get("/web/accounts");
    assert_eq!(hers.status, 200);
    assert!(!hers.body.contains("href=\"/web/admin\""), "no admin link");

    // Changed on her page: role, territories, no manager, no time zone.
    let page = web.get("/web/admin/users/lucia");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"disable\""), "{}", page.body);
    let saved = web.post(
        "/web/admin/users/lucia",
        &[
            ("role", "manager"),
            ("territories", "sevilla"),
            ("manager", ""),
            ("time_zone", ""),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let read = user(&api, "lucia");
    assert_eq!(read.json["role"], "manager");
    assert_eq!(read.json["territories"], json!(["sevilla"]));
    assert_eq!(read.json["manager"], Value::Null);
    assert_eq!(read.json["time_zone"], Value::Null);
    assert!(web.get(&saved.location).body.contains("Saved."));
    // Two bad values at once: both shown next to their fields, what was
    // typed kept, nothing changed.
    let refused = web.post(
        "/web/admin/users/lucia",
        &[
            ("role", "rep"),
            ("territories", "toledo"),
            ("manager", "lucia"),
            ("time_zone", "Mars/Olympus"),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let manager_error = text_of(&refused.body, "e-manager").expect("manager refused");
    assert!(manager_error.contains("own manager"), "{manager_error}");
    let zone_error = text_of(&refused.body, "e-time_zone").expect("time zone refused");
    assert!(zone_error.contains("Mars/Olympus"), "{zone_error}");
    assert!(refused.body.contains("value=\"Mars/Olympus\""), "kept");
    assert!(refused.body.contains("value=\"toledo\""), "kept");
    let read = user(&api, "lucia");
    assert_eq!(read.json["role"], "manager", "nothing changed");
    assert_eq!(read.json["territories"], json!(["sevilla"]));
    // The administrator cannot take their own administration away.
    let own = web.post(
        "/web/admin/users/admin",
        &[
            ("role", "rep"),
            ("territories", ""),
            ("manager", ""),
            ("time_zone", ""),
        ],
    );
    assert_eq!(own.status, 422, "{}", own.body);
    assert!(text_of(&own.body, "e-role").is_some_and(|e| e.contains("another administrator")));
    assert_eq!(user(&api, "admin").json["role"], "admin");
    // Each action is in the audit log, shown on the audit page.
    let audit = web.get("/web/admin/audit");
    assert_eq!(audit.status, 200, "{}", audit.body);
    for code in ["admin_add_user", "admin_set_user"] {
        assert!(audit.body.contains(code), "{code}: {}", audit.body);
    }
}

#[test]
fn an_unknown_role_is_shown_next_to_its_field_and_no_user_is_created() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let web = Web::sign_in(&rt, &server, "admin");
    let refused = web.post(
        "/web/admin/users",
        &[
            ("name", "pablo"),
            ("password", PASSWORD),
            ("role", "boss"),
            ("territories", "madrid, <b>toledo</b>"),
            ("manager", "marta"),
            ("time_zone", "Europe/Madrid"),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let role_error = text_of(&refused.body, "e-role").expect("the role refused next to it");
    assert!(
        role_error.contains(&html_escaped("role `boss` is not in the policy")),
        "{role_error}"
    );
    assert!(refused.body.contains("aria-invalid=\"true\""));
    // Everything typed is kept, escaped; the password is not sent back.
    assert!(refused.body.contains("value=\"pablo\""), "{}", refused.body);
    assert!(refused.body.contains(&format!(
        "value=\"{}\"",
        html_escaped("madrid, <b>toledo</b>")
    )));
    assert!(refused.body.contains("<option value=\"boss\" selected>"));
    assert!(refused.body.contains("value=\"Europe/Madrid\""));
    assert!(!refused.body.contains(PASSWORD), "no password in the page");
    assert_eq!(user(&api, "pablo").status, 404, "no user created");
    // Every problem at once: an unknown role, manager and time zone, each
    // next to its field.
    let several = web.post(
        "/web/admin/users",
        &[
            ("name", "pablo"),
            ("password", PASSWORD),
            ("role", "boss"),
            ("manager", "nobody"),
            ("time_zone", "Mars/Olympus"),
        ],
    );
    assert_eq!(several.status, 422, "{}", several.body);
    assert!(text_of(&several.body, "e-role").is_some_and(|e| e.contains("boss")));
    assert!(text_of(&several.body, "e-manager").is_some_and(|e| e.contains("nobody")));
    assert!(text_of(&several.body, "e-time_zone").is_some_and(|e| e.contains("Mars/Olympus")));
    assert_eq!(user(&api, "pablo").status, 404, "no user created");
    // A bad name is shown next to the name.
    let bad_name = web.post(
        "/web/admin/users",
        &[("name", "pa blo"), ("password", PASSWORD), ("role", "rep")],
    );
    assert_eq!(bad_name.status, 422);
    assert!(text_of(&bad_name.body, "e-name").is_some_and(|e| e.contains("user name")));
    // The API's password rule is shown next to the password.
    let short = web.post(
        "/web/admin/users",
        &[("name", "pablo"), ("password", "short"), ("role", "rep")],
    );
    assert_eq!(short.status, 422);
    assert!(
        text_of(&short.body, "e-password").is_some_and(|e| e.contains("at least 8")),
        "{}",
        short.body
    );
    // An empty password is refused before the API is asked.
    let no_password = web.post("/web/admin/users", &[("name", "pablo"), ("role", "rep")]);
    assert_eq!(no_password.status, 422);
    assert!(text_of(&no_password.body, "e-password").is_some());
    assert_eq!(user(&api, "pablo").status, 404, "still none");
}

#[test]
fn a_rep_gets_403_on_every_admin_page_and_action() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let revision = api.get("/v1/admin/policy").json["revision"].clone();
    let source = api.get("/v1/admin/policy").json["source"]
        .as_str()
        .expect("source")
        .to_owned();
    let ana = Web::sign_in(&rt, &server, "ana");
    assert!(
        !ana.get("/web/accounts")
            .body
            .contains("href=\"/web/admin\"")
    );
    for path in [
        "/web/admin",
        "/web/admin/users/marta",
        "/web/admin/policy",
        "/web/admin/devices",
        "/web/admin/devices/wipe?device=d1",
        "/web/admin/audit",
        "/web/admin/keys",
        "/web/admin/webhooks",
    ] {
        let page = ana.get(path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains("Administrators only"), "{path}");
        assert!(
            page.body
                .contains("Only an administrator may use the administration pages"),
            "{path}"
        );
    }
    // Hand-made posts with a valid form token: refused, nothing changes.
    for (path, form) in [
        (
            "/web/admin/users",
            vec![("name", "mole"), ("password", PASSWORD), ("role", "admin")],
        ),
        (
            "/web/admin/users/ana",
            vec![
                ("role", "admin"),
                ("territories", ""),
                ("manager", ""),
                ("time_zone", ""),
            ],
        ),
        ("/web/admin/users/marta/disable", vec![]),
        ("/web/admin/users/marta/enable", vec![]),
        ("/web/admin/policy", vec![("source", source.as_str())]),
        ("/web/admin/devices/wipe", vec![("device", "d1")]),
        ("/web/admin/keys", vec![("name", "mine"), ("user", "ana")]),
        ("/web/admin/keys/1/revoke", vec![]),
        (
            "/web/admin/webhooks",
            vec![
                ("url", "http://127.0.0.1:9/x"),
                ("user", "ana"),
                ("event", "record.created"),
            ],
        ),
        ("/web/admin/webhooks/1/delete", vec![]),
        ("/web/admin/webhooks/deliveries/1/redeliver", vec![]),
    ] {
        let posted = ana.post(path, &form);
        assert_eq!(posted.status, 403, "{path}: {}", posted.body);
        assert!(posted.body.contains("Administrators only"), "{path}");
    }
    assert_eq!(user(&api, "mole").status, 404);
    assert_eq!(user(&api, "ana").json["role"], "rep");
    assert_eq!(user(&api, "marta").json["disabled"], false);
    assert_eq!(api.get("/v1/admin/policy").json["revision"], revision);
    assert_eq!(api.get("/v1/admin/api-keys").json, json!([]));
    assert_eq!(api.get("/v1/admin/webhooks").json, json!([]));
}

#[test]
fn admin_posts_without_the_form_token_or_from_another_origin_are_refused() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let web = Web::sign_in(&rt, &server, "admin");
    let csrf = web.csrf();
    let user_form = [("name", "mole"), ("password", PASSWORD), ("role", "rep")];
    let no_token = web.post_raw("/web/admin/users", &user_form, &server.url);
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(no_token.body.contains("Request refused"));
    let mut with_token = vec![("csrf", csrf.as_str())];
    with_token.extend_from_slice(&user_form);
    let foreign = web.post_raw("/web/admin/users", &with_token, "https://evil.example");
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_eq!(user(&api, "mole").status, 404, "no user created");
    let disable = web.post_raw("/web/admin/users/marta/disable", &[], &server.url);
    assert_eq!(disable.status, 403);
    let policy = web.post_raw("/web/admin/policy", &[("source", "x = 1")], &server.url);
    assert_eq!(policy.status, 403);
    let key = web.post_raw(
        "/web/admin/keys",
        &[("name", "k"), ("user", "marta")],
        &server.url,
    );
    assert_eq!(key.status, 403);
    assert_eq!(user(&api, "marta").json["disabled"], false);
    assert_eq!(api.get("/v1/admin/api-keys").json, json!([]));
    // With the token and this origin, the same post is accepted.
    let accepted = web.post_raw("/web/admin/users", &with_token, &server.url);
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(user(&api, "mole").status, 200);
}

#[test]
fn disabling_a_user_ends_their_web_session_and_enabling_lets_them_back() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let web = Web::sign_in(&rt, &server, "admin");
    let ana = Web::sign_in(&rt, &server, "ana");
    assert_eq!(ana.get("/web/accounts").status, 200);
    let disabled = web.post("/web/admin/users/ana/disable", &[]);
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    let page = web.get(&disabled.location);
    assert!(page.body.contains("id=\"user-disabled\""), "{}", page.body);
    assert!(page.body.contains("their sessions are ended"));
    assert_eq!(user(&api, "ana").json["disabled"], true);
    let after = ana.get("/web/accounts");
    assert_eq!(after.status, 303, "signed out: {}", after.body);
    assert!(
        after.location.starts_with("/web/login"),
        "{}",
        after.location
    );
    // The administrator cannot disable themself.
    let own = web.post("/web/admin/users/admin/disable", &[]);
    assert_eq!(own.status, 409, "{}", own.body);
    assert!(own.body.contains("you may not disable yourself"));
    assert!(
        !web.get("/web/admin/users/admin")
            .body
            .contains("id=\"disable\"")
    );
    // Enabled again, Ana signs in anew.
    let enabled = web.post("/web/admin/users/ana/enable", &[]);
    assert_eq!(enabled.status, 303, "{}", enabled.body);
    assert_eq!(user(&api, "ana").json["disabled"], false);
    let again = Web::sign_in(&rt, &server, "ana");
    assert_eq!(again.get("/web/accounts").status, 200);
    let audit = web.get("/web/admin/audit");
    for code in ["admin_disable_user", "admin_enable_user"] {
        assert!(audit.body.contains(code), "{code}");
    }
}

/// Puts `toml` through the admin API (the reference for the page).
fn put_policy(rt: &Rt, server: &TestServer, toml: &str) -> (u16, Value) {
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    rt.block_on(async {
        let r = reqwest::Client::new()
            .put(format!("{}/v1/admin/policy", server.admin_url))
            .bearer_auth(token)
            .body(toml.to_owned())
            .send()
            .await
            .expect("put policy");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn a_refused_policy_lists_every_problem_and_leaves_the_policy_in_force() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let before = api.get("/v1/admin/policy").json;
    let revision = before["revision"].as_u64().expect("revision");
    let source = before["source"].as_str().expect("source").to_owned();
    let web = Web::sign_in(&rt, &server, "admin");
    let page = web.get("/web/admin/policy");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        text_of(&page.body, "revision").as_deref(),
        Some(revision.to_string().as_str())
    );
    assert!(page.body.contains("id=\"role-rep\""), "the roles summary");
    assert!(page.body.contains(&html_escaped("[roles.rep]")), "the text");
    // Two unknown classes: the API's problems, every one on the page.
    let broken = source
        .replacen(
            "read = [\"general\", \"contact_details\"]",
            "read = [\"general\", \"nowhere\"]",
            1,
        )
        .replacen("write = []", "write = [\"elsewhere\"]", 1);
    assert_ne!(broken, source);
    let refused = web.post("/web/admin/policy", &[("source", &broken)]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let error = text_of(&refused.body, "policy-error").expect("the refusal");
    assert!(error.contains("stays in force"), "{error}");
    let (status, problem) = put_policy(&rt, &server, &broken);
    assert_eq!(status, 422, "{problem}");
    let errors = problem["errors"].as_array().expect("errors");
    assert!(errors.len() >= 2, "two problems: {problem}");
    assert_eq!(
        refused.body.matches("<li class=\"problem\">").count(),
        errors.len(),
        "{}",
        refused.body
    );
    for e in errors {
        let e = e.as_str().expect("text");
        assert!(refused.body.contains(&html_escaped(e)), "{e}");
    }
    // The text typed is kept in the form; the policy in force is unchanged.
    assert!(refused.body.contains(&html_escaped("\"nowhere\"")));
    let now = api.get("/v1/admin/policy").json;
    assert_eq!(now["revision"], revision);
    assert_eq!(now["source"], source.as_str());
    // Not TOML at all: refused with the parser's message.
    let garbage = web.post("/web/admin/policy", &[("source", "[[[ nope")]);
    assert_eq!(garbage.status, 422);
    assert_eq!(garbage.body.matches("<li class=\"problem\">").count(), 1);
    // Taking administration from oneself is refused the API's way.
    let lockout = source
        .replacen("admin = true", "admin = false", 1)
        .replacen("[roles.auditor]\n", "[roles.auditor]\nadmin = true\n", 1);
    let own = web.post("/web/admin/policy", &[("source", &lockout)]);
    assert_eq!(own.status, 422, "{}", own.body);
    assert!(
        own.body
            .contains(&html_escaped("roles.admin: you (`admin`)")),
        "{}",
        own.body
    );
    assert_eq!(api.get("/v1/admin/policy").json["revision"], revision);
    // A valid one is installed as the next revision.
    let installed = web.post("/web/admin/policy", &[("source", &source)]);
    assert_eq!(installed.status, 303, "{}", installed.body);
    assert_eq!(api.get("/v1/admin/policy").json["revision"], revision + 1);
    let shown = web.get(&installed.location);
    assert!(
        shown
            .body
            .contains(&format!("Installed revision {}.", revision + 1)),
        "{}",
        shown.body
    );
}

#[test]
fn wiping_a_device_asks_first_then_marks_it() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let now = server.state.now_ms();
    server
        .state
        .db
        .write_blocking(|w| {
            let ana = fieldwork_server::db::users::by_name(&w.conn, "ana")?.expect("ana");
            fieldwork_server::db::devices::register(&w.conn, "ana-phone", ana.id, now)?;
            Ok(())
        })
        .expect("a device");
    let web = Web::sign_in(&rt, &server, "admin");
    let list = web.get("/web/admin/devices");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("data-device=\"ana-phone\""),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("/web/admin/devices/wipe?device=ana-phone")
    );
    // The users page shows when her device was last seen.
    let users = web.get("/web/admin");
    let last = users
        .body
        .split("id=\"user-ana\"")
        .nth(1)
        .expect("ana's row");
    let last = last.split("</tr>").next().expect("row");
    assert!(
        last.contains("class=\"last-seen\">20") || last.contains("class=\"last-seen\">19"),
        "{last}"
    );
    // The first step asks and changes nothing.
    let ask = web.get("/web/admin/devices/wipe?device=ana-phone");
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("id=\"confirm-wipe\""));
    let wipe_state = || {
        api.get("/v1/admin/devices?user=ana").json[0]["wipe"]
            .as_str()
            .expect("wipe")
            .to_owned()
    };
    assert_eq!(wipe_state(), "none");
    // The confirming POST marks it.
    let wiped = web.post("/web/admin/devices/wipe", &[("device", "ana-phone")]);
    assert_eq!(wiped.status, 303, "{}", wiped.body);
    assert_eq!(wipe_state(), "requested");
    let list = web.get(&wiped.location);
    assert!(list.body.contains("is marked for wipe"), "{}", list.body);
    let row = list
        .body
        .split("data-device=\"ana-phone\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the row");
    assert!(row.contains("class=\"wipe\">requested"), "{row}");
    assert!(row.contains("by admin"), "{row}");
    assert!(
        !row.contains("/web/admin/devices/wipe"),
        "no second wipe button"
    );
    // An unknown device is 404.
    let unknown = web.post("/web/admin/devices/wipe", &[("device", "nope")]);
    assert_eq!(unknown.status, 404);
    assert!(
        web.get("/web/admin/audit")
            .body
            .contains("device_wipe_requested")
    );
}

#[test]
fn the_audit_log_pages_newest_first() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    server
        .state
        .db
        .write_blocking(|w| {
            for i in 0..120_i64 {
                let entry = fieldwork_server::db::audit::AuditEntry::admin(
                    1_000_000 + i,
                    "admin",
                    "admin_test",
                    format!("entry number {i:03}"),
                );
                fieldwork_server::db::audit::record(&w.conn, &entry)?;
            }
            Ok(())
        })
        .expect("entries");
    let web = Web::sign_in(&rt, &server, "admin");
    let first = web.get("/web/admin/audit");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body.matches("<tr class=\"entry").count(), 50);
    assert!(first.body.contains("id=\"older\""));
    assert!(!first.body.contains("id=\"newer\""));
    // The newest test entry comes before older ones.
    let a = first.body.find("entry number 119").expect("newest");
    let b = first.body.find("entry number 118").expect("next");
    assert!(a < b);
    let third = web.get("/web/admin/audit?page=3");
    assert_eq!(third.status, 200);
    assert!(third.body.contains("id=\"newer\""));
    assert!(third.body.contains("entry number 000"), "the oldest");
    for bad in ["0", "x", "100000"] {
        let refused = web.get(&format!("/web/admin/audit?page={bad}"));
        assert_eq!(refused.status, 400, "{bad}");
    }
}

#[test]
fn a_new_api_keys_secret_appears_once_then_never_and_it_can_be_revoked() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let web = Web::sign_in(&rt, &server, "admin");
    let created = web.post(
        "/web/admin/keys",
        &[
            ("name", "ERP export"),
            ("user", "marta"),
            ("read_only", "1"),
            ("kind", "account"),
        ],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let marker = "id=\"new-key\" type=\"text\" readonly value=\"";
    let start = created.body.find(marker).expect("the new key") + marker.len();
    let key = created.body[start..]
        .split('"')
        .next()
        .expect("value")
        .to_owned();
    assert!(key.starts_with("fwk_"), "{key}");
    assert_eq!(created.body.matches(&key).count(), 1, "shown once");
    // It works as the API key it is.
    let me = ApiClient::with_bearer(&rt, &server.url, &key).get("/v1/me");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"], "marta");
    assert_eq!(me.json["key"]["read_only"], true);
    assert_eq!(me.json["key"]["kinds"], json!(["account"]));
    // Never again: not in the list, nor its secret part.
    let secret = key.rsplit('_').next().expect("secret part").to_owned();
    let list = web.get("/web/admin/keys");
    assert_eq!(list.status, 200);
    assert!(list.body.contains("ERP export"));
    assert!(!list.body.contains(&secret), "the secret is never listed");
    assert!(!list.body.contains("id=\"new-key\""));
    // A bad kind is shown next to the kinds; nothing is created.
    let refused = web.post(
        "/web/admin/keys",
        &[("name", "bad"), ("user", "marta"), ("kind", "spaceship")],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(text_of(&refused.body, "e-kinds").is_some_and(|e| e.contains("spaceship")));
    assert!(refused.body.contains("value=\"bad\""), "kept");
    // No user chosen (the form offers none by default): refused.
    let no_user = web.post("/web/admin/keys", &[("name", "nobody's")]);
    assert_eq!(no_user.status, 422);
    assert!(text_of(&no_user.body, "e-user").is_some_and(|e| e.contains("Choose the user")));
    let api = admin_api(&rt, &server);
    assert_eq!(
        api.get("/v1/admin/api-keys").json.as_array().map(Vec::len),
        Some(1)
    );
    // Revoked: the key is refused at once.
    let id = api.get("/v1/admin/api-keys").json[0]["id"]
        .as_i64()
        .expect("id");
    let revoked = web.post(&format!("/web/admin/keys/{id}/revoke"), &[]);
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert!(
        web.get(&revoked.location)
            .body
            .contains(&format!("Revoked key {id}"))
    );
    let me = ApiClient::with_bearer(&rt, &server.url, &key).get("/v1/me");
    assert_eq!(me.status, 401);
}

#[test]
fn a_webhook_is_subscribed_with_its_secret_shown_once_and_deleted() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let api = admin_api(&rt, &server);
    let web = Web::sign_in(&rt, &server, "admin");
    let bad = web.post(
        "/web/admin/webhooks",
        &[
            ("url", "ftp://nowhere"),
            ("user", "marta"),
            ("event", "record.created"),
        ],
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(text_of(&bad.body, "e-url").is_some(), "{}", bad.body);
    assert!(bad.body.contains("value=\"ftp://nowhere\""));
    let created = web.post(
        "/web/admin/webhooks",
        &[
            ("url", "http://127.0.0.1:9/hook"),
            ("user", "marta"),
            ("event", "record.created"),
            ("event", "record.changed"),
        ],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let marker = "id=\"new-secret\" type=\"text\" readonly value=\"";
    let start = created.body.find(marker).expect("the secret") + marker.len();
    let secret = created.body[start..]
        .split('"')
        .next()
        .expect("value")
        .to_owned();
    assert!(secret.len() >= 32, "{secret}");
    let hooks = api.get("/v1/admin/webhooks").json;
    let id = hooks[0]["id"].as_i64().expect("id");
    assert_eq!(
        hooks[0]["events"],
        json!(["record.created", "record.changed"])
    );
    let list = web.get("/web/admin/webhooks");
    assert!(list.body.contains("http://127.0.0.1:9/hook"));
    assert!(!list.body.contains(&secret), "never listed");
    // A record Marta creates makes a delivery (to a closed port: it
    // fails and is retried); the page lists it and sends it again.
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Bodega Ortiz", "territory": "madrid"}}),
    );
    assert!(account.status < 300, "{}", account.text);
    let mut delivery = None;
    super::web::eventually("a delivery", || {
        delivery = api.get(&format!("/v1/admin/webhooks/{id}/deliveries")).json[0]["id"].as_i64();
        delivery.is_some()
    });
    let delivery = delivery.expect("a delivery");
    let list = web.get("/web/admin/webhooks");
    assert!(
        list.body.contains(&format!("id=\"redeliver-{delivery}\"")),
        "{}",
        list.body
    );
    let again = web.post(
        &format!("/web/admin/webhooks/deliveries/{delivery}/redeliver"),
        &[],
    );
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(
        web.get(&again.location)
            .body
            .contains(&format!("Delivery {delivery} is queued again"))
    );
    assert!(
        web.get("/web/admin/audit")
            .body
            .contains("admin_redeliver_webhook")
    );
    let deleted = web.post(&format!("/web/admin/webhooks/{id}/delete"), &[]);
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(api.get("/v1/admin/webhooks").json, json!([]));
}

#[test]
fn every_admin_page_labels_its_inputs() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let web = Web::sign_in(&rt, &server, "admin");
    for path in [
        "/web/admin",
        "/web/admin/users/ana",
        "/web/admin/policy",
        "/web/admin/devices",
        "/web/admin/audit",
        "/web/admin/keys",
        "/web/admin/webhooks",
        "/web/admin/import",
    ] {
        let page = web.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains("<h1>Administration</h1>"), "{path}");
        assert!(
            page.body.contains("aria-label=\"Administration\""),
            "{path}: tabs"
        );
        // Every visible input, select and textarea with an id has a label.
        for tag in ["<input id=\"", "<select id=\"", "<textarea id=\""] {
            for part in page.body.split(tag).skip(1) {
                let id = part.split('"').next().expect("id");
                assert!(
                    page.body.contains(&format!("for=\"{id}\"")),
                    "{path}: no label for #{id}"
                );
            }
        }
        assert!(
            !page.body.contains("<input type=\"text\"") && !page.body.contains("<input name="),
            "{path}: an input without an id"
        );
    }
}

#[test]
fn an_admin_revokes_a_users_calendar_feed_on_her_page() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "ana"));
    let feed =
        ApiClient::with_bearer(&rt, &server.url, &token).post("/v1/me/calendar-feed", json!({}));
    assert_eq!(feed.status, 201, "{}", feed.text);
    let url = feed.json["url"].as_str().expect("url").to_owned();
    let fetch = || {
        rt.block_on(async {
            reqwest::get(format!("{}{url}", server.url))
                .await
                .expect("feed")
                .status()
                .as_u16()
        })
    };
    assert_eq!(fetch(), 200);
    let web = Web::sign_in(&rt, &server, "admin");
    assert!(
        web.get("/web/admin/users/ana")
            .body
            .contains("id=\"revoke-feed\"")
    );
    let revoked = web.post("/web/admin/users/ana/calendar-feed/revoke", &[]);
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert!(
        web.get(&revoked.location)
            .body
            .contains("calendar feed is revoked")
    );
    assert_eq!(fetch(), 404, "the address no longer answers");
    // None left: the API's 404, shown.
    let again = web.post("/web/admin/users/ana/calendar-feed/revoke", &[]);
    assert_eq!(again.status, 404, "{}", again.body);
    assert!(again.body.contains("has no calendar feed"));
    assert!(
        web.get("/web/admin/audit")
            .body
            .contains("admin_revoke_calendar_feed")
    );
}

/// The administration pages in a real browser: the users page and the
/// policy page render with their tabs (and are pictured for the docs).
#[test]
fn the_administration_pages_in_a_browser() {
    use super::web::{browser, one_at_a_time, shot, sign_in};
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let b = browser(&rt);
    sign_in(&b, &server, "admin");
    let nav = b.text_of("header nav").unwrap_or_default();
    assert!(nav.contains("Administration"), "{nav}");
    b.click(&b.find("header nav a[href='/web/admin']"));
    b.wait_for("the users page", super::web::WAIT, |b| {
        b.text_of("main")
            .is_some_and(|t| t.contains("marta") && t.contains("ana"))
    });
    shot(&b, "admin-users");
    b.goto(&format!("{}/web/admin/policy", server.url));
    assert!(b.try_find("textarea").is_some(), "the policy's edit form");
    shot(&b, "admin-policy");
    // A manager's navigation has no administration.
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    let nav = b.text_of("header nav").unwrap_or_default();
    assert!(!nav.contains("Administration"), "{nav}");
}
