//! The calendar and tasks page: the user's activities of one ISO week by
//! day in the user's time zone, the open ones already overdue, and for a
//! manager a "team" view of the activities of everyone they manage; each
//! open activity can be completed with its outcome.
//!
//! Reads are the office API's (`GET /v1/calendar`, `GET /v1/tasks`): a
//! user's activities are [`calendar_feeds::activities_of`] (assigned to
//! them, or owned by them with no assignee), each read through the classes
//! the signed-in user may read ([`read::readable_docs`]), bucketed and
//! placed on local days by the device's functions
//! ([`fieldwork_core::process::tasks`]). Completing writes `status=done`
//! and the outcome (the writes of `POST /v1/tasks/{id}/complete`) through
//! the push path and then runs the process engine as a device does after
//! its own write ([`crate::api::write::write`]), so a process task
//! advances its instance as it does from a phone.
//!
//! Guarantees: only activities and fields the user may read appear; a week
//! is `YYYY-Www` or refused with a message; at most
//! [`tasks_api::MAX_ACTIVITIES`] activities per person and
//! [`MAX_TEAM`] people are read; a completion is a checked POST (form
//! token, same origin) refused by the server like a device's change when
//! the user may not make it, and its outcome is bounded ([`MAX_OUTCOME`]).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::card::creatable_fields;
use fieldwork_core::edit::FieldWrite;
use fieldwork_core::process::tasks::{self, Item};
use fieldwork_core::summary::Summary;
use fieldwork_core::{RecordId, RecordKind};
use jiff::Timestamp;
use jiff::civil::{Date, ISOWeekDate, Weekday};
use jiff::tz::TimeZone;

use super::customers::record_href;
use super::form::{self, Pairs};
use super::i18n::{self, filters};
use super::page::{self, CheckedPost, Nav, SignedInGet};
use super::session::WebSession;
use super::task_outcome::{self, Ask};
use crate::api::tasks as tasks_api;
use crate::api::{query, write};
use crate::db::users;
use crate::error::Result;
use crate::state::AppState;

/// Most people shown in the team view.
pub const MAX_TEAM: usize = 50;

/// Longest outcome, in bytes.
pub const MAX_OUTCOME: usize = 4000;

/// Most overdue activities listed (the rest are counted).
const MAX_OVERDUE: usize = 200;

/// One activity on the page.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id.
    pub id: String,
    /// Its card's address.
    pub href: String,
    /// call, meeting, visit, email or task.
    pub kind: String,
    /// Its subject.
    pub subject: String,
    /// planned, done or cancelled.
    pub status: String,
    /// How its Done form asks for the outcome (a process task's form).
    pub ask: Ask,
    /// The choices of a `choice` outcome, with their labels.
    pub choices: Vec<(String, String)>,
    /// The status in the request's language.
    pub status_label: String,
    /// Its local time (`HH:MM`), or local date and time for overdue ones.
    pub time: String,
    /// Its instant, RFC 3339 (for `<time datetime>`).
    pub at: String,
    /// Who it is for.
    pub who: String,
    /// Open and due before now.
    pub overdue: bool,
    /// Where its completion form posts (empty: not open).
    pub action: String,
}

/// One local day of the week.
#[derive(Debug, Clone)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// For people: `Monday 7 December`.
    pub label: String,
    /// Whether it is today.
    pub today: bool,
    /// Its activities, by time.
    pub entries: Vec<Entry>,
}

/// The calendar page.
#[derive(Template)]
#[template(path = "web/calendar.html")]
pub struct CalendarPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The week shown, `YYYY-Www`.
    pub week: String,
    /// The time zone of the days.
    pub time_zone: String,
    /// Whether the team is shown.
    pub team: bool,
    /// Whether the user manages anyone (the switch is offered).
    pub manages: bool,
    /// Whether the user may create activities (the New activity link).
    pub may_create: bool,
    /// The previous week's address.
    pub prev: String,
    /// The next week's address.
    pub next: String,
    /// This week's address without the team switch toggled.
    pub toggle: String,
    /// This page's address (completions come back here).
    pub back: String,
    /// Open activities due before now, any week.
    pub overdue: Vec<Entry>,
    /// Overdue ones not listed.
    pub overdue_hidden: usize,
    /// Open activities with no date (at most [`MAX_OVERDUE`]).
    pub undated: Vec<Entry>,
    /// How many more have no date.
    pub undated_hidden: usize,
    /// The seven days.
    pub days: Vec<Day>,
    /// A refusal, for people.
    pub error: Option<String>,
    /// A confirmation, for people.
    pub notice: Option<String>,
}

/// What the page shows: a week, mine or my team's.
#[derive(Debug, Clone)]
struct View {
    week: Option<String>,
    team: bool,
}

impl View {
    fn of(q: &Pairs) -> View {
        View {
            week: q.text("week", 10),
            team: q.get("team") == Some("1"),
        }
    }

    fn href(week: &str, team: bool) -> String {
        let team = if team { "&team=1" } else { "" };
        format!("/web/calendar?week={week}{team}")
    }
}

/// `GET /web/calendar`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    let notice =
        (q.get("done") == Some("1")).then(|| i18n::text("The activity is done.").to_owned());
    calendar(&state, &session, View::of(&q), None, notice, StatusCode::OK).await
}

/// Parses `YYYY-Www` into its Monday.
pub fn parse_week(text: &str) -> Option<Date> {
    let (year, week) = text.split_once("-W")?;
    if year.len() != 4 || week.len() != 2 {
        return None;
    }
    let year: i16 = year.parse().ok()?;
    let week: i8 = week.parse().ok()?;
    ISOWeekDate::new(year, week, Weekday::Monday)
        .ok()
        .map(ISOWeekDate::date)
}

/// The ISO week of `day`, `YYYY-Www`.
pub fn week_of(day: Date) -> String {
    let w = day.iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

/// The user's time zone (UTC when unset or unknown), with its name.
/// What is read for the page.
struct Loaded {
    /// Open activities already due.
    overdue: Vec<Item>,
    /// Open activities with no date.
    undated: Vec<Item>,
    /// The week's activities.
    items: Vec<Item>,
    /// Whether the user manages anyone.
    manages: bool,
    /// The outcome forms of open process tasks, by activity id.
    asks: HashMap<String, Ask>,
}

async fn calendar(
    state: &Arc<AppState>,
    session: &WebSession,
    view: View,
    mut error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let (zone, tz_name) = session.zone();
    let now = state.clock.now();
    let today = now.to_zoned_datetime(zone.clone()).date();
    let monday = match view.week.as_deref().map(parse_week) {
        None => parse_week(&week_of(today)).unwrap_or(today),
        Some(Some(d)) => d,
        Some(None) => {
            error = Some(i18n::text("The week must be written YYYY-Www, like 2026-W49.").into());
            parse_week(&week_of(today)).unwrap_or(today)
        }
    };
    let loaded = load(state, session, &zone, monday, now, view.team).await;
    let Loaded {
        overdue,
        undated,
        items,
        manages,
        asks,
    } = match loaded {
        Ok(l) => l,
        Err(e) => return page::server_error(&e),
    };
    let week = week_of(monday);
    let step = |d: Option<Date>| d.map(week_of).unwrap_or_else(|| week.clone());
    let prev = step(monday.yesterday().ok());
    let next = step(monday.checked_add(jiff::Span::new().days(7)).ok());
    let team = view.team && manages;
    let overdue_hidden = overdue.len().saturating_sub(MAX_OVERDUE);
    let template = CalendarPage {
        nav: Some(session.nav("calendar", "activity")),
        may_create: session.access.policy().is_some_and(|policy| {
            !creatable_fields(&session.access, policy, RecordKind::Activity).is_empty()
        }),
        time_zone: tz_name,
        team,
        manages,
        prev: View::href(&prev, team),
        next: View::href(&next, team),
        toggle: View::href(&week, !team),
        back: View::href(&week, team),
        overdue: overdue
            .iter()
            .take(MAX_OVERDUE)
            .map(|i| entry(i, now, &zone, true, &asks))
            .collect(),
        overdue_hidden,
        undated_hidden: undated.len().saturating_sub(MAX_OVERDUE),
        undated: undated
            .iter()
            .take(MAX_OVERDUE)
            .map(|i| entry(i, now, &zone, true, &asks))
            .collect(),
        days: days_of(monday, today, &items, now, &zone, &asks),
        week,
        error,
        notice,
    };
    page::render(page::status_of(status, template.error.is_some()), &template)
}

/// Reads the overdue activities and those of the week starting `monday`.
async fn load(
    state: &Arc<AppState>,
    session: &WebSession,
    zone: &TimeZone,
    monday: Date,
    now: Timestamp,
    team: bool,
) -> Result<Loaded> {
    let access = session.access.clone();
    let me = session.user.name.clone();
    let actor = write::actor_for(&state.actor, &session.user);
    let zone = zone.clone();
    let sunday = monday
        .checked_add(jiff::Span::new().days(6))
        .unwrap_or(monday);
    state
        .db
        .read(move |c| {
            let mut team_names = users::team_of(c, &me)?;
            team_names.truncate(MAX_TEAM);
            let manages = !team_names.is_empty();
            let mut people = vec![me];
            if team && manages {
                people.extend(team_names);
            }
            let mut seen = Vec::new();
            for person in &people {
                seen.extend(tasks_api::activities_seen(c, &access, person, &actor)?);
            }
            seen.sort_by_cached_key(|s| s.id.to_string());
            seen.dedup_by(|a, b| a.id == b.id);
            let open: Vec<Summary> = seen
                .iter()
                .filter(|s| s.status.as_deref() == Some("planned"))
                .cloned()
                .collect();
            let buckets = tasks::bucket(&open, now, &zone, "");
            let (overdue, undated) = (buckets.overdue, buckets.undated);
            let (start, end) = tasks::day_bounds(monday, sunday, &zone);
            let mut items: Vec<Item> = seen
                .iter()
                .map(|s| tasks::item(s, &zone))
                .filter(|i| i.at.is_some_and(|t| t >= start && t < end))
                .collect();
            items.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
            let open: Vec<String> = overdue
                .iter()
                .take(MAX_OVERDUE)
                .chain(undated.iter().take(MAX_OVERDUE))
                .chain(&items)
                .filter(|i| i.status == "planned")
                .map(|i| i.id.clone())
                .collect();
            let asks = task_outcome::forms(c, &access, &actor, &open)?;
            Ok(Loaded {
                overdue,
                undated,
                items,
                manages,
                asks,
            })
        })
        .await
}

fn days_of(
    monday: Date,
    today: Date,
    items: &[Item],
    now: Timestamp,
    zone: &TimeZone,
    asks: &HashMap<String, Ask>,
) -> Vec<Day> {
    let mut days = Vec::new();
    let mut day = monday;
    for _ in 0..7 {
        let entries = items
            .iter()
            .filter(|i| i.at.map(|t| t.to_zoned_datetime(zone.clone()).date()) == Some(day))
            .map(|i| entry(i, now, zone, false, asks))
            .collect();
        days.push(Day {
            date: day.to_string(),
            label: i18n::current().day_heading(day),
            today: day == today,
            entries,
        });
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    days
}

fn entry(
    i: &Item,
    now: Timestamp,
    zone: &TimeZone,
    with_date: bool,
    asks: &HashMap<String, Ask>,
) -> Entry {
    let open = i.status == "planned";
    let local = i.at.map(|t| t.to_zoned_datetime(zone.clone()));
    Entry {
        href: record_href(&i.id).unwrap_or_default(),
        kind: page::label(&i.kind),
        subject: i.subject.clone(),
        status: i.status.clone(),
        ask: asks.get(&i.id).cloned().unwrap_or_default(),
        choices: asks
            .get(&i.id)
            .map(|a| {
                a.choices
                    .iter()
                    .map(|c| (c.clone(), page::label(c)))
                    .collect()
            })
            .unwrap_or_default(),
        status_label: page::label(&i.status),
        time: local
            .map(|z| match with_date {
                true => i18n::date_time(z.datetime()),
                false => z.strftime("%H:%M").to_string(),
            })
            .unwrap_or_default(),
        at: i.at.map(|t| t.to_string()).unwrap_or_default(),
        who: i.assignee.clone().unwrap_or_default(),
        overdue: open && i.at.is_some_and(|t| t < now),
        action: if open {
            format!("/web/tasks/{}/complete", i.id)
        } else {
            String::new()
        },
        id: i.id.clone(),
    }
}

/// `POST /web/tasks/{id}/complete`: marks an activity done with its
/// outcome (field `outcome`), then back to the calendar (field `back`).
pub async fn complete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let back = page::back_to(&fields, "/web/calendar");
    let view = back
        .split_once('?')
        .and_then(|(_, q)| form::query(Some(q)).ok())
        .map(|q| View::of(&q))
        .unwrap_or(View {
            week: None,
            team: false,
        });
    let refuse = |status, why: String| (status, why);
    let result = match query::record_id("activity", &id) {
        Err(_) => Err(refuse(
            StatusCode::NOT_FOUND,
            i18n::text("There is no such activity, or you may not see it.").into(),
        )),
        Ok(id) => match completion(fields.get("outcome").unwrap_or_default()) {
            Err(why) => Err(refuse(StatusCode::UNPROCESSABLE_ENTITY, why)),
            Ok(writes) => completed(&state, &session, &id, writes).await,
        },
    };
    match result {
        Ok(()) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{back}{sep}done=1")).into_response()
        }
        Err((status, why)) => calendar(&state, &session, view, Some(why), None, status).await,
    }
}

/// The writes of a completion: `status=done`, and the outcome when given
/// (the writes of `POST /v1/tasks/{id}/complete`).
fn completion(outcome: &str) -> std::result::Result<Vec<FieldWrite>, String> {
    let outcome = outcome.trim();
    if outcome.len() > MAX_OUTCOME {
        return Err(format!("The outcome may have at most {MAX_OUTCOME} bytes."));
    }
    let text = |field: &str, value: &str| {
        FieldWrite::text(RecordKind::Activity, field, Some(value))
            .map_err(|e| crate::error::ServerError::from(e).to_string())
    };
    let mut writes = vec![text("status", "done")?];
    if !outcome.is_empty() {
        writes.push(text("outcome", outcome)?);
    }
    Ok(writes)
}

/// Writes the completion through the push path.
async fn completed(
    state: &Arc<AppState>,
    session: &WebSession,
    id: &RecordId,
    writes: Vec<FieldWrite>,
) -> std::result::Result<(), (StatusCode, String)> {
    let (st, user, target) = (state.clone(), session.user.clone(), id.clone());
    let written = state
        .db
        .write(move |w| {
            Ok(crate::api::write::write(
                w, &st, &user, &target, false, writes,
            ))
        })
        .await;
    let problem = match written {
        Ok(Ok(_)) => {
            tracing::info!(user = %session.user.name, activity = %id, "activity completed on the web");
            return Ok(());
        }
        Ok(Err(p)) => p,
        Err(e) => crate::api::problem::Problem::from(e),
    };
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::FORBIDDEN);
    Err((status, i18n::refusals::refusal(&problem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_and_print_as_iso_weeks() {
        let monday = parse_week("2026-W49").expect("a week");
        assert_eq!(monday.to_string(), "2026-11-30");
        assert_eq!(week_of(monday), "2026-W49");
        assert_eq!(week_of("2027-01-01".parse().expect("date")), "2026-W53");
        for bad in [
            "", "2026-W", "2026-W60", "2026-49", "26-W01", "2026-W1x", "x-W01", "2026-W00",
        ] {
            assert!(parse_week(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_completion_writes_done_and_a_bounded_outcome() {
        assert_eq!(completion("").expect("ok").len(), 1);
        assert_eq!(completion("  Signed  ").expect("ok").len(), 2);
        assert!(completion(&"x".repeat(MAX_OUTCOME + 1)).is_err());
    }
}
