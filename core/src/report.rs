//! Reports: pure functions from records' [`Facts`] to typed, serializable
//! results a screen can draw. The device computes them offline over what
//! its user may read; the server over what the asking user may read, with
//! the same code.
//!
//! Guarantees:
//! - **Pure.** No I/O, no clock: "now", the period, the time zone, stage
//!   weights and exchange rates all come in the [`ReportQuery`].
//! - **Only what it is given.** A report reads nothing but the facts passed
//!   in. A field absent from a fact is unknown, never zero: a deal without
//!   a readable amount counts in `count` and `without_amount`, not in sums.
//! - **Money per currency.** Amounts of different currencies are never
//!   added together; a conversion happens only with a rates table passed
//!   in and is labelled as converted ([`money::Converted`]).
//! - **Explicit periods.** Each report documents which time of a record
//!   its period `[from, to)` filters on (module docs of each report).
//!
//! Layout: [`facts`] is the input, [`query`] the parameters, [`money`] the
//! per-currency sums, [`flow`] the stage-log arithmetic shared by
//! [`cycle`] and [`funnel`]; [`pipeline`], [`win_rate`], [`cycle`],
//! [`funnel`], [`activities`], [`visits`], [`timeline`] and [`targets`]
//! are the reports; [`table`] flattens any of them for text and CSV.

pub mod activities;
pub mod cycle;
pub mod facts;
pub mod flow;
pub mod funnel;
pub mod money;
pub mod pipeline;
pub mod query;
pub mod table;
pub mod targets;
pub mod timeline;
pub mod visits;
pub mod win_rate;

#[cfg(test)]
mod testing;

use serde::Serialize;

pub use activities::{Activities, ActivitiesTally};
pub use cycle::Cycle;
pub use facts::{Facts, Position, StageStep};
pub use funnel::Funnel;
pub use money::{Amounts, Converted};
pub use pipeline::Pipeline;
pub use query::{GroupBy, Rates, ReportQuery, StageWeights};
pub use table::{Table, Tabular};
pub use targets::{Target, Targets};
pub use timeline::Timeline;
pub use visits::{VisitList, VisitView, Visits};
pub use win_rate::WinRate;

use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{RecordId, RecordKind};

/// Which report to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportName {
    /// [`pipeline::pipeline`].
    Pipeline,
    /// [`win_rate::win_rate`].
    WinRate,
    /// [`cycle::cycle`].
    Cycle,
    /// [`funnel::funnel`].
    Funnel,
    /// [`activities::activities`].
    Activities,
    /// [`visits::visits`].
    Visits,
    /// [`timeline::timeline`] of this account.
    Timeline(RecordId),
    /// [`targets::targets`]: progress on the targets the reader sees.
    Targets,
}

/// The report names as typed (`timeline` needs an account id besides).
pub const REPORT_NAMES: &[&str] = &[
    "pipeline",
    "win-rate",
    "cycle",
    "funnel",
    "activities",
    "visits",
    "timeline",
    "targets",
];

impl ReportName {
    /// Parses a name as typed (`win-rate` or `win_rate`); `timeline` takes
    /// the account id, refused when missing or not an account.
    pub fn parse(name: &str, account: Option<&str>) -> Result<ReportName> {
        let bad = |m: String| CoreError::Invalid(ValidationError::field("report", m));
        Ok(match name {
            "pipeline" => ReportName::Pipeline,
            "win-rate" | "win_rate" => ReportName::WinRate,
            "cycle" => ReportName::Cycle,
            "funnel" => ReportName::Funnel,
            "activities" => ReportName::Activities,
            "visits" => ReportName::Visits,
            "targets" => ReportName::Targets,
            "timeline" => {
                let id = account.ok_or_else(|| bad("timeline needs an account id".into()))?;
                let id: RecordId = id.parse()?;
                if id.kind() != RecordKind::Account {
                    return Err(bad(format!("`{id}` is not an account")));
                }
                ReportName::Timeline(id)
            }
            _ => {
                return Err(bad(format!(
                    "`{name}` is not one of {}",
                    REPORT_NAMES.join(", ")
                )));
            }
        })
    }

    /// The kinds of record the report reads; `None` means every kind.
    pub fn kinds(&self) -> Option<&'static [RecordKind]> {
        Some(match self {
            ReportName::Pipeline | ReportName::WinRate | ReportName::Cycle => &[RecordKind::Deal],
            ReportName::Funnel => &[RecordKind::Account],
            ReportName::Activities | ReportName::Visits => &[RecordKind::Activity],
            ReportName::Targets => &[RecordKind::Deal, RecordKind::Activity],
            ReportName::Timeline(_) => return None,
        })
    }
}

/// Any report's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ReportResult {
    /// See [`Pipeline`].
    Pipeline(Pipeline),
    /// See [`WinRate`].
    WinRate(WinRate),
    /// See [`Cycle`].
    Cycle(Cycle),
    /// See [`Funnel`].
    Funnel(Funnel),
    /// See [`Activities`].
    Activities(Activities),
    /// See [`Visits`].
    Visits(Visits),
    /// See [`Timeline`].
    Timeline(Timeline),
    /// See [`Targets`].
    Targets(Targets),
}

impl Tabular for ReportResult {
    fn table(&self) -> Table {
        match self {
            ReportResult::Pipeline(r) => r.table(),
            ReportResult::WinRate(r) => r.table(),
            ReportResult::Cycle(r) => r.table(),
            ReportResult::Funnel(r) => r.table(),
            ReportResult::Activities(r) => r.table(),
            ReportResult::Visits(r) => r.table(),
            ReportResult::Timeline(r) => r.table(),
            ReportResult::Targets(r) => r.table(),
        }
    }
}

/// Computes report `name` over `facts` (and, for [`ReportName::Targets`],
/// the `targets` the reader sees; other reports ignore them); fails only on
/// an unknown time zone.
pub fn run(
    name: &ReportName,
    facts: &[Facts],
    targets: &[Target],
    q: &ReportQuery,
) -> Result<ReportResult> {
    Ok(match name {
        ReportName::Pipeline => ReportResult::Pipeline(pipeline::pipeline(facts, q)),
        ReportName::WinRate => ReportResult::WinRate(win_rate::win_rate(facts, q)),
        ReportName::Cycle => ReportResult::Cycle(cycle::cycle(facts, q)),
        ReportName::Funnel => ReportResult::Funnel(funnel::funnel(facts, q)?),
        ReportName::Activities => ReportResult::Activities(activities::activities(facts, q)?),
        ReportName::Visits => ReportResult::Visits(visits::visits(facts, q)),
        ReportName::Timeline(id) => ReportResult::Timeline(timeline::timeline(id, facts, q)),
        ReportName::Targets => ReportResult::Targets(targets::targets(targets, facts, q)?),
    })
}
