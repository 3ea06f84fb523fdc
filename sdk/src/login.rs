//! Signing in and out over HTTP.

use fieldwork_core::UserContext;
use fieldwork_core::store::{SignIn, Transport};
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

/// Signs `user` in at `server` (base URL, e.g. `https://crm.example:8787`)
/// and stores the sign-in (user, policy and `transport`: how to reach the
/// server: extra CA, pinned certificate, plain HTTP allowed) in the device
/// store, the login token in the keystore; every later sync uses that
/// transport. A store that belongs to
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
    let url = transport::base_url(server, &transport)?
        .join("/v1/login")
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let device_id = device.with_store(|s| Ok(s.device_id().to_owned()))?;
    let response = transport::http_client(&transport)?
        .post(url)
        .json(&serde_json::json!({ "user": user, "password": password, "device_id": device_id }))
        .send()
        .await
        .map_err(|e| transport::request_error(e, server, &transport))?;
    match response.status().as_u16() {
        200 => {}
        410 => return Err(wipe_order_at_login(device, server, &transport, response).await),
        401 => return Err(SdkError::InvalidCredentials),
        429 => return Err(SdkError::RateLimited),
        _ => return Err(transport::server_error(response).await),
    }
    let body: LoginResponse = response
        .json()
        .await
        .map_err(|e| SdkError::Network(format!("unexpected login answer: {e}")))?;
    let sign_in = SignIn {
        server: server.trim_end_matches('/').to_owned(),
        transport,
        user: body.user,
        policy: body.policy,
        policy_revision: body.policy_revision,
    };
    // The binding first: a store of another user is refused before its
    // keystore entry is touched.
    device.with_store(|s| s.set_sign_in(&sign_in))?;
    device.state.set_token(&body.token)
}

/// Ends the login on the server (best effort) and forgets the token. The
/// data stays on the device, bound to the same user.
pub async fn logout(device: &Device) -> Result<()> {
    let sign_in = device.with_store(|s| s.sign_in())?;
    if let Some(sign_in) = sign_in
        && let Some(token) = device.token()?
        && let Ok(url) = transport::base_url(&sign_in.server, &sign_in.transport).and_then(|u| {
            u.join("/v1/logout")
                .map_err(|_| SdkError::BadUrl(sign_in.server.clone()))
        })
        && let Ok(client) = transport::http_client(&sign_in.transport)
    {
        // The token is forgotten locally whether or not the server is reachable.
        let _ = client.post(url).bearer_auth(&token).send().await;
    }
    device.state.forget_token()
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
    crate::wipe::carry_out(&device.state, Some(reach), order.confirm_token).await
}
