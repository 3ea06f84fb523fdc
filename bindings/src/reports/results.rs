//! The core's report results as apps see them: one record per result
//! struct of `fieldwork_core::report`, field for field, converted and never
//! recomputed.
//!
//! Conventions (the bindings' own, as in [`crate::records`]):
//! - **Instants** are RFC 3339 strings in UTC (`2026-11-24T09:00:00Z`);
//!   absent when the core does not know them.
//! - **Money** is a list of [`Money`], one per currency, in currency-code
//!   order: amounts of different currencies are never added together.
//!   A conversion made with the rates the app passed is a separate
//!   [`ConvertedMoney`], in fields named `converted`, never mixed into the
//!   per-currency amounts.
//! - **Durations** keep the core's unit, named in the field
//!   (`average_seconds`, `duration_minutes`).
//! - **Ratios** are fractions from 0 to 1 (`0.75`), absent when undefined
//!   (nothing to divide by).
//! - **Counts** are signed (`i64`: Kotlin `Long`, Swift `Int64`), never
//!   negative, and saturate at the maximum instead of wrapping.

use fieldwork_core::report::{
    self, Amounts, Converted, activities, cycle, flow, funnel, pipeline, targets, timeline, visits,
    win_rate,
};
use fieldwork_core::value::format_money;

use crate::ints::{count, small};

/// An amount of one currency.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Money {
    /// ISO 4217 code (`EUR`).
    pub currency: String,
    /// The amount in minor units of `currency` (cents: `125050` is
    /// 1,250.50 EUR).
    pub minor_units: i64,
    /// The amount for people (`1250.50 EUR`), formatted by the core.
    pub display: String,
}

/// An amount converted into one currency with the rates the app passed:
/// an estimate, to be shown as converted.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConvertedMoney {
    /// The target currency.
    pub currency: String,
    /// The converted total in minor units of `currency`.
    pub minor_units: i64,
    /// The total for people, formatted by the core (without the word
    /// "converted": add it on screen).
    pub display: String,
    /// Currencies left out of the total for want of a rate.
    pub unconverted: Vec<String>,
}

/// Per-currency amounts, in currency-code order.
fn money(amounts: Amounts) -> Vec<Money> {
    amounts
        .0
        .into_iter()
        .map(|(currency, minor_units)| Money {
            display: format_money(minor_units, &currency),
            currency,
            minor_units,
        })
        .collect()
}

fn converted(c: Option<Converted>) -> Option<ConvertedMoney> {
    c.map(|c| ConvertedMoney {
        display: format_money(c.amount, &c.currency),
        currency: c.currency,
        minor_units: c.amount,
        unconverted: c.unconverted,
    })
}

/// An instant as RFC 3339 in UTC (the core's instants print so).
fn instant(at: Option<impl ToString>) -> Option<String> {
    at.map(|t| t.to_string())
}

// ----- pipeline -----------------------------------------------------------

/// One stage of one group of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PipelineRow {
    /// The group: an owner, a territory, `(none)` when the record has none,
    /// or `all` without grouping.
    pub group: String,
    /// The deal stage.
    pub stage: String,
    /// Open deals in this stage.
    pub count: i64,
    /// Of those, deals without a readable amount or currency: counted,
    /// never summed as zero.
    pub without_amount: i64,
    /// Sum of the amounts, per currency.
    pub amount: Vec<Money>,
    /// The stage's win probability in percent.
    pub weight_percent: i32,
    /// `amount` times the weight, per currency.
    pub weighted: Vec<Money>,
    /// `amount` converted with the options' rates, when rates were given.
    pub converted: Option<ConvertedMoney>,
    /// `weighted` converted with the options' rates, when rates were given.
    pub weighted_converted: Option<ConvertedMoney>,
}

/// The pipeline: deals open now, by stage (and group).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PipelineReport {
    /// One row per (group, open stage) holding at least one deal; groups in
    /// order, stages in pipeline order within a group.
    pub rows: Vec<PipelineRow>,
}

impl From<pipeline::Pipeline> for PipelineReport {
    fn from(p: pipeline::Pipeline) -> Self {
        PipelineReport {
            rows: p
                .rows
                .into_iter()
                .map(|r| PipelineRow {
                    group: r.group,
                    stage: r.stage,
                    count: count(r.count),
                    without_amount: count(r.without_amount),
                    amount: money(r.amount),
                    weight_percent: small(r.weight_percent),
                    weighted: money(r.weighted),
                    converted: converted(r.converted),
                    weighted_converted: converted(r.weighted_converted),
                })
                .collect(),
        }
    }
}

// ----- win rate -----------------------------------------------------------

/// The deals one owner (or everyone) closed in the period.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WinRateRow {
    /// The owner, `(none)` when the deal has none, or `all` for the total
    /// row.
    pub owner: String,
    /// Deals won in the period.
    pub won: i64,
    /// Deals lost in the period.
    pub lost: i64,
    /// won / (won + lost), from 0 to 1; absent when nothing closed.
    pub win_rate: Option<f64>,
    /// Sum of the won amounts, per currency.
    pub won_amount: Vec<Money>,
    /// Won deals without a readable amount or currency.
    pub won_without_amount: i64,
    /// Average won deal, per currency (over won deals with an amount in
    /// that currency).
    pub average_deal: Vec<Money>,
    /// Average sales cycle of the won deals (first stage entered to
    /// close), in seconds; absent when no cycle is known.
    pub average_cycle_seconds: Option<f64>,
    /// Won deals whose cycle is known.
    pub cycle_samples: i64,
}

/// Win rate, average deal size and sales cycle per owner.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WinRateReport {
    /// One row per owner in name order, then always the `all` row last.
    pub rows: Vec<WinRateRow>,
}

impl From<win_rate::WinRate> for WinRateReport {
    fn from(w: win_rate::WinRate) -> Self {
        WinRateReport {
            rows: w
                .rows
                .into_iter()
                .map(|r| WinRateRow {
                    owner: r.owner,
                    won: count(r.won),
                    lost: count(r.lost),
                    win_rate: r.win_rate,
                    won_amount: money(r.won_amount),
                    won_without_amount: count(r.won_without_amount),
                    average_deal: money(r.average_deal),
                    average_cycle_seconds: r.average_cycle_seconds,
                    cycle_samples: count(r.cycle_samples),
                })
                .collect(),
        }
    }
}

// ----- stage flow: cycle and funnel ---------------------------------------

/// How records passed through one stage (deal cycle, account funnel).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StageFlow {
    /// The stage.
    pub stage: String,
    /// Records that ever entered it (once each).
    pub entered: i64,
    /// The next stage, if any.
    pub next: Option<String>,
    /// Of `entered`, records that later entered `next`.
    pub converted: i64,
    /// converted / entered, from 0 to 1; absent when nothing entered or
    /// there is no next stage.
    pub conversion: Option<f64>,
    /// Average completed stay in the stage, in seconds; absent when no
    /// stay has ended.
    pub average_seconds: Option<f64>,
    /// Completed stays measured.
    pub completed_stays: i64,
    /// Stays still going on (never guessed into the average).
    pub open_stays: i64,
}

fn flows(stages: Vec<flow::StageFlow>) -> Vec<StageFlow> {
    stages
        .into_iter()
        .map(|s| StageFlow {
            stage: s.stage,
            entered: count(s.entered),
            next: s.next,
            converted: count(s.converted),
            conversion: s.conversion,
            average_seconds: s.average_seconds,
            completed_stays: count(s.completed_stays),
            open_stays: count(s.open_stays),
        })
        .collect()
}

/// The deal cycle: conversion from stage to stage and time in each.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CycleReport {
    /// Deals considered.
    pub deals: i64,
    /// qualification, proposal, negotiation, won in order, then lost.
    pub stages: Vec<StageFlow>,
}

impl From<cycle::Cycle> for CycleReport {
    fn from(c: cycle::Cycle) -> Self {
        CycleReport {
            deals: count(c.deals),
            stages: flows(c.stages),
        }
    }
}

/// How many records are in (or reached) one stage.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StageCount {
    /// The stage.
    pub stage: String,
    /// How many.
    pub count: i64,
}

/// The accounts first contacted in one month.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FunnelCohort {
    /// `YYYY-MM`, local to the options' time zone.
    pub month: String,
    /// Accounts in the cohort.
    pub accounts: i64,
    /// How many of them ever entered each lifecycle stage, by stage name.
    pub reached: Vec<StageCount>,
}

/// The customer lifecycle funnel over accounts.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FunnelReport {
    /// Accounts considered.
    pub accounts: i64,
    /// Accounts per current stage, every lifecycle stage in lifecycle order.
    pub current: Vec<StageCount>,
    /// Accounts whose stage is unreadable or not a lifecycle stage.
    pub unknown_stage: i64,
    /// Flow through lead, prospect, customer, loyal and churned.
    pub stages: Vec<StageFlow>,
    /// Cohorts by month of first contact, oldest first.
    pub cohorts: Vec<FunnelCohort>,
    /// Accounts with no known first contact (in no cohort).
    pub without_first_contact: i64,
}

fn counts(pairs: impl IntoIterator<Item = (String, u64)>) -> Vec<StageCount> {
    pairs
        .into_iter()
        .map(|(stage, n)| StageCount {
            stage,
            count: count(n),
        })
        .collect()
}

impl From<funnel::Funnel> for FunnelReport {
    fn from(f: funnel::Funnel) -> Self {
        FunnelReport {
            accounts: count(f.accounts),
            current: counts(f.current),
            unknown_stage: count(f.unknown_stage),
            stages: flows(f.stages),
            cohorts: f
                .cohorts
                .into_iter()
                .map(|c| FunnelCohort {
                    month: c.month,
                    accounts: count(c.accounts),
                    reached: counts(c.reached),
                })
                .collect(),
            without_first_contact: count(f.without_first_contact),
        }
    }
}

// ----- activities ---------------------------------------------------------

/// Activity counts of one (person, type, week), or one person's total.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivityCounts {
    /// The responsible person (assignee, else owner), `(none)` if neither.
    pub who: String,
    /// Activity type (`call`, `visit`...), `(none)` when unreadable; `*`
    /// in a total.
    pub activity_type: String,
    /// ISO week in the options' time zone (`2026-W48`), `(undated)`, or
    /// `*` in a total.
    pub week: String,
    /// Done.
    pub done: i64,
    /// Planned and not yet due (or with no due time).
    pub planned: i64,
    /// Planned and due before now.
    pub overdue: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Status unreadable or unknown.
    pub unknown: i64,
    /// Done by their due time.
    pub on_time: i64,
    /// Done after their due time.
    pub late: i64,
    /// Done without a known due or completion time (never guessed on time).
    pub done_undated: i64,
}

fn activity_counts(r: activities::ActivityRow) -> ActivityCounts {
    ActivityCounts {
        who: r.who,
        activity_type: r.activity_type,
        week: r.week,
        done: count(r.done),
        planned: count(r.planned),
        overdue: count(r.overdue),
        cancelled: count(r.cancelled),
        unknown: count(r.unknown),
        on_time: count(r.on_time),
        late: count(r.late),
        done_undated: count(r.done_undated),
    }
}

/// Activities done, planned and overdue per person, type and week.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivitiesReport {
    /// One row per (person, type, week), sorted by those.
    pub rows: Vec<ActivityCounts>,
    /// One total per person, by name.
    pub totals: Vec<ActivityCounts>,
}

impl From<activities::Activities> for ActivitiesReport {
    fn from(a: activities::Activities) -> Self {
        ActivitiesReport {
            rows: a.rows.into_iter().map(activity_counts).collect(),
            totals: a.totals.into_iter().map(activity_counts).collect(),
        }
    }
}

// ----- visits -------------------------------------------------------------

/// A place on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct GeoPosition {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

fn position(p: Option<report::Position>) -> Option<GeoPosition> {
    p.map(|p| GeoPosition {
        lat: p.lat,
        lon: p.lon,
    })
}

/// One visit (an activity of type `visit`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitRow {
    /// The activity's id.
    pub id: String,
    /// Its subject.
    pub title: String,
    /// The responsible person.
    pub who: String,
    /// The visited account's id, if readable.
    pub account: Option<String>,
    /// Status, if readable.
    pub status: Option<String>,
    /// Check-in time.
    pub check_in_at: Option<String>,
    /// Check-out time.
    pub check_out_at: Option<String>,
    /// Check-out minus check-in in whole minutes, only when both are known
    /// and in order.
    pub duration_minutes: Option<i64>,
    /// Where it was checked in.
    pub check_in: Option<GeoPosition>,
    /// Where it was checked out.
    pub check_out: Option<GeoPosition>,
}

/// One person's visits, totalled.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitTotal {
    /// The responsible person.
    pub who: String,
    /// Visits listed.
    pub visits: i64,
    /// Visits with a check-in.
    pub checked_in: i64,
    /// Visits with a known duration.
    pub with_duration: i64,
    /// Sum of the known durations, in minutes.
    pub total_minutes: i64,
    /// Average known duration in minutes; absent when none is known.
    pub average_minutes: Option<f64>,
}

/// Visits with their check-in and check-out.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitsReport {
    /// Visits in date order (undated last), then by id.
    pub visits: Vec<VisitRow>,
    /// Totals per person, by name.
    pub totals: Vec<VisitTotal>,
}

impl From<visits::Visits> for VisitsReport {
    fn from(v: visits::Visits) -> Self {
        VisitsReport {
            visits: v
                .visits
                .into_iter()
                .map(|v| VisitRow {
                    id: v.id,
                    title: v.title,
                    who: v.who,
                    account: v.account,
                    status: v.status,
                    check_in_at: instant(v.check_in_at),
                    check_out_at: instant(v.check_out_at),
                    duration_minutes: v.duration_minutes,
                    check_in: position(v.check_in),
                    check_out: position(v.check_out),
                })
                .collect(),
            totals: v
                .totals
                .into_iter()
                .map(|t| VisitTotal {
                    who: t.who,
                    visits: count(t.visits),
                    checked_in: count(t.checked_in),
                    with_duration: count(t.with_duration),
                    total_minutes: t.total_minutes,
                    average_minutes: t.average_minutes,
                })
                .collect(),
        }
    }
}

// ----- timeline -----------------------------------------------------------

/// What happened at a touchpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TimelineEventKind {
    /// The account entered a lifecycle stage.
    AccountStage,
    /// A deal was created (its first stage).
    DealCreated,
    /// A deal moved to a stage.
    DealStage,
    /// An activity (at its completion if done, else its due time, else its
    /// creation).
    Activity,
    /// A note.
    Note,
    /// A contact was added.
    Contact,
}

impl From<timeline::EventKind> for TimelineEventKind {
    fn from(k: timeline::EventKind) -> Self {
        match k {
            timeline::EventKind::AccountStage => TimelineEventKind::AccountStage,
            timeline::EventKind::DealCreated => TimelineEventKind::DealCreated,
            timeline::EventKind::DealStage => TimelineEventKind::DealStage,
            timeline::EventKind::Activity => TimelineEventKind::Activity,
            timeline::EventKind::Note => TimelineEventKind::Note,
            timeline::EventKind::Contact => TimelineEventKind::Contact,
        }
    }
}

/// One touchpoint of an account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelineEvent {
    /// When, if known.
    pub at: Option<String>,
    /// What happened.
    pub kind: TimelineEventKind,
    /// The record it happened to.
    pub record: String,
    /// That record's title.
    pub title: String,
    /// The stage entered, or an activity's `type status` (`call done`).
    pub detail: String,
    /// Who (an activity's assignee, else the record's owner), if readable.
    pub who: Option<String>,
}

/// The touchpoints of one account and the records under it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelineReport {
    /// The account's id.
    pub account: String,
    /// Its touchpoints in time order; those with no known time last.
    pub events: Vec<TimelineEvent>,
}

impl From<timeline::Timeline> for TimelineReport {
    fn from(t: timeline::Timeline) -> Self {
        TimelineReport {
            account: t.account,
            events: t
                .events
                .into_iter()
                .map(|e| TimelineEvent {
                    at: instant(e.at),
                    kind: e.kind.into(),
                    record: e.record,
                    title: e.title,
                    detail: e.detail,
                    who: e.who,
                })
                .collect(),
        }
    }
}

// ----- targets ------------------------------------------------------------

/// What a target counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TargetMetric {
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
    /// Amount of deals won, in minor units of the target's currency.
    RevenueWon,
}

impl From<targets::Metric> for TargetMetric {
    fn from(m: targets::Metric) -> Self {
        match m {
            targets::Metric::Visits => TargetMetric::Visits,
            targets::Metric::Calls => TargetMetric::Calls,
            targets::Metric::Meetings => TargetMetric::Meetings,
            targets::Metric::ActivitiesDone => TargetMetric::ActivitiesDone,
            targets::Metric::DealsWon => TargetMetric::DealsWon,
            targets::Metric::RevenueWon => TargetMetric::RevenueWon,
        }
    }
}

/// Whose work a target counts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TargetScope {
    /// One person's (the target's assignee).
    User {
        /// The user's name.
        name: String,
    },
    /// Everything in a territory (a team target).
    Territory {
        /// The territory.
        name: String,
    },
}

impl From<targets::Whose> for TargetScope {
    fn from(w: targets::Whose) -> Self {
        match w {
            targets::Whose::User(name) => TargetScope::User { name },
            targets::Whose::Territory(name) => TargetScope::Territory { name },
        }
    }
}

/// Progress on one target in one period.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TargetProgress {
    /// The target record's id.
    pub target: String,
    /// Its name.
    pub name: String,
    /// Whose work counts.
    pub scope: TargetScope,
    /// What is counted.
    pub metric: TargetMetric,
    /// The period's label (`2026-W49`, `2026-12`, `2026-Q4`, `2026`), local
    /// to the options' time zone.
    pub period: String,
    /// When the period starts (local midnight of its first day).
    pub starts: String,
    /// When the next period starts.
    pub ends: String,
    /// The goal (minor units of `currency` for `RevenueWon`).
    pub goal: i64,
    /// The goal's currency (`RevenueWon`).
    pub currency: Option<String>,
    /// What was achieved in the period (same unit as `goal`).
    pub actual: i64,
    /// `actual` as a whole percentage of `goal`, rounded down.
    pub percent: i64,
    /// What is left to reach the goal (0 once reached).
    pub remaining: i64,
    /// For the period containing now: what a steady pace would have
    /// reached by now; absent for other periods.
    pub expected: Option<i64>,
    /// For the period containing now: whether `actual` has reached
    /// `expected`; absent for other periods.
    pub on_track: Option<bool>,
    /// Whether amounts in other currencies were converted (with the
    /// options' rates) into `actual`: then `actual` is an estimate.
    pub converted: bool,
    /// Won deals in other currencies left out for want of a rate.
    pub not_counted: i64,
}

/// Progress on the targets this device holds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TargetsReport {
    /// One row per target and period, ordered by scope, metric, target
    /// and period.
    pub rows: Vec<TargetProgress>,
    /// Whether some target had more periods in range than reported (only
    /// the latest are).
    pub truncated: bool,
}

impl From<targets::Targets> for TargetsReport {
    fn from(t: targets::Targets) -> Self {
        TargetsReport {
            rows: t
                .rows
                .into_iter()
                .map(|r| TargetProgress {
                    target: r.target.to_string(),
                    name: r.name,
                    scope: r.whose.into(),
                    metric: r.metric.into(),
                    period: r.period,
                    starts: r.starts.to_string(),
                    ends: r.ends.to_string(),
                    goal: r.goal,
                    currency: r.currency,
                    actual: r.actual,
                    percent: r.percent,
                    remaining: r.remaining,
                    expected: r.expected,
                    on_track: r.on_track,
                    converted: r.converted,
                    not_counted: count(r.not_counted),
                })
                .collect(),
            truncated: t.truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use fieldwork_core::report::targets::{Metric, Period, Target, Whose};
    use fieldwork_core::report::{Facts, ReportQuery, ReportResult};
    use fieldwork_core::{RecordId, RecordKind};

    use super::*;
    use crate::reports::Report;
    use fieldwork_core::report::Rates;

    fn query() -> ReportQuery {
        ReportQuery::new("2026-11-24T09:00:00Z".parse().expect("instant"))
    }

    fn won_deal(key: &str, amount: i64, currency: &str, closed: &str) -> Facts {
        serde_json::from_value(serde_json::json!({
            "id": format!("deal:{key}"),
            "title": key,
            "owner": "ana",
            "stage": "won",
            "stages": [{"stage": "proposal", "at": "2026-11-01T00:00:00Z"}],
            "amount": amount,
            "currency": currency,
            "closed_at": closed,
        }))
        .expect("facts")
    }

    #[test]
    fn money_keeps_currencies_apart_with_the_cores_display() {
        let mut q = query();
        q.rates = Some(Rates::parse("EUR", &["HUF=0.0025".into()]).expect("rates"));
        let facts = [
            won_deal("a", 125_050, "EUR", "2026-11-10T00:00:00Z"),
            won_deal("b", 40_000_000, "HUF", "2026-11-11T00:00:00Z"),
        ];
        let WinRateReport { rows } = win_rate::win_rate(&facts, &q).into();
        let all = rows.last().expect("the all row");
        let won: Vec<(&str, i64, &str)> = all
            .won_amount
            .iter()
            .map(|m| (m.currency.as_str(), m.minor_units, m.display.as_str()))
            .collect();
        assert_eq!(
            won,
            [
                ("EUR", 125_050, "1250.50 EUR"),
                ("HUF", 40_000_000, "400000.00 HUF")
            ]
        );
        assert_eq!(all.win_rate, Some(1.0));
        let amounts = Amounts([("HUF".to_owned(), 40_000_000)].into_iter().collect());
        let c = converted(Converted::of(&amounts, q.rates.as_ref())).expect("converted");
        assert_eq!(
            (c.minor_units, c.display.as_str()),
            (100_000, "1000.00 EUR")
        );
    }

    #[test]
    fn targets_are_mapped_field_for_field() {
        let target = Target {
            id: RecordId::derived(RecordKind::Target, &["t"]),
            name: "Five a month".into(),
            metric: Metric::DealsWon,
            period: Period::Month,
            goal: 5,
            currency: None,
            whose: Whose::User("ana".into()),
            starts_on: None,
            ends_on: None,
        };
        let facts = [won_deal("a", 1, "EUR", "2026-11-10T00:00:00Z")];
        let result =
            targets::targets(std::slice::from_ref(&target), &facts, &query()).expect("targets");
        let Report::Targets { report } = ReportResult::Targets(result).into() else {
            panic!("not the targets report");
        };
        assert!(!report.truncated);
        let [row] = report.rows.as_slice() else {
            panic!("one row: {:?}", report.rows);
        };
        assert_eq!(row.target, target.id.to_string());
        assert_eq!(row.scope, TargetScope::User { name: "ana".into() });
        assert_eq!(row.metric, TargetMetric::DealsWon);
        assert_eq!(
            (row.period.as_str(), row.starts.as_str(), row.ends.as_str()),
            ("2026-11", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
        );
        assert_eq!(
            (row.goal, row.actual, row.percent, row.remaining),
            (5, 1, 20, 4)
        );
        // 23 days and 9 hours of 30: a steady pace reaches 3 of 5.
        assert_eq!((row.expected, row.on_track), (Some(3), Some(false)));
    }
}
