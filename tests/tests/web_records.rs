//! Creating records and reading a record's field history in the web app,
//! in a real browser (headless Chromium through chromedriver, as in
//! [`super::web`]) against a real server, with the office API and a CLI
//! device as the independent readers of what the server stored.

use fieldwork_core::RecordId;
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::browser::Browser;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::json;

use super::web::{
    Forms, WAIT, browser, csrf_of_page, html_escaped, id_of, one_at_a_time, shot, sign_in,
};

fn org(server: &TestServer) {
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// The names of the `kind` records `who` sees through the office API.
fn names(who: &ApiClient, kind: &str, field: &str) -> Vec<String> {
    let list = who.get(&format!("/v1/records/{kind}?limit=200"));
    assert_eq!(list.status, 200, "{}", list.text);
    list.json["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["fields"][field].as_str().map(str::to_owned))
        .collect()
}

/// Waits until the browser shows a record card, and returns its id.
fn card_id(b: &Browser, kind: &str) -> String {
    let prefix = format!("/web/records/{kind}/{kind}:");
    b.wait_for("the new record's card", WAIT, |b| {
        b.url().contains(&prefix) && b.try_find("#record-title").is_some()
    });
    let url = b.url();
    url.rsplit('/').next().expect("an id").to_owned()
}

#[test]
fn a_manager_creates_an_account_its_contact_and_a_deal_in_the_browser() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    // The accounts page's button opens the form; a manager may set the
    // credit limit.
    b.click(&b.find("#new-record"));
    b.wait_for("the new account form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    assert!(b.url().ends_with("/web/new/account"), "{}", b.url());
    assert!(b.try_find("[name='f.credit_limit']").is_some());
    assert!(
        b.try_find("[name='f.stage_history']").is_none(),
        "system fields are not offered"
    );
    assert!(
        b.try_find("[name='f.archived']").is_none(),
        "a new record is not created archived"
    );
    let unlabelled = b.execute(
        "return Array.from(document.querySelectorAll('#new-form input:not([type=hidden]), #new-form select, #new-form textarea'))
           .filter(i => !document.querySelector(`label[for='${i.id}']`)).map(i => i.name);",
        vec![],
    );
    assert_eq!(unlabelled, json!([]), "every input has a label");
    b.type_into(&b.find("#f-name"), "Ferretería Ñu");
    b.type_into(&b.find("#f-territory"), "madrid");
    b.type_into(&b.find("#f-city"), "Segovia");
    // Money as people write it, in the currency typed below it.
    b.type_into(&b.find("#f-credit_limit"), "5000");
    b.type_into(&b.find("#f-credit_currency"), "EUR");
    shot(&b, "new-account");
    b.click(&b.find("#create"));
    let id = card_id(&b, "account");
    assert_eq!(b.text(&b.find("#record-title")), "Ferretería Ñu");
    // The office API reads what the form stored, under the manager.
    let read = office.get(&format!("/v1/records/account/{id}"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        read.json["fields"]["name"], "Ferretería Ñu",
        "{}",
        read.text
    );
    assert_eq!(read.json["fields"]["city"], "Segovia", "{}", read.text);
    assert_eq!(
        read.json["fields"]["credit_limit"], "500000",
        "{}",
        read.text
    );
    assert_eq!(read.json["fields"]["owner"], "marta", "{}", read.text);
    assert_eq!(read.json["fields"]["stage"], "lead", "{}", read.text);
    // It syncs to the manager's CLI device like any record.
    let laptop = TestDevice::new(&rt);
    laptop.login(&server.url, "marta");
    laptop.sync();
    let rid: RecordId = id.parse().expect("a record id");
    let synced = laptop.try_get(&rid).expect("the account on the device");
    assert_eq!(synced.title(), "Ferretería Ñu");
    // And it is in the list.
    b.goto(&format!("{}/web/accounts", server.url));
    assert!(
        b.try_find(&format!("a[href='/web/records/account/{id}']"))
            .is_some(),
        "{}",
        b.page_text()
    );
    // The card's "New contact", pre-filled with the account.
    b.goto(&format!("{}/web/records/account/{id}", server.url));
    assert!(
        b.try_find(&format!("a[href='/web/new/deal?account={id}']"))
            .is_some(),
        "New deal on the account's card"
    );
    b.click(&b.find(&format!("a[href='/web/new/contact?account={id}']")));
    b.wait_for("the new contact form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    assert_eq!(b.value_of("#f-account").as_deref(), Some(id.as_str()));
    b.type_into(&b.find("#f-first_name"), "Lucía");
    b.type_into(&b.find("#f-last_name"), "Pérez");
    b.click(&b.find("#create"));
    let contact = card_id(&b, "contact");
    let read = office.get(&format!("/v1/records/contact/{contact}"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["fields"]["account"], id.as_str(), "{}", read.text);
    assert_eq!(read.json["fields"]["last_name"], "Pérez", "{}", read.text);
    // The account's card lists it among its contacts; its "New deal"
    // creates a deal of the account, in the pipeline's first stage.
    b.goto(&format!("{}/web/records/account/{id}", server.url));
    assert!(
        b.try_find(&format!("a[href='/web/records/contact/{contact}']"))
            .is_some(),
        "{}",
        b.page_text()
    );
    b.click(&b.find(&format!("a[href='/web/new/deal?account={id}']")));
    b.wait_for("the new deal form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    assert_eq!(b.value_of("#f-account").as_deref(), Some(id.as_str()));
    b.type_into(&b.find("#f-name"), "Tornillos 2027");
    b.type_into(&b.find("#f-amount"), "1250,5");
    b.type_into(&b.find("#f-currency"), "EUR");
    b.click(&b.find("#create"));
    let deal = card_id(&b, "deal");
    // The card offers the amount back in euros; changing it there stores
    // the new amount in cents.
    assert_eq!(b.value_of("#f-amount").as_deref(), Some("1250.50"));
    b.clear(&b.find("#f-amount"));
    b.type_into(&b.find("#f-amount"), "1300.75");
    b.click(&b.find("#save"));
    b.wait_for("the saved card", WAIT, |b| b.try_find("#saved").is_some());
    let read = office.get(&format!("/v1/records/deal/{deal}"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["fields"]["account"], id.as_str(), "{}", read.text);
    assert_eq!(read.json["fields"]["amount"], "130075", "{}", read.text);
    assert!(read.json["fields"]["stage"].is_string(), "{}", read.text);
    // The deal's history names its account, and shows money as the card.
    b.goto(&format!("{}/web/records/deal/{deal}/history", server.url));
    let rows = history_rows(&b);
    let account_row = rows
        .iter()
        .find(|(f, _)| f == "account")
        .expect("the account set");
    assert!(account_row.1.contains("Ferretería Ñu"), "{rows:?}");
    assert!(!account_row.1.contains("account:"), "{rows:?}");
    assert!(
        rows.iter()
            .any(|(f, t)| f == "amount" && t.contains("1,250.50 EUR → 1,300.75 EUR")),
        "{rows:?}"
    );
}

#[test]
fn a_bad_value_is_shown_next_to_its_field_and_the_form_keeps_what_was_typed() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    // The API refuses the same value with the rule book's message.
    let api = office.post(
        "/v1/records/contact",
        json!({"fields": {"first_name": "Lucía", "last_name": "Pérez",
                          "email": "lucia-at-example"}}),
    );
    assert_eq!(api.status, 422, "{}", api.text);
    assert_eq!(api.json["field"], "email", "{}", api.text);
    let reason = api.json["detail"].as_str().expect("a reason").to_owned();
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&format!("{}/web/contacts", server.url));
    b.click(&b.find("#new-record"));
    b.wait_for("the new contact form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    b.type_into(&b.find("#f-first_name"), "Lucía");
    b.type_into(&b.find("#f-last_name"), "Pérez");
    b.type_into(&b.find("#f-email"), "lucia-at-example");
    b.type_into(&b.find("#f-position"), "Compras");
    b.click(&b.find("#create"));
    b.wait_for("the refusal next to the e-mail", WAIT, |b| {
        b.try_find("#e-email").is_some()
    });
    shot(&b, "new-contact-refused");
    let shown = b.text(&b.find("#e-email"));
    assert!(shown.contains(&reason), "{shown} / {reason}");
    assert_eq!(
        b.property(&b.find("#f-email"), "ariaInvalid"),
        json!("true")
    );
    assert!(b.url().ends_with("/web/new/contact"), "{}", b.url());
    // What the user typed is kept.
    assert_eq!(b.value_of("#f-first_name").as_deref(), Some("Lucía"));
    assert_eq!(b.value_of("#f-last_name").as_deref(), Some("Pérez"));
    assert_eq!(b.value_of("#f-position").as_deref(), Some("Compras"));
    assert_eq!(b.value_of("#f-email").as_deref(), Some("lucia-at-example"));
    // Nothing was stored.
    assert!(names(&office, "contact", "last_name").is_empty());
    // Corrected, it is created.
    b.clear(&b.find("#f-email"));
    b.type_into(&b.find("#f-email"), "lucia@example.com");
    b.click(&b.find("#create"));
    let id = card_id(&b, "contact");
    let read = office.get(&format!("/v1/records/contact/{id}"));
    assert_eq!(
        read.json["fields"]["email"], "lucia@example.com",
        "{}",
        read.text
    );
    assert_eq!(read.json["fields"]["position"], "Compras", "{}", read.text);
}

#[test]
fn a_reps_new_account_form_has_no_credit_limit_and_the_server_refuses_a_hand_made_one() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    // The policy's reason, as the office API gives it.
    let api = ApiClient::signed_in(&rt, &server.url, "ana").post(
        "/v1/records/account",
        json!({"fields": {"name": "Crédito Falso SL", "credit_limit": "100000000"}}),
    );
    assert_eq!(api.status, 403, "{}", api.text);
    assert_eq!(api.json["code"], "class_not_writable", "{}", api.text);
    let reason = api.json["detail"].as_str().expect("a reason").to_owned();
    let b = browser(&rt);
    sign_in(&b, &server, "ana");
    b.click(&b.find("#new-record"));
    b.wait_for("the new account form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    assert!(b.try_find("#f-name").is_some());
    assert!(
        b.try_find("#f-city").is_some(),
        "a rep writes contact details"
    );
    assert!(b.try_find("[name='f.credit_limit']").is_none());
    assert!(b.try_find("[name='f.tax_id']").is_none());
    let source = b.page_source();
    for hidden in ["credit_limit", "Credit limit", "credit_currency", "tax_id"] {
        assert!(!source.contains(hidden), "`{hidden}` on the rep's form");
    }
    // The form changed by hand in the browser to carry a credit limit.
    b.type_into(&b.find("#f-name"), "Crédito Falso SL");
    b.type_into(&b.find("#f-territory"), "madrid");
    b.execute(
        "const i = document.createElement('input'); i.type = 'hidden';
         i.name = 'f.credit_limit'; i.value = '100000000';
         document.getElementById('new-form').appendChild(i);
         document.getElementById('new-form').submit();",
        vec![],
    );
    b.wait_for("the refusal", WAIT, |b| b.try_find("#form-error").is_some());
    let shown = b.text(&b.find("#form-error"));
    assert!(shown.contains(&reason), "{shown} / {reason}");
    assert_eq!(b.value_of("#f-name").as_deref(), Some("Crédito Falso SL"));
    assert_eq!(b.value_of("#f-territory").as_deref(), Some("madrid"));
    // A raw POST with the session's valid token: refused with the
    // policy's message.
    let forms = Forms::of(&b, &rt, &server.url);
    let csrf = csrf_of_page(&b);
    let posted = forms.post(
        "/web/new/account",
        &[
            ("csrf", &csrf),
            ("f.name", "Crédito Falso SL"),
            ("f.territory", "madrid"),
            ("f.credit_limit", "100000000"),
        ],
        Some(&server.url),
    );
    assert_eq!(posted.status, 403, "{}", posted.body);
    assert!(
        posted.body.contains(&html_escaped(&reason)),
        "{}",
        posted.body
    );
    // Without the form token: refused before anything is read.
    let posted = forms.post(
        "/web/new/account",
        &[("f.name", "Sin Token SA")],
        Some(&server.url),
    );
    assert_eq!(posted.status, 403, "{}", posted.body);
    // Nothing was created: the manager sees no such account.
    let seen = names(&office, "account", "name");
    assert!(
        !seen
            .iter()
            .any(|n| n == "Crédito Falso SL" || n == "Sin Token SA"),
        "{seen:?}"
    );
    // The same form without the credit limit creates the account, hers.
    let posted = forms.post(
        "/web/new/account",
        &[
            ("csrf", &csrf),
            ("f.name", "Crédito Falso SL"),
            ("f.territory", "madrid"),
        ],
        Some(&server.url),
    );
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert!(
        posted.location.starts_with("/web/records/account/account:"),
        "{}",
        posted.location
    );
    let id = posted.location.rsplit('/').next().expect("an id");
    let read = office.get(&format!("/v1/records/account/{id}"));
    assert_eq!(read.json["fields"]["owner"], "ana", "{}", read.text);
    assert!(read.json["fields"].get("credit_limit").is_none());
}

/// The rows of the history table: (field, text of the row).
fn history_rows(b: &Browser) -> Vec<(String, String)> {
    let rows = b.execute(
        "return Array.from(document.querySelectorAll('#history tbody tr'))
           .map(r => [r.dataset.field, r.innerText]);",
        vec![],
    );
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1))
        })
        .collect()
}

#[test]
fn the_history_lists_a_web_edit_by_its_author_and_never_a_field_the_user_may_not_read() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let office = ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Historias SA", "territory": "madrid", "city": "Toledo",
                          "credit_limit": "7654321", "credit_currency": "EUR"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = id_of(&created);
    // The manager raises the credit limit through the API.
    let raised = office.patch(
        &format!("/v1/records/account/{id}"),
        json!({"fields": {"credit_limit": "8765432"}}),
    );
    assert_eq!(raised.status, 200, "{}", raised.text);
    // The rep changes the city on the card in the browser.
    let b = browser(&rt);
    sign_in(&b, &server, "ana");
    b.goto(&format!("{}/web/records/account/{id}", server.url));
    let city = b.find("#f-city");
    b.clear(&city);
    b.type_into(&city, "Ávila");
    b.click(&b.find("#save"));
    b.wait_for("the saved card", WAIT, |b| b.try_find("#saved").is_some());
    b.click(&b.find("#history-link"));
    b.wait_for("the history", WAIT, |b| b.try_find("#history").is_some());
    assert!(
        b.url()
            .ends_with(&format!("/web/records/account/{id}/history")),
        "{}",
        b.url()
    );
    let rows = history_rows(&b);
    // Newest first: the rep's edit of the city, Toledo → Ávila, by her.
    let (field, text) = &rows[0];
    assert_eq!(field, "city", "{rows:?}");
    assert!(text.contains("Toledo"), "{text}");
    assert!(text.contains("Ávila"), "{text}");
    assert!(text.contains("ana"), "{text}");
    // The time, in her zone (Europe/Madrid), as the page says.
    assert!(b.page_text().contains("Europe/Madrid"), "{}", b.page_text());
    let when = b.text_of("#history tbody tr td.when").unwrap_or_default();
    assert_eq!(when.len(), "2026-12-02 10:00".len(), "{when}");
    assert!(
        rows.iter()
            .any(|(f, t)| f == "name" && t.contains("Historias SA") && t.contains("marta"))
    );
    // Never the credit limit: not its name, not its values.
    let source = b.page_source();
    for hidden in [
        "credit_limit",
        "Credit limit",
        "credit_currency",
        "7654321",
        "8765432",
        "76,543.21",
        "87,654.32",
    ] {
        assert!(!source.contains(hidden), "`{hidden}` in the rep's history");
    }
    // The office API's history for her agrees.
    let api = ApiClient::signed_in(&rt, &server.url, "ana")
        .get(&format!("/v1/records/account/{id}/history"));
    assert_eq!(api.status, 200, "{}", api.text);
    assert!(!api.text.contains("credit_limit"), "{}", api.text);
    shot(&b, "record-history");
    drop(b);
    // The manager sees both: the limit raised from 76,543.21 EUR to
    // 87,654.32 EUR by her (money as the card shows it, with the record's
    // currency), and the rep's city.
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&format!("{}/web/records/account/{id}/history", server.url));
    let rows = history_rows(&b);
    let limit: Vec<&(String, String)> = rows.iter().filter(|(f, _)| f == "credit_limit").collect();
    assert!(
        limit
            .iter()
            .any(|(_, t)| t.contains("76,543.21 EUR → 87,654.32 EUR") && t.contains("marta")),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|(f, t)| f == "city" && t.contains("ana")),
        "{rows:?}"
    );
    // A record she does not see, or that does not exist: not found.
    b.goto(&format!(
        "{}/web/records/account/account:01ARZ3NDEKTSV4RRFFQ69G5FAV/history",
        server.url
    ));
    assert!(b.page_text().contains("Not found"), "{}", b.page_text());
}

/// The stored `body` of note `id` as `who` reads it through the office API.
fn note_body(who: &ApiClient, id: &str) -> String {
    let answer = who.get(&format!("/v1/records/note/{id}"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json["fields"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Replaces the text of the card's `body` box as a person would (the page
/// then counts as being edited, so live refreshes keep it).
fn type_body(b: &Browser, text: &str) {
    b.execute(
        "const box = document.querySelector('#f-body');
         box.value = arguments[0];
         box.dispatchEvent(new Event('input', {bubbles: true}));",
        vec![json!(text)],
    );
}

#[test]
fn a_note_edited_in_the_browser_keeps_what_others_wrote_meanwhile_and_never_guesses() {
    let _one = one_at_a_time();
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &server.url, "ana");
    let account = ana.post(
        "/v1/records/account",
        json!({"fields": {"name": "Papelería Íñiguez", "territory": "madrid"}}),
    );
    assert_eq!(account.status, 201, "{}", account.text);
    let account = id_of(&account);
    let base = "Visit plan\nCall Ana on Monday\nBring the catalogue\n";
    let note = ana.post(
        "/v1/records/note",
        json!({"fields": {"title": "Visit plan", "account": account, "body": base}}),
    );
    assert_eq!(note.status, 201, "{}", note.text);
    let note = id_of(&note);
    let card = format!("{}/web/records/note/{note}", server.url);

    // Marta edits the first line while Ana adds a line at the end.
    let b = browser(&rt);
    sign_in(&b, &server, "marta");
    b.goto(&card);
    type_body(&b, &base.replace("Visit plan", "Visit plan (Q1)"));
    let theirs = format!("{base}Prices for 2027\n");
    let edit = ana.patch(
        &format!("/v1/records/note/{note}"),
        json!({"fields": {"body": theirs}}),
    );
    assert_eq!(edit.status, 200, "{}", edit.text);
    b.click(&b.find("#save"));
    b.wait_for("the saved card", WAIT, |b| b.try_find("#saved").is_some());
    assert_eq!(
        note_body(&marta, &note),
        "Visit plan (Q1)\nCall Ana on Monday\nBring the catalogue\nPrices for 2027\n",
        "both edits are kept"
    );

    // Both change the same line: nothing of Marta's edit is stored, her
    // text stays in the box and the stored one is shown beside it.
    let stored_before = note_body(&marta, &note);
    b.goto(&card);
    type_body(&b, &stored_before.replace("Monday", "Tuesday"));
    let theirs = stored_before.replace("Monday", "Friday");
    let edit = ana.patch(
        &format!("/v1/records/note/{note}"),
        json!({"fields": {"body": theirs}}),
    );
    assert_eq!(edit.status, 200, "{}", edit.text);
    b.click(&b.find("#save"));
    b.wait_for("the clash", WAIT, |b| b.try_find("#stored-body").is_some());
    assert_eq!(
        note_body(&marta, &note),
        theirs,
        "the stored text is untouched"
    );
    let typed = b.value_of("#f-body").unwrap_or_default();
    assert!(
        typed.contains("Tuesday"),
        "her text is still in the box: {typed}"
    );
    assert!(
        b.text_of("#stored-body")
            .unwrap_or_default()
            .contains("Friday")
    );
    assert!(b.text_of("#e-body").unwrap_or_default().contains("line 2"));
    // Saving again is her decision, made with both texts in view.
    b.click(&b.find("#save"));
    b.wait_for("the saved card", WAIT, |b| b.try_find("#saved").is_some());
    assert!(note_body(&marta, &note).contains("Tuesday"));
}

#[test]
fn an_activity_planned_from_the_calendar_lands_at_the_local_time_picked() {
    use fieldwork_tests::clocked::world;
    let _one = one_at_a_time();
    let rt = runtime();
    let w = world("2027-01-04T09:00:00Z");
    let b = browser(&rt);
    sign_in(&b, &w.server, "mia");
    b.goto(&format!("{}/web/calendar", w.server.url));
    b.click(&b.find("#new-activity"));
    b.wait_for("the new activity form", WAIT, |b| {
        b.try_find("#new-form").is_some()
    });
    let kind = b.property(&b.find("#f-due_at"), "type");
    assert_eq!(kind, json!("datetime-local"), "a date-time picker");
    b.click(&b.find("#f-type option[value='call']"));
    b.type_into(&b.find("#f-subject"), "Llamar a Óptica Sol");
    // The picker's value, as a person picks it: Wednesday 10:30 in Madrid.
    b.execute(
        "const i = document.querySelector('#f-due_at'); i.value = '2027-01-06T10:30';",
        vec![],
    );
    b.click(&b.find("#create"));
    let id = card_id(&b, "activity");
    assert_eq!(b.value_of("#f-due_at").as_deref(), Some("2027-01-06T10:30"));
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let read = mia.get(&format!("/v1/records/activity/{id}"));
    assert_eq!(
        read.json["fields"]["due_at"], "2027-01-06T10:30:00+01:00",
        "{}",
        read.text
    );
    b.goto(&format!("{}/web/calendar?week=2027-W01", w.server.url));
    let wednesday = b.text_of("#day-2027-01-06").unwrap_or_default();
    assert!(
        wednesday.contains("Llamar a Óptica Sol") && wednesday.contains("10:30"),
        "{wednesday}"
    );
}
