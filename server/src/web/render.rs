//! Rendering pages: the layout's navigation, a template into an answer,
//! and the pages that say something went wrong. Below the session
//! ([`super::session`]) and every page.
//!
//! Guarantees: every page is `text/html; charset=utf-8` rendered by askama,
//! which escapes every value (no template marks user data safe); a
//! template that fails to render is a plain `500`, never a partial page; a
//! server failure is logged and shown without its details.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{self, filters};
use crate::error::ServerError;

/// The navigation of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Who is signed in.
    pub user: String,
    /// Their role.
    pub role: String,
    /// The session's form token (for the sign-out form).
    pub csrf: String,
    /// The section shown (`accounts`, `contacts`, `pipeline`), highlighted.
    pub section: &'static str,
    /// The record kinds whose changes refresh this page live
    /// (space-separated; empty: none).
    pub live: String,
    /// Whether the policy makes the user's role an administrator (the
    /// navigation then offers the administration pages).
    pub admin: bool,
}

/// A page that only says something.
#[derive(Template)]
#[template(path = "web/message.html")]
pub struct MessagePage {
    /// The navigation, when signed in.
    pub nav: Option<Nav>,
    /// The heading.
    pub title: String,
    /// The sentence.
    pub message: String,
}

/// Renders `template` with `status` as an HTML answer.
pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a web page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// A page with a heading and a sentence.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            nav: None,
            title: title.to_owned(),
            message: text.to_owned(),
        },
    )
}

/// A failure of the server, logged; the page says only that it failed.
pub fn server_error(e: &ServerError) -> Response {
    let (status, _) = e.code();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "web request failed");
        return message(
            status,
            i18n::text("Something went wrong"),
            "The server failed to answer; the request id is in its log.",
        );
    }
    message(status, i18n::text("Refused"), &e.to_string())
}

/// The answer to a state-changing request that failed the CSRF or
/// same-origin check: `403`, changing nothing.
pub fn forbidden_post(reason: &str) -> Response {
    message(
        StatusCode::FORBIDDEN,
        i18n::text("Request refused"),
        &format!(
            "This form could not be accepted ({reason}). Nothing was changed. \
             Reload the page and submit the form again."
        ),
    )
}

/// A field, kind or value name for people in the request's language:
/// `credit_limit` → `Credit limit`, `Límite de crédito`, `Hitelkeret`.
pub fn label(name: &str) -> String {
    super::i18n::word(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped() {
        let page = MessagePage {
            nav: None,
            title: "<b>t</b>".into(),
            message: "<script>alert(1)</script>".into(),
        }
        .render()
        .expect("renders");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&#60;script&#62;"), "{page}");
    }
}
