//! TLS for the listeners (rustls with the ring provider only).
//!
//! # Guarantees
//!
//! - One [`Tls`] holds the certificate in force; every new handshake reads
//!   it, so a [`Tls::reload`] applies to the next handshake while
//!   connections already open keep the session they negotiated.
//! - A reload that fails (unreadable file, bad PEM, a key that does not
//!   belong to the certificate) changes nothing: the previous certificate
//!   stays in force and the error is returned (and logged by
//!   [`reload_on_sighup`]).
//! - The server speaks HTTP/1.1 only, and says so by ALPN (`http/1.1`);
//!   WebSocket upgrades work on the same port.
//! - A self-signed certificate ([`self_signed`]) is made once per data
//!   directory and reused, so its fingerprint stays the same across
//!   restarts; its key file is readable by its owner only.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// The certificate in force and where it comes from.
pub struct Tls {
    source: Option<(PathBuf, PathBuf)>,
    current: RwLock<Current>,
}

#[derive(Clone)]
struct Current {
    config: Arc<rustls::ServerConfig>,
    fingerprint: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("source", &self.source)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The certificate chain and key in these PEM files (the chain starts
    /// with the server's own certificate; the key is PKCS#8, SEC1 or
    /// PKCS#1). [`Tls::reload`] reads the same files again.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Arc<Tls>, TlsError> {
        let current = load_files(cert, key)?;
        Ok(Arc::new(Tls {
            source: Some((cert.to_owned(), key.to_owned())),
            current: RwLock::new(current),
        }))
    }

    /// A certificate chain and key given as PEM text (tests; no reload).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<Tls>, TlsError> {
        Ok(Arc::new(Tls {
            source: None,
            current: RwLock::new(load_pem(cert_pem, key_pem)?),
        }))
    }

    /// The configuration for the next handshake.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.read().config
    }

    /// The SHA-256 of the server certificate in force (hex of its DER).
    pub fn fingerprint(&self) -> String {
        self.read().fingerprint
    }

    /// Reads the certificate and key files again. On success new
    /// handshakes use them; on failure the certificate in force stays.
    /// Returns the new fingerprint.
    pub fn reload(&self) -> Result<String, TlsError> {
        let Some((cert, key)) = &self.source else {
            return Err(TlsError(
                "this certificate was not loaded from files; nothing to reload".into(),
            ));
        };
        let fresh = load_files(cert, key)?;
        let fingerprint = fresh.fingerprint.clone();
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(fingerprint)
    }

    fn read(&self) -> Current {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Reloads `tls` from its files whenever the process receives SIGHUP
/// (a task on the current tokio runtime). A failed reload is logged and
/// the old certificate stays in force.
#[cfg(unix)]
pub fn reload_on_sighup(tls: Arc<Tls>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(fingerprint) => {
                    tracing::info!(%fingerprint, "SIGHUP: TLS certificate reloaded");
                }
                Err(e) => tracing::error!(
                    error = %e,
                    fingerprint = %tls.fingerprint(),
                    "SIGHUP: could not reload the TLS certificate; the previous one stays in force"
                ),
            }
        }
    }))
}

/// The SHA-256 of a DER-encoded certificate, as 64 lowercase hex digits.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn load_files(cert: &Path, key: &Path) -> Result<Current, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|e| {
        TlsError(format!(
            "cannot read the certificate {}: {e}",
            cert.display()
        ))
    })?;
    let key_pem = std::fs::read(key)
        .map_err(|e| TlsError(format!("cannot read the key {}: {e}", key.display())))?;
    load_pem(&cert_pem, &key_pem)
        .map_err(|e| TlsError(format!("{} and {}: {}", cert.display(), key.display(), e.0)))
}

fn load_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Current, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("the certificate file is not valid PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError(
            "the certificate file holds no PEM certificate".into(),
        ));
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        TlsError(format!(
            "the key file holds no PKCS#8, SEC1 or RSA private key in PEM: {e}"
        ))
    })?;
    let config = server_config(chain, key)?;
    Ok(Current {
        config: Arc::new(config),
        fingerprint,
    })
}

/// A server configuration for one certificate chain and its key: ring
/// only, TLS 1.2 and 1.3, ALPN `http/1.1`. A key that does not belong to
/// the chain's first certificate is refused.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS setup failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                TlsError("the private key does not belong to the certificate".into())
            }
            other => TlsError(format!("the certificate or key was refused: {other}")),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A self-signed certificate kept in the data directory.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, mode 0600).
    pub key: PathBuf,
    /// SHA-256 of the certificate's DER, hex.
    pub fingerprint: String,
    /// Whether it was made just now (rather than reused).
    pub created: bool,
}

/// The self-signed certificate of `data_dir` (`tls/self-signed.crt` and
/// `tls/self-signed.key`): reused when both files exist, otherwise made
/// for `names` (host names and IP addresses) and stored.
pub fn self_signed(data_dir: &Path, names: &[String]) -> Result<SelfSigned, TlsError> {
    let dir = data_dir.join("tls");
    let cert = dir.join("self-signed.crt");
    let key = dir.join("self-signed.key");
    if cert.exists() && key.exists() {
        let current = load_files(&cert, &key)?;
        return Ok(SelfSigned {
            cert,
            key,
            fingerprint: current.fingerprint,
            created: false,
        });
    }
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError(format!("cannot make a self-signed certificate: {e}")))?;
    create_private_dir(&dir)?;
    write_file(&key, made.signing_key.serialize_pem().as_bytes(), true)?;
    write_file(&cert, made.cert.pem().as_bytes(), false)?;
    Ok(SelfSigned {
        cert,
        key,
        fingerprint: fingerprint(made.cert.der()),
        created: true,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| TlsError(format!("cannot create {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| TlsError(format!("cannot restrict {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Writes `path` through a temporary file and a rename (a crash leaves the
/// old file or the new one), readable by the owner only when `private`.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let fail = |e: std::io::Error| TlsError(format!("cannot write {}: {e}", path.display()));
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_and_reload_keeps_the_old_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let (cert_a, key_a) = leaf();
        let (cert_b, key_b) = leaf();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, &cert_a).expect("write");
        std::fs::write(&key, &key_a).expect("write");
        let tls = Tls::from_files(&cert, &key).expect("load");
        let before = tls.fingerprint();
        // Mismatched pair: refused, old certificate stays.
        std::fs::write(&cert, &cert_b).expect("write");
        let err = tls.reload().expect_err("mismatch");
        assert!(err.0.contains("does not belong"), "{err}");
        assert_eq!(tls.fingerprint(), before);
        // Garbage: refused too.
        std::fs::write(&key, "not pem").expect("write");
        assert!(tls.reload().is_err());
        assert_eq!(tls.fingerprint(), before);
        // The matching pair: the new one is in force.
        std::fs::write(&key, &key_b).expect("write");
        let after = tls.reload().expect("reload");
        assert_ne!(after, before);
        assert_eq!(tls.fingerprint(), after);
    }

    #[test]
    fn the_self_signed_certificate_is_reused() {
        let dir = tempfile::tempdir().expect("tmp");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let first = self_signed(dir.path(), &names).expect("make");
        assert!(first.created);
        let again = self_signed(dir.path(), &names).expect("reuse");
        assert!(!again.created);
        assert_eq!(first.fingerprint, again.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.key)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
