//! The `create` step: a deal made from a qualified account, the same on
//! every replica, and an instance failed (nothing written) when the values
//! would break the rule book.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::create::created_id;
use super::{Action, Inputs, step};
use crate::ids::{RecordId, RecordKind};
use crate::process::instance::Instance;
use crate::process::model::{Model, ModelError};
use crate::record::Record;
use crate::value::FieldValue;

const QUALIFIED: &str = r#"
key = "qualified-lead"
name = "Open a deal for a qualified lead"
trigger = { kind = "manual", record = "account" }

[[steps]]
id = "open-deal"
kind = "create"
create = "deal"
fields = { name = "{name}: first order", account = "{id}", stage = "qualification", amount = "{credit_limit}", currency = "EUR" }
next = "done"

[[steps]]
id = "done"
kind = "end"
"#;

fn account(revenue: Option<i64>) -> Record {
    let mut fields = BTreeMap::new();
    fields.insert("name".into(), FieldValue::Text("Nube SL".into()));
    fields.insert("owner".into(), FieldValue::Text("ana".into()));
    if let Some(r) = revenue {
        fields.insert("credit_limit".into(), FieldValue::Int(r));
    }
    Record {
        id: RecordId::derived(RecordKind::Account, &["a"]),
        fields,
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    }
}

fn run(model: &Model, record: &Record) -> super::Outcome {
    let started: Timestamp = "2027-03-01T09:00:00Z".parse().expect("t");
    let instance = Instance {
        id: Instance::derive_id("qualified-lead", &record.id, started),
        model_key: "qualified-lead".into(),
        model: RecordId::derived(RecordKind::ProcessModel, &["qualified-lead", "1"]),
        started_version: 1,
        record: record.id.clone(),
        account: Some(record.id.clone()),
        owner: Some("ana".into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    };
    step(&Inputs {
        model,
        start: &model.start,
        instance: &instance,
        record: Some(record),
        account: Some(record),
        activities: &BTreeMap::new(),
        directory: &[],
        policy: None,
        called: &BTreeMap::new(),
        may_start: true,
        now: "2027-03-01T10:00:00Z".parse().expect("now"),
    })
}

#[test]
fn a_deal_is_made_from_the_account_once_with_its_owner() {
    let model = Model::from_toml(QUALIFIED).expect("valid");
    let a = account(Some(1_200_000));
    let o = run(&model, &a);
    assert!(o.failed.is_none(), "{:?}", o.failed);
    let created: Vec<_> = o
        .actions
        .iter()
        .filter_map(|x| match x {
            Action::CreateRecord { id, fields, at } => Some((id, fields, at)),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 1);
    let (id, fields, at) = created[0];
    assert_eq!(id.kind(), RecordKind::Deal);
    assert_eq!(
        at.to_string(),
        "2027-03-01T09:00:00Z",
        "dated at the step's entry"
    );
    let text = |f: &str| fields.get(f).and_then(FieldValue::as_text);
    assert_eq!(text("name"), Some("Nube SL: first order"));
    assert_eq!(text("account"), Some(a.id.to_string().as_str()));
    assert_eq!(text("owner"), Some("ana"), "the instance's owner");
    assert!(fields.contains_key("amount"));
    let again = run(&model, &a);
    assert_eq!(again.actions, o.actions, "the same on every replica");
    let instance = Instance::derive_id(
        "qualified-lead",
        &a.id,
        "2027-03-01T09:00:00Z".parse().expect("t"),
    );
    assert_eq!(*id, created_id(&instance, RecordKind::Deal, "open-deal", 0));
}

#[test]
fn values_that_break_a_rule_fail_the_instance_and_write_nothing() {
    // Without revenue the amount is empty text, which a money field refuses.
    let model = Model::from_toml(QUALIFIED).expect("valid");
    let o = run(&model, &account(None));
    let why = o.failed.expect("failed");
    assert!(
        why.contains("cannot create the deal") && why.contains("`amount`"),
        "{why}"
    );
    // A lost deal needs a reason (the rule book): refused the same way.
    let lost = QUALIFIED.replace(
        "stage = \"qualification\", amount = \"{credit_limit}\", ",
        "stage = \"lost\", ",
    );
    let model = Model::from_toml(&lost).expect("valid");
    let o = run(&model, &account(Some(1)));
    assert!(
        o.failed
            .is_some_and(|w| w.contains("cannot create the deal"))
    );
}

#[test]
fn a_create_step_is_checked_when_published() {
    let bad = QUALIFIED
        .replace("account = \"{id}\", ", "")
        .replace(
            "stage = \"qualification\"",
            "stage = \"sold\", colour = \"red\", stage_history = \"x\"",
        )
        .replace("{name}: first order", "{nmae}");
    let ModelError(errors) = Model::from_toml(&bad).expect_err("invalid");
    let has = |s: &str| errors.iter().any(|e| e.contains(s));
    assert!(has("a new deal needs `account`"), "{errors:?}");
    assert!(has("steps.open-deal.fields.stage"), "{errors:?}");
    assert!(
        has("`colour` is not a settable field of deal"),
        "{errors:?}"
    );
    assert!(has("`stage_history` is not a settable field"), "{errors:?}");
    assert!(has("`{nmae}`"), "{errors:?}");
    let wrong_kind = QUALIFIED.replace("create = \"deal\"", "create = \"note\"");
    let ModelError(errors) = Model::from_toml(&wrong_kind).expect_err("invalid");
    assert!(errors.iter().any(|e| e.contains("not note")), "{errors:?}");
}
