//! The first exchange: the device's `Hello`, the server's `Welcome`, and the
//! choice of catch-up mode.
//!
//! Guarantees: a device is welcomed only if it speaks this protocol, names a
//! valid device id, is not marked for wipe and its user is enabled; it must
//! say hello before the deadline set when the connection opened.

use std::sync::Arc;

use fieldwork_core::Access;
use fieldwork_core::sync::protocol::{
    CatchUp, ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage, Welcome, error_codes,
};
use tokio::time::Instant;

use super::{Close, Effect, Event, Open, close};
use crate::db::users::{self, User};
use crate::db::{self, devices};
use crate::error::ServerError;
use crate::state::AppState;

/// What an event means before hello.
pub(super) enum Outcome {
    /// Still waiting for hello.
    Waiting,
    /// Welcomed: the connection and what to send.
    Opened(Box<Open>, Vec<Effect>),
    /// Closed, after sending these.
    Closed(Vec<Effect>),
}

/// Handles one event while waiting for hello.
pub(super) fn on_event(
    state: Arc<AppState>,
    user: User,
    address: Option<String>,
    deadline: Instant,
    event: Event,
) -> Outcome {
    let refuse = |c: Close| Outcome::Closed(vec![Effect::Close(c)]);
    match event {
        Event::Message(ClientMessage::Hello(hello)) => start(state, user, hello, address),
        Event::Message(_) => refuse(close(
            error_codes::UNEXPECTED_MESSAGE,
            "the first message must be hello",
        )),
        Event::Unreadable(c) => refuse(c),
        Event::Tick(now) if now >= deadline => refuse(close(
            error_codes::UNEXPECTED_MESSAGE,
            format!(
                "no hello within {} s",
                state.config.hello_timeout.as_secs_f32()
            ),
        )),
        _ => Outcome::Waiting,
    }
}

/// What the database says about a device saying hello.
struct Prepared {
    revision: u64,
    access: Access,
    epoch: String,
    mode: CatchUp,
    directory: Vec<fieldwork_core::sync::protocol::DirectoryEntry>,
    /// The policy or the user changed since the device last reconciled.
    stale: bool,
    /// Documents to download, for progress (not for incremental catch-up).
    total_docs: Option<u64>,
}

/// Checks the hello, picks the catch-up mode, welcomes the device and
/// begins catching it up.
fn start(state: Arc<AppState>, user: User, hello: Hello, address: Option<String>) -> Outcome {
    if let Err(c) = check_hello(&state, &user, &hello) {
        return Outcome::Closed(vec![Effect::Close(c)]);
    }
    let prepared = match prepare(&state, &user, &hello, address) {
        Ok(p) => p,
        Err(ServerError::Forbidden(m)) => {
            return Outcome::Closed(vec![Effect::Close(close(error_codes::UNAUTHORIZED, m))]);
        }
        Err(e) => return Outcome::Closed(vec![Effect::Close(e.into())]),
    };
    let Access::User {
        user: context,
        policy,
    } = &prepared.access
    else {
        return Outcome::Closed(vec![Effect::Close(close(
            error_codes::INTERNAL,
            "no user context",
        ))]);
    };
    let welcome = ServerMessage::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        server_epoch: prepared.epoch.clone(),
        user: context.clone(),
        policy: policy.source().to_owned(),
        policy_revision: prepared.revision,
        directory: prepared.directory,
        mode: prepared.mode,
        total_docs: prepared.total_docs,
    });
    let mut open = Box::new(Open {
        state,
        user,
        access: prepared.access,
        policy_revision: prepared.revision,
        epoch: prepared.epoch,
        device: hello.device_id,
        sent: hello.cursor.as_ref().map(|c| c.seq).unwrap_or(0),
        live: false,
        compare: None,
        revoked: Default::default(),
        out: vec![welcome],
        download: None,
    });
    tracing::debug!(user = %open.user.name, mode = ?prepared.mode, "catch-up mode");
    let begun = match prepared.mode {
        CatchUp::Fresh => open.fresh(),
        CatchUp::Incremental => open.incremental(prepared.stale),
        CatchUp::Compare => open.begin_compare(),
    };
    let mut effects: Vec<Effect> = std::mem::take(&mut open.out)
        .into_iter()
        .map(Effect::Send)
        .collect();
    match begun {
        Ok(()) => {
            tracing::info!(user = %open.user.name, device = %open.device, "device connected");
            Outcome::Opened(open, effects)
        }
        Err(c) => {
            effects.push(Effect::Close(c));
            Outcome::Closed(effects)
        }
    }
}

/// Refuses a hello in another protocol, with a malformed device id, or from
/// a device marked for wipe.
fn check_hello(state: &AppState, user: &User, hello: &Hello) -> Result<(), Close> {
    if hello.protocol != PROTOCOL_VERSION {
        return Err(close(
            error_codes::UNSUPPORTED_PROTOCOL,
            format!(
                "this server speaks protocol {PROTOCOL_VERSION}, the device {}",
                hello.protocol
            ),
        ));
    }
    if !devices::valid_id(&hello.device_id) {
        return Err(close(
            error_codes::MALFORMED_MESSAGE,
            "device ids have 1 to 64 bytes and no control characters",
        ));
    }
    match super::admin::wipe_ordered(state, &hello.device_id, user.id, "sync hello") {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

/// Registers the device and reads what the welcome needs.
fn prepare(
    state: &AppState,
    user: &User,
    hello: &Hello,
    address: Option<String>,
) -> crate::error::Result<Prepared> {
    let now = state.now_ms();
    state.db.write_blocking(|w| {
        let device = devices::register(&w.conn, &hello.device_id, user.id, now)?;
        devices::record_hello(
            &w.conn,
            &hello.device_id,
            hello.app_version.as_deref(),
            hello.pending_changes,
            address.as_deref(),
        )?;
        let (revision, access) = crate::db::access::access_for(&w.conn, user)?;
        let epoch = db::epoch(&w.conn)?;
        let trusted = match &hello.cursor {
            Some(c) => crate::db::feed::cursor_trusted(&w.conn, &epoch, c)?,
            None => false,
        };
        // A device that never synced downloads everything (and pushes what
        // it made offline); one whose cursor the feed no longer matches, or
        // that lost trust in its data, compares.
        // A device that did not confirm what the server recorded it holds
        // (a revocation or a whole document lost with a dropped link) is
        // compared too (see `super::unconfirmed`).
        let confirmed = match &hello.cursor {
            Some(c) => super::unconfirmed::confirmed(&w.conn, &hello.device_id, c.seq)?,
            None => true,
        };
        let mode = match (&hello.cursor, trusted && confirmed, hello.resync) {
            (Some(_), true, false) => CatchUp::Incremental,
            (None, _, false) => CatchUp::Fresh,
            _ => CatchUp::Compare,
        };
        let directory = users::directory(&w.conn)?;
        let stale = device.policy_revision != revision || device.user_version != user.version;
        let total_docs = match mode {
            CatchUp::Incremental => None,
            _ => Some(crate::visibility::count_visible(&w.conn, &access)?),
        };
        Ok(Prepared {
            revision,
            access,
            epoch,
            mode,
            directory,
            stale,
            total_docs,
        })
    })
}
