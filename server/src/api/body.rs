//! Request bodies of the office API: JSON, limited in size and time.
//!
//! Guarantees: a body over the limit is refused with `413
//! payload_too_large` (at once when its `Content-Length` says so), one
//! that trickles is cut with `408 request_timeout`, one that is not the
//! expected JSON gets `400 bad_request` naming what is wrong.

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::request::read_body_bytes;
use crate::state::AppState;

/// Reads and parses a JSON body of at most `max_admin_body` bytes.
pub async fn json<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Problem> {
    let bytes = bytes(state, headers, body).await?;
    parse(&bytes)
}

/// [`json`], with `T::default()` for an empty body (an optional body).
pub async fn json_or_default<T: DeserializeOwned + Default>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, Problem> {
    let bytes = bytes(state, headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(&bytes)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::bad_request(format!("malformed JSON body: {e}")))
}

async fn bytes(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, Problem> {
    read_body_bytes(
        headers,
        body,
        state.config.max_admin_body,
        state.config.body_timeout,
    )
    .await
    .map_err(|e| {
        let (status, code, detail) = e.describe();
        Problem::new(status, code, detail)
    })
}
