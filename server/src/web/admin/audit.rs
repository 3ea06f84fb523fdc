//! The audit log page (`/web/admin/audit`): refused changes, administrative
//! actions and remote wipes, newest first, [`PAGE`] entries a page.
//!
//! Read through the office API's function behind `GET /v1/admin/audit`
//! ([`crate::api::admin::audit::newest`]), whose limit
//! ([`crate::api::admin::audit::MAX_ENTRIES`], 10,000) bounds how far back
//! the pages go.
//!
//! Guarantees: only administrators ([`super::require`]); a page number is
//! bounded (pages past the API's limit are refused with `400`); entries
//! are shown as text (escaped), never a token or a secret (the log holds
//! none).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{iso_ms, local_ms, refused, require, time_zone};
use crate::api::admin::audit::{MAX_ENTRIES, newest};
use crate::state::AppState;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, Nav, SignedInGet};

/// Entries on one page.
pub const PAGE: usize = 50;

/// One entry.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// When, in the viewer's time zone.
    pub when: String,
    /// When, RFC 3339.
    pub at: String,
    /// Who.
    pub user: String,
    /// The stable code.
    pub code: String,
    /// Whether it is an administrative action (`admin_*`).
    pub admin: bool,
    /// What happened.
    pub message: String,
    /// The device, field, rule and document concerned, when any.
    pub about: String,
}

/// The audit log page.
#[derive(Template)]
#[template(path = "web/admin_audit.html")]
pub struct AuditPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`audit`).
    pub tab: &'static str,
    /// The entries of this page.
    pub entries: Vec<AuditRow>,
    /// This page's number (1: the newest).
    pub page: usize,
    /// The newer page's address (empty: none).
    pub newer: String,
    /// The older page's address (empty: none).
    pub older: String,
}

/// `GET /web/admin/audit?page=N`: the entries of page `N` (1: newest).
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let last = MAX_ENTRIES.div_ceil(PAGE);
    let number = match q.get("page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if (1..=last).contains(&n) => n,
        Some(_) => {
            let text = format!("The page must be a number from 1 to {last}.");
            return page::message_for(
                &session,
                StatusCode::BAD_REQUEST,
                i18n::text("Bad address"),
                &text,
            );
        }
    };
    // One more than the page holds tells whether an older page exists.
    let want = (number * PAGE + 1).min(MAX_ENTRIES);
    let all = match newest(&state, want).await {
        Ok(all) => all,
        Err(p) => return refused(&session, &p),
    };
    let tz = time_zone(&session);
    let more = all.len() > number * PAGE && number < last;
    let entries = all
        .into_iter()
        .skip((number - 1) * PAGE)
        .take(PAGE)
        .map(|e| {
            let mut about = Vec::new();
            for (label, v) in [
                ("device", &e.device),
                ("field", &e.field),
                ("rule", &e.rule),
                ("document", &e.doc),
            ] {
                if let Some(v) = v {
                    about.push(format!("{label} {v}"));
                }
            }
            AuditRow {
                when: local_ms(Some(e.at), &tz),
                at: iso_ms(Some(e.at)),
                admin: e.code.starts_with("admin_"),
                user: e.user,
                code: e.code,
                message: e.message,
                about: about.join(" · "),
            }
        })
        .collect();
    let at = |n: usize| format!("/web/admin/audit?page={n}");
    page::render(
        StatusCode::OK,
        &AuditPage {
            nav: Some(session.nav("admin", "")),
            tab: "audit",
            entries,
            page: number,
            newer: if number > 1 {
                at(number - 1)
            } else {
                String::new()
            },
            older: if more { at(number + 1) } else { String::new() },
        },
    )
}
