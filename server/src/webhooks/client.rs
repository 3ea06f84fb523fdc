//! The HTTP client of the delivery worker: one POST per attempt, on a
//! fresh connection (hyper's HTTP/1 client over a tokio `TcpStream`, with
//! rustls for `https://`).
//!
//! Guarantees:
//! - connecting takes at most [`CONNECT_TIMEOUT`] and the whole attempt
//!   (connect, TLS, request, response head) at most [`TOTAL_TIMEOUT`];
//! - at most [`MAX_RESPONSE_BYTES`] of the response body are read, and
//!   only within the total time; the body is otherwise ignored;
//! - `https://` receivers are verified against the platform's CA bundle
//!   (the PEM file named by `SSL_CERT_FILE`, or the usual system paths);
//!   with none found, every `https://` attempt fails with that reason.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The longest a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one attempt may take.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most response body bytes read.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// What a POST came to: the status, or why there is none.
pub type Answer = Result<u16, String>;

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https`?
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Most bytes of a subscription URL.
pub const MAX_URL_BYTES: usize = 2048;

/// Parses an `http://` or `https://` URL with a host (no user info, no
/// fragment, no control characters or spaces, at most [`MAX_URL_BYTES`]).
pub fn parse(url: &str) -> Result<Target, String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("the URL must have at most {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the URL must not contain spaces or control characters".into());
    }
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err("the URL must start with http:// or https://".into());
    };
    if rest.contains('#') {
        return Err("the URL must not have a fragment".into());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.contains('@') {
        return Err("the URL must not carry user information".into());
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| "the URL's IPv6 host lacks its `]`".to_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| "the URL's port is not a number")?,
            None if after.is_empty() => default_port,
            None => return Err("the URL's host is malformed".into()),
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse().map_err(|_| "the URL's port is not a number")?,
            ),
            None => (authority.to_owned(), default_port),
        }
    };
    if host.is_empty() {
        return Err("the URL must name a host".into());
    }
    Ok(Target {
        tls,
        host,
        port,
        path,
    })
}

/// POSTs `body` to `url` with `headers`; the answer's status, or why none
/// came, within [`TOTAL_TIMEOUT`].
pub async fn post(url: &str, headers: &[(&str, String)], body: String) -> Answer {
    let target = parse(url)?;
    match tokio::time::timeout(TOTAL_TIMEOUT, post_to(&target, headers, body)).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("no answer within {} s", TOTAL_TIMEOUT.as_secs())),
    }
}

async fn post_to(target: &Target, headers: &[(&str, String)], body: String) -> Answer {
    let addr = (target.host.as_str(), target.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("could not connect within {} s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| format!("could not connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if target.tls {
        let config = tls_config()?;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| format!("`{}` is not a valid TLS server name", target.host))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        exchange(stream, target, headers, body).await
    } else {
        exchange(tcp, target, headers, body).await
    }
}

async fn exchange<S>(stream: S, target: &Target, headers: &[(&str, String)], body: String) -> Answer
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let mut request = hyper::Request::post(target.path.as_str())
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "fieldwork-webhooks/1")
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("could not build the request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("the request failed: {e}"))?;
        let status = response.status().as_u16();
        // Read a little of the body (some servers wait for it to be read).
        let mut body = response.into_body();
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
        Ok(status)
    }
    .await;
    driver.abort();
    result
}

/// The client TLS configuration, built once from the platform's roots.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/etc/openssl/cert.pem",
];

fn build_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let env = std::env::var("SSL_CERT_FILE").ok();
    let mut roots = rustls::RootCertStore::empty();
    for path in env
        .iter()
        .map(String::as_str)
        .chain(CA_BUNDLES.iter().copied())
    {
        let Ok(iter) = CertificateDer::pem_file_iter(path) else {
            continue;
        };
        for cert in iter.flatten() {
            let _ = roots.add(cert);
        }
        if !roots.is_empty() {
            break;
        }
    }
    if roots.is_empty() {
        return Err("https:// receivers need the platform's CA bundle, and none was found (set SSL_CERT_FILE)".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_or_refused_with_a_reason() {
        let t = parse("http://127.0.0.1:9000/hooks?x=1").expect("parses");
        assert_eq!(
            t,
            Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 9000,
                path: "/hooks?x=1".into()
            }
        );
        let t = parse("https://example.com").expect("parses");
        assert_eq!((t.tls, t.port, t.path.as_str()), (true, 443, "/"));
        let t = parse("http://[::1]:8080/a").expect("parses");
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        for bad in [
            "ftp://x/",
            "http:///path",
            "http://user:pw@host/",
            "http://host:port/",
            "http://host/a b",
            "http://host/#frag",
            "javascript:alert(1)",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
        assert!(parse(&format!("http://h/{}", "a".repeat(MAX_URL_BYTES))).is_err());
    }
}
