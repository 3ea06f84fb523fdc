//! Announcements: every change reaches the observers, the process engine's
//! included.

use std::sync::{Arc, Mutex};

use fieldwork_core::process::model::Model;
use fieldwork_core::{FieldWrite, RecordId, RecordKind, Store, SystemClock};

use super::{Device, DeviceObserver};
use crate::SyncStatus;
use crate::secrets::MemorySecrets;

/// Remembers every record it was told about.
#[derive(Default)]
struct Heard(Mutex<Vec<RecordId>>);

impl DeviceObserver for Heard {
    fn records_changed(&self, records: &[RecordId]) {
        if let Ok(mut heard) = self.0.lock() {
            heard.extend_from_slice(records);
        }
    }

    fn sync_status_changed(&self, _status: &SyncStatus) {}
}

impl Heard {
    fn of_kind(&self, kind: RecordKind) -> Vec<RecordId> {
        let heard = self.0.lock().expect("heard");
        heard.iter().filter(|r| r.kind() == kind).cloned().collect()
    }
}

/// A device whose store has the lead-qualification process (a new lead
/// gets a task for its owner at once).
fn device_with_process(dir: &std::path::Path) -> Device {
    let mut store = Store::open(&dir.join("d.db"), Arc::new(SystemClock)).expect("open");
    let model = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/processes/lead-qualification.toml"
    ))
    .expect("model file");
    let model = Model::from_toml(&model).expect("valid model");
    store.publish_model(model.file).expect("publish");
    Device::from_store(store, Arc::new(MemorySecrets::new()))
}

#[test]
fn a_listener_hears_of_the_task_the_engine_created() {
    let dir = tempfile::tempdir().expect("dir");
    let device = device_with_process(dir.path());
    let heard = Arc::new(Heard::default());
    device.add_observer(heard.clone());

    let lead = device
        .create(
            RecordKind::Account,
            vec![FieldWrite::set("name", "Ana Lead")],
        )
        .expect("create");

    let tasks = device
        .with_store(|s| s.tasks("local", Some("UTC")))
        .expect("tasks");
    assert_eq!(tasks.upcoming.len(), 1, "the engine made a task: {tasks:?}");
    let task: RecordId = tasks.upcoming[0].id.parse().expect("id");
    assert_eq!(heard.of_kind(RecordKind::Activity), vec![task.clone()]);
    assert_eq!(heard.of_kind(RecordKind::Account), vec![lead]);
    assert_eq!(
        heard.of_kind(RecordKind::ProcessInstance).len(),
        1,
        "the instance too"
    );
}

#[test]
fn a_change_is_announced_once_and_a_failed_write_not_at_all() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("d.db"), Arc::new(SystemClock)).expect("open");
    let device = Device::from_store(store, Arc::new(MemorySecrets::new()));
    let heard = Arc::new(Heard::default());
    device.add_observer(heard.clone());
    let id = device
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Once")])
        .expect("create");
    assert_eq!(heard.of_kind(RecordKind::Account), vec![id.clone()]);
    device
        .update(&id, vec![FieldWrite::set("no_such_field", "x")])
        .expect_err("refused");
    assert_eq!(heard.of_kind(RecordKind::Account), vec![id], "nothing new");
}

/// Every file under `dir`, recursively (directories themselves are not
/// listed), as paths relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_store_opens_once_until_closed_and_a_closed_device_says_closed() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d.db");
    let secrets = Arc::new(MemorySecrets::new());
    let first = Device::open(&path, Arc::new(SystemClock), secrets.clone()).expect("open");
    let id = first
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Held")])
        .expect("create");

    let second = Device::open(&path, Arc::new(SystemClock), secrets.clone());
    assert!(
        matches!(&second, Err(crate::SdkError::StoreInUse { path: p }) if p.ends_with("d.db")),
        "a second handle on the same file: {second:?}"
    );
    assert!(
        second
            .expect_err("in use")
            .to_string()
            .contains("already open"),
        "the error is a sentence"
    );

    let heard = Arc::new(Heard::default());
    first.add_observer(heard.clone());
    first.close();
    assert!(first.is_closed());
    first.close(); // idempotent
    assert!(matches!(
        first.create(RecordKind::Account, vec![FieldWrite::set("name", "Late")]),
        Err(crate::SdkError::Closed)
    ));
    assert!(matches!(first.token(), Err(crate::SdkError::Closed)));
    assert!(matches!(first.store_size(), Err(crate::SdkError::Closed)));
    assert!(matches!(first.wipe(), Err(crate::SdkError::Closed)));
    assert!(path.exists(), "closing deletes nothing");
    assert!(heard.of_kind(RecordKind::Account).is_empty());

    // Released: the store opens again, with what the first handle wrote.
    let again = Device::open(&path, Arc::new(SystemClock), secrets.clone()).expect("reopen");
    assert_eq!(
        again.with_store(|s| s.card(&id)).expect("card").title,
        "Held"
    );
    drop(again);
    // Dropping the last handle releases the lock too.
    Device::open(&path, Arc::new(SystemClock), secrets).expect("open after drop");
}

#[test]
fn store_size_counts_the_database_and_its_companions() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d.db");
    let device =
        Device::open(&path, Arc::new(SystemClock), Arc::new(MemorySecrets::new())).expect("open");
    for i in 0..20 {
        device
            .create(
                RecordKind::Account,
                vec![FieldWrite::set("name", format!("Account {i}"))],
            )
            .expect("create");
    }
    let on_disk: u64 = ["d.db", "d.db-wal", "d.db-shm", "d.db-journal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    let size = device.store_size().expect("size");
    assert_eq!(size, on_disk);
    assert!(size >= 4096, "a store with twenty accounts: {size} bytes");
}

#[test]
fn wipe_leaves_no_file_behind_and_the_path_opens_as_a_new_store() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d.db");
    let secrets = Arc::new(crate::FileSecrets::new(dir.path().join("keys")));
    let device = Device::open(&path, Arc::new(SystemClock), secrets.clone()).expect("open");
    device
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Gone")])
        .expect("create");
    let before = files_under(dir.path());
    assert!(
        before.contains(&"d.db.lock".to_owned()) && before.contains(&"keys/store-key".to_owned()),
        "{before:?}"
    );

    device.wipe().expect("wipe");
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "nothing left"
    );
    assert!(device.is_wiped());
    assert!(matches!(
        device.create(RecordKind::Account, vec![FieldWrite::set("name", "x")]),
        Err(crate::SdkError::Wiped)
    ));
    device.close();
    assert!(
        matches!(device.token(), Err(crate::SdkError::Wiped)),
        "wiped stays wiped"
    );

    let fresh = Device::open(&path, Arc::new(SystemClock), secrets).expect("a new store");
    assert_eq!(
        fresh
            .with_store(|s| s.count(RecordKind::Account))
            .expect("count"),
        0
    );
}
