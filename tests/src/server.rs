//! Test servers: in this process, or as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use fieldwork_server::auth::PasswordParams;
use fieldwork_server::db::users::NewUser;
use fieldwork_server::{AppState, ServerConfig, admin};
use tokio::sync::oneshot;

/// Cheap Argon2 parameters: tests sign in often; production uses the defaults.
pub const TEST_PASSWORDS: PasswordParams = PasswordParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A server running in this process on `127.0.0.1:0`.
pub struct TestServer {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
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
        let mut config = ServerConfig::new(dir.to_owned());
        config.password = TEST_PASSWORDS;
        config.admin_poll = std::time::Duration::from_millis(100);
        tune(&mut config);
        let state = AppState::open(config, clock).expect("open server state");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                fieldwork_server::run(listener, st, async move {
                    let _ = rx.await;
                })
                .await
                .expect("server ran");
            });
        });
        TestServer {
            url,
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

/// `fieldwork-server` as a child process (for SIGKILL tests).
pub struct ServerProcess {
    /// Base URL.
    pub url: String,
    child: Child,
}

impl ServerProcess {
    /// Starts `fieldwork-server serve` on `dir` and a free port and waits
    /// until it listens.
    pub fn start(dir: &Path) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(binary("fieldwork-server"))
            .args(["--data"])
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fieldwork-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        ServerProcess { url, child }
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
