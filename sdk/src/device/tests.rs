//! Announcements: every change reaches the observers, the process engine's
//! included.

use std::sync::{Arc, Mutex};

use fieldwork_core::process::model::Model;
use fieldwork_core::{FieldWrite, RecordId, RecordKind, Store, SystemClock};

use super::{Device, DeviceObserver};
use crate::secrets::MemorySecrets;
use fieldwork_core::sync::SyncStatus;

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
