//! The processes page: the published model versions, and publishing the
//! next version of a model from its text (BPMN pasted from a modeler, or
//! TOML or JSON), with every problem of a refused one listed.
//!
//! Publishing calls the office API's handler of `POST
//! /v1/processes/models` ([`crate::api::processes::publish`]) with the
//! same JSON a program would send, so the parser, the checks, the right
//! (`roles.ROLE.process.publish`) and the refusals are the API's. The
//! list reads the model versions the API's list reads
//! ([`crate::api::processes::stored_model_records`]). For a refused BPMN
//! file the page lists the importer's own problems
//! ([`fieldwork_core::process::bpmn::import`], the function the API's
//! parser calls) with their line, element and message.
//!
//! Guarantees: the upload form is shown only to a role with the process
//! right `publish` (asked of [`fieldwork_core::Access::check_process`],
//! the check the runner makes); others see the refusal with its rule, and
//! a hand-made POST is refused by the API's handler (`403`) and publishes
//! nothing; the upload is a checked POST (form token, same origin) of at
//! most the API's body limit (`max_admin_body`), with at most
//! [`MAX_FIELDS`] fields; a refused model is shown with the text kept, at
//! most [`MAX_PROBLEMS`] problems listed (the rest counted).

use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::process::bpmn;

use super::i18n::{self, filters};
use super::page::{self, Nav, SignedInGet};
use super::process_card::{local_time, time_zone};
use super::session::WebSession;
use crate::api::processes::{ModelOut, stored_model_records};
use crate::state::AppState;

/// Most fields of the upload form.
pub const MAX_FIELDS: usize = 8;

/// Longest record id the start form takes, in bytes.
pub const MAX_RECORD: usize = 200;

/// Most problems listed on the page.
pub const MAX_PROBLEMS: usize = 500;

/// The formats offered, as the API names them.
const FORMATS: &[(&str, &str)] = &[("bpmn", "BPMN 2.0 XML"), ("toml", "TOML"), ("json", "JSON")];

/// One published model version.
#[derive(Debug, Clone)]
pub struct ModelRow {
    /// The model's key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// The version.
    pub version: i64,
    /// What starts an instance (`manual`, `field_change` on `deal`, …).
    pub trigger: String,
    /// How many steps.
    pub steps: usize,
    /// Who published it.
    pub publisher: String,
    /// When (RFC 3339), as stored.
    pub published_at: String,
    /// When, in the user's time zone.
    pub published: String,
    /// Whether it is its model's newest version.
    pub newest: bool,
    /// Its instances' list.
    pub href: String,
}

/// One problem of a refused model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemRow {
    /// Its line in the file (empty when not about one line).
    pub line: String,
    /// The element (`<tag> id "name"`; empty when not about one).
    pub element: String,
    /// What is wrong.
    pub message: String,
}

/// A choice of format.
#[derive(Debug, Clone)]
pub struct FormatChoice {
    /// As the API names it.
    pub value: &'static str,
    /// For people.
    pub label: &'static str,
    /// Whether it is chosen.
    pub selected: bool,
}

/// The processes page.
#[derive(Template)]
#[template(path = "web/processes.html")]
pub struct ModelsPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`models`).
    pub tab: &'static str,
    /// Published versions, by key then newest first.
    pub models: Vec<ModelRow>,
    /// Whether the user may publish.
    pub may_publish: bool,
    /// Why not, when not.
    pub refusal: String,
    /// The formats.
    pub formats: Vec<FormatChoice>,
    /// The text as typed (kept when refused).
    pub source: String,
    /// The problems of a refused model.
    pub problems: Vec<ProblemRow>,
    /// Problems not listed.
    pub hidden: usize,
    /// A refusal of the request, for people.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
    /// Whether the user may start a process by hand (right `start`).
    pub may_start: bool,
    /// The model keys a process can be started from (newest versions).
    pub start_models: Vec<String>,
    /// The record to start it on, as given (`?record=deal:…` from a card).
    pub start_record: String,
    /// Why the last start was refused.
    pub start_error: Option<String>,
}

/// `GET /web/processes`: the models and the upload form.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    let mut view = match models_page(&state, &session).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.start_record = q.text("record", MAX_RECORD).unwrap_or_default();
    // Only a version that exists is announced (not any text of the address).
    if let (Some(key), Some(version)) = (q.text("published", 200), q.text("version", 20))
        && let Some(m) = view
            .models
            .iter()
            .find(|m| m.key == key && m.version.to_string() == version)
    {
        view.notice = Some(i18n::fill(
            "Published {0} version {1}.",
            &[&m.key, &m.version],
        ));
    }
    page::render(StatusCode::OK, &view)
}

/// The page with the published versions and nothing typed.
pub(super) async fn models_page(
    state: &Arc<AppState>,
    session: &WebSession,
) -> Result<ModelsPage, Response> {
    let actor = state.actor.clone();
    let mut stored = state
        .db
        .read(move |c| stored_model_records(c, &actor))
        .await
        .map_err(|e| page::server_error(&e))?;
    stored.sort_by(|(a, _), (b, _)| {
        (&a.file.key, std::cmp::Reverse(a.version))
            .cmp(&(&b.file.key, std::cmp::Reverse(b.version)))
    });
    let tz = time_zone(session);
    let mut models: Vec<ModelRow> = Vec::with_capacity(stored.len());
    for (m, record) in &stored {
        let out = ModelOut::of(m);
        let newest = models.last().is_none_or(|p| p.key != out.key);
        models.push(ModelRow {
            trigger: match &out.trigger.record {
                Some(r) => format!("{} on {r}", out.trigger.kind),
                None => out.trigger.kind.clone(),
            },
            steps: out.steps.len(),
            publisher: out.publisher.unwrap_or_default(),
            published_at: record.text("published_at").unwrap_or_default().to_owned(),
            published: local_time(record.text("published_at").unwrap_or_default(), &tz),
            href: format!(
                "/web/processes/instances?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("model", &out.key)
                    .finish()
            ),
            key: out.key,
            name: out.name,
            version: out.version,
            newest,
        });
    }
    let right = session.access.check_process("publish", |p| p.publish);
    let start_models = models
        .iter()
        .filter(|m| m.newest)
        .map(|m| m.key.clone())
        .collect();
    Ok(ModelsPage {
        nav: Some(session.nav("processes", "")),
        tab: "models",
        models,
        may_publish: right.is_ok(),
        refusal: right
            .err()
            .map(|d| format!("{} (rule {}).", d.message, d.rule))
            .unwrap_or_default(),
        formats: choices("bpmn"),
        source: String::new(),
        problems: Vec::new(),
        hidden: 0,
        error: None,
        notice: None,
        may_start: session.access.check_process("start", |p| p.start).is_ok(),
        start_models,
        start_record: String::new(),
        start_error: None,
    })
}

fn choices(chosen: &str) -> Vec<FormatChoice> {
    FORMATS
        .iter()
        .map(|(value, label)| FormatChoice {
            value,
            label,
            selected: *value == chosen,
        })
        .collect()
}

/// `POST /web/processes/models`: publishes the next version of a model
/// through the API's handler, or shows every problem.
pub async fn publish(
    State(state): State<Arc<AppState>>,
    session: WebSession,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let fields = match page::read_large_post(&state, &session, &headers, body, MAX_FIELDS).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let format = fields.get("format").unwrap_or("bpmn");
    let Some(&(format, _)) = FORMATS.iter().find(|(f, _)| *f == format) else {
        let text = "The format must be BPMN, TOML or JSON.";
        return page::message_for(
            &session,
            StatusCode::BAD_REQUEST,
            i18n::text("Request refused"),
            text,
        );
    };
    let source = fields.get("source").unwrap_or_default().to_owned();
    let typed = Typed {
        format,
        source: &source,
    };
    if source.trim().is_empty() {
        let why = "Paste the model's text (the BPMN file's XML) first.".to_owned();
        return refused(
            &state,
            &session,
            typed,
            StatusCode::UNPROCESSABLE_ENTITY,
            why,
            Vec::new(),
        )
        .await;
    }
    match published(&state, &session, format, &source).await {
        Ok(m) => {
            let to = form_urlencoded::Serializer::new(String::new())
                .append_pair("published", &m.key)
                .append_pair("version", &m.version.to_string())
                .finish();
            Redirect::to(&format!("/web/processes?{to}")).into_response()
        }
        Err(Refusal {
            status,
            detail,
            errors,
        }) => {
            let problems = if errors.is_empty() {
                Vec::new()
            } else {
                problems_of(format, &source, &errors)
            };
            let error = if problems.is_empty() {
                detail
            } else {
                format!(
                    "The model was not published: {} problem{}.",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )
            };
            refused(&state, &session, typed, status, error, problems).await
        }
    }
}

/// What the user sent, kept on a refused page.
#[derive(Clone, Copy)]
struct Typed<'a> {
    format: &'static str,
    source: &'a str,
}

/// The page again with the text as typed, the refusal and its problems.
async fn refused(
    state: &Arc<AppState>,
    session: &WebSession,
    typed: Typed<'_>,
    status: StatusCode,
    error: String,
    problems: Vec<ProblemRow>,
) -> Response {
    let mut view = match models_page(state, session).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.hidden = problems.len().saturating_sub(MAX_PROBLEMS);
    view.problems = problems.into_iter().take(MAX_PROBLEMS).collect();
    view.error = Some(error);
    view.formats = choices(typed.format);
    view.source = typed.source.to_owned();
    page::render(status, &view)
}

/// A refusal of the API's publish handler.
struct Refusal {
    status: StatusCode,
    detail: String,
    errors: Vec<String>,
}

/// Publishes through the API's handler with the JSON a program would send.
async fn published(
    state: &Arc<AppState>,
    session: &WebSession,
    format: &str,
    source: &str,
) -> Result<ModelOut, Refusal> {
    let json = serde_json::json!({ "format": format, "source": source }).to_string();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let answer = crate::api::processes::publish(
        State(state.clone()),
        session.caller(),
        headers,
        Body::from(json),
    )
    .await;
    match answer {
        Ok((_, Json(model))) => Ok(model),
        Err(response) => {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            Err(Refusal {
                status,
                detail: v["detail"]
                    .as_str()
                    .unwrap_or(i18n::text("The server refused the model."))
                    .to_owned(),
                errors: v["errors"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| e.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        }
    }
}

/// The problems of a refused model: for a BPMN file, the importer's own
/// (line, element, message) when it refused the file; otherwise the API's
/// lines as they are.
fn problems_of(format: &str, source: &str, errors: &[String]) -> Vec<ProblemRow> {
    if format == "bpmn"
        && let Err(found) = bpmn::import(source)
        && found.0.len() == errors.len()
    {
        return found
            .0
            .into_iter()
            .map(|p| {
                let mut element = Vec::new();
                if let Some(t) = &p.tag {
                    element.push(format!("<{t}>"));
                }
                if let Some(id) = &p.element {
                    element.push(id.clone());
                }
                if let Some(n) = p.name.as_deref().filter(|n| !n.trim().is_empty()) {
                    element.push(format!("\u{201c}{}\u{201d}", n.trim()));
                }
                ProblemRow {
                    line: p.line.map(|l| l.to_string()).unwrap_or_default(),
                    element: element.join(" "),
                    message: p.message,
                }
            })
            .collect();
    }
    errors
        .iter()
        .map(|e| ProblemRow {
            line: String::new(),
            element: String::new(),
            message: e.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpmn_problems_keep_line_element_and_message() {
        let xml = r#"<?xml version="1.0"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <parallelGateway id="fork" name="Both"/>
  </process>
</definitions>"#;
        let lines = bpmn::import(xml).expect_err("refused").lines();
        let rows = problems_of("bpmn", xml, &lines);
        assert_eq!(rows.len(), lines.len());
        let fork = rows
            .iter()
            .find(|r| r.element.contains("fork"))
            .expect("the gateway's problem");
        assert_eq!(fork.line, "5");
        assert!(fork.element.contains("<parallelGateway>"), "{fork:?}");
        assert!(!fork.message.is_empty());
        // Not BPMN: the API's lines as they are.
        let plain = problems_of("toml", "x", &["steps.a: no step `b`".into()]);
        assert_eq!(plain[0].message, "steps.a: no step `b`");
    }
}
