//! Targets: how far each person or territory is from the goals their
//! managers set (records of kind [`RecordKind::Target`]).
//!
//! Guarantees:
//! - **Counted from what the reader sees.** Progress is computed from the
//!   facts passed in (on a device: what its user may read), by the same
//!   function on the device and on the server.
//! - **One rule per metric**, each counting activities or deals of the
//!   target's person (`responsible()`: an activity's assignee, else owner)
//!   or territory, dated as follows:
//!   `visits` — done activities of type `visit`, at check-in, else
//!   completion, else due time; `calls`, `meetings` — done activities of
//!   that type, at completion, else due time; `activities_done` — done
//!   activities of any type, the same way; `deals_won` — deals in stage
//!   `won`, at `closed_at`; `revenue_won` — the amounts of those deals in
//!   the target's currency (other currencies only through the query's
//!   rates, then `converted` is set; without a rate they are counted in
//!   `not_counted`, never added as if they were the same money).
//! - **Periods are local.** A target's period (ISO week from Monday 00:00,
//!   calendar month, quarter, year) is taken in the query's time zone. Without
//!   `from`/`to` the report shows the period containing `now`; with them,
//!   every period overlapping `[from, to)`, at most [`MAX_PERIODS`] per
//!   target (the latest ones; `truncated` says so). A target's `starts_on` /
//!   `ends_on` dates (inclusive) drop the periods entirely outside them.
//! - **Pace.** For the period containing `now`, `expected` is the goal
//!   times the elapsed share of the period (rounded down) and `on_track`
//!   whether the actual value has reached it; past and future periods have
//!   neither.
//! - A target whose metric, period or goal the reader cannot read, or whose
//!   `revenue_won` goal has no currency, is not reported ([`Target::of`]).

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use super::facts::Facts;
use super::query::{Rates, ReportQuery};
use super::table::{Table, Tabular};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{RecordId, RecordKind};
use crate::record::Record;
use crate::value::FieldValue;

/// The most periods reported per target (ten years of weeks).
pub const MAX_PERIODS: usize = 520;

/// What a target counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Visits done.
    Visits,
    /// Calls done.
    Calls,
    /// Meetings done.
    Meetings,
    /// Activities of any type done.
    ActivitiesDone,
    /// Deals won.
    DealsWon,
    /// Amount of deals won, in the target's currency.
    RevenueWon,
}

impl Metric {
    /// The metric as written in a target's `metric` field.
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "visits" => Metric::Visits,
            "calls" => Metric::Calls,
            "meetings" => Metric::Meetings,
            "activities_done" => Metric::ActivitiesDone,
            "deals_won" => Metric::DealsWon,
            "revenue_won" => Metric::RevenueWon,
            _ => return None,
        })
    }

    /// The name as written in the field.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Visits => "visits",
            Metric::Calls => "calls",
            Metric::Meetings => "meetings",
            Metric::ActivitiesDone => "activities_done",
            Metric::DealsWon => "deals_won",
            Metric::RevenueWon => "revenue_won",
        }
    }
}

/// The length of a target's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter.
    Quarter,
    /// A calendar year.
    Year,
}

impl Period {
    /// The period as written in a target's `period` field.
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "week" => Period::Week,
            "month" => Period::Month,
            "quarter" => Period::Quarter,
            "year" => Period::Year,
            _ => return None,
        })
    }

    /// The first local day of the period containing `day`.
    fn first_day(self, day: Date) -> Date {
        match self {
            Period::Week => {
                let back = i64::from(day.weekday().to_monday_zero_offset());
                day.checked_sub(Span::new().days(back)).unwrap_or(day)
            }
            Period::Month => day.first_of_month(),
            Period::Quarter => {
                let month = (day.month() - 1) / 3 * 3 + 1;
                Date::new(day.year(), month, 1).unwrap_or(day)
            }
            Period::Year => day.first_of_year(),
        }
    }

    /// One period's length.
    fn length(self) -> Span {
        match self {
            Period::Week => Span::new().weeks(1),
            Period::Month => Span::new().months(1),
            Period::Quarter => Span::new().months(3),
            Period::Year => Span::new().years(1),
        }
    }

    /// The first day of the next period after the one starting on `first`.
    fn next(self, first: Date) -> Option<Date> {
        first.checked_add(self.length()).ok()
    }

    /// The first day of the period before the one starting on `first`.
    fn previous(self, first: Date) -> Option<Date> {
        first.checked_sub(self.length()).ok()
    }

    /// The label of the period starting on `first`: `2026-W49`, `2026-12`,
    /// `2026-Q4`, `2026`.
    fn label(self, first: Date) -> String {
        match self {
            Period::Week => {
                let w = first.iso_week_date();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Period::Month => format!("{:04}-{:02}", first.year(), first.month()),
            Period::Quarter => format!("{:04}-Q{}", first.year(), (first.month() - 1) / 3 + 1),
            Period::Year => format!("{:04}", first.year()),
        }
    }
}

/// Whose work a target counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Whose {
    /// One person's (the target's `assignee`).
    User(String),
    /// Everything in a territory (a team target).
    Territory(String),
}

/// A target as read from its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The target record.
    pub id: RecordId,
    /// Its name (the id when it has none).
    pub name: String,
    /// What it counts.
    pub metric: Metric,
    /// Per what period.
    pub period: Period,
    /// The goal per period (minor units of `currency` for `revenue_won`).
    pub goal: i64,
    /// The goal's currency (`revenue_won`).
    pub currency: Option<String>,
    /// Whose work counts.
    pub whose: Whose,
    /// The first day it applies, if limited.
    pub starts_on: Option<Date>,
    /// The last day it applies, if limited.
    pub ends_on: Option<Date>,
}

impl Target {
    /// The target `record` holds, when it is a readable, complete target:
    /// a known metric and period, a goal, a currency for `revenue_won`, and
    /// an assignee or a territory (the assignee wins when both are set).
    pub fn of(record: &Record) -> Option<Target> {
        if record.kind() != RecordKind::Target {
            return None;
        }
        let text = |f: &str| record.text(f).map(str::to_owned);
        let date = |f: &str| record.text(f).and_then(|d| d.parse::<Date>().ok());
        let metric = Metric::parse(record.text("metric")?)?;
        let currency = text("currency");
        if metric == Metric::RevenueWon && currency.is_none() {
            return None;
        }
        let whose = match (text("assignee"), text("territory")) {
            (Some(user), _) => Whose::User(user),
            (None, Some(territory)) => Whose::Territory(territory),
            (None, None) => return None,
        };
        Some(Target {
            id: record.id.clone(),
            name: record.title(),
            metric,
            period: Period::parse(record.text("period")?)?,
            goal: record.get("goal").and_then(FieldValue::as_int)?,
            currency,
            whose,
            starts_on: date("starts_on"),
            ends_on: date("ends_on"),
        })
    }

    /// Whether `f` is this target's person's or territory's.
    fn concerns(&self, f: &Facts) -> bool {
        match &self.whose {
            Whose::User(u) => f.responsible() == Some(u.as_str()),
            Whose::Territory(t) => f.territory.as_deref() == Some(t.as_str()),
        }
    }

    /// Whether the query's owner and territory filters let it through.
    fn selected(&self, q: &ReportQuery) -> bool {
        let (user, territory) = match &self.whose {
            Whose::User(u) => (Some(u.as_str()), None),
            Whose::Territory(t) => (None, Some(t.as_str())),
        };
        q.owner.as_deref().is_none_or(|o| user == Some(o))
            && q.territory.as_deref().is_none_or(|t| territory == Some(t))
    }
}

/// Progress on one target in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetRow {
    /// The target record.
    pub target: RecordId,
    /// Its name.
    pub name: String,
    /// Whose work counts.
    pub whose: Whose,
    /// What is counted.
    pub metric: Metric,
    /// The period's label (`2026-W49`, `2026-12`, `2026-Q4`, `2026`).
    pub period: String,
    /// When the period starts (local midnight of its first day).
    pub starts: Timestamp,
    /// When the next one starts.
    pub ends: Timestamp,
    /// The goal.
    pub goal: i64,
    /// The goal's currency (`revenue_won`).
    pub currency: Option<String>,
    /// What was achieved in the period.
    pub actual: i64,
    /// `actual` as a whole percentage of `goal`, rounded down.
    pub percent: i64,
    /// How much is left to reach the goal (0 once reached).
    pub remaining: i64,
    /// For the current period: what a steady pace would have reached by now.
    pub expected: Option<i64>,
    /// For the current period: whether `actual` ≥ `expected`.
    pub on_track: Option<bool>,
    /// Whether amounts in other currencies were converted into `actual`.
    pub converted: bool,
    /// Won deals in other currencies left out for want of a rate.
    pub not_counted: u64,
}

/// The targets report: one row per target and period, ordered by whose,
/// metric, target and period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    /// The rows.
    pub rows: Vec<TargetRow>,
    /// Whether some target had more than [`MAX_PERIODS`] periods in range
    /// (only the latest were reported).
    pub truncated: bool,
}

/// One period of a target: its first day and its instants.
struct Slot {
    first: Date,
    starts: Timestamp,
    ends: Timestamp,
}

/// Local midnight of `day` in `tz`.
fn midnight(day: Date, tz: &TimeZone) -> Result<Timestamp> {
    day.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| CoreError::Invalid(ValidationError::field("time_zone", e.to_string())))
}

/// The local day of `at`.
fn day_of(at: Timestamp, tz: &TimeZone) -> Date {
    tz.to_datetime(at).date()
}

/// The instants whose periods are reported: `[from, to)` as given (a
/// missing `from` is the last instant before `to`, a missing `to` is
/// `now`), or just `now`.
fn span(q: &ReportQuery) -> (Timestamp, Timestamp) {
    let last = q.to.map_or(q.now, |to| {
        to.checked_sub(Span::new().seconds(1)).unwrap_or(to)
    });
    (q.from.unwrap_or(last).min(last), last)
}

/// The instants a record must be dated at to count for any of `targets`
/// under `q`: `[start, end)` of the earliest and latest period reported,
/// or `None` when no period is reported. Hosts may read only records
/// dated in it (by any of the times [`counts`] uses); the report counts
/// the same. Fails only on an unknown time zone.
pub fn window(targets: &[Target], q: &ReportQuery) -> Result<Option<(Timestamp, Timestamp)>> {
    let tz = q.zone()?;
    let mut out: Option<(Timestamp, Timestamp)> = None;
    for t in targets.iter().filter(|t| t.selected(q)) {
        let (slots, _) = slots(t, q, &tz)?;
        if let (Some(first), Some(last)) = (slots.first(), slots.last()) {
            out = Some(match out {
                None => (first.starts, last.ends),
                Some((a, b)) => (a.min(first.starts), b.max(last.ends)),
            });
        }
    }
    Ok(out)
}

/// The periods of `t` overlapping the query's span, oldest first, at most
/// [`MAX_PERIODS`] (the latest), and whether some were cut. Walks back from
/// the last period, so the work is bounded whatever range is asked.
fn slots(t: &Target, q: &ReportQuery, tz: &TimeZone) -> Result<(Vec<Slot>, bool)> {
    let (first_at, last_at) = span(q);
    let earliest = t.period.first_day(day_of(first_at, tz));
    let mut first = t.period.first_day(day_of(last_at, tz));
    let mut out: Vec<Slot> = Vec::new();
    while first >= earliest {
        if out.len() == MAX_PERIODS {
            out.reverse();
            return Ok((out, true));
        }
        let Some(next) = t.period.next(first) else {
            break;
        };
        let applies = t.ends_on.is_none_or(|e| first <= e) && t.starts_on.is_none_or(|s| next > s);
        if applies {
            out.push(Slot {
                first,
                starts: midnight(first, tz)?,
                ends: midnight(next, tz)?,
            });
        }
        match t.period.previous(first) {
            Some(prev) => first = prev,
            None => break,
        }
    }
    out.reverse();
    Ok((out, false))
}

/// What one fact adds to a metric, and when: `None` when it does not count.
enum Contribution {
    /// One counted item.
    One,
    /// An amount in a currency (won deals, for revenue).
    Money(i64, String),
}

/// Whether `f` counts for `metric`, with the instant it counts at.
fn counts(metric: Metric, f: &Facts) -> Option<(Timestamp, Contribution)> {
    let done = || f.kind() == RecordKind::Activity && f.status.as_deref() == Some("done");
    let of_type = |t: &str| f.activity_type.as_deref() == Some(t);
    let finished = || f.completed_at.or(f.due);
    let won = || f.kind() == RecordKind::Deal && f.stage.as_deref() == Some("won");
    match metric {
        Metric::Visits if done() && of_type("visit") => {
            Some((f.check_in_at.or_else(finished)?, Contribution::One))
        }
        Metric::Calls if done() && of_type("call") => Some((finished()?, Contribution::One)),
        Metric::Meetings if done() && of_type("meeting") => Some((finished()?, Contribution::One)),
        Metric::ActivitiesDone if done() => Some((finished()?, Contribution::One)),
        Metric::DealsWon if won() => Some((f.closed_at?, Contribution::One)),
        Metric::RevenueWon if won() => Some((
            f.closed_at?,
            Contribution::Money(f.amount?, f.currency.clone()?),
        )),
        _ => None,
    }
}

/// Running totals of one period.
#[derive(Default)]
struct Tally {
    actual: i64,
    converted: bool,
    not_counted: u64,
}

impl Tally {
    fn add(&mut self, c: Contribution, currency: Option<&str>, rates: Option<&Rates>) {
        match c {
            Contribution::One => self.actual = self.actual.saturating_add(1),
            Contribution::Money(minor, cur) if Some(cur.as_str()) == currency => {
                self.actual = self.actual.saturating_add(minor);
            }
            Contribution::Money(minor, cur) => {
                let into_goal = rates
                    .filter(|r| Some(r.target.as_str()) == currency)
                    .and_then(|r| r.convert(minor, &cur));
                match into_goal {
                    Some(v) => {
                        self.actual = self.actual.saturating_add(v);
                        self.converted = true;
                    }
                    None => self.not_counted += 1,
                }
            }
        }
    }
}

/// The pace share of the current period: `goal × elapsed / length`.
fn expected(goal: i64, slot: &Slot, now: Timestamp) -> Option<i64> {
    if now < slot.starts || now >= slot.ends {
        return None;
    }
    let length = i128::from(slot.ends.as_second() - slot.starts.as_second()).max(1);
    let elapsed = i128::from(now.as_second() - slot.starts.as_second());
    i64::try_from(i128::from(goal) * elapsed / length).ok()
}

/// The rows of one target.
fn rows_of(
    t: &Target,
    facts: &[&Facts],
    q: &ReportQuery,
    tz: &TimeZone,
) -> Result<(Vec<TargetRow>, bool)> {
    let (slots, truncated) = slots(t, q, tz)?;
    let mut tallies: BTreeMap<usize, Tally> = BTreeMap::new();
    for f in facts.iter().filter(|f| t.concerns(f)) {
        let Some((at, c)) = counts(t.metric, f) else {
            continue;
        };
        let slot = slots.partition_point(|s| s.ends <= at);
        if slots.get(slot).is_some_and(|s| s.starts <= at) {
            let currency = t.currency.as_deref();
            tallies
                .entry(slot)
                .or_default()
                .add(c, currency, q.rates.as_ref());
        }
    }
    let rows = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let tally = tallies.remove(&i).unwrap_or_default();
            let expected = expected(t.goal, slot, q.now);
            TargetRow {
                target: t.id.clone(),
                name: t.name.clone(),
                whose: t.whose.clone(),
                metric: t.metric,
                period: t.period.label(slot.first),
                starts: slot.starts,
                ends: slot.ends,
                goal: t.goal,
                currency: t.currency.clone(),
                actual: tally.actual,
                percent: tally.actual.saturating_mul(100) / t.goal.max(1),
                remaining: t.goal.saturating_sub(tally.actual).max(0),
                on_track: expected.map(|e| tally.actual >= e),
                expected,
                converted: tally.converted,
                not_counted: tally.not_counted,
            }
        })
        .collect();
    Ok((rows, truncated))
}

/// Computes progress on `targets` from `facts` under `q`; fails only on an
/// unknown time zone.
pub fn targets(targets: &[Target], facts: &[Facts], q: &ReportQuery) -> Result<Targets> {
    let tz = q.zone()?;
    // Each fact filed once under its person and its territory, so a target
    // reads only its own: the work is facts + rows, not facts × targets.
    let mut by_person: BTreeMap<&str, Vec<&Facts>> = BTreeMap::new();
    let mut by_territory: BTreeMap<&str, Vec<&Facts>> = BTreeMap::new();
    for f in facts
        .iter()
        .filter(|f| matches!(f.kind(), RecordKind::Activity | RecordKind::Deal))
    {
        if let Some(who) = f.responsible() {
            by_person.entry(who).or_default().push(f);
        }
        if let Some(t) = f.territory.as_deref() {
            by_territory.entry(t).or_default().push(f);
        }
    }
    let mut chosen: Vec<&Target> = targets.iter().filter(|t| t.selected(q)).collect();
    chosen.sort_by(|a, b| (&a.whose, a.metric, &a.id).cmp(&(&b.whose, b.metric, &b.id)));
    let mut out = Targets {
        rows: Vec::new(),
        truncated: false,
    };
    for t in chosen {
        let own = match &t.whose {
            Whose::User(u) => by_person.get(u.as_str()),
            Whose::Territory(name) => by_territory.get(name.as_str()),
        };
        let (rows, truncated) = rows_of(t, own.map_or(&[][..], Vec::as_slice), q, &tz)?;
        out.rows.extend(rows);
        out.truncated |= truncated;
    }
    Ok(out)
}

impl Tabular for Targets {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "target",
            "whose",
            "metric",
            "period",
            "goal",
            "actual",
            "percent",
            "remaining",
            "expected",
            "on_track",
            "converted",
            "not_counted",
        ]);
        for r in &self.rows {
            let money = |v: i64| match &r.currency {
                Some(c) => crate::value::format_money(v, c),
                None => v.to_string(),
            };
            let whose = match &r.whose {
                Whose::User(u) => u.clone(),
                Whose::Territory(t) => format!("territory {t}"),
            };
            t.push(vec![
                r.name.clone(),
                whose,
                r.metric.as_str().to_owned(),
                r.period.clone(),
                money(r.goal),
                money(r.actual),
                format!("{}%", r.percent),
                money(r.remaining),
                r.expected.map(money).unwrap_or_default(),
                r.on_track
                    .map(|b| if b { "yes" } else { "no" }.to_owned())
                    .unwrap_or_default(),
                if r.converted { "yes" } else { "" }.to_owned(),
                r.not_counted.to_string(),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{activity, checked, closed, deal};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    fn target(key: &str, metric: Metric, period: Period, goal: i64, whose: Whose) -> Target {
        Target {
            id: RecordId::derived(RecordKind::Target, &[key]),
            name: key.to_owned(),
            metric,
            period,
            goal,
            currency: (metric == Metric::RevenueWon).then(|| "EUR".to_owned()),
            whose,
            starts_on: None,
            ends_on: None,
        }
    }

    fn ann() -> Whose {
        Whose::User("ann".into())
    }

    /// Wednesday 2 December 2026, noon UTC: 13:00 in Budapest.
    fn query() -> ReportQuery {
        let mut q = ReportQuery::new(t("2026-12-02T12:00:00Z"));
        q.time_zone = "Europe/Budapest".into();
        q
    }

    #[test]
    fn visits_this_week_count_done_visits_at_check_in_with_pace() {
        let facts = vec![
            // Checked in Monday 00:30 Budapest (Sunday 23:30 UTC): this week.
            checked(
                activity(
                    "v1",
                    "ann",
                    "visit",
                    "done",
                    Some("2026-12-03T09:00:00Z"),
                    None,
                ),
                Some("2026-11-29T23:30:00Z"),
                None,
            ),
            // No check-in: dated by completion, Tuesday.
            activity(
                "v2",
                "ann",
                "visit",
                "done",
                None,
                Some("2026-12-01T10:00:00Z"),
            ),
            // Planned, not done: not counted.
            activity(
                "v3",
                "ann",
                "visit",
                "planned",
                Some("2026-12-01T10:00:00Z"),
                None,
            ),
            // Someone else's.
            activity(
                "v4",
                "bob",
                "visit",
                "done",
                None,
                Some("2026-12-01T10:00:00Z"),
            ),
            // A call is not a visit.
            activity(
                "c1",
                "ann",
                "call",
                "done",
                None,
                Some("2026-12-01T10:00:00Z"),
            ),
            // Sunday 23:30 Budapest last week (22:30 UTC).
            activity(
                "v5",
                "ann",
                "visit",
                "done",
                None,
                Some("2026-11-29T22:30:00Z"),
            ),
        ];
        let goal = target("w", Metric::Visits, Period::Week, 20, ann());
        let r = targets(&[goal], &facts, &query()).expect("report");
        assert_eq!(r.rows.len(), 1);
        let row = &r.rows[0];
        assert_eq!(row.period, "2026-W49");
        assert_eq!(row.starts, t("2026-11-29T23:00:00Z"));
        assert_eq!(row.ends, t("2026-12-06T23:00:00Z"));
        assert_eq!((row.actual, row.percent, row.remaining), (2, 10, 18));
        // 2 days 13 hours of 7 days elapsed: 20 × 61 / 168 = 7.26 -> 7.
        assert_eq!((row.expected, row.on_track), (Some(7), Some(false)));
    }

    #[test]
    fn deals_and_revenue_won_per_month_by_closing_time_and_currency() {
        let facts = vec![
            closed(
                deal("d1", "ann", "won", Some((100_000, "EUR"))),
                "2026-10-01T00:00:00Z",
                "2026-12-01T08:00:00Z",
            ),
            closed(
                deal("d2", "ann", "won", Some((40_000_000, "HUF"))),
                "2026-10-01T00:00:00Z",
                "2026-12-01T09:00:00Z",
            ),
            closed(
                deal("d3", "ann", "lost", Some((5_000, "EUR"))),
                "2026-10-01T00:00:00Z",
                "2026-12-01T09:00:00Z",
            ),
            // Won in November: another month.
            closed(
                deal("d4", "ann", "won", Some((7_000, "EUR"))),
                "2026-10-01T00:00:00Z",
                "2026-11-30T10:00:00Z",
            ),
        ];
        let won = target("n", Metric::DealsWon, Period::Month, 5, ann());
        let revenue = target("r", Metric::RevenueWon, Period::Month, 1_000_000, ann());
        let mut q = query();
        let r = targets(&[won.clone(), revenue.clone()], &facts, &q).expect("report");
        let (count, money) = (&r.rows[0], &r.rows[1]);
        assert_eq!(
            (count.metric, count.period.as_str(), count.actual),
            (Metric::DealsWon, "2026-12", 2)
        );
        assert_eq!(
            (money.actual, money.not_counted, money.converted),
            (100_000, 1, false)
        );
        assert_eq!(money.percent, 10);
        // With a rate for HUF into EUR the forints count, labelled.
        q.rates = Some(Rates::parse("EUR", &["HUF=0.0025".into()]).expect("rates"));
        let r = targets(&[revenue], &facts, &q).expect("report");
        assert_eq!(
            (r.rows[0].actual, r.rows[0].converted, r.rows[0].not_counted),
            (200_000, true, 0)
        );
    }

    #[test]
    fn a_range_lists_every_period_and_validity_dates_drop_periods() {
        let facts = vec![
            activity(
                "a",
                "ann",
                "call",
                "done",
                None,
                Some("2026-10-15T10:00:00Z"),
            ),
            activity(
                "b",
                "ann",
                "meeting",
                "done",
                None,
                Some("2026-11-15T10:00:00Z"),
            ),
        ];
        let mut all = target("q", Metric::ActivitiesDone, Period::Month, 4, ann());
        all.starts_on = Some("2026-10-20".parse().expect("date"));
        let q = query()
            .with_days(
                Some("2026-09-01".parse().expect("d")),
                Some("2026-12-31".parse().expect("d")),
            )
            .expect("days");
        let r = targets(&[all], &facts, &q).expect("report");
        let got: Vec<(&str, i64, Option<i64>)> = r
            .rows
            .iter()
            .map(|r| (r.period.as_str(), r.actual, r.expected))
            .collect();
        // September is before `starts_on`; October overlaps it and counts whole.
        assert_eq!(
            got,
            vec![
                ("2026-10", 1, None),
                ("2026-11", 1, None),
                ("2026-12", 0, Some(0))
            ]
        );
    }

    #[test]
    fn territory_targets_count_the_territory_and_filters_pick_targets() {
        let mut f = activity(
            "a",
            "bob",
            "visit",
            "done",
            None,
            Some("2026-12-01T10:00:00Z"),
        );
        f.territory = Some("north".into());
        let team = target(
            "t",
            Metric::Visits,
            Period::Quarter,
            50,
            Whose::Territory("north".into()),
        );
        let own = target("o", Metric::Visits, Period::Year, 200, ann());
        let q = query();
        let r = targets(&[team.clone(), own.clone()], std::slice::from_ref(&f), &q).expect("r");
        let got: Vec<(&str, i64)> = r
            .rows
            .iter()
            .map(|r| (r.period.as_str(), r.actual))
            .collect();
        assert_eq!(got, vec![("2026", 0), ("2026-Q4", 1)]);
        let mut only_ann = q.clone();
        only_ann.owner = Some("ann".into());
        let r = targets(&[team, own], &[f], &only_ann).expect("r");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].whose, ann());
    }

    #[test]
    fn the_window_spans_the_reported_periods_only() {
        let week = target("w", Metric::Calls, Period::Week, 3, ann());
        let month = target("m", Metric::Calls, Period::Month, 9, ann());
        let q = query();
        assert_eq!(
            window(std::slice::from_ref(&week), &q).expect("window"),
            Some((t("2026-11-29T23:00:00Z"), t("2026-12-06T23:00:00Z")))
        );
        assert_eq!(
            window(&[week.clone(), month], &q).expect("window"),
            // From the week's Monday to the month's end.
            Some((t("2026-11-29T23:00:00Z"), t("2026-12-31T23:00:00Z")))
        );
        let mut other = q.clone();
        other.owner = Some("bob".into());
        assert_eq!(window(&[week], &other).expect("window"), None);
    }

    #[test]
    fn huge_ranges_are_bounded_to_the_latest_periods() {
        let week = target("w", Metric::Calls, Period::Week, 3, ann());
        let mut q = query();
        q.from = Some(t("1900-01-01T00:00:00Z"));
        q.to = Some(t("2100-01-01T00:00:00Z"));
        let r = targets(&[week], &[], &q).expect("r");
        assert!(r.truncated);
        assert_eq!(r.rows.len(), MAX_PERIODS);
        assert_eq!(r.rows.last().map(|r| r.period.as_str()), Some("2099-W53"));
    }
}
