//! What the HTTP layers share about a request, below both the sync/admin
//! routes (`http`) and the office API (`api`): reading a body within its
//! limits, the signed-in user of a session token, the admin check, the
//! client's address behind trusted proxies ([`client_ip`]; also the web
//! app's, [`crate::web`]).
//!
//! Guarantees: a body is read with a size and a time limit (refused at
//! once when its `Content-Length` is too large); a token is looked up
//! only when it is 1 to 256 bytes; the admin check reads the policy in
//! force, not a role name.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use crate::db::{tokens, users};
use crate::error::{Result, ServerError};
use crate::state::AppState;

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Longer than the limit (bytes).
    TooLarge(usize),
    /// The connection or the chunked encoding broke.
    Broken,
    /// It did not arrive within the time limit.
    Timeout(Duration),
}

impl BodyError {
    /// The status, stable code and sentence of this failure.
    pub(crate) fn describe(self) -> (StatusCode, &'static str, String) {
        match self {
            BodyError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body must have at most {limit} bytes"),
            ),
            BodyError::Broken => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read (connection or chunked encoding broken)".into(),
            ),
            BodyError::Timeout(t) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {} s", t.as_secs_f32()),
            ),
        }
    }
}

/// Reads a request body of at most `limit` bytes within `timeout` (refused
/// at once when its `Content-Length` says it is too large).
pub(crate) async fn read_body_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> std::result::Result<Bytes, BodyError> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(if is_length_limit(e) {
            BodyError::TooLarge(limit)
        } else {
            BodyError::Broken
        }),
        Err(_) => Err(BodyError::Timeout(timeout)),
    }
}

/// Whether reading a body failed because it passed its length limit.
fn is_length_limit(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<http_body_util::LengthLimitError>()
        .is_some()
}

/// The signed-in user of a request (from `Authorization: Bearer`).
pub struct Authenticated {
    /// The user.
    pub user: users::User,
    /// The token presented.
    pub token: String,
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(ServerError::Unauthorized)?;
        let now = state.now_ms();
        let t = token.clone();
        let user = state
            .db
            .read(move |c| tokens::lookup(c, &t, now))
            .await?
            .ok_or(ServerError::Unauthorized)?;
        Ok(Authenticated { user, token })
    }
}

/// The token of `Authorization: Bearer TOKEN` (1 to 256 bytes), if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    (!token.is_empty() && token.len() <= 256).then(|| token.trim().to_owned())
}

/// Refuses non-admins.
pub(crate) fn require_admin(state: &AppState, user: &users::User) -> Result<()> {
    let admin = state.db.read_blocking(|c| {
        Ok(crate::db::policy::current(c)?
            .1
            .role(&user.role)
            .is_some_and(|r| r.admin))
    })?;
    if admin {
        Ok(())
    } else {
        Err(ServerError::Forbidden(format!(
            "role `{}` may not administer",
            user.role
        )))
    }
}

/// The address a request comes from: the TCP `peer`, or, when the peer is
/// one of the `trusted` proxies, the right-most `X-Forwarded-For` hop that
/// is not itself a trusted proxy (hops to its left were written by the
/// client and prove nothing). A hop that is not an address ends the walk at
/// the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| same_ip(t, ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let values: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let mut client = peer;
    for hop in values.iter().flat_map(|v| v.split(',')).rev() {
        let Some(ip) = parse_hop(hop.trim()) else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// Two addresses are the same, also when one is IPv4-mapped IPv6.
fn same_ip(a: &IpAddr, b: &IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}
