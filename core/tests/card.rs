//! The record card: what a screen may show and let the user edit, decided by
//! the core from the schema and the policy.

mod common;

use common::{account, set, store};
use fieldwork_core::store::SignIn;
use fieldwork_core::{FieldWrite, Policy, RecordKind, UserContext};

fn sign_in(s: &mut fieldwork_core::Store, name: &str, role: &str) {
    s.set_sign_in(&SignIn {
        server: "http://127.0.0.1:1".into(),
        transport: Default::default(),
        user: UserContext {
            name: name.into(),
            role: role.into(),
            territories: vec!["north".into()],
            team: vec![],
        },
        policy: Policy::shipped_default().source().to_owned(),
        policy_revision: 1,
    })
    .expect("session");
}

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
