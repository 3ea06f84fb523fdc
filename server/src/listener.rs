//! The accept loop: every TCP connection the server holds goes through it.
//!
//! # Guarantees
//!
//! - At most `max_tcp_connections` TCP connections are open at once (plain
//!   HTTP and upgraded WebSockets alike: an upgraded socket keeps its slot
//!   until it closes), and at most `max_connections_per_address` from one
//!   peer address (IPv6 peers by their /64; `trusted_proxies` are exempt from
//!   the per-address cap, since every client behind them shares their
//!   address). A connection beyond either cap is answered
//!   `503 {code: "too_many_connections"}` with `Retry-After: 1` (best effort,
//!   without reading anything from it) and closed at once; it never reaches
//!   HTTP parsing.
//! - A connection must deliver a whole request header within
//!   `header_read_timeout` from the moment the server waits for one (a new
//!   connection, or a keep-alive connection after its previous answer), or it
//!   is closed: idle and trickling sockets cannot pile up. Header blocks
//!   larger than `max_header_bytes` get `431`.
//! - With TLS, the handshake runs in the connection's own task (never in
//!   the accept loop), after the connection was admitted by the caps, and
//!   must finish within `header_read_timeout`; a connection that fails or
//!   stalls it is closed. The TLS stream then holds the slot exactly as a
//!   plain one does. Each handshake uses the certificate in force at that
//!   moment ([`Tls::config`]), so a reload never touches open connections.
//! - Running out of file descriptors does not make the loop spin: failed
//!   accepts pause it briefly, and it resumes on its own.
//! - On shutdown the loop stops accepting, lets requests in flight finish
//!   (idle connections close at once) and waits up to `shutdown_grace`; it
//!   returns that deadline, which the sessions' wait shares.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth;
use crate::state::{AppState, ServerConfig};
use crate::tls::Tls;

/// Serves `app` on `listener` until `shutdown` completes (see the module's
/// Guarantees).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<AppState>,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::time::Instant {
    let config = &state.config;
    let tracker = Arc::new(Tracker::new(config));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Some(slot) = Tracker::admit(&tracker, peer.ip()) else {
                        tracker.refuse(tcp, peer);
                        continue;
                    };
                    // Small sync frames must not wait for Nagle's algorithm.
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::warn!(error = %e, "could not set TCP_NODELAY");
                    }
                    let io = Tracked { io: tcp, _slot: slot };
                    let settings = Http1::from(config);
                    let (app, stop) = (app.clone(), stop_rx.clone());
                    match &tls {
                        None => {
                            connections.spawn(connection(io, peer, app, settings, stop));
                        }
                        Some(tls) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
                            connections.spawn(async move {
                                let handshake = acceptor.accept(io);
                                match tokio::time::timeout(settings.header_read_timeout, handshake).await {
                                    Ok(Ok(stream)) => connection(stream, peer, app, settings, stop).await,
                                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                Err(e) if per_connection(&e) => {}
                Err(e) => {
                    // Typically out of file descriptors: let some close.
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    let deadline = tokio::time::Instant::now() + config.shutdown_grace;
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout_at(deadline, drain).await.is_err() {
        tracing::warn!("some connections did not finish within the grace period");
        connections.abort_all();
    }
    deadline
}

/// Accept errors that concern one connection only.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// The HTTP/1 settings of a connection.
#[derive(Debug, Clone, Copy)]
struct Http1 {
    header_read_timeout: Duration,
    max_header_bytes: usize,
}

impl From<&ServerConfig> for Http1 {
    fn from(c: &ServerConfig) -> Self {
        Http1 {
            header_read_timeout: c.header_read_timeout,
            max_header_bytes: c.max_header_bytes,
        }
    }
}

/// Serves one connection until it closes, is upgraded, or the server stops.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    settings: Http1,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        router.call(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_header_size(settings.max_header_bytes);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    // The guard `wait_for` returns is not `Send`: drop it inside.
    let stopping = async move {
        let _ = stop.wait_for(|stopping| *stopping).await.map(|_| ());
    };
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        }
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Open connections, in all and per address.
#[derive(Debug)]
struct Tracker {
    max_total: usize,
    max_per_address: usize,
    trusted: Vec<IpAddr>,
    open: Mutex<Open>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_address: HashMap<String, usize>,
}

/// One open connection's place in the [`Tracker`], given back on drop.
#[derive(Debug)]
struct Slot {
    tracker: Arc<Tracker>,
    /// `None` for trusted proxies (not counted per address).
    address: Option<String>,
}

impl Tracker {
    fn new(config: &ServerConfig) -> Tracker {
        Tracker {
            max_total: config.max_tcp_connections,
            max_per_address: config.max_connections_per_address,
            trusted: config
                .trusted_proxies
                .iter()
                .map(IpAddr::to_canonical)
                .collect(),
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
        }
    }

    /// A slot for a connection from `ip`, unless a cap is reached.
    fn admit(tracker: &Arc<Tracker>, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        let address = (!tracker.trusted.contains(&ip)).then(|| auth::address_key(ip));
        let mut open = tracker.open.lock().ok()?;
        if open.total >= tracker.max_total {
            return None;
        }
        if let Some(a) = &address {
            let n = open.per_address.entry(a.clone()).or_insert(0);
            if *n >= tracker.max_per_address {
                return None;
            }
            *n += 1;
        }
        open.total += 1;
        Some(Slot {
            tracker: tracker.clone(),
            address,
        })
    }

    /// Answers `503` without reading, and closes.
    fn refuse(&self, tcp: TcpStream, peer: SocketAddr) {
        const BODY: &str =
            r#"{"code":"too_many_connections","message":"too many open connections; retry later"}"#;
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = tcp.try_write(answer.as_bytes());
        let refused = self.refused.fetch_add(1, Ordering::Relaxed);
        // Once per thousand, so that a flood does not flood the log too.
        if refused.is_multiple_of(1000) {
            tracing::warn!(%peer, refused = refused + 1, "connection refused: too many open connections");
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.tracker.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(a) = &self.address
                && let Some(n) = open.per_address.get_mut(a)
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.per_address.remove(a);
                }
            }
        }
    }
}

/// A TCP stream that holds its connection slot for as long as it lives
/// (also after a WebSocket upgrade).
#[derive(Debug)]
struct Tracked {
    io: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(total: usize, per: usize, trusted: &[&str]) -> Arc<Tracker> {
        let mut config = ServerConfig::new("unused".into());
        config.max_tcp_connections = total;
        config.max_connections_per_address = per;
        config.trusted_proxies = trusted.iter().map(|t| t.parse().expect("ip")).collect();
        Arc::new(Tracker::new(&config))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn caps_hold_per_address_and_in_all_and_slots_come_back() {
        let t = tracker(4, 2, &["10.0.0.9"]);
        let a1 = Tracker::admit(&t, ip("10.0.0.1")).expect("a1");
        let _a2 = Tracker::admit(&t, ip("::ffff:10.0.0.1")).expect("a2, mapped");
        assert!(Tracker::admit(&t, ip("10.0.0.1")).is_none(), "per address");
        let _b = Tracker::admit(&t, ip("10.0.0.2")).expect("b");
        // Trusted proxies are exempt from the per-address cap, not the total.
        let _p = Tracker::admit(&t, ip("10.0.0.9")).expect("proxy");
        assert!(Tracker::admit(&t, ip("10.0.0.9")).is_none(), "total");
        drop(a1);
        assert!(
            Tracker::admit(&t, ip("10.0.0.1")).is_some(),
            "slot given back"
        );
    }

    #[test]
    fn ipv6_peers_share_their_slash_64() {
        let t = tracker(10, 1, &[]);
        let _a = Tracker::admit(&t, ip("2001:db8:0:1::1")).expect("first");
        assert!(Tracker::admit(&t, ip("2001:db8:0:1::2")).is_none());
        assert!(Tracker::admit(&t, ip("2001:db8:0:2::1")).is_some());
    }
}
