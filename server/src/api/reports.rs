//! Reports over what the caller sees, for the office: the core's report
//! engine ([`fieldwork_core::report`]) run on the server over facts read
//! from the record index, so a manager sees her team's pipeline, win rate,
//! cycle, funnel, activities and visits, and any account's timeline.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/reports/{name}` | `pipeline`, `win-rate`, `cycle`, `funnel`, `activities`, `visits` or `targets` |
//! | GET | `/v1/reports/timeline/{record_id}` | the touchpoint timeline of an account |
//!
//! Parameters ([`params`]): `from`, `to` (local days, inclusive), `tz`
//! (default UTC), `owner`, `territory`, `group_by` (`none`, `owner`,
//! `territory`), `convert` and repeated `rate=CUR:RATE`, `format` (`json`
//! or `csv`; without it `Accept: text/csv` asks for CSV). The answer is
//! the core's `ReportResult` as JSON (what `fieldwork report NAME --json`
//! prints on a device) or its table as CSV (what `--csv` prints).
//!
//! Guarantees:
//! - **Only what the caller reads.** Facts come from
//!   [`record_index::report_facts`]: records the caller sees, through the
//!   classes the caller may read, not archived; an API key must be allowed
//!   every kind the report reads (`403 key_scope`; a timeline reads the
//!   account and only the kinds of children the key is allowed). A
//!   timeline of an account the caller does not see is `404`, like one that
//!   does not exist.
//! - **The device's results.** The same query semantics as the CLI and the
//!   same core function ([`report::run`]) over facts at the device index's
//!   precision, so the office and a device that hold the same records
//!   answer the same report.
//! - **Bounded.** A report reads at most
//!   [`record_index::MAX_FACT_ROWS`] field rows, of the records passing
//!   its pre-filters (kinds, owner, territory; the period for the reports
//!   that date records by a field); beyond that it is
//!   refused (`422 report_too_large`), never answered partially.
//! - **Bad parameters** are `400 bad_request` naming the parameter in
//!   `field`; an unknown report name is `404`.

pub mod params;
pub mod targets;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fieldwork_core::report::{self, ReportName, ReportQuery, ReportResult, Tabular};
use fieldwork_core::{RecordId, RecordKind};
use serde::Deserialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use crate::db::record_index::{self, FactsScope, Loaded, PeriodScope};
use crate::state::AppState;
use params::{Format, Params};

/// The kinds whose records a timeline shows.
const TIMELINE_KINDS: &[RecordKind] = &[
    RecordKind::Account,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
    RecordKind::Note,
];

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/reports/{name}", get(report_named))
        .route("/v1/reports/timeline/{record_id}", get(timeline))
}

/// The reports over many records, by name as typed in the path.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKindName {
    /// Open deals by stage.
    Pipeline,
    /// Won and lost deals.
    WinRate,
    /// Deals' stage-to-stage conversion and time in stage.
    Cycle,
    /// Accounts' lifecycle funnel and cohorts.
    Funnel,
    /// Activities done, planned, overdue.
    Activities,
    /// Visits with check-in and check-out.
    Visits,
    /// Progress on the targets the caller sees.
    Targets,
}

/// How a report is answered.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// The typed result (`application/json`).
    Json,
    /// Its table (`text/csv`, RFC 4180).
    Csv,
}

/// How the pipeline and win rate are grouped.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportGroupBy {
    /// One group.
    None,
    /// Per responsible person.
    Owner,
    /// Per territory.
    Territory,
}

/// Report `name` over the records the caller sees.
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "reports",
    params(
        ("name" = ReportKindName, Path, description = "which report"),
        ("from" = Option<String>, Query, description = "first local day, YYYY-MM-DD (inclusive)"),
        ("to" = Option<String>, Query, description = "last local day, YYYY-MM-DD (inclusive)"),
        ("tz" = Option<String>, Query, description = "IANA time zone of days, weeks and months (default UTC)"),
        ("owner" = Option<String>, Query, description = "only records this user is responsible for (an activity's assignee, else the owner)"),
        ("territory" = Option<String>, Query, description = "only records in this territory (children: their account's)"),
        ("group_by" = Option<ReportGroupBy>, Query, description = "grouping of pipeline and win rate (default none)"),
        ("convert" = Option<String>, Query, description = "currency to convert money into (ISO 4217), with `rate`"),
        ("rate" = Option<Vec<String>>, Query, explode = true, description = "CUR:RATE (repeatable): one unit of CUR is worth RATE units of `convert`"),
        ("weight" = Option<Vec<String>>, Query, explode = true, description = "STAGE:PERCENT (repeatable): a deal stage's win probability for weighted pipeline amounts, overriding the default"),
        ("format" = Option<ReportFormat>, Query, description = "json (default) or csv; without it, Accept: text/csv asks for CSV"),
    ),
    responses(
        (status = 200, description = "the report: the typed result as JSON (as `fieldwork report NAME --json` prints it), or its table as CSV with a header line",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "a bad parameter, named in `field` (`bad_request`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such report (`not_found`)"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the report would read too many records (`report_too_large`): narrow it with a period, `owner` or `territory`"),
    ))]
pub async fn report_named(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let known: Vec<&str> = fieldwork_core::report::REPORT_NAMES
        .iter()
        .copied()
        .filter(|n| *n != "timeline")
        .collect();
    if !known.contains(&name.as_str()) {
        let hint = if name == "timeline" {
            ": a timeline is at /v1/reports/timeline/{record_id}"
        } else {
            ""
        };
        return Err(Problem::not_found(format!(
            "no report `{name}`; reports are {}{hint}",
            known.join(", ")
        )));
    }
    let name = ReportName::parse(&name, None).map_err(|e| Problem::not_found(e.to_string()))?;
    serve(&state, caller, name, raw.as_deref(), &headers).await
}

/// The touchpoint timeline of an account the caller sees.
#[utoipa::path(get, path = "/v1/reports/timeline/{record_id}", tag = "reports",
    params(
        ("record_id" = String, Path, description = "the account's id"),
        ("from" = Option<String>, Query, description = "first local day, YYYY-MM-DD (inclusive)"),
        ("to" = Option<String>, Query, description = "last local day, YYYY-MM-DD (inclusive)"),
        ("tz" = Option<String>, Query, description = "IANA time zone of the days (default UTC)"),
        ("format" = Option<ReportFormat>, Query, description = "json (default) or csv; without it, Accept: text/csv asks for CSV"),
    ),
    responses(
        (status = 200, description = "the timeline: the typed result as JSON (as `fieldwork report timeline ID --json` prints it), or its table as CSV with a header line",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "a bad parameter, named in `field` (`bad_request`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such account, or one the caller does not see (`not_found`)"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the timeline would read too many records (`report_too_large`)"),
    ))]
pub async fn timeline(
    State(state): State<Arc<AppState>>,
    Path(record_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    let name = record_id
        .parse::<RecordId>()
        .ok()
        .filter(|id| id.kind() == RecordKind::Account)
        .map(ReportName::Timeline)
        .ok_or_else(|| Problem::not_found(format!("no account `{record_id}`")))?;
    serve(&state, caller, name, raw.as_deref(), &headers).await
}

/// Parses the parameters, reads the facts, runs the report, answers.
async fn serve(
    state: &Arc<AppState>,
    caller: Caller,
    name: ReportName,
    raw: Option<&str>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let p = Params::parse(raw.unwrap_or(""))?;
    let format = p.format(headers)?;
    let q = p.query(state.clock.now(), caller.access.policy())?;
    let result = run(state, caller, name, q).await?;
    Ok(answer(&result, format))
}

/// Reads the facts report `name` needs for `caller` and runs it with `q`
/// (also the web app's reports page, [`crate::web::reports`]).
pub(crate) async fn run(
    state: &Arc<AppState>,
    caller: Caller,
    name: ReportName,
    q: ReportQuery,
) -> ApiResult<ReportResult> {
    let scope = scope_of(&name, &caller, &q)?;
    let with_targets = name == ReportName::Targets;
    if with_targets {
        caller.may_read(RecordKind::Target)?;
    }
    let actor = super::write::actor_for(&state.actor, &caller.user);
    let q_read = q.clone();
    let access = caller.access;
    let account = match &name {
        ReportName::Timeline(id) => Some(id.clone()),
        _ => None,
    };
    let loaded = state
        .db
        .read(move |c| {
            if let Some(id) = &account
                && !record_index::sees_account(c, &access, id)?
            {
                return Ok(None);
            }
            let mut scope = scope;
            let targets = match with_targets {
                false => Some(Vec::new()),
                true => targets::readable_targets(c, &access, &actor)?,
            };
            if let (true, Some(found)) = (with_targets, &targets) {
                scope.period = Some(targets_period(found, &q_read)?);
            }
            Ok(Some((
                record_index::report_facts(c, &access, &scope)?,
                targets,
            )))
        })
        .await?;
    let (facts, targets) = match loaded {
        None => return Err(Problem::not_found("no such account")),
        Some((Loaded::TooMany, _) | (_, None)) => return Err(too_large()),
        Some((Loaded::Facts(facts), Some(targets))) => (facts, targets),
    };
    report::run(&name, &facts, &targets, &q).map_err(|e| params::bad("tz", e.to_string()))
}

/// What report `name` reads for `caller`; an API key must be allowed the
/// kinds it reads (a timeline: the account, and it reads only the kinds of
/// children the key is allowed).
fn scope_of(name: &ReportName, caller: &Caller, q: &ReportQuery) -> ApiResult<FactsScope> {
    let (kinds, account) = match name {
        ReportName::Timeline(id) => {
            caller.may_read(RecordKind::Account)?;
            let kinds = TIMELINE_KINDS
                .iter()
                .copied()
                .filter(|k| caller.may_read(*k).is_ok())
                .collect();
            (kinds, Some(id.clone()))
        }
        other => {
            let kinds = other.kinds().unwrap_or_default().to_vec();
            for kind in &kinds {
                caller.may_read(*kind)?;
            }
            (kinds, None)
        }
    };
    let timeline = account.is_some();
    Ok(FactsScope {
        kinds,
        // A timeline ignores the owner and territory filters.
        owner: q.owner.clone().filter(|_| !timeline),
        territory: q.territory.clone().filter(|_| !timeline),
        account,
        activity_type: (*name == ReportName::Visits).then(|| "visit".to_owned()),
        period: period_of(name, q),
        created_at: matches!(
            name,
            ReportName::WinRate | ReportName::Cycle | ReportName::Funnel | ReportName::Timeline(_)
        ),
    })
}

/// The fields that date a record for report `name` when the query has a
/// period (docs/REPORTS.md, "period filters on"); `None` for reports that
/// date records by their stage log, and without a period (a targets report
/// sets its period from the targets it reads, [`targets_period`]).
fn period_of(name: &ReportName, q: &ReportQuery) -> Option<PeriodScope> {
    let fields: &[&'static str] = match name {
        ReportName::Pipeline => &["expected_close"],
        ReportName::WinRate => &["closed_at"],
        ReportName::Activities => &["due_at", "starts_at", "completed_at"],
        ReportName::Visits => &["check_in_at", "due_at", "starts_at"],
        _ => return None,
    };
    (q.from.is_some() || q.to.is_some()).then(|| PeriodScope {
        fields: fields.to_vec(),
        from: q.from,
        to: q.to,
    })
}

/// The period a targets report reads facts in: the window of the periods
/// it reports (`report::targets::window`), over every time a target's
/// metric dates a record by; empty when no period is reported.
fn targets_period(found: &[report::Target], q: &ReportQuery) -> crate::error::Result<PeriodScope> {
    let window = report::targets::window(found, q)
        .map_err(|e| crate::error::ServerError::Internal(e.to_string()))?;
    let (from, to) = window.unwrap_or((q.now, q.now));
    Ok(PeriodScope {
        fields: vec![
            "check_in_at",
            "completed_at",
            "due_at",
            "starts_at",
            "closed_at",
        ],
        from: Some(from),
        to: Some(to),
    })
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "report_too_large",
        format!(
            "this report would read more than {} field rows; narrow it with a period, `owner` or `territory`",
            record_index::MAX_FACT_ROWS
        ),
    )
}

/// The result as JSON, or its table as CSV.
fn answer(result: &ReportResult, format: Format) -> Response {
    match format {
        Format::Json => Json(result).into_response(),
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            result.table().to_csv(),
        )
            .into_response(),
    }
}
