//! The web app's style sheet and script, embedded in the binary and served
//! under `/web/static/`.
//!
//! Guarantees: the files are compiled in (`include_str!`), so the server
//! never reads or fetches them at run time; each is served with its exact
//! content type (`text/css`, `text/javascript`, UTF-8) and
//! `X-Content-Type-Options: nosniff` (added by [`super::headers`]), and may
//! be cached for an hour (the path carries no secret and no user data).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// The style sheet (`server/assets/web/app.css`).
pub const CSS: &str = include_str!("../../assets/web/app.css");

/// The script (`server/assets/web/app.js`): live refresh of page regions
/// and drag-and-drop on the pipeline board, on top of pages that work
/// without it.
pub const JS: &str = include_str!("../../assets/web/app.js");

/// The routes of the assets.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/web/static/app.css", get(css))
        .route("/web/static/app.js", get(js))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        JS,
    )
}
