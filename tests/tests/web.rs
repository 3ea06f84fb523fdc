//! The web app in a real browser: headless Chromium driven through
//! chromedriver ([`fieldwork_tests::browser`]) against a real server, with
//! real devices syncing over the real protocol and the office API as the
//! independent reader of what the server stored.

use std::time::Duration;

use fieldwork_core::RecordKind;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::browser::Browser;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer};
use serde_json::{Value, json};

pub(crate) const WAIT: Duration = Duration::from_secs(15);

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// One browser at a time: a machine with few cores cannot start several
/// Chromiums at once within chromedriver's time limits.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the one-browser lock for a test.
pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_BROWSER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn browser(rt: &std::sync::Arc<tokio::runtime::Runtime>) -> Browser {
    Browser::start(rt).unwrap_or_else(|why| panic!("headless Chromium could not start: {why}"))
}

/// Fills in and sends the sign-in form.
fn submit_sign_in(b: &Browser, server: &TestServer, user: &str, password: &str) {
    b.goto(&format!("{}/web/login", server.url));
    b.type_into(&b.find("#user"), user);
    b.type_into(&b.find("#password"), password);
    b.click(&b.find("#sign-in"));
}

/// Signs `user` in and waits for the accounts page.
pub(crate) fn sign_in(b: &Browser, server: &TestServer, user: &str) {
    submit_sign_in(b, server, user, PASSWORD);
    b.wait_for("the accounts page", WAIT, |b| {
        b.url().ends_with("/web/accounts") && b.try_find("#results").is_some()
    });
}

/// The value of the page's first form token.
pub(crate) fn csrf_of_page(b: &Browser) -> String {
    b.execute(
        "return document.querySelector('input[name=csrf]').value;",
        vec![],
    )
    .as_str()
    .expect("a form token on the page")
    .to_owned()
}

/// With `FW_WEB_SCREENSHOTS=DIR`, keeps a 1280×800 picture of the page as
/// `DIR/NAME.png` (for the docs and for looking at what a test saw); the
/// window stays at that size afterwards.
pub(crate) fn shot(b: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("FW_WEB_SCREENSHOTS") {
        // The window includes the browser's frame: size it so that the
        // page itself (what is saved) is 1280×800.
        b.set_window_size(1280, 800);
        let frame = b.execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
            vec![],
        );
        let extra = |i: usize| u32::try_from(frame[i].as_u64().unwrap_or(0)).unwrap_or(0);
        b.set_window_size(1280 + extra(0), 800 + extra(1));
        b.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")));
    }
}

pub(crate) fn id_of(answer: &fieldwork_tests::api::Answer) -> String {
    answer.json["id"].as_str().expect("an id").to_owned()
}

/// A raw HTTP client posting forms with a browser's session cookie.
pub(crate) struct Forms {
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    http: reqwest::Client,
    base: String,
    cookie: String,
}

/// An answer to a raw form post.
pub(crate) struct Posted {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) body: String,
}

impl Forms {
    pub(crate) fn of(
        b: &Browser,
        rt: &std::sync::Arc<tokio::runtime::Runtime>,
        base: &str,
    ) -> Forms {
        let cookie = b.cookie("fw_session").expect("the session cookie");
        Forms {
            rt: rt.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: format!("fw_session={}", cookie["value"].as_str().expect("value")),
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Posted {
        self.rt.block_on(async {
            let mut r = self
                .http
                .request(method, format!("{}{path}", self.base))
                .header("cookie", &self.cookie);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            if !form.is_empty() {
                r = r.form(form);
            }
            let response = r.send().await.expect("request");
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.text().await.expect("body");
            Posted {
                status,
                location,
                body,
            }
        })
    }

    pub(crate) fn post(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Posted {
        self.request(reqwest::Method::POST, path, form, origin)
    }

    fn get(&self, path: &str) -> Posted {
        self.request(reqwest::Method::GET, path, &[], None)
    }
}

#[test]
fn an_account_a_rep_syncs_from_a_phone_appears_on_the_managers_open_page() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    // The live stream is open before the phone syncs, and this page is
    // never reloaded: a marker set now must survive.
    b.wait_for("the live stream to open", WAIT, |b| {
        b.execute(
            "return document.body.getAttribute('data-live-open');",
            vec![],
        ) == json!("1")
    });
    b.execute("window.fieldworkMarker = 'same page';", vec![]);
    assert!(!b.page_text().contains("Panadería Ñandú"));
    // Offline on the phone, then one sync.
    let phone = TestDevice::new(&rt);
    phone.login(&server.url, "ana");
    let id = phone.create(
        RecordKind::Account,
        &[
            ("name", "Panadería Ñandú"),
            ("territory", "madrid"),
            ("city", "Toledo"),
        ],
    );
    phone.sync();
    b.wait_for("the synced account on the open page", WAIT, |b| {
        b.page_text().contains("Panadería Ñandú")
    });
    assert_eq!(
        b.execute("return window.fieldworkMarker || null;", vec![]),
        json!("same page"),
        "the page was refreshed in place, not reloaded"
    );
    assert!(
        b.try_find(&format!("a[href='/web/records/account/{id}']"))
            .is_some(),
        "the row links to the card"
    );
    // The list's search finds it ignoring accents, and the card opens.
    b.goto(&format!("{}/web/accounts?q=panaderia+nandu", server.url));
    assert!(
        b.page_text().contains("Panadería Ñandú"),
        "{}",
        b.page_text()
    );
    b.click(&b.find(&format!("a[href='/web/records/account/{id}']")));
    b.wait_for("the card", WAIT, |b| b.try_find("#record-title").is_some());
    assert_eq!(b.text(&b.find("#record-title")), "Panadería Ñandú");
    assert!(b.page_text().contains("Timeline"), "{}", b.page_text());
}

#[test]
fn the_manager_moves_a_deal_to_won_on_the_board() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Ferretería Núñez", "territory": "madrid"}}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let account = id_of(&account);
    let mut deals = Vec::new();
    for (name, amount, currency) in [
        ("Ampliación tienda", "125050", "EUR"),
        ("Mostrador nuevo", "4950", "EUR"),
        ("Pedido Budapest", "3000000", "HUF"),
    ] {
        let deal = office.post(
            "/v1/records/deal",
            json!({"fields": {"name": name, "account": account, "stage": "proposal",
                              "amount": amount, "currency": currency, "expected_close": "2027-03-01"}}),
        );
        assert_eq!(deal.status, 201, "{}", deal.text);
        deals.push(id_of(&deal));
    }
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&format!("{}/web/pipeline", server.url));
    assert_eq!(b.text(&b.find("#count-proposal")), "3");
    let totals = b.text(&b.find("#totals-proposal"));
    assert!(totals.contains("1,300.00 EUR"), "{totals}");
    assert!(totals.contains("30,000.00 HUF"), "{totals}");
    assert_eq!(b.text(&b.find("#count-won")), "0");
    let deal = &deals[0];
    win_on_the_board(&b, deal);
    assert_eq!(b.text(&b.find("#count-proposal")), "2");
    shot(&b, "pipeline-board");
    assert!(b.text(&b.find("#totals-won")).contains("1,250.50 EUR"));
    // The server stored it as a change by the manager: the stage, and the
    // stage history the timeline is built from.
    let read = office.get(&format!("/v1/records/deal/{deal}"));
    assert_eq!(read.json["fields"]["stage"], "won", "{}", read.text);
    let history = office.get(&format!("/v1/records/deal/{deal}/history"));
    let by_marta_with_stage = history
        .json
        .as_array()
        .expect("history entries")
        .iter()
        .filter(|e| e["author"] == "marta")
        .flat_map(|e| e["fields"].as_array().cloned().unwrap_or_default())
        .any(|f| f["field"] == "stage");
    assert!(by_marta_with_stage, "{}", history.text);
    let timeline = office.get(&format!("/v1/reports/timeline/{account}"));
    assert_eq!(timeline.status, 200, "{}", timeline.text);
    let moves: Vec<&Value> = timeline.json["events"]
        .as_array()
        .expect("timeline events")
        .iter()
        .filter(|e| e["record"] == json!(deal) && e["kind"] == "deal_stage")
        .collect();
    assert_eq!(moves.len(), 1, "{}", timeline.text);
    assert_eq!(moves[0]["detail"], "won");
    // Filters: by expected close, nothing closes in 2026.
    b.goto(&format!(
        "{}/web/pipeline?from=2026-01-01&to=2026-12-31",
        server.url
    ));
    assert_eq!(b.text(&b.find("#count-proposal")), "0");
    assert_eq!(b.text(&b.find("#count-won")), "0");
}

#[test]
fn a_rep_sees_no_credit_limit_and_the_server_refuses_a_hand_made_one() {
    let _one = one_at_a_time();
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
    let id = id_of(&created);
    let card = format!("{}/web/records/account/{id}", server.url);
    // The manager's card shows it, formatted.
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&card);
    assert!(b.try_find("[name='f.credit_limit']").is_some());
    assert!(b.page_source().contains("987,654.32 EUR"));
    drop(b);
    let b = browser(&rt);
    sign_in(&b, &server, "ana");
    b.goto(&card);
    assert_eq!(b.text(&b.find("#record-title")), "Crédito Alto SA");
    let source = b.page_source();
    for hidden in [
        "98765432",
        "987654.32",
        "credit_limit",
        "Credit limit",
        "credit_currency",
    ] {
        assert!(
            !source.contains(hidden),
            "`{hidden}` reached the rep's page"
        );
    }
    assert!(b.try_find("[name='f.credit_limit']").is_none());
    // The form itself, changed by hand in the browser to carry it.
    b.execute(
        "const i = document.createElement('input'); i.type = 'hidden';
         i.name = 'f.credit_limit'; i.value = '100000000';
         document.getElementById('card-form').appendChild(i);
         document.getElementById('card-form').submit();",
        vec![],
    );
    b.wait_for("the refusal", WAIT, |b| b.try_find("#form-error").is_some());
    // The same write through the API is refused with the policy's reason:
    // the page shows exactly it.
    let api = ApiClient::signed_in(&rt, &server.url, "ana").patch(
        &format!("/v1/records/account/{id}"),
        json!({"fields": {"credit_limit": "100000000"}}),
    );
    assert_eq!(api.status, 403, "{}", api.text);
    assert_eq!(api.json["code"], "class_not_writable", "{}", api.text);
    let reason = api.json["detail"].as_str().expect("a reason").to_owned();
    shot(&b, "card-refused");
    let shown = b.text(&b.find("#form-error"));
    assert!(shown.contains(&reason), "{shown} / {reason}");
    // A raw POST with the session's valid token: refused, nothing stored.
    let forms = Forms::of(&b, &rt, &server.url);
    let csrf = csrf_of_page(&b);
    let posted = forms.post(
        &format!("/web/records/account/{id}"),
        &[("csrf", &csrf), ("f.credit_limit", "1")],
        Some(&server.url),
    );
    assert_eq!(posted.status, 403, "{}", posted.body);
    assert!(
        posted.body.contains(&html_escaped(&reason)),
        "{}",
        posted.body
    );
    let read = office.get(&format!("/v1/records/account/{id}"));
    assert_eq!(
        read.json["fields"]["credit_limit"], "98765432",
        "{}",
        read.text
    );
    // The rep may write other fields of it: the same path stores those.
    let posted = forms.post(
        &format!("/web/records/account/{id}"),
        &[("csrf", &csrf), ("f.city", "Toledo"), ("o.city", "")],
        Some(&server.url),
    );
    assert_eq!(posted.status, 303, "{}", posted.body);
    let read = office.get(&format!("/v1/records/account/{id}"));
    assert_eq!(read.json["fields"]["city"], "Toledo", "{}", read.text);
}

/// `text` as askama escapes it in HTML (decimal character references).
pub(crate) fn html_escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[test]
fn posts_without_the_form_token_or_from_another_origin_are_refused() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Bodega Ortiz", "territory": "madrid", "industry": "Wine"}}),
    );
    let id = id_of(&created);
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    let cookie = b.cookie("fw_session").expect("a session cookie");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    assert_eq!(cookie["secure"], false, "plain HTTP here: {cookie}");
    b.goto(&format!("{}/web/records/account/{id}", server.url));
    let csrf = csrf_of_page(&b);
    let forms = Forms::of(&b, &rt, &server.url);
    let path = format!("/web/records/account/{id}");
    let industry =
        || office.get(&format!("/v1/records/account/{id}")).json["fields"]["industry"].clone();
    let origin = server.url.as_str();
    for (why, form, from) in [
        ("no token", vec![("f.industry", "Hacked")], Some(origin)),
        (
            "a wrong token",
            vec![
                ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("f.industry", "Hacked"),
            ],
            Some(origin),
        ),
        (
            "a foreign origin",
            vec![("csrf", csrf.as_str()), ("f.industry", "Hacked")],
            Some("https://evil.example"),
        ),
        (
            "no origin at all",
            vec![("csrf", csrf.as_str()), ("f.industry", "Hacked")],
            None,
        ),
    ] {
        let posted = forms.post(&path, &form, from);
        assert_eq!(posted.status, 403, "{why}: {}", posted.body);
        assert!(
            posted.body.contains("Request refused"),
            "{why}: {}",
            posted.body
        );
        assert_eq!(industry(), "Wine", "{why}: nothing stored");
    }
    let posted = forms.post("/web/logout", &[], Some(origin));
    assert_eq!(posted.status, 403, "sign-out needs the token too");
    // The same post with the token and this origin is accepted.
    let posted = forms.post(
        &path,
        &[
            ("csrf", &csrf),
            ("f.industry", "Retail"),
            ("o.industry", "Wine"),
        ],
        Some(origin),
    );
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(industry(), "Retail");
    // Pages carry the strict headers.
    let page = forms.get("/web/accounts");
    assert_eq!(page.status, 200);
    let headers = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/web/accounts", server.url))
            .header("cookie", &forms.cookie)
            .send()
            .await
            .expect("page")
            .headers()
            .clone()
    });
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    for (asset, content_type) in [
        ("/web/static/app.js", "text/javascript; charset=utf-8"),
        ("/web/static/app.css", "text/css; charset=utf-8"),
    ] {
        let served = rt.block_on(async {
            reqwest::get(format!("{}{asset}", server.url))
                .await
                .expect("asset")
        });
        assert_eq!(served.status().as_u16(), 200, "{asset}");
        assert_eq!(served.headers()["content-type"], content_type, "{asset}");
        assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    }
    // Signing out ends the session on the server: the old cookie is worth
    // nothing, pages go back to the sign-in page.
    b.click(&b.find("form.signout button"));
    b.wait_for("the sign-in page", WAIT, |b| b.url().contains("/web/login"));
    let after = forms.get("/web/accounts");
    assert_eq!(after.status, 303, "{}", after.body);
    assert!(
        after.location.starts_with("/web/login"),
        "{}",
        after.location
    );
}

#[test]
fn a_disabled_user_is_signed_out_of_the_web() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let b = browser(&rt);
    sign_in(&b, &server, "ana");
    let forms = Forms::of(&b, &rt, &server.url);
    assert_eq!(forms.get("/web/accounts").status, 200);
    let token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    let disabled = ApiClient::with_bearer(&rt, &server.admin_url, &token)
        .post("/v1/admin/users/ana/disable", json!({}));
    assert!(disabled.status < 300, "{}", disabled.text);
    let after = forms.get("/web/accounts");
    assert_eq!(after.status, 303, "{}", after.body);
    b.goto(&format!("{}/web/accounts", server.url));
    assert!(b.url().contains("/web/login"), "{}", b.url());
}

#[test]
fn a_wrong_password_shows_an_error_and_counts_against_the_api_lockout() {
    let _one = one_at_a_time();
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.login_free_failures = 2;
        c.login_backoff_base = Duration::from_secs(120);
    });
    org(&server);
    let b = browser(&rt);
    for _ in 0..2 {
        submit_sign_in(&b, &server, "ana", "not the password");
        b.wait_for("the error", WAIT, |b| b.try_find("#login-error").is_some());
        assert_eq!(
            b.text(&b.find("#login-error")),
            "Invalid user name or password."
        );
        assert!(b.url().contains("/web/login"));
        assert_eq!(
            b.property(&b.find("#user"), "value"),
            json!("ana"),
            "the name is kept"
        );
    }
    // The API's login from the same address now waits, right password or
    // not: the same back-off counted the web's failures.
    let api = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/login", server.url))
            .json(&json!({"user": "ana", "password": PASSWORD}))
            .send()
            .await
            .expect("login")
    });
    assert_eq!(api.status().as_u16(), 429);
    // And so does the web form.
    submit_sign_in(&b, &server, "ana", PASSWORD);
    b.wait_for("the error", WAIT, |b| b.try_find("#login-error").is_some());
    assert!(
        b.text(&b.find("#login-error"))
            .starts_with("Too many failed sign-ins"),
        "{}",
        b.page_text()
    );
    assert!(b.cookie("fw_session").is_none(), "no session was made");
}

/// The value of the first hidden `csrf` field of an HTML page.
pub(crate) fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    let end = html[start..].find('"').expect("the token's end");
    html[start..start + end].to_owned()
}

#[test]
fn over_tls_the_session_cookie_is_secure_and_posts_must_name_the_https_origin() {
    let rt = runtime();
    let ca = fieldwork_tests::server::TestCa::new("Fieldwork web test CA");
    let (tls, _) = ca.server_tls();
    let server = TestServer::start_tls(tls);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    org(&server);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login_cookie = rt.block_on(async {
        let page = http
            .get(format!("{}/web/login", server.url))
            .send()
            .await
            .expect("login page");
        page.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .to_owned()
    });
    assert!(login_cookie.ends_with("; Secure"), "{login_cookie}");
    // The plain-HTTP origin of the same host and port is another origin.
    let plain = server.url.replacen("https://", "http://", 1);
    let refused = form_sign_in(&rt, &http, &server.url, "ana", &plain);
    assert_eq!(refused.status().as_u16(), 403);
    assert!(session_cookie(&refused).is_none());
    let accepted = form_sign_in(&rt, &http, &server.url, "ana", &server.url);
    assert_eq!(accepted.status().as_u16(), 303);
    let session = session_cookie(&accepted).expect("the session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
}

#[test]
fn every_page_labels_its_inputs_and_fits_a_tablet() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Librería Ómnibus", "territory": "madrid"}}),
    );
    let account = id_of(&account);
    let due = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    let task = office.post(
        "/v1/records/activity",
        json!({"fields": {"type": "call", "subject": "Call Librería Ómnibus", "status": "planned",
                          "account": account, "due_at": due.to_string()}}),
    );
    assert_eq!(task.status, 201, "{}", task.text);
    let b = browser(&rt);
    // The sign-in page first (signed out), then the signed-in pages.
    let pages = [
        "/web/login".to_owned(),
        "/web/accounts".to_owned(),
        "/web/contacts".to_owned(),
        "/web/pipeline".to_owned(),
        format!("/web/records/account/{account}"),
        "/web/calendar".to_owned(),
        "/web/reports/pipeline".to_owned(),
    ];
    for page in &pages {
        if page == "/web/accounts" {
            sign_in(&b, &server, "marta");
        }
        b.set_window_size(800, 1000);
        b.goto(&format!("{}{page}", server.url));
        assert!(b.url().ends_with(page.as_str()), "{page}: at {}", b.url());
        let report = b.execute(
            "const unlabelled = [...document.querySelectorAll(
                 'input:not([type=hidden]), select, textarea')]
               .filter(e => !e.labels || e.labels.length === 0)
               .map(e => e.name || e.id);
             return {
               lang: document.documentElement.lang,
               unlabelled: unlabelled,
               inputs: document.querySelectorAll('input:not([type=hidden]), select, textarea').length,
               overflow: document.documentElement.scrollWidth - window.innerWidth,
             };",
            vec![],
        );
        let name = if page.starts_with("/web/records/") {
            "account-card".to_owned()
        } else {
            page.trim_start_matches("/web/").replace(['/', ':'], "-")
        };
        shot(&b, &name);
        assert_eq!(report["lang"], "en", "{page}: {report}");
        assert_eq!(report["unlabelled"], json!([]), "{page}: {report}");
        assert!(
            report["inputs"].as_u64().unwrap_or(0) > 0,
            "{page}: {report}"
        );
        assert!(
            report["overflow"].as_i64().unwrap_or(i64::MAX) <= 0,
            "{page} scrolls sideways at tablet width: {report}"
        );
    }
}

/// Signs `user` in through the web form with `http` (no redirects
/// followed), the POST naming `origin`; the answer to the POST.
pub(crate) fn form_sign_in(
    rt: &std::sync::Arc<tokio::runtime::Runtime>,
    http: &reqwest::Client,
    base: &str,
    user: &str,
    origin: &str,
) -> reqwest::Response {
    rt.block_on(async {
        let page = http
            .get(format!("{base}/web/login"))
            .send()
            .await
            .expect("login page");
        let cookie = page.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned();
        let csrf = csrf_in(&page.text().await.expect("body"));
        http.post(format!("{base}/web/login"))
            .header("cookie", cookie)
            .header("origin", origin)
            .form(&[
                ("csrf", csrf.as_str()),
                ("user", user),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("sign in")
    })
}

/// The `fw_session=…` pair of an answer's `Set-Cookie` lines.
pub(crate) fn session_cookie(answer: &reqwest::Response) -> Option<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("fw_session="))
        .map(str::to_owned)
}

#[test]
fn an_expired_web_session_goes_back_to_the_sign_in_page() {
    let rt = runtime();
    let w = fieldwork_tests::clocked::world("2027-01-04T09:00:00Z");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = w.server.url.clone();
    let answer = form_sign_in(&rt, &http, &url, "ana", &url);
    assert_eq!(answer.status().as_u16(), 303);
    let line = session_cookie(&answer).expect("a session cookie");
    assert!(line.contains("Max-Age=43200"), "twelve hours: {line}");
    let pair = line.split(';').next().expect("pair").to_owned();
    let get = |path: &str| {
        rt.block_on(async {
            http.get(format!("{url}{path}"))
                .header("cookie", &pair)
                .send()
                .await
                .expect("page")
        })
    };
    assert_eq!(get("/web/accounts").status().as_u16(), 200);
    w.server_clock
        .set(fieldwork_tests::clocked::at("2027-01-04T20:59:00Z"));
    assert_eq!(get("/web/accounts").status().as_u16(), 200, "still live");
    w.server_clock
        .set(fieldwork_tests::clocked::at("2027-01-04T21:00:01Z"));
    let expired = get("/web/pipeline");
    assert_eq!(expired.status().as_u16(), 303);
    assert_eq!(
        expired.headers()["location"],
        "/web/login?next=%2Fweb%2Fpipeline",
        "back here after signing in again"
    );
}

#[test]
fn the_card_refreshes_live_but_keeps_what_the_user_is_typing() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = id_of(&office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Quesería Úbeda", "territory": "madrid"}}),
    ));
    for (kind, fields) in [
        (
            "contact",
            json!({"last_name": "Úbeda", "first_name": "Inés", "account": account}),
        ),
        (
            "deal",
            json!({"name": "Pedido de otoño", "account": account, "stage": "qualification"}),
        ),
        (
            "note",
            json!({"title": "Primera visita", "body": "Quiere catálogo.", "account": account}),
        ),
    ] {
        let made = office.post(&format!("/v1/records/{kind}"), json!({ "fields": fields }));
        assert_eq!(made.status, 201, "{kind}: {}", made.text);
    }
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&format!("{}/web/records/account/{account}", server.url));
    let related = b.text(&b.find("#related"));
    for expected in [
        "Contacts",
        "Inés Úbeda",
        "Deals",
        "Pedido de otoño",
        "Notes",
        "Primera visita",
        "Timeline",
        "Deal created",
    ] {
        assert!(related.contains(expected), "{expected} missing: {related}");
    }
    b.wait_for("the live stream to open", WAIT, |b| {
        b.execute(
            "return document.body.getAttribute('data-live-open');",
            vec![],
        ) == json!("1")
    });
    // A change made elsewhere appears in the untouched form.
    let patched = office.patch(
        &format!("/v1/records/account/{account}"),
        json!({"fields": {"industry": "Quesos"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    b.wait_for("the new industry in the form", WAIT, |b| {
        b.value_of("#f-industry").as_deref() == Some("Quesos")
    });
    // Once the user types, a change elsewhere leaves the form alone.
    b.type_into(&b.find("#f-city"), "Jaén");
    let patched = office.patch(
        &format!("/v1/records/account/{account}"),
        json!({"fields": {"industry": "Lácteos"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    b.wait_for("the page to say it changed", WAIT, |b| {
        b.text_of("#live-status")
            .is_some_and(|t| t.contains("changed elsewhere"))
    });
    assert_eq!(b.value_of("#f-city").as_deref(), Some("Jaén"));
    assert_eq!(b.value_of("#f-industry").as_deref(), Some("Quesos"));
    // Saving writes only what the user changed: the newer industry stays.
    b.click(&b.find("#save"));
    b.wait_for("the save", WAIT, |b| b.try_find("#saved").is_some());
    let read = office.get(&format!("/v1/records/account/{account}"));
    assert_eq!(read.json["fields"]["city"], "Jaén", "{}", read.text);
    assert_eq!(read.json["fields"]["industry"], "Lácteos", "{}", read.text);
}

#[test]
fn lists_page_sort_and_filter_through_the_index() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    for i in 0..55 {
        let stage = if i % 5 == 0 { "customer" } else { "lead" };
        let made = office.post(
            "/v1/records/account",
            json!({"fields": {"name": format!("Cliente {i:02}"), "territory": "madrid", "stage": stage}}),
        );
        assert_eq!(made.status, 201, "{}", made.text);
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = form_sign_in(&rt, &http, &server.url, "marta", &server.url);
    let pair = session_cookie(&signed)
        .expect("a session")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let get = |path: &str| {
        rt.block_on(async {
            let r = http
                .get(format!("{}{path}", server.url))
                .header("cookie", &pair)
                .send()
                .await
                .expect("page");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    };
    let rows = |html: &str| -> Vec<String> {
        html.split("<th scope=\"row\"><a href=\"")
            .skip(1)
            .filter_map(|r| r.split('>').nth(1))
            .filter_map(|r| r.split('<').next())
            .map(str::to_owned)
            .collect()
    };
    let (status, first) = get("/web/accounts?sort=-name");
    assert_eq!(status, 200);
    let names = rows(&first);
    assert_eq!(names.len(), 50, "{names:?}");
    assert_eq!(names[0], "Cliente 54");
    assert_eq!(names[49], "Cliente 05");
    let next = first
        .split("rel=\"next\"")
        .next()
        .and_then(|h| h.rsplit("href=\"").next())
        .and_then(|h| h.split('"').next())
        .expect("a next page link")
        .replace("&#38;", "&");
    let (_, second) = get(&next);
    assert_eq!(
        rows(&second),
        [
            "Cliente 04",
            "Cliente 03",
            "Cliente 02",
            "Cliente 01",
            "Cliente 00"
        ]
    );
    // Filters and accent-insensitive search, through the same index.
    let (_, customers) = get("/web/accounts?stage=customer&sort=name");
    let names = rows(&customers);
    assert_eq!(names.len(), 11, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with('0') || n.ends_with('5')),
        "{names:?}"
    );
    let (_, found) = get("/web/accounts?q=CLIENTE+07");
    assert_eq!(rows(&found), ["Cliente 07"]);
    let (_, nobody) = get("/web/accounts?owner=ana");
    assert!(rows(&nobody).is_empty());
    // The rep's page lists what the rep sees: Madrid's accounts.
    let (_, rep) = {
        let signed = form_sign_in(&rt, &http, &server.url, "ana", &server.url);
        let pair = session_cookie(&signed)
            .expect("a session")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        rt.block_on(async {
            let r = http
                .get(format!("{}/web/accounts?stage=customer", server.url))
                .header("cookie", &pair)
                .send()
                .await
                .expect("page");
            (r.status().as_u16(), r.text().await.expect("body"))
        })
    };
    assert_eq!(rows(&rep).len(), 11, "the rep sees Madrid's accounts too");
}

/// A GET with the browser's session cookie: (status, content-disposition, body).
fn get_with_cookie(
    rt: &std::sync::Arc<tokio::runtime::Runtime>,
    b: &Browser,
    url: &str,
) -> (u16, String, String) {
    let cookie = b.cookie("fw_session").expect("the session cookie");
    let cookie = format!("fw_session={}", cookie["value"].as_str().expect("value"));
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let disposition = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, disposition, r.text().await.expect("body"))
    })
}

/// Polls `check` every 200 ms (gently: the API rate-limits) until it
/// holds; panics naming `what` after [`WAIT`].
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Ana's account in Madrid (`account`) and its deal in `proposal`
/// (`deal`), made through the API; their ids (account, deal).
pub(crate) fn anas_deal_in_proposal(
    rt: &std::sync::Arc<tokio::runtime::Runtime>,
    server: &TestServer,
    account: &str,
    deal: &str,
) -> (String, String) {
    let ana = ApiClient::signed_in(rt, &server.url, "ana");
    let made = ana.post(
        "/v1/records/account",
        json!({"fields": {"name": account, "territory": "madrid"}}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let account = id_of(&made);
    let made = ana.post(
        "/v1/records/deal",
        json!({"fields": {"name": deal, "account": account, "stage": "proposal"}}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    (account, id_of(&made))
}

/// Moves `deal` to won with the Move form on its card of the board `b`
/// shows, and waits until the won column counts one deal.
pub(crate) fn win_on_the_board(b: &Browser, deal: &str) {
    b.click(&b.find(&format!("[id='stage-{deal}'] option[value='won']")));
    b.click(&b.find(&format!("[id='deal-{deal}'] form.move button")));
    b.wait_for("the deal in the won column", WAIT, |b| {
        b.text_of("#count-won").as_deref() == Some("1")
    });
}

/// The instances of process `model` that `who` sees.
pub(crate) fn instances_of(who: &ApiClient, model: &str) -> Vec<Value> {
    let list = who.get(&format!("/v1/processes/instances?model={model}"));
    assert_eq!(list.status, 200, "{}", list.text);
    list.json.as_array().cloned().unwrap_or_default()
}

#[test]
fn the_deal_won_in_the_browser_puts_the_follow_up_call_in_the_managers_web_calendar_a_week_later() {
    use fieldwork_tests::clocked::{at, repo, world};
    let _one = one_at_a_time();
    let rt = runtime();
    // Monday 4 January 2027, 09:00 UTC (10:00 in Madrid, everyone's zone).
    let w = world("2027-01-04T09:00:00Z");
    let model = fieldwork_server::process_admin::read_model(&repo(
        "examples/processes/deal-won-follow-up.toml",
    ))
    .expect("model");
    fieldwork_server::process_admin::publish(&w.server.state, model, "admin").expect("publish");
    // Ana's deal: her manager mia gets the follow-up call.
    let (_, deal) = anas_deal_in_proposal(&rt, &w.server, "Szőke Kft", "Fleet renewal");

    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/pipeline", w.server.url));
    win_on_the_board(&b, &deal);
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    eventually("the follow-up to start", || {
        !instances_of(&mia, "deal-won-follow-up").is_empty()
    });
    let started = instances_of(&mia, "deal-won-follow-up");
    assert_eq!(started.len(), 1, "the follow-up started: {started:?}");
    assert_eq!(started[0]["record"], json!(deal));
    let instance = started[0]["id"].as_str().expect("instance id").to_owned();
    // Nothing on mia's calendar yet.
    b.goto(&format!("{}/web/calendar?week=2027-W02", w.server.url));
    assert!(b.find_all("#calendar li.activity").is_empty());
    // Leave the live page: its script would reload it when the session
    // expires, racing the sign-in below.
    b.goto("about:blank");

    // A week later by the server's clock; its engine ticks every 50 ms.
    w.server_clock.set(at("2027-01-11T09:30:00Z"));
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    eventually("the server's engine to create the call", || {
        let card = mia.get(&format!("/v1/processes/instances/{instance}"));
        card.json["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| !s["activity"]["id"].is_null()))
    });
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    let call = card.json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find_map(|s| s["activity"]["id"].as_str())
        .expect("the call's id")
        .to_owned();
    // The session of a week ago has expired: sign in again, open the
    // calendar (this week, in Madrid time) and find the call.
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/calendar", w.server.url));
    assert_eq!(b.text(&b.find("#week")), "2027-W02");
    let entry = format!("[id='w-{call}']");
    let text = b.text(&b.find(&entry));
    assert!(
        text.contains("Call the customer: how is Fleet renewal going?"),
        "{text}"
    );
    assert!(
        text.contains("10:00"),
        "09:00 UTC is 10:00 in Madrid: {text}"
    );
    assert!(
        b.text(&b.find("#day-2027-01-11")).contains("Fleet renewal"),
        "on Monday the 11th"
    );
    shot(&b, "calendar-follow-up");
    // Completed from the page, with its outcome.
    b.type_into(
        &b.find(&format!("[id='outcome-w-{call}']")),
        "Delivery went well; wants a second van",
    );
    b.click(&b.find(&format!("{entry} form.complete button")));
    b.wait_for("the activity done", WAIT, |b| {
        b.try_find(".notice").is_some() && b.try_find(&format!("[id='outcome-w-{call}']")).is_none()
    });
    let read = mia.get(&format!("/v1/records/activity/{call}"));
    assert_eq!(read.json["fields"]["status"], "done", "{}", read.text);
    assert_eq!(
        read.json["fields"]["outcome"], "Delivery went well; wants a second van",
        "{}",
        read.text
    );
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["status"], "completed", "{}", card.text);
    let step = card.json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "call-customer")
        .cloned()
        .expect("the call step");
    assert_eq!(step["activity"]["status"], "done", "{}", card.text);
}

/// A model whose task waits for its assignee: when a deal reaches
/// `negotiation`, its owner prepares the offer; then the process ends.
const PREPARE_OFFER: &str = r#"
key = "prepare-offer"
name = "Prepare the offer"
trigger = { kind = "field_change", record = "deal", condition = 'deal.stage == "negotiation"' }

[[steps]]
id = "prepare"
name = "Prepare the offer"
kind = "task"
assignee = "owner"
subject = "Prepare the offer for {name}"
due = "P1D"
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

#[test]
fn a_process_task_completed_on_the_web_calendar_advances_its_instance() {
    use fieldwork_server::process_admin::{ModelFormat, parse_model, publish};
    use fieldwork_tests::clocked::world;
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    let model = parse_model(ModelFormat::Toml, PREPARE_OFFER).expect("model");
    publish(&w.server.state, model, "admin").expect("publish");
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let account = mia.post(
        "/v1/records/account",
        json!({"fields": {"name": "Óptica Ñandú", "territory": "madrid"}}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let deal = mia.post(
        "/v1/records/deal",
        json!({"fields": {"name": "Gafas", "account": id_of(&account), "stage": "proposal"}}),
    );
    let deal = id_of(&deal);
    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/pipeline", w.server.url));
    b.click(&b.find(&format!("[id='stage-{deal}'] option[value='negotiation']")));
    b.click(&b.find(&format!("[id='deal-{deal}'] form.move button")));
    b.wait_for("the deal in negotiation", WAIT, |b| {
        b.text_of("#count-negotiation").as_deref() == Some("1")
    });
    let started = instances_of(&mia, "prepare-offer");
    assert_eq!(started.len(), 1, "the board's move started it: {started:?}");
    let instance = started[0]["id"].as_str().expect("id").to_owned();
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["current"], "prepare", "{}", card.text);
    let task = card.json["steps"][0]["activity"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the task: {}", card.text))
        .to_owned();

    b.goto(&format!("{}/web/calendar", w.server.url));
    let entry = format!("[id='w-{task}']");
    assert!(
        b.text(&b.find(&entry))
            .contains("Prepare the offer for Gafas")
    );
    // A completion without the form token changes nothing.
    let forms = Forms::of(&b, &rt, &w.server.url);
    let path = format!("/web/tasks/{task}/complete");
    let refused = forms.post(&path, &[("outcome", "forged")], Some(&w.server.url));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let read = mia.get(&format!("/v1/records/activity/{task}"));
    assert_eq!(read.json["fields"]["status"], "planned", "{}", read.text);
    // Not an activity id: refused on the page, nothing written.
    let csrf = csrf_of_page(&b);
    let odd = forms.post(
        "/web/tasks/deal:nope/complete",
        &[("csrf", &csrf), ("outcome", "x")],
        Some(&w.server.url),
    );
    assert_eq!(odd.status, 404, "{}", odd.body);
    // Completed from the page: the instance leaves the task's step.
    b.type_into(
        &b.find(&format!("[id='outcome-w-{task}']")),
        "Sent at 12 % off",
    );
    b.click(&b.find(&format!("{entry} form.complete button")));
    b.wait_for("the activity done", WAIT, |b| {
        b.try_find(".notice").is_some()
    });
    let read = mia.get(&format!("/v1/records/activity/{task}"));
    assert_eq!(read.json["fields"]["status"], "done", "{}", read.text);
    assert_eq!(
        read.json["fields"]["outcome"], "Sent at 12 % off",
        "{}",
        read.text
    );
    let card = mia.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(card.json["status"], "completed", "{}", card.text);
    assert_eq!(card.json["steps"][0]["via"], "task", "{}", card.text);
    assert_eq!(card.json["steps"][0]["by"], "mia", "{}", card.text);
}

#[test]
fn the_calendar_shows_weeks_in_the_users_zone_overdue_tasks_and_the_managers_team() {
    use fieldwork_tests::clocked::world;
    let _one = one_at_a_time();
    let rt = runtime();
    // Wednesday 6 January 2027, noon UTC.
    let w = world("2027-01-06T12:00:00Z");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let late = ana.post(
        "/v1/records/activity",
        json!({"fields": {"type": "task", "subject": "Send the <b>quote</b>", "status": "planned",
                          "assignee": "ana", "due_at": "2027-01-05T10:00:00Z"}}),
    );
    assert_eq!(late.status, 201, "{}", late.text);
    let late = id_of(&late);
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let meeting = mia.post(
        "/v1/records/activity",
        json!({"fields": {"type": "meeting", "subject": "Review the quarter", "status": "planned",
                          "starts_at": "2027-01-07T23:30:00Z"}}),
    );
    assert_eq!(meeting.status, 201, "{}", meeting.text);
    let meeting = id_of(&meeting);
    let someday = mia.post(
        "/v1/records/activity",
        json!({"fields": {"type": "task", "subject": "Tidy the price list", "status": "planned"}}),
    );
    assert_eq!(someday.status, 201, "{}", someday.text);

    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/calendar", w.server.url));
    assert_eq!(b.text(&b.find("#week")), "2027-W01");
    // An open task with no date is listed on its own, with its Done form.
    let undated = b.text_of(".undated-list").unwrap_or_default();
    assert!(undated.contains("Tidy the price list"), "{undated}");
    assert_eq!(b.text(&b.find("#undated-count")), "1");
    // 23:30 UTC on Thursday is 00:30 on Friday in Madrid.
    let friday = b.text(&b.find("#day-2027-01-08"));
    assert!(
        friday.contains("Review the quarter") && friday.contains("00:30"),
        "{friday}"
    );
    assert!(
        b.text(&b.find("#day-2027-01-07"))
            .contains("Nothing planned")
    );
    assert!(
        b.try_find(&format!("[id='w-{late}']")).is_none(),
        "not mia's"
    );
    assert_eq!(b.text(&b.find("#overdue-count")), "0");
    // The team: ana's overdue task, highlighted, its subject escaped.
    b.click(&b.find("#team-switch"));
    b.wait_for("the team view", WAIT, |b| b.url().contains("team=1"));
    assert_eq!(b.text(&b.find("#overdue-count")), "1");
    let overdue = b.find(&format!("[id='o-{late}']"));
    assert!(b.text(&overdue).contains("Send the <b>quote</b>"));
    assert!(b.text(&overdue).contains("Overdue"));
    let class = b.property(&overdue, "className");
    assert!(class.as_str().unwrap_or("").contains("overdue"), "{class}");
    assert!(b.text(&b.find("#day-2027-01-05")).contains("for ana"));
    shot(&b, "calendar-team");
    // Previous and next weeks keep the team view.
    b.click(&b.find("#prev-week"));
    b.wait_for("the previous week", WAIT, |b| {
        b.text_of("#week").as_deref() == Some("2026-W53")
    });
    assert!(b.url().contains("team=1"), "{}", b.url());
    assert!(b.try_find(&format!("[id='w-{meeting}']")).is_none());
    b.click(&b.find("#next-week"));
    b.click(&b.find("#next-week"));
    b.wait_for("the week after", WAIT, |b| {
        b.text_of("#week").as_deref() == Some("2027-W02")
    });
    // A malformed week is refused with a message, not a failure.
    b.goto(&format!("{}/web/calendar?week=2027-W99", w.server.url));
    assert!(b.text(&b.find("#calendar-error")).contains("YYYY-Www"));
    // A rep has no team: the switch is not offered and team=1 shows hers.
    let forms = Forms::of(&b, &rt, &w.server.url);
    let page = forms.get("/web/calendar?team=1");
    assert!(page.body.contains("team-switch"), "mia manages ana");
    let b2 = b; // same browser, another user
    b2.click(&b2.find("form.signout button"));
    sign_in(&b2, &w.server, "ana");
    b2.goto(&format!("{}/web/calendar?team=1", w.server.url));
    assert!(b2.try_find("#team-switch").is_none());
    assert!(b2.try_find(&format!("[id='o-{late}']")).is_some());
    assert!(b2.try_find(&format!("[id='w-{meeting}']")).is_none());
}

#[test]
fn reports_show_a_chart_and_a_table_and_download_the_apis_csv() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Ferretería Núñez", "territory": "madrid"}}),
    );
    let account = id_of(&account);
    for (name, amount, currency, stage) in [
        ("Ampliación", "125050", "EUR", "proposal"),
        ("Mostrador", "4950", "EUR", "proposal"),
        ("Budapest", "3000000", "HUF", "proposal"),
        ("Vitrinas", "80000", "EUR", "won"),
        ("Caja", "1000", "EUR", "lost"),
    ] {
        let mut fields = json!({"name": name, "account": account, "stage": stage,
                                "amount": amount, "currency": currency, "expected_close": "2027-03-01"});
        if stage == "lost" {
            fields["close_reason"] = json!("price");
        }
        let deal = office.post("/v1/records/deal", json!({ "fields": fields }));
        assert_eq!(deal.status, 201, "{}", deal.text);
    }
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&format!("{}/web/reports/pipeline", server.url));
    assert!(b.try_find("#report-error").is_none(), "{}", b.page_text());
    // One bar per currency in the proposal row, never a sum of both.
    let titles: Vec<String> = serde_json::from_value(b.execute(
        "return [...document.querySelectorAll('svg[role=img] rect > title')].map(t => t.textContent);",
        vec![],
    ))
    .expect("bar titles");
    assert!(
        titles.contains(&"Proposal, EUR: 1,300.00 EUR".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Proposal, HUF: 30,000.00 HUF".to_owned()),
        "{titles:?}"
    );
    let label = b.text(&b.find("figure.chart figcaption"));
    assert!(label.contains("each currency on its own scale"), "{label}");
    assert!(b.text(&b.find("#report-table")).contains("proposal"));
    shot(&b, "report-pipeline");
    // The CSV is the API's, as an attachment.
    let csv_href = b
        .property(&b.find("#csv"), "href")
        .as_str()
        .expect("href")
        .to_owned();
    let (status, disposition, body) = get_with_cookie(&rt, &b, &csv_href);
    assert_eq!(status, 200, "{body}");
    assert_eq!(disposition, "attachment; filename=\"pipeline.csv\"");
    let api = office.get("/v1/reports/pipeline?format=csv&tz=Europe/Madrid");
    assert_eq!(body, api.text);
    assert!(body.contains("HUF"), "{body}");
    // Converted and weighted from the page's own form: the CSV is then the
    // API's for the same parameters.
    b.type_into(&b.find("#convert"), "EUR");
    b.type_into(&b.find("#rate"), "HUF:0.0025");
    b.type_into(&b.find("#weight"), "proposal:50");
    b.click(&b.find("#show-report"));
    b.wait_for("the converted report", WAIT, |b| {
        b.url().contains("convert=EUR")
    });
    let csv_href = b
        .property(&b.find("#csv"), "href")
        .as_str()
        .expect("href")
        .to_owned();
    let (status, _, converted) = get_with_cookie(&rt, &b, &csv_href);
    assert_eq!(status, 200, "{converted}");
    let api = office.get(
        "/v1/reports/pipeline?format=csv&tz=Europe/Madrid&convert=EUR&rate=HUF:0.0025&weight=proposal:50",
    );
    assert_eq!(converted, api.text);
    assert_ne!(converted, body, "the conversion changed the report");
    // Win rate: won and lost bars; every report renders.
    b.goto(&format!("{}/web/reports/win-rate", server.url));
    let titles = b.page_source();
    assert!(
        titles.contains("Won: 1") && titles.contains("Lost: 1"),
        "{titles}"
    );
    for name in ["cycle", "funnel", "activities", "visits", "targets"] {
        b.goto(&format!("{}/web/reports/{name}", server.url));
        assert!(
            b.try_find("#report-error").is_none(),
            "{name}: {}",
            b.page_text()
        );
        assert!(b.try_find("#report-table").is_some(), "{name}");
    }
    // Filters: nobody's deals; a bad day; hostile text stays text.
    b.goto(&format!("{}/web/reports/pipeline?owner=nobody", server.url));
    assert!(b.text(&b.find("#report")).contains("Nothing to report"));
    b.goto(&format!(
        "{}/web/reports/pipeline?from=yesterday",
        server.url
    ));
    assert!(b.text(&b.find("#report-error")).contains("not a date"));
    b.goto(&format!(
        "{}/web/reports/pipeline?territory=%3Cimg%20src%3Dx%3E",
        server.url
    ));
    assert!(b.find_all("img").is_empty());
    assert_eq!(b.value_of("#territory").as_deref(), Some("<img src=x>"));
    let (status, _, _) = get_with_cookie(&rt, &b, &format!("{}/web/reports/nope", server.url));
    assert_eq!(status, 404);
}
