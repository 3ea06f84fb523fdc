//! The host of one device's sync connection: moves frames between the
//! WebSocket and the [`Machine`], waits for events and deadlines, and runs
//! each step on tokio's blocking pool (a step does its database work
//! synchronously; see [`super::machine`]).
//!
//! Guarantees: every protocol decision is the machine's; this task only
//! decodes frames, hands events over in the order they arrive and sends the
//! effects in order (flushing once per step). While the machine has more to
//! send ([`Machine::has_more`]) it is stepped again at once, after the last
//! step's effects went out. When the machine closes, the
//! device gets the `Error` message and the socket is closed; a device that
//! closes ends the task quietly.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use fieldwork_core::sync::codec;
use fieldwork_core::sync::protocol::{ClientMessage, ErrorMessage, ServerMessage, error_codes};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::machine::{Close, Effect, Event, Machine, close};
use crate::db::users::User;
use crate::hub::HubEvent;
use crate::state::AppState;

/// The sending half of the socket.
type Sink = SplitSink<WebSocket, Message>;

/// Runs a sync connection for an authenticated user until it ends.
pub async fn run(state: Arc<AppState>, user: User, socket: WebSocket) {
    run_from(state, user, socket, None).await;
}

/// [`run`], for a device connecting from `address` (recorded at hello).
pub async fn run_from(
    state: Arc<AppState>,
    user: User,
    socket: WebSocket,
    address: Option<String>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.subscribe();
    let mut events = state.hub.subscribe();
    let name = user.name.clone();
    let limits = state.config.limits;
    let mut machine = Some(Machine::new(state, user, address, Instant::now()));
    while let Some(m) = machine.as_ref() {
        let deadline = m.deadline();
        let (open, hears_hub) = (m.device().is_some(), m.hears_hub());
        let event = if m.has_more() {
            // Work in progress goes on before anything else is read, as
            // if it were one step; only a shutdown interrupts it.
            if matches!(shutdown.has_changed(), Ok(true)) {
                Event::Shutdown
            } else {
                Event::Continue
            }
        } else {
            tokio::select! {
                biased;
                _ = shutdown.changed(), if open => Event::Shutdown,
                _ = until(deadline), if deadline.is_some() => Event::Tick(Instant::now()),
                message = next_message(&mut stream, limits) => match message {
                    Ok(None) => break,
                    Ok(Some(m)) => Event::Message(m),
                    Err(c) => Event::Unreadable(c),
                },
                event = events.recv(), if hears_hub => match event {
                    Ok(HubEvent::Changes(changes)) => Event::Changes(changes),
                    Ok(HubEvent::AdminChanged) => Event::AdminChanged,
                    Ok(HubEvent::Shutdown) | Err(RecvError::Closed) => Event::Shutdown,
                    Err(RecvError::Lagged(_)) => Event::Lagged,
                },
            }
        };
        let Some(mut m) = machine.take() else { break };
        let stepped = tokio::task::spawn_blocking(move || {
            let effects = m.step(event);
            (m, effects)
        })
        .await;
        let (m, effects) = match stepped {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "sync step failed");
                let failed = close(error_codes::INTERNAL, "internal error; retry later");
                send_effects(&mut sink, vec![Effect::Close(failed)]).await;
                return;
            }
        };
        if !send_effects(&mut sink, effects).await || m.is_closed() {
            return;
        }
        machine = Some(m);
    }
    tracing::info!(user = %name, "device disconnected");
}

/// Sends `effects` in order, flushing once. Returns whether the connection
/// stays open (no close effect, no failed send).
async fn send_effects(sink: &mut Sink, effects: Vec<Effect>) -> bool {
    for effect in effects {
        match effect {
            Effect::Send(message) => {
                let frame = codec::encode(&message);
                if sink.feed(Message::Binary(frame.into())).await.is_err() {
                    return false;
                }
            }
            Effect::Close(c) => {
                close_with(sink, c).await;
                return false;
            }
        }
    }
    sink.flush().await.is_ok()
}

/// Completes at `deadline` (never without one).
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn close_with(sink: &mut Sink, c: Close) {
    let message = ServerMessage::Error(ErrorMessage {
        code: c.code.to_owned(),
        message: c.message,
    });
    let _ = sink
        .send(Message::Binary(codec::encode(&message).into()))
        .await;
    let _ = sink.close().await;
}

/// The next protocol message, `None` when the device closed the connection.
async fn next_message(
    stream: &mut SplitStream<WebSocket>,
    limits: codec::Limits,
) -> Result<Option<ClientMessage>, Close> {
    loop {
        match stream.next().await {
            // A frame beyond even the WebSocket layer's limit is
            // answered like one beyond the codec's, not by a silent close.
            Some(Err(e)) if too_long(&e) => {
                return Err(close(
                    error_codes::MESSAGE_TOO_LARGE,
                    format!("frames must be at most {} bytes", limits.max_frame),
                ));
            }
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(Message::Binary(bytes))) => return Ok(Some(codec::decode(&bytes, limits)?)),
            Some(Ok(Message::Text(_))) => {
                return Err(close(
                    error_codes::MALFORMED_MESSAGE,
                    "frames must be binary",
                ));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        }
    }
}

/// Whether a WebSocket error is tungstenite refusing an oversized frame or
/// message.
fn too_long(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as WsError;
    std::error::Error::source(e)
        .and_then(|inner| inner.downcast_ref::<WsError>())
        .is_some_and(|inner| matches!(inner, WsError::Capacity(_)))
}
