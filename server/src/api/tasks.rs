//! A user's tasks and calendar as JSON, for the office: what is overdue,
//! due today and coming up, and a week's activities by time, in the user's
//! time zone.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/tasks?user=NAME&tz=ZONE` | open activities, bucketed: overdue, today, upcoming, undated |
//! | GET | `/v1/calendar?user=NAME&from=DATE&to=DATE&tz=ZONE` | activities from local day `from` to `to`, by time |
//!
//! `user` defaults to the caller; `tz` to the user's own time zone, else
//! UTC. A user's activities are those assigned to them, or owned by them
//! without an assignee (as in their calendar feed). The buckets and local
//! days are the device's ([`fieldwork_core::process::tasks`]), so the office
//! and the phone agree on what "today" is.
//!
//! Guarantees:
//! - only activities the caller sees, read through the classes the caller
//!   may read (asking for another user's tasks shows the part of them the
//!   caller may see, never more);
//! - bounded: at most [`MAX_ACTIVITIES`] activities of a user are looked at
//!   and a calendar spans at most [`MAX_DAYS`] days; an unknown user is
//!   `404`, a bad time zone or date `422`/`400`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::tasks::{self, Item, TaskList};
use fieldwork_core::summary::Summary;
use fieldwork_core::{Access, RecordId, RecordKind};
use jiff::Timestamp;
use rusqlite::Connection;
use serde::Serialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::read;
use crate::db::{calendar_feeds, users};
use crate::error::{Result, ServerError};
use crate::state::AppState;

/// Most activities of one user looked at per request.
pub const MAX_ACTIVITIES: usize = 5_000;
/// Longest calendar span, in days.
pub const MAX_DAYS: i64 = 92;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/tasks", get(task_list))
        .route("/v1/calendar", get(calendar))
}

/// One activity in a task list or calendar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskItem {
    /// The activity's id.
    pub id: String,
    /// call, meeting, visit, email or task.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its subject.
    pub subject: String,
    /// planned, done or cancelled.
    pub status: String,
    /// Due (tasks) or start (others), UTC, RFC 3339.
    pub at: Option<String>,
    /// The same instant in the time zone asked for.
    pub local: Option<String>,
    /// Who it is for.
    pub assignee: Option<String>,
}

/// A user's open activities, bucketed in a time zone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TasksOut {
    /// Whose tasks.
    pub user: String,
    /// The time zone of "today".
    pub time_zone: String,
    /// Due before now and still open.
    pub overdue: Vec<TaskItem>,
    /// Due later today (local day).
    pub today: Vec<TaskItem>,
    /// Due after today.
    pub upcoming: Vec<TaskItem>,
    /// Open, with no date.
    pub undated: Vec<TaskItem>,
}

/// A user's activities over some days.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarOut {
    /// Whose calendar.
    pub user: String,
    /// The time zone of the days.
    pub time_zone: String,
    /// The activities, by time.
    pub items: Vec<TaskItem>,
}

impl From<Item> for TaskItem {
    fn from(i: Item) -> Self {
        TaskItem {
            id: i.id,
            kind: i.kind,
            subject: i.subject,
            status: i.status,
            at: i.at.map(|t| t.to_string()),
            local: i.local,
            assignee: i.assignee,
        }
    }
}

/// The parameters both endpoints take.
#[derive(Debug, Default)]
struct Params {
    user: Option<String>,
    tz: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl Params {
    /// Parses the query string; `dates` allows `from` and `to`.
    fn parse(raw: &str, dates: bool) -> ApiResult<Params> {
        let mut p = Params::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            if value.len() > 200 {
                return Err(Problem::bad_request(format!("`{key}` is too long")));
            }
            let slot = match key.as_ref() {
                "user" => &mut p.user,
                "tz" => &mut p.tz,
                "from" if dates => &mut p.from,
                "to" if dates => &mut p.to,
                other => {
                    return Err(Problem::bad_request(format!("unknown parameter `{other}`")));
                }
            };
            *slot = Some(value.into_owned());
        }
        Ok(p)
    }
}

/// The open activities of a user the caller sees, bucketed.
#[utoipa::path(get, path = "/v1/tasks", tag = "tasks",
    params(
        ("user" = Option<String>, Query, description = "whose tasks (default: the caller)"),
        ("tz" = Option<String>, Query, description = "IANA time zone of \"today\" (default: the user's, else UTC)"),
    ),
    responses(
        (status = 200, body = TasksOut),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such user"),
    ))]
pub async fn task_list(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Json<TasksOut>> {
    caller.may_read(RecordKind::Activity)?;
    let p = Params::parse(raw.as_deref().unwrap_or(""), false)?;
    let now = state.clock.now();
    let actor = super::write::actor_for(&state.actor, &caller.user);
    let out = state
        .db
        .read(move |c| {
            let (user, tz_name, zone) = match whose(c, &caller, &p)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let open: Vec<Summary> = activities_seen(c, &caller.access, &user, &actor)?
                .into_iter()
                .filter(|s| s.status.as_deref() == Some("planned"))
                .collect();
            let list = tasks::bucket(&open, now, &zone, &tz_name);
            Ok(Ok(tasks_out(user, list)))
        })
        .await?;
    Ok(Json(out?))
}

/// A user's activities the caller sees, from local day `from` to `to`.
#[utoipa::path(get, path = "/v1/calendar", tag = "tasks",
    params(
        ("user" = Option<String>, Query, description = "whose calendar (default: the caller)"),
        ("from" = String, Query, description = "first local day, YYYY-MM-DD"),
        ("to" = String, Query, description = "last local day, YYYY-MM-DD (at most 92 days after `from`)"),
        ("tz" = Option<String>, Query, description = "IANA time zone of the days (default: the user's, else UTC)"),
    ),
    responses(
        (status = 200, body = CalendarOut),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such user"),
    ))]
pub async fn calendar(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Json<CalendarOut>> {
    caller.may_read(RecordKind::Activity)?;
    let p = Params::parse(raw.as_deref().unwrap_or(""), true)?;
    let (from, to) = days(&p)?;
    let actor = super::write::actor_for(&state.actor, &caller.user);
    let out = state
        .db
        .read(move |c| {
            let (user, tz_name, zone) = match whose(c, &caller, &p)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let (start, end) = tasks::day_bounds(from, to, &zone);
            let mut items: Vec<Item> = activities_seen(c, &caller.access, &user, &actor)?
                .iter()
                .map(|s| tasks::item(s, &zone))
                .filter(|i| i.at.is_some_and(|t| t >= start && t < end))
                .collect();
            items.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
            Ok(Ok(CalendarOut {
                user,
                time_zone: tz_name,
                items: items.into_iter().map(TaskItem::from).collect(),
            }))
        })
        .await?;
    Ok(Json(out?))
}

/// `from` and `to` as dates, `to` not before `from` nor more than
/// [`MAX_DAYS`] after it.
fn days(p: &Params) -> ApiResult<(jiff::civil::Date, jiff::civil::Date)> {
    let date = |name: &str, v: &Option<String>| -> ApiResult<jiff::civil::Date> {
        let text = v
            .as_deref()
            .ok_or_else(|| Problem::bad_request(format!("`{name}` is required (YYYY-MM-DD)")))?;
        tasks::date(text).map_err(|e| Problem::bad_request(format!("`{name}`: {e}")))
    };
    let (from, to) = (date("from", &p.from)?, date("to", &p.to)?);
    let span = from.until(to).map(|s| s.get_days()).unwrap_or(-1);
    if !(0..=MAX_DAYS).contains(&i64::from(span)) {
        return Err(Problem::bad_request(format!(
            "`to` must be on or after `from` and at most {MAX_DAYS} days later"
        )));
    }
    Ok((from, to))
}

/// Whose list, in which time zone: (user name, zone name, zone). An
/// unknown user or time zone is the problem to answer.
fn whose(
    c: &Connection,
    caller: &Caller,
    p: &Params,
) -> Result<std::result::Result<(String, String, jiff::tz::TimeZone), Problem>> {
    let user = match p.user.as_deref() {
        None => caller.user.clone(),
        Some(name) => match users::by_name(c, name)? {
            Some(u) => u,
            None => return Ok(Err(Problem::not_found(format!("no user `{name}`")))),
        },
    };
    let tz_name = p.tz.clone().or_else(|| user.time_zone.clone());
    let zone = match tasks::zone(tz_name.as_deref()) {
        Ok(z) => z,
        Err(e) => return Ok(Err(Problem::from(ServerError::from(e)))),
    };
    Ok(Ok((
        user.name,
        tz_name.unwrap_or_else(|| "UTC".into()),
        zone,
    )))
}

/// The list rows of `user`'s activities that `access` sees, each made of
/// the fields `access` may read (also the web calendar's).
pub(crate) fn activities_seen(
    c: &Connection,
    access: &Access,
    user: &str,
    actor: &ActorId,
) -> Result<Vec<Summary>> {
    let mut out = Vec::new();
    for id in calendar_feeds::activities_of(c, user, MAX_ACTIVITIES)? {
        let Ok(id) = id.parse::<RecordId>() else {
            continue;
        };
        let Some(mut docs) = read::readable_docs(c, access, &id, actor)? else {
            continue;
        };
        let (record, updated) = read::assemble(&id, &mut docs)?;
        let updated = Timestamp::from_second(updated).ok();
        out.push(Summary::of_record(&record, updated));
    }
    Ok(out)
}

fn tasks_out(user: String, list: TaskList) -> TasksOut {
    let items = |v: Vec<Item>| v.into_iter().map(TaskItem::from).collect();
    TasksOut {
        user,
        time_zone: list.time_zone,
        overdue: items(list.overdue),
        today: items(list.today),
        upcoming: items(list.upcoming),
        undated: items(list.undated),
    }
}
