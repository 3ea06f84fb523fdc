//! The policy decides first: whatever else is wrong with a write, a field
//! the user may not write is refused as `Denied`, never as a schema or rule
//! error that names a field the user cannot even read; and a store belongs
//! to one user: signing another in is `Denied` too (issue 16).

use crate::common;

use common::{account, set, sign_in, store};
use fieldwork_core::store::SignIn;
use fieldwork_core::{CoreError, FieldValue, FieldWrite, RecordKind, TextWrite, UserContext};

fn denied_field(e: CoreError) -> (String, Option<String>) {
    match e {
        CoreError::Denied(d) => (d.code, d.field),
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[test]
fn a_rep_writing_a_credit_limit_is_denied_before_any_rule_or_value_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "ana", "rep");
    let id = account(&mut s, "Acme", vec![set("territory", "north")]);
    let kind = RecordKind::Account;

    // A limit without its currency: the rule book would ask for
    // `credit_currency`, a field she cannot read.
    let e = s
        .update(&id, vec![FieldWrite::set("credit_limit", 100_000i64)])
        .expect_err("denied");
    assert_eq!(
        denied_field(e),
        ("class_not_writable".into(), Some("credit_limit".into()))
    );
    // The same when creating.
    let e = s
        .create(
            kind,
            vec![
                set("name", "Beta"),
                set("territory", "north"),
                FieldWrite::set("credit_limit", 100_000i64),
            ],
        )
        .expect_err("denied");
    assert_eq!(denied_field(e).1.as_deref(), Some("credit_limit"));
    // A value the schema would refuse is denied as well.
    let e = s
        .update(
            &id,
            vec![FieldWrite {
                field: "credit_limit".into(),
                value: Some(FieldValue::Text("lots".into())),
            }],
        )
        .expect_err("denied");
    assert_eq!(denied_field(e).1.as_deref(), Some("credit_limit"));
    // Text typed into a form is parsed only once the policy allowed the
    // field: what a rep types into a limit is denied, not misread.
    let e = s
        .update_text(&id, vec![TextWrite::set("credit_limit", "lots")])
        .expect_err("denied");
    assert_eq!(denied_field(e).1.as_deref(), Some("credit_limit"));
    let e = s
        .create_text(
            kind,
            vec![
                TextWrite::set("name", "Gamma"),
                TextWrite::set("credit_limit", "12,5 millions"),
            ],
        )
        .expect_err("denied");
    assert_eq!(denied_field(e).1.as_deref(), Some("credit_limit"));
    // Her own fields' text is still parsed and checked.
    let e = s
        .update_text(&id, vec![TextWrite::set("email", "not an address")])
        .expect_err("invalid");
    assert!(
        matches!(&e, CoreError::Invalid(v) if v.field.as_deref() == Some("email")),
        "{e:?}"
    );
    s.update_text(&id, vec![TextWrite::set("city", "Bilbao")])
        .expect("her own field");
    // Nothing else was written.
    let record = s.get(&id).expect("get");
    assert!(record.get("credit_limit").is_none() && record.get("email").is_none());
    assert_eq!(record.text("city"), Some("Bilbao"));

    // A manager writing the same limit without currency meets the rule.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = store(dir.path(), "manager.db");
    sign_in(&mut m, "mia", "manager");
    let id = account(&mut m, "Acme", vec![set("territory", "north")]);
    let e = m
        .update(&id, vec![FieldWrite::set("credit_limit", 100_000i64)])
        .expect_err("rule");
    assert!(
        matches!(&e, CoreError::Invalid(v) if v.field.as_deref() == Some("credit_currency")),
        "{e:?}"
    );
}

#[test]
fn a_store_signed_in_for_one_user_denies_another_and_stays_hers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "ana.db");
    sign_in(&mut s, "ana", "rep");
    let mia = SignIn {
        user: UserContext {
            name: "mia".into(),
            role: "manager".into(),
            territories: vec![],
            team: vec![],
        },
        ..s.sign_in().expect("read").expect("signed in")
    };
    let e = s.set_sign_in(&mia).expect_err("another user");
    match e {
        CoreError::Denied(d) => {
            assert_eq!(d.code, fieldwork_core::store::STORE_OF_ANOTHER_USER);
            assert_eq!(d.rule, "store.user");
            assert!(d.message.contains("ana"), "{}", d.message);
        }
        other => panic!("expected Denied, got {other:?}"),
    }
    assert_eq!(s.author(), "ana");
    assert_eq!(
        s.sign_in().expect("read").expect("signed in").user.name,
        "ana"
    );
}
