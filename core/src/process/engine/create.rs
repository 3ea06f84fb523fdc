//! The `create` step: another record, made from the one the instance runs
//! on (a deal from a qualified lead).
//!
//! Guarantees:
//! - **Once, wherever it runs**: the new record's id comes from (instance,
//!   step, position) and its creation is dated when the step was entered,
//!   so every replica that runs the step writes the same creation
//!   ([`super::super::creation`]).
//! - **Only what the owner could write by hand**: values are rendered from
//!   the record as the instance's owner reads it, parsed by the field's own
//!   rules, and the whole record passes the rule book
//!   ([`crate::rules::check_record`]); the runner refuses a field the
//!   owner's role may not write. A record that fails any of these fails the
//!   instance, with the reason, and nothing of the run is written.
//! - The new record's `owner`, when the kind has one and the model does not
//!   set it, is the instance's owner.

use std::collections::BTreeMap;

use super::{Action, Here, Run, render};
use crate::ids::{RecordId, RecordKind};
use crate::rules;
use crate::schema;
use crate::value::{self, FieldValue};

/// The id of the record the `create` step `step` makes at `pos`.
pub fn created_id(instance: &RecordId, kind: RecordKind, step: &str, pos: u32) -> RecordId {
    RecordId::derived(
        kind,
        &[&instance.to_string(), step, &pos.to_string(), "create"],
    )
}

impl Run<'_, '_> {
    /// Plans the record of a `create` step; `None` (and the run failed)
    /// when its values do not make a valid record.
    pub(super) fn create_record(
        &mut self,
        at: &Here<'_>,
        kind: RecordKind,
        templates: &[(String, String)],
    ) -> Option<()> {
        let mut fields = BTreeMap::new();
        for (name, template) in templates {
            let text = render(template, at.record, self.inputs.account);
            let parsed = schema::field(kind, name)
                .ok_or_else(|| format!("{kind} has no field `{name}`"))
                .and_then(|def| value::parse(def, text.trim()).map_err(|e| e.to_string()));
            match parsed {
                Ok(v) => {
                    fields.insert(name.clone(), v);
                }
                Err(e) => return self.create_failed(at, kind, &format!("`{name}`: {e}")),
            }
        }
        if let (Some(owner), Some(_)) = (&self.instance.owner, schema::field(kind, "owner")) {
            fields
                .entry("owner".to_owned())
                .or_insert_with(|| FieldValue::Text(owner.clone()));
        }
        if let Err(e) = rules::check_record(kind, &fields) {
            return self.create_failed(at, kind, &e.to_string());
        }
        self.actions.push(Action::CreateRecord {
            id: created_id(&self.instance.id, kind, &at.label(), at.pos),
            fields,
            at: at.entered,
        });
        Some(())
    }

    fn create_failed(&mut self, at: &Here<'_>, kind: RecordKind, why: &str) -> Option<()> {
        self.failed = Some(format!(
            "step `{}` cannot create the {kind}: {why}",
            at.step.id
        ));
        None
    }
}
