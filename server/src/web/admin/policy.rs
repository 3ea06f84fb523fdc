//! The policy page (`/web/admin/policy`): the policy in force (its
//! revision and TOML text as `GET /v1/admin/policy` answers them), its
//! roles in a table (the classes each reads and writes, which records it
//! sees and edits, how many users hold it, as `GET /v1/admin/roles`
//! answers them), and a form to replace it.
//!
//! Installing calls the office API's function behind `PUT
//! /v1/admin/policy` ([`crate::api::admin::policy::install_by`]): the same
//! parser and checks, the same guard against taking administration away
//! from the administrator installing it, the same audit entry, the same
//! reclassification of moved fields.
//!
//! Guarantees: only administrators ([`super::require`]); a refused policy
//! is shown again as typed with every problem the API lists, and the
//! policy in force does not change; the form is read with the API's body
//! limit (`max_admin_body`) and at most [`MAX_FIELDS`] fields, then
//! checked like every POST ([`crate::web::page::check_post`]).

use std::sync::Arc;

use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{refused, require};
use crate::api::admin::policy::{self as api, PolicyRefusal};
use crate::api::admin::roles::{self, RoleView};
use crate::state::AppState;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, Nav, SignedInGet};
use crate::web::session::WebSession;

/// Most fields of the policy form.
pub const MAX_FIELDS: usize = 8;

/// Most problems listed.
pub const MAX_PROBLEMS: usize = 500;

/// The policy page.
#[derive(Template)]
#[template(path = "web/admin_policy.html")]
pub struct PolicyPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`policy`).
    pub tab: &'static str,
    /// The revision in force.
    pub revision: u64,
    /// Its text.
    pub current: String,
    /// Its roles.
    pub roles: Vec<RoleView>,
    /// The text in the form (the one in force, or as typed when refused).
    pub source: String,
    /// Every problem of a refused policy.
    pub problems: Vec<String>,
    /// Problems not listed.
    pub hidden: usize,
    /// A refusal, for people.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

async fn policy_page(state: &AppState, session: &WebSession) -> Result<PolicyPage, Response> {
    let current = api::current(state)
        .await
        .map_err(|p| refused(session, &p))?;
    let roles = roles::all(state).await.map_err(|p| refused(session, &p))?;
    Ok(PolicyPage {
        nav: Some(session.nav("admin", "")),
        tab: "policy",
        revision: current.revision,
        source: current.source.clone(),
        current: current.source,
        roles,
        problems: Vec::new(),
        hidden: 0,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin/policy`: the policy in force and the form.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let mut view = match policy_page(&state, &session).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    // Announced only when it is the revision in force.
    if q.get("installed") == Some(view.revision.to_string().as_str()) {
        view.notice = Some(i18n::fill("Installed revision {0}.", &[&view.revision]));
    }
    page::render(StatusCode::OK, &view)
}

/// `POST /web/admin/policy`: installs the typed policy through the API's
/// function, or shows it again with every problem.
pub async fn install(
    State(state): State<Arc<AppState>>,
    session: WebSession,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Like the API, the body is not read before the caller is known to be
    // an administrator.
    if let Err(answer) = require(&session) {
        return answer;
    }
    let fields = match page::read_large_post(&state, &session, &headers, body, MAX_FIELDS).await {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let source = fields.get("source").unwrap_or_default().to_owned();
    let (status, problems) = if source.trim().is_empty() {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![i18n::text("The policy is empty: paste or type its TOML text.").to_owned()],
        )
    } else {
        match api::install_by(&state, &session.user, source.clone()).await {
            Ok(installed) => {
                let to = format!("/web/admin/policy?installed={}", installed.revision);
                return Redirect::to(&to).into_response();
            }
            Err(PolicyRefusal::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
            Err(PolicyRefusal::Other(p)) if p.status >= 500 => return refused(&session, &p),
            Err(PolicyRefusal::Other(p)) => (
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
                vec![p.detail],
            ),
        }
    };
    let mut view = match policy_page(&state, &session).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = Some(format!(
        "The policy was refused ({} problem{}); revision {} stays in force.",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        view.revision
    ));
    view.hidden = problems.len().saturating_sub(MAX_PROBLEMS);
    view.problems = problems.into_iter().take(MAX_PROBLEMS).collect();
    view.source = source;
    page::render(status, &view)
}
