//! Signing in and out over HTTP.

use fieldwork_core::UserContext;
use fieldwork_core::store::{Session, Transport};
use serde::Deserialize;

use crate::device::Device;
use crate::error::{Result, SdkError};
use crate::transport;

#[derive(Debug, Deserialize)]
struct LoginResponse {
    token: String,
    user: UserContext,
    policy: String,
    policy_revision: u64,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The server's base URL, allowed by the URL policy
/// ([`transport::check_url`]).
fn base(server: &str, transport: &Transport) -> Result<url::Url> {
    let url = transport::check_url(server, transport)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SdkError::BadUrl(server.to_owned()));
    }
    Ok(url)
}

/// A failed request: a TLS failure in words, or a network error.
fn request_error(e: reqwest::Error, server: &str, transport: &Transport) -> SdkError {
    transport::tls_error(&e, server, transport)
        .unwrap_or_else(|| SdkError::Network(format!("{server}: {e}")))
}

async fn server_error(response: reqwest::Response) -> SdkError {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => SdkError::Server {
            code: body.code,
            message: body.message,
        },
        Err(_) => SdkError::Server {
            code: status.as_u16().to_string(),
            message: format!("the server answered {status}"),
        },
    }
}

/// Signs `user` in at `server` (base URL, e.g. `https://crm.example:8787`)
/// and stores the session, the policy and `transport` (how to reach the
/// server: extra CA, pinned certificate, plain HTTP allowed) in the device
/// store; every later sync uses that transport. A store that belongs to
/// another user is refused.
///
/// `transport` is checked first (pin format, CA PEM: [`SdkError::Tls`]),
/// then the URL policy ([`SdkError::InsecureHttp`] for plain `http://` to
/// another machine without `insecure_http`), before any connection.
pub async fn login(
    device: &Device,
    server: &str,
    user: &str,
    password: &str,
    transport: Transport,
) -> Result<()> {
    let transport = transport::normalize(transport)?;
    let url = base(server, &transport)?
        .join("/v1/login")
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let device_id = device.with_store(|s| Ok(s.device_id().to_owned()))?;
    let response = transport::http_client(&transport)?
        .post(url)
        .json(&serde_json::json!({ "user": user, "password": password, "device_id": device_id }))
        .send()
        .await
        .map_err(|e| request_error(e, server, &transport))?;
    match response.status().as_u16() {
        200 => {}
        410 => return Err(wipe_order_at_login(device, server, &transport, response).await),
        401 => return Err(SdkError::InvalidCredentials),
        429 => return Err(SdkError::RateLimited),
        _ => return Err(server_error(response).await),
    }
    let body: LoginResponse = response
        .json()
        .await
        .map_err(|e| SdkError::Network(format!("unexpected login answer: {e}")))?;
    let session = Session {
        server: server.trim_end_matches('/').to_owned(),
        transport,
        user: body.user,
        policy: body.policy,
        policy_revision: body.policy_revision,
    };
    // The binding first: a store of another user is refused before its
    // keystore entry is touched.
    device.with_store(|s| s.set_session(&session))?;
    device.set_token(&body.token)
}

/// Ends the session on the server (best effort) and forgets the token. The
/// data stays on the device, bound to the same user.
pub async fn logout(device: &Device) -> Result<()> {
    let session = device.with_store(|s| s.session())?;
    if let Some(session) = session
        && let Some(token) = device.token()?
        && let Ok(url) = base(&session.server, &session.transport).and_then(|u| {
            u.join("/v1/logout")
                .map_err(|_| SdkError::BadUrl(session.server.clone()))
        })
        && let Ok(client) = transport::http_client(&session.transport)
    {
        // The token is forgotten locally whether or not the server is reachable.
        let _ = client.post(url).bearer_auth(&token).send().await;
    }
    device.forget_token()
}

/// A login answered `410 Gone`: a wipe order (`device_wiped`) is carried
/// out (see [`crate::wipe`]); any other 410 is an ordinary server error.
async fn wipe_order_at_login(
    device: &Device,
    server: &str,
    transport: &Transport,
    response: reqwest::Response,
) -> SdkError {
    let status = response.status();
    let Ok(order) = response.json::<crate::wipe::WipeOrder>().await else {
        return SdkError::Server {
            code: status.as_u16().to_string(),
            message: format!("the server answered {status}"),
        };
    };
    if !order.is_wipe() {
        return SdkError::Server {
            code: order.code,
            message: order.message,
        };
    }
    let reach = (server.trim_end_matches('/').to_owned(), transport.clone());
    crate::wipe::carry_out(device, Some(reach), order.confirm_token).await
}

/// Asks the server over plain HTTPS whether `token`'s device is marked for
/// wipe (when a refused WebSocket handshake did not carry the whole
/// answer): `Some` only for a `410` whose body is a `device_wiped` order.
pub(crate) async fn fetch_wipe_order(
    server: &str,
    transport: &Transport,
    token: &str,
) -> Option<crate::wipe::WipeOrder> {
    let url = base(server, transport)
        .and_then(|u| {
            u.join("/v1/sync")
                .map_err(|_| SdkError::BadUrl(server.to_owned()))
        })
        .ok()?;
    let client = transport::http_client(transport).ok()?;
    let response = client.get(url).bearer_auth(token).send().await.ok()?;
    if response.status().as_u16() != 410 {
        return None;
    }
    response
        .json::<crate::wipe::WipeOrder>()
        .await
        .ok()
        .filter(crate::wipe::WipeOrder::is_wipe)
}

/// Tells the server the wipe is done (`POST /v1/devices/wiped` with the
/// token the order came with). Best effort: the data is gone either way.
pub(crate) async fn confirm_wipe(server: &str, transport: &Transport, token: &str) -> Result<()> {
    let url = base(server, transport)?
        .join("/v1/devices/wiped")
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let response = transport::http_client(transport)?
        .post(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| request_error(e, server, transport))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(server_error(response).await)
    }
}
