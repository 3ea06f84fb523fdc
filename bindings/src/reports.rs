//! Reports: the core's reports (`fieldwork_core::report`) over what this
//! device holds, as typed records a screen can draw, and as the CSV the
//! CLI writes.
//!
//! Guarantees:
//! - **Thin.** Every call is `Store::report` with the query
//!   [`ReportOptions`] describes, and its result converted field for field
//!   ([`results`]); nothing is computed here. The numbers are the CLI's
//!   (`fieldwork report NAME --json`) for the same records and options.
//! - **Only what the user may read.** A device holds only the records and
//!   classes its user may read, and reports read nothing else: a field the
//!   user may not read is absent (a deal without a readable amount is
//!   counted in `without_amount`, never summed as zero).
//! - **Every report the core has.** [`Report`] is converted from the
//!   core's `ReportResult` by an exhaustive match: a report added to the
//!   core fails this crate's build until it is mapped here.
//! - **Synchronous store calls**, like `list`: one read of the store's
//!   index (no document opened); call them off the UI thread.
//! - Refused options are `FieldworkError.Invalid` naming the option
//!   ([`options`]); a malformed timeline account id is `NotFound`.

pub mod options;
pub mod results;

use fieldwork_core::report::{ReportResult, Tabular};

pub use options::{ExchangeRate, ReportGrouping, ReportName, ReportOptions, StageWeight};
pub use results::{
    ActivitiesReport, ActivityCounts, ConvertedMoney, CycleReport, FunnelCohort, FunnelReport,
    GeoPosition, Money, PipelineReport, PipelineRow, StageCount, StageFlow, TargetMetric,
    TargetProgress, TargetScope, TargetsReport, TimelineEvent, TimelineEventKind, TimelineReport,
    VisitRow, VisitTotal, VisitsReport, WinRateReport, WinRateRow,
};

use crate::device::FieldworkDevice;
use crate::error::{FieldworkError, Result};

/// Any report's result, for screens that let the user pick the report
/// (Kotlin: `when (r) { is Report.Pipeline -> r.report.rows ... }`).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Report {
    /// See [`PipelineReport`].
    Pipeline {
        /// The report.
        report: PipelineReport,
    },
    /// See [`WinRateReport`].
    WinRate {
        /// The report.
        report: WinRateReport,
    },
    /// See [`CycleReport`].
    Cycle {
        /// The report.
        report: CycleReport,
    },
    /// See [`FunnelReport`].
    Funnel {
        /// The report.
        report: FunnelReport,
    },
    /// See [`ActivitiesReport`].
    Activities {
        /// The report.
        report: ActivitiesReport,
    },
    /// See [`VisitsReport`].
    Visits {
        /// The report.
        report: VisitsReport,
    },
    /// See [`TimelineReport`].
    Timeline {
        /// The report.
        report: TimelineReport,
    },
    /// See [`TargetsReport`].
    Targets {
        /// The report.
        report: TargetsReport,
    },
}

impl From<ReportResult> for Report {
    fn from(r: ReportResult) -> Self {
        // No catch-all arm: a new core report must be mapped here.
        match r {
            ReportResult::Pipeline(r) => Report::Pipeline { report: r.into() },
            ReportResult::WinRate(r) => Report::WinRate { report: r.into() },
            ReportResult::Cycle(r) => Report::Cycle { report: r.into() },
            ReportResult::Funnel(r) => Report::Funnel { report: r.into() },
            ReportResult::Activities(r) => Report::Activities { report: r.into() },
            ReportResult::Visits(r) => Report::Visits { report: r.into() },
            ReportResult::Timeline(r) => Report::Timeline { report: r.into() },
            ReportResult::Targets(r) => Report::Targets { report: r.into() },
        }
    }
}

/// The code of [`FieldworkError::Internal`] when the core answered another
/// report than the one asked for (a bug in Fieldwork).
const REPORT_MISMATCH: &str = "report_mismatch";

fn mismatch(asked: &str) -> FieldworkError {
    FieldworkError::Internal {
        code: REPORT_MISMATCH.to_owned(),
        detail: format!("asked for the {asked} report, the core answered another"),
    }
}

impl FieldworkDevice {
    /// The core's result for `name` under `options`.
    fn run_report(&self, name: &ReportName, options: &ReportOptions) -> Result<ReportResult> {
        self.with_store(|s| {
            let name = name.to_core()?;
            let query = options.query(s)?;
            s.report(&name, &query)
        })
    }
}

#[uniffi::export]
impl FieldworkDevice {
    /// Report `name` over this device's records under `options`.
    pub fn report(&self, name: ReportName, options: ReportOptions) -> Result<Report> {
        Ok(self.run_report(&name, &options)?.into())
    }

    /// Report `name` as CSV, exactly the file `fieldwork report NAME --csv`
    /// writes for the same records and options (RFC 4180: a header line,
    /// CRLF line ends, fields quoted where needed), for "export this
    /// report".
    pub fn report_csv(&self, name: ReportName, options: ReportOptions) -> Result<String> {
        Ok(self.run_report(&name, &options)?.table().to_csv())
    }

    /// The pipeline: deals open now per stage (and per owner or territory
    /// with `group_by`), amounts per currency, weighted by stage. A period
    /// filters on the deals' expected close.
    pub fn pipeline_report(&self, options: ReportOptions) -> Result<PipelineReport> {
        let Report::Pipeline { report } = self.report(ReportName::Pipeline, options)? else {
            return Err(mismatch("pipeline"));
        };
        Ok(report)
    }

    /// Win rate, won amounts, average deal and sales cycle per owner, then
    /// for everyone. A period filters on when the deals closed.
    pub fn win_rate_report(&self, options: ReportOptions) -> Result<WinRateReport> {
        let Report::WinRate { report } = self.report(ReportName::WinRate, options)? else {
            return Err(mismatch("win-rate"));
        };
        Ok(report)
    }

    /// Deal stage conversion and average time in each stage. A period
    /// filters on when the deals entered their first stage.
    pub fn cycle_report(&self, options: ReportOptions) -> Result<CycleReport> {
        let Report::Cycle { report } = self.report(ReportName::Cycle, options)? else {
            return Err(mismatch("cycle"));
        };
        Ok(report)
    }

    /// The account lifecycle funnel and monthly cohorts. A period filters
    /// on the accounts' first contact.
    pub fn funnel_report(&self, options: ReportOptions) -> Result<FunnelReport> {
        let Report::Funnel { report } = self.report(ReportName::Funnel, options)? else {
            return Err(mismatch("funnel"));
        };
        Ok(report)
    }

    /// Activities done (on time, late), planned, overdue and cancelled per
    /// person, type and local ISO week, with a total per person. A period
    /// filters on the due time (else the completion).
    pub fn activities_report(&self, options: ReportOptions) -> Result<ActivitiesReport> {
        let Report::Activities { report } = self.report(ReportName::Activities, options)? else {
            return Err(mismatch("activities"));
        };
        Ok(report)
    }

    /// Visits with check-in, check-out and duration, with totals per
    /// person. A period filters on the check-in (else the due time).
    pub fn visits_report(&self, options: ReportOptions) -> Result<VisitsReport> {
        let Report::Visits { report } = self.report(ReportName::Visits, options)? else {
            return Err(mismatch("visits"));
        };
        Ok(report)
    }

    /// The touchpoints of account `account_id` and the records under it, in
    /// time order. The owner and territory options do not apply; a period
    /// filters the events. An account not on this device has no events.
    pub fn timeline(&self, account_id: String, options: ReportOptions) -> Result<TimelineReport> {
        let Report::Timeline { report } =
            self.report(ReportName::Timeline { account_id }, options)?
        else {
            return Err(mismatch("timeline"));
        };
        Ok(report)
    }

    /// Progress on the targets this device holds (a person's or a
    /// territory's goals): one row per target and period, the period
    /// containing now unless a period is given, with the pace expected by
    /// now. The owner and territory options select targets.
    pub fn targets_report(&self, options: ReportOptions) -> Result<TargetsReport> {
        let Report::Targets { report } = self.report(ReportName::Targets, options)? else {
            return Err(mismatch("targets"));
        };
        Ok(report)
    }
}
