//! Test servers: in this process, or as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use fieldwork_server::auth::PasswordParams;
use fieldwork_server::db::users::NewUser;
use fieldwork_server::tls::Tls;
use fieldwork_server::{AppState, Listeners, ServerConfig, admin};
use tokio::sync::oneshot;

/// Cheap Argon2 parameters: tests sign in often; production uses the defaults.
pub const TEST_PASSWORDS: PasswordParams = PasswordParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A server running in this process on `127.0.0.1:0`, with its admin API
/// on another `127.0.0.1:0` listener.
pub struct TestServer {
    /// Base URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub url: String,
    /// Base URL of the admin listener (`/v1/admin/*`).
    pub admin_url: String,
    /// Shared state (database, hub), for inspecting what the server holds.
    pub state: Arc<AppState>,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server with an empty database in a fresh temporary directory.
    pub fn start() -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut s = TestServer::start_in(&dir, |_| {});
        s._tmp = Some(tmp);
        s
    }

    /// A server on the database in `dir`, with `tune` applied to its config.
    pub fn start_in(dir: &Path, tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_clocked(dir, None, tune)
    }

    /// A server on the database in `dir` whose "now" is `clock` (tests that
    /// let days pass), with `tune` applied to its config.
    pub fn start_clocked(
        dir: &Path,
        clock: Option<Arc<dyn fieldwork_core::Clock>>,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        TestServer::start_with(dir, clock, None, tune)
    }

    /// A server speaking only TLS (HTTPS, WSS) with `tls` on both
    /// listeners, in a fresh temporary directory.
    pub fn start_tls(tls: Arc<Tls>) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut s = TestServer::start_with(&dir, None, Some(tls), |_| {});
        s._tmp = Some(tmp);
        s
    }

    /// The general case: `tls` for HTTPS/WSS, `None` for plain HTTP.
    pub fn start_with(
        dir: &Path,
        clock: Option<Arc<dyn fieldwork_core::Clock>>,
        tls: Option<Arc<Tls>>,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let mut config = ServerConfig::new(dir.to_owned());
        config.password = TEST_PASSWORDS;
        config.admin_poll = std::time::Duration::from_millis(100);
        tune(&mut config);
        let state = AppState::open(config, clock).expect("open server state");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let admin = std::net::TcpListener::bind("127.0.0.1:0").expect("bind admin");
        admin.set_nonblocking(true).expect("nonblocking");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let admin_url = format!("{scheme}://{}", admin.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listeners = Listeners {
                    public: tokio::net::TcpListener::from_std(listener).expect("listener"),
                    admin: Some(tokio::net::TcpListener::from_std(admin).expect("admin listener")),
                    tls,
                };
                fieldwork_server::run(listeners, st, async move {
                    let _ = rx.await;
                })
                .await
                .expect("server ran");
            });
        });
        TestServer {
            url,
            admin_url,
            state,
            dir: dir.to_owned(),
            _tmp: None,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a user with [`PASSWORD`].
    pub fn add_user(&self, name: &str, role: &str, territories: &[&str], manager: Option<&str>) {
        let new = NewUser {
            name: name.into(),
            role: role.into(),
            territories: territories.iter().map(|t| t.to_string()).collect(),
            manager: manager.map(str::to_owned),
            time_zone: Some("Europe/Madrid".into()),
        };
        admin::add_user(&self.state, &new, PASSWORD).expect("add user");
    }

    /// Installs a policy, as `fieldwork-server policy set` does.
    pub fn set_policy(&self, toml: &str) -> fieldwork_server::Result<u64> {
        admin::install_policy(&self.state, toml, "test")
    }

    /// Stops the server gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// The path of a workspace binary built next to this test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/test-xxxx → target/debug/NAME
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (cargo build --workspace)",
        path.display()
    );
    path
}

/// `fieldwork-server` as a child process (for SIGKILL and SIGHUP tests).
pub struct ServerProcess {
    /// Base URL.
    pub url: String,
    /// The lines it printed on stdout at start (`listening on …`,
    /// `admin API …`, and with TLS the fingerprint and login lines).
    pub banner: Vec<String>,
    child: Child,
}

impl ServerProcess {
    /// Starts `fieldwork-server serve` on `dir` and a free port (no admin
    /// listener) and waits until it listens.
    pub fn start(dir: &Path) -> ServerProcess {
        ServerProcess::start_with(dir, &["--admin-listen", "none"])
    }

    /// Starts `fieldwork-server serve ARGS…` on `dir` (on `--listen
    /// 127.0.0.1:0` unless ARGS say otherwise) and waits until it has
    /// printed its start lines.
    pub fn start_with(dir: &Path, args: &[&str]) -> ServerProcess {
        ServerProcess::start_with_env(dir, args, &[])
    }

    /// [`ServerProcess::start_with`] with extra environment variables (for
    /// settings read from the environment, such as `SSL_CERT_FILE`).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary("fieldwork-server"))
            .envs(env.iter().copied())
            .args(["--data"])
            .arg(dir)
            .arg("serve")
            .args(
                (!args.contains(&"--listen"))
                    .then_some(["--listen", "127.0.0.1:0"])
                    .into_iter()
                    .flatten(),
            )
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fieldwork-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut read = || {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read a start line");
            line.trim().to_owned()
        };
        let first = read();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let mut banner = vec![first.clone(), read()];
        if url.starts_with("https://") {
            banner.push(read());
            if args.contains(&"--tls-self-signed") {
                banner.push(read());
            }
        }
        // Keep the pipe drained so that later output cannot block the server.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        ServerProcess { url, banner, child }
    }

    /// The admin listener's base URL, when it runs one.
    pub fn admin_url(&self) -> Option<String> {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("admin API on "))
            .map(str::to_owned)
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (reload the TLS certificate) with `kill -HUP`.
    pub fn sighup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed");
    }

    /// Kills the process with SIGKILL, without any chance to clean up.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a user in the database at `dir` with the admin CLI's code path.
pub fn add_user_offline(dir: &Path, name: &str, role: &str, territories: &[&str]) {
    let mut config = ServerConfig::new(dir.to_owned());
    config.password = TEST_PASSWORDS;
    let state = AppState::open(config, None).expect("open");
    let new = NewUser {
        name: name.into(),
        role: role.into(),
        territories: territories.iter().map(|t| t.to_string()).collect(),
        manager: None,
        time_zone: None,
    };
    admin::add_user(&state, &new, PASSWORD).expect("add user");
}

/// A certificate authority made at run time, for TLS tests.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    /// A fresh CA (ECDSA P-256).
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The CA certificate (PEM), for `Transport::ca_pem`.
    pub fn pem(&self) -> String {
        self.pem.clone()
    }

    /// A server certificate for `names` (`localhost`, `127.0.0.1`, …) signed
    /// by this CA: `(chain PEM, key PEM, SHA-256 of the leaf's DER)`.
    pub fn leaf(&self, names: &[&str]) -> (String, String, String) {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let fingerprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cert.der()));
        (cert.pem(), key.serialize_pem(), fingerprint)
    }

    /// A [`Tls`] for a leaf for `localhost` and `127.0.0.1`, and its
    /// fingerprint.
    pub fn server_tls(&self) -> (Arc<Tls>, String) {
        let (cert, key, fingerprint) = self.leaf(&["localhost", "127.0.0.1"]);
        let tls = Tls::from_pem(cert.as_bytes(), key.as_bytes()).expect("server TLS");
        (tls, fingerprint)
    }
}
