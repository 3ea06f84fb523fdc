//! The policy's custom fields, picklists and pipeline probabilities.
//!
//! ```toml
//! [custom.account.segment]      # the field `x_segment` of accounts
//! label = "Segment"
//! type = "choice"               # text | number | money | date | choice |
//! choices = ["smb", "mid"]      #   multi_choice | reference | boolean
//! [picklists.account]
//! industry = ["retail", "services"]   # a built-in text field becomes a choice
//! [picklists.deal]                    # the organisation's deal stages
//! stage = ["qualification", "demo", "proposal", "negotiation", "won", "lost"]
//! [pipeline.probability]
//! qualification = 20            # percent, for the pipeline report
//! ```
//!
//! Guarantees:
//! - every problem is reported, each naming its key, and nothing is kept
//!   from a section with a problem;
//! - a custom field's name is `x_` + `[a-z][a-z0-9_]{0,39}`, at most
//!   [`MAX_PER_KIND`] per kind, on the customer kinds only;
//! - choices are 1 to [`MAX_CHOICES`] distinct, non-blank values of at most
//!   [`MAX_CHOICE_CHARS`] characters (no comma in a multiple choice);
//! - a picklist replaces only a built-in, user-written one-line text field,
//!   and each of its values fits the field, or the deal `stage`
//!   (`[picklists.deal] stage = [...]`, the pipeline in order): 2 to
//!   [`MAX_STAGES`] distinct names `[a-z][a-z0-9_]{0,39}` including `won`
//!   and `lost`;
//! - probabilities are whole percents from 0 to 100 of the deal stages in
//!   force (the picklist's, else the built-in ones).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::ids::RecordKind;
use crate::schema::custom::{self, Spec};
use crate::schema::{self, FieldDef, FieldType};

/// Most custom fields one kind may have.
pub const MAX_PER_KIND: usize = 100;
/// Most choices of one choice field or picklist.
pub const MAX_CHOICES: usize = 200;
/// Longest choice, in characters.
pub const MAX_CHOICE_CHARS: usize = 80;
/// Most deal stages a `[picklists.deal] stage` list may have.
pub const MAX_STAGES: usize = 50;
/// The deal stages every stage list must hold: the reports and the board
/// treat them as closed.
pub const CLOSED_STAGES: [&str; 2] = ["won", "lost"];
/// Longest custom text field, in characters (and the default).
const MAX_TEXT: i64 = 2000;
const DEFAULT_TEXT: usize = 200;

/// One `[custom.KIND.NAME]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CustomFile {
    #[serde(default)]
    label: Option<String>,
    r#type: String,
    #[serde(default)]
    choices: Option<Vec<String>>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    to: Option<String>,
}

/// The `[pipeline]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PipelineFile {
    #[serde(default)]
    probability: BTreeMap<String, i64>,
}

/// What the policy adds to the built-in schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// Custom fields by kind, ordered by name.
    pub(crate) fields: BTreeMap<RecordKind, Vec<&'static FieldDef>>,
    /// Custom fields' labels (`x_…` name when none is given).
    pub(crate) labels: BTreeMap<(RecordKind, &'static str), String>,
    /// Built-in fields whose type a picklist replaces.
    pub(crate) picklists: BTreeMap<(RecordKind, &'static str), &'static FieldDef>,
    /// Deal stage probabilities in percent.
    pub(crate) probability: BTreeMap<String, u8>,
}

impl Extensions {
    /// The custom field `name` of `kind`.
    pub(crate) fn custom(&self, kind: RecordKind, name: &str) -> Option<&'static FieldDef> {
        self.fields
            .get(&kind)
            .and_then(|defs| defs.iter().find(|d| d.name == name).copied())
    }

    /// The deal stages in force, in pipeline order: the
    /// `[picklists.deal] stage` list, else the built-in one.
    pub(crate) fn deal_stages(&self) -> &'static [&'static str] {
        let def = self.picklists.get(&(RecordKind::Deal, "stage"));
        match def.map(|d| d.ty) {
            Some(FieldType::Enum(stages)) => stages,
            _ => schema::DEAL_STAGES,
        }
    }
}

/// The kinds custom fields may be added to (the customer kinds).
fn extensible(kind: RecordKind) -> bool {
    schema::archivable(kind) && kind != RecordKind::Target
}

/// Reads the three sections; problems go to `errors`.
pub(super) fn parse(
    custom: &BTreeMap<String, BTreeMap<String, CustomFile>>,
    picklists: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    pipeline: &PipelineFile,
    errors: &mut Vec<String>,
) -> Extensions {
    let mut out = Extensions::default();
    for (kind_name, by_name) in custom {
        let key = format!("custom.{kind_name}");
        let Some(kind) = kind_name
            .parse::<RecordKind>()
            .ok()
            .filter(|k| extensible(*k))
        else {
            errors.push(format!(
                "{key}: custom fields go on accounts, contacts, relationships, deals, activities or notes, not `{kind_name}`"
            ));
            continue;
        };
        if by_name.len() > MAX_PER_KIND {
            errors.push(format!(
                "{key}: at most {MAX_PER_KIND} custom fields per kind, the file has {}",
                by_name.len()
            ));
            continue;
        }
        for (name, field) in by_name {
            let key = format!("{key}.{name}");
            if let Some(spec) = parse_field(&key, name, field, errors) {
                let def = custom::intern(&format!("{}{name}", custom::PREFIX), &spec);
                out.fields.entry(kind).or_default().push(def);
                let label = field.label.clone().unwrap_or_else(|| def.name.to_owned());
                out.labels.insert((kind, def.name), label);
            }
        }
    }
    parse_picklists(picklists, &mut out, errors);
    parse_probability(pipeline, &mut out, errors);
    out
}

/// One custom field's type, or `None` with its problems pushed.
fn parse_field(key: &str, name: &str, f: &CustomFile, errors: &mut Vec<String>) -> Option<Spec> {
    let before = errors.len();
    if !valid_name(name) {
        errors.push(format!(
            "{key}: a custom field's name is a-z, then up to 39 of a-z, 0-9 or `_`"
        ));
    }
    if f.label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_CHOICE_CHARS)
    {
        errors.push(format!(
            "{key}.label: at most {MAX_CHOICE_CHARS} characters"
        ));
    }
    let mut unused = |param: &str, given: bool| {
        if given {
            errors.push(format!(
                "{key}.{param}: does not apply to a `{}` field",
                f.r#type
            ));
        }
    };
    let choices = f.choices.is_some();
    let (min, max, to) = (f.min.is_some(), f.max.is_some(), f.to.is_some());
    let spec = match f.r#type.as_str() {
        "text" => {
            unused("choices", choices);
            unused("min", min);
            unused("to", to);
            text_max(key, f.max, errors).map(Spec::Text)
        }
        "number" => {
            unused("choices", choices);
            unused("to", to);
            number_bounds(key, f.min, f.max, errors)
        }
        "money" | "date" | "boolean" => {
            for (param, given) in [("choices", choices), ("min", min), ("max", max), ("to", to)] {
                unused(param, given);
            }
            Some(match f.r#type.as_str() {
                "money" => Spec::Money,
                "date" => Spec::Date,
                _ => Spec::Bool,
            })
        }
        "choice" | "multi_choice" => {
            for (param, given) in [("min", min), ("max", max), ("to", to)] {
                unused(param, given);
            }
            let multi = f.r#type == "multi_choice";
            let values = f.choices.as_deref().unwrap_or_default();
            check_choices(&format!("{key}.choices"), values, multi, usize::MAX, errors);
            Some(if multi {
                Spec::MultiChoice(values.to_vec())
            } else {
                Spec::Choice(values.to_vec())
            })
        }
        "reference" => {
            for (param, given) in [("choices", choices), ("min", min), ("max", max)] {
                unused(param, given);
            }
            reference_kind(key, f.to.as_deref(), errors).map(Spec::Ref)
        }
        other => {
            errors.push(format!(
                "{key}.type: `{other}` is not one of text, number, money, date, choice, multi_choice, reference, boolean"
            ));
            None
        }
    };
    spec.filter(|_| errors.len() == before)
}

/// `[a-z][a-z0-9_]{0,39}`.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 40
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn text_max(key: &str, max: Option<i64>, errors: &mut Vec<String>) -> Option<usize> {
    match max {
        None => Some(DEFAULT_TEXT),
        Some(m) if (1..=MAX_TEXT).contains(&m) => usize::try_from(m).ok(),
        Some(m) => {
            errors.push(format!(
                "{key}.max: `{m}` is not a length from 1 to {MAX_TEXT}"
            ));
            None
        }
    }
}

fn number_bounds(
    key: &str,
    min: Option<i64>,
    max: Option<i64>,
    errors: &mut Vec<String>,
) -> Option<Spec> {
    let (lo, hi) = (min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX));
    if lo > hi {
        errors.push(format!("{key}.min: `{lo}` is above max `{hi}`"));
        return None;
    }
    Some(Spec::Int(lo, hi))
}

fn reference_kind(key: &str, to: Option<&str>, errors: &mut Vec<String>) -> Option<RecordKind> {
    match to.map(|t| (t, t.parse::<RecordKind>())) {
        Some((_, Ok(kind))) if extensible(kind) => Some(kind),
        Some((t, _)) => {
            errors.push(format!(
                "{key}.to: `{t}` is not a kind a reference can point to (account, contact, relationship, deal, activity, note)"
            ));
            None
        }
        None => {
            errors.push(format!("{key}.to: a reference names the kind it points to"));
            None
        }
    }
}

/// Choices: 1 to [`MAX_CHOICES`], distinct, non-blank, trimmed, at most
/// `max_chars` (and [`MAX_CHOICE_CHARS`]) characters, no comma in a
/// multiple choice.
fn check_choices(
    key: &str,
    values: &[String],
    multi: bool,
    max_chars: usize,
    errors: &mut Vec<String>,
) {
    if values.is_empty() || values.len() > MAX_CHOICES {
        errors.push(format!(
            "{key}: give 1 to {MAX_CHOICES} choices, not {}",
            values.len()
        ));
    }
    let limit = max_chars.min(MAX_CHOICE_CHARS);
    let mut seen = BTreeSet::new();
    for v in values {
        if v.trim().is_empty() || v.trim() != v || v.chars().count() > limit {
            errors.push(format!(
                "{key}: `{v}` must be 1 to {limit} characters with no spaces around"
            ));
        } else if multi && v.contains(',') {
            errors.push(format!(
                "{key}: `{v}` has a comma, which separates the values of a multiple choice"
            ));
        } else if !seen.insert(v.as_str()) {
            errors.push(format!("{key}: `{v}` is listed twice"));
        }
    }
}

/// `[picklists.KIND] FIELD = [...]`: built-in one-line text fields a user
/// writes become choices.
fn parse_picklists(
    picklists: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    out: &mut Extensions,
    errors: &mut Vec<String>,
) {
    for (kind_name, by_field) in picklists {
        let Ok(kind) = kind_name.parse::<RecordKind>() else {
            errors.push(format!(
                "picklists.{kind_name}: unknown record kind `{kind_name}`"
            ));
            continue;
        };
        for (field, values) in by_field {
            let key = format!("picklists.{kind_name}.{field}");
            if (kind, field.as_str()) == (RecordKind::Deal, "stage") {
                if let Some(def) = schema::field(kind, field)
                    && check_stages(&key, values, errors)
                {
                    out.picklists
                        .insert((kind, def.name), custom::intern_with_type(def, values));
                }
                continue;
            }
            let def = schema::field(kind, field).filter(|d| !d.system);
            let Some((def, max)) = def.and_then(|d| match d.ty {
                FieldType::Text { max } => Some((d, max)),
                _ => None,
            }) else {
                errors.push(format!(
                    "{key}: only a built-in one-line text field a user writes, or the deal `stage`, can get a picklist"
                ));
                continue;
            };
            let before = errors.len();
            check_choices(&key, values, false, max, errors);
            if errors.len() == before {
                out.picklists
                    .insert((kind, def.name), custom::intern_with_type(def, values));
            }
        }
    }
}

/// `[picklists.deal] stage = [...]`: 2 to [`MAX_STAGES`] distinct stage
/// names including [`CLOSED_STAGES`]; whether the list holds.
fn check_stages(key: &str, stages: &[String], errors: &mut Vec<String>) -> bool {
    let before = errors.len();
    if stages.len() > MAX_STAGES {
        errors.push(format!(
            "{key}: at most {MAX_STAGES} stages, the list has {}",
            stages.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for stage in stages {
        if !valid_name(stage) {
            errors.push(format!(
                "{key}: `{stage}` is not a stage name (a-z, then up to 39 of a-z, 0-9 or `_`)"
            ));
        } else if !seen.insert(stage.as_str()) {
            errors.push(format!("{key}: `{stage}` is listed twice"));
        }
    }
    for closed in CLOSED_STAGES {
        if !seen.contains(closed) {
            errors.push(format!(
                "{key}: the list must hold `{closed}` (the reports and the board treat `won` and `lost` as closed)"
            ));
        }
    }
    errors.len() == before
}

/// `[pipeline.probability] STAGE = PERCENT`, for the deal stages in force
/// (read after the picklists).
fn parse_probability(pipeline: &PipelineFile, out: &mut Extensions, errors: &mut Vec<String>) {
    let stages = out.deal_stages();
    for (stage, percent) in &pipeline.probability {
        let key = format!("pipeline.probability.{stage}");
        if !stages.contains(&stage.as_str()) {
            errors.push(format!(
                "{key}: `{stage}` is not a deal stage ({})",
                stages.join(", ")
            ));
            continue;
        }
        match u8::try_from(*percent).ok().filter(|p| *p <= 100) {
            Some(p) => {
                out.probability.insert(stage.clone(), p);
            }
            None => errors.push(format!("{key}: `{percent}` is not a percent from 0 to 100")),
        }
    }
}

#[cfg(test)]
#[path = "custom_tests.rs"]
mod tests;
