//! The HTTP API: login, logout, the sync WebSocket, health and administration.
//!
//! Two routers, served on two listeners (see [`crate::Listeners`]):
//! [`router`] on the public one,
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | GET | `/v1/health` | anyone | liveness |
//! | POST | `/v1/login` | anyone | `{user, password, device_id?}` → `{token, expires_at, user}` |
//! | POST | `/v1/logout` | signed in | ends the session |
//! | GET | `/v1/sync` | signed in | WebSocket upgrade to the sync protocol (`410 device_wiped` for a device marked for wipe) |
//! | POST | `/v1/devices/wiped` | a wiped device | confirms a remote wipe (see [`crate::wipe`]) |
//! | any | `/v1/admin/*` | anyone | `404 not_found`: the admin API is not served here |
//!
//! and [`admin_router`] on the admin listener (`--admin-listen`, loopback
//! by default), with a session token obtained from the public `/v1/login`:
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | GET | `/v1/health` | anyone | liveness |
//! | GET | `/v1/admin/openapi.json` | anyone | the admin API's OpenAPI document ([`crate::api::openapi`]) |
//! | GET/POST | `/v1/admin/users` | admin | list / create users ([`crate::api::admin`]) |
//! | GET/PATCH | `/v1/admin/users/{name}` | admin | read / change a user's role, territories, manager, time zone |
//! | POST | `/v1/admin/users/{name}/disable`, `/enable` | admin | disable (ends sessions, marks devices for wipe) / enable a user |
//! | GET | `/v1/admin/roles`, `/v1/admin/territories` | admin | roles of the policy in force; territories in use, with counts |
//! | GET/PUT | `/v1/admin/policy` | admin | read / replace the policy (TOML body) |
//! | GET | `/v1/admin/devices?user=NAME` | admin | devices: last seen, app version, unsent changes at last contact, wipe state |
//! | POST | `/v1/admin/devices/{id}/wipe` | admin | mark a device for remote wipe |
//! | GET | `/v1/admin/audit` | admin | recent refusals and administrative actions |
//! | … | `/v1/admin/api-keys`, `/v1/admin/webhooks`, `/v1/admin/users/{name}/calendar-feed` | admin | integrations ([`crate::api::keys`], [`crate::api::webhooks`]) |
//!
//! Every administrative change made through the admin API is written to
//! the audit log with who did it, what, and when (codes `admin_*`, see
//! [`crate::admin::codes`] and [`crate::db::audit`]). The admin API answers
//! errors as `application/problem+json` ([`crate::api::problem`]).
//!
//! Tokens travel as `Authorization: Bearer <token>`. Errors of the routes
//! in this module are JSON `{code, message}` with a stable `code` (see
//! [`crate::error`]).
//!
//! # Guarantees
//!
//! - Login bodies are read with a size limit and a time limit
//!   (`max_login_body`, `body_timeout`; admin bodies: `max_admin_body`, see
//!   [`crate::api::body`]): a body that
//!   is too large is refused with `413 payload_too_large` (at once when its
//!   `Content-Length` says so), a body that trickles is cut with
//!   `408 request_timeout`, a body that is not the expected JSON gets
//!   `400 bad_request`.
//! - A login's user name is checked ([`auth::check_login_name`]) before it
//!   is used for anything, and an attempt is counted before its password is
//!   verified (see [`crate::auth`]); the answers are `invalid_credentials`,
//!   `rate_limited` (with `Retry-After`) and `bad_request`.
//! - The client address of a login is the TCP peer, unless the peer is one
//!   of `trusted_proxies`: then it is the right-most `X-Forwarded-For` hop
//!   that is not a trusted proxy ([`client_ip`]).
//! - The WebSocket layer accepts frames up to one and a half times the
//!   codec's frame limit, so a frame over the codec's limit is refused by the
//!   codec with the documented `error{message_too_large}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldwork_core::UserContext;
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::db::{tokens, users};
use crate::error::{ErrorBody, Result, ServerError};
pub use crate::request::Authenticated;
pub use crate::request::client_ip;
pub(crate) use crate::request::{bearer, read_body_bytes};
use crate::state::AppState;
use crate::sync::connection;

/// The public listener's router: health, login, logout, sync, the office
/// API and the web app ([`crate::web`]; `tls`: whether this listener
/// serves TLS, for its cookies). The admin API is not served here
/// (`/v1/admin/*` answers `404`).
pub fn router(state: Arc<AppState>, tls: bool) -> Router {
    let limits = state.config.limits;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route(
            "/v1/sync",
            get(
                move |State(state): State<Arc<AppState>>,
                      contact: NotWiped,
                      auth: Authenticated,
                      ws: WebSocketUpgrade| async move {
                    sync(state, contact, auth, ws, limits.max_frame).await
                },
            ),
        )
        .route("/v1/devices/wiped", post(device_wiped))
        .route("/v1/admin", axum::routing::any(not_here))
        .route("/v1/admin/{*rest}", axum::routing::any(not_here))
        .merge(crate::api::routes())
        .merge(crate::web::routes(tls))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::edge::cors,
        ))
        .layer(axum::middleware::from_fn(crate::api::edge::request_id))
        .with_state(state)
}

/// The admin listener's router: health and the `/v1/admin/*` API, whose
/// handlers live in [`crate::api`] (people and rules in
/// [`crate::api::admin`]; each checks the caller is an administrator and
/// writes its changes to the audit log).
pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .merge(crate::api::admin_routes())
        .with_state(state)
}

/// `/v1/admin/*` on the public listener.
async fn not_here() -> Response {
    refusal(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint here: the admin API is served on the admin listener (--admin-listen)",
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// A login request.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// The device signing in.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// A successful login.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    /// The session token.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// Who signed in.
    pub user: UserContext,
    /// The policy in force (TOML), so the device enforces it at once.
    pub policy: String,
    /// Its revision.
    pub policy_revision: u64,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match login_checked(state, peer, &headers, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(refusal) => refusal,
    }
}

async fn login_checked(
    state: Arc<AppState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> std::result::Result<LoginResponse, Response> {
    let config = &state.config;
    let bytes = read_body(headers, body, config.max_login_body, config.body_timeout).await?;
    let req: LoginRequest = serde_json::from_slice(&bytes)
        .map_err(|_| bad_request("the body must be JSON {user, password, device_id?}"))?;
    auth::check_login_name(&req.user).map_err(|e| bad_request(&e.to_string()))?;
    if req.password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(bad_request(&format!(
            "the password must have at most {} bytes",
            auth::MAX_PASSWORD_BYTES
        )));
    }
    if let Some(device) = &req.device_id
        && !crate::db::devices::valid_id(device)
    {
        return Err(bad_request(
            "device_id must have 1 to 64 bytes and no control characters",
        ));
    }
    let client = client_ip(peer.ip(), headers, &config.trusted_proxies);
    let verified = crate::login::verify_password(
        &state,
        &req.user,
        req.password,
        req.device_id.clone(),
        client,
        peer,
    )
    .await
    .map_err(IntoResponse::into_response)?;
    if verified.wipe_order_due
        && let Some(device) = &req.device_id
    {
        return Err(
            match crate::wipe::deliver_at_login(&state, &req.user, device, Some(client.to_string()))
                .await
            {
                Ok(order) => order.into_response(),
                Err(e) => e.into_response(),
            },
        );
    }
    let token = auth::new_token();
    let now = state.now_ms();
    let expires = now + config.token_ttl.as_millis() as i64;
    let (name, device, t) = (req.user.clone(), req.device_id.clone(), token.clone());
    let (user, policy_revision, policy) = state
        .db
        .write(move |w| {
            let user = users::by_name(&w.conn, &name)?.ok_or(ServerError::InvalidCredentials)?;
            tokens::purge_expired(&w.conn, now)?;
            tokens::create(&w.conn, &t, user.id, device.as_deref(), now, expires)?;
            let (revision, policy) = crate::db::policy::current(&w.conn)?;
            Ok((users::context(&w.conn, &user)?, revision, policy))
        })
        .await
        .map_err(IntoResponse::into_response)?;
    tracing::info!(user = %user.name, %client, "signed in");
    Ok(LoginResponse {
        token,
        expires_at: jiff::Timestamp::from_millisecond(expires)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        user,
        policy: policy.source().to_owned(),
        policy_revision,
    })
}

/// An error answer with a stable `code`, for refusals that happen before a
/// request is understood (body too large, too slow, not JSON).
fn refusal(status: StatusCode, code: &'static str, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            code,
            message: message.to_owned(),
        }),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// [`read_body_bytes`] with failures as JSON `{code, message}` answers.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> std::result::Result<Bytes, Response> {
    read_body_bytes(headers, body, limit, timeout)
        .await
        .map_err(|e| {
            let (status, code, message) = e.describe();
            refusal(status, code, &message)
        })
}

async fn logout(State(state): State<Arc<AppState>>, auth: Authenticated) -> Result<StatusCode> {
    state
        .db
        .write(move |w| tokens::revoke(&w.conn, &auth.token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync(
    state: Arc<AppState>,
    contact: NotWiped,
    auth: Authenticated,
    ws: WebSocketUpgrade,
    max_frame: usize,
) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    // Above the codec's limit, so that the codec (not the WebSocket layer)
    // refuses an oversized frame and the device hears `message_too_large`.
    let wire_limit = max_frame.saturating_add(max_frame / 2);
    ws.max_message_size(wire_limit)
        .max_frame_size(wire_limit)
        .on_upgrade(move |socket| async move {
            connection::run_from(state, auth.user, socket, contact.address).await;
            drop(permit);
        })
}

/// Checked before a sync connection is authenticated: a bearer token whose
/// session (live, expired or ended) named a device marked for wipe is
/// answered `410 Gone` `{code: "device_wiped", message}` (see
/// [`crate::wipe`]); any other request passes on to [`Authenticated`], so a
/// token that matches nothing still gets the usual `401`. Also carries the
/// client's address (recorded at hello).
pub struct NotWiped {
    /// The client address ([`client_ip`]), when known.
    pub address: Option<String>,
}

impl FromRequestParts<Arc<AppState>> for NotWiped {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> std::result::Result<Self, Response> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| {
                client_ip(peer.ip(), &parts.headers, &state.config.trusted_proxies).to_string()
            });
        if let Some(token) = bearer(&parts.headers) {
            match crate::wipe::deliver_for_token(state, &token, "sync", address.clone()).await {
                Ok(Some(order)) => return Err(order.into_response()),
                Ok(None) => {}
                Err(e) => return Err(e.into_response()),
            }
        }
        Ok(NotWiped { address })
    }
}

/// `POST /v1/devices/wiped`: a device confirms its wipe with the token it
/// was given the order with (see [`crate::wipe::confirm`]): `204`, `401`
/// for a token that matches no session, `409 not_marked_for_wipe` for a
/// device that is not marked.
async fn device_wiped(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return ServerError::Unauthorized.into_response();
    };
    match crate::wipe::confirm(&state, &token).await {
        Ok(Some(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(None) => crate::wipe::not_marked(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &[]), ip("10.0.0.5"));
        assert_eq!(
            client_ip(ip("10.0.0.5"), &h, &[ip("10.0.0.1")]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client forged the left-most entry; the proxies appended the rest.
        let h = forwarded(&["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("198.51.100.7"));
        let h = forwarded(&["[2001:db8::7]:443"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("2001:db8::7"));
        let h = forwarded(&["198.51.100.7:5555"]);
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &h, &proxies),
            ip("198.51.100.7")
        );
        // No header, or garbage written by a trusted hop: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
        let h = forwarded(&["1.1.1.1, not-an-address, 10.0.0.2"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.2"));
    }
}
