//! The process monitor page: per model version, how many instances run,
//! are suspended, stopped or completed, how many failed, which steps hold
//! stuck instances, the failed instances with their step and reason, and
//! a drawing of each model with how many instances stand at each step
//! ([`super::process_graph`]).
//!
//! The numbers are the API's: the page calls the handler of `GET
//! /v1/processes/monitor` ([`crate::api::processes::monitor`]) and, for
//! the step a failed instance stopped at, the handler of its card; the
//! models drawn are those the API reads
//! ([`crate::api::processes::stored_model_records`]).
//!
//! Guarantees: only instances the user sees are counted or listed (the
//! API's rule); at most [`MAX_FAILED`] failed instances are listed with
//! their step (the rest counted) and [`MAX_DRAWN`] models drawn; every
//! text is escaped by the template.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fieldwork_core::process::model::Model;

use super::customers::record_href;
use super::i18n::{self, filters};
use super::page::{self, Nav};
use super::process_card::instance_href;
use super::process_graph::{self, Graph};
use super::session::WebSession;
use crate::api::processes::{MonitorOut, stored_model_records};
use crate::state::AppState;

/// Most failed instances listed with their step.
pub const MAX_FAILED: usize = 100;

/// Most model versions drawn.
pub const MAX_DRAWN: usize = 20;

/// One model version's counts.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Model key.
    pub key: String,
    /// Model name.
    pub name: String,
    /// Version.
    pub version: i64,
    /// Running (a failed instance is counted as failed only).
    pub running: usize,
    /// Suspended.
    pub suspended: usize,
    /// Stopped.
    pub stopped: usize,
    /// Completed.
    pub completed: usize,
    /// Failed.
    pub failed: usize,
    /// Open tasks past due.
    pub overdue: usize,
}

/// A step holding stuck instances.
#[derive(Debug, Clone)]
pub struct StuckRow {
    /// Model key and version.
    pub model: String,
    /// The step's name.
    pub step: String,
    /// Instances stuck there.
    pub stuck: usize,
    /// Instances there now.
    pub current: usize,
    /// The 90th percentile time there, for people (`3 d 4 h`).
    pub p90: String,
}

/// A follow-up a process step created that is past due and not done.
#[derive(Debug, Clone)]
pub struct MissedRow {
    /// Model key and version.
    pub model: String,
    /// The step's name.
    pub step: String,
    /// The activity's card.
    pub href: String,
    /// Its kind, for people (`Call`).
    pub kind: String,
    /// Whose it is.
    pub assignee: String,
    /// When it was due, in the user's time zone.
    pub due: String,
    /// The instance's card.
    pub instance_href: String,
}

/// Most missed follow-ups listed on the page (the counts are complete).
pub const MAX_MISSED: usize = 200;

/// A failed instance.
#[derive(Debug, Clone)]
pub struct FailedRow {
    /// The instance id.
    pub id: String,
    /// Its card.
    pub href: String,
    /// Model key and version (empty when its card cannot be read).
    pub model: String,
    /// The step it failed at.
    pub step: String,
    /// Why.
    pub reason: String,
}

/// A drawing with its heading.
#[derive(Debug, Clone)]
pub struct Drawing {
    /// `key` version `n`.
    pub heading: String,
    /// The drawing, when the model is small enough to draw.
    pub graph: Option<Graph>,
}

/// The monitor page.
#[derive(Template)]
#[template(path = "web/process_monitor.html")]
pub struct MonitorPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`monitor`).
    pub tab: &'static str,
    /// Counts per model version.
    pub versions: Vec<VersionRow>,
    /// Steps with stuck instances.
    pub stuck: Vec<StuckRow>,
    /// Failed instances.
    pub failed: Vec<FailedRow>,
    /// Failed instances not listed.
    pub failed_hidden: usize,
    /// The drawings.
    pub drawings: Vec<Drawing>,
    /// Follow-ups past due, earliest first (at most [`MAX_MISSED`]).
    pub missed: Vec<MissedRow>,
    /// Past-due follow-ups not listed.
    pub missed_hidden: usize,
}

/// Seconds for people: `45 s`, `12 min`, `5 h 3 min`, `3 d 4 h`.
fn span(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// `GET /web/processes/monitor`.
pub async fn show(State(state): State<Arc<AppState>>, session: WebSession) -> Response {
    let out = match crate::api::processes::monitor(State(state.clone()), session.caller()).await {
        Ok(Json(out)) => out,
        Err(p) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            return page::message_for(&session, status, i18n::text("Refused"), &p.detail);
        }
    };
    let actor = state.actor.clone();
    let models: Vec<Model> = match state
        .db
        .read(move |c| stored_model_records(c, &actor))
        .await
    {
        Ok(m) => m.into_iter().map(|(m, _)| m).collect(),
        Err(e) => return page::server_error(&e),
    };
    let failed = failed_rows(&state, &session, &out).await;
    page::render(StatusCode::OK, &page_of(&session, out, &models, failed))
}

/// The failed instances with the step each stopped at (read from its card
/// through the API's handler).
async fn failed_rows(
    state: &Arc<AppState>,
    session: &WebSession,
    out: &MonitorOut,
) -> Vec<FailedRow> {
    let mut rows = Vec::new();
    for f in out.failed.iter().take(MAX_FAILED) {
        let card = crate::api::processes::get_instance(
            State(state.clone()),
            Path(f.id.clone()),
            session.caller(),
        )
        .await;
        let (model, step) = match card {
            Ok(Json(c)) => {
                let step = c
                    .current
                    .as_ref()
                    .and_then(|cur| c.steps.iter().rev().find(|s| &s.step == cur))
                    .map(|s| s.name.clone())
                    .or(c.current.clone())
                    .unwrap_or_default();
                (format!("{} v{}", c.model, c.version), step)
            }
            Err(_) => (String::new(), String::new()),
        };
        rows.push(FailedRow {
            href: instance_href(&f.id),
            id: f.id.clone(),
            model,
            step,
            reason: f.reason.clone(),
        });
    }
    rows
}

fn page_of(
    session: &WebSession,
    out: MonitorOut,
    models: &[Model],
    failed: Vec<FailedRow>,
) -> MonitorPage {
    let model = |key: &str, version: i64| {
        models
            .iter()
            .find(|m| m.file.key == key && m.version == version)
    };
    let step_name = |key: &str, version: i64, step: &str| {
        model(key, version)
            .and_then(|m| m.step(step))
            .map_or_else(|| step.to_owned(), |s| s.name.clone())
    };
    let tz = super::process_card::time_zone(session);
    let mut missed = Vec::new();
    let mut missed_total = 0;
    let mut versions = Vec::new();
    let mut stuck = Vec::new();
    let mut drawings = Vec::new();
    for v in &out.versions {
        let label = format!("{} v{}", v.key, v.version);
        versions.push(VersionRow {
            key: v.key.clone(),
            name: model(&v.key, v.version).map_or_else(|| v.key.clone(), |m| m.file.name.clone()),
            version: v.version,
            running: v.running,
            suspended: v.suspended,
            stopped: v.stopped,
            completed: v.completed,
            failed: failed.iter().filter(|f| f.model == label).count(),
            overdue: v.overdue,
        });
        missed_total += v.overdue;
        for o in &v.overdue_activities {
            if missed.len() < MAX_MISSED {
                missed.push(MissedRow {
                    model: label.clone(),
                    step: step_name(&v.key, v.version, &o.step),
                    href: record_href(&o.activity).unwrap_or_default(),
                    kind: page::label(&o.kind),
                    assignee: o.assignee.clone().unwrap_or_default(),
                    due: super::process_card::local_time(&o.due, &tz),
                    instance_href: instance_href(&o.instance),
                });
            }
        }
        for s in v.steps.iter().filter(|s| s.stuck > 0) {
            stuck.push(StuckRow {
                model: label.clone(),
                step: step_name(&v.key, v.version, &s.step),
                stuck: s.stuck,
                current: s.current,
                p90: s.p90_secs.map(span).unwrap_or_default(),
            });
        }
        if drawings.len() < MAX_DRAWN
            && let Some(m) = model(&v.key, v.version)
        {
            let here: BTreeMap<String, usize> = v
                .steps
                .iter()
                .map(|s| (s.step.clone(), s.current))
                .collect();
            drawings.push(Drawing {
                heading: format!("{} ({label})", m.file.name),
                graph: process_graph::draw(m, &here, drawings.len()),
            });
        }
    }
    MonitorPage {
        nav: Some(session.nav("processes", "")),
        tab: "monitor",
        versions,
        stuck,
        failed_hidden: out.failed.len().saturating_sub(failed.len()),
        failed,
        drawings,
        missed_hidden: missed_total.saturating_sub(missed.len()),
        missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_models_are_escaped_in_the_drawing_and_tables() {
        let hostile = "<script>alert(1)</script>";
        let model = Model::from_toml(&format!(
            r#"
key = "k"
name = "{hostile}"
trigger = {{ kind = "manual", record = "deal" }}
[[steps]]
id = "a"
name = "{hostile}"
kind = "task"
assignee = "owner"
subject = "x"
next = "b"
[[steps]]
id = "b"
kind = "end"
"#
        ))
        .expect("model");
        let here = BTreeMap::from([("a".to_owned(), 2)]);
        let page = MonitorPage {
            nav: None,
            tab: "monitor",
            versions: Vec::new(),
            stuck: Vec::new(),
            failed: vec![FailedRow {
                id: hostile.into(),
                href: "/web/processes/instances/x".into(),
                model: hostile.into(),
                step: hostile.into(),
                reason: hostile.into(),
            }],
            failed_hidden: 0,
            missed: vec![MissedRow {
                model: hostile.into(),
                step: hostile.into(),
                href: "/web/records/activity/x".into(),
                kind: hostile.into(),
                assignee: hostile.into(),
                due: hostile.into(),
                instance_href: "/web/processes/instances/x".into(),
            }],
            missed_hidden: 0,
            drawings: vec![Drawing {
                heading: hostile.into(),
                graph: process_graph::draw(&model, &here, 0),
            }],
        }
        .render()
        .expect("renders");
        assert!(page.contains("<svg"), "{page}");
        assert!(page.contains("2 here"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("style="), "no inline style: {page}");
    }

    #[test]
    fn spans_read_like_words() {
        assert_eq!(span(-5), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(600), "10 min");
        assert_eq!(span(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(span(2 * 86400 + 3600), "2 d 1 h");
        assert!(span(i64::MAX).ends_with(" h"));
    }
}
