//! One record as a list shows it, without opening it: [`Summary`], a row
//! of the device store's index, which task lists and calendars also read.
//!
//! Guarantees:
//! - A leaf below the process layer and the store (it names only record
//!   ids), so both can use it without depending on each other.
//! - Serializes as it did under `store::Summary` (re-exported there).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{RecordId, RecordKind};
use crate::record::Record;
use crate::value::FieldValue;

/// Which records a list or search returns with respect to archiving
/// ([`crate::schema::ARCHIVED`]); the device store and the server's index
/// both read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Archived {
    /// Only records that are not archived (the default).
    #[default]
    Exclude,
    /// Archived records too.
    Include,
    /// Only archived records.
    Only,
}

/// One row of a list: what a list screen shows without opening the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The record.
    pub id: RecordId,
    /// Display name.
    pub title: String,
    /// Stage (accounts, deals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Status (activities, process instances).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Type (activities, relationships).
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub kind_type: Option<String>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Assignee (activities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Territory (own or inherited from the account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// Parent account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Due or start time, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// Amount in minor units (deals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Currency of `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// An instant or a date (midnight UTC) held by `value`, if it holds one.
pub fn instant(value: Option<&FieldValue>) -> Option<Timestamp> {
    let text = value?.as_text()?;
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// When a record is due, as lists sort and bucket it: an activity's
/// `due_at`, else its `starts_at`; a deal's `expected_close`; nothing for
/// other kinds. The one rule for the device's index and the server's task
/// lists.
pub fn due_of(record: &Record) -> Option<Timestamp> {
    match record.kind() {
        RecordKind::Activity => {
            instant(record.get("due_at")).or_else(|| instant(record.get("starts_at")))
        }
        RecordKind::Deal => instant(record.get("expected_close")),
        _ => None,
    }
}

impl Summary {
    /// The list row of `record` as the fields it holds make it (only the
    /// fields present: a record read through a user's classes yields that
    /// user's row), last changed at `updated_at`. The device's index makes
    /// the same row from its columns.
    pub fn of_record(record: &Record, updated_at: Option<Timestamp>) -> Summary {
        let text = |f: &str| record.text(f).map(str::to_owned);
        let (amount, currency) = match record.kind() {
            RecordKind::Deal => (
                record.get("amount").and_then(FieldValue::as_int),
                text("currency"),
            ),
            _ => (None, None),
        };
        Summary {
            id: record.id.clone(),
            title: record.title(),
            stage: text("stage"),
            status: match record.kind() {
                RecordKind::Activity => text("status"),
                _ => None,
            },
            kind_type: text("type"),
            owner: text("owner"),
            assignee: text("assignee"),
            territory: text("territory"),
            account: record.account().map(|a| a.to_string()),
            due_at: due_of(record).map(|t| t.to_string()),
            amount,
            currency,
            updated_at: updated_at.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}
