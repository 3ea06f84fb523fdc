//! Accounts: the customer companies and people we sell to.

use super::{FieldDef, FieldType, NAME, SHORT};

pub(super) const STAGES: &[&str] = &["lead", "prospect", "customer", "loyal", "churned"];

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("name", NAME).required(),
    FieldDef::new("stage", FieldType::Enum(STAGES)).required(),
    FieldDef::new("stage_history", FieldType::StageLog).system(),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("territory", SHORT),
    FieldDef::new("industry", SHORT),
    FieldDef::new("website", FieldType::Url),
    FieldDef::new("description", FieldType::LongText),
    FieldDef::new("email", FieldType::Email),
    FieldDef::new("phone", FieldType::Phone),
    FieldDef::new("street", NAME),
    FieldDef::new("city", SHORT),
    FieldDef::new("postal_code", FieldType::Text { max: 16 }),
    FieldDef::new("region", SHORT),
    FieldDef::new("country", FieldType::Country),
    FieldDef::new("tax_id", FieldType::Text { max: 32 }),
    FieldDef::new("credit_limit", FieldType::Money),
    FieldDef::new("credit_currency", FieldType::Currency),
    FieldDef::new("contract", FieldType::File),
    super::ARCHIVED_FIELD,
    super::MERGED_INTO_ACCOUNT,
];
