//! Task outcomes and process variables.
//!
//! A task step may ask for an **outcome**: a small typed form written in
//! the model as `outcome = "choice:interested,not_interested,call_back"`
//! (TOML/JSON) or `fieldwork:outcome="..."` (BPMN). The forms are
//! `choice:A,B,...` (one of the listed options), `text`, `number` and
//! `date` (`YYYY-MM-DD`). Completing the task records its outcome in the
//! task's `outcome` field and in the log event that leaves the step, from
//! which every replica folds the same **variables**:
//!
//! - `outcome.STEP`: the outcome of task step `STEP` (the last time the
//!   instance passed it), a number for a `number` form, text otherwise;
//! - `param.NAME`: the instance's parameter `NAME`, declared by the model's
//!   `[parameters]` (typed: `text`, `number`, `date`, `duration`, `user`).
//!
//! Gateway conditions read them like fields (`outcome.call == "interested"`,
//! `param.budget >= 5000`); a model that reads a variable it does not
//! declare is refused when checked.
//!
//! This module holds the forms and types (below the model, which parses
//! them); [`super::variables`] reads them against a model and an instance.
//!
//! Guarantees: [`super::variables::check_outcome`] is the one rule for an outcome's value,
//! used by every writer (device, server push, office API): a task whose
//! step declares a form is completed only with a value that fits it
//! (`invalid_outcome` otherwise), bounded in size. Variables are read only
//! from the event log and the parameters, which every replica holds the
//! same, so every replica branches the same way. Nothing read here panics
//! on forged input: a value that does not fit its declared type is no
//! variable at all (null).

use super::span::delay;
use crate::value::FieldValue;

/// Most options a `choice` form lists.
pub const MAX_CHOICES: usize = 50;
/// Longest option of a `choice`, in bytes.
pub const MAX_CHOICE_BYTES: usize = 64;
/// Longest `text` outcome or parameter value, in characters.
pub const MAX_TEXT_CHARS: usize = 1_000;
/// Most parameters a model declares.
pub const MAX_PARAMETERS: usize = 50;

/// The form of a task's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// One of these options.
    Choice(Vec<String>),
    /// Free text (1 to [`MAX_TEXT_CHARS`] characters).
    Text,
    /// A number.
    Number,
    /// A date, `YYYY-MM-DD`.
    Date,
}

/// The type of a declared parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// A date, `YYYY-MM-DD`.
    Date,
    /// A duration (`P7D`, or business time `P2BD`): a task's `due_param`, a timer's
    /// `duration_param`.
    Duration,
    /// A user name: an assignee `param:NAME`.
    User,
}

fn option_ok(o: &str) -> bool {
    (1..=MAX_CHOICE_BYTES).contains(&o.len())
        && o.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Form {
    /// Parses a form as written (`choice:a,b`, `text`, `number`, `date`).
    pub fn parse(text: &str) -> Result<Form, String> {
        let t = text.trim();
        match t.split_once(':') {
            Some(("choice", list)) => {
                let options: Vec<String> = list.split(',').map(|o| o.trim().to_owned()).collect();
                if options.len() > MAX_CHOICES {
                    return Err(format!("a choice lists at most {MAX_CHOICES} options"));
                }
                if let Some(bad) = options.iter().find(|o| !option_ok(o)) {
                    return Err(format!(
                        "option `{bad}`: 1-{MAX_CHOICE_BYTES} letters, digits, `_` or `-`"
                    ));
                }
                let mut seen = options.clone();
                seen.sort();
                seen.dedup();
                if seen.len() != options.len() {
                    return Err("a choice lists each option once".into());
                }
                Ok(Form::Choice(options))
            }
            None if t == "text" => Ok(Form::Text),
            None if t == "number" => Ok(Form::Number),
            None if t == "date" => Ok(Form::Date),
            _ => Err(format!(
                "`{}` is not an outcome form (choice:A,B,..., text, number or date)",
                cut(t)
            )),
        }
    }

    /// The form as written.
    pub fn describe(&self) -> String {
        match self {
            Form::Choice(o) => format!("one of {}", o.join(", ")),
            Form::Text => "text".into(),
            Form::Number => "a number".into(),
            Form::Date => "a date (YYYY-MM-DD)".into(),
        }
    }

    /// Checks `value` against the form; the value as a variable.
    pub fn check(&self, value: &str) -> Result<FieldValue, String> {
        let v = value.trim();
        let bad = || format!("`{}` is not {}", cut(v), self.describe());
        match self {
            Form::Choice(options) if options.iter().any(|o| o == v) => {
                Ok(FieldValue::Text(v.to_owned()))
            }
            Form::Choice(_) => Err(bad()),
            Form::Text if !v.is_empty() && v.chars().count() <= MAX_TEXT_CHARS => {
                Ok(FieldValue::Text(v.to_owned()))
            }
            Form::Text => Err(format!("text of 1 to {MAX_TEXT_CHARS} characters")),
            Form::Number => number(v).ok_or_else(bad),
            Form::Date => date(v).ok_or_else(bad),
        }
    }
}

impl ParamType {
    /// Parses a parameter type as written.
    pub fn parse(text: &str) -> Result<ParamType, String> {
        Ok(match text.trim() {
            "text" => ParamType::Text,
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "duration" => ParamType::Duration,
            "user" => ParamType::User,
            other => {
                return Err(format!(
                    "`{}` is not a parameter type (text, number, date, duration or user)",
                    cut(other)
                ));
            }
        })
    }

    /// Checks a parameter's `value`; the value as a variable.
    pub fn check(self, value: &str) -> Result<FieldValue, String> {
        let v = value.trim();
        let ok = match self {
            ParamType::Number => {
                return number(v).ok_or_else(|| format!("`{}` is not a number", cut(v)));
            }
            ParamType::Date => {
                return date(v).ok_or_else(|| format!("`{}` is not a date (YYYY-MM-DD)", cut(v)));
            }
            ParamType::Duration => delay(v).map(|_| ()),
            ParamType::User => crate::schema::field(crate::ids::RecordKind::Activity, "assignee")
                .ok_or_else(|| "no user field".to_owned())
                .and_then(|def| {
                    crate::value::check(def, &FieldValue::Text(v.to_owned()))
                        .map_err(|_| format!("`{}` is not a user name", cut(v)))
                }),
            ParamType::Text => (v.chars().count() <= MAX_TEXT_CHARS)
                .then_some(())
                .ok_or_else(|| format!("text of at most {MAX_TEXT_CHARS} characters")),
        };
        ok.map(|()| FieldValue::Text(v.to_owned()))
    }
}

fn number(v: &str) -> Option<FieldValue> {
    v.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(FieldValue::Float)
}

fn date(v: &str) -> Option<FieldValue> {
    v.parse::<jiff::civil::Date>()
        .ok()
        .map(|d| FieldValue::Text(d.to_string()))
}

/// At most 40 characters of `text`, for messages.
fn cut(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_and_check_values() {
        let f = Form::parse("choice:interested,not_interested,call_back").expect("form");
        assert_eq!(
            f.check("interested"),
            Ok(FieldValue::Text("interested".into()))
        );
        assert!(f.check("maybe").is_err());
        assert!(Form::parse("choice:a,a").is_err());
        assert!(Form::parse("choice:").is_err());
        assert!(Form::parse("choice:a b").is_err());
        assert!(Form::parse(&format!("choice:{}", vec!["x"; 51].join(","))).is_err());
        assert!(Form::parse("colour").is_err());
        assert_eq!(Form::Number.check("12.5"), Ok(FieldValue::Float(12.5)));
        assert!(Form::Number.check("NaN").is_err());
        assert!(Form::Number.check("inf").is_err());
        assert!(Form::Date.check("2027-02-30").is_err());
        assert!(Form::Date.check("2027-02-03").is_ok());
        assert!(Form::Text.check("").is_err());
        assert!(Form::Text.check(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }

    #[test]
    fn parameter_types_check_values() {
        assert!(ParamType::Duration.check("P3D").is_ok());
        assert!(ParamType::Duration.check("3 days").is_err());
        assert!(ParamType::User.check("ana").is_ok());
        assert!(ParamType::User.check("").is_err());
        assert!(ParamType::parse("colour").is_err());
    }
}
