//! Remote wipe, device side (docs/PROTOCOL.md, "Remote wipe").
//!
//! The server answers a device marked for wipe with an order: `410 Gone`
//! `{code: "device_wiped", message, confirm_token?}` to its sync connection
//! or its login, or an `error{device_wiped}` frame on an open connection.
//! Then, in this order:
//!
//! 1. the store is closed and this `Device`'s store slot emptied: every
//!    later call on it fails with [`SdkError::Wiped`];
//! 2. the store file and its `-wal`, `-shm`, `-journal` and scratch files
//!    are deleted ([`fieldwork_core::store::cipher::remove_files`]);
//! 3. every secret the SDK keeps ([`names::ALL`]: store keys, session
//!    token) is deleted from the keystore, also if step 2 failed (without
//!    its key, an encrypted store left behind is unreadable);
//! 4. the server is told (`POST /v1/devices/wiped` with the token the
//!    order came with), best effort: it records the confirmation and ends
//!    the device's sessions;
//! 5. the status becomes [`SyncStatus::Wiped`] and the call that met the
//!    order fails with [`SdkError::Wiped`].
//!
//! Unsent local changes are deleted with the store, by design. A new
//! store opened at the same path is a new device (new id) that can sign in.

use crate::state::SyncStatus;
use fieldwork_core::store::Transport;
use fieldwork_core::sync::protocol::error_codes;
use serde::Deserialize;

use crate::error::{Result, SdkError};
use crate::state::DeviceState;

/// The server's wipe order (the JSON body of its `410 Gone`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct WipeOrder {
    /// `device_wiped`.
    pub code: String,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// At a login: the token to confirm with.
    #[serde(default)]
    pub confirm_token: Option<String>,
}

impl WipeOrder {
    /// Whether this is a wipe order (and not some other `410`).
    pub fn is_wipe(&self) -> bool {
        self.code == error_codes::DEVICE_WIPED
    }
}

/// A refused WebSocket handshake with status `410`: `Some(error)` when it
/// was a wipe order (carried out), `None` when it was not one. The order is
/// recognised from the answer's body; when the handshake did not carry the
/// whole body, the server is asked again over HTTP.
pub(crate) async fn on_gone_at_connect(
    device: &DeviceState,
    server: &str,
    transport: &Transport,
    token: &str,
    body: Option<&[u8]>,
) -> Option<SdkError> {
    let order = match body.and_then(|b| serde_json::from_slice::<WipeOrder>(b).ok()) {
        Some(order) => Some(order).filter(WipeOrder::is_wipe),
        None => fetch_wipe_order(server, transport, token).await,
    }?;
    Some(
        carry_out(
            device,
            Some((server.to_owned(), transport.clone())),
            order.confirm_token,
        )
        .await,
    )
}

/// Carries out a wipe order (see the module's steps) and returns the error
/// the interrupted call fails with: [`SdkError::Wiped`], or what kept the
/// data from being deleted. `reach`: the server to confirm to (default: the
/// store's sign-in); `confirm_token`: the token to confirm with (default:
/// the device's own).
pub(crate) async fn carry_out(
    device: &DeviceState,
    reach: Option<(String, Transport)>,
    confirm_token: Option<String>,
) -> SdkError {
    // What the confirmation needs, read before it is deleted.
    let reach = reach.or_else(|| {
        device
            .with_store(|s| s.sign_in())
            .ok()
            .flatten()
            .map(|s| (s.server, s.transport))
    });
    let token = confirm_token.or_else(|| device.token().ok().flatten());
    if let Err(e) = device.wipe_local() {
        tracing::error!(error = %e, "remote wipe: deleting the local data failed");
        device.set_status(SyncStatus::Wiped);
        return e;
    }
    tracing::warn!("remote wipe: the local data and keys are deleted");
    if let (Some((server, transport)), Some(token)) = (reach, token)
        && let Err(e) = confirm_wipe(&server, &transport, &token).await
    {
        tracing::warn!(error = %e, "remote wipe: the server could not be told");
    }
    SdkError::Wiped
}

/// Asks the server over plain HTTPS whether `token`'s device is marked for
/// wipe (when a refused WebSocket handshake did not carry the whole
/// answer): `Some` only for a `410` whose body is a `device_wiped` order.
pub(crate) async fn fetch_wipe_order(
    server: &str,
    transport: &Transport,
    token: &str,
) -> Option<WipeOrder> {
    let url = crate::transport::base_url(server, transport)
        .and_then(|u| {
            u.join("/v1/sync")
                .map_err(|_| SdkError::BadUrl(server.to_owned()))
        })
        .ok()?;
    let client = crate::transport::http_client(transport).ok()?;
    let response = client.get(url).bearer_auth(token).send().await.ok()?;
    if response.status().as_u16() != 410 {
        return None;
    }
    response
        .json::<WipeOrder>()
        .await
        .ok()
        .filter(WipeOrder::is_wipe)
}

/// Tells the server the wipe is done (`POST /v1/devices/wiped` with the
/// token the order came with). Best effort: the data is gone either way.
pub(crate) async fn confirm_wipe(server: &str, transport: &Transport, token: &str) -> Result<()> {
    let url = crate::transport::base_url(server, transport)?
        .join("/v1/devices/wiped")
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let response = crate::transport::http_client(transport)?
        .post(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| crate::transport::request_error(e, server, transport))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(crate::transport::server_error(response).await)
    }
}
