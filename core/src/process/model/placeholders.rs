//! Placeholders in a task's or activity's subject and topic (`{field}`,
//! `{account.field}`), checked against the fields of the records the model
//! runs on, the way [`crate::process::engine::render`] reads them.
//!
//! Guarantees: every placeholder the engine would replace names a field
//! that exists (on the record, or on its account for `{account.x}`);
//! otherwise a problem is pushed naming the placeholder, so a published
//! model never renders an empty hole into a subject.

use super::{field_of, kind_name};
use crate::ids::RecordKind;
use crate::schema;

/// Checks the placeholders of `template` (at `key`, e.g.
/// `steps.call.subject`) for a model on `record`.
pub(super) fn check_placeholders(
    key: &str,
    template: &str,
    record: Option<RecordKind>,
    errors: &mut Vec<String>,
) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        if let Some(problem) = placeholder(name, record) {
            errors.push(format!("{key}: placeholder `{{{name}}}` {problem}"));
        }
        rest = &rest[open + close + 1..];
    }
}

/// What is wrong with placeholder `name`, if anything.
fn placeholder(name: &str, record: Option<RecordKind>) -> Option<String> {
    match name.split_once('.') {
        Some(("account", f)) => schema::field(RecordKind::Account, f)
            .is_none()
            .then(|| format!("names no field of the account (`{f}`)")),
        Some((k, f)) if record.is_some_and(|r| r.as_str() == k) => field_of(record, f)
            .is_none()
            .then(|| format!("names no field of the {k} (`{f}`)")),
        Some((k, _)) => Some(format!(
            "names `{k}`, which is not the {} the process runs on (use {{field}} or {{account.field}})",
            kind_name(record)
        )),
        // The record's own id (a `create` step links the new record to it).
        None if name == "id" => None,
        None => field_of(record, name)
            .is_none()
            .then(|| format!("names no field of the {}", kind_name(record))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(template: &str, record: Option<RecordKind>) -> Vec<String> {
        let mut errors = Vec::new();
        check_placeholders("steps.s.subject", template, record, &mut errors);
        errors
    }

    #[test]
    fn placeholders_must_name_fields_of_the_record_or_its_account() {
        let deal = Some(RecordKind::Deal);
        assert!(problems("Call {account.name} about {name}", deal).is_empty());
        assert!(
            problems("{deal.name} {", deal).is_empty(),
            "an open brace is text"
        );
        let bad = problems("Call {nmae} at {account.colour} re {contact.name} {}", deal);
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert!(
            bad[0].contains("`{nmae}` names no field of the deal"),
            "{bad:?}"
        );
        assert!(bad[1].contains("`{account.colour}`"), "{bad:?}");
        assert!(
            bad[2].contains("`contact`, which is not the deal"),
            "{bad:?}"
        );
        assert!(problems("{name}", None).is_empty());
        assert_eq!(problems("{wizardry}", None).len(), 1);
    }
}
