//! Parsing the policy's custom fields, picklists and probabilities, and
//! values checked against custom definitions.

use super::super::{DEFAULT_POLICY_TOML, Policy};
use crate::error::CoreError;
use crate::ids::RecordKind;
use crate::schema::FieldType;
use crate::value::{self, FieldValue};

/// The default policy with `extra` appended and `x_…` names added to the
/// account's general class.
fn with(extra: &str, general: &[&str]) -> String {
    let anchor = "\"industry\", \"website\", \"description\"]";
    assert!(DEFAULT_POLICY_TOML.contains(anchor), "fixture anchor");
    let names: String = general.iter().map(|n| format!(", \"{n}\"")).collect();
    let text = DEFAULT_POLICY_TOML.replacen(
        anchor,
        &format!("\"industry\", \"website\", \"description\"{names}]"),
        1,
    );
    format!("{text}\n{extra}")
}

fn errors_of(text: &str) -> Vec<String> {
    match Policy::from_toml(text) {
        Err(CoreError::Policy(errors)) => errors,
        other => panic!("expected policy errors, got {other:?}"),
    }
}

const EVERY_TYPE: &str = r#"
[custom.account.segment]
label = "Segment"
type = "choice"
choices = ["smb", "mid", "enterprise"]
[custom.account.note]
type = "text"
max = 10
[custom.account.margin]
type = "number"
min = 0
max = 100
[custom.account.budget]
type = "money"
[custom.account.renewal]
type = "date"
[custom.account.tags]
type = "multi_choice"
choices = ["a", "b", "c"]
[custom.account.partner]
type = "reference"
to = "contact"
[custom.account.vip]
type = "boolean"
[picklists.account]
industry = ["retail", "services"]
[pipeline.probability]
qualification = 25
"#;

const EVERY_NAME: &[&str] = &[
    "x_segment",
    "x_note",
    "x_margin",
    "x_budget",
    "x_renewal",
    "x_tags",
    "x_partner",
    "x_vip",
];

fn full() -> Policy {
    Policy::from_toml(&with(EVERY_TYPE, EVERY_NAME)).expect("valid")
}

#[test]
fn every_type_parses_into_a_classified_field_after_the_built_in_ones() {
    let policy = full();
    let kind = RecordKind::Account;
    let ty = |n: &str| policy.field(kind, n).expect(n).ty;
    assert_eq!(
        ty("x_segment"),
        FieldType::Enum(&["smb", "mid", "enterprise"])
    );
    assert_eq!(ty("x_note"), FieldType::Text { max: 10 });
    assert_eq!(ty("x_margin"), FieldType::Int { min: 0, max: 100 });
    assert_eq!(ty("x_budget"), FieldType::Money);
    assert_eq!(ty("x_renewal"), FieldType::Date);
    assert_eq!(ty("x_tags"), FieldType::MultiEnum(&["a", "b", "c"]));
    assert_eq!(ty("x_partner"), FieldType::Ref(&[RecordKind::Contact]));
    assert_eq!(ty("x_vip"), FieldType::Bool);
    assert_eq!(ty("industry"), FieldType::Enum(&["retail", "services"]));
    assert_eq!(
        policy.class_of(kind, "x_segment").map(|c| c.as_str()),
        Some("general")
    );
    assert_eq!(policy.label(kind, "x_segment"), Some("Segment"));
    assert_eq!(policy.label(kind, "x_vip"), Some("x_vip"));
    let names: Vec<&str> = policy.fields(kind).map(|d| d.name).collect();
    assert_eq!(names[0], "name");
    assert!(
        names.iter().rev().take(8).all(|n| n.starts_with("x_")),
        "{names:?}"
    );
    assert_eq!(policy.stage_probabilities().get("qualification"), Some(&25));
    assert!(policy.field(RecordKind::Contact, "x_segment").is_none());
    assert!(!policy.same_fields(&Policy::shipped_default()));
    assert!(policy.same_fields(&full()));
}

#[test]
fn every_kind_of_bad_definition_is_refused_naming_its_key() {
    let bad = r#"
[custom.account.Bad-Name]
type = "text"
[custom.account.kind]
type = "colour"
[custom.account.short]
type = "text"
max = 0
[custom.account.big]
type = "text"
max = 2001
choices = ["x"]
[custom.account.range]
type = "number"
min = 5
max = 1
[custom.account.empty]
type = "choice"
choices = []
[custom.account.twice]
type = "choice"
choices = ["a", "a", " padded", "01234567890123456789012345678901234567890123456789012345678901234567890123456789x"]
[custom.account.comma]
type = "multi_choice"
choices = ["a,b"]
[custom.account.dangling]
type = "reference"
[custom.account.nowhere]
type = "reference"
to = "process_model"
[custom.process_model.extra]
type = "text"
[picklists.account]
stage = ["x"]
name = ["x"]
postal_code = ["01234567890123456789"]
[pipeline.probability]
won = 101
closed = 10
"#;
    let errors = errors_of(&with(bad, &[]));
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    for needle in [
        "custom.account.Bad-Name: a custom field's name is",
        "custom.account.kind.type: `colour` is not one of",
        "custom.account.short.max: `0` is not a length",
        "custom.account.big.max: `2001` is not a length",
        "custom.account.big.choices: does not apply to a `text` field",
        "custom.account.range.min: `5` is above max `1`",
        "custom.account.empty.choices: give 1 to 200 choices, not 0",
        "custom.account.twice.choices: `a` is listed twice",
        "custom.account.twice.choices: ` padded` must be 1 to 80 characters",
        "must be 1 to 80 characters with no spaces around",
        "custom.account.comma.choices: `a,b` has a comma",
        "custom.account.dangling.to: a reference names the kind",
        "custom.account.nowhere.to: `process_model` is not a kind",
        "custom.process_model: custom fields go on accounts",
        "picklists.account.stage: only a built-in one-line text field",
        "picklists.account.postal_code: `01234567890123456789` must be 1 to 16",
        "pipeline.probability.won: `101` is not a percent",
        "pipeline.probability.closed: `closed` is not a deal stage",
    ] {
        assert!(has(needle), "missing `{needle}` in {errors:?}");
    }
    // `name` is a required text field a user writes: a picklist may apply.
    assert!(!has("picklists.account.name"), "{errors:?}");
}

#[test]
fn a_custom_field_must_be_classified_and_only_defined_ones_can_be() {
    let unclassified = with("[custom.account.segment]\ntype = \"text\"\n", &[]);
    let errors = errors_of(&unclassified);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("fields.account: `x_segment` is not in any class")),
        "{errors:?}"
    );
    let undefined = with("", &["x_ghost"]);
    let errors = errors_of(&undefined);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`x_ghost` is not a field of account")),
        "{errors:?}"
    );
}

#[test]
fn too_many_custom_fields_for_one_kind_are_refused() {
    let mut extra = String::new();
    for i in 0..=super::MAX_PER_KIND {
        extra.push_str(&format!("[custom.deal.f{i}]\ntype = \"boolean\"\n"));
    }
    let errors = errors_of(&with(&extra, &[]));
    assert!(
        errors.iter().any(
            |e| e.contains("custom.deal: at most 100 custom fields per kind, the file has 101")
        ),
        "{errors:?}"
    );
}

#[test]
fn values_of_every_custom_type_are_parsed_and_checked() {
    let policy = full();
    let def = |n: &str| policy.field(RecordKind::Account, n).expect(n);
    let ok = |n: &str, raw: &str| value::parse(def(n), raw).expect(raw);
    let bad = |n: &str, raw: &str| {
        let e = value::parse(def(n), raw).expect_err(raw);
        assert_eq!(e.field.as_deref(), Some(n), "{raw}");
        e.message
    };
    assert_eq!(ok("x_segment", "mid"), FieldValue::Text("mid".into()));
    assert!(bad("x_segment", "huge").contains("is not one of smb, mid, enterprise"));
    assert_eq!(ok("x_note", " short "), FieldValue::Text("short".into()));
    assert!(bad("x_note", "far too long for it").contains("longer than 10"));
    assert_eq!(ok("x_margin", "42"), FieldValue::Int(42));
    assert!(bad("x_margin", "101").contains("from 0 to 100"));
    assert!(bad("x_margin", "lots").contains("is not a whole number"));
    assert_eq!(ok("x_budget", "1500"), FieldValue::Int(1500));
    assert_eq!(
        ok("x_renewal", "2027-03-01"),
        FieldValue::Text("2027-03-01".into())
    );
    assert!(bad("x_renewal", "2027-13-01").contains("is not a date"));
    assert_eq!(ok("x_tags", "c, a,a"), FieldValue::Text("a, c".into()));
    assert!(bad("x_tags", "a, z").contains("`z` is not one of a, b, c"));
    assert!(bad("x_tags", &"a,".repeat(100)).contains("is longer than any choice"));
    let canonical =
        value::check(def("x_tags"), &FieldValue::Text("c, a".into())).expect_err("not canonical");
    assert!(canonical.message.contains("canonical form `a, c`"));
    assert!(bad("x_partner", "account:01JD0000000000000000000000").contains("contact"));
    assert_eq!(ok("x_vip", "yes"), FieldValue::Bool(true));
    assert!(bad("industry", "farming").contains("is not one of retail, services"));
}

#[test]
fn a_deal_stage_picklist_orders_the_pipeline_and_takes_probabilities() {
    let shipped = Policy::shipped_default();
    assert_eq!(shipped.deal_stages(), crate::schema::DEAL_STAGES);
    let text = with(
        "[picklists.deal]\nstage = [\"qualification\", \"demo\", \"proposal\", \"negotiation\", \"won\", \"lost\"]\n[pipeline.probability]\ndemo = 15\n",
        &[],
    );
    let policy = Policy::from_toml(&text).expect("policy");
    let stages = [
        "qualification",
        "demo",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ];
    assert_eq!(policy.deal_stages(), stages);
    assert_eq!(policy.stage_probabilities().get("demo"), Some(&15));
    let def = policy.field(RecordKind::Deal, "stage").expect("stage");
    assert!(
        matches!(def.ty, FieldType::Enum(v) if v == stages),
        "{def:?}"
    );
    assert!(def.required && !def.system);
    assert!(value::check(def, &FieldValue::Text("demo".into())).is_ok());
    let refused = value::check(def, &FieldValue::Text("pitch".into())).expect_err("pitch");
    assert_eq!(refused.field.as_deref(), Some("stage"));
    assert!(!policy.same_fields(&shipped));
}

#[test]
fn every_bad_deal_stage_list_is_refused_naming_its_key() {
    let errors = errors_of(&with(
        "[picklists.deal]\nstage = [\"open\", \"Demo\", \"open\", \"9lives\", \"won\"]\n[pipeline.probability]\ndemo = 10\nqualification = 20\n",
        &[],
    ));
    let has = |m: &str| errors.iter().any(|e| e.contains(m));
    assert!(
        has("picklists.deal.stage: `Demo` is not a stage name"),
        "{errors:?}"
    );
    assert!(
        has("picklists.deal.stage: `9lives` is not a stage name"),
        "{errors:?}"
    );
    assert!(
        has("picklists.deal.stage: `open` is listed twice"),
        "{errors:?}"
    );
    assert!(
        has("picklists.deal.stage: the list must hold `lost`"),
        "{errors:?}"
    );
    assert!(!has("must hold `won`"), "{errors:?}");
    // The list is refused, so the built-in stages are in force for the
    // probabilities: `demo` is not one of them.
    assert!(
        has("pipeline.probability.demo: `demo` is not a deal stage"),
        "{errors:?}"
    );
    assert!(!has("pipeline.probability.qualification"), "{errors:?}");

    let long: Vec<String> = (0..super::MAX_STAGES)
        .map(|i| format!("\"s{i}\""))
        .chain(["\"won\"".into(), "\"lost\"".into()])
        .collect();
    let errors = errors_of(&with(
        &format!("[picklists.deal]\nstage = [{}]\n", long.join(", ")),
        &[],
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("picklists.deal.stage: at most 50 stages, the list has 52")),
        "{errors:?}"
    );

    // A valid list without `qualification`: a probability for it is
    // refused, naming the stages in force.
    let errors = errors_of(&with(
        "[picklists.deal]\nstage = [\"open\", \"won\", \"lost\"]\n[pipeline.probability]\nqualification = 20\n",
        &[],
    ));
    assert!(
        errors.iter().any(|e| e.contains(
            "pipeline.probability.qualification: `qualification` is not a deal stage (open, won, lost)"
        )),
        "{errors:?}"
    );
}
