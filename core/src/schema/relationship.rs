//! Relationships: typed links between accounts and contacts.

use super::{FieldDef, FieldType, PARAGRAPH};
use crate::ids::RecordKind;

pub(super) const TYPES: &[&str] = &["parent_company", "partner", "referred_by", "competitor"];

const PARTY: FieldType = FieldType::Ref(&[RecordKind::Account, RecordKind::Contact]);

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("type", FieldType::Enum(TYPES)).required(),
    FieldDef::new("from", PARTY).required(),
    FieldDef::new("to", PARTY).required(),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("comment", PARAGRAPH),
    super::ARCHIVED_FIELD,
];
