//! Signing in and out of the web app.
//!
//! The sign-in form posts a user name and a password, checked exactly as
//! `POST /v1/login` checks them ([`crate::auth`]): the name is checked
//! before use, the attempt is counted against the *(user, address)* and
//! *address* back-off keys before Argon2 runs, verification is bounded,
//! an unknown user takes as long as a wrong password, and the log lines
//! are the same (a name that is not a real user's only as a fingerprint).
//! A success creates a login token ([`tokens::create`], no device) that
//! becomes the session cookie.
//!
//! Guarantees:
//! - a web failure and an API failure count against the same back-off: a
//!   client that failed on one waits on both;
//! - the sign-in POST is checked for the same origin and carries a token
//!   bound to the pre-session cookie `fw_login` (so another site cannot
//!   sign a browser in to an account of its choosing);
//! - signing out revokes the token on the server (the cookie alone is
//!   worth nothing afterwards) and deletes the cookie.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;

use super::i18n::{self, filters};
use super::session::{self, WebSession};
use super::{WebConfig, csrf, form, page};
use crate::auth;
use crate::db::{tokens, users};
use crate::error::ServerError;
use crate::state::AppState;

/// The pre-session cookie the sign-in form's token is bound to.
pub const LOGIN_COOKIE: &str = "fw_login";

/// How long a sign-in form stays valid.
const FORM_AGE: Duration = Duration::from_secs(3600);

/// The sign-in page.
#[derive(Template)]
#[template(path = "web/login.html")]
pub struct LoginPage {
    /// Never signed in here.
    pub nav: Option<page::Nav>,
    /// The form token.
    pub csrf: String,
    /// The user name typed (kept after a failure).
    pub user: String,
    /// Where to go afterwards (a path of this app).
    pub next: String,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// `GET /web/login`.
pub async fn form(
    State(state): State<Arc<AppState>>,
    Extension(config): Extension<WebConfig>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    match session::lookup(&state, &headers, &config).await {
        Ok(Some(_)) => return Redirect::to("/web/accounts").into_response(),
        Ok(None) => {}
        Err(answer) => return answer,
    }
    let next = form::query(raw.as_deref())
        .ok()
        .and_then(|q| {
            q.get("next")
                .and_then(session::local_path)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    fresh_form(&config, StatusCode::OK, String::new(), next, None)
}

/// The sign-in form with a new pre-session secret.
fn fresh_form(
    config: &WebConfig,
    status: StatusCode,
    user: String,
    next: String,
    error: Option<String>,
) -> Response {
    let secret = auth::new_token();
    let mut answer = page::render(
        status,
        &LoginPage {
            nav: None,
            csrf: csrf::token_for(&secret),
            user,
            next,
            error,
        },
    );
    answer.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &secret, FORM_AGE, "/web/login", config.tls),
    );
    answer
}

/// `POST /web/login`.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    Extension(config): Extension<WebConfig>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if csrf::same_origin(&headers, config.tls).is_err() {
        return page::forbidden_post("it did not come from this site");
    }
    let fields = match form::body(&state, &headers, body).await {
        Ok(f) => f,
        Err(e) => return page::message(e.status, i18n::text("Request refused"), &e.message),
    };
    let secret = session::cookie(&headers, LOGIN_COOKIE);
    if !secret.is_some_and(|s| csrf::valid(&s, fields.get(csrf::FIELD))) {
        return page::forbidden_post("its form token is missing, wrong or expired");
    }
    let user = fields.get("user").unwrap_or_default().to_owned();
    let password = fields.get("password").unwrap_or_default().to_owned();
    let next = fields
        .get("next")
        .and_then(session::local_path)
        .unwrap_or("/web/accounts")
        .to_owned();
    let shown_user = form::truncate(&user, auth::MAX_NAME_BYTES).to_owned();
    let again = |status, error: String| {
        fresh_form(
            &config,
            status,
            shown_user.clone(),
            next.clone(),
            Some(error),
        )
    };
    if let Err(e) = auth::check_login_name(&user) {
        return again(StatusCode::BAD_REQUEST, e.to_string());
    }
    if password.len() > auth::MAX_PASSWORD_BYTES {
        return again(
            StatusCode::BAD_REQUEST,
            format!(
                "The password must have at most {} bytes.",
                auth::MAX_PASSWORD_BYTES
            ),
        );
    }
    let client = crate::request::client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    match crate::login::verify_password(&state, &user, password, None, client, peer).await {
        Ok(_) => {}
        Err(ServerError::RateLimited(secs)) => {
            return again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins; retry in {secs} s."),
            );
        }
        Err(ServerError::InvalidCredentials) => {
            return again(
                StatusCode::UNAUTHORIZED,
                i18n::text("Invalid user name or password.").to_owned(),
            );
        }
        Err(e) => return page::server_error(&e),
    }
    let token = auth::new_token();
    let now = state.now_ms();
    let life = session::lifetime(&state);
    let expires = now.saturating_add(i64::try_from(life.as_millis()).unwrap_or(i64::MAX));
    let (name, t) = (user.clone(), token.clone());
    let created = state
        .db
        .write(move |w| {
            let user = users::by_name(&w.conn, &name)?.ok_or(ServerError::InvalidCredentials)?;
            tokens::purge_expired(&w.conn, now)?;
            tokens::create(&w.conn, &t, user.id, None, now, expires)
        })
        .await;
    if let Err(e) = created {
        return page::server_error(&e);
    }
    tracing::info!(user = %user, %client, "signed in to the web app");
    let mut answer = Redirect::to(&next).into_response();
    let h = answer.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, &token, life, "/", config.tls),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, "", Duration::ZERO, "/web/login", config.tls),
    );
    answer
}

/// `POST /web/logout`: revokes the session's token, deletes the cookie.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    session: WebSession,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let fields = match form::body(&state, &headers, body).await {
        Ok(f) => f,
        Err(e) => return page::message(e.status, i18n::text("Request refused"), &e.message),
    };
    if let Err(refused) = page::check_post(&session, &headers, &fields) {
        return refused;
    }
    let token = session.token.clone();
    if let Err(e) = state
        .db
        .write(move |w| tokens::revoke(&w.conn, &token))
        .await
    {
        return page::server_error(&e);
    }
    tracing::info!(user = %session.user.name, "signed out of the web app");
    let mut answer = Redirect::to("/web/login").into_response();
    answer.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, "", Duration::ZERO, "/", session.config.tls),
    );
    answer
}
