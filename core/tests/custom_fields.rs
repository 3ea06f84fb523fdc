//! Custom fields on a device with no network: written, checked, searched,
//! listed, carded by the synced policy; removed by a later policy while
//! their values stay in history.

use crate::common;

use common::{account, store};
use fieldwork_core::error::CoreError;
use fieldwork_core::store::SignIn;
use fieldwork_core::{FieldWrite, ListQuery, Policy, RecordKind, Store, UserContext};

/// The default policy with a choice `x_segment` and a text `x_note`
/// (general) and a number `x_margin` (financial) on accounts.
fn custom_policy() -> String {
    let text = fieldwork_core::policy::DEFAULT_POLICY_TOML.replacen(
        "\"website\", \"description\"]",
        "\"website\", \"description\", \"x_segment\", \"x_note\"]",
        1,
    );
    let text = text.replacen(
        "financial = [\"credit_limit\", \"credit_currency\", \"contract\"]",
        "financial = [\"credit_limit\", \"credit_currency\", \"contract\", \"x_margin\"]",
        1,
    );
    let extra = "\n[custom.account.segment]\ntype = \"choice\"\nchoices = [\"smb\", \"mid\", \"enterprise\"]\n\
                 [custom.account.note]\ntype = \"text\"\nmax = 40\n\
                 [custom.account.margin]\ntype = \"number\"\nmin = 0\nmax = 100\n";
    let text = format!("{text}{extra}");
    Policy::from_toml(&text).expect("custom policy is valid");
    text
}

fn sign_in(s: &mut Store, role: &str, policy: &str, revision: u64) {
    s.set_sign_in(&SignIn {
        server: "http://127.0.0.1:1".into(),
        transport: Default::default(),
        user: UserContext {
            name: "rita".into(),
            role: role.into(),
            territories: vec!["north".into()],
            team: vec![],
        },
        policy: policy.to_owned(),
        policy_revision: revision,
    })
    .expect("sign in");
}

fn text(field: &str, raw: &str) -> FieldWrite {
    FieldWrite::text(RecordKind::Account, field, Some(raw)).expect("typed")
}

fn by_segment(s: &Store, segment: &str) -> Vec<String> {
    let q = ListQuery {
        custom: [("x_segment".to_owned(), segment.to_owned())].into(),
        ..ListQuery::default()
    };
    let rows = s.list(&q).expect("list");
    rows.into_iter().map(|r| r.title).collect()
}

#[test]
fn a_custom_field_is_checked_indexed_and_carded_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "rep", &custom_policy(), 2);
    let acme = account(
        &mut s,
        "Acme",
        vec![text("x_segment", "mid"), text("x_note", "spring promo")],
    );
    let beta = account(&mut s, "Beta", vec![text("x_segment", "smb")]);
    account(&mut s, "Gamma", vec![]);

    // A value outside the choices is refused before anything is written.
    let Err(CoreError::Invalid(e)) = s.update(&beta, vec![text("x_segment", "huge")]) else {
        panic!("a bad choice must be refused");
    };
    assert_eq!(e.field.as_deref(), Some("x_segment"));
    assert!(
        e.message.contains("is not one of smb, mid, enterprise"),
        "{}",
        e.message
    );
    // A class the rep does not write is refused whatever the value.
    let Err(CoreError::Denied(d)) = s.update(&beta, vec![text("x_margin", "5")]) else {
        panic!("x_margin is financial");
    };
    assert_eq!(d.code, "class_not_writable");

    let hits = s
        .search("promo", Some(RecordKind::Account), 10)
        .expect("search");
    assert_eq!(hits.iter().map(|h| &h.id).collect::<Vec<_>>(), [&acme]);
    assert_eq!(by_segment(&s, "mid"), ["Acme"]);
    assert_eq!(by_segment(&s, "smb"), ["Beta"]);
    let sorted = s
        .list(&ListQuery {
            sort_custom: Some("x_segment".into()),
            descending: true,
            ..ListQuery::default()
        })
        .expect("sorted");
    let titles: Vec<&str> = sorted.iter().map(|r| r.title.as_str()).collect();
    // Descending by value, records without one last.
    assert_eq!(titles, ["Beta", "Acme", "Gamma"]);
    let Err(CoreError::Invalid(e)) = s.list(&ListQuery {
        sort_custom: Some("name".into()),
        ..ListQuery::default()
    }) else {
        panic!("only custom fields sort this way");
    };
    assert_eq!(e.field.as_deref(), Some("name"));

    let card = s.card(&acme).expect("card");
    let seg = card
        .fields
        .iter()
        .find(|f| f.name == "x_segment")
        .expect("shown");
    assert_eq!(seg.value.as_deref(), Some("mid"));
    assert!(seg.writable);
    assert!(
        card.fields.iter().all(|f| f.name != "x_margin"),
        "rep reads no financial"
    );
}

#[test]
fn a_removed_custom_field_stays_in_history_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "rep.db");
    sign_in(&mut s, "rep", &custom_policy(), 2);
    let acme = account(
        &mut s,
        "Acme",
        vec![text("x_segment", "mid"), text("x_note", "spring promo")],
    );
    assert_eq!(by_segment(&s, "mid"), ["Acme"]);

    // The next policy revision drops the custom fields.
    sign_in(
        &mut s,
        "rep",
        fieldwork_core::policy::DEFAULT_POLICY_TOML,
        3,
    );
    let card = s.card(&acme).expect("card");
    assert!(
        card.fields.iter().all(|f| !f.name.starts_with("x_")),
        "{card:?}"
    );
    assert!(by_segment(&s, "mid").is_empty(), "lists forget it");
    assert!(s.search("promo", None, 10).expect("search").is_empty());
    let refused = s.update(&acme, vec![text("x_segment", "smb")]);
    assert!(matches!(refused, Err(CoreError::Invalid(_))), "{refused:?}");
    let history = s.history(&acme).expect("history");
    let kept = history
        .iter()
        .flat_map(|h| &h.fields)
        .find(|f| f.field == "x_segment")
        .expect("history keeps the value");
    assert_eq!(kept.value.as_deref(), Some("mid"));
    // The value is still in the document, read without its definition.
    assert_eq!(s.get(&acme).expect("get").text("x_segment"), Some("mid"));
}
