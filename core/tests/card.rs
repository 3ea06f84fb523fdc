//! The record card: what a screen may show and let the user edit, decided by
//! the core from the schema and the policy.

use crate::common;

use common::{account, set, sign_in, store};
use fieldwork_core::{FieldWrite, RecordKind};

#[test]
fn a_rep_s_card_has_no_restricted_fields_and_flags_what_she_may_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let id = account(&mut s, "Acme", vec![set("territory", "north")]);

    let card = s.card(&id).expect("card");
    assert_eq!(card.title, "Acme");
    let names: Vec<&str> = card.fields.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"email"), "contact details are readable");
    assert!(!names.contains(&"credit_limit") && !names.contains(&"tax_id"));
    let field = |n: &str| card.fields.iter().find(|f| f.name == n).expect(n);
    assert!(field("name").writable && field("name").required);
    assert_eq!(field("name").value.as_deref(), Some("Acme"));
    assert!(
        !field("stage_history").writable,
        "system fields are read-only"
    );
    assert!(
        field("stage_history").value.is_none(),
        "logs are not editable text"
    );

    let creatable = s.creatable_fields(RecordKind::Account);
    assert!(creatable.contains(&"name".to_owned()));
    assert!(!creatable.contains(&"credit_limit".to_owned()));
}

#[test]
fn a_manager_sees_money_with_its_currency_and_the_text_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "manager.db");
    sign_in(&mut s, "mia", "manager");
    let kind = RecordKind::Account;
    let id = account(
        &mut s,
        "Acme",
        vec![
            FieldWrite::text(kind, "credit_limit", Some("250000")).expect("parse"),
            FieldWrite::text(kind, "credit_currency", Some("eur")).expect("parse"),
        ],
    );
    let card = s.card(&id).expect("card");
    let limit = card
        .fields
        .iter()
        .find(|f| f.name == "credit_limit")
        .expect("limit");
    assert!(limit.writable);
    assert_eq!(limit.display.as_deref(), Some("2500.00 EUR"));
    let text = limit.value.clone().expect("value");
    // What the card shows as editable text is accepted back unchanged.
    s.update(
        &id,
        vec![FieldWrite::text(kind, "credit_limit", Some(&text)).expect("parse")],
    )
    .expect("update");
    assert_eq!(s.card(&id).expect("card"), card);

    let cleared = FieldWrite::text(kind, "website", None).expect("clear");
    assert_eq!(cleared.value, None);
    assert!(FieldWrite::text(kind, "credit_limit", Some("a lot")).is_err());
    assert!(FieldWrite::text(kind, "no_such_field", Some("x")).is_err());
}

#[test]
fn money_is_typed_and_shown_as_people_write_it_with_its_currency() {
    use fieldwork_core::{CoreError, TextWrite};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "manager.db");
    sign_in(&mut s, "mia", "manager");
    let kind = RecordKind::Account;
    let id = s
        .create_text(
            kind,
            vec![
                TextWrite::set("name", "Dinero SA"),
                TextWrite::set("territory", "north"),
                TextWrite::money("credit_limit", "1234.50", "eur"),
            ],
        )
        .expect("create");
    let record = s.get(&id).expect("get");
    assert_eq!(
        record.get("credit_limit").and_then(|v| v.as_int()),
        Some(123_450)
    );
    assert_eq!(
        record.text("credit_currency"),
        Some("EUR"),
        "the currency comes with it"
    );
    let card = s.card(&id).expect("card");
    let limit = card
        .fields
        .iter()
        .find(|f| f.name == "credit_limit")
        .expect("limit");
    assert_eq!(limit.amount.as_deref(), Some("1234.50"));
    assert_eq!(limit.currency.as_deref(), Some("EUR"));
    assert_eq!(limit.value.as_deref(), Some("123450"), "minor units stay");
    // What the card shows is accepted back unchanged: no change is made.
    let before = s.outbox_len().expect("outbox");
    s.update_text(
        &id,
        vec![TextWrite::money(
            "credit_limit",
            limit.amount.as_deref().expect("amount"),
            limit.currency.as_deref().expect("currency"),
        )],
    )
    .expect("same value");
    assert_eq!(s.outbox_len().expect("outbox"), before);
    // A comma and a currency without decimals are read as people mean them.
    s.update_text(&id, vec![TextWrite::money("credit_limit", "2000,5", "EUR")])
        .expect("comma");
    assert_eq!(
        s.get(&id)
            .expect("get")
            .get("credit_limit")
            .and_then(|v| v.as_int()),
        Some(200_050)
    );
    s.update_text(&id, vec![TextWrite::money("credit_limit", "1500", "JPY")])
        .expect("yen");
    let record = s.get(&id).expect("get");
    assert_eq!(
        record.get("credit_limit").and_then(|v| v.as_int()),
        Some(1_500)
    );
    assert_eq!(record.text("credit_currency"), Some("JPY"));
    // The minor-unit form still works for apps that use it.
    s.update_text(&id, vec![TextWrite::set("credit_limit", "99900")])
        .expect("minor units");
    assert_eq!(
        s.get(&id)
            .expect("get")
            .get("credit_limit")
            .and_then(|v| v.as_int()),
        Some(99_900)
    );
    // Refusals name the field and change nothing.
    let invalid = |e: CoreError| match e {
        CoreError::Invalid(v) => v.field,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let e = s
        .update_text(&id, vec![TextWrite::money("credit_limit", "12.345", "EUR")])
        .expect_err("too many decimals");
    assert_eq!(invalid(e).as_deref(), Some("credit_limit"));
    let e = s
        .update_text(
            &id,
            vec![
                TextWrite::money("credit_limit", "10", "EUR"),
                TextWrite::set("credit_currency", "USD"),
            ],
        )
        .expect_err("two currencies");
    assert_eq!(invalid(e).as_deref(), Some("credit_currency"));
    let e = s
        .update_text(&id, vec![TextWrite::money("name", "10", "EUR")])
        .expect_err("not money");
    assert_eq!(invalid(e).as_deref(), Some("name"));
    assert_eq!(
        s.get(&id)
            .expect("get")
            .get("credit_limit")
            .and_then(|v| v.as_int()),
        Some(99_900)
    );
}
