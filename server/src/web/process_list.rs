//! The list of process instances the user sees, newest first, filtered by
//! model and status and paged like `GET /v1/processes/instances` (a
//! limit, 100 by default, at most 500).
//!
//! The list is the API's: the page calls the handler of that endpoint
//! ([`crate::api::processes::list_instances`]) with the filters parsed
//! here, so it holds exactly the instances the API lists to the same user
//! (those a device of theirs would receive).
//!
//! Guarantees: a model filter is at most [`MAX_MODEL`] bytes, a status one
//! of the API's (`running`, `suspended`, `stopped`, `completed`; another
//! is refused with a message), the limit between 1 and
//! [`MAX_LIMIT`]; ids, records and steps are texts escaped by the
//! template, and links are built from parsed ids only.

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;

use super::customers::{Choice, record_href};
use super::form::Pairs;
use super::i18n::{self, filters};
use super::page::{self, Nav, SignedInGet};
use super::process_card::{STATUSES, instance_href, local_time, status_name, time_zone};
use crate::api::processes::{InstanceQuery, StatusName, stored_model_records};
use crate::state::AppState;

/// Instances shown by default.
pub const LIMIT: usize = 100;

/// Most instances shown (the API's most).
pub const MAX_LIMIT: usize = 500;

/// Longest model filter, in bytes.
pub const MAX_MODEL: usize = 200;

/// One instance of the list.
#[derive(Debug, Clone)]
pub struct Row {
    /// The instance id.
    pub id: String,
    /// Its card.
    pub href: String,
    /// Model key.
    pub model: String,
    /// Version.
    pub version: i64,
    /// The record it runs on.
    pub record: String,
    /// The record's card, when it is a record of the app.
    pub record_href: Option<String>,
    /// `running`, `suspended`, …
    pub status: &'static str,
    /// The current step.
    pub current: String,
    /// When it started, in the user's time zone.
    pub started: String,
}

/// The instances page.
#[derive(Template)]
#[template(path = "web/process_instances.html")]
pub struct InstancesPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`instances`).
    pub tab: &'static str,
    /// Model choices (`""`: any).
    pub models: Vec<Choice>,
    /// Status choices (`""`: any).
    pub statuses: Vec<Choice>,
    /// The limit.
    pub limit: usize,
    /// The instances.
    pub rows: Vec<Row>,
    /// The address of a longer page, when there may be more.
    pub more: Option<String>,
    /// A refusal, for people.
    pub error: Option<String>,
}

/// The filters of the address.
struct Filters {
    model: Option<String>,
    status: Option<StatusName>,
    limit: usize,
}

fn filters(q: &Pairs) -> Result<Filters, String> {
    let model = match q.get("model").map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) if m.len() > MAX_MODEL => {
            return Err(format!("A model key has at most {MAX_MODEL} bytes."));
        }
        m => m.map(str::to_owned),
    };
    let status = match q.get("status").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match STATUSES.iter().find(|(n, _)| *n == s) {
            Some((_, st)) => Some(*st),
            None => {
                return Err(i18n::text(
                    "The status must be running, suspended, stopped or completed.",
                )
                .to_owned());
            }
        },
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .unwrap_or(LIMIT)
        .clamp(1, MAX_LIMIT);
    Ok(Filters {
        model,
        status,
        limit,
    })
}

/// `GET /web/processes/instances`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    let (f, error) = match filters(&q) {
        Ok(f) => (f, None),
        Err(why) => (
            Filters {
                model: None,
                status: None,
                limit: LIMIT,
            },
            Some(why),
        ),
    };
    let actor = state.actor.clone();
    let keys = match state
        .db
        .read(move |c| stored_model_records(c, &actor))
        .await
    {
        Ok(models) => {
            let mut keys: Vec<String> = models.into_iter().map(|(m, _)| m.file.key).collect();
            keys.sort();
            keys.dedup();
            keys
        }
        Err(e) => return page::server_error(&e),
    };
    let tz = time_zone(&session);
    let (rows, status, error) = if error.is_some() {
        (Vec::new(), StatusCode::BAD_REQUEST, error)
    } else {
        let query = InstanceQuery {
            model: f.model.clone(),
            status: f.status,
            limit: Some(f.limit),
        };
        match crate::api::processes::list_instances(
            State(state.clone()),
            session.caller(),
            Ok(Query(query)),
        )
        .await
        {
            Ok(Json(list)) => (rows_of(list, &tz), StatusCode::OK, None),
            Err(p) => (
                Vec::new(),
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
                Some(p.detail),
            ),
        }
    };
    let more = (rows.len() == f.limit && f.limit < MAX_LIMIT).then(|| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if let Some(m) = &f.model {
            s.append_pair("model", m);
        }
        if let Some(st) = f.status {
            s.append_pair("status", status_name(st));
        }
        s.append_pair("limit", &(f.limit + LIMIT).min(MAX_LIMIT).to_string());
        format!("/web/processes/instances?{}", s.finish())
    });
    let chosen_model = f.model.clone().unwrap_or_default();
    let chosen_status = f.status.map(status_name).unwrap_or_default();
    let choice = |value: &str, label: String, chosen: &str| Choice {
        value: value.to_owned(),
        label,
        selected: value == chosen,
    };
    let mut models = vec![choice("", i18n::text("Any model").into(), &chosen_model)];
    models.extend(keys.iter().map(|k| choice(k, k.clone(), &chosen_model)));
    let mut statuses = vec![choice("", i18n::text("Any status").into(), chosen_status)];
    statuses.extend(
        STATUSES
            .iter()
            .map(|(n, _)| choice(n, page::label(n), chosen_status)),
    );
    page::render(
        status,
        &InstancesPage {
            nav: Some(session.nav("processes", "")),
            tab: "instances",
            models,
            statuses,
            limit: f.limit,
            rows,
            more,
            error,
        },
    )
}

fn rows_of(list: Vec<crate::api::processes::SummaryOut>, tz: &TimeZone) -> Vec<Row> {
    list.into_iter()
        .map(|s| Row {
            href: instance_href(&s.id),
            record_href: record_href(&s.record),
            model: s.model,
            version: s.version,
            record: s.record,
            status: status_name(s.status),
            current: s.current.unwrap_or_default(),
            started: local_time(&s.started_at, tz),
            id: s.id,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::form;

    #[test]
    fn filters_are_bounded() {
        let q = form::query(Some("model=k&status=suspended&limit=9999")).expect("q");
        let f = filters(&q).expect("valid");
        assert_eq!(f.model.as_deref(), Some("k"));
        assert_eq!(f.status, Some(StatusName::Suspended));
        assert_eq!(f.limit, MAX_LIMIT);
        let q = form::query(Some("limit=0&status=")).expect("q");
        assert_eq!(filters(&q).expect("valid").limit, 1);
        let q = form::query(Some("status=failed")).expect("q");
        assert!(filters(&q).is_err());
        let long = format!("model={}", "k".repeat(MAX_MODEL + 1));
        assert!(filters(&form::query(Some(&long)).expect("q")).is_err());
    }
}
