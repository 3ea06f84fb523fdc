//! The end-to-end test harness: real servers, real devices, real sockets.
//!
//! - [`api`]: a client of the office HTTP API (JSON, problem details).
//! - [`browser`]: a WebDriver client driving headless Chromium (web app tests).
//! - [`clocked`]: a server and devices whose clocks the test moves.
//! - [`server`]: a `fieldwork-server` in this process on `127.0.0.1:0`, or
//!   as a child process (for `kill -9`).
//! - [`device`]: a device (its own SQLite store in a temporary directory)
//!   that signs in and syncs over the real protocol.
//! - [`proxy`]: a TCP proxy between a device and the server that can drop
//!   connections after a random number of bytes and records every byte.
//! - [`raw`]: a protocol client that bypasses the core's checks, for forging
//!   messages and changes.
//! - [`replicas`]: comparing what replicas hold.
//! - [`frames`]: decoding captured server frames, searching files for bytes.
//! - [`slow`]: a raw HTTP client for attacks: chosen source addresses,
//!   trickled bytes, idle sockets.
//! - [`xlsx`]: XLSX files written at test time (the import tests' fixtures).

pub mod api;
pub mod browser;
pub mod clocked;
pub mod device;
pub mod forge;
pub mod frames;
pub mod proxy;
pub mod raw;
pub mod replicas;
pub mod server;
pub mod slow;
pub mod xlsx;

/// Polls `check` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: std::time::Duration, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Installs a log subscriber when `FW_TEST_LOG` is set (e.g. `debug`).
pub fn logs() {
    if let Ok(filter) = std::env::var("FW_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// One tokio runtime shared by a test's devices.
pub fn runtime() -> std::sync::Arc<tokio::runtime::Runtime> {
    logs();
    std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    )
}
