//! A raw HTTP/1.1 client over TCP for attacks: it connects from a chosen
//! loopback address (so one test can play several clients: `127.0.0.2`,
//! `127.0.0.3`, … all reach a server on `127.0.0.1`), sends exactly the
//! bytes it is told, as slowly as it is told, and reports what came back
//! and when the server hung up.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// `http://127.0.0.1:PORT` → its socket address.
pub fn socket_addr(server: &str) -> SocketAddr {
    server
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("not an http://IP:PORT url: {server}"))
}

/// The loopback address `127.0.0.n`, a distinct client address.
pub fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// A TCP connection to `server` from `local` (any free port).
pub async fn connect_from(local: IpAddr, server: &str) -> io::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(socket_addr(server)).await
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `code` of a JSON error body.
    pub fn code(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()?
            .get("code")?
            .as_str()
            .map(str::to_owned)
    }

    /// `Retry-After` in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")?.trim().parse().ok()
    }
}

/// The bytes of a request with `Connection: close`.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: fieldwork\r\nconnection: close\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Sends one request from `local` and reads the answer (10 s at most).
pub async fn request_from(
    local: IpAddr,
    server: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    let mut tcp = connect_from(local, server).await?;
    tcp.write_all(&request_bytes(method, path, headers, body))
        .await?;
    read_answer(&mut tcp, Duration::from_secs(10)).await
}

/// `POST /v1/login` from `local` with a JSON body, plus extra headers.
pub async fn login_from(
    local: IpAddr,
    server: &str,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> io::Result<Answer> {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request_from(local, server, "POST", "/v1/login", &all, body.as_bytes()).await
}

/// Reads everything until the server closes (the requests say
/// `Connection: close`) or `within` passes, and parses it.
pub async fn read_answer(tcp: &mut TcpStream, within: Duration) -> io::Result<Answer> {
    let mut raw = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 8192];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => raw.extend_from_slice(buf.get(..n).unwrap_or_default()),
                // A reset after the answer still leaves the answer.
                Err(e) if !raw.is_empty() => {
                    let _ = e;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match read {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) if raw.is_empty() => {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
        }
        Err(_) => {}
    }
    parse(&raw).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// Parses an HTTP/1.1 answer (head and whatever body followed).
pub fn parse(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = String::from_utf8_lossy(raw.get(end + 4..)?).into_owned();
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// What a connection the client keeps sending nothing on ends with.
#[derive(Debug, Clone)]
pub struct Ending {
    /// What the server sent before closing (empty when nothing).
    pub received: Vec<u8>,
    /// When the server closed, after the start given; `None` when it was
    /// still open at the deadline.
    pub closed_after: Option<Duration>,
}

/// Waits until the server closes `tcp` (end of stream or reset) or until
/// `deadline`, collecting what it sent.
pub async fn wait_for_close(mut tcp: TcpStream, start: Instant, deadline: Instant) -> Ending {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Ending {
                    received,
                    closed_after: Some(start.elapsed()),
                };
            }
            Ok(Ok(n)) => received.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(_) => {
                return Ending {
                    received,
                    closed_after: None,
                };
            }
        }
    }
}

/// Sends `bytes` one chunk of `chunk` bytes every `every`, until all are
/// sent or the server closes; returns how long the server let it go on and
/// whether everything was sent.
pub async fn trickle(
    tcp: &mut TcpStream,
    bytes: &[u8],
    chunk: usize,
    every: Duration,
) -> (Duration, bool) {
    let start = Instant::now();
    for piece in bytes.chunks(chunk.max(1)) {
        if tcp.write_all(piece).await.is_err() {
            return (start.elapsed(), false);
        }
        tokio::time::sleep(every).await;
        // A closed socket shows up on the next write, or as a readable end.
        let mut probe = [0u8; 1024];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), tcp.peek(&mut probe)).await
        {
            return (start.elapsed(), false);
        }
    }
    (start.elapsed(), true)
}

/// The bound on a bystander's sign-in and push while an attack runs: a
/// correctness bound (the attack did not starve them), not a benchmark.
pub const BYSTANDER_BOUND: Duration = Duration::from_secs(2);

/// A bystander on a real device (the SDK, from `127.0.0.1`): signs in as
/// `user`, creates an account and pushes it. Returns how long that took;
/// panics when the login fails or the push is not accepted.
pub fn sign_in_and_push(
    rt: &std::sync::Arc<tokio::runtime::Runtime>,
    server: &str,
    user: &str,
) -> Duration {
    let device = crate::device::TestDevice::new(rt);
    let start = Instant::now();
    device.login(server, user);
    device.create(
        fieldwork_core::RecordKind::Account,
        &[("name", "Bystander S.L.")],
    );
    let report = device.sync();
    let took = start.elapsed();
    assert!(
        report.pushed >= 1 && report.refused == 0,
        "the bystander's change was pushed and accepted: {report:?}"
    );
    took
}
