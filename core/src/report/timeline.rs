//! The touchpoint timeline of one account.
//!
//! Guarantees:
//! - Lists, for the account and the records whose parent account it is:
//!   the account's stage changes (its stage log), each deal's creation and
//!   stage changes (its stage log; the first entry is the creation), each
//!   activity (at its completion if done, else its due time, else its
//!   creation), each note and contact (at its creation).
//! - Events are in time order, ties by record id then log order; events
//!   with no known time come last. With a period, only events whose time
//!   lies in it. The owner and territory filters do not apply (the caller
//!   chose the account).
//! - `who` is the activity's assignee, else the record's owner; absent when
//!   unreadable.

use jiff::Timestamp;
use serde::Serialize;

use super::facts::Facts;
use super::query::ReportQuery;
use super::table::{Table, Tabular, opt};
use crate::ids::{RecordId, RecordKind};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The account entered a lifecycle stage.
    AccountStage,
    /// A deal was created (its first stage).
    DealCreated,
    /// A deal moved to a stage.
    DealStage,
    /// An activity.
    Activity,
    /// A note.
    Note,
    /// A contact was added.
    Contact,
}

/// One touchpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    /// When, if known.
    pub at: Option<Timestamp>,
    /// What happened.
    pub kind: EventKind,
    /// The record it happened to.
    pub record: String,
    /// That record's title.
    pub title: String,
    /// The stage entered, or an activity's `type status`.
    pub detail: String,
    /// Who.
    pub who: Option<String>,
}

/// The timeline report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The account.
    pub account: String,
    /// Its touchpoints in order.
    pub events: Vec<TimelineEvent>,
}

fn event(f: &Facts, at: Option<Timestamp>, kind: EventKind, detail: String) -> TimelineEvent {
    TimelineEvent {
        at,
        kind,
        record: f.id.to_string(),
        title: f.title.clone(),
        detail,
        who: f.responsible().map(str::to_owned),
    }
}

fn stage_events(f: &Facts, first: EventKind, rest: EventKind) -> Vec<TimelineEvent> {
    f.stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            event(
                f,
                Some(s.at),
                if i == 0 { first } else { rest },
                s.stage.clone(),
            )
        })
        .collect()
}

fn events_of(f: &Facts) -> Vec<TimelineEvent> {
    let joined = |a: &Option<String>, b: &Option<String>| {
        [a.as_deref(), b.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    };
    match f.kind() {
        RecordKind::Account => stage_events(f, EventKind::AccountStage, EventKind::AccountStage),
        RecordKind::Deal if !f.stages.is_empty() => {
            stage_events(f, EventKind::DealCreated, EventKind::DealStage)
        }
        RecordKind::Deal => vec![event(
            f,
            f.created_at,
            EventKind::DealCreated,
            opt(f.stage.as_ref()),
        )],
        RecordKind::Activity => {
            let at = if f.status.as_deref() == Some("done") {
                f.completed_at.or(f.due)
            } else {
                f.due
            };
            vec![event(
                f,
                at.or(f.created_at),
                EventKind::Activity,
                joined(&f.activity_type, &f.status),
            )]
        }
        RecordKind::Note => vec![event(f, f.created_at, EventKind::Note, String::new())],
        RecordKind::Contact => vec![event(f, f.created_at, EventKind::Contact, String::new())],
        _ => Vec::new(),
    }
}

/// The timeline of `account` from `facts` (which may hold other records).
pub fn timeline<'a>(
    account: &RecordId,
    facts: impl IntoIterator<Item = &'a Facts>,
    q: &ReportQuery,
) -> Timeline {
    let mut events: Vec<TimelineEvent> = facts
        .into_iter()
        .filter(|f| &f.id == account || f.account.as_ref() == Some(account))
        .flat_map(events_of)
        .filter(|e| q.in_period(e.at))
        .collect();
    // Stable: equal keys keep log order.
    events
        .sort_by(|a, b| (a.at.is_none(), a.at, &a.record).cmp(&(b.at.is_none(), b.at, &b.record)));
    Timeline {
        account: account.to_string(),
        events,
    }
}

impl Tabular for Timeline {
    fn table(&self) -> Table {
        let mut t = Table::new(&["at", "kind", "record", "title", "detail", "who"]);
        for e in &self.events {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            t.push(vec![
                opt(e.at),
                kind,
                e.record.clone(),
                e.title.clone(),
                e.detail.clone(),
                opt(e.who.as_ref()),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{activity, deal, with_stages};

    #[test]
    fn events_are_in_time_order_with_undated_last_and_other_accounts_left_out() {
        let acc = RecordId::derived(RecordKind::Account, &["acc"]);
        let mut d = with_stages(
            deal("d", "bob", "proposal", None),
            &[
                ("qualification", "2026-01-05T00:00:00Z"),
                ("proposal", "2026-01-01T00:00:00Z"),
            ],
        );
        d.account = Some(acc.clone());
        let mut a = activity(
            "a",
            "ann",
            "call",
            "planned",
            Some("2026-01-03T00:00:00Z"),
            None,
        );
        a.account = Some(acc.clone());
        let mut undated = activity("u", "ann", "task", "planned", None, None);
        undated.account = Some(acc.clone());
        let other = activity(
            "o",
            "ann",
            "call",
            "planned",
            Some("2026-01-02T00:00:00Z"),
            None,
        );
        let q = ReportQuery::new("2026-12-01T00:00:00Z".parse().expect("t"));
        let t = timeline(&acc, &[undated, d, a, other], &q);
        let kinds: Vec<(EventKind, &str)> = t
            .events
            .iter()
            .map(|e| (e.kind, e.detail.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::DealStage, "proposal"),
                (EventKind::Activity, "call planned"),
                (EventKind::DealCreated, "qualification"),
                (EventKind::Activity, "task planned"),
            ]
        );
        assert_eq!(t.events[0].who.as_deref(), Some("bob"));
    }
}
