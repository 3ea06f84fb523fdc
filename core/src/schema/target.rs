//! Targets: success metrics a manager sets for a person or a territory
//! ("20 visits a week", "5 deals won a month", "EUR 200,000 won a quarter").
//!
//! A target is a record like any other: it syncs to the people it concerns
//! (its `assignee`, or everyone who sees its `territory`), and its progress
//! is computed from their activities and deals by `core::report::targets`,
//! offline on the device. Who may set one is policy (`targets = true` on a
//! role, checked in `Access::check_write`).

use super::{FieldDef, FieldType, NAME, SHORT};

/// What a target counts (see `core::report::targets` for the exact rule of
/// each).
pub const METRICS: &[&str] = &[
    "visits",
    "calls",
    "meetings",
    "activities_done",
    "deals_won",
    "revenue_won",
];

/// The period a target's goal is for; progress is counted per period.
pub const PERIODS: &[&str] = &["week", "month", "quarter", "year"];

pub(super) const FIELDS: &[FieldDef] = &[
    FieldDef::new("name", NAME),
    FieldDef::new("metric", FieldType::Enum(METRICS)).required(),
    FieldDef::new("period", FieldType::Enum(PERIODS)).required(),
    FieldDef::new(
        "goal",
        FieldType::Int {
            min: 1,
            max: 1_000_000_000_000_000,
        },
    )
    .required(),
    FieldDef::new("currency", FieldType::Currency),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("assignee", FieldType::User),
    FieldDef::new("territory", SHORT),
    FieldDef::new("starts_on", FieldType::Date),
    FieldDef::new("ends_on", FieldType::Date),
    super::ARCHIVED_FIELD,
];
