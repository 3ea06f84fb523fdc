//! Activities: calls, meetings, visits, e-mails and tasks on people's calendars.

use super::{FieldDef, FieldType, NAME, PARAGRAPH, SHORT};
use crate::ids::RecordKind;

pub(super) const TYPES: &[&str] = &["call", "meeting", "visit", "email", "task"];
pub(super) const STATUSES: &[&str] = &["planned", "done", "cancelled"];

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("type", FieldType::Enum(TYPES)).required(),
    FieldDef::new("subject", NAME).required(),
    FieldDef::new("status", FieldType::Enum(STATUSES)).required(),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("assignee", FieldType::User),
    FieldDef::new("starts_at", FieldType::DateTime),
    FieldDef::new("due_at", FieldType::DateTime),
    FieldDef::new("time_zone", FieldType::TimeZone),
    FieldDef::new(
        "duration_minutes",
        FieldType::Int {
            min: 0,
            max: 100_000,
        },
    ),
    FieldDef::new("topic", PARAGRAPH),
    FieldDef::new("outcome", PARAGRAPH),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])),
    FieldDef::new("contact", FieldType::Ref(&[RecordKind::Contact])),
    FieldDef::new("deal", FieldType::Ref(&[RecordKind::Deal])),
    FieldDef::new("check_in_at", FieldType::DateTime),
    FieldDef::new("check_in_lat", FieldType::Latitude),
    FieldDef::new("check_in_lon", FieldType::Longitude),
    FieldDef::new("check_out_at", FieldType::DateTime),
    FieldDef::new("check_out_lat", FieldType::Latitude),
    FieldDef::new("check_out_lon", FieldType::Longitude),
    FieldDef::new("photo", FieldType::File),
    FieldDef::new("document", FieldType::File),
    FieldDef::new("completed_at", FieldType::DateTime).system(),
    FieldDef::new(
        "process_instance",
        FieldType::Ref(&[RecordKind::ProcessInstance]),
    )
    .system(),
    FieldDef::new("process_step", SHORT).system(),
    super::ARCHIVED_FIELD,
];
