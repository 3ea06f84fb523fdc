//! What an app asks a report for: [`ReportOptions`] (the CLI's options as a
//! record) and [`ReportName`], translated into the core's `ReportQuery` and
//! `ReportName`. Every value is checked by the core's own parsers; this
//! module only says which option a refusal is about.
//!
//! Guarantees:
//! - Every option is optional: `ReportOptions()` is every record this
//!   device holds, in the user's time zone (from the directory; UTC when
//!   unknown), with the default stage weights and no conversion, at the
//!   store's "now".
//! - A refused option is `FieldworkError.Invalid` naming it in snake case
//!   (`time_zone`, `start`, `end`, `from_day`, `to_day`, `convert_to`,
//!   `rates`, `stage_weights`). The time zone is checked for every report,
//!   even those that do not use it, so a typo never goes unnoticed.

use fieldwork_core::report::{self, GroupBy, Rates, ReportQuery};
use fieldwork_core::{CoreError, Store, ValidationError};

/// How the pipeline is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportGrouping {
    /// Per owner (an activity's assignee, else the owner).
    Owner,
    /// Per territory.
    Territory,
}

/// One exchange rate into [`ReportOptions::convert_to`].
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExchangeRate {
    /// The currency converted from (ISO 4217, any case).
    pub currency: String,
    /// How many units of the target one unit of `currency` is worth (one
    /// HUF is worth 0.0025 EUR); finite and at least 0.
    pub rate: f64,
}

/// A deal stage's win probability for the weighted pipeline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StageWeight {
    /// A deal stage (`qualification`, `proposal`, `negotiation`, `won`,
    /// `lost`).
    pub stage: String,
    /// A whole percent from 0 to 100; anything else (a negative percent
    /// too) is refused with `Invalid` (field `stage_weights`).
    pub percent: i32,
}

/// The period, filters and tables a report is computed with, as the
/// CLI's `fieldwork report` options. Every field is optional.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportOptions {
    /// Start of the period, an RFC 3339 instant (inclusive). Not with
    /// `from_day`. (Not `from`: a keyword in Python.)
    #[uniffi(default = None)]
    pub start: Option<String>,
    /// End of the period, an RFC 3339 instant (exclusive). Not with
    /// `to_day`.
    #[uniffi(default = None)]
    pub end: Option<String>,
    /// First local day of the period (`YYYY-MM-DD`) in `time_zone`, as the
    /// CLI's `--from`.
    #[uniffi(default = None)]
    pub from_day: Option<String>,
    /// Last local day of the period (`YYYY-MM-DD`, inclusive) in
    /// `time_zone`, as the CLI's `--to`.
    #[uniffi(default = None)]
    pub to_day: Option<String>,
    /// Only records this user is responsible for (an activity's assignee,
    /// else the owner).
    #[uniffi(default = None)]
    pub owner: Option<String>,
    /// Only records in this territory (children inherit their account's).
    #[uniffi(default = None)]
    pub territory: Option<String>,
    /// IANA time zone for local days, weeks and months; the user's own when
    /// `None` (UTC if the directory does not say).
    #[uniffi(default = None)]
    pub time_zone: Option<String>,
    /// Group the pipeline per owner or territory; one group (`all`) when
    /// `None`.
    #[uniffi(default = None)]
    pub group_by: Option<ReportGrouping>,
    /// Also convert money into this currency (needs `rates`).
    #[uniffi(default = None)]
    pub convert_to: Option<String>,
    /// Exchange rates into `convert_to`.
    #[uniffi(default)]
    pub rates: Vec<ExchangeRate>,
    /// Overrides of the default stage weights (qualification 10 %,
    /// proposal 30 %, negotiation 60 %, won 100 %, lost 0 %).
    #[uniffi(default)]
    pub stage_weights: Vec<StageWeight>,
}

/// Which report, for calls that take any ([`crate::FieldworkDevice::report`],
/// `report_csv`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ReportName {
    /// Open deals by stage.
    Pipeline,
    /// Win rate, average deal and sales cycle per owner.
    WinRate,
    /// Deal stage conversion and time in stage.
    Cycle,
    /// The account lifecycle funnel and cohorts.
    Funnel,
    /// Activities done, planned and overdue per person, type and week.
    Activities,
    /// Visits with check-in and check-out.
    Visits,
    /// The touchpoints of one account.
    Timeline {
        /// The account's id.
        account_id: String,
    },
    /// Progress on the targets this device holds.
    Targets,
}

impl ReportName {
    /// The core's name; a timeline's id is checked by the core (`NotFound`
    /// when malformed, `Invalid` when not an account).
    pub(crate) fn to_core(&self) -> fieldwork_core::Result<report::ReportName> {
        Ok(match self {
            ReportName::Pipeline => report::ReportName::Pipeline,
            ReportName::WinRate => report::ReportName::WinRate,
            ReportName::Cycle => report::ReportName::Cycle,
            ReportName::Funnel => report::ReportName::Funnel,
            ReportName::Activities => report::ReportName::Activities,
            ReportName::Visits => report::ReportName::Visits,
            ReportName::Targets => report::ReportName::Targets,
            ReportName::Timeline { account_id } => {
                report::ReportName::parse("timeline", Some(account_id.as_str()))?
            }
        })
    }
}

fn invalid(field: &str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(ValidationError::field(field, message))
}

/// A refusal the core made about a value without naming it, named `field`.
fn about(field: &'static str) -> impl Fn(CoreError) -> CoreError {
    move |e| match e {
        CoreError::Invalid(ValidationError {
            field: None,
            message,
        }) => invalid(field, message),
        other => other,
    }
}

/// `text` parsed as `T` (an instant or a day), refused as option `field`.
fn parsed<T: std::str::FromStr>(
    text: Option<&str>,
    field: &str,
    shape: &str,
) -> fieldwork_core::Result<Option<T>> {
    text.map(|t| {
        t.parse()
            .map_err(|_| invalid(field, format!("`{t}` is not {shape}")))
    })
    .transpose()
}

impl ReportOptions {
    /// The core query these options ask for, at `store`'s "now".
    pub(crate) fn query(&self, store: &Store) -> fieldwork_core::Result<ReportQuery> {
        let mut q = store.report_query();
        q.time_zone = match &self.time_zone {
            Some(tz) => tz.clone(),
            None => store
                .time_zone_of(&store.author())?
                .unwrap_or_else(|| "UTC".to_owned()),
        };
        q.zone()?;
        q.owner = self.owner.clone();
        q.territory = self.territory.clone();
        q.group_by = match self.group_by {
            None => GroupBy::None,
            Some(ReportGrouping::Owner) => GroupBy::Owner,
            Some(ReportGrouping::Territory) => GroupBy::Territory,
        };
        q.rates = self.rates()?;
        if let Some(w) = self.stage_weights.iter().find(|w| w.percent < 0) {
            return Err(invalid(
                "stage_weights",
                format!("the percent of `{}` must not be negative", w.stage),
            ));
        }
        let weights: Vec<String> = self
            .stage_weights
            .iter()
            .map(|w| format!("{}={}", w.stage, w.percent))
            .collect();
        q.weights = std::mem::take(&mut q.weights)
            .overridden(&weights)
            .map_err(about("stage_weights"))?;
        self.with_period(q)
    }

    /// The rates table, parsed by the core (as the CLI's `--convert` and
    /// `--rate`).
    fn rates(&self) -> fieldwork_core::Result<Option<Rates>> {
        let Some(target) = &self.convert_to else {
            if self.rates.is_empty() {
                return Ok(None);
            }
            return Err(invalid("rates", "rates need `convert_to`"));
        };
        // The target alone first, so that a bad one is named `convert_to`.
        Rates::parse(target, &[]).map_err(about("convert_to"))?;
        let given: Vec<String> = self
            .rates
            .iter()
            .map(|r| format!("{}={}", r.currency, r.rate))
            .collect();
        Rates::parse(target, &given)
            .map(Some)
            .map_err(about("rates"))
    }

    /// `q` with the period: local days through the core's
    /// `ReportQuery::with_days`, instants as given.
    fn with_period(&self, q: ReportQuery) -> fieldwork_core::Result<ReportQuery> {
        for (instant, day, bound, field) in [
            (&self.start, &self.from_day, "start", "from_day"),
            (&self.end, &self.to_day, "end", "to_day"),
        ] {
            if instant.is_some() && day.is_some() {
                return Err(invalid(
                    field,
                    format!("give `{bound}` or `{field}`, not both"),
                ));
            }
        }
        let day = "a day (YYYY-MM-DD)";
        let mut q = q.with_days(
            parsed(self.from_day.as_deref(), "from_day", day)?,
            parsed(self.to_day.as_deref(), "to_day", day)?,
        )?;
        let instant = "an RFC 3339 instant (2026-11-24T09:00:00Z)";
        if let Some(start) = parsed(self.start.as_deref(), "start", instant)? {
            q.from = Some(start);
        }
        if let Some(end) = parsed(self.end.as_deref(), "end", instant)? {
            q.to = Some(end);
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fieldwork_core::FixedClock;

    use super::*;

    fn store(dir: &tempfile::TempDir) -> Store {
        let now = "2026-11-24T09:00:00Z".parse().expect("instant");
        Store::open(&dir.path().join("d.db"), Arc::new(FixedClock(now))).expect("store")
    }

    fn options() -> ReportOptions {
        ReportOptions {
            start: None,
            end: None,
            from_day: None,
            to_day: None,
            owner: None,
            territory: None,
            time_zone: None,
            group_by: None,
            convert_to: None,
            rates: Vec::new(),
            stage_weights: Vec::new(),
        }
    }

    /// The option a refusal names.
    fn refused(s: &Store, o: ReportOptions) -> Option<String> {
        match o.query(s) {
            Err(CoreError::Invalid(v)) => v.field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn no_options_is_everything_at_the_stores_now_in_utc_without_a_signed_in_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let q = options().query(&s).expect("query");
        assert_eq!(
            (q.from, q.to, q.owner, q.territory),
            (None, None, None, None)
        );
        assert_eq!(q.time_zone, "UTC");
        assert_eq!(q.now.to_string(), "2026-11-24T09:00:00Z");
        assert_eq!(q.weights, report::StageWeights::default());
        assert!(q.rates.is_none());
        assert_eq!(q.group_by, GroupBy::None);
    }

    #[test]
    fn days_are_local_to_the_time_zone_and_instants_are_taken_as_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let q = ReportOptions {
            time_zone: Some("Europe/Budapest".into()),
            from_day: Some("2026-11-01".into()),
            end: Some("2026-11-15T12:00:00Z".into()),
            group_by: Some(ReportGrouping::Territory),
            ..options()
        }
        .query(&s)
        .expect("query");
        assert_eq!(
            q.from.map(|t| t.to_string()).as_deref(),
            Some("2026-10-31T23:00:00Z")
        );
        assert_eq!(
            q.to.map(|t| t.to_string()).as_deref(),
            Some("2026-11-15T12:00:00Z")
        );
        assert_eq!(q.group_by, GroupBy::Territory);
    }

    #[test]
    fn rates_and_weights_go_through_the_cores_parsers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let q = ReportOptions {
            convert_to: Some("eur".into()),
            rates: vec![ExchangeRate {
                currency: "huf".into(),
                rate: 0.0025,
            }],
            stage_weights: vec![StageWeight {
                stage: "Proposal".into(),
                percent: 45,
            }],
            ..options()
        }
        .query(&s)
        .expect("query");
        let rates = q.rates.expect("rates");
        assert_eq!(rates.target, "EUR");
        assert_eq!(rates.per_unit.get("HUF"), Some(&0.0025));
        assert_eq!(q.weights.percent("proposal"), 45);
        assert_eq!(q.weights.percent("negotiation"), 60, "defaults stay");
    }

    #[test]
    fn each_refusal_names_its_option() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        let rate = |currency: &str, rate: f64| {
            vec![ExchangeRate {
                currency: currency.into(),
                rate,
            }]
        };
        let weight = |stage: &str, percent: i32| {
            vec![StageWeight {
                stage: stage.into(),
                percent,
            }]
        };
        let cases = [
            (
                "time_zone",
                ReportOptions {
                    time_zone: Some("Mars/Olympus".into()),
                    ..options()
                },
            ),
            (
                "rates",
                ReportOptions {
                    rates: rate("HUF", 1.0),
                    ..options()
                },
            ),
            (
                "convert_to",
                ReportOptions {
                    convert_to: Some("euro".into()),
                    ..options()
                },
            ),
            (
                "rates",
                ReportOptions {
                    convert_to: Some("EUR".into()),
                    rates: rate("HUF", f64::INFINITY),
                    ..options()
                },
            ),
            (
                "rates",
                ReportOptions {
                    convert_to: Some("EUR".into()),
                    rates: rate("HU=F", 1.0),
                    ..options()
                },
            ),
            (
                "stage_weights",
                ReportOptions {
                    stage_weights: weight("won", 101),
                    ..options()
                },
            ),
            (
                "stage_weights",
                ReportOptions {
                    stage_weights: weight("closing", 5),
                    ..options()
                },
            ),
            (
                "stage_weights",
                ReportOptions {
                    stage_weights: weight("won", -1),
                    ..options()
                },
            ),
            (
                "start",
                ReportOptions {
                    start: Some("2026-11-01".into()),
                    ..options()
                },
            ),
            (
                "to_day",
                ReportOptions {
                    to_day: Some("2026-11-31".into()),
                    ..options()
                },
            ),
            (
                "to_day",
                ReportOptions {
                    end: Some("2026-11-01T00:00:00Z".into()),
                    to_day: Some("2026-11-01".into()),
                    ..options()
                },
            ),
        ];
        for (field, o) in cases {
            assert_eq!(refused(&s, o.clone()).as_deref(), Some(field), "{o:?}");
        }
    }

    #[test]
    fn a_timeline_needs_an_account_id() {
        let name = |id: &str| {
            ReportName::Timeline {
                account_id: id.into(),
            }
            .to_core()
        };
        assert!(matches!(name("not an id"), Err(CoreError::InvalidId(_))));
        assert!(matches!(name("deal:d1"), Err(CoreError::Invalid(_))));
        assert!(matches!(
            name("account:a1"),
            Ok(report::ReportName::Timeline(id)) if id.to_string() == "account:a1"
        ));
    }
}
