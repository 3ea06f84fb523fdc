//! A TCP proxy between devices and the server that can cut connections
//! after a random number of bytes, and records everything the server sent.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Shared {
    /// Bumped to cut every open connection.
    kill: tokio::sync::watch::Sender<u64>,
    /// Cut each new connection after a random number of bytes from this range.
    cut: Mutex<Option<Range<usize>>>,
    /// Every byte the server sent through the proxy.
    downstream: Mutex<Vec<u8>>,
    /// How many bytes devices sent to the server through the proxy.
    upstream: AtomicUsize,
    connections: AtomicUsize,
    cuts: AtomicUsize,
}

/// A running proxy.
pub struct Proxy {
    /// The proxy's base URL (give it to devices instead of the server's).
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Proxies `127.0.0.1:PORT` → the server at `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            kill: tokio::sync::watch::channel(0).0,
            cut: Mutex::default(),
            downstream: Mutex::default(),
            upstream: AtomicUsize::default(),
            connections: AtomicUsize::default(),
            cuts: AtomicUsize::default(),
        });
        let sh = shared.clone();
        let (tx, mut rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let up = upstream.clone();
                            let sh = sh.clone();
                            tokio::spawn(async move { let _ = pipe(client, &up, sh).await; });
                        }
                    }
                }
            });
        });
        Proxy {
            url,
            shared,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// From now on, cut each new connection after a random number of bytes
    /// (both directions counted) in `range`; `None` stops cutting.
    pub fn cut_after(&self, range: Option<Range<usize>>) {
        if let Ok(mut c) = self.shared.cut.lock() {
            *c = range;
        }
    }

    /// Cuts every open connection now.
    pub fn cut_open_connections(&self) {
        self.shared.kill.send_modify(|k| *k += 1);
    }

    /// Every byte the server has sent through the proxy so far.
    pub fn downstream(&self) -> Vec<u8> {
        self.shared
            .downstream
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// How many bytes devices have sent through the proxy so far.
    pub fn upstream_bytes(&self) -> usize {
        self.shared.upstream.load(Ordering::SeqCst)
    }

    /// How many bytes the server has sent through the proxy so far.
    pub fn downstream_bytes(&self) -> usize {
        self.shared.downstream.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn pipe(mut client: TcpStream, upstream: &str, shared: Arc<Shared>) -> std::io::Result<()> {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let mut server = TcpStream::connect(upstream).await?;
    let budget = shared
        .cut
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .map(|r| rand::rng().random_range(r));
    let mut used = 0usize;
    let mut kill = shared.kill.subscribe();
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        tokio::select! {
            _ = kill.changed() => {
                shared.cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            n = cr.read(&mut up) => {
                let n = n?;
                if n == 0 { break; }
                let n = clip(n, &mut used, budget);
                shared.upstream.fetch_add(n, Ordering::SeqCst);
                sw.write_all(&up[..n]).await?;
            }
            n = sr.read(&mut down) => {
                let n = n?;
                if n == 0 { break; }
                let n = clip(n, &mut used, budget);
                if let Ok(mut d) = shared.downstream.lock() {
                    d.extend_from_slice(&down[..n]);
                }
                cw.write_all(&down[..n]).await?;
            }
        }
        if budget.is_some_and(|b| used >= b) {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            break; // dropping both sockets cuts the connection mid-stream
        }
    }
    Ok(())
}

/// Forwards at most what is left of the budget.
fn clip(n: usize, used: &mut usize, budget: Option<usize>) -> usize {
    let n = match budget {
        Some(b) => n.min(b.saturating_sub(*used)),
        None => n,
    };
    *used += n;
    n
}
