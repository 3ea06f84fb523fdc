//! Process models and instances: the business-process layer's records.
//!
//! A model document holds one published version of a process definition (as
//! canonical JSON); an instance document holds the instance's status and its
//! grow-only event log, from which the engine derives where the instance is.

use super::{FieldDef, FieldType, NAME, SHORT};
use crate::ids::RecordKind;

pub(super) const INSTANCE_STATUSES: &[&str] = &["running", "suspended", "stopped", "completed"];

pub(super) const MODEL_FIELDS: &[FieldDef] = &[
    FieldDef::new("name", NAME).required(),
    FieldDef::new("key", SHORT).required(),
    FieldDef::new(
        "version",
        FieldType::Int {
            min: 1,
            max: 1_000_000,
        },
    )
    .required(),
    FieldDef::new("definition", FieldType::Text { max: 1_000_000 }).required(),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("published_at", FieldType::DateTime),
];

pub(super) const INSTANCE_FIELDS: &[FieldDef] = &[
    FieldDef::new("model_key", SHORT).required(),
    FieldDef::new("model", FieldType::Ref(&[RecordKind::ProcessModel])).required(),
    FieldDef::new(
        "model_version",
        FieldType::Int {
            min: 1,
            max: 1_000_000,
        },
    )
    .required(),
    FieldDef::new(
        "record",
        FieldType::Ref(&[
            RecordKind::Account,
            RecordKind::Contact,
            RecordKind::Deal,
            RecordKind::Activity,
        ]),
    )
    .required(),
    FieldDef::new("account", FieldType::Ref(&[RecordKind::Account])),
    FieldDef::new("owner", FieldType::User),
    FieldDef::new("started_at", FieldType::DateTime),
    FieldDef::new("events", FieldType::Entries).system(),
    FieldDef::new("parameters", FieldType::Entries).system(),
];
