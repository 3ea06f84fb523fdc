//! The record card: what a record screen shows and lets the user edit.
//!
//! A card lists, in schema order, the fields of the record that the user may
//! read, each with its value as text a form can edit, a rendering for
//! people, and whether the policy lets *this* user change it on *this*
//! record. Apps build their screens from it instead of re-implementing the
//! policy: a field marked writable is one the device would accept (and the
//! server too, under the same policy revision).

use serde::{Deserialize, Serialize};

use super::{Store, index};
use crate::error::Result;
use crate::ids::{RecordId, RecordKind};
use crate::policy::Access;
use crate::record::Record;
use crate::schema::{self, FieldDef, FieldType};
use crate::value::{FieldValue, format_money};

/// One field of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardField {
    /// The field's name in the schema.
    pub name: String,
    /// Its type, in words (`e-mail address`, `money in minor units`...).
    pub type_name: String,
    /// The value as text that [`FieldWrite::text`](super::FieldWrite::text)
    /// accepts back unchanged; `None` when the field is empty or is a
    /// system-kept structure (stage log, process entries).
    pub value: Option<String>,
    /// The value for people (money with its currency, logs as arrows).
    pub display: Option<String>,
    /// Whether the user may change it on this record now.
    pub writable: bool,
    /// Whether a record of this kind must have a value.
    pub required: bool,
    /// Other values written concurrently (the current one is `value`).
    pub conflicts: Vec<String>,
}

/// A record as its screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordCard {
    /// The record.
    pub id: RecordId,
    /// Its display name.
    pub title: String,
    /// The readable fields, in schema order.
    pub fields: Vec<CardField>,
}

/// Renders a value for people: money with its currency, the rest as
/// [`FieldValue::display`].
pub fn display_value(record: &Record, def: &FieldDef, value: &FieldValue) -> String {
    match (def.ty, value) {
        (FieldType::Money, FieldValue::Int(minor)) => {
            let currency_field = if def.name == "credit_limit" {
                "credit_currency"
            } else {
                "currency"
            };
            match record.text(currency_field) {
                Some(c) => format_money(*minor, c),
                None => minor.to_string(),
            }
        }
        _ => value.display(),
    }
}

fn editable_text(def: &FieldDef, value: &FieldValue) -> Option<String> {
    match def.ty {
        FieldType::StageLog | FieldType::Entries => None,
        _ => Some(value.display()),
    }
}

impl Store {
    /// The card of record `id`: its readable fields with their values and
    /// whether the user may write each. Fields of classes the user may not
    /// read are left out (the device does not have them).
    pub fn card(&mut self, id: &RecordId) -> Result<RecordCard> {
        let record = self.get(id)?;
        let inherited = match record.account() {
            Some(acc) => index::account_territory(&self.conn, &acc)?,
            None => None,
        };
        let facts = record.facts(inherited);
        let fields = schema::fields(id.kind())
            .iter()
            .filter(|def| self.can_read(id.kind(), def.name))
            .map(|def| {
                let value = record.get(def.name);
                CardField {
                    name: def.name.to_owned(),
                    type_name: def.ty.describe(),
                    value: value.and_then(|v| editable_text(def, v)),
                    display: value.map(|v| display_value(&record, def, v)),
                    writable: self.may_write(id, def, Some(&facts)),
                    required: def.required,
                    conflicts: record
                        .conflicts
                        .get(def.name)
                        .map(|all| all.iter().skip(1).map(FieldValue::display).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Ok(RecordCard {
            id: id.clone(),
            title: record.title(),
            fields,
        })
    }

    /// The fields a user may fill in when creating a record of `kind`, in
    /// schema order (what a "new record" form shows).
    pub fn creatable_fields(&self, kind: RecordKind) -> Vec<String> {
        let probe = RecordId::new_random(kind);
        schema::fields(kind)
            .iter()
            .filter(|def| self.may_write(&probe, def, None))
            .map(|def| def.name.to_owned())
            .collect()
    }

    fn can_read(&self, kind: RecordKind, field: &str) -> bool {
        match self.access() {
            Access::Local => true,
            access => self
                .policy()
                .class_of(kind, field)
                .is_some_and(|class| access.can_read_class(class)),
        }
    }

    fn may_write(
        &self,
        id: &RecordId,
        def: &FieldDef,
        facts: Option<&crate::policy::RecordFacts>,
    ) -> bool {
        if def.system || matches!(def.ty, FieldType::StageLog | FieldType::Entries) {
            return false;
        }
        let doc = self
            .policy()
            .class_of(id.kind(), def.name)
            .map(|class| id.doc(class).to_string());
        self.access()
            .check_write(id.kind(), def.name, facts, doc.as_deref())
            .is_ok()
    }
}
