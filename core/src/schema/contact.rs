//! Contacts: people at an account.

use super::{FieldDef, FieldType, NAME, SHORT};
use crate::ids::RecordKind;

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("first_name", SHORT),
    FieldDef::new("last_name", SHORT).required(),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])),
    FieldDef::new("position", NAME),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("email", FieldType::Email),
    FieldDef::new("email_secondary", FieldType::Email),
    FieldDef::new("phone", FieldType::Phone),
    FieldDef::new("mobile", FieldType::Phone),
    FieldDef::new("birthday", FieldType::Date),
    FieldDef::new("business_card", FieldType::File),
    super::ARCHIVED_FIELD,
    super::MERGED_INTO_CONTACT,
];
