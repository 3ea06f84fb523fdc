//! Notes: long text about a customer that several people edit together.

use super::{FieldDef, FieldType, NAME};
use crate::ids::RecordKind;

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("title", NAME).required(),
    FieldDef::new("body", FieldType::LongText),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])),
    FieldDef::new("contact", FieldType::Ref(&[RecordKind::Contact])),
    FieldDef::new("deal", FieldType::Ref(&[RecordKind::Deal])),
    super::ARCHIVED_FIELD,
];
