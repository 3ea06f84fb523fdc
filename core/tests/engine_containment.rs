//! One bad instance never takes its host down: a panic inside the engine is
//! contained, the instance is marked failed (its card says why), it is not
//! run again, and the store goes on listing, writing and running the rest.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fieldwork_core::clock::ManualClock;
use fieldwork_core::policy::Access;
use fieldwork_core::process::ProcessHost;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::runner;
use fieldwork_core::record::Record;
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::{FieldValue, FieldWrite, RecordId, RecordKind, Result, Store};
use jiff::Timestamp;

/// The device store, except that reading `poisoned` panics, as a bug
/// reachable from one record's data would.
struct Panicky<'s> {
    store: &'s mut Store,
    poisoned: RecordId,
}

impl ProcessHost for Panicky<'_> {
    type Error = fieldwork_core::CoreError;

    fn now(&self) -> Timestamp {
        self.store.now()
    }
    fn acting_user(&self) -> String {
        self.store.acting_user()
    }
    fn access(&self) -> &Access {
        self.store.access()
    }
    fn models(&mut self) -> Result<Vec<Model>> {
        self.store.models()
    }
    fn record(&mut self, id: &RecordId) -> Result<Option<Record>> {
        if *id == self.poisoned {
            panic!("byte index 200 is not a char boundary");
        }
        ProcessHost::record(self.store, id)
    }
    fn records_of(&mut self, kind: RecordKind) -> Result<Vec<RecordId>> {
        self.store.records_of(kind)
    }
    fn directory(&mut self) -> Result<Vec<DirectoryEntry>> {
        ProcessHost::directory(self.store)
    }
    fn create(
        &mut self,
        id: &RecordId,
        fields: &BTreeMap<String, FieldValue>,
        at: Timestamp,
    ) -> Result<bool> {
        ProcessHost::create(self.store, id, fields, at)
    }
    fn put_entry(
        &mut self,
        id: &RecordId,
        field: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        self.store.put_entry(id, field, key, value)
    }
    fn write(&mut self, id: &RecordId, field: &str, value: FieldValue) -> Result<()> {
        ProcessHost::write(self.store, id, field, value)
    }
    fn set_wakeup(
        &mut self,
        instance: &RecordId,
        at: Option<Timestamp>,
        active: bool,
        watch: Option<&RecordId>,
    ) -> Result<()> {
        self.store.set_wakeup(instance, at, active, watch)
    }
    fn watching(&mut self, record: &RecordId) -> Result<Vec<RecordId>> {
        self.store.watching(record)
    }
    fn due(&mut self, now: Timestamp) -> Result<Vec<RecordId>> {
        self.store.due(now)
    }
    fn active(&mut self) -> Result<Vec<RecordId>> {
        self.store.active()
    }
    fn schedule_mark(&mut self, key: &str) -> Result<Option<Timestamp>> {
        self.store.schedule_mark(key)
    }
    fn set_schedule_mark(&mut self, key: &str, at: Timestamp) -> Result<()> {
        self.store.set_schedule_mark(key, at)
    }
    fn mark_failed(&mut self, instance: &RecordId, reason: &str) -> Result<()> {
        self.store.mark_failed(instance, reason)
    }
    fn failure(&mut self, instance: &RecordId) -> Result<Option<String>> {
        self.store.failure(instance)
    }
}

fn store(dir: &Path) -> Store {
    let clock = ManualClock::new("2027-01-04T09:00:00Z".parse().expect("instant"));
    let mut s = Store::open(&dir.join("device.db"), Arc::new(clock)).expect("open");
    s.set_directory(&[DirectoryEntry {
        name: "local".into(),
        role: "rep".into(),
        manager: None,
        time_zone: None,
    }])
    .expect("directory");
    s
}

#[test]
fn an_instance_that_makes_the_engine_panic_is_failed_and_the_store_goes_on() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = store(dir.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("examples/processes/lead-qualification.toml"))
        .expect("model file");
    s.publish_model(Model::from_toml(&text).expect("model").file)
        .expect("publish");
    let bad = s
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Mala")])
        .expect("account");
    let good = s
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Buena")])
        .expect("account");
    let instances = s.process_instances().expect("instances");
    let id_of = |record: &RecordId| -> RecordId {
        instances
            .iter()
            .find(|i| i.record == record.to_string())
            .expect("an instance per lead")
            .id
            .parse()
            .expect("id")
    };
    let (bad_instance, good_instance) = (id_of(&bad), id_of(&good));

    let mut host = Panicky {
        store: &mut s,
        poisoned: bad.clone(),
    };
    let ran = runner::run_active(&mut host).expect("a panic is not an error of the pass");
    assert_eq!(ran, 2, "both instances were tried");
    // Tried again: the failed one is no longer run, so it cannot panic.
    let models = host.models().expect("models");
    assert_eq!(
        runner::run_contained(&mut host, &models, &bad_instance).expect("contained"),
        None
    );
    drop(host);

    let card = s.process_card(&bad_instance).expect("card");
    let stuck = card.stuck.expect("the card says why");
    assert!(
        stuck.contains("failed") && stuck.contains("char boundary"),
        "{stuck}"
    );
    assert_eq!(s.process_card(&good_instance).expect("card").stuck, None);
    assert!(
        s.engine_problems()
            .iter()
            .any(|p| p.contains(&bad_instance.to_string())),
        "reported to the app"
    );
    // The store still lists, writes and runs everything else.
    assert_eq!(s.process_instances().expect("list").len(), 2);
    s.update(&good, vec![FieldWrite::set("industry", "Textil")])
        .expect("write");
    s.run_processes().expect("runs");
}

#[test]
fn a_step_the_rule_book_refuses_fails_its_instance_and_nothing_else() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = store(dir.path());
    // A lost deal needs a reason: this model's `set` step breaks that rule.
    let model = Model::from_toml(
        r#"
key = "give-up"
name = "Mark the deal lost"
trigger = { kind = "manual", record = "deal" }
[[steps]]
id = "lose"
kind = "set"
field = "stage"
value = "lost"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
    )
    .expect("model");
    s.publish_model(model.file).expect("publish");
    let account = s
        .create(
            RecordKind::Account,
            vec![FieldWrite::set("name", "Cliente")],
        )
        .expect("account");
    let deal = s
        .create(
            RecordKind::Deal,
            vec![
                FieldWrite::set("name", "Flota"),
                FieldWrite::set("account", account.to_string()),
            ],
        )
        .expect("deal");
    let instance = s.start_process("give-up", &deal).expect("started");
    let card = s.process_card(&instance).expect("card");
    let stuck = card.stuck.expect("the card says why");
    assert!(
        stuck.contains("refused") && stuck.contains("reason"),
        "{stuck}"
    );
    assert_ne!(s.get(&deal).expect("deal").text("stage"), Some("lost"));
    // Later passes skip it and go on.
    s.run_processes().expect("a pass");
    s.update(
        &deal,
        vec![
            FieldWrite::set("amount", 10_000i64),
            FieldWrite::set("currency", "EUR"),
        ],
    )
    .expect("the deal is still editable");
}
