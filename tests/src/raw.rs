//! A protocol client that bypasses the core's checks: it sends whatever it
//! is told, so tests can forge changes and malformed frames.

use std::time::Duration;

use fieldwork_core::sync::codec::{self, Limits};
use fieldwork_core::sync::protocol::{
    ClientMessage, Hello, PROTOCOL_VERSION, PushResult, ServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::server::PASSWORD;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw protocol connection.
pub struct RawClient {
    ws: Ws,
}

/// Signs in over HTTP and returns the token.
pub async fn token(server: &str, user: &str) -> String {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("{server}/v1/login"))
        .json(&serde_json::json!({ "user": user, "password": PASSWORD }))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login answer");
    response["token"].as_str().expect("token").to_owned()
}

impl RawClient {
    /// Opens the sync WebSocket with `token`.
    pub async fn connect(server: &str, token: &str) -> Result<RawClient, String> {
        let url = format!("{}/v1/sync", server.replace("http://", "ws://"));
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().map_err(|_| "header")?,
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(RawClient { ws })
    }

    /// Says hello as a fresh device and reads until `UpToDate`, returning
    /// what arrived.
    pub async fn hello(&mut self, device_id: &str) -> Vec<ServerMessage> {
        self.send(&ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            device_id: device_id.into(),
            cursor: None,
            resync: false,
            client: "raw-test-client".into(),
            app_version: None,
            pending_changes: None,
        }))
        .await;
        let mut got = Vec::new();
        while let Some(m) = self.recv().await {
            let done = matches!(m, ServerMessage::UpToDate(_));
            got.push(m);
            if done {
                break;
            }
        }
        got
    }

    /// Sends a message.
    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_frame(codec::encode(message)).await;
    }

    /// Sends raw bytes as one binary frame.
    pub async fn send_frame(&mut self, frame: Vec<u8>) {
        let _ = self.ws.send(Message::Binary(frame.into())).await;
    }

    /// The next protocol message within 10 s; `None` when the connection
    /// closed or nothing came.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .ok()??;
            match next.ok()? {
                Message::Binary(b) => return codec::decode(&b, Limits::default()).ok(),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Reads until the result of a push, skipping other messages; `None`
    /// when the connection closed or nothing came in time.
    pub async fn push_result(&mut self) -> Option<PushResult> {
        loop {
            match self.recv().await? {
                ServerMessage::PushResult(r) => return Some(r),
                _ => continue,
            }
        }
    }

    /// Reads and discards frames until the connection closes; returns how
    /// many frames arrived (a live listener that never falls behind).
    pub async fn drain(mut self) -> usize {
        let mut frames = 0;
        while let Some(Ok(_)) = self.ws.next().await {
            frames += 1;
        }
        frames
    }

    /// Whether the server closed the connection (reads until it does).
    pub async fn closed(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next()).await {
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }
}
