//! The Fieldwork sync server.
//!
//! Devices sign in over HTTP, then keep a WebSocket open on which they push
//! their Automerge changes and receive everyone else's. The server checks
//! every operation of every change against the privacy policy before storing
//! it, and sends each user only the documents they may read.
//!
//! # Layout
//! - [`state`]: configuration and shared state; [`run`] serves until shutdown.
//! - [`http`]: login, logout and the WebSocket upgrade on the public
//!   listener; the admin API on the admin listener.
//! - [`api`]: the office API v1 (records, search, phone lookup, tasks,
//!   calendar feeds, API keys, webhooks; OpenAPI at `/v1/openapi.json`):
//!   reads through [`visibility`], writes through the push path.
//! - [`request`]: what `http` and `api` share about a request (bodies
//!   within limits, the session user, the admin check); [`buckets`]: the
//!   API's per-caller token buckets.
//! - [`webhooks`]: events from a durable outbox, signed, retried.
//! - [`ical`]: the RFC 5545 writer of calendar feeds; [`phone`]: phone
//!   numbers to E.164.
//! - [`tls`]: certificates (files, reload on SIGHUP, self-signed).
//! - [`sync`]: the protocol's server side: one state machine per sync
//!   connection (hello, catch-up, compare mode), the task hosting it on a
//!   WebSocket, and the push path that checks every change.
//! - [`visibility`]: the one rule deciding who receives which document.
//! - [`hub`]: fan-out of committed changes to live sync connections.
//! - [`db`]: SQLite storage (users, login tokens, policy, feed, documents,
//!   facts, devices, audit, the record index behind lists and search, API
//!   keys, calendar feeds, webhook outbox) and its migrations.
//! - [`auth`]: Argon2id passwords, tokens, login rate limiting.
//! - [`admin`]: administrative actions shared by the CLI and the API.
//! - [`reclassify`]: moving field values when the policy moves fields.
//! - [`erasure`]: erasing a contact (GDPR): its documents rewritten without
//!   personal values or their history, purged from every other table.
//! - [`wipe`]: remote wipe of devices (request, delivery, confirmation).
//! - [`error`]: the crate's error type and its HTTP mapping.
//! - `listener`: the accept loop (connection caps, header read timeout).

pub mod admin;
pub mod api;
pub mod auth;
pub mod buckets;
pub mod db;
pub mod erasure;
pub mod error;
pub mod http;
pub mod hub;
pub mod ical;
pub mod login;
pub mod phone;
pub mod process_admin;
pub mod processes;
pub mod reclassify;
pub mod request;
pub mod slots;
pub mod state;
pub mod sync;
pub mod tls;
pub mod visibility;
pub mod web;
pub mod webhooks;
pub mod wipe;

mod listener;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use error::{Result, ServerError};
pub use state::{AppState, ServerConfig};

/// What the server listens on: the public listener (login, sync), an
/// optional admin listener (the `/v1/admin/*` API, see
/// [`http::admin_router`]), and an optional certificate used by both.
///
/// A bare [`TcpListener`] converts into a public plain-HTTP listener with
/// no admin listener.
#[derive(Debug)]
pub struct Listeners {
    /// Login, logout, health and the sync WebSocket.
    pub public: TcpListener,
    /// The admin API; `None` disables it.
    pub admin: Option<TcpListener>,
    /// When set, both listeners speak only TLS (HTTPS and WSS) with this
    /// certificate.
    pub tls: Option<Arc<tls::Tls>>,
}

impl From<TcpListener> for Listeners {
    fn from(public: TcpListener) -> Self {
        Listeners {
            public,
            admin: None,
            tls: None,
        }
    }
}

/// Serves the `listeners` until `shutdown` completes, then stops
/// accepting, tells every sync connection to finish (in-flight pushes
/// complete and are acknowledged first), and waits up to `shutdown_grace`
/// for them.
///
/// Connections are accepted by `listener`'s loop, which enforces the
/// connection caps, the TLS handshake and the header read timeout (see its
/// Guarantees); each listener has its own caps.
pub async fn run(
    listeners: impl Into<Listeners>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let Listeners { public, admin, tls } = listeners.into();
    let poller = tokio::spawn(poll_admin_changes(state.clone()));
    let scheduler = tokio::spawn(run_scheduler(state.clone()));
    let webhooks = tokio::spawn(webhooks::worker::run(state.clone()));
    let app = http::router(state.clone(), tls.is_some());
    let st = state.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let admin = admin.map(|listener| {
        let app = http::admin_router(state.clone());
        let stopped = async move {
            let _ = stop_rx.wait_for(|stop| *stop).await.map(|_| ());
        };
        tokio::spawn(listener::serve(
            listener,
            app,
            state.clone(),
            tls.clone(),
            stopped,
        ))
    });
    let deadline = listener::serve(public, app, state.clone(), tls, async move {
        shutdown.await;
        tracing::info!("shutting down: finishing sessions");
        let _ = stop_tx.send(true);
        let _ = st.shutdown.send(true);
        st.hub.publish(hub::HubEvent::Shutdown);
    })
    .await;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    poller.abort();
    scheduler.abort();
    webhooks.abort();
    // Every connection holds a connection permit until it has finished.
    let all = state.config.max_connections as u32;
    // The same grace period as the connections' drain, not a second one.
    match tokio::time::timeout_at(deadline, state.connections.acquire_many(all)).await {
        Ok(_) => tracing::info!("all sessions finished"),
        Err(_) => tracing::warn!("some sessions did not finish within the grace period"),
    }
    Ok(())
}

/// Notices user and policy changes made by other processes (the admin CLI)
/// and tells live sync connections.
async fn poll_admin_changes(state: Arc<AppState>) {
    let mut seen = state.db.read(db::admin_version).await.unwrap_or(0);
    let mut tick = tokio::time::interval(state.config.admin_poll);
    loop {
        tick.tick().await;
        match state.db.read(db::admin_version).await {
            Ok(v) if v != seen => {
                seen = v;
                // Another process (the admin CLI) may have rewritten documents:
                // drop cached copies before anyone validates against them.
                if let Err(e) = state
                    .db
                    .write(|w| {
                        let _: () = w.cache.clear();
                        Ok(())
                    })
                    .await
                {
                    tracing::warn!(error = %e, "could not clear the document cache");
                }
                admin::announce(&state);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not poll for admin changes"),
        }
    }
}

/// Runs the process scheduler every `process_tick`: due timers, deadlines
/// and scheduled starts, written and relayed like any change.
async fn run_scheduler(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.config.process_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let st = state.clone();
        let now = state.clock.now();
        let result = state
            .db
            .write(move |w| processes::tick(w, Some(&st.hub), &st.actor, now))
            .await;
        match result {
            Ok(n) if n > 0 => tracing::info!(instances = n, "process scheduler ran"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "process scheduler failed"),
        }
    }
}
