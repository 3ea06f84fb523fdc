//! Regression tests for applying whole documents from the server.

use std::sync::Arc;

use super::*;
use crate::clock::FixedClock;
use crate::{FieldWrite, RecordKind};

fn open(dir: &std::path::Path, name: &str) -> Store {
    let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
    Store::open(&dir.join(name), clock).expect("open")
}

fn whole(from: &mut Store, doc: &DocId) -> RemoteDoc {
    let bytes = from.export_doc(doc).expect("export").expect("stored");
    RemoteDoc {
        doc: doc.clone(),
        payload: RemotePayload::Document(bytes),
    }
}

fn cursor(seq: u64) -> Cursor {
    Cursor {
        epoch: "e".into(),
        seq,
        check: "c".into(),
    }
}

/// A "server" store with one account "Acme" and a device store that
/// received its one document whole (a first download whose cursor did not
/// move on yet).
fn one_account_downloaded(dir: &std::path::Path) -> (Store, Store, RecordId, DocId) {
    let mut server = open(dir, "server.db");
    let mut device = open(dir, "device.db");
    let id = server
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Acme")])
        .expect("create");
    let doc = server.doc_ids().expect("ids").remove(0);
    device
        .apply_remote(vec![whole(&mut server, &doc)], None)
        .expect("first copy");
    (server, device, id, doc)
}

/// Seen in the sync network (seeds 37 and 47): a fresh download cut short
/// before its cursor advanced, then the same document whole again with
/// several more changes. The second copy was merged but only its heads were
/// stored, so the document no longer loaded and refused every write.
#[test]
fn a_whole_document_received_twice_keeps_its_full_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The first download; the connection drops before the cursor moves on.
    let (mut server, mut device, id, doc) = one_account_downloaded(dir.path());
    // Two more changes on the server, then the whole document again.
    server
        .update(&id, vec![FieldWrite::set("territory", "south")])
        .expect("update");
    server
        .update(&id, vec![FieldWrite::set("industry", "Retail")])
        .expect("update");
    let before = server.doc_heads(&doc).expect("heads");
    device
        .apply_remote(vec![whole(&mut server, &doc)], Some(&cursor(1)))
        .expect("second copy");

    // Then one more change, sent as a change.
    server
        .update(&id, vec![FieldWrite::set("description", "Mayorista")])
        .expect("update");
    let change = server
        .inspect_doc(&doc, |d| {
            Ok(d.automerge()
                .get_changes(&before)
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect::<Vec<_>>())
        })
        .expect("inspect")
        .expect("stored");
    assert_eq!(change.len(), 1);
    let batch = RemoteDoc {
        doc: doc.clone(),
        payload: RemotePayload::Changes(change),
    };
    device
        .apply_remote(vec![batch], Some(&cursor(2)))
        .expect("the change applies");

    // From disk, not the cache: the stored copy is whole and writable.
    drop(device);
    let mut device = open(dir.path(), "device.db");
    assert_eq!(
        device.doc_heads(&doc).expect("loads"),
        server.doc_heads(&doc).expect("heads")
    );
    let record = device.get(&id).expect("record");
    assert_eq!(record.text("territory"), Some("south"));
    assert_eq!(record.text("industry"), Some("Retail"));
    assert_eq!(record.text("description"), Some("Mayorista"));
    device
        .update(&id, vec![FieldWrite::set("website", "https://acme.es")])
        .expect("a write on it succeeds");
    drop(device);
    let mut device = open(dir.path(), "device.db");
    assert_eq!(
        device.get(&id).expect("record").text("website"),
        Some("https://acme.es")
    );
}

/// Seen in the sync network (seed 16, 600 steps): in compare mode the
/// server sent a change without the change it depends on (its Bloom filter
/// took the device for holding that one). Automerge keeps such a change
/// queued and asks for the dependency; the store dropped the queue with the
/// uncached document, asked for the change itself instead, and the server
/// (which never sends a change twice in one exchange) ended the exchange
/// with the device behind.
#[test]
fn a_change_received_before_its_dependency_waits_for_it_in_compare_mode() {
    use automerge::sync::State;

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, mut device, id, doc) = one_account_downloaded(dir.path());
    server
        .update(&id, vec![FieldWrite::set("industry", "Retail")])
        .expect("update");
    let first = server.doc_heads(&doc).expect("heads")[0];
    server
        .update(&id, vec![FieldWrite::set("territory", "south")])
        .expect("update");

    let (mut on_server, mut on_device) = (State::new(), State::new());
    let mut withheld = false;
    for _ in 0..10 {
        let up = device
            .generate_sync_message(&doc, &mut on_device)
            .expect("gen");
        if let Some(m) = up {
            server
                .receive_sync_message(&doc, &mut on_server, m)
                .expect("server receives");
        }
        // The first message with changes leaves out `first`, as a false
        // positive of the device's Bloom filter would.
        if !withheld {
            on_server.sent_hashes.insert(first);
        }
        let down = server
            .generate_sync_message(&doc, &mut on_server)
            .expect("gen");
        if !withheld && down.as_ref().is_some_and(|m| !m.changes.is_empty()) {
            on_server.sent_hashes.remove(&first);
            withheld = true;
        }
        match down {
            Some(m) => {
                device
                    .receive_sync_message(&doc, &mut on_device, m)
                    .expect("device receives");
            }
            None => break,
        }
    }
    assert!(withheld, "the exchange never sent changes");
    let expected = server.doc_heads(&doc).expect("heads");
    assert_eq!(device.doc_heads(&doc).expect("heads"), expected);
    drop(device);
    let mut device = open(dir.path(), "device.db");
    assert_eq!(device.doc_heads(&doc).expect("loads"), expected);
    assert_eq!(
        device.get(&id).expect("record").text("industry"),
        Some("Retail")
    );
}

/// What waits for a dependency in compare mode is bounded: a peer that
/// sends more is refused, and the stored document is untouched.
#[test]
fn changes_waiting_for_dependencies_are_bounded() {
    use automerge::sync::State;

    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, mut device, _id, doc) = one_account_downloaded(dir.path());
    let heads = device.doc_heads(&doc).expect("heads");
    let mut message = server
        .generate_sync_message(&doc, &mut State::new())
        .expect("generate")
        .expect("a message");
    message.changes = vec![vec![0u8; MAX_WAITING_BYTES + 1]].into();
    let refused = device.receive_sync_message(&doc, &mut State::new(), message);
    // Refused by the bound (junk alone would fail later, in Automerge).
    assert!(
        matches!(&refused, Err(CoreError::Protocol(m)) if m.contains("wait for changes")),
        "{refused:?}"
    );
    assert_eq!(device.doc_heads(&doc).expect("heads"), heads);
}

/// All changes of a stored document after `since`, raw.
fn changes_after(from: &mut Store, doc: &DocId, since: &[ChangeHash]) -> Vec<Vec<u8>> {
    from.inspect_doc(doc, |d| {
        Ok(d.automerge()
            .get_changes(since)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect())
    })
    .expect("inspect")
    .expect("stored")
}

/// A first download stores each document as it came (the saved bytes as
/// its snapshot, the changes after them as one chunk: nothing saved again),
/// and indexes each record from the documents in hand: an activity that
/// arrives before its account in the batch ends with the account's
/// territory. After a reopen (no cache) everything loads, lists, searches
/// and takes a write.
#[test]
fn a_first_download_is_stored_as_received_and_indexed_from_the_documents_in_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = open(dir.path(), "server.db");
    let account = server
        .create(
            RecordKind::Account,
            vec![
                FieldWrite::set("name", "Ferretería Núñez"),
                FieldWrite::set("territory", "north"),
            ],
        )
        .expect("account");
    // Every class document of the account: saved now, changed after.
    let mut saved = Vec::new();
    for doc in &server.doc_ids().expect("ids") {
        let snapshot = server.export_doc(doc).expect("export").expect("stored");
        saved.push((doc.clone(), snapshot, server.doc_heads(doc).expect("heads")));
    }
    server
        .update(&account, vec![FieldWrite::set("city", "Zaragoza")])
        .expect("update");
    let activity = server
        .create(
            RecordKind::Activity,
            vec![
                FieldWrite::set("type", "call"),
                FieldWrite::set("subject", "Pedido de tornillos"),
                FieldWrite::set("account", account.to_string()),
            ],
        )
        .expect("activity");
    let activity_doc = server
        .doc_ids()
        .expect("ids")
        .into_iter()
        .find(|d| d.record() == &activity)
        .expect("activity doc");
    let activity_changes = changes_after(&mut server, &activity_doc, &[]);

    let mut device = open(dir.path(), "device.db");
    let mut batch = vec![RemoteDoc {
        doc: activity_doc.clone(),
        payload: RemotePayload::Changes(activity_changes),
    }];
    // `city` lives in another class document, created by the update: it
    // comes as changes only.
    let account_docs: Vec<DocId> = server
        .doc_ids()
        .expect("ids")
        .into_iter()
        .filter(|d| d.record() == &account)
        .collect();
    assert!(account_docs.len() > saved.len(), "{account_docs:?}");
    for doc in account_docs
        .iter()
        .filter(|d| saved.iter().all(|(s, _, _)| s != *d))
    {
        batch.push(RemoteDoc {
            doc: doc.clone(),
            payload: RemotePayload::Changes(changes_after(&mut server, doc, &[])),
        });
    }
    for (doc, snapshot, heads) in &saved {
        batch.push(RemoteDoc {
            doc: doc.clone(),
            payload: RemotePayload::Document(snapshot.clone()),
        });
        let later = changes_after(&mut server, doc, heads);
        if !later.is_empty() {
            batch.push(RemoteDoc {
                doc: doc.clone(),
                payload: RemotePayload::Changes(later),
            });
        }
    }
    let changed = device
        .apply_remote(batch, Some(&cursor(1)))
        .expect("applies");
    assert_eq!(changed.len(), 2);
    for (doc, snapshot, _) in &saved {
        let stored: Vec<u8> = device
            .conn
            .query_row(
                "SELECT snapshot FROM documents WHERE doc_id = ?1",
                [doc.to_string()],
                |r| r.get(0),
            )
            .expect("row");
        assert_eq!(&stored, snapshot, "the snapshot is the bytes received");
    }

    drop(device);
    let mut device = open(dir.path(), "device.db");
    for doc in &account_docs {
        assert_eq!(
            device.doc_heads(doc).expect("loads"),
            server.doc_heads(doc).expect("heads")
        );
    }
    assert_eq!(
        device.get(&account).expect("account").text("city"),
        Some("Zaragoza")
    );
    let activities = device
        .list(&crate::ListQuery {
            kind: Some(RecordKind::Activity),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0].territory.as_deref(), Some("north"));
    let hits = device.search("nunez", None, 10).expect("search");
    assert_eq!(hits.first().map(|h| &h.id), Some(&account));
    device
        .update(&account, vec![FieldWrite::set("stage", "customer")])
        .expect("a write on it succeeds");
    assert_eq!(device.cursor().expect("cursor"), Some(cursor(1)));
}

/// A malformed change anywhere in a batch refuses the whole batch: no
/// document, index row or cursor of it is stored.
#[test]
fn a_malformed_change_refuses_the_whole_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = open(dir.path(), "server.db");
    let good = server
        .create(RecordKind::Account, vec![FieldWrite::set("name", "Acme")])
        .expect("create");
    let doc = server.doc_ids().expect("ids").remove(0);
    let bad_doc: DocId = format!("{}/base", RecordId::new_random(RecordKind::Account))
        .parse()
        .expect("doc id");
    let mut device = open(dir.path(), "device.db");
    let batch = vec![
        whole(&mut server, &doc),
        RemoteDoc {
            doc: bad_doc,
            payload: RemotePayload::Changes(vec![b"not an automerge change".to_vec()]),
        },
    ];
    let err = device
        .apply_remote(batch, Some(&cursor(1)))
        .expect_err("refused");
    assert!(matches!(err, CoreError::Protocol(_)), "{err:?}");
    assert!(device.doc_ids().expect("ids").is_empty());
    assert_eq!(device.count(RecordKind::Account).expect("count"), 0);
    assert!(device.get(&good).is_err());
    assert_eq!(device.cursor().expect("cursor"), None);
}

/// A batch large enough to be loaded on several threads applies whole,
/// and one malformed document among its new ones still refuses all of it.
#[test]
fn a_large_first_batch_loads_in_parallel_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = open(dir.path(), "server.db");
    let rows = (0..150)
        .map(|i| vec![FieldWrite::set("name", format!("Cliente {i}"))])
        .collect();
    server.import(RecordKind::Account, rows).expect("import");
    let ids = server.doc_ids().expect("ids");
    let batch: Vec<RemoteDoc> = ids.iter().map(|d| whole(&mut server, d)).collect();
    assert!(batch.len() >= 2 * super::batch::PARALLEL_FROM);

    let mut spoiled = batch.clone();
    if let Some(RemoteDoc {
        payload: RemotePayload::Document(bytes),
        ..
    }) = spoiled.last_mut()
    {
        bytes.truncate(bytes.len() / 2);
    }
    let mut refused = open(dir.path(), "refused.db");
    let err = refused
        .apply_remote(spoiled, Some(&cursor(1)))
        .expect_err("a truncated document");
    assert!(matches!(err, CoreError::Protocol(_)), "{err:?}");
    assert_eq!(refused.count(RecordKind::Account).expect("count"), 0);
    assert!(refused.doc_ids().expect("ids").is_empty());

    let mut device = open(dir.path(), "device.db");
    device
        .apply_remote(batch, Some(&cursor(1)))
        .expect("applies");
    assert_eq!(device.count(RecordKind::Account).expect("count"), 150);
    let hits = device.search("cliente 149", None, 5).expect("search");
    assert_eq!(hits.first().map(|h| h.title.as_str()), Some("Cliente 149"));
}
