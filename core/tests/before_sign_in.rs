//! What a person types before the store's first sign-in becomes theirs at
//! that sign-in, in one transaction: authored by them, owned by them, ready
//! to push; what their policy refuses is kept in the quarantine (issue 16).

use crate::common;

use common::{account, set, store};
use fieldwork_core::store::SignIn;
use fieldwork_core::{FieldWrite, Policy, RecordKind, UserContext};

fn ana() -> SignIn {
    SignIn {
        server: "http://127.0.0.1:1".into(),
        transport: Default::default(),
        user: UserContext {
            name: "ana".into(),
            role: "rep".into(),
            territories: vec!["north".into()],
            team: vec![],
        },
        policy: Policy::shipped_default().source().to_owned(),
        policy_revision: 1,
    }
}

#[test]
fn records_typed_before_the_first_sign_in_become_the_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    assert_eq!(s.author(), "local");
    let acc = account(
        &mut s,
        "Antes SL",
        vec![
            set("territory", "north"),
            set("city", "Bilbao"),
            set("email", "hola@antes.es"),
            FieldWrite::set("credit_limit", 100_000i64),
            set("credit_currency", "EUR"),
        ],
    );
    s.update(&acc, vec![set("city", "Getxo")]).expect("update");
    let contact = s
        .create(
            RecordKind::Contact,
            vec![
                set("first_name", "Iker"),
                set("last_name", "Antes"),
                set("account", &acc.to_string()),
            ],
        )
        .expect("contact");
    assert_eq!(s.get(&acc).expect("get").text("owner"), Some("local"));

    s.set_sign_in(&ana()).expect("first sign-in");

    // Everything she typed and may write is hers now, with the same ids.
    let record = s.get(&acc).expect("get");
    assert_eq!(record.text("name"), Some("Antes SL"));
    assert_eq!(record.text("city"), Some("Getxo"), "the last value typed");
    assert_eq!(record.text("email"), Some("hola@antes.es"));
    assert_eq!(record.text("owner"), Some("ana"));
    assert!(record.get("credit_limit").is_none());
    let person = s.get(&contact).expect("contact");
    assert_eq!(person.text("owner"), Some("ana"));
    assert_eq!(person.text("account"), Some(acc.to_string().as_str()));
    for id in [&acc, &contact] {
        let authors: Vec<String> = s
            .history(id)
            .expect("history")
            .into_iter()
            .map(|h| h.author)
            .collect();
        assert!(
            !authors.is_empty() && authors.iter().all(|a| a == "ana"),
            "{authors:?}"
        );
    }
    // Every change waiting for the first push is hers.
    let pending = s.pending(1000, usize::MAX).expect("pending");
    assert!(!pending.is_empty());
    // What her role may not write is kept, not lost.
    let mut kept: Vec<(String, String)> = s
        .quarantine()
        .expect("quarantine")
        .into_iter()
        .map(|q| (q.field, q.code))
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            ("credit_currency".into(), "class_not_writable".into()),
            ("credit_limit".into(), "class_not_writable".into()),
        ]
    );
    // Lists and search show the records as hers.
    let hits = s.search("antes", None, 10).expect("search");
    assert_eq!(hits.len(), 2);

    // A later sign-in (the same user again) changes nothing.
    let before = s.pending(1000, usize::MAX).expect("pending").len();
    s.set_sign_in(&ana()).expect("again");
    assert_eq!(s.pending(1000, usize::MAX).expect("pending").len(), before);
}
