//! Devices edit offline and sync in every order: all replicas converge, and
//! every edit survives as Automerge promises.

use std::collections::BTreeMap;

use fieldwork_core::{FieldValue, RecordId, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::replicas::{device_docs, server_change_counts, server_docs};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

const NOTE: &str = "Quiere un presupuesto.";

struct World {
    server: TestServer,
    devices: Vec<TestDevice>,
    account: RecordId,
    note: RecordId,
}

/// A server, a manager (device 2) and two reps of Madrid (devices 0 and 1),
/// all holding the same account and note.
fn world(rt: &std::sync::Arc<tokio::runtime::Runtime>) -> World {
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("luis", "rep", &["madrid"], Some("marta"));
    let devices: Vec<TestDevice> = ["ana", "luis", "marta"]
        .iter()
        .map(|user| {
            let d = TestDevice::new(rt);
            d.login(&server.url, user);
            d
        })
        .collect();
    let marta = &devices[2];
    let account = marta.create(
        RecordKind::Account,
        &[("name", "Acme Ibérica"), ("territory", "madrid")],
    );
    let note = marta.create(
        RecordKind::Note,
        &[
            ("title", "Visita"),
            ("body", NOTE),
            ("account", &account.to_string()),
        ],
    );
    marta.sync();
    for d in &devices {
        d.sync();
    }
    for d in &devices {
        assert_eq!(d.get(&note).text("body"), Some(NOTE));
    }
    World {
        server,
        devices,
        account,
        note,
    }
}

/// Offline edits: different fields, the same field, the same note text.
fn offline_edits(w: &World) {
    let (ana, luis, marta) = (&w.devices[0], &w.devices[1], &w.devices[2]);
    ana.set(
        &w.account,
        &[("industry", "Retail"), ("phone", "+34 600 000 001")],
    );
    luis.set(
        &w.account,
        &[("city", "Sevilla"), ("website", "https://luis.example.es")],
    );
    marta.set(
        &w.account,
        &[
            ("website", "https://marta.example.es"),
            ("credit_currency", "EUR"),
        ],
    );
    marta
        .device
        .update(
            &w.account,
            vec![fieldwork_core::FieldWrite::set(
                "credit_limit",
                5_000_000i64,
            )],
        )
        .expect("manager sets a credit limit");
    ana.store(|s| s.splice_text(&w.note, "body", 0, 0, "Lunes: "));
    let len = NOTE.chars().count();
    luis.store(|s| s.splice_text(&w.note, "body", len, 0, " Llamar el viernes."));
    marta.store(|s| s.splice_text(&w.note, "body", 10, 0, "formal "));
}

fn assert_converged(w: &World) {
    let mut all: BTreeMap<String, Vec<(usize, fieldwork_tests::replicas::DocState)>> =
        BTreeMap::new();
    for (i, d) in w.devices.iter().enumerate() {
        for (doc, state) in device_docs(d) {
            all.entry(doc).or_default().push((i, state));
        }
    }
    let ids: Vec<String> = all.keys().cloned().collect();
    let server = server_docs(&w.server, &ids);
    for (doc, copies) in &all {
        let reference = server
            .get(doc)
            .unwrap_or_else(|| panic!("the server lacks {doc}"));
        for (i, state) in copies {
            assert_eq!(state.heads, reference.heads, "device {i} heads of {doc}");
            assert_eq!(
                state.content, reference.content,
                "device {i} content of {doc}"
            );
        }
    }
    // Every edit survived.
    for d in &w.devices {
        let acc = d.get(&w.account);
        assert_eq!(acc.text("industry"), Some("Retail"));
        assert_eq!(acc.text("phone"), Some("+34 600 000 001"));
        assert_eq!(acc.text("city"), Some("Sevilla"));
        let websites = acc
            .conflicts
            .get("website")
            .expect("both websites kept as a conflict");
        assert_eq!(websites.len(), 2);
        assert!(websites.contains(&FieldValue::Text("https://luis.example.es".into())));
        assert!(websites.contains(&FieldValue::Text("https://marta.example.es".into())));
        assert_eq!(
            d.get(&w.note).text("body"),
            Some("Lunes: Quiere un formal presupuesto. Llamar el viernes.")
        );
    }
    // The manager has the credit limit; the reps never received it.
    assert_eq!(
        w.devices[2].get(&w.account).get("credit_limit"),
        Some(&FieldValue::Int(5_000_000))
    );
    for rep in &w.devices[..2] {
        assert!(rep.get(&w.account).get("credit_limit").is_none());
    }
    let (total, distinct) = server_change_counts(&w.server);
    assert_eq!(total, distinct, "no change stored twice");
}

#[test]
fn three_devices_editing_offline_converge_in_every_sync_order() {
    let rt = runtime();
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let w = world(&rt);
        offline_edits(&w);
        for round in 0..2 {
            for &i in &order {
                let report = w.devices[i].sync();
                if round == 1 {
                    assert_eq!(report.pushed, 0, "everything was pushed in round one");
                }
            }
        }
        assert_converged(&w);
        for d in &w.devices {
            assert_eq!(d.store(|s| s.outbox_len()), 0);
        }
    }
}
