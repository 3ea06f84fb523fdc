//! What every request passes through: a request id, and CORS for the
//! origins an operator allowed.
//!
//! Guarantees: every answer carries `x-request-id` (the caller's, if it is
//! 1 to 64 visible ASCII characters, else a new ULID), and every log line
//! of the request names it, with the path but never a secret in it (a
//! calendar feed's token is logged as `<secret>`; query strings are not
//! logged). CORS is off unless `cors_origins` lists the
//! request's `Origin` exactly; then the answer allows that one origin
//! (never `*`) and a preflight is answered without reaching a handler.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::state::AppState;

/// Gives the request an id, logs it, and returns it in `x-request-id`.
pub async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %loggable_path(request.uri().path())
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// `path` as logs may show it: a calendar feed's secret token (the path
/// segment after `/v1/calendar/`) replaced by `<secret>`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const FEEDS: &str = "/v1/calendar/";
    match path.strip_prefix(FEEDS) {
        Some(rest) if !rest.is_empty() => format!("{FEEDS}<secret>").into(),
        _ => path.into(),
    }
}

/// Answers CORS for allowed origins; leaves other requests untouched.
pub async fn cors(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| state.config.cors_origins.iter().any(|allowed| allowed == o))
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = (StatusCode::NO_CONTENT, Body::empty()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PATCH, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, x-request-id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-request-id, retry-after"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn feed_tokens_never_reach_the_log() {
        assert_eq!(
            loggable_path("/v1/calendar/fwc_0123456789abcdef.ics"),
            "/v1/calendar/<secret>"
        );
        assert_eq!(loggable_path("/v1/calendar"), "/v1/calendar");
        assert_eq!(loggable_path("/v1/records/account"), "/v1/records/account");
    }
}
