//! Activities: done, planned and overdue per person, type and week, and
//! follow-ups done on time.
//!
//! Guarantees:
//! - An activity's date is when it is due ([`crate::summary::due_of`]: its
//!   `due_at`, else `starts_at`), else when it was completed. The period
//!   filter and the ISO week (local to the query's time zone) use that
//!   date; an activity with no date is only counted without a period, in
//!   week `(undated)`.
//! - Status `done` counts as done; `cancelled` as cancelled; `planned` as
//!   overdue when its due time is before the query's `now`, else planned.
//!   An unreadable or unknown status is counted in `unknown`.
//! - A done activity is on time when `completed_at` ≤ its due time, late
//!   otherwise; one without either time is in `done_undated`, never
//!   guessed on time.
//! - The person is the assignee, else the owner, else `(none)`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::facts::Facts;
use super::query::{NONE, ReportQuery};
use super::table::{Table, Tabular};
use crate::error::Result;
use crate::ids::RecordKind;

/// Counts for one (person, type, week), or a total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    /// The responsible person.
    pub who: String,
    /// Activity type, `(none)` when unreadable; `*` in totals.
    pub activity_type: String,
    /// ISO week `2026-W48`, `(undated)`, or `*` in totals.
    pub week: String,
    /// Done.
    pub done: u64,
    /// Planned and not yet due (or with no due time).
    pub planned: u64,
    /// Planned and past due.
    pub overdue: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Status unreadable or unknown.
    pub unknown: u64,
    /// Done by their due time.
    pub on_time: u64,
    /// Done after their due time.
    pub late: u64,
    /// Done without a known due or completion time.
    pub done_undated: u64,
}

/// The activities report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activities {
    /// One row per (person, type, week), sorted by those.
    pub rows: Vec<ActivityRow>,
    /// One total row per person.
    pub totals: Vec<ActivityRow>,
}

impl ActivityRow {
    fn add(&mut self, f: &Facts, q: &ReportQuery) {
        match f.status.as_deref() {
            Some("done") => {
                self.done += 1;
                match (f.completed_at, f.due) {
                    (Some(c), Some(d)) if c <= d => self.on_time += 1,
                    (Some(_), Some(_)) => self.late += 1,
                    _ => self.done_undated += 1,
                }
            }
            Some("cancelled") => self.cancelled += 1,
            Some("planned") => match f.due {
                Some(d) if d < q.now => self.overdue += 1,
                _ => self.planned += 1,
            },
            _ => self.unknown += 1,
        }
    }
}

/// The date an activity is reported under.
pub fn activity_date(f: &Facts) -> Option<jiff::Timestamp> {
    f.due.or(f.completed_at)
}

/// An ISO week as (year, week), or `None` for undated.
type Week = Option<(i16, i8)>;

fn week_of(at: Option<jiff::Timestamp>, tz: &jiff::tz::TimeZone) -> Week {
    let week = tz.to_datetime(at?).date().iso_week_date();
    Some((week.year(), week.week()))
}

fn week_label(week: Week) -> String {
    week.map_or_else(
        || "(undated)".to_owned(),
        |(y, w)| format!("{y:04}-W{w:02}"),
    )
}

fn row(who: &str, kind: &str, week: String) -> ActivityRow {
    ActivityRow {
        who: who.to_owned(),
        activity_type: kind.to_owned(),
        week,
        ..ActivityRow::default()
    }
}

/// Computes the activities report; fails only on an unknown time zone.
pub fn activities<'a>(
    facts: impl IntoIterator<Item = &'a Facts>,
    q: &ReportQuery,
) -> Result<Activities> {
    let tz = q.zone()?;
    // Keys borrow from the facts: no allocation per activity.
    let mut rows: BTreeMap<(&str, &str, Week), ActivityRow> = BTreeMap::new();
    let mut totals: BTreeMap<&str, ActivityRow> = BTreeMap::new();
    for f in facts {
        let date = activity_date(f);
        if f.kind() != RecordKind::Activity || !q.matches(f) || !q.in_period(date) {
            continue;
        }
        let who = f.responsible().unwrap_or(NONE);
        let kind = f.activity_type.as_deref().unwrap_or(NONE);
        let week = week_of(date, &tz);
        rows.entry((who, kind, week))
            .or_insert_with(|| row(who, kind, week_label(week)))
            .add(f, q);
        totals
            .entry(who)
            .or_insert_with(|| row(who, "*", "*".into()))
            .add(f, q);
    }
    Ok(Activities {
        rows: rows.into_values().collect(),
        totals: totals.into_values().collect(),
    })
}

impl Tabular for Activities {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "who",
            "type",
            "week",
            "done",
            "planned",
            "overdue",
            "cancelled",
            "unknown",
            "on_time",
            "late",
            "done_undated",
        ]);
        for r in self.rows.iter().chain(&self.totals) {
            t.push(vec![
                r.who.clone(),
                r.activity_type.clone(),
                r.week.clone(),
                r.done.to_string(),
                r.planned.to_string(),
                r.overdue.to_string(),
                r.cancelled.to_string(),
                r.unknown.to_string(),
                r.on_time.to_string(),
                r.late.to_string(),
                r.done_undated.to_string(),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::activity;

    #[test]
    fn weeks_follow_the_time_zone_and_overdue_follows_now() {
        let mut q = ReportQuery::new("2026-12-01T00:00:00Z".parse().expect("t"));
        q.time_zone = "Europe/Budapest".into();
        // Due Sunday 23:30 UTC = Monday 00:30 in Budapest: week 49 there.
        let a = activity(
            "a",
            "ann",
            "call",
            "planned",
            Some("2026-11-29T23:30:00Z"),
            None,
        );
        // Done late: due Monday 10:00, completed 11:00.
        let b = activity(
            "b",
            "ann",
            "call",
            "done",
            Some("2026-11-23T10:00:00Z"),
            Some("2026-11-23T11:00:00Z"),
        );
        // Done on time exactly at the due time.
        let c = activity(
            "c",
            "ann",
            "call",
            "done",
            Some("2026-11-23T10:00:00Z"),
            Some("2026-11-23T10:00:00Z"),
        );
        let r = activities(&[a, b, c], &q).expect("report");
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].week, "2026-W48");
        assert_eq!(
            (r.rows[0].done, r.rows[0].on_time, r.rows[0].late),
            (2, 1, 1)
        );
        assert_eq!(r.rows[1].week, "2026-W49");
        assert_eq!((r.rows[1].overdue, r.rows[1].planned), (1, 0));
        assert_eq!(r.totals[0].done + r.totals[0].overdue, 3);
    }

    #[test]
    fn undated_activities_only_without_a_period() {
        let q = ReportQuery::new("2026-12-01T00:00:00Z".parse().expect("t"));
        let a = activity("a", "ann", "task", "done", None, None);
        let r = activities(std::slice::from_ref(&a), &q).expect("report");
        assert_eq!(
            (r.rows[0].week.as_str(), r.rows[0].done_undated),
            ("(undated)", 1)
        );
        let mut bounded = q.clone();
        bounded.from = Some("2026-01-01T00:00:00Z".parse().expect("t"));
        assert!(activities(&[a], &bounded).expect("report").rows.is_empty());
    }
}
