//! What the signed-in pages share: the home redirect, messages inside the
//! layout, and the checks of a signed-in POST. Rendering itself is in
//! [`super::render`] (re-exported here).
//!
//! Guarantees: a signed-in POST is accepted only from this origin with the
//! session's form token ([`check_post`]); the refusal changes nothing.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::WebConfig;
use super::i18n;
pub use super::render::{MessagePage, Nav, forbidden_post, label, message, render, server_error};
use super::session::{self, WebSession};
use crate::state::AppState;

/// [`message`] inside the signed-in layout.
pub fn message_for(session: &WebSession, status: StatusCode, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            nav: Some(session.nav("", "")),
            title: title.to_owned(),
            message: text.to_owned(),
        },
    )
}

/// `GET /` and `/web`: the customers page when signed in, else sign-in.
pub async fn home(
    State(state): State<Arc<AppState>>,
    Extension(config): Extension<WebConfig>,
    headers: HeaderMap,
) -> Response {
    match session::lookup(&state, &headers, &config).await {
        Ok(Some(_)) => Redirect::to("/web/accounts").into_response(),
        Ok(None) => Redirect::to("/web/login").into_response(),
        Err(answer) => answer,
    }
}

/// Checks a signed-in POST: same origin and the session's form token
/// (field [`super::csrf::FIELD`] of `form`); the refusal answer otherwise.
pub fn check_post(
    session: &WebSession,
    headers: &HeaderMap,
    form: &super::form::Pairs,
) -> Result<(), Response> {
    if let Err(why) = super::csrf::same_origin(headers, session.config.tls) {
        tracing::warn!(user = %session.user.name, ?why, "web POST refused: not same-origin");
        return Err(forbidden_post("it did not come from this site"));
    }
    if !super::csrf::valid(&session.token, form.get(super::csrf::FIELD)) {
        tracing::warn!(user = %session.user.name, "web POST refused: no valid form token");
        return Err(forbidden_post("its form token is missing or wrong"));
    }
    Ok(())
}

/// Reads a signed-in POST's form and checks it ([`check_post`]): the
/// fields, or the answer to send instead (a body too large or malformed,
/// or a refused POST).
pub async fn read_post(
    state: &AppState,
    session: &WebSession,
    headers: &HeaderMap,
    body: Body,
) -> Result<super::form::Pairs, Response> {
    let fields = super::form::body(state, headers, body)
        .await
        .map_err(|e| message_for(session, e.status, i18n::text("Request refused"), &e.message))?;
    check_post(session, headers, &fields)?;
    Ok(fields)
}

/// A signed-in POST whose form was read and checked ([`read_post`]): a
/// handler taking it never sees an unchecked form, and a refused one (no
/// session, a body too large or malformed, a missing form token, another
/// origin) is answered before the handler runs. Takes the body, so it is
/// the handler's last argument.
pub struct CheckedPost {
    /// Who is signed in.
    pub session: WebSession,
    /// The form's fields.
    pub fields: super::form::Pairs,
}

impl axum::extract::FromRequest<Arc<AppState>> for CheckedPost {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = request.into_parts();
        let session = WebSession::from_request_parts(&mut parts, state).await?;
        let fields = read_post(state, &session, &parts.headers, body).await?;
        Ok(CheckedPost { session, fields })
    }
}

/// A signed-in GET whose query was read within bounds ([`super::form::query`]):
/// a malformed or oversized query is answered with a "Bad address" page
/// inside the layout before the handler runs; no session goes to sign-in.
pub struct SignedInGet {
    /// Who is signed in.
    pub session: WebSession,
    /// The address's query.
    pub query: super::form::Pairs,
}

impl axum::extract::FromRequestParts<Arc<AppState>> for SignedInGet {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let session =
            <WebSession as axum::extract::FromRequestParts<_>>::from_request_parts(parts, state)
                .await?;
        match super::form::query(parts.uri.query()) {
            Ok(query) => Ok(SignedInGet { session, query }),
            Err(e) => Err(message_for(
                &session,
                e.status,
                i18n::text("Bad address"),
                &e.message,
            )),
        }
    }
}

/// A signed-in POST carrying a large text (a policy, a process model): its
/// body read up to the API's own limit for such texts
/// (`max_admin_body`), at most `max_fields` fields, then checked like
/// every POST ([`check_post`]).
pub async fn read_large_post(
    state: &AppState,
    session: &WebSession,
    headers: &HeaderMap,
    body: Body,
    max_fields: usize,
) -> Result<super::form::Pairs, Response> {
    let limit = state.config.max_admin_body.max(1024);
    let refused = |e: super::form::FormError| {
        message_for(session, e.status, i18n::text("Request refused"), &e.message)
    };
    let bytes = super::form::body_bytes(state, headers, body, limit)
        .await
        .map_err(refused)?;
    let fields = super::form::parse_bounded(&bytes, max_fields, limit).map_err(refused)?;
    check_post(session, headers, &fields)?;
    Ok(fields)
}

/// Where a POST sends the browser back: its `back` field when that is
/// `page` itself or `page` with a query, else `page`. Never another path,
/// so a form cannot redirect anywhere else.
pub fn back_to(fields: &super::form::Pairs, page: &'static str) -> String {
    fields
        .get("back")
        .filter(|b| *b == page || b.strip_prefix(page).is_some_and(|q| q.starts_with('?')))
        .and_then(session::local_path)
        .unwrap_or(page)
        .to_owned()
}

/// The status of a page rendered with `status`: `400` instead of `200`
/// when it shows a refusal of what the user asked.
pub fn status_of(status: StatusCode, refused: bool) -> StatusCode {
    if refused && status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        status
    }
}
