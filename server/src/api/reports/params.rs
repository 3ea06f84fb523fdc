//! The query parameters of a report, parsed into the core's
//! [`ReportQuery`] with the device's semantics (`fieldwork report`):
//! `from`/`to` are local days, inclusive, in `tz` (default UTC); `owner`
//! and `territory` filter; `group_by` groups; `convert` with repeated
//! `rate=CUR:RATE` converts money.
//!
//! Guarantees: every refusal is a `400 bad_request` whose `field` names the
//! parameter; no value longer than [`MAX_VALUE`] bytes and no more than
//! [`MAX_RATES`] rates are accepted; nothing here panics on input.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use fieldwork_core::policy::Policy;
use fieldwork_core::report::{GroupBy, Rates, ReportQuery, StageWeights};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::api::problem::{ApiResult, Problem};

/// Longest parameter value, in bytes.
pub const MAX_VALUE: usize = 200;
/// Most `rate` parameters.
pub const MAX_RATES: usize = 64;

/// How the report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The typed result as JSON.
    Json,
    /// Its table as CSV.
    Csv,
}

/// The parameters as given.
#[derive(Debug, Default)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
    owner: Option<String>,
    territory: Option<String>,
    group_by: Option<String>,
    convert: Option<String>,
    rates: Vec<String>,
    weights: Vec<String>,
    format: Option<String>,
}

/// `400 bad_request` naming `param`.
pub fn bad(param: &str, detail: impl Into<String>) -> Problem {
    Problem {
        field: Some(param.to_owned()),
        ..Problem::bad_request(detail)
    }
}

impl Params {
    /// Parses a query string; an unknown parameter, a value too long or
    /// too many rates is refused.
    pub fn parse(raw: &str) -> ApiResult<Params> {
        let mut p = Params::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            if value.len() > MAX_VALUE {
                return Err(bad(&key, format!("`{key}` is too long")));
            }
            let value = value.into_owned();
            let slot = match key.as_ref() {
                "from" => &mut p.from,
                "to" => &mut p.to,
                "tz" => &mut p.tz,
                "owner" => &mut p.owner,
                "territory" => &mut p.territory,
                "group_by" => &mut p.group_by,
                "convert" => &mut p.convert,
                "format" => &mut p.format,
                "rate" if p.rates.len() < MAX_RATES => {
                    p.rates.push(value);
                    continue;
                }
                "rate" => return Err(bad("rate", format!("at most {MAX_RATES} rates"))),
                "weight" if p.weights.len() < MAX_RATES => {
                    p.weights.push(value);
                    continue;
                }
                "weight" => return Err(bad("weight", format!("at most {MAX_RATES} weights"))),
                other => return Err(bad(other, format!("unknown parameter `{other}`"))),
            };
            *slot = Some(value);
        }
        Ok(p)
    }

    /// The answer's format: `format` when given, else CSV when `Accept`
    /// names `text/csv`, else JSON.
    pub fn format(&self, headers: &HeaderMap) -> ApiResult<Format> {
        match self.format.as_deref() {
            Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(bad("format", format!("`{other}` is not json or csv"))),
            None => {
                let wants_csv = headers
                    .get_all(ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.to_ascii_lowercase().contains("text/csv"));
                Ok(if wants_csv { Format::Csv } else { Format::Json })
            }
        }
    }

    /// The report query at `now`, as the device builds it, under the
    /// caller's `policy` when there is one: its deal stages
    /// (`Policy::deal_stages`) order the pipeline and are the stages
    /// `weight=` may name, and its probabilities
    /// (`[pipeline.probability]`) are the weights the `weight=` overrides
    /// change; without a policy, the built-in stages and weights.
    pub fn query(&self, now: Timestamp, policy: Option<&Policy>) -> ApiResult<ReportQuery> {
        let mut q = ReportQuery::new(now);
        if let Some(tz) = &self.tz {
            TimeZone::get(tz).map_err(|_| bad("tz", format!("`{tz}` is not an IANA time zone")))?;
            q.time_zone = tz.clone();
        }
        q.owner = non_empty("owner", &self.owner)?;
        q.territory = non_empty("territory", &self.territory)?;
        q.group_by = match self.group_by.as_deref() {
            None | Some("none") => GroupBy::None,
            Some("owner") => GroupBy::Owner,
            Some("territory") => GroupBy::Territory,
            Some(other) => {
                return Err(bad(
                    "group_by",
                    format!("`{other}` is not none, owner or territory"),
                ));
            }
        };
        q.rates = self.rates()?;
        let weights = match policy {
            Some(policy) => {
                q.deal_stages = policy
                    .deal_stages()
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                StageWeights::of_probabilities(policy.stage_probabilities())
            }
            None => StageWeights::default(),
        };
        q.weights = weights
            .overridden_in(&q.deal_stages, &self.weights)
            .map_err(|e| bad("weight", core_message(e)))?;
        let from = day("from", &self.from)?;
        let to = day("to", &self.to)?;
        // Each bound alone first, so that a refusal names the right one.
        q.clone()
            .with_days(from, None)
            .map_err(|e| bad("from", e.to_string()))?;
        q.with_days(from, to).map_err(|e| bad("to", e.to_string()))
    }

    /// The rates table of `convert` and `rate` (parsed by core).
    fn rates(&self) -> ApiResult<Option<Rates>> {
        let Some(target) = &self.convert else {
            if self.rates.is_empty() {
                return Ok(None);
            }
            return Err(bad("rate", "`rate` needs `convert=CURRENCY`"));
        };
        // The target alone first, so that a refusal names the right parameter.
        Rates::parse(target, &[]).map_err(|e| bad("convert", core_message(e)))?;
        Rates::parse(target, &self.rates)
            .map(Some)
            .map_err(|e| bad("rate", core_message(e)))
    }
}

/// The human sentence of a core refusal, without its kind prefix.
fn core_message(e: fieldwork_core::CoreError) -> String {
    match e {
        fieldwork_core::CoreError::Invalid(v) => v.message,
        other => other.to_string(),
    }
}

/// A non-empty value of `param`, if given.
fn non_empty(param: &str, value: &Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() => Err(bad(param, format!("`{param}` is empty"))),
        other => Ok(other.clone()),
    }
}

/// A local day `YYYY-MM-DD`, if given.
fn day(param: &str, value: &Option<String>) -> ApiResult<Option<Date>> {
    value
        .as_deref()
        .map(|t| {
            t.parse::<Date>()
                .map_err(|_| bad(param, format!("`{t}` is not a date (YYYY-MM-DD)")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-24T09:00:00Z".parse().expect("instant")
    }

    fn field_of(raw: &str) -> Option<String> {
        let p = match Params::parse(raw) {
            Ok(p) => p,
            Err(problem) => return problem.field,
        };
        p.query(now(), None).err().and_then(|problem| problem.field)
    }

    #[test]
    fn local_days_and_rates_make_the_devices_query() {
        let p = Params::parse("from=2026-11-01&to=2026-11-30&tz=Europe/Budapest&convert=eur&rate=HUF:0.0025&rate=usd%3D0.9&group_by=owner")
            .expect("params");
        let q = p.query(now(), None).expect("query");
        assert_eq!(q.from, "2026-10-31T23:00:00Z".parse().ok());
        assert_eq!(q.to, "2026-11-30T23:00:00Z".parse().ok());
        assert_eq!(q.group_by, GroupBy::Owner);
        let rates = q.rates.expect("rates");
        assert_eq!(rates.target, "EUR");
        assert_eq!(rates.per_unit.get("HUF"), Some(&0.0025));
        assert_eq!(rates.per_unit.get("USD"), Some(&0.9));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert_eq!(field_of("from=yesterday").as_deref(), Some("from"));
        assert_eq!(field_of("to=2026-13-01").as_deref(), Some("to"));
        assert_eq!(field_of("tz=Mars/Olympus").as_deref(), Some("tz"));
        assert_eq!(field_of("group_by=stage").as_deref(), Some("group_by"));
        assert_eq!(field_of("rate=HUF:1").as_deref(), Some("rate"));
        assert_eq!(field_of("convert=EUR&rate=HUF").as_deref(), Some("rate"));
        assert_eq!(field_of("convert=EUR&rate=HUF:-1").as_deref(), Some("rate"));
        assert_eq!(field_of("convert=euro").as_deref(), Some("convert"));
        assert_eq!(field_of("weight=closing:50").as_deref(), Some("weight"));
        assert_eq!(field_of("weight=won:101").as_deref(), Some("weight"));
        assert_eq!(field_of("weight=negotiation:75"), None);
        assert_eq!(field_of("owner=").as_deref(), Some("owner"));
        assert_eq!(field_of("colour=red").as_deref(), Some("colour"));
        assert_eq!(field_of("owner=ana&territory=madrid"), None);
        assert_eq!(
            field_of("from=-009999-01-01&to=2026-01-01").as_deref(),
            Some("from")
        );
        assert_eq!(
            field_of("from=2026-01-01&to=9999-12-31"),
            None,
            "unbounded end"
        );
    }

    #[test]
    fn the_format_parameter_wins_over_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, "text/csv".parse().expect("header"));
        let p = Params::parse("").expect("params");
        assert_eq!(p.format(&headers).expect("format"), Format::Csv);
        assert_eq!(p.format(&HeaderMap::new()).expect("format"), Format::Json);
        let p = Params::parse("format=json").expect("params");
        assert_eq!(p.format(&headers).expect("format"), Format::Json);
        assert!(
            Params::parse("format=xml")
                .expect("params")
                .format(&headers)
                .is_err()
        );
    }
}
