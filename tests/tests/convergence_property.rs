//! Property: whatever the devices do, however they go on and offline, and in
//! whatever order they sync, after a final full sync all replicas converge.

use std::collections::BTreeMap;

use fieldwork_core::RecordKind;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::replicas::{device_docs, server_change_counts, server_docs};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Device creates an account.
    Create { device: usize, name: u8 },
    /// Device sets a field of the n-th record it knows.
    Set {
        device: usize,
        record: usize,
        field: usize,
        value: u8,
    },
    /// Device inserts text into the description of the n-th record it knows.
    Type {
        device: usize,
        record: usize,
        at: usize,
        text: u8,
    },
    /// Device syncs (goes online for a moment).
    Sync { device: usize },
}

const FIELDS: [&str; 4] = ["industry", "city", "region", "postal_code"];
const DEVICES: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..DEVICES, any::<u8>()).prop_map(|(device, name)| Op::Create { device, name }),
        (0..DEVICES, 0..8usize, 0..FIELDS.len(), any::<u8>()).prop_map(
            |(device, record, field, value)| Op::Set {
                device,
                record,
                field,
                value
            }
        ),
        (0..DEVICES, 0..8usize, 0..40usize, any::<u8>()).prop_map(|(device, record, at, text)| {
            Op::Type {
                device,
                record,
                at,
                text,
            }
        }),
        (0..DEVICES).prop_map(|device| Op::Sync { device }),
    ]
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let rt = runtime();
    let server = TestServer::start();
    let users = ["ana", "luis", "marta"];
    for u in users {
        server.add_user(u, "admin", &[], None);
    }
    let devices: Vec<TestDevice> = users
        .iter()
        .map(|u| {
            let d = TestDevice::new(&rt);
            d.login(&server.url, u);
            d
        })
        .collect();
    for op in ops {
        match *op {
            Op::Create { device, name } => {
                devices[device].create(
                    RecordKind::Account,
                    &[("name", &format!("Cuenta {name}")), ("territory", "t")],
                );
            }
            Op::Set {
                device,
                record,
                field,
                value,
            } => {
                let d = &devices[device];
                let ids = d.store(|s| s.record_ids());
                if !ids.is_empty() {
                    d.set(
                        &ids[record % ids.len()],
                        &[(FIELDS[field], &format!("v{value}"))],
                    );
                }
            }
            Op::Type {
                device,
                record,
                at,
                text,
            } => {
                let d = &devices[device];
                let ids = d.store(|s| s.record_ids());
                if !ids.is_empty() {
                    let id = &ids[record % ids.len()];
                    let len = d
                        .get(id)
                        .text("description")
                        .map(|t| t.chars().count())
                        .unwrap_or(0);
                    let ch = char::from(b'a' + text % 26).to_string();
                    d.store(|s| s.splice_text(id, "description", at.min(len), 0, &ch));
                }
            }
            Op::Sync { device } => {
                devices[device].sync();
            }
        }
    }
    // Final full sync: twice round, so everyone sees everyone's last push.
    for _ in 0..2 {
        for d in &devices {
            d.sync();
        }
    }
    let mut copies: BTreeMap<String, Vec<fieldwork_tests::replicas::DocState>> = BTreeMap::new();
    for d in &devices {
        prop_assert_eq!(d.store(|s| s.outbox_len()), 0);
        for (doc, state) in device_docs(d) {
            copies.entry(doc).or_default().push(state);
        }
    }
    let ids: Vec<String> = copies.keys().cloned().collect();
    let on_server = server_docs(&server, &ids);
    for (doc, states) in &copies {
        prop_assert_eq!(states.len(), DEVICES, "every device holds {}", doc);
        let reference = on_server
            .get(doc)
            .ok_or_else(|| TestCaseError::fail(format!("server lacks {doc}")))?;
        for s in states {
            prop_assert_eq!(&s.heads, &reference.heads);
            prop_assert_eq!(&s.content, &reference.content);
        }
    }
    let (total, distinct) = server_change_counts(&server);
    prop_assert_eq!(total, distinct);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge_after_a_final_sync(ops in prop::collection::vec(op(), 4..40)) {
        run(&ops)?;
    }
}
