//! The pipeline board: the deals the user sees, by stage, with count and
//! totals per currency per column; a deal moves to another stage through
//! the push path, so its stage history and the processes started by a
//! stage change follow exactly as from a device.
//!
//! Deals are read as the pipeline report reads them
//! ([`record_index::report_facts`]: records the user sees, classes they
//! may read, not archived), filtered by owner (the responsible person),
//! territory (the account's) and expected close (local days in the user's
//! time zone, inclusive) with the report's own filters
//! ([`ReportQuery::matches`], [`ReportQuery::in_period`]).
//!
//! Guarantees: totals are summed per currency over every deal of a column
//! (never mixing currencies, never overflowing: a sum beyond the range of
//! amounts is shown as such), and shown in major units with the currency
//! ([`i18n::money`]); a column lists at most [`CARDS_PER_COLUMN`] deals
//! but counts and totals all; a board that would read more than the
//! reports' bound asks for narrower filters instead of showing part; a
//! move names a stage in force (the policy's deal stages, the columns'
//! order; a deal in a stage removed since keeps it, in a column of its
//! own after them) or is refused, and is refused by the
//! server like a device's change when the user may not make it.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::report::{Facts, ReportQuery};
use fieldwork_core::{RecordId, RecordKind};

use super::customers::{Choice, enum_values, record_href};
use super::form::{self, Pairs};
use super::i18n::{self, filters};
use super::page::{self, CheckedPost, Nav, SignedInGet};
use super::session::WebSession;
use crate::api::query;
use crate::db::record_index::{self, FactsScope, Loaded, PeriodScope};
use crate::error::ServerError;
use crate::state::AppState;

/// Deals listed per column (the rest are counted and summed).
pub const CARDS_PER_COLUMN: usize = 200;

/// Longest filter value, in bytes.
const MAX_TEXT: usize = 200;

/// One deal on the board.
#[derive(Debug, Clone)]
pub struct DealCard {
    /// Its id.
    pub id: String,
    /// Its card's address.
    pub href: String,
    /// Its display name.
    pub title: String,
    /// Its amount with currency, for people (empty when unknown).
    pub amount: String,
    /// Who is responsible.
    pub owner: String,
    /// Its expected close day (empty when unknown).
    pub close: String,
    /// Where the move form posts.
    pub action: String,
    /// The stages to move it to.
    pub stages: Vec<Choice>,
}

/// One stage of the board.
#[derive(Debug, Clone)]
pub struct Column {
    /// The stage.
    pub stage: String,
    /// Its name for people.
    pub label: String,
    /// How many deals are in it.
    pub count: usize,
    /// The sum of their amounts per currency, for people.
    pub totals: Vec<String>,
    /// The deals listed.
    pub cards: Vec<DealCard>,
    /// How many are not listed.
    pub hidden: usize,
}

/// The board page.
#[derive(Template)]
#[template(path = "web/board.html")]
pub struct BoardPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The owner filter.
    pub owner: String,
    /// The territory filter.
    pub territory: String,
    /// The first expected close day.
    pub from: String,
    /// The last expected close day.
    pub to: String,
    /// This board's address with its filters (moves come back here).
    pub back: String,
    /// The columns, in the policy's stage order.
    pub columns: Vec<Column>,
    /// A refusal, for people.
    pub error: Option<String>,
}

/// The board's filters.
#[derive(Debug, Clone, Default)]
struct Filters {
    owner: Option<String>,
    territory: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl Filters {
    fn of(q: &Pairs) -> Filters {
        Filters {
            owner: q.text("owner", MAX_TEXT),
            territory: q.text("territory", MAX_TEXT),
            from: q.text("from", 10),
            to: q.text("to", 10),
        }
    }

    fn href(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("owner", &self.owner),
            ("territory", &self.territory),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        let q = s.finish();
        if q.is_empty() {
            "/web/pipeline".to_owned()
        } else {
            format!("/web/pipeline?{q}")
        }
    }
}

/// `GET /web/pipeline`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    board(&state, &session, Filters::of(&q), None, StatusCode::OK).await
}

fn day(text: &Option<String>, name: &str) -> Result<Option<jiff::civil::Date>, String> {
    text.as_deref()
        .map(|t| {
            t.parse::<jiff::civil::Date>()
                .map_err(|_| format!("The {name} day must be written YYYY-MM-DD."))
        })
        .transpose()
}

/// The report query of the board's filters, in the user's time zone.
fn report_query(
    state: &AppState,
    session: &WebSession,
    f: &Filters,
) -> Result<ReportQuery, String> {
    let mut q = ReportQuery::new(state.clock.now());
    q.owner = f.owner.clone();
    q.territory = f.territory.clone();
    if let Some(tz) = &session.user.time_zone {
        q.time_zone = tz.clone();
    }
    if q.zone().is_err() {
        q.time_zone = "UTC".into();
    }
    q.with_days(day(&f.from, "first")?, day(&f.to, "last")?)
        .map_err(|e| e.to_string())
}

async fn board(
    state: &Arc<AppState>,
    session: &WebSession,
    filters: Filters,
    mut error: Option<String>,
    status: StatusCode,
) -> Response {
    let mut columns = Vec::new();
    match report_query(state, session, &filters) {
        Err(why) => error = Some(why),
        Ok(q) => match deals(state, session, &q).await {
            Ok(Some(facts)) => columns = columns_of(stages(session), &facts),
            Ok(None) => {
                error = Some(
                    "Too many deals to show at once: narrow the board by owner, territory or expected close."
                        .to_owned(),
                )
            }
            Err(e) => return page::server_error(&e),
        },
    }
    if columns.is_empty() {
        columns = columns_of(stages(session), &[]);
    }
    let template = BoardPage {
        nav: Some(session.nav("pipeline", "deal")),
        owner: filters.owner.clone().unwrap_or_default(),
        territory: filters.territory.clone().unwrap_or_default(),
        from: filters.from.clone().unwrap_or_default(),
        to: filters.to.clone().unwrap_or_default(),
        back: filters.href(),
        columns,
        error,
    };
    page::render(page::status_of(status, template.error.is_some()), &template)
}

/// The deals the user sees that pass `q`; `None` when there are too many.
async fn deals(
    state: &Arc<AppState>,
    session: &WebSession,
    q: &ReportQuery,
) -> Result<Option<Vec<Facts>>, ServerError> {
    let scope = FactsScope {
        kinds: vec![RecordKind::Deal],
        owner: q.owner.clone(),
        territory: q.territory.clone(),
        period: (q.from.is_some() || q.to.is_some()).then(|| PeriodScope {
            fields: vec!["expected_close"],
            from: q.from,
            to: q.to,
        }),
        ..FactsScope::default()
    };
    let access = session.access.clone();
    let loaded = state
        .db
        .read(move |c| record_index::report_facts(c, &access, &scope))
        .await?;
    let dated = q.from.is_some() || q.to.is_some();
    Ok(match loaded {
        Loaded::TooMany => None,
        Loaded::Facts(all) => Some(
            all.into_iter()
                .filter(|f| q.matches(f) && (!dated || q.in_period(f.due)))
                .collect(),
        ),
    })
}

/// The stages of deals under the user's policy, in pipeline order (the
/// organisation's `[picklists.deal] stage`, else the built-in ones).
fn stages(session: &WebSession) -> &'static [&'static str] {
    enum_values(&session.access, RecordKind::Deal, "stage")
}

/// One column per stage in force, in order, then one per other stage
/// deals still hold (a stage a later policy removed), by name.
fn columns_of(stages: &[&str], facts: &[Facts]) -> Vec<Column> {
    let mut by_stage: BTreeMap<&str, Vec<&Facts>> = BTreeMap::new();
    for f in facts {
        if let Some(stage) = f.stage.as_deref() {
            by_stage.entry(stage).or_default().push(f);
        }
    }
    let listed: Vec<(&str, Vec<&Facts>)> = stages
        .iter()
        .map(|stage| (*stage, by_stage.remove(stage).unwrap_or_default()))
        .collect();
    listed
        .into_iter()
        .chain(by_stage)
        .map(|(stage, mut deals)| {
            deals.sort_by(|a, b| {
                (a.due.is_none(), a.due, &a.title).cmp(&(b.due.is_none(), b.due, &b.title))
            });
            let count = deals.len();
            let hidden = count.saturating_sub(CARDS_PER_COLUMN);
            Column {
                stage: (*stage).to_owned(),
                label: page::label(stage),
                count,
                totals: totals(&deals),
                cards: deals
                    .iter()
                    .take(CARDS_PER_COLUMN)
                    .map(|f| deal_card(stages, f, stage))
                    .collect(),
                hidden,
            }
        })
        .collect()
}

/// Sums per currency, formatted; a sum out of range says so.
fn totals(deals: &[&Facts]) -> Vec<String> {
    let mut sums: BTreeMap<&str, i128> = BTreeMap::new();
    for f in deals {
        if let (Some(amount), Some(currency)) = (f.amount, f.currency.as_deref()) {
            *sums.entry(currency).or_default() += i128::from(amount);
        }
    }
    sums.into_iter()
        .map(|(currency, sum)| match i64::try_from(sum) {
            Ok(minor) => i18n::money(minor, currency),
            Err(_) => format!("more than can be shown in {currency}"),
        })
        .collect()
}

/// A deal's card; its move choices are the stages in force (a deal in a
/// removed stage shows it, selected, first).
fn deal_card(stages: &[&str], f: &Facts, stage: &str) -> DealCard {
    let id = f.id.to_string();
    DealCard {
        href: record_href(&id).unwrap_or_default(),
        action: format!("/web/deals/{id}/stage"),
        title: f.title.clone(),
        amount: match (f.amount, f.currency.as_deref()) {
            (Some(a), Some(c)) => i18n::money(a, c),
            (Some(a), None) => a.to_string(),
            _ => String::new(),
        },
        owner: f.responsible().unwrap_or_default().to_owned(),
        close: f
            .due
            .map(|t| i18n::date(jiff::tz::TimeZone::UTC.to_datetime(t).date()))
            .unwrap_or_default(),
        stages: (!stages.contains(&stage))
            .then_some(stage)
            .into_iter()
            .chain(stages.iter().copied())
            .map(|s| Choice {
                value: (*s).to_owned(),
                label: page::label(s),
                selected: s == stage,
            })
            .collect(),
        id,
    }
}

/// `POST /web/deals/{id}/stage`: moves a deal (field `stage`), then back
/// to the board (field `back`, a board address).
pub async fn move_deal(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let back = page::back_to(&fields, "/web/pipeline");
    let filters = back
        .split_once('?')
        .and_then(|(_, q)| form::query(Some(q)).ok())
        .map(|q| Filters::of(&q))
        .unwrap_or_default();
    let Ok(id) = query::record_id("deal", &id) else {
        let why = i18n::text("There is no such deal, or you may not see it.").to_owned();
        return board(&state, &session, filters, Some(why), StatusCode::NOT_FOUND).await;
    };
    let stage = fields.get("stage").unwrap_or_default().to_owned();
    if !stages(&session).contains(&stage.as_str()) {
        let why = format!("`{}` is not a stage of deals.", form::truncate(&stage, 40));
        return board(
            &state,
            &session,
            filters,
            Some(why),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let write = match FieldWrite::text(RecordKind::Deal, "stage", Some(&stage)) {
        Ok(w) => w,
        Err(e) => {
            let why = ServerError::from(e).to_string();
            return board(
                &state,
                &session,
                filters,
                Some(why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match moved(&state, &session, &id, write).await {
        Ok(()) => Redirect::to(&back).into_response(),
        Err((status, why)) => board(&state, &session, filters, Some(why), status).await,
    }
}

/// Writes the stage through the push path, then runs the process engine
/// (a trigger on the stage starts its instance, as on a phone).
async fn moved(
    state: &Arc<AppState>,
    session: &WebSession,
    id: &RecordId,
    write: FieldWrite,
) -> Result<(), (StatusCode, String)> {
    let (st, user, target) = (state.clone(), session.user.clone(), id.clone());
    let written = state
        .db
        .write(move |w| {
            Ok(crate::api::write::write(
                w,
                &st,
                &user,
                &target,
                false,
                vec![write],
            ))
        })
        .await;
    match written {
        Ok(Ok(_)) => {
            tracing::info!(user = %session.user.name, deal = %id, "deal moved on the web board");
            Ok(())
        }
        Ok(Err(p)) => Err((
            StatusCode::from_u16(p.status).unwrap_or(StatusCode::FORBIDDEN),
            i18n::refusals::refusal(&p),
        )),
        Err(e) => {
            let p = crate::api::problem::Problem::from(e);
            Err((
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                p.detail,
            ))
        }
    }
}
