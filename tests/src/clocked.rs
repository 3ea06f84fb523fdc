//! A server and devices whose clocks the test moves (processes, timers,
//! calendars): an organisation of an admin, a manager (`mia`) and a rep
//! (`ana`, territory `madrid`, managed by `mia`).

use std::sync::Arc;
use std::time::Duration;

use fieldwork_core::clock::ManualClock;
use tokio::runtime::Runtime;

use crate::device::TestDevice;
use crate::server::TestServer;

/// A file of the repository (examples, fixtures).
pub fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// An instant from RFC 3339 text.
pub fn at(s: &str) -> jiff::Timestamp {
    s.parse().expect("instant")
}

/// The server, its clock and its directory.
pub struct World {
    /// The server (its process engine ticks every 50 ms).
    pub server: TestServer,
    /// The server's clock.
    pub server_clock: ManualClock,
    _dir: tempfile::TempDir,
}

/// A server whose clock reads `t0`, with the organisation above.
pub fn world(t0: &str) -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let server_clock = ManualClock::new(at(t0));
    let server = TestServer::start_clocked(dir.path(), Some(Arc::new(server_clock.clone())), |c| {
        c.process_tick = Duration::from_millis(50);
    });
    server.add_user("admin", "admin", &[], None);
    server.add_user("mia", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("mia"));
    World {
        server,
        server_clock,
        _dir: dir,
    }
}

/// A device signed in as `user` whose clock reads `t0`, with its clock and
/// directory (keep the directory alive as long as the device).
pub fn device(
    rt: &Arc<Runtime>,
    w: &World,
    user: &str,
    t0: &str,
) -> (TestDevice, ManualClock, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(at(t0));
    let d = TestDevice::open_clocked(rt, dir.path(), Arc::new(clock.clone()));
    d.login(&w.server.url, user);
    (d, clock, dir)
}

/// How many changes of `doc` the server stores.
pub fn server_changes(server: &TestServer, doc: &str) -> i64 {
    let doc = doc.to_owned();
    server
        .state
        .db
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM changes WHERE doc_id = ?1",
                [doc],
                |r| r.get(0),
            )?)
        })
        .expect("count")
}
