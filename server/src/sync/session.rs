//! One device's sync connection: the server side of the protocol.
//!
//! ```text
//! device                         server
//!   Hello{cursor, resync}    →
//!                            ←   Welcome{user, policy, mode}
//!                            ←   Batch… (catch-up: whole documents or changes)
//!   Push{changes}            →   (checked, stored, relayed)
//!                            ←   PushResult{accepted, refused}
//!                            ←   UpToDate{cursor}
//!                            ←   Batch… (live changes as they are committed)
//! ```
//!
//! Compare mode inserts `Inventory` and per-document `SyncDoc` exchanges
//! before `UpToDate` (see [`super::compare`]). Any protocol violation or
//! malformed frame ends this connection with an `Error` message and harms no
//! other session.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use fieldwork_core::sync::codec::{self, CodecError};
use fieldwork_core::sync::protocol::{
    Ack, CatchUp, ClientMessage, ErrorMessage, Hello, PROTOCOL_VERSION, Push, PushResult, Refusal,
    ServerMessage, Welcome, error_codes,
};
use fieldwork_core::{Access, Policy};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_bytes::ByteBuf;
use tokio::sync::broadcast::error::RecvError;

use super::compare::Compare;
use super::push::{self, PushCtx};
use crate::db::users::{self, User};
use crate::db::{self, devices, feed, policy};
use crate::error::{Result, ServerError};
use crate::hub::HubEvent;
use crate::state::AppState;

/// The sending half of the socket.
pub(crate) type Sink = SplitSink<WebSocket, Message>;

/// A fatal condition: tell the device and close.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub code: &'static str,
    pub message: String,
}

impl From<ServerError> for Fatal {
    fn from(e: ServerError) -> Self {
        tracing::error!(error = %e, "sync session failed");
        Fatal {
            code: error_codes::INTERNAL,
            message: "internal error; retry later".into(),
        }
    }
}

impl From<CodecError> for Fatal {
    fn from(e: CodecError) -> Self {
        let code = match e {
            CodecError::TooLarge(_) => error_codes::MESSAGE_TOO_LARGE,
            CodecError::Malformed(_) => error_codes::MALFORMED_MESSAGE,
        };
        Fatal {
            code,
            message: e.to_string(),
        }
    }
}

pub(crate) fn fatal(code: &'static str, message: impl Into<String>) -> Fatal {
    Fatal {
        code,
        message: message.into(),
    }
}

/// The state of one connection.
pub(crate) struct Session {
    pub state: Arc<AppState>,
    pub user: User,
    pub access: Access,
    pub policy_revision: u64,
    pub epoch: String,
    pub device: String,
    /// Feed position delivered to the device.
    pub sent: u64,
    /// Whether catch-up is over and live changes flow.
    pub live: bool,
    pub compare: Option<Compare>,
    pub sink: Sink,
}

impl Session {
    /// Encodes and sends one message.
    pub async fn send(&mut self, message: ServerMessage) -> Result<(), Fatal> {
        let frame = codec::encode(&message);
        self.sink
            .send(Message::Binary(frame.into()))
            .await
            .map_err(|e| fatal(error_codes::INTERNAL, format!("send failed: {e}")))
    }

    /// Encodes and sends several messages, flushing the socket once.
    pub async fn send_all(
        &mut self,
        messages: impl IntoIterator<Item = ServerMessage>,
    ) -> Result<(), Fatal> {
        for message in messages {
            let frame = codec::encode(&message);
            self.sink
                .feed(Message::Binary(frame.into()))
                .await
                .map_err(|e| fatal(error_codes::INTERNAL, format!("send failed: {e}")))?;
        }
        self.sink
            .flush()
            .await
            .map_err(|e| fatal(error_codes::INTERNAL, format!("send failed: {e}")))
    }

    /// The user's access under the current policy.
    pub fn access_for(conn: &rusqlite::Connection, user: &User) -> Result<(u64, Access)> {
        let (revision, policy): (u64, Policy) = policy::current(conn)?;
        let context = users::context(conn, user)?;
        Ok((
            revision,
            Access::User {
                user: context,
                policy,
            },
        ))
    }
}

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
    let (sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.subscribe();
    let mut events = state.hub.subscribe();
    let name = user.name.clone();
    let limits = state.config.limits;

    // Hello first.
    // How long a device has to say hello (`ServerConfig::hello_timeout`).
    let hello_timeout = state.config.hello_timeout;
    let hello = match tokio::time::timeout(hello_timeout, next_message(&mut stream, limits)).await {
        Ok(Ok(Some(ClientMessage::Hello(h)))) => Ok(h),
        Ok(Ok(Some(_))) => Err(fatal(
            error_codes::UNEXPECTED_MESSAGE,
            "the first message must be hello",
        )),
        Ok(Ok(None)) => return,
        Ok(Err(f)) => Err(f),
        Err(_) => Err(fatal(
            error_codes::UNEXPECTED_MESSAGE,
            format!("no hello within {} s", hello_timeout.as_secs_f32()),
        )),
    };
    let mut session = match hello {
        Ok(hello) => match start(state.clone(), user, hello, address, sink).await {
            Ok(s) => s,
            Err((mut sink, f)) => {
                close_with(&mut sink, f).await;
                return;
            }
        },
        Err(f) => {
            let mut sink = sink;
            close_with(&mut sink, f).await;
            return;
        }
    };
    tracing::info!(user = %name, device = %session.device, "device connected");

    let outcome: Result<(), Fatal> = async {
        loop {
            // Compare mode is time-limited; live sessions have no deadline.
            let compare_deadline = session.compare.as_ref().map(|c| c.deadline);
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    return Err(fatal(error_codes::SHUTTING_DOWN, "the server is shutting down; reconnect later"));
                }
                _ = until(compare_deadline), if compare_deadline.is_some() => {
                    return Err(fatal(
                        error_codes::COMPARE_TIMEOUT,
                        format!(
                            "compare mode may last at most {} s; reconnect to compare again",
                            session.state.config.compare_timeout.as_secs()
                        ),
                    ));
                }
                message = next_message(&mut stream, limits) => {
                    match message? {
                        None => return Ok(()),
                        Some(m) => session.on_message(m).await?,
                    }
                }
                // A session in compare mode hears administrative events too
                // (a disabled user is closed, a territory change revokes);
                // changes it skips: the feed is replayed from where compare
                // began once it ends.
                event = events.recv(), if session.live || session.compare.is_some() => {
                    match event {
                        Ok(HubEvent::Changes(changes)) if session.live => session.on_changes(&changes).await?,
                        Ok(HubEvent::Changes(_)) => {}
                        Ok(HubEvent::AdminChanged) => session.on_admin_changed().await?,
                        Ok(HubEvent::Shutdown) | Err(RecvError::Closed) => {
                            return Err(fatal(error_codes::SHUTTING_DOWN, "the server is shutting down; reconnect later"));
                        }
                        Err(RecvError::Lagged(_)) if session.live => session.catch_up().await?,
                        // Lagging in compare mode may have skipped an
                        // administrative event: re-check the user.
                        Err(RecvError::Lagged(_)) => session.on_admin_changed().await?,
                    }
                }
            }
        }
    }
    .await;
    if let Err(f) = outcome {
        tracing::info!(user = %name, code = f.code, "closing sync connection: {}", f.message);
        close_with(&mut session.sink, f).await;
    } else {
        tracing::info!(user = %name, "device disconnected");
    }
}

/// Completes at `deadline` (never without one).
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn close_with(sink: &mut Sink, f: Fatal) {
    let message = ServerMessage::Error(ErrorMessage {
        code: f.code.to_owned(),
        message: f.message,
    });
    let _ = sink
        .send(Message::Binary(codec::encode(&message).into()))
        .await;
    let _ = sink.close().await;
}

/// The next protocol message, `None` when the device closed the connection.
async fn next_message(
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    limits: codec::Limits,
) -> Result<Option<ClientMessage>, Fatal> {
    loop {
        match stream.next().await {
            // A frame beyond even the WebSocket layer's limit is
            // answered like one beyond the codec's, not by a silent close.
            Some(Err(e)) if too_long(&e) => {
                return Err(fatal(
                    error_codes::MESSAGE_TOO_LARGE,
                    format!("frames must be at most {} bytes", limits.max_frame),
                ));
            }
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(Message::Binary(bytes))) => return Ok(Some(codec::decode(&bytes, limits)?)),
            Some(Ok(Message::Text(_))) => {
                return Err(fatal(
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

/// Checks the hello, picks the catch-up mode and welcomes the device.
async fn start(
    state: Arc<AppState>,
    user: User,
    hello: Hello,
    address: Option<String>,
    mut sink: Sink,
) -> Result<Session, (Sink, Fatal)> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err((
            sink,
            fatal(
                error_codes::UNSUPPORTED_PROTOCOL,
                format!(
                    "this server speaks protocol {PROTOCOL_VERSION}, the device {}",
                    hello.protocol
                ),
            ),
        ));
    }
    if !crate::db::devices::valid_id(&hello.device_id) {
        return Err((
            sink,
            fatal(
                error_codes::MALFORMED_MESSAGE,
                "device ids have 1 to 64 bytes and no control characters",
            ),
        ));
    }
    if let Some(f) = wipe_ordered(&state, &hello.device_id, user.id, "sync hello").await {
        return Err((sink, f));
    }
    let now = state.now_ms();
    let device_id = hello.device_id.clone();
    let cursor = hello.cursor.clone();
    let resync = hello.resync;
    let (app_version, pending) = (hello.app_version.clone(), hello.pending_changes);
    let prepared = state
        .db
        .write({
            let user = user.clone();
            move |w| {
                let device = devices::register(&w.conn, &device_id, user.id, now)?;
                devices::record_hello(
                    &w.conn,
                    &device_id,
                    app_version.as_deref(),
                    pending,
                    address.as_deref(),
                )?;
                let (revision, access) = Session::access_for(&w.conn, &user)?;
                let epoch = db::epoch(&w.conn)?;
                let trusted = match &cursor {
                    Some(c) => feed::cursor_trusted(&w.conn, &epoch, c)?,
                    None => false,
                };
                // A device that never synced downloads everything (and pushes
                // what it made offline); one whose cursor the feed no longer
                // matches, or that lost trust in its data, compares.
                let mode = match (&cursor, trusted, resync) {
                    (Some(_), true, false) => CatchUp::Incremental,
                    (None, _, false) => CatchUp::Fresh,
                    _ => CatchUp::Compare,
                };
                let directory = users::directory(&w.conn)?;
                let stale =
                    device.policy_revision != revision || device.user_version != user.version;
                // Progress for downloads of everything: how many documents.
                let total = match mode {
                    CatchUp::Incremental => None,
                    _ => Some(crate::visibility::count_visible(&w.conn, &access)?),
                };
                Ok((revision, access, epoch, mode, directory, stale, total))
            }
        })
        .await;
    let (revision, access, epoch, mode, directory, stale, total_docs) = match prepared {
        Ok(p) => p,
        Err(ServerError::Forbidden(m)) => return Err((sink, fatal(error_codes::UNAUTHORIZED, m))),
        Err(e) => return Err((sink, e.into())),
    };
    let Access::User {
        user: context,
        policy,
    } = &access
    else {
        return Err((sink, fatal(error_codes::INTERNAL, "no user context")));
    };
    let welcome = ServerMessage::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        server_epoch: epoch.clone(),
        user: context.clone(),
        policy: policy.source().to_owned(),
        policy_revision: revision,
        directory,
        mode,
        total_docs,
    });
    if let Err(e) = sink
        .send(Message::Binary(codec::encode(&welcome).into()))
        .await
    {
        return Err((
            sink,
            fatal(error_codes::INTERNAL, format!("send failed: {e}")),
        ));
    }
    let mut session = Session {
        state,
        user,
        access,
        policy_revision: revision,
        epoch,
        device: hello.device_id,
        sent: hello.cursor.as_ref().map(|c| c.seq).unwrap_or(0),
        live: false,
        compare: None,
        sink,
    };
    tracing::debug!(user = %session.user.name, ?mode, "catch-up mode");
    let begun = match mode {
        CatchUp::Fresh => session.fresh().await,
        CatchUp::Incremental => session.incremental(stale).await,
        CatchUp::Compare => session.begin_compare().await,
    };
    match begun {
        Ok(()) => Ok(session),
        Err(f) => Err((session.sink, f)),
    }
}

fn message_kind(m: &ClientMessage) -> String {
    match m {
        ClientMessage::Hello(_) => "hello".into(),
        ClientMessage::Push(p) => format!("push of {}", p.changes.len()),
        ClientMessage::Inventory(i) => format!("inventory of {} (done: {})", i.docs.len(), i.done),
        ClientMessage::SyncDoc(s) => format!(
            "sync {} ({})",
            s.doc,
            if s.message.is_some() {
                "message"
            } else {
                "done"
            }
        ),
    }
}

impl Session {
    async fn on_message(&mut self, message: ClientMessage) -> Result<(), Fatal> {
        tracing::debug!(user = %self.user.name, message = message_kind(&message), "received");
        match message {
            ClientMessage::Hello(_) => Err(fatal(
                error_codes::UNEXPECTED_MESSAGE,
                "hello was already said",
            )),
            ClientMessage::Push(push) => self.on_push(push).await,
            ClientMessage::Inventory(inventory) => self.on_inventory(inventory).await,
            ClientMessage::SyncDoc(sync) => self.on_sync_doc(sync).await,
        }
    }

    async fn on_push(&mut self, push: Push) -> Result<(), Fatal> {
        let config = &self.state.config;
        let bytes: usize = push.changes.iter().map(|c| c.bytes.len()).sum();
        if push.changes.len() > config.max_push_changes || bytes > config.max_push_bytes {
            let message = format!(
                "a push may hold at most {} changes and {} bytes; this one has {} and {bytes}",
                config.max_push_changes,
                config.max_push_bytes,
                push.changes.len()
            );
            let refused = push
                .changes
                .iter()
                .map(|c| Refusal {
                    hash: ByteBuf::from(
                        fieldwork_core::change_limits::chunk_hash(&c.bytes)
                            .map(|h| h.0.to_vec())
                            .unwrap_or_default(),
                    ),
                    doc: c.doc.clone(),
                    code: error_codes::BATCH_TOO_LARGE.into(),
                    field: None,
                    rule: "limits".into(),
                    message: message.clone(),
                })
                .collect();
            tracing::warn!(user = %self.user.name, changes = push.changes.len(), bytes, "refused an oversized push");
            return self
                .send(ServerMessage::PushResult(PushResult {
                    batch: push.batch,
                    accepted: Vec::new(),
                    refused,
                }))
                .await;
        }
        let outcome = self
            .push_changes(
                push.changes
                    .into_iter()
                    .map(|c| (c.doc, c.bytes.into_vec()))
                    .collect(),
            )
            .await?;
        self.send(ServerMessage::PushResult(PushResult {
            batch: push.batch,
            accepted: outcome
                .accepted
                .iter()
                .map(|(doc, hash)| Ack {
                    doc: doc.to_string(),
                    hash: ByteBuf::from(hash.0.to_vec()),
                })
                .collect(),
            refused: outcome.refused,
        }))
        .await
    }

    /// Runs changes through the writer's checks and stores what passes.
    pub(crate) async fn push_changes(
        &mut self,
        changes: Vec<(String, Vec<u8>)>,
    ) -> Result<push::PushOutcome, Fatal> {
        // Byte-bounded prechecks before the writer is taken: each change is
        // measured without Automerge (size, chunk type, operations), and a
        // push whose operations add up to more than `max_push_ops` is
        // refused whole here. Inside, a change that fails the measure is
        // refused by the same byte scan before any Automerge parsing.
        let max_ops = self.state.config.max_push_ops;
        let (changes, ops) = tokio::task::spawn_blocking(move || {
            let ops = changes
                .iter()
                .map(|(_, b)| fieldwork_core::change_limits::measure(b).map_or(0, |s| s.ops))
                .fold(0u64, u64::saturating_add);
            (changes, ops)
        })
        .await
        .map_err(|e| fatal(error_codes::INTERNAL, format!("precheck failed: {e}")))?;
        if ops > max_ops as u64 {
            tracing::warn!(user = %self.user.name, ops, "refused a push with too many operations");
            let message =
                format!("a push may hold at most {max_ops} operations in all; this one has {ops}");
            return Ok(push::PushOutcome {
                refused: changes
                    .iter()
                    .map(|(doc, bytes)| Refusal {
                        hash: ByteBuf::from(
                            fieldwork_core::change_limits::chunk_hash(bytes)
                                .map(|h| h.0.to_vec())
                                .unwrap_or_default(),
                        ),
                        doc: doc.clone(),
                        code: error_codes::BATCH_TOO_LARGE.into(),
                        field: None,
                        rule: "limits".into(),
                        message: message.clone(),
                    })
                    .collect(),
                ..Default::default()
            });
        }
        let state = self.state.clone();
        let user = self.user.clone();
        let access = self.access.clone();
        let revision = self.policy_revision;
        let device = self.device.clone();
        let now = state.now_ms();
        self.state
            .db
            .write(move |w| {
                // Rights are read where the push is decided: a user disabled,
                // or whose role, territories or policy changed, since the
                // session last heard is judged by what is in force now, not
                // after the next administrative event.
                // (`None`: disabled.) Until the session hears of the change
                // and tells the device, each push re-reads them here.
                let Some(fresh) = users::by_id(&w.conn, user.id)?.filter(|u| !u.disabled) else {
                    return Ok(None);
                };
                let (user, access) = if fresh.version == user.version
                    && crate::db::policy::revision(&w.conn)? == revision
                {
                    (user, access)
                } else {
                    let (_, access) = Session::access_for(&w.conn, &fresh)?;
                    (fresh, access)
                };
                let outcome = push::apply(
                    w,
                    &state.hub,
                    &state.actor,
                    PushCtx {
                        user: &user,
                        access: &access,
                        device: Some(&device),
                        now_ms: now,
                    },
                    changes,
                )?;
                // Answered changes leave the device's outbox: keep its
                // reported count of unsent changes truthful.
                devices::pushed(
                    &w.conn,
                    &device,
                    outcome.accepted.len() + outcome.refused.len(),
                )?;
                // Instances touched by the push run now, next to the data.
                // Their failure must not undo the accepted push.
                let docs: Vec<_> = outcome.accepted.iter().map(|(d, _)| d.clone()).collect();
                if let Err(e) = crate::processes::after_push(
                    w,
                    &state.hub,
                    &state.actor,
                    state.clock.now(),
                    &docs,
                ) {
                    tracing::warn!(error = %e, "process engine failed after a push");
                }
                Ok(Some(outcome))
            })
            .await?
            .ok_or_else(|| fatal(error_codes::USER_DISABLED, "this user was disabled"))
    }

    async fn on_admin_changed(&mut self) -> Result<(), Fatal> {
        if let Some(f) = wipe_ordered(&self.state, &self.device, self.user.id, "sync").await {
            return Err(f);
        }
        let id = self.user.id;
        let (user, revision, access) = self
            .state
            .db
            .read(move |c| {
                let user = users::by_id(c, id)?;
                match user {
                    Some(u) if !u.disabled => {
                        let (revision, access) = Session::access_for(c, &u)?;
                        Ok(Some((u, revision, access)))
                    }
                    _ => Ok(None),
                }
            })
            .await?
            .ok_or_else(|| fatal(error_codes::USER_DISABLED, "this user was disabled"))?;
        if user.version == self.user.version && revision == self.policy_revision {
            return Ok(());
        }
        self.user = user;
        self.policy_revision = revision;
        self.access = access;
        if let Access::User { user, policy } = &self.access {
            let update = ServerMessage::Policy(fieldwork_core::sync::protocol::PolicyUpdate {
                user: user.clone(),
                policy: policy.source().to_owned(),
                policy_revision: revision,
            });
            self.send(update).await?;
        }
        if self.compare.is_some() {
            // Compare ends by sending what is visible then; until then,
            // revoke what is no longer visible.
            return self.revoke_in_compare().await;
        }
        self.reconcile().await
    }
}

/// The wipe order for a device marked for wipe (recorded as delivered),
/// `None` otherwise: a marked device is never welcomed nor kept connected.
async fn wipe_ordered(
    state: &AppState,
    device: &str,
    user_id: i64,
    via: &'static str,
) -> Option<Fatal> {
    let d = device.to_owned();
    let marked = state
        .db
        .read(move |c| devices::wipe_pending(c, &d, user_id))
        .await;
    match marked {
        Ok(false) => None,
        Ok(true) => match crate::wipe::delivered_in_session(state, device, user_id, via).await {
            Ok(order) => Some(fatal(error_codes::DEVICE_WIPED, order.message)),
            Err(e) => Some(e.into()),
        },
        Err(e) => Some(e.into()),
    }
}
