//! Checking a `create` step: the record it creates.
//!
//! Guarantees: a checked `create` step names a kind processes run on,
//! writes 1 to [`MAX_SET_FIELDS`] fields users may write, gives every field
//! the kind requires (its `owner` may be left out: the instance's owner),
//! each value either a literal the field accepts or a template whose
//! placeholders name fields of the record the instance runs on (or its
//! account, or `{id}`, the record itself).

use super::StepCheck;
use crate::ids::RecordKind;
use crate::process::model::placeholders::check_placeholders;
use crate::process::model::{Action, MAX_SET_FIELDS, PROCESS_KINDS};
use crate::schema;
use crate::value;

impl StepCheck<'_> {
    /// A `create` step.
    pub(super) fn create(&mut self) -> Action {
        let at = self.at.clone();
        let Some(kind) = self.s.create else {
            self.errors.push(format!(
                "{at}.create: which kind of record (account, contact, deal or activity)?"
            ));
            return Action::End;
        };
        if !PROCESS_KINDS.contains(&kind) {
            self.errors.push(format!(
                "{at}.create: a step creates an account, a contact, a deal or an activity, not {kind}"
            ));
        }
        let written = &self.s.fields;
        if written.is_empty() || written.len() > MAX_SET_FIELDS {
            self.errors.push(format!(
                "{at}.fields: a create step writes 1 to {MAX_SET_FIELDS} fields"
            ));
        }
        for def in schema::fields(kind).iter().filter(|d| d.required) {
            if !written.contains_key(def.name) {
                self.errors
                    .push(format!("{at}.fields: a new {kind} needs `{}`", def.name));
            }
        }
        let mut fields = Vec::new();
        for (name, template) in written {
            if self.created_field(kind, name, template) {
                fields.push((name.clone(), template.clone()));
            }
        }
        Action::Create { kind, fields }
    }

    /// Whether `template` may be written to `name` of a new `kind`.
    fn created_field(&mut self, kind: RecordKind, name: &str, template: &str) -> bool {
        let key = format!("{}.fields.{name}", self.at);
        let Some(def) = schema::field(kind, name).filter(|d| !d.system) else {
            self.errors
                .push(format!("{key}: `{name}` is not a settable field of {kind}"));
            return false;
        };
        let before = self.errors.len();
        if template.contains('{') {
            check_placeholders(&key, template, self.record, self.errors);
        } else if let Err(e) = value::parse(def, template) {
            self.errors.push(format!("{key}: {e}"));
        }
        self.errors.len() == before
    }
}
