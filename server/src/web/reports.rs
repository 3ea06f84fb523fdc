//! The reports page: the core's reports over what the user sees, as a
//! table and a chart drawn on the server, with filters and a CSV download.
//!
//! A report is computed by [`crate::api::reports::run`], the function
//! behind `GET /v1/reports/{name}`, from the parameters that endpoint takes
//! ([`Params`]: `from`, `to`, `tz`, `owner`, `territory`, `group_by`), so
//! the page, its CSV and the API answer the same numbers for the same user.
//! The time zone defaults to the user's own.
//!
//! Guarantees: only the filters above are passed on (anything else in the
//! address is ignored), each bounded by the API's checks; a refused filter
//! or a report too large is shown on the page with the API's message,
//! never a partial report; `format=csv` answers the API's CSV
//! (`ReportResult::table().to_csv()`) as an attachment named after the
//! report; the chart's texts are plain strings, escaped by the template.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::report::{ReportName, ReportResult, Tabular};

use super::chart::Chart;
use super::customers::Choice;
use super::form::Pairs;
use super::i18n::{self, filters};
use super::page::{self, Nav, SignedInGet};
use super::report_charts;
use super::session::WebSession;
use crate::api::reports::params::Params;
use crate::state::AppState;

/// The reports offered, by name as in the address, with their titles.
pub const REPORTS: &[(&str, &str)] = &[
    ("pipeline", i18n::mark("Pipeline")),
    ("win-rate", i18n::mark("Win rate")),
    ("cycle", i18n::mark("Sales cycle")),
    ("funnel", i18n::mark("Funnel")),
    ("activities", i18n::mark("Activities")),
    ("visits", i18n::mark("Visits")),
    ("targets", i18n::mark("Targets")),
];

/// The filters passed on to the report.
const FILTERS: &[&str] = &[
    "from",
    "to",
    "tz",
    "owner",
    "territory",
    "group_by",
    "convert",
];

/// The repeatable parameters passed on (`rate=HUF:0.0025`,
/// `weight=proposal:40`); a form field may hold several, separated by
/// commas or spaces.
const REPEATED: &[&str] = &["rate", "weight"];

/// Most table rows shown (the CSV has all).
pub const MAX_ROWS: usize = 1000;

/// A link to one report.
#[derive(Debug, Clone)]
pub struct Tab {
    /// Its address.
    pub href: String,
    /// Its title.
    pub title: &'static str,
    /// Whether it is shown.
    pub current: bool,
}

/// The reports page.
#[derive(Template)]
#[template(path = "web/reports.html")]
pub struct ReportPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The report's name in the address.
    pub name: String,
    /// Its title.
    pub title: &'static str,
    /// The reports offered.
    pub tabs: Vec<Tab>,
    /// The filters as typed (in [`FILTERS`] order).
    pub from: String,
    /// Last day.
    pub to: String,
    /// Time zone.
    pub tz: String,
    /// Owner.
    pub owner: String,
    /// Territory.
    pub territory: String,
    /// Grouping choices.
    pub groups: Vec<Choice>,
    /// The CSV download's address.
    pub csv: String,
    /// The chart.
    pub chart: Option<Chart>,
    /// The table's columns.
    pub columns: Vec<String>,
    /// The table's rows.
    pub rows: Vec<Vec<String>>,
    /// Rows not shown.
    pub hidden: usize,
    /// A refusal, for people.
    pub error: Option<String>,
    /// The currency money is converted into (`convert`), as typed.
    pub convert: String,
    /// The conversion rates, as `CUR:RATE` separated by spaces.
    pub rates: String,
    /// The stage weights, as `STAGE:PERCENT` separated by spaces.
    pub weights: String,
}

/// `GET /web/reports`: the first report.
pub async fn index(_session: WebSession) -> Response {
    Redirect::to("/web/reports/pipeline").into_response()
}

/// The filters of the address, the time zone defaulting to the user's.
fn filters(q: &Pairs, session: &WebSession) -> Vec<(&'static str, String)> {
    FILTERS
        .iter()
        .filter_map(|k| {
            // Passed on whatever its length: the API's parser refuses a
            // value too long with its message.
            let v = q
                .get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let v = match (*k, v) {
                ("tz", None) => session.user.time_zone.clone(),
                (_, v) => v,
            };
            v.map(|v| (*k, v))
        })
        .chain(REPEATED.iter().flat_map(|k| {
            q.0.iter()
                .filter(move |(name, _)| name == k)
                .flat_map(|(_, v)| v.split([',', ' ']).map(str::trim))
                .filter(|v| !v.is_empty())
                .map(move |v| (*k, v.to_owned()))
        }))
        .collect()
}

fn encode(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `GET /web/reports/{name}` (`format=csv`: the table as a CSV file).
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    let Some(&(name, title)) = REPORTS.iter().find(|(n, _)| *n == name) else {
        let text = i18n::text("There is no such report.");
        return page::message_for(
            &session,
            StatusCode::NOT_FOUND,
            i18n::text("Not found"),
            text,
        );
    };
    let pairs = filters(&q, &session);
    let result = compute(&state, &session, name, &pairs).await;
    if q.get("format") == Some("csv") {
        return match result {
            Ok(r) => csv(name, &r),
            Err((status, why)) => page::message_for(&session, status, i18n::text("Refused"), &why),
        };
    }
    let (status, result, error) = match result {
        Ok(r) => (StatusCode::OK, Some(r), None),
        Err((status, why)) => (status, None, Some(why)),
    };
    page::render(
        status,
        &page_of(&session, name, i18n::text(title), &pairs, result, error),
    )
}

/// Runs report `name` with the filters through the API's function.
async fn compute(
    state: &Arc<AppState>,
    session: &WebSession,
    name: &str,
    pairs: &[(&str, String)],
) -> Result<ReportResult, (StatusCode, String)> {
    let refused = |p: crate::api::problem::Problem| {
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, p.detail)
    };
    let report =
        ReportName::parse(name, None).map_err(|e| (StatusCode::NOT_FOUND, e.to_string()))?;
    let params = Params::parse(&encode(pairs)).map_err(refused)?;
    let caller = session.caller();
    let query = params
        .query(state.clock.now(), caller.access.policy())
        .map_err(refused)?;
    crate::api::reports::run(state, caller, report, query)
        .await
        .map_err(refused)
}

/// The table of `result` as a CSV attachment.
fn csv(name: &str, result: &ReportResult) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        result.table().to_csv(),
    )
        .into_response()
}

fn page_of(
    session: &WebSession,
    name: &str,
    title: &'static str,
    pairs: &[(&str, String)],
    result: Option<ReportResult>,
    error: Option<String>,
) -> ReportPage {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let group = get("group_by");
    let all = |k: &str| {
        pairs
            .iter()
            .filter(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut csv_pairs = pairs.to_vec();
    csv_pairs.push(("format", "csv".into()));
    let table = result.as_ref().map(Tabular::table).unwrap_or_default();
    let hidden = table.rows.len().saturating_sub(MAX_ROWS);
    ReportPage {
        nav: Some(session.nav("reports", "")),
        name: name.to_owned(),
        title,
        tabs: REPORTS
            .iter()
            .map(|(n, t)| Tab {
                href: format!("/web/reports/{n}"),
                title: i18n::text(t),
                current: *n == name,
            })
            .collect(),
        from: get("from"),
        to: get("to"),
        tz: get("tz"),
        owner: get("owner"),
        territory: get("territory"),
        groups: ["none", "owner", "territory"]
            .iter()
            .map(|g| Choice {
                value: (*g).to_owned(),
                label: page::label(g),
                selected: *g == group || (group.is_empty() && *g == "none"),
            })
            .collect(),
        csv: format!("/web/reports/{name}?{}", encode(&csv_pairs)),
        chart: result.as_ref().and_then(report_charts::chart_of),
        columns: table.columns,
        rows: table.rows.into_iter().take(MAX_ROWS).collect(),
        hidden,
        error,
        convert: get("convert"),
        rates: all("rate"),
        weights: all("weight"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::chart::{self, Category, Layout, Value};

    #[test]
    fn chart_texts_from_data_are_escaped_in_the_svg() {
        let hostile = "<script>alert(1)</script>";
        let chart = chart::bars(
            "label",
            &[hostile.to_owned()],
            &[Category {
                name: hostile.to_owned(),
                values: vec![Value {
                    series: 0,
                    amount: 1.0,
                    text: hostile.to_owned(),
                }],
            }],
            Layout::Grouped,
        );
        let page = ReportPage {
            nav: None,
            name: "pipeline".into(),
            title: "Pipeline",
            tabs: Vec::new(),
            from: String::new(),
            to: String::new(),
            tz: hostile.into(),
            owner: String::new(),
            territory: String::new(),
            groups: Vec::new(),
            csv: "/web/reports/pipeline?format=csv".into(),
            chart: Some(chart),
            columns: vec![hostile.into()],
            rows: vec![vec![hostile.into()]],
            hidden: 0,
            error: None,
            convert: String::new(),
            rates: String::new(),
            weights: String::new(),
        }
        .render()
        .expect("renders");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("<svg"), "{page}");
        assert!(page.contains("&#60;script&#62;"), "{page}");
        assert!(!page.contains("style="), "no inline style: {page}");
    }
}
