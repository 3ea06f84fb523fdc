//! Visits: activities of type `visit` with their check-in and check-out.
//!
//! Guarantees:
//! - A visit's date is its `check_in_at`, else its due time; the period
//!   filter uses it (an undated visit is listed only without a period).
//! - Duration is check-out minus check-in in whole minutes (rounded
//!   down), only when both are known and check-out is not earlier; it is
//!   never guessed from `duration_minutes` or from one end alone.
//! - Totals per person count visits, visits with both ends, and the sum
//!   and average of the known durations.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::facts::{Facts, Position};
use super::query::{NONE, ReportQuery, seconds_between};
use super::table::{Table, Tabular, opt};
use crate::ids::{RecordId, RecordKind};

/// One visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    /// The activity.
    pub id: String,
    /// Its subject.
    pub title: String,
    /// The responsible person.
    pub who: String,
    /// The visited account, if readable.
    pub account: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Check-in time.
    pub check_in_at: Option<Timestamp>,
    /// Check-out time.
    pub check_out_at: Option<Timestamp>,
    /// Check-out minus check-in, whole minutes.
    pub duration_minutes: Option<i64>,
    /// Where it was checked in.
    pub check_in: Option<Position>,
    /// Where it was checked out.
    pub check_out: Option<Position>,
}

/// Totals of one person's visits.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VisitTotal {
    /// The responsible person.
    pub who: String,
    /// Visits listed.
    pub visits: u64,
    /// Visits with a check-in.
    pub checked_in: u64,
    /// Visits with a known duration.
    pub with_duration: u64,
    /// Sum of known durations, minutes.
    pub total_minutes: i64,
    /// Average known duration, minutes.
    pub average_minutes: Option<f64>,
}

/// The visits report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visits {
    /// Visits in date order (undated last), then by id.
    pub visits: Vec<Visit>,
    /// Totals per person.
    pub totals: Vec<VisitTotal>,
}

/// `id` as text, exactly its `Display` form (`kind:key`), built without
/// the formatting machinery (this runs once or twice per visit).
fn id_text(id: &RecordId) -> String {
    let (kind, key) = (id.kind().as_str(), id.key());
    let mut text = String::with_capacity(kind.len() + 1 + key.len());
    text.push_str(kind);
    text.push(':');
    text.push_str(key);
    text
}

/// What the visits report reads of one activity, borrowed: a host that
/// reads rows hands them over without building [`Facts`] (the device store
/// streams its visits index through [`VisitList`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisitView<'a> {
    /// The activity.
    pub id: &'a RecordId,
    /// Its subject.
    pub title: &'a str,
    /// Assignee, else owner.
    pub responsible: Option<&'a str>,
    /// Territory (its account's).
    pub territory: Option<&'a str>,
    /// The visited account, if readable.
    pub account: Option<&'a RecordId>,
    /// Status.
    pub status: Option<&'a str>,
    /// Activity type (only `visit` is listed).
    pub activity_type: Option<&'a str>,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// Check-in time.
    pub check_in_at: Option<Timestamp>,
    /// Check-out time.
    pub check_out_at: Option<Timestamp>,
    /// Where it was checked in.
    pub check_in: Option<Position>,
    /// Where it was checked out.
    pub check_out: Option<Position>,
}

impl<'a> VisitView<'a> {
    /// The view of `f`, when it is an activity.
    pub fn of(f: &'a Facts) -> Option<VisitView<'a>> {
        (f.kind() == RecordKind::Activity).then(|| VisitView {
            id: &f.id,
            title: &f.title,
            responsible: f.responsible(),
            territory: f.territory.as_deref(),
            account: f.account.as_ref(),
            status: f.status.as_deref(),
            activity_type: f.activity_type.as_deref(),
            due: f.due,
            check_in_at: f.check_in_at,
            check_out_at: f.check_out_at,
            check_in: f.check_in,
            check_out: f.check_out,
        })
    }

    /// The date it is listed under: check-in, else due.
    fn date(&self) -> Option<Timestamp> {
        self.check_in_at.or(self.due)
    }

    fn visit(&self) -> Visit {
        let duration_minutes = match (self.check_in_at, self.check_out_at) {
            (Some(i), Some(o)) if o >= i => Some(seconds_between(i, o) / 60),
            _ => None,
        };
        Visit {
            id: id_text(self.id),
            title: self.title.to_owned(),
            who: self.responsible.unwrap_or(NONE).to_owned(),
            account: self.account.map(id_text),
            status: self.status.map(str::to_owned),
            check_in_at: self.check_in_at,
            check_out_at: self.check_out_at,
            duration_minutes,
            check_in: self.check_in,
            check_out: self.check_out,
        }
    }
}

/// The visits report built one activity at a time, so a host can feed it
/// as it reads rows; only visits passing the query's filters are copied.
///
/// Guarantees: [`VisitList::finish`] gives exactly what [`visits`] gives
/// over the same activities, in any order of adding.
pub struct VisitList<'q> {
    q: &'q ReportQuery,
    list: Vec<(Option<Timestamp>, Visit)>,
}

impl<'q> VisitList<'q> {
    /// An empty list under `q`.
    pub fn new(q: &'q ReportQuery) -> Self {
        VisitList {
            q,
            list: Vec::new(),
        }
    }

    /// Lists `v` if it is a visit passing the query's filters.
    pub fn add(&mut self, v: &VisitView<'_>) {
        if v.activity_type == Some("visit")
            && self.q.matches_parts(v.responsible, v.territory)
            && self.q.in_period(v.date())
        {
            self.list.push((v.date(), v.visit()));
        }
    }

    /// The report: visits in date order (undated last, then by id) and
    /// totals per person.
    pub fn finish(self) -> Visits {
        let mut list = self.list;
        list.sort_by(|a, b| (a.0.is_none(), a.0, &a.1.id).cmp(&(b.0.is_none(), b.0, &b.1.id)));
        // Keyed by borrowed names: one allocation per person, not per visit.
        let mut totals: BTreeMap<&str, VisitTotal> = BTreeMap::new();
        for (_, v) in &list {
            let t = totals.entry(v.who.as_str()).or_insert_with(|| VisitTotal {
                who: v.who.clone(),
                ..VisitTotal::default()
            });
            t.visits += 1;
            t.checked_in += u64::from(v.check_in_at.is_some());
            if let Some(d) = v.duration_minutes {
                t.with_duration += 1;
                t.total_minutes = t.total_minutes.saturating_add(d);
            }
        }
        for t in totals.values_mut() {
            t.average_minutes =
                (t.with_duration > 0).then(|| t.total_minutes as f64 / t.with_duration as f64);
        }
        let totals = totals.into_values().collect();
        Visits {
            visits: list.into_iter().map(|(_, v)| v).collect(),
            totals,
        }
    }
}

/// Computes the visits report over `facts`.
pub fn visits<'a>(facts: impl IntoIterator<Item = &'a Facts>, q: &ReportQuery) -> Visits {
    let mut list = VisitList::new(q);
    for f in facts {
        if let Some(v) = VisitView::of(f) {
            list.add(&v);
        }
    }
    list.finish()
}

impl Tabular for Visits {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "who",
            "id",
            "title",
            "account",
            "status",
            "check_in_at",
            "check_out_at",
            "minutes",
            "check_in_lat",
            "check_in_lon",
        ]);
        for v in &self.visits {
            t.push(vec![
                v.who.clone(),
                v.id.clone(),
                v.title.clone(),
                opt(v.account.as_ref()),
                opt(v.status.as_ref()),
                opt(v.check_in_at),
                opt(v.check_out_at),
                opt(v.duration_minutes),
                opt(v.check_in.map(|p| p.lat)),
                opt(v.check_in.map(|p| p.lon)),
            ]);
        }
        for s in &self.totals {
            t.push(vec![
                s.who.clone(),
                "(total)".into(),
                format!("{} visits, {} checked in", s.visits, s.checked_in),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                s.total_minutes.to_string(),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{activity, checked};

    #[test]
    fn durations_need_both_ends_in_order() {
        let q = ReportQuery::new("2026-12-01T00:00:00Z".parse().expect("t"));
        let ok = checked(
            activity("a", "ann", "visit", "done", None, None),
            Some("2026-11-02T09:00:00Z"),
            Some("2026-11-02T09:45:30Z"),
        );
        let open = checked(
            activity("b", "ann", "visit", "planned", None, None),
            Some("2026-11-03T09:00:00Z"),
            None,
        );
        let backwards = checked(
            activity("c", "ann", "visit", "done", None, None),
            Some("2026-11-04T09:00:00Z"),
            Some("2026-11-04T08:00:00Z"),
        );
        let call = activity("d", "ann", "call", "done", None, None);
        let id = backwards.id.clone();
        let r = visits(&[backwards, open, ok, call], &q);
        assert_eq!(r.visits[2].id, id.to_string());
        let minutes: Vec<Option<i64>> = r.visits.iter().map(|v| v.duration_minutes).collect();
        assert_eq!(minutes, vec![Some(45), None, None]);
        assert_eq!(r.totals[0].visits, 3);
        assert_eq!(
            (r.totals[0].with_duration, r.totals[0].total_minutes),
            (1, 45)
        );
        assert_eq!(r.totals[0].average_minutes, Some(45.0));
    }
}
