//! The BPMN importer (`fieldwork_core::process::bpmn::import`), then the
//! model check and the process engine on what it imports: an administrator
//! may upload any file, and whatever is accepted runs on every device.
//!
//! Checks: importing arbitrary text never panics and a refusal says why;
//! a model that passes `Model::check` serialises to JSON and back; running
//! its first steps on a record with long multi-byte values never panics.
#![no_main]

use std::collections::BTreeMap;

use fieldwork_core::process::bpmn;
use fieldwork_core::process::engine::{self, Inputs};
use fieldwork_core::process::instance::Instance;
use fieldwork_core::process::model::Model;
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::{FieldValue, Policy, Record, RecordId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let file = match bpmn::import(xml) {
        Ok(file) => file,
        Err(e) => {
            assert!(
                !e.0.is_empty() && e.0.iter().all(|p| !p.message.is_empty()),
                "a refusal says why"
            );
            return;
        }
    };
    let Ok(model) = Model::check(file, 1) else {
        return;
    };
    let json = model.to_json();
    assert!(
        Model::from_json(&json, 1).is_ok(),
        "a checked model's JSON is accepted again: {json}"
    );
    run(&model);
});

/// Steps an instance of `model` on a record whose texts are long and
/// multi-byte (subjects are built from them and cut to a length).
fn run(model: &Model) {
    let kind = model
        .trigger
        .record
        .unwrap_or(fieldwork_core::RecordKind::Account);
    let record_id = RecordId::derived(kind, &["fuzz"]);
    let long = "Ñandú Szőke — 東京 ".repeat(20);
    let mut fields = BTreeMap::new();
    for def in fieldwork_core::schema::fields(kind) {
        if matches!(def.ty, fieldwork_core::schema::FieldType::Text { .. }) {
            fields.insert(def.name.to_owned(), FieldValue::Text(long.clone()));
        }
    }
    fields.insert("owner".into(), FieldValue::Text("ana".into()));
    let record = Record {
        id: record_id.clone(),
        fields,
        conflicts: BTreeMap::new(),
        classes: Vec::new(),
    };
    let started = jiff::Timestamp::from_second(1_800_000_000).unwrap_or_default();
    let instance = Instance {
        id: Instance::derive_id(&model.file.key, &record_id, started),
        model_key: model.file.key.clone(),
        model: RecordId::derived(
            fieldwork_core::RecordKind::ProcessModel,
            &[&model.file.key, "1"],
        ),
        started_version: 1,
        record: record_id.clone(),
        account: None,
        owner: Some("ana".into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    };
    let activities = BTreeMap::new();
    let policy = Policy::shipped_default();
    let directory = [
        DirectoryEntry {
            name: "ana".into(),
            role: "rep".into(),
            manager: Some("mia".into()),
            time_zone: Some("Europe/Madrid".into()),
        },
        DirectoryEntry {
            name: "mia".into(),
            role: "manager".into(),
            manager: None,
            time_zone: Some("Asia/Tokyo".into()),
        },
    ];
    let _ = engine::step(&Inputs {
        model,
        start: &model.start,
        instance: &instance,
        record: Some(&record),
        account: Some(&record),
        activities: &activities,
        directory: &directory,
        policy: Some(&policy),
        called: &BTreeMap::new(),
        may_start: true,
        now: started,
    });
}
