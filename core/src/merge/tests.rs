use super::*;

fn fields(pairs: &[(&str, FieldValue)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn t(s: &str) -> FieldValue {
    FieldValue::Text(s.to_owned())
}

fn account() -> RecordId {
    RecordId::new_random(RecordKind::Account)
}

#[test]
fn a_pair_is_refused_with_its_code() {
    let (a, b) = (account(), account());
    let empty = Fields::new();
    assert_eq!(check_pair((&a, &empty), (&b, &empty)), Ok(()));
    assert_eq!(
        check_pair((&a, &empty), (&a, &empty)).map_err(|e| e.code()),
        Err("merge_self")
    );
    let contact = RecordId::new_random(RecordKind::Contact);
    assert_eq!(
        check_pair((&a, &empty), (&contact, &empty)).map_err(|e| e.code()),
        Err("merge_kind_mismatch")
    );
    let (d1, d2) = (
        RecordId::new_random(RecordKind::Deal),
        RecordId::new_random(RecordKind::Deal),
    );
    assert_eq!(
        check_pair((&d1, &empty), (&d2, &empty)).map_err(|e| e.code()),
        Err("merge_not_mergeable")
    );
    let merged = fields(&[(schema::MERGED_INTO, t(&account().to_string()))]);
    assert_eq!(
        check_pair((&a, &empty), (&b, &merged)),
        Err(MergeError::AlreadyMerged(b.clone()))
    );
    assert_eq!(
        check_pair((&a, &merged), (&b, &empty)),
        Err(MergeError::AlreadyMerged(a.clone()))
    );
}

#[test]
fn fills_take_empty_fields_and_only_named_ones_over_the_survivor() {
    let survivor = fields(&[("name", t("Norte SL")), ("phone", t("+34 600 000 001"))]);
    let loser = fields(&[
        ("name", t("Norte")),
        ("phone", t("+34 600 000 002")),
        ("city", t("Sevilla")),
        ("archived", FieldValue::Bool(false)),
        ("stage", t("lead")),
    ]);
    let plain = fills(
        &Policy::shipped_default(),
        RecordKind::Account,
        &survivor,
        &loser,
        &[],
    )
    .expect("fills");
    let names: Vec<&str> = plain.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["stage", "city"]);
    assert_eq!(plain[1].previous, None);
    let taken = fills(
        &Policy::shipped_default(),
        RecordKind::Account,
        &survivor,
        &loser,
        &["phone".into()],
    )
    .expect("fills");
    let phone = taken
        .iter()
        .find(|f| f.field == "phone")
        .expect("phone taken");
    assert_eq!(phone.value, t("+34 600 000 002"));
    assert_eq!(phone.previous, Some(t("+34 600 000 001")));
    assert!(taken.iter().all(|f| f.field != "name"), "name not taken");
    for bad in ["archived", "merged_into", "stage_history", "nope"] {
        assert_eq!(
            fills(
                &Policy::shipped_default(),
                RecordKind::Account,
                &survivor,
                &loser,
                &[bad.into()]
            ),
            Err(MergeError::NotCarried(bad.into()))
        );
    }
}

#[test]
fn undo_restores_only_what_still_holds_the_merged_value() {
    let merged = vec![
        Fill {
            field: "city".into(),
            value: t("Sevilla"),
            previous: None,
        },
        Fill {
            field: "phone".into(),
            value: t("2"),
            previous: Some(t("1")),
        },
        Fill {
            field: "industry".into(),
            value: t("retail"),
            previous: None,
        },
    ];
    let now = fields(&[
        ("city", t("Sevilla")),
        ("phone", t("2")),
        ("industry", t("edited since")),
    ]);
    assert_eq!(
        undo_fills(&now, &merged),
        vec![FieldWrite::clear("city"), FieldWrite::set("phone", t("1"))]
    );
}

#[test]
fn references_to_the_loser_are_repointed_but_never_into_a_self_relationship() {
    let (survivor, loser) = (account(), account());
    let contact = RecordId::new_random(RecordKind::Contact);
    let deal = RecordId::new_random(RecordKind::Deal);
    let rel_other = RecordId::new_random(RecordKind::Relationship);
    let rel_self = RecordId::new_random(RecordKind::Relationship);
    let unrelated = RecordId::new_random(RecordKind::Contact);
    let l = || t(&loser.to_string());
    let referring = vec![
        (contact.clone(), fields(&[("account", l())])),
        (deal.clone(), fields(&[("account", l()), ("name", t("x"))])),
        (
            rel_other.clone(),
            fields(&[("from", l()), ("to", t(&contact.to_string()))]),
        ),
        (
            rel_self.clone(),
            fields(&[("from", l()), ("to", t(&survivor.to_string()))]),
        ),
        (unrelated, fields(&[("account", t(&account().to_string()))])),
    ];
    let got = repoints(&Policy::shipped_default(), &loser, &survivor, &referring);
    let pairs: Vec<(RecordId, &str)> = got
        .iter()
        .map(|r| (r.record.clone(), r.field.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![(contact, "account"), (deal, "account"), (rel_other, "from")]
    );
    let back = undo_repoint(&got[0], &loser);
    assert_eq!(back, FieldWrite::set("account", loser.to_string()));
    let now = fields(&[("account", t(&survivor.to_string()))]);
    assert!(still_repointed(&now, "account", &survivor));
    assert!(!still_repointed(&now, "account", &loser));
}

#[test]
fn referring_fields_cover_every_reference_but_instances_and_merges() {
    let to_accounts = referring_fields(&Policy::shipped_default(), RecordKind::Account);
    for pair in [
        (RecordKind::Contact, "account"),
        (RecordKind::Deal, "account"),
        (RecordKind::Activity, "account"),
        (RecordKind::Note, "account"),
        (RecordKind::Relationship, "from"),
        (RecordKind::Relationship, "to"),
    ] {
        assert!(to_accounts.contains(&pair), "{pair:?}");
    }
    assert!(
        to_accounts
            .iter()
            .all(|(k, f)| *k != RecordKind::ProcessInstance && *f != schema::MERGED_INTO)
    );
    let to_contacts = referring_fields(&Policy::shipped_default(), RecordKind::Contact);
    assert!(to_contacts.contains(&(RecordKind::Activity, "contact")));
    assert!(!to_contacts.contains(&(RecordKind::Contact, "account")));
}

#[test]
fn instance_fields_are_the_record_and_for_an_account_the_account() {
    assert_eq!(
        instance_fields(RecordKind::Account),
        vec!["record", "account"]
    );
    assert_eq!(instance_fields(RecordKind::Contact), vec!["record"]);
    assert!(instance_fields(RecordKind::Note).is_empty());
}

#[test]
fn the_redirect_forwards_user_fields_the_edit_changed_and_nothing_else() {
    let before = fields(&[("name", t("Sur")), ("phone", t("1"))]);
    let after = fields(&[
        ("name", t("Sur")),
        ("city", t("Cádiz")),
        ("archived", FieldValue::Bool(true)),
        ("merged_into", t(&account().to_string())),
    ]);
    assert_eq!(
        forwarded(
            &Policy::shipped_default(),
            RecordKind::Account,
            &before,
            &after
        ),
        vec![
            FieldWrite::clear("phone"),
            FieldWrite::set("city", t("Cádiz"))
        ]
    );
    assert!(
        forwarded(
            &Policy::shipped_default(),
            RecordKind::Account,
            &before,
            &before
        )
        .is_empty()
    );
}

#[test]
fn the_undo_period_is_thirty_days() {
    let day = 24 * 60 * 60 * 1000;
    assert!(undo_open(0, 30 * day));
    assert!(!undo_open(0, 30 * day + 1));
    assert!(undo_open(i64::MAX, i64::MIN), "no overflow");
}

/// The default policy with a custom choice on accounts and a custom
/// reference to an account on contacts, both in the general class.
fn custom_policy() -> Policy {
    let text = crate::policy::DEFAULT_POLICY_TOML
        .replacen(
            "\"industry\", \"website\", \"description\"]",
            "\"industry\", \"website\", \"description\", \"x_segment\"]",
            1,
        )
        .replacen(
            "[fields.contact]\ngeneral = [",
            "[fields.contact]\ngeneral = [\"x_billing\", ",
            1,
        );
    let extra = r#"
[custom.account.segment]
type = "choice"
choices = ["smb", "enterprise"]

[custom.contact.billing]
type = "reference"
to = "account"
"#;
    Policy::from_toml(&format!("{text}\n{extra}")).expect("the custom policy is valid")
}

#[test]
fn custom_fields_are_filled_forwarded_and_their_references_repointed() {
    let policy = custom_policy();
    let survivor = fields(&[("name", t("Norte SL"))]);
    let loser = fields(&[("name", t("Norte")), ("x_segment", t("smb"))]);
    let filled = fills(&policy, RecordKind::Account, &survivor, &loser, &[]).expect("fills");
    assert!(
        filled
            .iter()
            .any(|f| f.field == "x_segment" && f.value == t("smb")),
        "{filled:?}"
    );
    assert!(
        fills(
            &Policy::shipped_default(),
            RecordKind::Account,
            &survivor,
            &loser,
            &[]
        )
        .expect("fills")
        .iter()
        .all(|f| f.field != "x_segment"),
        "without the definition the field is not carried"
    );
    let after = fields(&[("name", t("Norte")), ("x_segment", t("enterprise"))]);
    let forward = forwarded(&policy, RecordKind::Account, &loser, &after);
    assert_eq!(forward.len(), 1, "{forward:?}");
    assert_eq!(forward[0].field, "x_segment");
    assert!(
        referring_fields(&policy, RecordKind::Account)
            .contains(&(RecordKind::Contact, "x_billing")),
        "a custom reference to accounts is re-pointed"
    );
}
