//! One device's sync connection as a sans-IO state machine: the server side
//! of the protocol.
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
//! [`Machine::step`] takes one [`Event`] (a decoded client message, an
//! unreadable frame, committed changes from the hub, an administrative
//! change, a lag notice, shutdown, a timer tick) and returns [`Effect`]s:
//! messages to send, in order, and at most one close (code and reason).
//! The machine is created when the socket opens ([`Machine::new`]: the
//! hello deadline starts then); the first message must be `Hello`.
//!
//! **Database work.** A step borrows the server database synchronously
//! ([`crate::db::Db::read_blocking`] and `write_blocking`) through the
//! shared [`AppState`]: protocol decisions and the database reads and
//! writes they need happen in one synchronous call, with no `.await` in
//! between. The host ([`super::connection`]) runs each step on tokio's
//! blocking pool (`spawn_blocking`) and only moves frames, waits for events
//! and deadlines, and sends the effects. Long work (a fresh device's
//! download) is cut into steps: while [`Machine::has_more`], the host steps
//! [`Event::Continue`] after sending each step's effects.
//!
//! Guarantees:
//! - any protocol violation or malformed frame ends this connection with a
//!   close effect (an `Error` message with a code) and harms no other
//!   connection; after a close the machine ignores every further event;
//! - a device's feed position only advances past entries whose meaning for
//!   it was sent in the same step (see `catchup`);
//! - an incremental catch-up starts only from what the server recorded the
//!   device holds once the device confirmed it by its cursor (`unconfirmed`:
//!   a revocation or whole document lost with a dropped link is sent again);
//! - compare mode (`compare`) ends within `ServerConfig::compare_timeout`
//!   (on a [`Event::Tick`] at or after [`Machine::deadline`]).

mod admin;
mod catchup;
mod compare;
mod delivery;
mod hello;
mod pushing;
mod revoked;
mod unconfirmed;

use std::sync::Arc;

use fieldwork_core::Access;
use fieldwork_core::sync::codec::CodecError;
use fieldwork_core::sync::protocol::{ClientMessage, ServerMessage, error_codes};
use tokio::time::Instant;

use crate::db::users::User;
use crate::error::ServerError;
use crate::hub::FeedEvent;
use crate::state::AppState;

/// What the machine is told.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message arrived from the device.
    Message(ClientMessage),
    /// A frame arrived that is not a message (malformed, too large, text):
    /// the host says why, the machine closes.
    Unreadable(Close),
    /// Changes were committed (from the hub).
    Changes(Arc<Vec<FeedEvent>>),
    /// Users or the policy changed (from the hub).
    AdminChanged,
    /// The hub dropped events for this connection: catch up from the
    /// database instead.
    Lagged,
    /// The server is shutting down.
    Shutdown,
    /// Time passed: `now` (deadlines are checked against it).
    Tick(Instant),
    /// Go on with the work in progress ([`Machine::has_more`]): the host
    /// sends the effects of a step, then steps again with this.
    Continue,
}

/// What the machine asks its host to do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Send this message.
    Send(ServerMessage),
    /// Send an `Error` message with this code and reason, then close.
    Close(Close),
}

/// Why a connection ends: an error code of the protocol and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// One of [`error_codes`].
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl From<ServerError> for Close {
    fn from(e: ServerError) -> Self {
        tracing::error!(error = %e, "sync connection failed");
        close(error_codes::INTERNAL, "internal error; retry later")
    }
}

impl From<CodecError> for Close {
    fn from(e: CodecError) -> Self {
        let code = match e {
            CodecError::TooLarge(_) => error_codes::MESSAGE_TOO_LARGE,
            CodecError::Malformed(_) => error_codes::MALFORMED_MESSAGE,
        };
        close(code, e.to_string())
    }
}

/// A [`Close`] with `code` and `message`.
pub(crate) fn close(code: &'static str, message: impl Into<String>) -> Close {
    Close {
        code,
        message: message.into(),
    }
}

/// The outcome of handling one event: `Err` closes the connection.
pub(crate) type Step = Result<(), Close>;

/// One connection's protocol state.
pub struct Machine {
    phase: Phase,
}

enum Phase {
    /// Waiting for `Hello` until the deadline.
    Hello {
        state: Arc<AppState>,
        user: User,
        address: Option<String>,
        deadline: Instant,
    },
    /// Welcomed.
    Open(Box<Open>),
    /// Closed (or the device left): nothing more happens.
    Closed,
}

/// The state of a welcomed connection.
pub(crate) struct Open {
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
    pub compare: Option<compare::Compare>,
    /// What this connection revoked and has not sent again.
    revoked: revoked::Revoked,
    /// Messages to send, in order, produced by the current step.
    out: Vec<ServerMessage>,
    /// Whole documents still to send, a page per step.
    download: Option<catchup::Download>,
}

impl Open {
    /// Queues one message for the device.
    pub(crate) fn send(&mut self, message: ServerMessage) {
        self.revoked.saw(&message);
        self.out.push(message);
    }
}

impl Machine {
    /// A connection of `user` (from `address`, recorded at hello) opened at
    /// `now`: it must say hello within `ServerConfig::hello_timeout`.
    pub fn new(state: Arc<AppState>, user: User, address: Option<String>, now: Instant) -> Self {
        let deadline = now + state.config.hello_timeout;
        Machine {
            phase: Phase::Hello {
                state,
                user,
                address,
                deadline,
            },
        }
    }

    /// When the host must send a [`Event::Tick`] at the latest (the hello
    /// or compare deadline); `None`: no deadline.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Hello { deadline, .. } => Some(*deadline),
            Phase::Open(open) => open.compare.as_ref().map(|c| c.deadline),
            Phase::Closed => None,
        }
    }

    /// Whether the connection was welcomed and listens to the hub (live or
    /// comparing). Before that, hub events wait in the host's subscription.
    pub fn hears_hub(&self) -> bool {
        matches!(&self.phase, Phase::Open(o) if o.live || o.compare.is_some())
    }

    /// Whether the machine has more to send: the host steps it with
    /// [`Event::Continue`] (after sending what the last step produced)
    /// before waiting for anything else. A download of whole documents is
    /// sent a page per step, so the device applies one page while the
    /// server reads the next, and at most a page waits in memory.
    pub fn has_more(&self) -> bool {
        matches!(&self.phase, Phase::Open(o) if o.download.is_some())
    }

    /// Whether the machine closed: the host stops.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The device's id, once it said hello.
    pub fn device(&self) -> Option<&str> {
        match &self.phase {
            Phase::Open(open) => Some(&open.device),
            _ => None,
        }
    }

    /// The feed position delivered to the device (0 before hello).
    pub fn sent(&self) -> u64 {
        match &self.phase {
            Phase::Open(open) => open.sent,
            _ => 0,
        }
    }

    /// Handles one event; returns what to send, and whether to close.
    pub fn step(&mut self, event: Event) -> Vec<Effect> {
        let phase = std::mem::replace(&mut self.phase, Phase::Closed);
        let (phase, effects) = match phase {
            Phase::Hello {
                state,
                user,
                address,
                deadline,
            } => match hello::on_event(
                state.clone(),
                user.clone(),
                address.clone(),
                deadline,
                event,
            ) {
                hello::Outcome::Waiting => (
                    Phase::Hello {
                        state,
                        user,
                        address,
                        deadline,
                    },
                    Vec::new(),
                ),
                hello::Outcome::Opened(open, sent) => (Phase::Open(open), sent),
                hello::Outcome::Closed(effects) => (Phase::Closed, effects),
            },
            Phase::Open(mut open) => {
                let outcome = open.on_event(event);
                let mut effects: Vec<Effect> = std::mem::take(&mut open.out)
                    .into_iter()
                    .map(Effect::Send)
                    .collect();
                match outcome {
                    Ok(()) => (Phase::Open(open), effects),
                    Err(c) => {
                        tracing::info!(user = %open.user.name, code = c.code, "closing sync connection: {}", c.message);
                        effects.push(Effect::Close(c));
                        (Phase::Closed, effects)
                    }
                }
            }
            Phase::Closed => (Phase::Closed, Vec::new()),
        };
        self.phase = phase;
        effects
    }
}

impl Open {
    fn on_event(&mut self, event: Event) -> Step {
        match event {
            Event::Message(message) => self.on_message(message),
            Event::Unreadable(c) => Err(c),
            Event::Changes(changes) if self.live => self.on_changes(&changes),
            // Compare mode skips changes: the feed is replayed from where
            // compare began once it ends.
            Event::Changes(_) => Ok(()),
            Event::AdminChanged => self.on_admin_changed(),
            Event::Lagged if self.live => self.catch_up(),
            // Lagging in compare mode may have skipped an administrative
            // event: re-check the user.
            Event::Lagged => self.on_admin_changed(),
            Event::Shutdown => Err(shutting_down()),
            Event::Continue => self.continue_download(),
            Event::Tick(now) => match &self.compare {
                Some(c) if now >= c.deadline => Err(close(
                    error_codes::COMPARE_TIMEOUT,
                    format!(
                        "compare mode may last at most {} s; reconnect to compare again",
                        self.state.config.compare_timeout.as_secs()
                    ),
                )),
                _ => Ok(()),
            },
        }
    }

    fn on_message(&mut self, message: ClientMessage) -> Step {
        tracing::debug!(user = %self.user.name, message = message_kind(&message), "received");
        match message {
            ClientMessage::Hello(_) => Err(close(
                error_codes::UNEXPECTED_MESSAGE,
                "hello was already said",
            )),
            ClientMessage::Push(push) => self.on_push(push),
            ClientMessage::Inventory(inventory) => self.on_inventory(inventory),
            ClientMessage::SyncDoc(sync) => self.on_sync_doc(sync),
        }
    }
}

/// The close for a server that is shutting down.
pub(crate) fn shutting_down() -> Close {
    close(
        error_codes::SHUTTING_DOWN,
        "the server is shutting down; reconnect later",
    )
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
