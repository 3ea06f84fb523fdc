//! One WebSocket sync connection, driving the core's state machine.
//!
//! The loop feeds the machine four kinds of event — connected, a frame
//! arrived, local changes were made, disconnected — and carries out its
//! effects: frames to send, status to publish, records to count. Store
//! work (which can take a while for large batches) runs on tokio's blocking
//! pool; what it changed is announced when its store lock is released
//! ([`crate::state`]), which also wakes this loop to push what the process
//! engine wrote. A connection that stays silent for [`DEAD_AFTER`] despite
//! pings is considered dead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldwork_core::sync::codec::{self, Limits};
use fieldwork_core::sync::protocol::{ClientMessage, ServerMessage, error_codes};
use fieldwork_core::sync::{ClientConfig, Effect, Event, SyncClient};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::error::{Result, SdkError, internal_codes};
use crate::state::DeviceState;

/// What a one-shot sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Local changes sent.
    pub pushed: usize,
    /// Records that changed on this device.
    pub changed: usize,
    /// Local changes the server refused (see the quarantine).
    pub refused: usize,
    /// Attachments uploaded and downloaded ([`crate::files`]).
    pub files: crate::files::TransferReport,
}

/// How often to ping the server.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Silence after which the connection is considered dead.
const DEAD_AFTER: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether to stay connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Disconnect once both sides are up to date.
    Once,
    /// Stay connected until stopped.
    Live,
}

/// How a connection ended.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    /// Why, if it failed.
    pub error: Option<SdkError>,
    /// Whether it reached "up to date" before ending.
    pub was_up_to_date: bool,
    /// What it did.
    pub report: SyncReport,
}

/// The WebSocket address for a server base URL (`http://h:p` → `ws://h:p/v1/sync`).
pub fn sync_url(server: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(server).map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        _ => return Err(SdkError::BadUrl(server.to_owned())),
    };
    url.set_scheme(scheme)
        .map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    url.set_path("/v1/sync");
    Ok(url)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(device: &DeviceState) -> Result<Ws> {
    let sign_in = device
        .with_store(|s| s.sign_in())?
        .ok_or(SdkError::NotLoggedIn)?;
    let token = device.token()?.ok_or(SdkError::NotLoggedIn)?;
    let transport = &sign_in.transport;
    // The URL policy before anything touches the network.
    crate::transport::check_url(&sign_in.server, transport)?;
    let url = sync_url(&sign_in.server)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| SdkError::BadUrl(format!("{}: {e}", sign_in.server)))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        SdkError::internal(
            internal_codes::UNUSABLE_TOKEN,
            "the stored login token cannot be sent in a header; sign in again",
        )
    })?;
    request.headers_mut().insert("authorization", bearer);
    let limits = Limits::default();
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_frame))
        .max_frame_size(Some(limits.max_frame));
    // The same trust as login (the sign-in's transport), for `wss://`.
    let tls = Arc::new(crate::transport::client_config(transport)?);
    let connector = tokio_tungstenite::Connector::Rustls(tls);
    // `true`: disable Nagle's algorithm; sync frames are small and urgent.
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        true,
        Some(connector),
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(SdkError::Network(format!(
            "connecting to {} timed out",
            sign_in.server
        ))),
        // A wipe order (see crate::wipe): carried out before anything else.
        Ok(Err(tungstenite::Error::Http(response))) if response.status().as_u16() == 410 => {
            let body = response.body().as_deref();
            Err(
                crate::wipe::on_gone_at_connect(device, &sign_in.server, transport, &token, body)
                    .await
                    .unwrap_or_else(|| SdkError::Server {
                        code: "410".into(),
                        message: "the server refused the connection (410 Gone)".into(),
                    }),
            )
        }
        Ok(Err(tungstenite::Error::Http(response))) if response.status().as_u16() == 401 => {
            Err(SdkError::SessionExpired)
        }
        Ok(Err(tungstenite::Error::Http(response))) => Err(SdkError::Server {
            code: response.status().as_u16().to_string(),
            message: format!("the server refused the connection ({})", response.status()),
        }),
        Ok(Err(e)) => Err(crate::transport::tls_error(&e, &sign_in.server, transport)
            .unwrap_or_else(|| SdkError::Network(format!("{}: {e}", sign_in.server)))),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// Runs one connection until it fails, is stopped, or (in [`Mode::Once`])
/// both sides are up to date.
pub(crate) async fn run(
    device: &Arc<DeviceState>,
    mode: Mode,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let mut ended = Ended::default();
    device.set_status(crate::SyncStatus::Connecting);
    let mut ws = match connect(device).await {
        Ok(ws) => ws,
        Err(e) => {
            ended.error = Some(e);
            return ended;
        }
    };
    let quarantined = |d: &DeviceState| d.with_store(|s| Ok(s.quarantine()?.len())).unwrap_or(0);
    let before = quarantined(device);
    let mut client = SyncClient::new(ClientConfig::default());
    client.set_app_version(device.app_version());
    let machine = Arc::new(Mutex::new(client));
    let result = drive(device, mode, stop, &mut ws, &machine, &mut ended).await;
    ended.report.refused = quarantined(device).saturating_sub(before);
    let _ = ws.close(None).await;
    let _ = step(device, &machine, Event::Disconnected).await;
    if let Err(e) = result {
        ended.error = Some(e);
    }
    ended
}

async fn drive(
    device: &Arc<DeviceState>,
    mode: Mode,
    stop: &mut watch::Receiver<bool>,
    ws: &mut Ws,
    machine: &Arc<Mutex<SyncClient>>,
    ended: &mut Ended,
) -> Result<()> {
    let effects = step(device, machine, Event::Connected).await?;
    apply(device, ws, effects, ended).await?;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let limits = Limits::default();
    loop {
        if mode == Mode::Once && settled(device, machine).await? {
            return Ok(());
        }
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            _ = device.changes_made() => {
                let effects = step(device, machine, Event::LocalChanges).await?;
                let pushes = ended.report.pushed;
                apply(device, ws, effects, ended).await?;
                if mode == Mode::Live && ended.report.pushed > pushes {
                    crate::files::spawn_transfer(device);
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    return Err(SdkError::Network("the server stopped answering".into()));
                }
                ws.send(Message::Ping(Vec::new().into()))
                    .await
                    .map_err(|e| SdkError::Network(e.to_string()))?;
            }
            frame = ws.next() => {
                last_heard = Instant::now();
                match frame {
                    None | Some(Ok(Message::Close(_))) => {
                        return Err(SdkError::Network("the server closed the connection".into()));
                    }
                    Some(Err(e)) => return Err(SdkError::Network(e.to_string())),
                    Some(Ok(Message::Binary(bytes))) => {
                        let message: ServerMessage = codec::decode(&bytes, limits)
                            .map_err(|e| SdkError::Network(format!("bad frame from the server: {e}")))?;
                        if matches!(message, ServerMessage::UpToDate(_)) {
                            ended.was_up_to_date = true;
                            if mode == Mode::Live {
                                crate::files::spawn_transfer(device);
                            }
                        }
                        let effects = step(device, machine, Event::Received(message)).await?;
                        apply(device, ws, effects, ended).await?;
                    }
                    Some(Ok(_)) => {} // pings, pongs, text: nothing to do
                }
            }
        }
    }
}

/// Feeds one event to the machine, on the blocking pool.
async fn step(
    device: &Arc<DeviceState>,
    machine: &Arc<Mutex<SyncClient>>,
    event: Event,
) -> Result<Vec<Effect>> {
    let (device, machine) = (device.clone(), machine.clone());
    tokio::task::spawn_blocking(move || {
        let mut store = device.lock()?;
        let mut m = machine.lock().map_err(|_| poisoned())?;
        Ok(m.handle(&mut store, event)?)
    })
    .await
    .map_err(|e| {
        SdkError::internal(
            internal_codes::TASK_FAILED,
            format!("sync task failed: {e}"),
        )
    })?
}

/// The sync state machine's lock was poisoned by a panic in an earlier step.
fn poisoned() -> SdkError {
    SdkError::internal(
        internal_codes::LOCK_POISONED,
        "the sync state was poisoned by an earlier panic",
    )
}

async fn settled(device: &DeviceState, machine: &Arc<Mutex<SyncClient>>) -> Result<bool> {
    let store = device.lock()?;
    let m = machine.lock().map_err(|_| poisoned())?;
    Ok(m.settled(&store)?)
}

/// Carries out the machine's effects.
async fn apply(
    device: &DeviceState,
    ws: &mut Ws,
    effects: Vec<Effect>,
    ended: &mut Ended,
) -> Result<()> {
    for effect in effects {
        match effect {
            Effect::Send(message) => {
                if let ClientMessage::Push(p) = &message {
                    ended.report.pushed += p.changes.len();
                }
                ws.send(Message::Binary(codec::encode(&message).into()))
                    .await
                    .map_err(|e| SdkError::Network(e.to_string()))?;
            }
            // A failure is reported by the driver, with its cause.
            Effect::Status(status) => {
                if let Some(status) = crate::SyncStatus::from_core(status) {
                    device.set_status(status);
                }
            }
            // Announced with the store lock's release (crate::state).
            Effect::Changed(records) => ended.report.changed += records.len(),
            Effect::Fatal(error) => {
                return Err(match error.code.as_str() {
                    // Marked for wipe while connected (see crate::wipe).
                    error_codes::DEVICE_WIPED => crate::wipe::carry_out(device, None, None).await,
                    error_codes::UNAUTHORIZED => SdkError::SessionExpired,
                    error_codes::SHUTTING_DOWN => SdkError::Network(error.message),
                    _ => SdkError::Server {
                        code: error.code,
                        message: error.message,
                    },
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_url_follows_the_base_url() {
        assert_eq!(
            sync_url("http://127.0.0.1:8787").expect("ok").as_str(),
            "ws://127.0.0.1:8787/v1/sync"
        );
        assert_eq!(
            sync_url("https://crm.example.com/").expect("ok").as_str(),
            "wss://crm.example.com/v1/sync"
        );
        assert!(matches!(sync_url("ftp://x"), Err(SdkError::BadUrl(_))));
        assert!(matches!(sync_url("not a url"), Err(SdkError::BadUrl(_))));
    }
}
