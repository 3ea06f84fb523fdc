//! The browser's session: a login token (the same `db::tokens` rows as
//! `/v1/login` hands out) in the cookie `fw_session`.
//!
//! Guarantees:
//! - a request is signed in only while its token is live and its user
//!   enabled ([`tokens::lookup`]), so signing out, revoking the user's
//!   tokens or disabling the user ends the web session at the next
//!   request; the user's access (role, territories, policy) is read from
//!   the database on every request, like an API caller's;
//! - a page request without a live session is redirected to the sign-in
//!   page (`303`), with the page to come back to when it is a path of
//!   this app ([`local_path`]: never another site);
//! - the cookie is `HttpOnly; SameSite=Strict; Path=/` with a `Max-Age`,
//!   and `Secure` when the listener serves TLS ([`set_cookie`]);
//! - every signed-in request counts against the user's office API rate
//!   limit ([`crate::api::limits::admit`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::Access;

use super::WebConfig;
pub use super::cookies::{cookie, set_cookie};
use super::i18n;
use super::render::{self as page, Nav};
use crate::db::users::User;
use crate::db::{access, tokens};
use crate::error::ServerError;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "fw_session";

/// How long a web session lasts at most (the server's `token_ttl` when
/// shorter).
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct WebSession {
    /// The user.
    pub user: User,
    /// Their access under the policy in force.
    pub access: Access,
    /// The login token (the cookie's value).
    pub token: String,
    /// The form token of this session ([`super::csrf::token_for`]).
    pub csrf: String,
    /// The web app's settings.
    pub config: WebConfig,
}

impl WebSession {
    /// The navigation of this session's pages in `section`, refreshed
    /// live on changes of the `live` kinds (space-separated; empty: none).
    pub fn nav(&self, section: &'static str, live: &str) -> Nav {
        Nav {
            user: self.user.name.clone(),
            role: self.user.role.clone(),
            csrf: self.csrf.clone(),
            section,
            live: live.to_owned(),
            admin: self.caller().require_admin().is_ok(),
        }
    }

    /// The user's time zone and its name (UTC when unset or unknown).
    pub fn zone(&self) -> (jiff::tz::TimeZone, String) {
        let name = self.user.time_zone.clone();
        match fieldwork_core::process::tasks::zone(name.as_deref()) {
            Ok(z) => (z, name.unwrap_or_else(|| "UTC".into())),
            Err(_) => (jiff::tz::TimeZone::UTC, "UTC".into()),
        }
    }

    /// The office API caller this session acts as (a user, no API key).
    pub fn caller(&self) -> crate::api::caller::Caller {
        crate::api::caller::Caller {
            user: self.user.clone(),
            access: self.access.clone(),
            key: None,
        }
    }
}

/// The session of a request: `Ok(None)` when it has no live one; `Err` an
/// answer to give instead (rate limited, storage failure).
pub async fn lookup(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    config: &WebConfig,
) -> Result<Option<WebSession>, Response> {
    let Some(token) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    let now = state.now_ms();
    let t = token.clone();
    let found = state
        .db
        .read(move |c| {
            let Some(user) = tokens::lookup(c, &t, now)? else {
                return Ok(None);
            };
            if user.disabled {
                return Ok(None);
            }
            let (_, access) = access::access_for(c, &user)?;
            Ok(Some((user, access)))
        })
        .await
        .map_err(|e| page::server_error(&e))?;
    let Some((user, access)) = found else {
        return Ok(None);
    };
    if let Err(e) = crate::api::limits::admit(state, &user, None) {
        return Err(match e {
            ServerError::RateLimited(secs) => page::message(
                StatusCode::TOO_MANY_REQUESTS,
                i18n::text("Too many requests"),
                &format!("Too many requests in the last minute; retry in {secs} s."),
            ),
            other => page::server_error(&other),
        });
    }
    let csrf = super::csrf::token_for(&token);
    Ok(Some(WebSession {
        user,
        access,
        token,
        csrf,
        config: config.clone(),
    }))
}

/// `path` when it is a path of this app to come back to after signing in
/// ([`super::paths::app_path`], and not the sign-in page itself).
pub fn local_path(path: &str) -> Option<&str> {
    let ok = super::paths::app_path(path) && !path.starts_with("/web/login");
    ok.then_some(path)
}

/// Where to send a browser that is not signed in, from the request of
/// `parts`.
fn to_sign_in(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = match (parts.method == axum::http::Method::GET)
        .then(|| local_path(here))
        .flatten()
    {
        Some(p) => format!(
            "/web/login?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", p)
                .finish()
        ),
        None => "/web/login".to_owned(),
    };
    Redirect::to(&target).into_response()
}

impl FromRequestParts<Arc<AppState>> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Some(config) = parts.extensions.get::<WebConfig>().cloned() else {
            return Err(page::server_error(&ServerError::Internal(
                "the web routes lack their settings".into(),
            )));
        };
        match lookup(state, &parts.headers, &config).await? {
            Some(session) => Ok(session),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// The web session lifetime for this server: [`MAX_AGE`] or the server's
/// token lifetime, whichever is shorter.
pub fn lifetime(state: &AppState) -> Duration {
    MAX_AGE.min(state.config.token_ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_app_are_returned_to() {
        assert_eq!(local_path("/web/accounts?q=a"), Some("/web/accounts?q=a"));
        for bad in [
            "https://evil.example/web/",
            "//evil.example",
            "/web//evil",
            "/web/\\evil",
            "/v1/records",
            "/web/login",
            "/web/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
