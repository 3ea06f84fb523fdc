//! Test devices: a real store in a temporary directory, signed in over HTTP,
//! syncing over the real protocol.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldwork_core::store::Store;
use fieldwork_core::{FieldWrite, Record, RecordId, RecordKind, SystemClock};
use fieldwork_sdk::{Device, SdkError, SyncReport, login};
use tokio::runtime::Runtime;

use crate::server::PASSWORD;

/// A device for tests.
pub struct TestDevice {
    /// The SDK handle.
    pub device: Device,
    /// The runtime its network calls run on.
    pub rt: Arc<Runtime>,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl TestDevice {
    /// A new device with an empty store.
    pub fn new(rt: &Arc<Runtime>) -> TestDevice {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut d = TestDevice::open(rt, tmp.path());
        d._tmp = Some(tmp);
        d
    }

    /// The device whose store is in `dir`.
    pub fn open(rt: &Arc<Runtime>, dir: &Path) -> TestDevice {
        TestDevice::open_clocked(rt, dir, Arc::new(SystemClock))
    }

    /// The device whose store is in `dir`, with its own clock.
    pub fn open_clocked(
        rt: &Arc<Runtime>,
        dir: &Path,
        clock: Arc<dyn fieldwork_core::Clock>,
    ) -> TestDevice {
        let device = Device::open(&dir.join("device.db"), clock).expect("open device");
        TestDevice {
            device,
            rt: rt.clone(),
            dir: dir.to_owned(),
            _tmp: None,
        }
    }

    /// The device's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Signs in as `user` with the test password.
    pub fn login(&self, server: &str, user: &str) {
        self.rt
            .block_on(login::login(&self.device, server, user, PASSWORD))
            .unwrap_or_else(|e| panic!("login as {user}: {e}"));
    }

    /// Points the signed-in session at another address (e.g. a proxy).
    pub fn set_server(&self, url: &str) {
        self.device
            .with_store(|s| {
                let mut session = s.session()?.expect("signed in");
                session.server = url.to_owned();
                s.set_session(&session)
            })
            .expect("set server");
    }

    /// One full sync; panics on failure.
    pub fn sync(&self) -> SyncReport {
        self.try_sync()
            .unwrap_or_else(|e| panic!("sync failed: {e}"))
    }

    /// One full sync.
    pub fn try_sync(&self) -> Result<SyncReport, SdkError> {
        self.rt
            .block_on(self.device.sync_once(Duration::from_secs(120)))
    }

    /// Runs `f` on the store.
    pub fn store<T>(&self, f: impl FnOnce(&mut Store) -> fieldwork_core::Result<T>) -> T {
        self.device.with_store(f).expect("store call")
    }

    /// Creates a record.
    pub fn create(&self, kind: RecordKind, writes: &[(&str, &str)]) -> RecordId {
        self.device
            .create(
                kind,
                writes.iter().map(|(f, v)| FieldWrite::set(f, *v)).collect(),
            )
            .expect("create")
    }

    /// Sets text fields of a record.
    pub fn set(&self, id: &RecordId, writes: &[(&str, &str)]) {
        self.device
            .update(
                id,
                writes.iter().map(|(f, v)| FieldWrite::set(f, *v)).collect(),
            )
            .expect("update")
    }

    /// Reads a record.
    pub fn get(&self, id: &RecordId) -> Record {
        self.store(|s| s.get(id))
    }

    /// Reads a record if it is here.
    pub fn try_get(&self, id: &RecordId) -> Option<Record> {
        self.device.with_store(|s| s.get(id)).ok()
    }
}
