//! [`Facts`]: the compact input of every report, one per record.
//!
//! Guarantees:
//! - Built only from the fields a [`Record`] holds: a field the reader may
//!   not read is absent from the record and therefore `None` here, never a
//!   zero or an empty string.
//! - The same value whether built on the server from a record read through a
//!   user's rights ([`Facts::of`]) or loaded from the device's index (whose
//!   columns the device store fills from the same [`Facts::of`]).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{RecordId, RecordKind};
use crate::record::Record;
use crate::summary::{due_of, instant};
use crate::value::FieldValue;

/// One entry of a stage log: the stage entered and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStep {
    /// The stage entered.
    pub stage: String,
    /// When it was entered.
    pub at: Timestamp,
}

/// Where a visit was checked in or out.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Position {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// What reports need of one record. Every field is `None` (or empty) when
/// the record does not hold it or the reader may not read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The record.
    pub id: RecordId,
    /// Its display name (the id when the title is not readable); empty
    /// when the loader was asked only for what a report without titles
    /// reads (see `Store::report_facts`).
    pub title: String,
    /// Owner.
    pub owner: Option<String>,
    /// Assignee (activities).
    pub assignee: Option<String>,
    /// Territory: an account's own, a child's inherited from its account.
    pub territory: Option<String>,
    /// The parent account (children of an account).
    pub account: Option<RecordId>,
    /// Current stage (accounts, deals).
    pub stage: Option<String>,
    /// The stage log in the order it was written (accounts, deals).
    pub stages: Vec<StageStep>,
    /// Amount in minor units of `currency` (deals).
    pub amount: Option<i64>,
    /// Currency of `amount` (deals).
    pub currency: Option<String>,
    /// When the deal was won or lost (cleared when it is reopened).
    pub closed_at: Option<Timestamp>,
    /// Status (activities).
    pub status: Option<String>,
    /// Activity type (`call`, `visit`, ...).
    pub activity_type: Option<String>,
    /// When it is due: [`crate::summary::due_of`] (an activity's `due_at`,
    /// else `starts_at`; a deal's `expected_close`).
    pub due: Option<Timestamp>,
    /// When an activity was marked done.
    pub completed_at: Option<Timestamp>,
    /// Visit check-in time.
    pub check_in_at: Option<Timestamp>,
    /// Visit check-out time.
    pub check_out_at: Option<Timestamp>,
    /// Visit check-in position (both coordinates readable).
    pub check_in: Option<Position>,
    /// Visit check-out position (both coordinates readable).
    pub check_out: Option<Position>,
    /// When the record was created, as far as the caller knows (the device:
    /// when it was first stored here).
    pub created_at: Option<Timestamp>,
}

impl Facts {
    /// The facts of `record`, given the territory it inherits from its
    /// account (`None` for accounts, which carry their own) and when it was
    /// created, if known.
    pub fn of(
        record: &Record,
        inherited_territory: Option<String>,
        created_at: Option<Timestamp>,
    ) -> Facts {
        let text = |f: &str| record.text(f).map(str::to_owned);
        let time = |f: &str| instant(record.get(f));
        let is_activity = record.kind() == RecordKind::Activity;
        let is_deal = record.kind() == RecordKind::Deal;
        Facts {
            id: record.id.clone(),
            title: record.title(),
            owner: text("owner"),
            assignee: text("assignee"),
            territory: record.facts(inherited_territory).territory,
            account: record.account(),
            stage: text("stage"),
            stages: stage_log(record.get("stage_history")),
            amount: is_deal
                .then(|| record.get("amount").and_then(FieldValue::as_int))
                .flatten(),
            currency: is_deal.then(|| text("currency")).flatten(),
            closed_at: time("closed_at"),
            status: is_activity.then(|| text("status")).flatten(),
            activity_type: is_activity.then(|| text("type")).flatten(),
            due: due_of(record),
            completed_at: time("completed_at"),
            check_in_at: time("check_in_at"),
            check_out_at: time("check_out_at"),
            check_in: position(record, "check_in_lat", "check_in_lon"),
            check_out: position(record, "check_out_lat", "check_out_lon"),
            created_at,
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.id.kind()
    }

    /// Who is responsible: an activity's assignee, else the owner.
    pub fn responsible(&self) -> Option<&str> {
        self.assignee.as_deref().or(self.owner.as_deref())
    }

    /// When the record first entered a stage (the first log entry), else
    /// when it was created.
    pub fn first_seen(&self) -> Option<Timestamp> {
        self.stages.first().map(|s| s.at).or(self.created_at)
    }
}

/// The entries of a stage log whose time parses; others are skipped.
fn stage_log(value: Option<&FieldValue>) -> Vec<StageStep> {
    let Some(FieldValue::Stages(log)) = value else {
        return Vec::new();
    };
    log.iter()
        .filter_map(|t| {
            Some(StageStep {
                stage: t.stage.clone(),
                at: t.at.parse().ok()?,
            })
        })
        .collect()
}

fn position(record: &Record, lat: &str, lon: &str) -> Option<Position> {
    Some(Position {
        lat: record.get(lat)?.as_float()?,
        lon: record.get(lon)?.as_float()?,
    })
}

/// Encodes a stage log for an index column: `stage@seconds` joined by `;`.
/// Entries whose stage contains `@` or `;` (never a schema stage) are left
/// out, so decoding is exact for everything kept.
pub fn encode_stages(stages: &[StageStep]) -> String {
    stages
        .iter()
        .filter(|s| !s.stage.contains(['@', ';']))
        .map(|s| format!("{}@{}", s.stage, s.at.as_second()))
        .collect::<Vec<_>>()
        .join(";")
}

/// Decodes [`encode_stages`]; malformed entries are skipped.
pub fn decode_stages(text: &str) -> Vec<StageStep> {
    text.split(';')
        .filter_map(|entry| {
            let (stage, secs) = entry.rsplit_once('@')?;
            Some(StageStep {
                stage: stage.to_owned(),
                at: Timestamp::from_second(secs.parse().ok()?).ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::StageTransition;

    fn deal(fields: &[(&str, FieldValue)]) -> Record {
        Record {
            id: RecordId::derived(RecordKind::Deal, &["d"]),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            conflicts: BTreeMap::new(),
            classes: Vec::new(),
        }
    }

    #[test]
    fn absent_fields_stay_absent() {
        let f = Facts::of(&deal(&[("name", FieldValue::Text("X".into()))]), None, None);
        assert_eq!((f.amount, f.currency, f.stage), (None, None, None));
        assert!(f.stages.is_empty());
    }

    #[test]
    fn stage_logs_round_trip_through_the_index_encoding() {
        let log = FieldValue::Stages(vec![
            StageTransition {
                stage: "proposal".into(),
                at: "2026-01-02T03:04:05Z".into(),
            },
            StageTransition {
                stage: "bad".into(),
                at: "not a time".into(),
            },
            StageTransition {
                stage: "won".into(),
                at: "2026-02-01T00:00:00Z".into(),
            },
        ]);
        let f = Facts::of(&deal(&[("stage_history", log)]), None, None);
        assert_eq!(f.stages.len(), 2);
        assert_eq!(decode_stages(&encode_stages(&f.stages)), f.stages);
        assert!(decode_stages("").is_empty());
        assert!(decode_stages("x@y;@").is_empty());
    }
}
