//! How a device reaches its server: which URLs are allowed, which
//! certificates are trusted, and what a TLS failure means in words.
//!
//! One [`Transport`] (chosen at sign-in, kept in the device's session)
//! becomes one [`rustls::ClientConfig`] ([`client_config`]) used by both the
//! HTTP client (login, logout) and the WebSocket connector (sync).
//!
//! # Guarantees
//!
//! - `https://` and `wss://` are always allowed; plain `http://` / `ws://`
//!   only to this machine (`127.0.0.0/8`, `::1`, `localhost`) unless the
//!   user set `insecure_http`. Anything else is refused with
//!   [`SdkError::InsecureHttp`] before any connection is attempted
//!   ([`check_url`]).
//! - Trust: the public web roots (webpki-roots) plus the extra CAs of
//!   `ca_pem`; the server's name and validity dates are checked as usual.
//! - With `pin_sha256` only the certificate whose DER has that SHA-256 is
//!   accepted, whoever signed it, for any name and date; the handshake
//!   signatures are still verified, so the server proves it holds that
//!   certificate's key. The CAs are then not consulted.
//! - TLS failures become [`SdkError::Tls`] with a sentence saying what to
//!   do ([`tls_error`]); they are recognised from the typed error chain
//!   (`rustls::Error`), not from message text.

use std::net::IpAddr;
use std::sync::Arc;

use fieldwork_core::store::Transport;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::{Result, SdkError};

/// What the pin verifier says when the certificate is not the pinned one,
/// followed by a space and the certificate's actual fingerprint.
const PIN_MISMATCH: &str = "certificate pin mismatch";

/// Checks and normalises a transport given at sign-in: the pin becomes 64
/// lowercase hex digits (colons and spaces removed), the CA PEM must hold
/// at least one certificate.
pub fn normalize(mut transport: Transport) -> Result<Transport> {
    if let Some(pin) = transport.pin_sha256.take() {
        transport.pin_sha256 = Some(normalize_pin(&pin)?);
    }
    if let Some(pem) = &transport.ca_pem {
        ca_certificates(pem)?;
    }
    Ok(transport)
}

/// `ab:CD:…` → `abcd…` when it is a SHA-256 (64 hex digits).
pub fn normalize_pin(pin: &str) -> Result<String> {
    let hex: String = pin
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SdkError::Tls(format!(
            "the pin `{pin}` is not a SHA-256 fingerprint: expected 64 hex digits (colons allowed), \
             as `fieldwork-server serve` prints it"
        )));
    }
    Ok(hex)
}

fn ca_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| SdkError::Tls(format!("the CA file is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(SdkError::Tls(
            "the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// The URL policy: parses `server` (a base URL, or a sync URL) and allows
/// `https`/`wss` always, `http`/`ws` only to this machine unless
/// `transport.insecure_http`.
pub fn check_url(server: &str, transport: &Transport) -> Result<url::Url> {
    let url = url::Url::parse(server).map_err(|_| SdkError::BadUrl(server.to_owned()))?;
    let Some(host) = url.host() else {
        return Err(SdkError::BadUrl(server.to_owned()));
    };
    match url.scheme() {
        "https" | "wss" => Ok(url),
        "http" | "ws" if transport.insecure_http || is_loopback(&host) => Ok(url),
        "http" | "ws" => Err(SdkError::InsecureHttp(format!(
            "refusing plain {}:// to {host}, which is not this machine: the password, the session token \
             and the data would cross the network unencrypted. Use https://, or pass --insecure-http \
             (insecure_http) only if a TLS-terminating proxy protects the way there",
            url.scheme()
        ))),
        _ => Err(SdkError::BadUrl(server.to_owned())),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).to_canonical().is_loopback(),
    }
}

/// The server's JSON answer to a refused request.
#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The server's base URL for HTTP requests (login, logout, wipe), allowed
/// by the URL policy ([`check_url`]).
pub(crate) fn base_url(server: &str, transport: &Transport) -> Result<url::Url> {
    let url = check_url(server, transport)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SdkError::BadUrl(server.to_owned()));
    }
    Ok(url)
}

/// A failed request: a TLS failure in words, or a network error.
pub(crate) fn request_error(e: reqwest::Error, server: &str, transport: &Transport) -> SdkError {
    tls_error(&e, server, transport).unwrap_or_else(|| SdkError::Network(format!("{server}: {e}")))
}

/// A refused request as [`SdkError::Server`], with the server's stable
/// code and message when it sent them.
pub(crate) async fn server_error(response: reqwest::Response) -> SdkError {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => SdkError::Server {
            code: body.code,
            message: body.message,
        },
        Err(_) => SdkError::Server {
            code: status.as_u16().to_string(),
            message: format!("the server answered {status}"),
        },
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client configuration for `transport` (ring only; ALPN
/// `http/1.1`): webpki roots plus `ca_pem`, or only the pinned certificate.
pub fn client_config(transport: &Transport) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SdkError::Tls(format!("TLS setup failed: {e}")))?;
    let mut config = if let Some(pin) = &transport.pin_sha256 {
        let verifier = PinVerifier {
            pin: normalize_pin(pin)?,
            algorithms: provider.signature_verification_algorithms,
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &transport.ca_pem {
            for cert in ca_certificates(pem)? {
                roots
                    .add(cert)
                    .map_err(|e| SdkError::Tls(format!("the CA certificate was refused: {e}")))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTP client for login and logout.
pub(crate) fn http_client(transport: &Transport) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        // By value: reqwest takes a `rustls::ClientConfig`, not an `Arc`.
        .use_preconfigured_tls(client_config(transport)?)
        .build()
        .map_err(|e| SdkError::Network(e.to_string()))
}

/// The SHA-256 of a DER certificate, as 64 lowercase hex digits.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Accepts exactly the certificate whose DER has the pinned SHA-256, and
/// checks the handshake signatures made with its key.
#[derive(Debug)]
struct PinVerifier {
    pin: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let actual = fingerprint(end_entity);
        if actual == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!("{PIN_MISMATCH} {actual}")))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS failure somewhere in `error`'s chain, in words, for a connection
/// to `server` under `transport`; `None` when the failure is not about TLS.
pub fn tls_error(
    error: &(dyn std::error::Error + 'static),
    server: &str,
    transport: &Transport,
) -> Option<SdkError> {
    let rustls_error = chain(error).find_map(|e| e.downcast_ref::<rustls::Error>())?;
    let host = url::Url::parse(server)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| server.to_owned());
    let sentence = match rustls_error {
        rustls::Error::General(m) if m.starts_with(PIN_MISMATCH) => {
            let actual = m[PIN_MISMATCH.len()..].trim();
            format!(
                "the certificate of {host} (SHA-256 {actual}) does not match the pinned fingerprint {}; \
                 if the server's certificate was replaced on purpose, sign in again with its new fingerprint",
                transport.pin_sha256.as_deref().unwrap_or("?")
            )
        }
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::UnknownIssuer => format!(
                "the certificate of {host} is not signed by a trusted authority; pass its CA with --ca \
                 or pin it with --pin"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the certificate of the server is not valid for the name {host}; connect with a name \
                     the certificate was issued for, or pin it with --pin"
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate of {host} has expired; the server needs a new certificate \
                 (or check this device's clock)"
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet; check this device's clock")
            }
            CertificateError::Revoked => format!("the certificate of {host} has been revoked"),
            other => format!("the certificate of {host} was refused: {other:?}"),
        },
        other => format!("the secure connection to {host} failed: {other}"),
    };
    Some(SdkError::Tls(sentence))
}

/// `error` and its sources, looking inside `io::Error`s too (whose
/// `source()` skips the error they wrap).
fn chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => current.source(),
            },
            None => current.source(),
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(insecure_http: bool) -> Transport {
        Transport {
            insecure_http,
            ..Transport::default()
        }
    }

    #[test]
    fn plain_http_is_for_this_machine_only() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://127.9.0.1",
            "http://localhost:1",
            "http://[::1]:80",
            "https://example.com",
            "wss://10.0.0.1/v1/sync",
        ] {
            assert!(check_url(ok, &plain(false)).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.255.255.1:9",
            "http://example.com",
            "ws://192.168.1.2/v1/sync",
        ] {
            let e = check_url(refused, &plain(false)).expect_err(refused);
            assert!(
                matches!(&e, SdkError::InsecureHttp(m) if m.contains("--insecure-http")),
                "{e}"
            );
            assert!(check_url(refused, &plain(true)).is_ok(), "{refused}");
        }
        assert!(matches!(
            check_url("ftp://example.com", &plain(true)),
            Err(SdkError::BadUrl(_))
        ));
    }

    #[test]
    fn pins_are_64_hex_digits_colons_allowed() {
        let hex = "AB".repeat(32);
        assert_eq!(normalize_pin(&hex).expect("plain"), "ab".repeat(32));
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(normalize_pin(&colons).expect("colons"), "ab".repeat(32));
        assert!(matches!(normalize_pin("abc"), Err(SdkError::Tls(_))));
        assert!(matches!(
            normalize_pin(&"zz".repeat(32)),
            Err(SdkError::Tls(_))
        ));
        let bad_ca = Transport {
            ca_pem: Some("not a certificate".into()),
            ..Transport::default()
        };
        assert!(matches!(normalize(bad_ca), Err(SdkError::Tls(_))));
    }

    #[test]
    fn tls_errors_are_found_inside_io_errors() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let e = tls_error(&io, "https://h:1", &Transport::default()).expect("found");
        assert!(
            e.to_string().contains("not signed by a trusted authority"),
            "{e}"
        );
        let other = std::io::Error::other("connection refused");
        assert!(tls_error(&other, "https://h:1", &Transport::default()).is_none());
    }
}
