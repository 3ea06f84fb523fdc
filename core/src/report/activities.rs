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

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
    fn add(&mut self, f: &ActivityView<'_>, q: &ReportQuery) {
        match f.status {
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

/// What the activities report reads of one activity, borrowed: a host
/// that reads rows can hand them over without building [`Facts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityView<'a> {
    /// Assignee, else owner.
    pub responsible: Option<&'a str>,
    /// Territory (its account's).
    pub territory: Option<&'a str>,
    /// Status.
    pub status: Option<&'a str>,
    /// Activity type.
    pub activity_type: Option<&'a str>,
    /// When it is due.
    pub due: Option<jiff::Timestamp>,
    /// When it was marked done.
    pub completed_at: Option<jiff::Timestamp>,
}

impl<'a> ActivityView<'a> {
    /// The view of `f`, when it is an activity.
    pub fn of(f: &'a Facts) -> Option<ActivityView<'a>> {
        (f.kind() == RecordKind::Activity).then(|| ActivityView {
            responsible: f.responsible(),
            territory: f.territory.as_deref(),
            status: f.status.as_deref(),
            activity_type: f.activity_type.as_deref(),
            due: f.due,
            completed_at: f.completed_at,
        })
    }

    /// The date it is reported under: due, else completed.
    pub fn date(&self) -> Option<jiff::Timestamp> {
        self.due.or(self.completed_at)
    }
}

/// The date an activity is reported under.
pub fn activity_date(f: &Facts) -> Option<jiff::Timestamp> {
    f.due.or(f.completed_at)
}

/// An ISO week as (year, week), or `None` for undated.
type Week = Option<(i16, i8)>;

/// The ISO week of `at` local to `tz`, computed directly.
fn week_of(at: Option<jiff::Timestamp>, tz: &jiff::tz::TimeZone) -> Week {
    let week = tz.to_datetime(at?).date().iso_week_date();
    Some((week.year(), week.week()))
}

const DAY: i64 = 86_400;

/// What one UTC day `[s, s + DAY)` maps to: when the offset is constant
/// over it, the local date changes at most once, at `split`; instants
/// before it are in the week of `s`, the others in the week of `s + DAY - 1`.
#[derive(Clone, Copy)]
enum Day {
    /// The offset is constant all day.
    Constant {
        split: i64,
        before: Week,
        after: Week,
    },
    /// A transition falls inside the day (or its bounds are out of range):
    /// every instant is computed directly.
    Direct,
}

/// [`week_of`], remembered per UTC day: exactly the same answer, with one
/// time zone lookup per day instead of one per activity (and no lookup at
/// all for an activity on the same day as the one before it, as when
/// they are read in date order).
struct Weeks {
    tz: jiff::tz::TimeZone,
    days: HashMap<i64, Day, BuildHasherDefault<Fnv>>,
    /// The day asked last, and what it maps to.
    last: Option<(i64, Day)>,
}

impl Weeks {
    fn new(tz: jiff::tz::TimeZone) -> Self {
        Weeks {
            tz,
            days: HashMap::default(),
            last: None,
        }
    }

    fn day(&self, start: i64) -> Day {
        let at = |s: i64| jiff::Timestamp::from_second(s).ok();
        let (Some(first), Some(last)) = (at(start), at(start + DAY - 1)) else {
            return Day::Direct;
        };
        // A transition at `start` itself (if listed) only makes the day
        // direct; one after `last` does not concern it.
        if self
            .tz
            .following(first)
            .next()
            .is_some_and(|next| next.timestamp() <= last)
        {
            return Day::Direct;
        }
        let offset = i64::from(self.tz.to_offset(first).seconds());
        Day::Constant {
            split: start + (-offset).rem_euclid(DAY),
            before: week_of(Some(first), &self.tz),
            after: week_of(Some(last), &self.tz),
        }
    }

    /// The ISO week of `at` in the zone, `None` for undated.
    fn of(&mut self, at: Option<jiff::Timestamp>) -> Week {
        let at = at?;
        let secs = at.as_second();
        // Negative sub-second parts round toward zero: not the day's floor.
        if at.subsec_nanosecond() < 0 {
            return week_of(Some(at), &self.tz);
        }
        let start = secs - secs.rem_euclid(DAY);
        let day = match self.last {
            Some((last, day)) if last == start => day,
            _ => {
                let day = match self.days.get(&start) {
                    Some(day) => *day,
                    None => {
                        let day = self.day(start);
                        self.days.insert(start, day);
                        day
                    }
                };
                self.last = Some((start, day));
                day
            }
        };
        match day {
            Day::Constant { split, before, .. } if secs < split => before,
            Day::Constant { after, .. } => after,
            Day::Direct => week_of(Some(at), &self.tz),
        }
    }
}

/// FNV-1a: a fast hash for the small keys of one report run (not exposed
/// to untrusted collisions beyond slowing that run).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn week_label(week: Week) -> String {
    week.map_or_else(
        || "(undated)".to_owned(),
        |(y, w)| format!("{y:04}-W{w:02}"),
    )
}

type Fast<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The activities report counted one fact at a time, so a host can feed it
/// facts as it reads them (the device store streams its index rows as
/// borrowed views) instead of building them all first.
///
/// Guarantees: [`ActivitiesTally::finish`] gives exactly what
/// [`activities`] gives over the same facts; a person or a type is
/// allocated once, when first seen, never per activity; an activity costs
/// two string lookups (person, type) and one lookup by numbers.
pub struct ActivitiesTally<'q> {
    q: &'q ReportQuery,
    weeks: Weeks,
    /// Each person seen, numbered in order of appearance.
    people: Interned,
    /// Each activity type seen, numbered likewise.
    kinds: Interned,
    /// Counts by (person, type, week), by number.
    rows: Fast<(u32, u32, Week), ActivityRow>,
    /// Totals by person number.
    totals: Vec<ActivityRow>,
}

/// Names numbered in order of appearance: the number of a name already
/// seen is found without allocating.
#[derive(Default)]
struct Interned {
    numbers: Fast<String, u32>,
    names: Vec<String>,
}

impl Interned {
    /// The number of `name`, given it when first seen.
    fn number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.numbers.get(name) {
            return *n;
        }
        // More than u32::MAX distinct names cannot be held in memory.
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.numbers.insert(name.to_owned(), n);
        self.names.push(name.to_owned());
        n
    }

    fn name(&self, n: u32) -> &str {
        self.names.get(n as usize).map_or(NONE, String::as_str)
    }
}

impl<'q> ActivitiesTally<'q> {
    /// An empty tally under `q`; fails only on an unknown time zone.
    pub fn new(q: &'q ReportQuery) -> Result<Self> {
        Ok(ActivitiesTally {
            q,
            weeks: Weeks::new(q.zone()?),
            people: Interned::default(),
            kinds: Interned::default(),
            rows: Fast::default(),
            totals: Vec::new(),
        })
    }

    /// Counts `f` if it is an activity passing the query's filters.
    pub fn add(&mut self, f: &Facts) {
        if let Some(view) = ActivityView::of(f) {
            self.add_view(&view);
        }
    }

    /// Counts one activity, given as a view, if it passes the query's
    /// filters ([`ActivitiesTally::add`] without building [`Facts`]).
    pub fn add_view(&mut self, f: &ActivityView<'_>) {
        let date = f.date();
        if !self.q.matches_parts(f.responsible, f.territory) || !self.q.in_period(date) {
            return;
        }
        let who = self.people.number(f.responsible.unwrap_or(NONE));
        let kind = self.kinds.number(f.activity_type.unwrap_or(NONE));
        let week = self.weeks.of(date);
        self.rows
            .entry((who, kind, week))
            .or_default()
            .add(f, self.q);
        let person = who as usize;
        if self.totals.len() <= person {
            self.totals.resize_with(person + 1, ActivityRow::default);
        }
        if let Some(total) = self.totals.get_mut(person) {
            total.add(f, self.q);
        }
    }

    /// The report: rows ordered by person, type and week (undated first),
    /// totals by person.
    pub fn finish(self) -> Activities {
        let (people, kinds) = (&self.people, &self.kinds);
        let mut keyed: Vec<((&str, &str, Week), ActivityRow)> = self
            .rows
            .into_iter()
            .map(|((who, kind, week), counts)| ((people.name(who), kinds.name(kind), week), counts))
            .collect();
        keyed.sort_unstable_by_key(|(key, _)| *key);
        let rows = keyed
            .into_iter()
            .map(|((who, kind, week), counts)| labelled(counts, who, kind, week_label(week)))
            .collect();
        let mut totals: Vec<ActivityRow> = self
            .totals
            .into_iter()
            .enumerate()
            .map(|(n, counts)| {
                let who = u32::try_from(n).map_or(NONE, |n| people.name(n));
                labelled(counts, who, "*", "*".into())
            })
            .collect();
        totals.sort_unstable_by(|a, b| a.who.cmp(&b.who));
        Activities { rows, totals }
    }
}

/// `counts` named as the row of (`who`, `kind`, `week`).
fn labelled(counts: ActivityRow, who: &str, kind: &str, week: String) -> ActivityRow {
    ActivityRow {
        who: who.to_owned(),
        activity_type: kind.to_owned(),
        week,
        ..counts
    }
}

/// Computes the activities report; fails only on an unknown time zone.
pub fn activities<'a>(
    facts: impl IntoIterator<Item = &'a Facts>,
    q: &ReportQuery,
) -> Result<Activities> {
    let mut tally = ActivitiesTally::new(q)?;
    for f in facts {
        tally.add(f);
    }
    Ok(tally.finish())
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
    use std::collections::BTreeMap;

    use jiff::Timestamp;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::report::testing::activity;

    fn row(who: &str, kind: &str, week: String) -> ActivityRow {
        labelled(ActivityRow::default(), who, kind, week)
    }

    /// The report computed the straightforward way: one time zone
    /// conversion per activity, counted in ordered maps.
    fn reference(facts: &[Facts], q: &ReportQuery) -> Activities {
        let tz = q.zone().expect("zone");
        let mut rows: BTreeMap<(&str, &str, Week), ActivityRow> = BTreeMap::new();
        let mut totals: BTreeMap<&str, ActivityRow> = BTreeMap::new();
        for f in facts {
            let date = activity_date(f);
            if f.kind() != RecordKind::Activity || !q.matches(f) || !q.in_period(date) {
                continue;
            }
            let who = f.responsible().unwrap_or(NONE);
            let kind = f.activity_type.as_deref().unwrap_or(NONE);
            let week = date.map(|at| {
                let w = tz.to_datetime(at).date().iso_week_date();
                (w.year(), w.week())
            });
            rows.entry((who, kind, week))
                .or_insert_with(|| row(who, kind, week_label(week)))
                .add(&ActivityView::of(f).expect("an activity"), q);
            totals
                .entry(who)
                .or_insert_with(|| row(who, "*", "*".into()))
                .add(&ActivityView::of(f).expect("an activity"), q);
        }
        Activities {
            rows: rows.into_values().collect(),
            totals: totals.into_values().collect(),
        }
    }

    /// An instant near `around` (seconds): within a few days, often on a
    /// whole hour or a local midnight, sometimes with a sub-second part.
    fn instant(rng: &mut StdRng, around: i64) -> Timestamp {
        let secs = around + rng.random_range(-4 * DAY..4 * DAY);
        let secs = match rng.random_range(0..4) {
            0 => secs - secs.rem_euclid(3_600),
            1 => secs - secs.rem_euclid(900),
            _ => secs,
        };
        let nanos = if rng.random_range(0..5) == 0 {
            rng.random_range(-999_999_999..=999_999_999)
        } else {
            0
        };
        Timestamp::new(secs, nanos).unwrap_or_else(|_| Timestamp::from_second(secs).expect("t"))
    }

    #[test]
    fn the_per_day_week_cache_gives_the_straightforward_result() {
        let mut rng = StdRng::seed_from_u64(4);
        let zones = [
            "Asia/Kolkata",
            "Australia/Eucla",
            "America/St_Johns",
            "Pacific/Chatham",
            "Asia/Kathmandu",
            "Europe/Budapest",
            "Pacific/Kiritimati",
            "America/Sao_Paulo",
            "UTC",
        ];
        // Anchors: DST changes of several zones, a year end, a week end,
        // the distant past (local mean time offsets) and the future (rules).
        let anchors: Vec<i64> = [
            "2026-03-08T05:30:00Z",
            "2026-11-01T04:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-04-05T14:00:00Z",
            "2026-09-26T14:00:00Z",
            "2026-12-31T12:00:00Z",
            "2026-11-29T23:30:00Z",
            "1910-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2011-11-06T03:31:00Z",
            "2091-03-11T06:00:00Z",
        ]
        .iter()
        .map(|s| s.parse::<Timestamp>().expect("anchor").as_second())
        .collect();
        let who = [Some("ann"), Some("bob"), None];
        let kinds = [Some("call"), Some("visit"), None];
        let statuses = [
            Some("done"),
            Some("planned"),
            Some("cancelled"),
            Some("?"),
            None,
        ];
        let territories = [Some("north"), Some("south"), None];
        for round in 0..60 {
            let zone = zones[round % zones.len()];
            let anchor = anchors[rng.random_range(0..anchors.len())];
            let mut facts = Vec::new();
            for i in 0..400 {
                let mut f = activity(&format!("a{round}-{i}"), "x", "call", "done", None, None);
                f.owner = who[rng.random_range(0..who.len())].map(str::to_owned);
                f.assignee = who[rng.random_range(0..who.len())].map(str::to_owned);
                f.activity_type = kinds[rng.random_range(0..kinds.len())].map(str::to_owned);
                f.status = statuses[rng.random_range(0..statuses.len())].map(str::to_owned);
                f.territory = territories[rng.random_range(0..3)].map(str::to_owned);
                f.due = (rng.random_range(0..5) > 0).then(|| instant(&mut rng, anchor));
                f.completed_at = (rng.random_range(0..3) > 0).then(|| instant(&mut rng, anchor));
                facts.push(f);
            }
            let mut q = ReportQuery::new(instant(&mut rng, anchor));
            q.time_zone = zone.into();
            let (a, b) = (instant(&mut rng, anchor), instant(&mut rng, anchor));
            match rng.random_range(0..4) {
                0 => {}
                1 => q.from = Some(a.min(b)),
                2 => q.to = Some(a.max(b)),
                _ => (q.from, q.to) = (Some(a.min(b)), Some(a.max(b))),
            }
            if rng.random_range(0..4) == 0 {
                q.owner = Some("ann".into());
            }
            if rng.random_range(0..4) == 0 {
                q.territory = Some("north".into());
            }
            let fast = activities(&facts, &q).expect("report");
            assert!(!fast.totals.is_empty() || q.from.is_some() || q.to.is_some());
            assert_eq!(fast, reference(&facts, &q), "round {round} in {zone}");
        }
    }

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
