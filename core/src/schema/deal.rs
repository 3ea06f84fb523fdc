//! Deals: sales opportunities moving through the pipeline.

use super::{FieldDef, FieldType, NAME, PARAGRAPH};
use crate::ids::RecordKind;

pub(super) const STAGES: &[&str] = &["qualification", "proposal", "negotiation", "won", "lost"];

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("name", NAME).required(),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])).required(),
    FieldDef::new("stage", FieldType::Enum(STAGES)).required(),
    FieldDef::new("stage_history", FieldType::StageLog).system(),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("amount", FieldType::Money),
    FieldDef::new("currency", FieldType::Currency),
    FieldDef::new("expected_close", FieldType::Date),
    FieldDef::new("closed_at", FieldType::DateTime).system(),
    FieldDef::new("close_reason", PARAGRAPH),
    super::ARCHIVED_FIELD,
];
