//! Configuration and the state shared by every request and session.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::sync::codec::Limits;
use fieldwork_core::{Clock, SystemClock};
use tokio::sync::Semaphore;

use crate::auth::{PasswordParams, RateLimiter};
use crate::db::{self, Db};
use crate::error::Result;
use crate::hub::Hub;

/// Server settings, with production defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// How long a session token lives.
    pub token_ttl: Duration,
    /// Argon2id cost for new password hashes.
    pub password: PasswordParams,
    /// Frame and message size limits.
    pub limits: Limits,
    /// Most changes in one push.
    pub max_push_changes: usize,
    /// Most change bytes in one push.
    pub max_push_bytes: usize,
    /// Most simultaneous sync connections.
    pub max_connections: usize,
    /// Target size of a catch-up batch.
    pub batch_bytes: usize,
    /// How often to look for user and policy changes made by the admin CLI.
    pub admin_poll: Duration,
    /// How long to wait for sessions to finish when shutting down.
    pub shutdown_grace: Duration,
    /// How often the process scheduler looks for due timers.
    pub process_tick: Duration,
    /// Peers whose `X-Forwarded-For` header is believed (reverse proxies).
    /// Empty by default: the TCP peer is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Most Argon2 verifications running at once.
    pub login_concurrency: usize,
    /// Most logins waiting for a verification slot; beyond it, `429`.
    pub login_queue: usize,
    /// Failed logins a key (user at an address, or an address) may have
    /// before exponential backoff starts.
    pub login_free_failures: u32,
    /// The first backoff delay; it doubles with every further failure.
    pub login_backoff_base: Duration,
    /// The longest backoff delay (a key with no failure for four times this
    /// long is forgotten).
    pub login_backoff_max: Duration,
    /// Most open TCP connections (HTTP and WebSocket together).
    pub max_tcp_connections: usize,
    /// Most open TCP connections from one peer address (trusted proxies
    /// are exempt).
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request's headers (and how long
    /// an idle keep-alive connection is kept).
    pub header_read_timeout: Duration,
    /// Largest request header block, in bytes.
    pub max_header_bytes: usize,
    /// How long a client may take to send a login or admin request body.
    pub body_timeout: Duration,
    /// Largest `/v1/login` body, in bytes.
    pub max_login_body: usize,
    /// Largest admin or office API request body (JSON or policy TOML), in
    /// bytes.
    pub max_admin_body: usize,
    /// Origins allowed to call the office API from a browser (CORS); empty:
    /// none (the default).
    pub cors_origins: Vec<String>,
    /// How long a sync WebSocket may stay open without sending `hello`.
    pub hello_timeout: Duration,
    /// Most operations in all the changes of one push, together (each
    /// change is also bounded by `fieldwork_core::change_limits`); beyond
    /// it the whole push is refused with `batch_too_large` before the
    /// writer is taken.
    pub max_push_ops: usize,
    /// How long a session may stay in compare mode; then it is closed.
    pub compare_timeout: Duration,
    /// Most documents one session may list in compare mode (its inventory
    /// messages together).
    pub compare_max_docs: usize,
    /// Office API requests per minute per caller (a key's own rate, when
    /// it has one, replaces it); see the office API's rate limits.
    pub api_rate_per_minute: u32,
    /// Webhooks: the delay before the first retry of a failed delivery;
    /// it doubles with every further failure (capped at one hour, with
    /// jitter).
    pub webhook_backoff: Duration,
    /// Webhooks: attempts per delivery before it is marked failed.
    pub webhook_max_attempts: u32,
    /// Webhooks: how often the delivery worker looks for due deliveries.
    pub webhook_poll: Duration,
}

impl ServerConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            password: PasswordParams::default(),
            limits: Limits::default(),
            max_push_changes: 5_000,
            max_push_bytes: 16 * 1024 * 1024,
            max_connections: 10_000,
            batch_bytes: 1024 * 1024,
            admin_poll: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            process_tick: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
            login_concurrency: 4,
            login_queue: 32,
            login_free_failures: 5,
            login_backoff_base: Duration::from_secs(1),
            login_backoff_max: Duration::from_secs(15 * 60),
            max_tcp_connections: 4096,
            max_connections_per_address: 256,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            body_timeout: Duration::from_secs(10),
            max_login_body: 8 * 1024,
            max_admin_body: 1024 * 1024,
            cors_origins: Vec::new(),
            hello_timeout: Duration::from_secs(30),
            max_push_ops: 1_000_000,
            compare_timeout: Duration::from_secs(10 * 60),
            compare_max_docs: 100_000,
            api_rate_per_minute: 600,
            webhook_backoff: Duration::from_secs(30),
            webhook_max_attempts: 12,
            webhook_poll: Duration::from_secs(1),
        }
    }
}

/// A fixed server identity, **for simulations and tests** that replay byte
/// for byte from a seed (see [`AppState::open_with_identity`]). Production
/// servers draw both from the OS when their database is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// The feed epoch (devices' cursors name it).
    pub epoch: String,
    /// The Automerge actor the server writes with.
    pub actor: ActorId,
}

/// State shared by every request and session.
pub struct AppState {
    /// Settings.
    pub config: ServerConfig,
    /// The database.
    pub db: Db,
    /// Fan-out to sessions.
    pub hub: Hub,
    /// Login failure counters.
    pub limiter: RateLimiter,
    /// Office API request buckets per caller (the office API's rate limits).
    pub api_limits: crate::buckets::ApiLimits,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// The Automerge actor the server writes with (process engine).
    pub actor: ActorId,
    /// One permit per sync connection.
    pub connections: Arc<Semaphore>,
    /// Set to `true` when the server begins shutting down.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Running exports (one per user, a few in all).
    pub exports: crate::slots::Slots,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the database and builds the shared state.
    pub fn open(config: ServerConfig, clock: Option<Arc<dyn Clock>>) -> Result<Arc<AppState>> {
        let db = Db::open(&config.data_dir)?;
        AppState::with_db(config, clock, db, None)
    }

    /// Opens the state as [`AppState::open`] does, but a database created
    /// now gets the epoch and server actor of `identity` instead of fresh
    /// ones from the OS. **For simulations and tests** that replay byte for
    /// byte from a seed; an existing database keeps what it has.
    pub fn open_with_identity(
        config: ServerConfig,
        clock: Option<Arc<dyn Clock>>,
        identity: &ServerIdentity,
    ) -> Result<Arc<AppState>> {
        let db = Db::open_with_epoch(&config.data_dir, &identity.epoch)?;
        AppState::with_db(config, clock, db, Some(&identity.actor))
    }

    fn with_db(
        config: ServerConfig,
        clock: Option<Arc<dyn Clock>>,
        db: Db,
        fixed_actor: Option<&ActorId>,
    ) -> Result<Arc<AppState>> {
        let actor = db.write_blocking(|w| {
            let hex = match db::meta_get(&w.conn, "server_actor")? {
                Some(hex) => hex,
                None => {
                    let hex = fixed_actor
                        .cloned()
                        .unwrap_or_else(ActorId::random)
                        .to_hex_string();
                    db::meta_set(&w.conn, "server_actor", &hex)?;
                    hex
                }
            };
            let bytes = hex::decode(&hex).map_err(|_| {
                crate::error::ServerError::Internal("stored server actor is not hex".into())
            })?;
            Ok(ActorId::from(bytes))
        })?;
        Ok(Arc::new(AppState {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config,
            db,
            hub: Hub::default(),
            limiter: RateLimiter::default(),
            api_limits: crate::buckets::ApiLimits::default(),
            clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
            actor,
            shutdown: tokio::sync::watch::channel(false).0,
            exports: crate::slots::Slots::default(),
        }))
    }

    /// Milliseconds since the Unix epoch, now.
    pub fn now_ms(&self) -> i64 {
        db::millis(self.clock.as_ref())
    }
}
