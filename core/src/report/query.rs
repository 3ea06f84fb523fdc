//! [`ReportQuery`]: the period, filters, time zone and tables a report is
//! computed with.
//!
//! Guarantees:
//! - A period is half-open, `[from, to)`; a missing bound is unbounded.
//! - The owner filter matches the responsible person ([`Facts::responsible`]:
//!   an activity's assignee, else the owner); the territory filter the
//!   record's own or inherited territory. A record whose owner or territory
//!   is absent never matches a filter on it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::facts::Facts;
use crate::error::{CoreError, Result, ValidationError};

/// Win probability of each deal stage, in percent (0 to 100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageWeights(pub BTreeMap<String, u8>);

impl Default for StageWeights {
    /// qualification 10 %, proposal 30 %, negotiation 60 %, won 100 %,
    /// lost 0 %.
    fn default() -> Self {
        let pairs = [
            ("qualification", 10),
            ("proposal", 30),
            ("negotiation", 60),
            ("won", 100),
            ("lost", 0),
        ];
        StageWeights(pairs.iter().map(|(s, p)| ((*s).to_owned(), *p)).collect())
    }
}

impl StageWeights {
    /// The weight of `stage` in percent, capped at 100; 0 for an unknown
    /// stage.
    pub fn percent(&self, stage: &str) -> u8 {
        self.0.get(stage).copied().unwrap_or(0).min(100)
    }

    /// The default weights with `given` overrides, each `STAGE:PERCENT` or
    /// `STAGE=PERCENT` (a deal stage of the schema, a whole percent from 0
    /// to 100). The one parser of the CLI's `--weight` and the API's
    /// `weight=`.
    pub fn with_overrides(given: &[String]) -> Result<StageWeights> {
        StageWeights::default().overridden(given)
    }

    /// The default weights with `probabilities` in their place: the
    /// organisation's own, `Policy::stage_probabilities` (the policy's
    /// `[pipeline.probability]`).
    pub fn of_probabilities(probabilities: &BTreeMap<String, u8>) -> StageWeights {
        let mut weights = StageWeights::default();
        weights
            .0
            .extend(probabilities.iter().map(|(stage, p)| (stage.clone(), *p)));
        weights
    }

    /// These weights with `given` overrides, read as
    /// [`StageWeights::with_overrides`] reads them: what a query gives
    /// always wins over the policy's probabilities.
    pub fn overridden(self, given: &[String]) -> Result<StageWeights> {
        self.overridden_in(crate::schema::DEAL_STAGES, given)
    }

    /// [`StageWeights::overridden`] for the deal stages `stages` (the
    /// organisation's, `Policy::deal_stages`): an override naming any
    /// other stage is refused.
    pub fn overridden_in<S: AsRef<str>>(
        self,
        stages: &[S],
        given: &[String],
    ) -> Result<StageWeights> {
        let mut weights = self;
        for pair in given {
            let (stage, percent) = split_pair(pair, "STAGE:PERCENT")?;
            let stage = stage.to_ascii_lowercase();
            if !stages.iter().any(|s| s.as_ref() == stage) {
                let names: Vec<&str> = stages.iter().map(AsRef::as_ref).collect();
                return Err(invalid(format!(
                    "`{stage}` is not a deal stage ({})",
                    names.join(", ")
                )));
            }
            let percent: u8 =
                percent.parse().ok().filter(|p| *p <= 100).ok_or_else(|| {
                    invalid(format!("`{percent}` is not a percent from 0 to 100"))
                })?;
            weights.0.insert(stage, percent);
        }
        Ok(weights)
    }
}

/// `text` split at its first `:` or `=`, both sides trimmed.
fn split_pair<'t>(text: &'t str, shape: &str) -> Result<(&'t str, &'t str)> {
    text.split_once([':', '='])
        .map(|(a, b)| (a.trim(), b.trim()))
        .ok_or_else(|| invalid(format!("`{text}` is not {shape}")))
}

fn invalid(message: String) -> CoreError {
    CoreError::Invalid(ValidationError::record(message))
}

/// Exchange rates into one target currency, given by an administrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// The currency amounts are converted into (ISO 4217).
    pub target: String,
    /// How many units of `target` one unit of each currency is worth; the
    /// target itself is 1 whether listed or not.
    pub per_unit: BTreeMap<String, f64>,
}

impl Rates {
    /// The rates into `target` from `given`, each `CUR:RATE` or `CUR=RATE`
    /// (three-letter codes, upper-cased; a finite rate of at least 0). The
    /// one parser of the CLI's `--convert/--rate` and the API's
    /// `convert=/rate=`.
    pub fn parse(target: &str, given: &[String]) -> Result<Rates> {
        let code = |text: &str| -> Result<String> {
            let code = text.trim().to_ascii_uppercase();
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(code)
            } else {
                Err(invalid(format!("`{text}` is not a currency code")))
            }
        };
        let mut per_unit = BTreeMap::new();
        for pair in given {
            let (cur, rate) = split_pair(pair, "CUR:RATE")?;
            let rate: f64 = rate
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| invalid(format!("`{rate}` is not a usable rate")))?;
            per_unit.insert(code(cur)?, rate);
        }
        Ok(Rates {
            target: code(target)?,
            per_unit,
        })
    }

    /// `minor` units of `currency` in minor units of the target, rounded to
    /// the nearest; `None` when there is no usable rate.
    pub fn convert(&self, minor: i64, currency: &str) -> Option<i64> {
        let rate = if currency == self.target {
            1.0
        } else {
            *self.per_unit.get(currency)?
        };
        if !rate.is_finite() || rate < 0.0 {
            return None;
        }
        let scale = |c: &str| {
            let exp = iso_currency::Currency::from_code(c)
                .and_then(|c| c.exponent())
                .unwrap_or(2);
            10f64.powi(i32::from(exp))
        };
        let value = minor as f64 / scale(currency) * rate * scale(&self.target);
        // `as` saturates at the i64 bounds; NaN cannot occur (finite inputs).
        Some(value.round() as i64)
    }
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One group for everything.
    #[default]
    None,
    /// Per owner (responsible person).
    Owner,
    /// Per territory.
    Territory,
}

/// What a report is computed over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportQuery {
    /// Start of the period (inclusive); unbounded when `None`.
    pub from: Option<Timestamp>,
    /// End of the period (exclusive); unbounded when `None`.
    pub to: Option<Timestamp>,
    /// Only records this user is responsible for.
    pub owner: Option<String>,
    /// Only records in this territory.
    pub territory: Option<String>,
    /// IANA time zone for weeks, months and local days.
    pub time_zone: String,
    /// "Now", for what is open or overdue.
    pub now: Timestamp,
    /// Stage probabilities for weighted pipeline amounts.
    #[serde(default)]
    pub weights: StageWeights,
    /// Optional conversion of amounts into one currency.
    #[serde(default)]
    pub rates: Option<Rates>,
    /// How the pipeline and win rate are grouped.
    #[serde(default)]
    pub group_by: GroupBy,
    /// The deal stages in pipeline order: the organisation's
    /// (`Policy::deal_stages`), by default the built-in ones. The pipeline
    /// orders its rows by them; a stage outside them (removed by a later
    /// policy) still counts, under its own name, after them.
    #[serde(default = "built_in_deal_stages")]
    pub deal_stages: Vec<String>,
}

/// The built-in deal stages, owned.
pub fn built_in_deal_stages() -> Vec<String> {
    crate::schema::DEAL_STAGES
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl ReportQuery {
    /// A query at `now` over everything, in UTC, with default weights.
    pub fn new(now: Timestamp) -> ReportQuery {
        ReportQuery {
            from: None,
            to: None,
            owner: None,
            territory: None,
            time_zone: "UTC".into(),
            now,
            weights: StageWeights::default(),
            rates: None,
            group_by: GroupBy::None,
            deal_stages: built_in_deal_stages(),
        }
    }

    /// The time zone, refused when it is not a known IANA name.
    pub fn zone(&self) -> Result<TimeZone> {
        TimeZone::get(&self.time_zone).map_err(|_| {
            CoreError::Invalid(ValidationError::field(
                "time_zone",
                format!("`{}` is not an IANA time zone", self.time_zone),
            ))
        })
    }

    /// Sets the period to local days `from` through `to` (inclusive) in the
    /// query's time zone; either may be absent.
    pub fn with_days(mut self, from: Option<Date>, to: Option<Date>) -> Result<ReportQuery> {
        let tz = self.zone()?;
        let start = |d: Date| -> Result<Timestamp> {
            Ok(d.to_zoned_datetime(tz.clone())
                .map_err(|e| CoreError::Invalid(ValidationError::field("from", e.to_string())))?
                .timestamp())
        };
        self.from = from.map(start).transpose()?;
        self.to = match to {
            Some(d) => Some(d.tomorrow().map_or(Ok(Timestamp::MAX), start)?),
            None => None,
        };
        Ok(self)
    }

    /// Whether `at` lies in the period; an unknown time lies in it only
    /// when the period is unbounded.
    pub fn in_period(&self, at: Option<Timestamp>) -> bool {
        match at {
            None => self.from.is_none() && self.to.is_none(),
            Some(t) => self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e),
        }
    }

    /// Whether `facts` passes the owner and territory filters.
    pub fn matches(&self, facts: &Facts) -> bool {
        self.matches_parts(facts.responsible(), facts.territory.as_deref())
    }

    /// [`ReportQuery::matches`] for a record whose responsible person and
    /// territory are given.
    pub fn matches_parts(&self, responsible: Option<&str>, territory: Option<&str>) -> bool {
        let owner_ok = self.owner.as_deref().is_none_or(|o| responsible == Some(o));
        let territory_ok = self
            .territory
            .as_deref()
            .is_none_or(|t| territory == Some(t));
        owner_ok && territory_ok
    }

    /// The group `facts` falls in under [`ReportQuery::group_by`]; `(none)`
    /// when the grouping field is absent.
    pub fn group_of(&self, facts: &Facts) -> String {
        let key = match self.group_by {
            GroupBy::None => return "all".into(),
            GroupBy::Owner => facts.responsible(),
            GroupBy::Territory => facts.territory.as_deref(),
        };
        key.unwrap_or(NONE).to_owned()
    }
}

/// The label of a group whose key is absent or unreadable.
pub const NONE: &str = "(none)";

/// The ISO week of `at` in `tz`, as `2026-W48`.
pub fn iso_week(at: Timestamp, tz: &TimeZone) -> String {
    let week = at.to_zoned_datetime(tz.clone()).date().iso_week_date();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// The month of `at` in `tz`, as `2026-11`.
pub fn month(at: Timestamp, tz: &TimeZone) -> String {
    let date = at.to_zoned_datetime(tz.clone()).date();
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
pub fn seconds_between(a: Timestamp, b: Timestamp) -> i64 {
    b.as_second().saturating_sub(a.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_rates_parse_as_typed_or_are_refused() {
        let w = StageWeights::with_overrides(&["negotiation:75".into(), "Proposal=40".into()])
            .expect("weights");
        assert_eq!((w.percent("negotiation"), w.percent("proposal")), (75, 40));
        assert_eq!(w.percent("qualification"), 10, "defaults stay");
        for bad in ["closing:50", "won:101", "lost", "won:-1"] {
            assert!(
                StageWeights::with_overrides(&[bad.into()]).is_err(),
                "{bad}"
            );
        }
        let r = Rates::parse("eur", &["huf:0.0025".into(), "USD=0.9".into()]).expect("rates");
        assert_eq!(r.target, "EUR");
        assert_eq!(r.per_unit.get("HUF"), Some(&0.0025));
        for bad in ["HUF:x", "HUF:-1", "HUF:inf", "HU:1", "HUF"] {
            assert!(Rates::parse("EUR", &[bad.into()]).is_err(), "{bad}");
        }
        assert!(Rates::parse("euros", &[]).is_err());
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn weeks_are_local_to_the_time_zone() {
        // Sunday 2026-11-29 23:30 UTC is Monday 00:30 in Budapest (UTC+1):
        // week 48 in UTC, week 49 in Budapest.
        let at = t("2026-11-29T23:30:00Z");
        assert_eq!(iso_week(at, &TimeZone::UTC), "2026-W48");
        let bud = TimeZone::get("Europe/Budapest").expect("zone");
        assert_eq!(iso_week(at, &bud), "2026-W49");
        // ISO weeks cross years: 2027-01-01 is in 2026-W53.
        assert_eq!(
            iso_week(t("2027-01-01T12:00:00Z"), &TimeZone::UTC),
            "2026-W53"
        );
        assert_eq!(month(t("2026-11-30T23:30:00Z"), &bud), "2026-12");
    }

    #[test]
    fn local_days_bound_a_half_open_period() {
        let mut q = ReportQuery::new(t("2026-11-24T00:00:00Z"));
        q.time_zone = "Europe/Budapest".into();
        let day = |s: &str| s.parse::<Date>().ok();
        let q = q
            .with_days(day("2026-11-01"), day("2026-11-30"))
            .expect("days");
        assert_eq!(q.from, Some(t("2026-10-31T23:00:00Z")));
        assert_eq!(q.to, Some(t("2026-11-30T23:00:00Z")));
        assert!(q.in_period(Some(t("2026-11-30T22:59:59Z"))));
        assert!(!q.in_period(Some(t("2026-11-30T23:00:00Z"))));
        assert!(!q.in_period(None));
        assert!(ReportQuery::new(t("2026-11-24T00:00:00Z")).in_period(None));
    }

    #[test]
    fn conversion_respects_currency_exponents() {
        let rates = Rates {
            target: "EUR".into(),
            per_unit: [("HUF".to_owned(), 0.0025), ("XXX".to_owned(), f64::NAN)]
                .into_iter()
                .collect(),
        };
        // 400,000 HUF (minor 40,000,000 with two decimals) * 0.0025 = 1000 EUR.
        assert_eq!(rates.convert(40_000_000, "HUF"), Some(100_000));
        assert_eq!(rates.convert(123, "EUR"), Some(123));
        assert_eq!(rates.convert(1, "USD"), None);
        assert_eq!(rates.convert(1, "XXX"), None);
    }

    #[test]
    fn the_policys_probabilities_weigh_unless_a_query_overrides_them() {
        use crate::policy::{DEFAULT_POLICY_TOML, Policy};
        let text = format!("{DEFAULT_POLICY_TOML}\n[pipeline.probability]\nqualification = 25\n");
        let policy = Policy::from_toml(&text).expect("valid");
        let weights = StageWeights::of_probabilities(policy.stage_probabilities());
        assert_eq!(weights.percent("qualification"), 25);
        assert_eq!(
            weights.percent("proposal"),
            30,
            "default where the policy is silent"
        );
        let given = weights
            .overridden(&["qualification=40".to_owned()])
            .expect("override");
        assert_eq!(given.percent("qualification"), 40);
        let shipped = Policy::shipped_default();
        assert_eq!(
            StageWeights::of_probabilities(shipped.stage_probabilities()),
            StageWeights::default()
        );
    }
}
