//! The chart of each report: which numbers of the core's result become
//! which bars ([`super::chart`]).
//!
//! Guarantees: money is drawn per currency, never summed across
//! currencies (the pipeline has one series per currency, each on its own
//! scale); every bar's text names its category, series and value; the
//! drawing reads only the result (the table of the same result is shown
//! beside it).

use std::collections::BTreeMap;

use super::i18n;
use fieldwork_core::report::{
    Activities, Cycle, Funnel, Pipeline, ReportResult, Targets, Visits, WinRate,
};

use super::chart::{self, Category, Chart, Layout, Progress, Value};
use super::page;

/// The chart of `result`; `None` for a result without one (timeline).
pub fn chart_of(result: &ReportResult) -> Option<Chart> {
    Some(match result {
        ReportResult::Pipeline(r) => pipeline(r),
        ReportResult::WinRate(r) => win_rate(r),
        ReportResult::Cycle(r) => cycle(r),
        ReportResult::Funnel(r) => funnel(r),
        ReportResult::Activities(r) => activities(r),
        ReportResult::Visits(r) => visits(r),
        ReportResult::Targets(r) => targets(r),
        ReportResult::Timeline(_) => return None,
    })
}

fn value(series: usize, amount: f64, text: String) -> Value {
    Value {
        series,
        amount,
        text,
    }
}

fn count(series: usize, n: u64) -> Value {
    value(series, n as f64, n.to_string())
}

fn named(group: &str, stage: &str) -> String {
    if group.is_empty() {
        page::label(stage)
    } else {
        format!("{group} · {}", page::label(stage))
    }
}

/// Open amounts per stage, one series per currency (each on its scale).
fn pipeline(r: &Pipeline) -> Chart {
    let currencies: Vec<String> = r
        .rows
        .iter()
        .flat_map(|row| row.amount.0.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // One group (no grouping): the stage alone names a row.
    let first = r.rows.first().map(|row| row.group.as_str());
    let grouped = r.rows.iter().any(|row| Some(row.group.as_str()) != first);
    let categories: Vec<Category> = r
        .rows
        .iter()
        .map(|row| Category {
            name: named(if grouped { &row.group } else { "" }, &row.stage),
            values: row
                .amount
                .0
                .iter()
                .filter_map(|(cur, minor)| {
                    let series = currencies.iter().position(|c| c == cur)?;
                    Some(value(series, *minor as f64, i18n::money(*minor, cur)))
                })
                .collect(),
        })
        .collect();
    chart::bars(
        i18n::text(
            "Open deal amounts per stage, one bar per currency, each currency on its own scale",
        ),
        &currencies,
        &categories,
        Layout::GroupedOwnScale,
    )
}

/// Won and lost deals per person.
fn win_rate(r: &WinRate) -> Chart {
    let categories: Vec<Category> = r
        .rows
        .iter()
        .map(|row| Category {
            name: if row.owner.is_empty() {
                i18n::text("Everyone").into()
            } else {
                row.owner.clone()
            },
            values: vec![count(0, row.won), count(1, row.lost)],
        })
        .collect();
    chart::bars(
        i18n::text("Deals won and lost"),
        &[i18n::word("won"), i18n::word("lost")],
        &categories,
        Layout::Grouped,
    )
}

/// Deals that entered each stage.
fn cycle(r: &Cycle) -> Chart {
    let entered = r.stages.iter().map(|s| (s.stage.as_str(), s.entered));
    entered_bars(
        i18n::text("Deals that entered each stage"),
        "deals",
        entered,
    )
}

/// Accounts that entered each lifecycle stage (the funnel).
fn funnel(r: &Funnel) -> Chart {
    let entered = r.stages.iter().map(|s| (s.stage.as_str(), s.entered));
    entered_bars(
        i18n::text("Accounts that reached each lifecycle stage"),
        "accounts",
        entered,
    )
}

/// One bar per stage: how many records entered it.
fn entered_bars<'a>(
    title: &str,
    series: &str,
    stages: impl Iterator<Item = (&'a str, u64)>,
) -> Chart {
    let categories: Vec<Category> = stages
        .map(|(stage, entered)| Category {
            name: page::label(stage),
            values: vec![count(0, entered)],
        })
        .collect();
    chart::bars(title, &[series.into()], &categories, Layout::Grouped)
}

/// Per week: done, planned and overdue activities, stacked.
fn activities(r: &Activities) -> Chart {
    let mut weeks: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for row in &r.rows {
        let w = weeks.entry(row.week.as_str()).or_default();
        w[0] = w[0].saturating_add(row.done);
        w[1] = w[1].saturating_add(row.planned);
        w[2] = w[2].saturating_add(row.overdue);
    }
    let categories: Vec<Category> = weeks
        .into_iter()
        .map(|(week, [done, planned, overdue])| Category {
            name: if week.is_empty() {
                i18n::text("Undated").into()
            } else {
                week.to_owned()
            },
            values: vec![count(0, done), count(1, planned), count(2, overdue)],
        })
        .collect();
    chart::bars(
        i18n::text("Activities per week: done, planned and overdue"),
        &["done".into(), "planned".into(), "overdue".into()],
        &categories,
        Layout::Stacked,
    )
}

/// Visits and check-ins per person.
fn visits(r: &Visits) -> Chart {
    let categories: Vec<Category> = r
        .totals
        .iter()
        .map(|t| Category {
            name: t.who.clone(),
            values: vec![count(0, t.visits), count(1, t.checked_in)],
        })
        .collect();
    chart::bars(
        i18n::text("Visits and check-ins per person"),
        &["visits".into(), "checked in".into()],
        &categories,
        Layout::Grouped,
    )
}

/// Each target's progress, its goal marked.
fn targets(r: &Targets) -> Chart {
    let rows: Vec<Progress> = r
        .rows
        .iter()
        .map(|t| {
            let amount = |n: i64| match &t.currency {
                Some(c) => i18n::money(n, c),
                None => n.to_string(),
            };
            Progress {
                name: format!("{} ({})", t.name, t.period),
                actual: t.actual as f64,
                goal: t.goal as f64,
                text: format!(
                    "{} of {} ({}%)",
                    amount(t.actual),
                    amount(t.goal),
                    t.percent
                ),
            }
        })
        .collect();
    chart::progress(
        i18n::text("Progress on each target, its goal marked with a line"),
        &rows,
    )
}
