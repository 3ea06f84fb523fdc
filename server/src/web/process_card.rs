//! The process card of an instance: its model and version, where it
//! stands, the steps it took with how and by whom each was left, its
//! controls and parameters, the Suspend, Resume and Stop buttons, and one
//! button per message its current step waits for ("reply received").
//!
//! The card is the API's: the page calls the handler of `GET
//! /v1/processes/instances/{id}` ([`crate::api::processes::get_instance`]),
//! so it shows what that endpoint shows the same user (activities only
//! when the user sees them). A button posts to
//! `/web/processes/instances/{id}/control`, which calls the handler of
//! `POST /v1/processes/instances/{id}/control`
//! ([`crate::api::processes::control`]) with the same JSON a program
//! would send: the runner checks the user's process right there, and a
//! refusal (`403 process_forbidden`, `409 control_not_applicable`) is
//! shown on the card with the server's message.
//!
//! Guarantees: a button is shown only when the control applies where the
//! instance stands and the user's role holds its right (asked of
//! [`fieldwork_core::Access::check_process`], the check the runner
//! makes); the POST is checked regardless (form token, same origin, then
//! the API's rights), and a refused one changes nothing; only the actions
//! of [`ACTIONS`] are accepted; an id longer than
//! [`MAX_ID`] bytes is not looked up.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;

use super::customers::record_href;
use super::form;
use super::i18n::{self, filters};
use super::page::{self, CheckedPost, Nav};
use super::session::WebSession;
use crate::api::processes::{CardOut, StatusName};
use crate::state::AppState;

/// Longest instance id looked up, in bytes.
pub const MAX_ID: usize = 200;

/// The controls offered on the page as buttons: (action, button).
const CONTROLS: &[(&str, &str)] = &[
    ("suspend", i18n::mark("Suspend")),
    ("resume", i18n::mark("Resume")),
    ("stop", i18n::mark("Stop")),
];

/// Every control the page's forms post: the buttons', a parameter's new
/// value and a move to another version of the model.
const ACTIONS: &[&str] = &[
    "suspend",
    "resume",
    "stop",
    "set_parameter",
    "migrate",
    "send_message",
];

/// Longest parameter name or value a form may send, in bytes (the API
/// bounds them again).
const MAX_PARAMETER: usize = 1000;

/// The statuses, as the API names them.
pub const STATUSES: &[(&str, StatusName)] = &[
    ("running", StatusName::Running),
    ("suspended", StatusName::Suspended),
    ("stopped", StatusName::Stopped),
    ("completed", StatusName::Completed),
];

/// The name of a status.
pub fn status_name(s: StatusName) -> &'static str {
    STATUSES
        .iter()
        .find(|(_, st)| *st == s)
        .map_or("running", |(n, _)| n)
}

/// The address of an instance's card.
pub fn instance_href(id: &str) -> String {
    let key = id.strip_prefix("process_instance:").unwrap_or(id);
    format!(
        "/web/processes/instances/{}",
        form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
    )
}

/// The user's time zone (UTC when unset or unknown; [`WebSession::zone`]).
pub fn time_zone(session: &WebSession) -> TimeZone {
    session.zone().0
}

/// An RFC 3339 instant to the minute in `tz`, written as the request's
/// language writes it (as given when it does not parse).
pub fn local_time(at: &str, tz: &TimeZone) -> String {
    match at.parse::<jiff::Timestamp>() {
        Ok(t) => i18n::date_time(t.to_zoned_datetime(tz.clone()).datetime()),
        Err(_) => at.to_owned(),
    }
}

/// A step taken.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// Its name.
    pub name: String,
    /// Its id.
    pub step: String,
    /// When it was entered.
    pub entered: String,
    /// When it was left (empty: the current step).
    pub left: String,
    /// How (`task`, `timer`, `deadline`, `auto`).
    pub via: String,
    /// By whom (`engine` for automatic steps).
    pub by: String,
    /// The activity it created, when the user sees it: (card, status).
    pub activity: Option<(String, String)>,
    /// The outcome its task was completed with, if it asked for one.
    pub outcome: String,
    /// Which path of a parallel step it lies on (`path 2`; empty: the
    /// main path).
    pub path: String,
    /// The card of the instance a call or start step started.
    pub called: Option<String>,
}

/// A control applied.
#[derive(Debug, Clone)]
pub struct ControlRow {
    /// `suspend`, `resume`, `stop`, `migrate`, `param`.
    pub kind: String,
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
    /// The version moved to, or the parameter set.
    pub detail: String,
}

/// A button.
#[derive(Debug, Clone)]
pub struct Button {
    /// The action posted.
    pub action: &'static str,
    /// Its text.
    pub label: &'static str,
}

/// The process card page.
#[derive(Template)]
#[template(path = "web/process_card.html")]
pub struct CardPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`instances`).
    pub tab: &'static str,
    /// The instance id.
    pub id: String,
    /// Where the buttons post.
    pub action: String,
    /// Model name.
    pub model_name: String,
    /// Model key.
    pub model: String,
    /// Version.
    pub version: i64,
    /// The record.
    pub record: String,
    /// Its card.
    pub record_href: Option<String>,
    /// Status.
    pub status: &'static str,
    /// The current step's name (empty: none).
    pub current: String,
    /// At a parallel step: the names of the steps its open paths wait at.
    pub open_paths: Vec<String>,
    /// Steps taken, the current one last.
    pub steps: Vec<StepRow>,
    /// Controls applied.
    pub controls: Vec<ControlRow>,
    /// Parameters.
    pub parameters: Vec<(String, String)>,
    /// When a timer wakes it next.
    pub wake_at: String,
    /// Why it cannot go on.
    pub stuck: Option<String>,
    /// The buttons the user may press.
    pub buttons: Vec<Button>,
    /// Ways out lost to a concurrent one.
    pub superseded: usize,
    /// A refusal, for people.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
    /// Why its tasks are held (suspended or stopped), when they are.
    pub held: Option<String>,
    /// Whether the user may change parameters here (right
    /// `change_parameters`, instance not ended).
    pub may_set: bool,
    /// The other versions of the model the user may move the instance to
    /// (right `migrate`, instance not ended); empty: no form.
    pub versions: Vec<i64>,
    /// The messages the current step waits for ("reply received").
    pub awaits: Vec<String>,
    /// Whether the user may send them (right `complete_tasks`, instance
    /// running).
    pub may_message: bool,
}

/// The card of instance `id` through the API's handler, or the answer to
/// give (`404` with the API's message).
async fn card(state: &Arc<AppState>, session: &WebSession, id: &str) -> Result<CardOut, Response> {
    let not_found = |detail: &str| {
        page::message_for(
            session,
            StatusCode::NOT_FOUND,
            i18n::text("Not found"),
            detail,
        )
    };
    if id.is_empty() || id.len() > MAX_ID {
        return Err(not_found(i18n::text("There is no such process instance.")));
    }
    match crate::api::processes::get_instance(
        State(state.clone()),
        Path(id.to_owned()),
        session.caller(),
    )
    .await
    {
        Ok(Json(card)) => Ok(card),
        Err(p) if p.status == 404 => Err(not_found(&p.detail)),
        Err(p) => Err(page::message_for(
            session,
            StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            i18n::text("Refused"),
            &p.detail,
        )),
    }
}

/// The buttons for `card`: controls that apply where it stands, whose
/// right the user's role holds.
fn buttons(session: &WebSession, status: StatusName) -> Vec<Button> {
    let may = |right: &str| {
        session
            .access
            .check_process(right, |p| match right {
                "stop" => p.stop,
                _ => p.suspend,
            })
            .is_ok()
    };
    CONTROLS
        .iter()
        .filter(|(action, _)| match (*action, status) {
            ("suspend", StatusName::Running) => may("suspend"),
            ("resume", StatusName::Suspended) => may("suspend"),
            ("stop", StatusName::Running | StatusName::Suspended) => may("stop"),
            _ => false,
        })
        .map(|(action, label)| Button {
            action,
            label: i18n::text(label),
        })
        .collect()
}

fn page_of(session: &WebSession, c: CardOut) -> CardPage {
    let tz = time_zone(session);
    let current = c
        .current
        .as_ref()
        .and_then(|cur| c.steps.iter().rev().find(|s| &s.step == cur))
        .map(|s| s.name.clone())
        .or(c.current.clone())
        .unwrap_or_default();
    let name_of = |id: &String| {
        c.steps
            .iter()
            .rev()
            .find(|s| &s.step == id)
            .map_or_else(|| id.clone(), |s| s.name.clone())
    };
    let open_paths = if c.open_steps.as_slice() == c.current.as_slice() {
        Vec::new()
    } else {
        c.open_steps.iter().map(name_of).collect()
    };
    CardPage {
        nav: Some(session.nav("processes", "")),
        tab: "instances",
        action: format!("{}/control", instance_href(&c.id)),
        buttons: buttons(session, c.status),
        model_name: c.model_name,
        model: c.model,
        version: c.version,
        record_href: record_href(&c.record),
        record: c.record,
        status: status_name(c.status),
        current,
        open_paths,
        steps: c
            .steps
            .into_iter()
            .map(|s| StepRow {
                name: s.name,
                step: s.step,
                entered: local_time(&s.entered_at, &tz),
                left: s.left_at.map(|t| local_time(&t, &tz)).unwrap_or_default(),
                via: s.via.unwrap_or_default(),
                by: s.by.unwrap_or_default(),
                activity: s
                    .activity
                    .and_then(|a| record_href(&a.id).map(|href| (href, a.status))),
                outcome: s.outcome.unwrap_or_default(),
                path: s.path.as_deref().map(path_name).unwrap_or_default(),
                called: s.called.as_deref().map(instance_href),
            })
            .collect(),
        controls: c
            .controls
            .into_iter()
            .map(|k| ControlRow {
                detail: match (k.version, k.parameter) {
                    (Some(v), _) => i18n::fill("to version {0}", &[&v]),
                    (None, Some((n, v))) => format!("{n} = {v}"),
                    _ => String::new(),
                },
                kind: k.kind,
                at: local_time(&k.at, &tz),
                by: k.by,
            })
            .collect(),
        parameters: c.parameters.into_iter().collect(),
        wake_at: c.wake_at.map(|t| local_time(&t, &tz)).unwrap_or_default(),
        stuck: c.stuck,
        held: c.held,
        superseded: c.superseded,
        id: c.id,
        error: None,
        notice: None,
        may_set: may_control(session, c.status, "change_parameters"),
        may_message: c.status == StatusName::Running
            && session
                .access
                .check_process("complete_tasks", |p| p.complete_tasks)
                .is_ok(),
        awaits: c.awaits,
        versions: Vec::new(),
    }
}

/// A path scope (`0000.prepare.1`) as people read it: `path 2`.
fn path_name(scope: &str) -> String {
    let k = scope
        .rsplit('.')
        .next()
        .and_then(|k| k.parse::<usize>().ok())
        .map_or(0, |k| k + 1);
    i18n::fill("path {0}", &[&k])
}

/// Whether the user's role holds process right `right` and the instance,
/// at `status`, has not ended.
fn may_control(session: &WebSession, status: StatusName, right: &str) -> bool {
    let open = matches!(status, StatusName::Running | StatusName::Suspended);
    open && session
        .access
        .check_process(right, |p| match right {
            "migrate" => p.migrate,
            _ => p.change_parameters,
        })
        .is_ok()
}

/// The other published versions of `model` the user may move an instance
/// at `version` and `status` to (none without the right `migrate`).
async fn other_versions(
    state: &Arc<AppState>,
    session: &WebSession,
    model: &str,
    version: i64,
    status: StatusName,
) -> Vec<i64> {
    if !may_control(session, status, "migrate") {
        return Vec::new();
    }
    match crate::api::processes::list_models(State(state.clone()), session.caller()).await {
        Ok(Json(models)) => models
            .into_iter()
            .filter(|m| m.key == model && m.version != version)
            .map(|m| m.version)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A card page with its version choices, for `c`.
async fn full_page(state: &Arc<AppState>, session: &WebSession, c: CardOut) -> CardPage {
    let (model, version, status) = (c.model.clone(), c.version, c.status);
    let mut view = page_of(session, c);
    view.versions = other_versions(state, session, &model, version, status).await;
    view
}

/// `GET /web/processes/instances/{id}`: the card.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    session: WebSession,
    RawQuery(raw): RawQuery,
) -> Response {
    let c = match card(&state, &session, &id).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let done = form::query(raw.as_deref())
        .ok()
        .and_then(|q| q.get("done").map(str::to_owned));
    let mut view = full_page(&state, &session, c).await;
    view.notice = match done.as_deref() {
        Some("suspend") => Some(i18n::text("The instance is suspended.").to_owned()),
        Some("resume") => Some(i18n::text("The instance runs again.").to_owned()),
        Some("stop") => Some(i18n::text("The instance is stopped.").to_owned()),
        Some("set_parameter") => Some(i18n::text("The parameter is changed.").to_owned()),
        Some("send_message") => Some(i18n::text("The message is sent.").to_owned()),
        Some("migrate") => Some(i18n::fill(
            "The instance runs on version {0} now.",
            &[&view.version],
        )),
        _ => None,
    };
    page::render(StatusCode::OK, &view)
}

/// `POST /web/processes/instances/{id}/control`: suspends, resumes,
/// stops, sets a parameter of or migrates the instance through the API's
/// handler, with the user's rights.
pub async fn control(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let Some(&action) = ACTIONS.iter().find(|a| Some(**a) == fields.get("action")) else {
        let text = i18n::text("The action must be suspend, resume or stop.");
        return page::message_for(
            &session,
            StatusCode::BAD_REQUEST,
            i18n::text("Request refused"),
            text,
        );
    };
    let bounded = |name: &str| {
        fields
            .get(name)
            .map(str::trim)
            .filter(|v| v.len() <= MAX_PARAMETER)
            .map(str::to_owned)
    };
    let body = match action {
        "set_parameter" => serde_json::json!({
            "action": action,
            "name": bounded("name"),
            "value": bounded("value"),
        }),
        "send_message" => serde_json::json!({
            "action": action,
            "name": bounded("name"),
        }),
        "migrate" => serde_json::json!({
            "action": action,
            "version": fields.get("version").and_then(|v| v.trim().parse::<i64>().ok()),
        }),
        _ => serde_json::json!({ "action": action }),
    };
    if id.is_empty() || id.len() > MAX_ID {
        let text = i18n::text("There is no such process instance.");
        return page::message_for(
            &session,
            StatusCode::NOT_FOUND,
            i18n::text("Not found"),
            text,
        );
    }
    let mut json_headers = HeaderMap::new();
    json_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let answer = crate::api::processes::control(
        State(state.clone()),
        Path(id.clone()),
        session.caller(),
        json_headers,
        Body::from(body.to_string()),
    )
    .await;
    match answer {
        Ok(Json(c)) => {
            Redirect::to(&format!("{}?done={action}", instance_href(&c.id))).into_response()
        }
        Err(p) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            let c = match card(&state, &session, &id).await {
                Ok(c) => c,
                Err(answer) => return answer,
            };
            let mut view = full_page(&state, &session, c).await;
            view.error = Some(i18n::refusals::refusal(&p));
            page::render(status, &view)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::process::tasks;

    #[test]
    fn addresses_and_times() {
        assert_eq!(
            instance_href("process_instance:01AB"),
            "/web/processes/instances/01AB"
        );
        assert_eq!(instance_href("a/b?c"), "/web/processes/instances/a%2Fb%3Fc");
        let madrid = tasks::zone(Some("Europe/Madrid")).expect("zone");
        assert_eq!(
            local_time("2027-01-04T09:00:00Z", &madrid),
            "2027-01-04 10:00"
        );
        assert_eq!(local_time("not a time", &madrid), "not a time");
    }
}
