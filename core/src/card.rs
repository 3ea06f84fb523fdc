//! The record card: what a record screen shows and lets the user edit.
//!
//! A card lists, in schema order, the fields of the record that the user may
//! read, each with its value as text a form can edit, a rendering for
//! people, and whether the policy lets *this* user change it on *this*
//! record. Apps build their screens from it instead of re-implementing the
//! policy: a field marked writable is one the device would accept (and the
//! server too, under the same policy revision). Pure: the device store and
//! the server's office API build cards with [`card_of`].
//!
//! Guarantees: a field of a class the user may not read is never on a card.

use serde::{Deserialize, Serialize};

use crate::ids::{RecordId, RecordKind};
use crate::policy::{Access, Policy, RecordFacts};
use crate::record::Record;
use crate::schema::{self, FieldDef, FieldType};
use crate::value::{FieldValue, format_amount, format_money};

/// One field of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardField {
    /// The field's name in the schema.
    pub name: String,
    /// Its type, in words (`e-mail address`, `money in minor units`...).
    pub type_name: String,
    /// The value as text that `FieldWrite::text`
    /// accepts back unchanged; `None` when the field is empty or is a
    /// system-kept structure (stage log, process entries).
    pub value: Option<String>,
    /// The value for people (money with its currency, logs as arrows).
    pub display: Option<String>,
    /// For money with a known currency: the amount as a person types it
    /// (`1250.50`), which a `TextWrite` with [`CardField::currency`] accepts
    /// back unchanged; `value` keeps the minor units (`125050`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The currency of [`CardField::amount`] (`EUR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
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

/// Renders a value for people: money with its currency, an attachment as
/// its name and size, the rest as [`FieldValue::display`].
pub fn display_value(record: &Record, def: &FieldDef, value: &FieldValue) -> String {
    match (money_of(record, def, value), value) {
        (Some((minor, currency)), _) => format_money(minor, currency),
        (None, FieldValue::Int(minor)) if def.ty == FieldType::Money => minor.to_string(),
        (None, FieldValue::Text(text)) if def.ty == FieldType::File => {
            match crate::attachment::AttachmentRef::parse(text) {
                Ok(file) => format!("{} ({})", file.name, file.size_text()),
                Err(_) => value.display(),
            }
        }
        _ => value.display(),
    }
}

/// A money value with the currency the record gives it, if both are known.
fn money_of<'r>(record: &'r Record, def: &FieldDef, value: &FieldValue) -> Option<(i64, &'r str)> {
    let minor = value.as_int().filter(|_| def.ty == FieldType::Money)?;
    let currency = record.text(schema::currency_field(record.kind(), def.name)?)?;
    Some((minor, currency))
}

fn editable_text(def: &FieldDef, value: &FieldValue) -> Option<String> {
    match def.ty {
        FieldType::StageLog | FieldType::Entries => None,
        _ => Some(value.display()),
    }
}

/// The card of `record` for `access` under `policy`; `facts` decide which
/// fields this user may write on this record.
pub fn card_of(
    access: &Access,
    policy: &Policy,
    record: &Record,
    facts: &RecordFacts,
) -> RecordCard {
    let kind = record.kind();
    let fields = policy
        .fields(kind)
        .filter(|def| can_read(access, policy, kind, def.name))
        .map(|def| {
            let value = record.get(def.name);
            let money = value.and_then(|v| money_of(record, def, v));
            CardField {
                name: def.name.to_owned(),
                type_name: def.ty.describe(),
                value: value.and_then(|v| editable_text(def, v)),
                display: value.map(|v| display_value(record, def, v)),
                amount: money.map(|(minor, currency)| format_amount(minor, currency)),
                currency: money.map(|(_, currency)| currency.to_owned()),
                writable: may_write(access, policy, &record.id, def, Some(facts)),
                required: def.required,
                conflicts: record
                    .conflicts
                    .get(def.name)
                    .map(|all| all.iter().skip(1).map(FieldValue::display).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    RecordCard {
        id: record.id.clone(),
        title: record.title(),
        fields,
    }
}

/// The fields a user may fill in when creating a record of `kind`, in
/// schema order (what a "new record" form shows; never `archived`).
pub fn creatable_fields(access: &Access, policy: &Policy, kind: RecordKind) -> Vec<String> {
    let probe = RecordId::new_random(kind);
    // A new record is not created archived: the form does not offer it.
    policy
        .fields(kind)
        .filter(|def| def.name != schema::ARCHIVED)
        .filter(|def| may_write(access, policy, &probe, def, None))
        .map(|def| def.name.to_owned())
        .collect()
}

/// The fields of `kind` records that `access` may read, in schema order:
/// the fields every card of that kind shows (with or without a value), and
/// the columns of an export.
pub fn readable_fields(access: &Access, policy: &Policy, kind: RecordKind) -> Vec<&'static str> {
    policy
        .fields(kind)
        .filter(|def| can_read(access, policy, kind, def.name))
        .map(|def| def.name)
        .collect()
}

/// Whether `access` may read `field` of `kind` records.
pub fn can_read(access: &Access, policy: &Policy, kind: RecordKind, field: &str) -> bool {
    match access {
        Access::Local => true,
        access => policy
            .class_of(kind, field)
            .is_some_and(|class| access.can_read_class(class)),
    }
}

fn may_write(
    access: &Access,
    policy: &Policy,
    id: &RecordId,
    def: &FieldDef,
    facts: Option<&RecordFacts>,
) -> bool {
    if def.system || matches!(def.ty, FieldType::StageLog | FieldType::Entries) {
        return false;
    }
    let doc = policy
        .class_of(id.kind(), def.name)
        .map(|class| id.doc(class).to_string());
    access
        .check_write(id.kind(), def.name, facts, doc.as_deref())
        .is_ok()
}
