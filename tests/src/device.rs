//! Test devices: a real store in a temporary directory, signed in over HTTP,
//! syncing over the real protocol.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldwork_core::store::Store;
use fieldwork_core::{FieldWrite, Record, RecordId, RecordKind, SystemClock};
use fieldwork_sdk::{Backoff, Device, SdkError, SyncHandle, SyncReport, SyncStatus, login};
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
        let secrets = Arc::new(fieldwork_sdk::FileSecrets::new(dir.join("keys")));
        let device = Device::open(&dir.join("device.db"), clock, secrets).expect("open device");
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

    /// How often `needle` occurs in what this device's user could read from
    /// the phone's disk, key in hand: every table of the store decrypted
    /// (exported to a plain copy with the key from `keys/`), plus every file
    /// as stored (database, WAL, keys). The privacy tests' scan: the user
    /// holds the key, so encryption at rest proves nothing about them.
    /// (Freed pages are not exported; the store zeroes them on delete,
    /// `secure_delete = ON`.)
    pub fn readable_occurrences(&self, needle: &[u8]) -> usize {
        let key = std::fs::read(self.dir.join("keys").join("store-key")).expect("store key");
        let conn = rusqlite::Connection::open(self.dir.join("device.db")).expect("open store");
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(&key)))
            .expect("key");
        let scratch = tempfile::tempdir().expect("tempdir");
        let plain = scratch.path().join("plain.db");
        conn.execute(
            "ATTACH DATABASE ?1 AS plain KEY ''",
            [plain.to_str().expect("utf-8 path")],
        )
        .expect("attach");
        conn.query_row("SELECT sqlcipher_export('plain')", [], |_| Ok(()))
            .expect("export");
        conn.execute_batch("DETACH DATABASE plain").expect("detach");
        drop(conn);
        let decrypted = std::fs::read(&plain).expect("plain copy");
        crate::frames::occurrences(&decrypted, needle)
            + crate::frames::occurrences_in_dir(&self.dir, needle)
    }

    /// Signs in as `user` with the test password.
    pub fn login(&self, server: &str, user: &str) {
        self.try_login(server, user, Default::default())
            .unwrap_or_else(|e| panic!("login as {user}: {e}"));
    }

    /// Signs in as `user` with the test password over `transport` (CA,
    /// pin, plain HTTP allowed).
    pub fn try_login(
        &self,
        server: &str,
        user: &str,
        transport: fieldwork_core::store::Transport,
    ) -> Result<(), SdkError> {
        self.rt.block_on(login::login(
            &self.device,
            server,
            user,
            PASSWORD,
            transport,
        ))
    }

    /// Points the sign-in at another address (e.g. a proxy).
    pub fn set_server(&self, url: &str) {
        self.device
            .with_store(|s| {
                let mut sign_in = s.sign_in()?.expect("signed in");
                sign_in.server = url.to_owned();
                s.set_sign_in(&sign_in)
            })
            .expect("set server");
    }

    /// Starts live sync (default backoff) and waits until it is up to date.
    pub fn go_live(&self) -> SyncHandle {
        let handle = {
            let _guard = self.rt.enter();
            self.device.start_sync(Backoff::default())
        };
        crate::wait_until(
            "live sync to be up to date",
            Duration::from_secs(10),
            || self.device.status() == SyncStatus::UpToDate,
        );
        handle
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

    /// The activities process instance `instance` put on this device (of
    /// the first hundred activities here), each with `fields` as text
    /// (empty when unset), its id first when `with_id`; sorted.
    pub fn process_activities(
        &self,
        instance: &RecordId,
        with_id: bool,
        fields: &[&str],
    ) -> Vec<Vec<String>> {
        let query = fieldwork_core::ListQuery {
            kind: Some(RecordKind::Activity),
            limit: Some(100),
            ..Default::default()
        };
        let instance = instance.to_string();
        let mut out: Vec<Vec<String>> = self
            .store(|s| s.list(&query))
            .into_iter()
            .map(|a| self.get(&a.id))
            .filter(|a| a.text("process_instance") == Some(instance.as_str()))
            .map(|a| {
                let id = with_id.then(|| a.id.to_string());
                let texts = fields
                    .iter()
                    .map(|f| a.text(f).unwrap_or_default().to_owned());
                id.into_iter().chain(texts).collect()
            })
            .collect();
        out.sort();
        out
    }
}
