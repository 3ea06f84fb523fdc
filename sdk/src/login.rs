//! Signing in and out over HTTP.

use fieldwork_core::UserContext;
use fieldwork_core::store::Session;
use serde::Deserialize;

use crate::device::Device;
use crate::error::{Result, SdkError};

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

fn base(server: &str) -> Result<url::Url> {
    let url = url::Url::parse(server).map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(SdkError::BadUrl(server.to_owned()));
    }
    Ok(url)
}

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| SdkError::Network(e.to_string()))
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

/// Signs `user` in at `server` (base URL, e.g. `http://127.0.0.1:8787`) and
/// stores the session and the policy in the device store. A store that
/// belongs to another user is refused.
pub async fn login(device: &Device, server: &str, user: &str, password: &str) -> Result<()> {
    let url = base(server)?
        .join("/v1/login")
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let device_id = device.with_store(|s| Ok(s.device_id().to_owned()))?;
    let response = client()?
        .post(url)
        .json(&serde_json::json!({ "user": user, "password": password, "device_id": device_id }))
        .send()
        .await
        .map_err(|e| SdkError::Network(format!("{server}: {e}")))?;
    match response.status().as_u16() {
        200 => {}
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
        token: body.token,
        user: body.user,
        policy: body.policy,
        policy_revision: body.policy_revision,
    };
    device.with_store(|s| s.set_session(&session))
}

/// Ends the session on the server (best effort) and forgets the token. The
/// data stays on the device, bound to the same user.
pub async fn logout(device: &Device) -> Result<()> {
    let session = device.with_store(|s| s.session())?;
    if let Some(session) = session.filter(|s| !s.token.is_empty())
        && let Ok(url) = base(&session.server).and_then(|u| {
            u.join("/v1/logout")
                .map_err(|_| SdkError::BadUrl(session.server.clone()))
        })
    {
        // The token is forgotten locally whether or not the server is reachable.
        let _ = client()?.post(url).bearer_auth(&session.token).send().await;
    }
    device.with_store(|s| s.clear_token())
}
