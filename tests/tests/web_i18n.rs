//! The web app in Spanish and Hungarian: the language menu, the browser's
//! `Accept-Language`, and money, dates and listed values as each language
//! writes them, in a real browser against a real server (as in
//! [`super::web`]).

use fieldwork_tests::api::ApiClient;
use fieldwork_tests::browser::Browser;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::json;

use super::web::{WAIT, browser, id_of, one_at_a_time, shot, sign_in};

/// Picks `lang` in the page's language menu and waits for the page to come
/// back in it.
fn choose(b: &Browser, lang: &str) {
    let here = b.url();
    b.click(&b.find(&format!("nav.languages a[hreflang='{lang}']")));
    b.wait_for("the page in the chosen language", WAIT, |b| {
        b.execute("return document.documentElement.lang;", vec![])
            .as_str()
            == Some(lang)
    });
    assert_eq!(b.url(), here, "the menu goes back to the same page");
}

#[test]
fn a_manager_reads_the_board_and_cards_in_hungarian_and_spanish() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let account = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Ferretería Núñez", "territory": "madrid"}}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let account = id_of(&account);
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
    }
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    assert!(
        b.text_of("header nav")
            .unwrap_or_default()
            .contains("Accounts")
    );

    choose(&b, "hu");
    let nav = b.text_of("header nav").unwrap_or_default();
    assert!(nav.contains("Ügyfelek") && nav.contains("Naptár"), "{nav}");
    assert!(!nav.contains("Accounts"), "{nav}");
    b.goto(&format!("{}/web/pipeline", server.url));
    let totals = b.text_of("#totals-proposal").unwrap_or_default();
    // Hungarian groups digits with a no-break space and writes a decimal comma.
    assert!(totals.contains("1\u{a0}300,00 EUR"), "{totals:?}");
    assert!(totals.contains("30\u{a0}000,00 HUF"), "{totals:?}");
    let heading = b.text_of("#col-proposal").unwrap_or_default();
    assert!(
        heading.starts_with("Ajánlat"),
        "stage names are words: {heading}"
    );
    let meta = b.text_of(".deal .meta").unwrap_or_default();
    assert!(meta.contains("2027. 03. 01."), "{meta}");
    shot(&b, "pipeline-board-hu");

    choose(&b, "es");
    let totals = b.text_of("#totals-proposal").unwrap_or_default();
    // Spanish does not group four digits, but groups five.
    assert!(totals.contains("1300,00 EUR"), "{totals:?}");
    assert!(totals.contains("30.000,00 HUF"), "{totals:?}");
    assert!(
        b.text_of("#col-proposal")
            .unwrap_or_default()
            .starts_with("Propuesta")
    );
    b.goto(&format!("{}/web/records/account/{account}", server.url));
    let page = b.page_text();
    assert!(
        page.contains("Historial") && page.contains("Oportunidades"),
        "{page}"
    );
    b.goto(&format!("{}/web/calendar?week=2026-W49", server.url));
    let days = b.text_of(".week").unwrap_or_default();
    assert!(days.contains("miércoles, 2 de diciembre"), "{days}");

    // The choice is remembered by this browser, and English comes back.
    b.goto(&format!("{}/web/accounts", server.url));
    assert!(b.text_of("h1").unwrap_or_default().contains("Cuentas"));
    choose(&b, "en");
    assert!(b.text_of("h1").unwrap_or_default().contains("Accounts"));
}

#[test]
fn the_browsers_language_is_used_until_one_is_chosen_and_the_menu_stays_on_this_site() {
    let rt = runtime();
    let server = TestServer::start();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str, headers: &[(&str, &str)]| {
        rt.block_on(async {
            let mut request = http.get(format!("{}{path}", server.url));
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let answer = request.send().await.expect("answer");
            let head = answer.headers().clone();
            (
                answer.status().as_u16(),
                head,
                answer.text().await.expect("body"),
            )
        })
    };
    let (status, head, body) = get(
        "/web/login",
        &[("accept-language", "es-ES,es;q=0.9,en;q=0.5")],
    );
    assert_eq!(status, 200);
    assert_eq!(head["content-language"], "es");
    assert!(body.contains("<html lang=\"es\">"), "{body}");
    assert!(body.contains("Iniciar sesión en Fieldwork"), "{body}");
    assert!(body.contains("Contraseña"), "{body}");

    let (_, _, body) = get("/web/login", &[("accept-language", "de, hu;q=0.4")]);
    assert!(body.contains("Bejelentkezés a Fieldworkbe"), "{body}");
    let (_, _, body) = get("/web/login", &[("accept-language", "de, fr;q=0.4")]);
    assert!(body.contains("Sign in to Fieldwork"), "{body}");

    // The cookie the menu sets wins over the browser's language.
    let (_, _, body) = get(
        "/web/login",
        &[("accept-language", "hu"), ("cookie", "fw_lang=es")],
    );
    assert!(body.contains("Iniciar sesión en Fieldwork"), "{body}");

    // The menu sets the cookie and goes back only to a page of this app.
    let (status, head, _) = get("/web/locale?lang=hu&next=%2Fweb%2Flogin", &[]);
    assert_eq!(status, 303);
    assert_eq!(head["location"], "/web/login");
    let cookie = head["set-cookie"].to_str().expect("cookie");
    assert!(
        cookie.starts_with("fw_lang=hu;") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    for next in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2Fweb%2F%2Fevil",
    ] {
        let (status, head, _) = get(&format!("/web/locale?lang=es&next={next}"), &[]);
        assert_eq!(status, 303);
        assert_eq!(head["location"], "/web", "{next}");
    }
    let (_, head, _) = get(
        "/web/locale?lang=es",
        &[("referer", &format!("{}/web/pipeline?owner=ana", server.url))],
    );
    assert_eq!(head["location"], "/web/pipeline?owner=ana");
    let (_, head, _) = get("/web/locale?lang=klingon", &[]);
    assert!(
        head.get("set-cookie").is_none(),
        "an unknown language sets nothing"
    );
}

#[test]
fn a_refused_right_is_said_in_the_readers_language() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let b = browser(&rt);
    sign_in(&b, &server, "ana");
    choose(&b, "es");
    b.goto(&format!("{}/web/new/account", server.url));
    assert!(
        b.try_find("#f-credit_limit").is_none(),
        "a rep is not offered the field"
    );
    // A hand-made field in the form: the server refuses it, in Spanish.
    b.execute(
        "const f = document.querySelector('#new-form');
         const i = document.createElement('input');
         i.type = 'hidden'; i.name = 'f.credit_limit'; i.value = '100';
         f.appendChild(i);",
        vec![],
    );
    b.type_into(&b.find("#f-name"), "Librería Ñandú");
    b.type_into(&b.find("#f-territory"), "madrid");
    b.click(&b.find("#create"));
    b.wait_for("the refusal", WAIT, |b| b.try_find("#form-error").is_some());
    let error = b.text_of("#form-error").unwrap_or_default();
    assert!(
        error.contains("Su rol no puede cambiar Límite de crédito"),
        "{error}"
    );
    let office = fieldwork_tests::api::ApiClient::signed_in(&rt, &server.url, "marta");
    let list = office.get("/v1/records/account?limit=10");
    assert!(
        !list.text.contains("Librería Ñandú"),
        "nothing created: {}",
        list.text
    );
}
