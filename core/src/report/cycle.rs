//! The deal cycle: stage-to-stage conversion and average time in each
//! stage of the pipeline.
//!
//! Guarantees:
//! - Over deals created in the period (first stage-log entry in
//!   `[from, to)`; every deal without a period), matching the owner and
//!   territory filters; semantics of each number as in [`super::flow`].
//! - Stages in pipeline order (the query's deal stages,
//!   [`ReportQuery::deal_stages`], the organisation's), open ones first and
//!   `won` last; `lost` is reported but is not the "next" of `won`.

use serde::Serialize;

use super::facts::Facts;
use super::flow::{StageFlow, stage_flow};
use super::pipeline::is_open;
use super::query::ReportQuery;
use super::table::{Table, Tabular, days, percent};
use crate::ids::RecordKind;

/// The cycle report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cycle {
    /// Deals considered.
    pub deals: u64,
    /// The open stages and `won`, in order, then `lost` on its own.
    pub stages: Vec<StageFlow>,
}

/// Computes the cycle over `facts`.
pub fn cycle<'a>(facts: impl IntoIterator<Item = &'a Facts>, q: &ReportQuery) -> Cycle {
    let deals: Vec<&Facts> = facts
        .into_iter()
        .filter(|f| f.kind() == RecordKind::Deal && q.matches(f) && q.in_period(f.first_seen()))
        .collect();
    // The open stages in force in order, then `won`: the chain a deal
    // converts along.
    let chain: Vec<&str> = q
        .deal_stages
        .iter()
        .map(String::as_str)
        .filter(|s| is_open(s))
        .chain(["won"])
        .collect();
    let mut stages = stage_flow(deals.iter().copied(), &chain);
    stages.extend(stage_flow(deals.iter().copied(), &["lost"]));
    Cycle {
        deals: deals.len() as u64,
        stages,
    }
}

/// The rows of a stage-flow table.
pub(super) fn flow_table(stages: &[StageFlow]) -> Table {
    let mut t = Table::new(&[
        "stage",
        "entered",
        "next",
        "converted",
        "conversion",
        "average_days",
        "completed_stays",
        "open_stays",
    ]);
    for s in stages {
        t.push(vec![
            s.stage.clone(),
            s.entered.to_string(),
            s.next.clone().unwrap_or_default(),
            s.converted.to_string(),
            percent(s.conversion),
            days(s.average_seconds),
            s.completed_stays.to_string(),
            s.open_stays.to_string(),
        ]);
    }
    t
}

impl Tabular for Cycle {
    fn table(&self) -> Table {
        flow_table(&self.stages)
    }
}
