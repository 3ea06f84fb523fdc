//! A record's field history: who changed which field, when, from what to
//! what, newest first.
//!
//! The entries are the office API's: the page calls the handler of `GET
//! /v1/records/{kind}/{id}/history` ([`crate::api::records::history`])
//! as the signed-in user, which reads only the class documents the user
//! may read, so a field of another class (a rep and `credit_limit`) never
//! appears, not even as a name. The old value of a change is the value
//! the previous change of the same field (in that history) set.
//!
//! Guarantees: a record the user does not see is "not found", like one
//! that does not exist; the page lists at most [`PAGE`] changes, with
//! links to older and newer ones and the count of the rest; times are in
//! the user's time zone (UTC when none).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::card::card_href;
use super::form;
use super::i18n::{self, filters};
use super::page::{self, Nav};
use super::session::WebSession;
use crate::api::{query, read, records, write};
use crate::state::AppState;
use fieldwork_core::RecordId;
use fieldwork_core::schema;

/// Changes of fields listed on one page.
pub const PAGE: usize = 50;

/// One changed field.
#[derive(Debug, Clone)]
pub struct Row {
    /// When, in the user's time zone.
    pub at: String,
    /// Who (the user the change is signed with).
    pub who: String,
    /// The field's name.
    pub field: String,
    /// Its name for people.
    pub label: String,
    /// The value before, when an earlier change set one.
    pub old: Option<String>,
    /// What it became.
    pub new: String,
}

/// The history page.
#[derive(Template)]
#[template(path = "web/history.html")]
pub struct HistoryPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The record's display name.
    pub title: String,
    /// Its card's address.
    pub card: String,
    /// The user's time zone.
    pub zone: String,
    /// The changes on this page, newest first.
    pub rows: Vec<Row>,
    /// The newer page, when this is not the first.
    pub newer: Option<String>,
    /// The older page, when there are more.
    pub older: Option<String>,
    /// How many older changes there are beyond this page.
    pub rest: usize,
}

/// `GET /web/records/{kind}/{id}/history?skip=N`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    session: WebSession,
) -> Response {
    let Ok(rid) = query::record_id(&kind, &id) else {
        return not_found(&session);
    };
    let skip = match form::query(raw.as_deref()) {
        Ok(q) => q
            .get("skip")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(0),
        Err(e) => {
            return page::message_for(&session, e.status, i18n::text("Bad address"), &e.message);
        }
    };
    let entries = match records::history(State(state.clone()), Path((kind, id)), session.caller())
        .await
    {
        Ok(axum::Json(entries)) => entries,
        Err(p) if p.status == 404 => return not_found(&session),
        Err(p) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            return page::message_for(&session, status, i18n::text("History refused"), &p.detail);
        }
    };
    let access = session.access.clone();
    let actor = write::actor_for(&state.actor, &session.user);
    let target = rid.clone();
    let title = match state
        .db
        .read(move |c| read::card(c, &access, &target, &actor))
        .await
    {
        Ok(Some((card, _))) => card.title,
        Ok(None) => return not_found(&session),
        Err(e) => return page::server_error(&e),
    };
    let (tz, zone_name) = session.zone();
    // Oldest first, as the API answers: each change's old value is what
    // the one before set.
    let mut last: HashMap<String, String> = HashMap::new();
    // The record's currencies as of each change, so money reads as on the
    // card (a currency set with its amount counts for it).
    let mut currencies: HashMap<String, String> = HashMap::new();
    let kind = rid.kind();
    let read = |field: &str, raw: &str, currencies: &HashMap<String, String>| {
        let currency = schema::currency_field(kind, field).and_then(|c| currencies.get(c));
        i18n::values::shown(kind, field, raw, currency.map(String::as_str), &tz)
            .unwrap_or_else(|| raw.to_owned())
    };
    let mut rows = Vec::new();
    for entry in entries {
        for change in &entry.fields {
            let is_currency = schema::field(kind, &change.field)
                .is_some_and(|d| d.ty == schema::FieldType::Currency);
            if let (true, Some(v)) = (is_currency, &change.value) {
                currencies.insert(change.field.clone(), v.clone());
            }
        }
        let at = entry
            .at
            .parse::<jiff::Timestamp>()
            .map(|t| i18n::date_time(t.to_zoned_datetime(tz.clone()).datetime()))
            .unwrap_or(entry.at);
        for change in entry.fields {
            let old = last.get(&change.field).cloned();
            let new = match change.action.as_str() {
                // A text or log set up: no scalar value to show.
                "set" => change.value.as_deref().map_or_else(
                    || i18n::text("(updated)").to_owned(),
                    |v| read(&change.field, v, &currencies),
                ),
                "cleared" => i18n::text("(cleared)").to_owned(),
                _ => match &change.value {
                    Some(text) if !text.is_empty() => i18n::fill("(edited) {0}", &[text]),
                    _ => i18n::text("(edited)").to_owned(),
                },
            };
            match change.action.as_str() {
                "set" if change.value.is_some() => {
                    last.insert(
                        change.field.clone(),
                        change.value.clone().unwrap_or_default(),
                    );
                }
                "edited" => {}
                _ => {
                    last.remove(&change.field);
                }
            }
            rows.push(Row {
                at: at.clone(),
                who: entry.author.clone(),
                label: page::label(&change.field),
                old: old
                    .filter(|_| change.action != "edited")
                    .map(|v| read(&change.field, &v, &currencies)),
                field: change.field,
                new,
            });
        }
    }
    rows.reverse();
    let total = rows.len();
    let skip = skip.min(total);
    let shown: Vec<Row> = rows.into_iter().skip(skip).take(PAGE).collect();
    let end = skip + shown.len();
    let base = format!("{}/history", card_href(&rid));
    let at = |n: usize| match n {
        0 => base.clone(),
        n => format!("{base}?skip={n}"),
    };
    let shown = match linked_titles(&state, &session, kind, shown).await {
        Ok(rows) => rows,
        Err(e) => return page::server_error(&e),
    };
    let template = HistoryPage {
        nav: Some(session.nav("", "")),
        title,
        card: card_href(&rid),
        zone: zone_name,
        rows: shown,
        newer: (skip > 0).then(|| at(skip.saturating_sub(PAGE))),
        older: (end < total).then(|| at(end)),
        rest: total - end,
    };
    page::render(StatusCode::OK, &template)
}

/// `rows` with each linked record (an account, a contact, a deal) named by
/// its title, as the card names it, when the user sees that record; an id
/// of a record they do not see stays an id.
async fn linked_titles(
    state: &Arc<AppState>,
    session: &WebSession,
    kind: fieldwork_core::RecordKind,
    mut rows: Vec<Row>,
) -> Result<Vec<Row>, crate::error::ServerError> {
    let is_link = |field: &str| {
        schema::field(kind, field).is_some_and(|d| matches!(d.ty, schema::FieldType::Ref(_)))
    };
    let mut ids: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| is_link(&r.field)) {
        for v in r.old.iter().chain(std::iter::once(&r.new)) {
            if v.parse::<RecordId>().is_ok() && !ids.contains(v) {
                ids.push(v.clone());
            }
        }
    }
    if ids.is_empty() {
        return Ok(rows);
    }
    let access = session.access.clone();
    let actor = write::actor_for(&state.actor, &session.user);
    let titles = state
        .db
        .read(move |c| {
            let mut titles = HashMap::new();
            for id in ids {
                let Ok(rid) = id.parse::<RecordId>() else {
                    continue;
                };
                if let Some((card, _)) = read::card(c, &access, &rid, &actor)? {
                    titles.insert(id, card.title);
                }
            }
            Ok(titles)
        })
        .await?;
    for r in rows.iter_mut().filter(|r| is_link(&r.field)) {
        if let Some(t) = titles.get(&r.new) {
            r.new = t.clone();
        }
        if let Some(t) = r.old.as_ref().and_then(|o| titles.get(o)) {
            r.old = Some(t.clone());
        }
    }
    Ok(rows)
}

fn not_found(session: &WebSession) -> Response {
    page::message_for(
        session,
        StatusCode::NOT_FOUND,
        i18n::text("Not found"),
        i18n::text("There is no such record, or you may not see it."),
    )
}
