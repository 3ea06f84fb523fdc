//! The privacy policy end to end: what a rep may not read never reaches the
//! rep's device; what a rep may not write is refused with a reason, and
//! nothing they typed is lost; records that leave the rep's sight leave the
//! rep's device; fields that move class take their history with them.

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use fieldwork_core::sync::protocol::{ClientMessage, Push, PushedChange, ServerMessage};
use fieldwork_core::{FieldValue, FieldWrite, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{doc_from, push_one, signed};
use fieldwork_tests::frames::{occurrences, server_messages};
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::replicas::server_change_counts;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_bytes::ByteBuf;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

#[test]
fn a_field_the_rep_may_not_read_never_reaches_the_reps_device_or_wire() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let proxy = Proxy::start(&server.url);
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    rep.set_server(&proxy.url);
    let secret = format!("TAXID-{}-SECRET", std::process::id());
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Hermanos Szőke SL"), ("territory", "madrid")],
    );
    manager.set(
        &account,
        &[("tax_id", &secret), ("phone", "+34 911 000 000")],
    );
    manager
        .device
        .update(
            &account,
            vec![
                FieldWrite::set("credit_currency", "EUR"),
                FieldWrite::set("credit_limit", 9_876_543i64),
            ],
        )
        .expect("manager writes the credit limit");
    manager.sync();
    rep.sync();
    rep.set(&account, &[("industry", "Textil")]);
    rep.sync();
    manager.sync();

    // The rep sees the permitted fields...
    let seen = rep.get(&account);
    assert_eq!(seen.text("name"), Some("Hermanos Szőke SL"));
    assert_eq!(seen.text("phone"), Some("+34 911 000 000"));
    assert!(seen.get("tax_id").is_none() && seen.get("credit_limit").is_none());
    // ...and no byte of the restricted ones, anywhere.
    let frames = server_messages(&proxy.downstream());
    assert!(!frames.is_empty(), "frames were captured");
    let in_frames: usize = frames
        .iter()
        .map(|f| occurrences(f, secret.as_bytes()))
        .sum();
    assert_eq!(in_frames, 0, "the secret travelled to the rep");
    assert_eq!(
        rep.readable_occurrences(secret.as_bytes()),
        0,
        "the secret is in the rep's files"
    );
    assert!(
        frames
            .iter()
            .any(|f| occurrences(f, "Hermanos".as_bytes()) > 0),
        "the scan sees permitted data"
    );
    // Positive control: the same scan finds it on the manager's device.
    assert!(manager.readable_occurrences(secret.as_bytes()) > 0);
    assert_eq!(manager.get(&account).text("industry"), Some("Textil"));
}

fn refusal_code(message: Option<ServerMessage>) -> (String, Option<String>) {
    match message {
        Some(ServerMessage::PushResult(r)) => {
            assert!(r.accepted.is_empty(), "{r:?}");
            let first = r.refused.first().expect("a refusal");
            (first.code.clone(), first.field.clone())
        }
        other => panic!("expected a push result, got {other:?}"),
    }
}

#[test]
fn a_forging_client_is_refused_change_by_change_and_everyone_else_is_served() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| c.max_push_changes = 100);
    org(&server);
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let mine = manager.create(
        RecordKind::Account,
        &[("name", "En Madrid"), ("territory", "madrid")],
    );
    let theirs = manager.create(
        RecordKind::Account,
        &[("name", "En Sevilla"), ("territory", "sevilla")],
    );
    manager
        .device
        .update(
            &mine,
            vec![
                FieldWrite::set("credit_currency", "EUR"),
                FieldWrite::set("credit_limit", 100i64),
            ],
        )
        .expect("credit");
    manager.sync();
    let before = server_change_counts(&server).0;

    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        let welcome = c.hello("forger").await;
        // Rebuild the rep's copy of the Madrid account from what arrived.
        let general_id = format!("{mine}/general");
        let mut general = doc_from(&welcome, &general_id);
        assert!(
            general.get(ROOT, "name").expect("get").is_some(),
            "the rep received her account"
        );
        let marta_actor = general.get_changes(&[])[0].actor_id().clone();
        let ana_actor = ActorId::random();

        // (a) A field the rep may not write.
        let mut fin = AutoCommit::new().with_actor(ana_actor.clone());
        fin.put(ROOT, "credit_limit", 1_000_000_000i64)
            .expect("put");
        c.send(&push_one(
            &format!("{mine}/financial"),
            signed(&mut fin, "ana"),
        ))
        .await;
        assert_eq!(
            refusal_code(c.recv().await),
            ("class_not_writable".into(), Some("credit_limit".into()))
        );
        // (b) Another territory's record.
        let mut other = AutoCommit::new().with_actor(ana_actor.clone());
        other.put(ROOT, "name", "Robada").expect("put");
        c.send(&push_one(
            &format!("{theirs}/general"),
            signed(&mut other, "ana"),
        ))
        .await;
        assert_eq!(refusal_code(c.recv().await).0, "record_not_visible");
        // (c) A value of the wrong type.
        let mut typed = general.fork().with_actor(ana_actor.clone());
        typed.put(ROOT, "stage", 42i64).expect("put");
        c.send(&push_one(&general_id, signed(&mut typed, "ana")))
            .await;
        assert_eq!(
            refusal_code(c.recv().await),
            ("invalid_value".into(), Some("stage".into()))
        );
        // (d) Another user's actor.
        let mut stolen = general.fork().with_actor(marta_actor);
        stolen.put(ROOT, "industry", "Suplantada").expect("put");
        c.send(&push_one(&general_id, signed(&mut stolen, "ana")))
            .await;
        assert_eq!(refusal_code(c.recv().await).0, "actor_not_yours");
        // (e) Bytes that are not an Automerge change.
        c.send(&push_one(
            &general_id,
            b"\x85\x6f\x4a\x83not a change at all".to_vec(),
        ))
        .await;
        assert_eq!(refusal_code(c.recv().await).0, "malformed_change");
        // (f) An oversized batch.
        let many: Vec<PushedChange> = (0..101)
            .map(|i| {
                let mut d = AutoCommit::new().with_actor(ana_actor.clone());
                d.put(ROOT, "name", format!("x{i}")).expect("put");
                PushedChange {
                    doc: format!("account:X{i}/general"),
                    bytes: ByteBuf::from(signed(&mut d, "ana")),
                }
            })
            .collect();
        c.send(&ClientMessage::Push(Push {
            batch: 2,
            changes: many,
        }))
        .await;
        assert_eq!(refusal_code(c.recv().await).0, "batch_too_large");
        // The same connection still works for honest changes.
        let mut honest = general.fork().with_actor(ana_actor.clone());
        honest.put(ROOT, "industry", "Honesta").expect("put");
        c.send(&push_one(&general_id, signed(&mut honest, "ana")))
            .await;
        match c.recv().await {
            Some(ServerMessage::PushResult(r)) => {
                assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{r:?}")
            }
            other => panic!("{other:?}"),
        }
    });

    // Nothing refused was stored or relayed; the honest change was.
    assert_eq!(server_change_counts(&server).0, before + 1);
    manager.sync();
    let m = manager.get(&mine);
    assert_eq!(m.text("industry"), Some("Honesta"));
    assert_eq!(m.get("credit_limit"), Some(&FieldValue::Int(100)));
    assert_eq!(manager.get(&theirs).text("name"), Some("En Sevilla"));
    // Every refusal is in the audit log.
    let audit = server
        .state
        .db
        .read_blocking(|c| fieldwork_server::db::audit::recent(c, 500))
        .expect("audit");
    for code in [
        "class_not_writable",
        "record_not_visible",
        "invalid_value",
        "actor_not_yours",
        "malformed_change",
    ] {
        assert!(
            audit.iter().any(|a| a.code == code && a.user == "ana"),
            "{code} audited"
        );
    }
}

/// The shipped policy with `email` and `phone` of accounts moved into a new
/// class that reps may read but not write.
fn tightened_policy() -> String {
    fieldwork_core::policy::DEFAULT_POLICY_TOML
        .replace(
            "[classes.financial]",
            "[classes.verified_contact]\ndescription = \"Contact data the back office verifies.\"\n\n[classes.financial]",
        )
        .replace(
            "contact_details = [\"email\", \"phone\", \"street\"",
            "verified_contact = [\"email\", \"phone\"]\ncontact_details = [\"street\"",
        )
        .replace(
            "read = [\"general\", \"contact_details\"]\nwrite = [\"general\", \"contact_details\"]",
            "read = [\"general\", \"contact_details\", \"verified_contact\"]\nwrite = [\"general\", \"contact_details\"]",
        )
        .replace(
            "read = [\"general\", \"contact_details\", \"financial\", \"sensitive\"]\nwrite = [\"general\", \"contact_details\", \"financial\", \"sensitive\"]",
            "read = [\"general\", \"contact_details\", \"verified_contact\", \"financial\", \"sensitive\"]\nwrite = [\"general\", \"contact_details\", \"verified_contact\", \"financial\", \"sensitive\"]",
        )
}

#[test]
fn edits_refused_after_an_offline_policy_change_are_quarantined_and_the_rest_land() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    let original_email = "original-verificado@cliente.es";
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Cliente SA"), ("territory", "madrid")],
    );
    manager.set(
        &account,
        &[("email", original_email), ("phone", "+34 600 000 000")],
    );
    manager.sync();
    rep.sync();

    // Offline, the rep edits ten fields...
    let edits = [
        ("name", "Cliente Renovado SA"),
        ("industry", "Alimentación"),
        ("website", "https://cliente.example.es"),
        ("email", "nuevo@cliente.es"),
        ("phone", "+34 699 999 999"),
        ("street", "Calle Mayor 1"),
        ("city", "Madrid"),
        ("postal_code", "28013"),
        ("region", "Madrid"),
        ("country", "ES"),
    ];
    for (field, value) in edits {
        rep.set(&account, &[(field, value)]);
    }
    // ...meanwhile the admin makes two of them read-only for reps...
    server.set_policy(&tightened_policy()).expect("policy");
    // ...and the rep keeps working on the same document.
    rep.set(&account, &[("city", "Getafe"), ("street", "Calle Mayor 2")]);
    rep.sync();
    rep.sync();
    manager.sync();

    let quarantine = rep.store(|s| s.quarantine());
    let mut fields: Vec<&str> = quarantine.iter().map(|q| q.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "phone"], "{quarantine:?}");
    for q in &quarantine {
        let typed = edits
            .iter()
            .find(|(f, _)| *f == q.field)
            .map(|(_, v)| *v)
            .expect("typed");
        assert_eq!(
            q.value,
            serde_json::json!(typed),
            "the value the rep typed is kept"
        );
        assert_eq!(q.code, "class_not_writable");
        assert_eq!(q.rule, "roles.rep.write");
        assert!(q.message.contains("verified_contact"), "{}", q.message);
    }
    for d in [&rep, &manager] {
        let r = d.get(&account);
        for (field, value) in [
            ("name", "Cliente Renovado SA"),
            ("industry", "Alimentación"),
            ("website", "https://cliente.example.es"),
            ("postal_code", "28013"),
            ("region", "Madrid"),
            ("country", "ES"),
            ("city", "Getafe"),
            ("street", "Calle Mayor 2"),
        ] {
            assert_eq!(r.text(field), Some(value), "{field}");
        }
        assert_eq!(
            r.text("email"),
            Some(original_email),
            "the refused edit did not land"
        );
        assert_eq!(r.text("phone"), Some("+34 600 000 000"));
    }
    assert_eq!(rep.store(|s| s.outbox_len()), 0);
    // The old class's history no longer holds the moved value anywhere: not
    // on the server, not on the rep's device.
    let contact_doc = format!("{account}/contact_details");
    let stored = server
        .state
        .db
        .read_blocking(move |c| fieldwork_server::db::documents::whole(c, &contact_doc))
        .expect("read")
        .expect("stored");
    let mut bytes = stored.0.unwrap_or_default();
    for ch in stored.1 {
        bytes.extend(ch);
    }
    assert_eq!(
        occurrences(&bytes, original_email.as_bytes()),
        0,
        "purged from the old class's history"
    );
    let rep_doc: fieldwork_core::DocId = format!("{account}/contact_details").parse().expect("id");
    let rep_copy = rep.store(|s| s.export_doc(&rep_doc)).expect("held");
    assert_eq!(occurrences(&rep_copy, original_email.as_bytes()), 0);
}

#[test]
fn a_record_that_leaves_the_reps_territory_leaves_no_trace_on_the_device() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    let marker = "Zyxquorp";
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Zyxquorp Industrias"), ("territory", "madrid")],
    );
    let acc = account.to_string();
    let contact = manager.create(
        RecordKind::Contact,
        &[("last_name", "Zyxquorp-Pérez"), ("account", &acc)],
    );
    let deal = manager.create(
        RecordKind::Deal,
        &[("name", "Zyxquorp flota"), ("account", &acc)],
    );
    let note = manager.create(
        RecordKind::Note,
        &[
            ("title", "Zyxquorp visita"),
            ("body", "Zyxquorp quiere más"),
            ("account", &acc),
        ],
    );
    manager.sync();
    rep.sync();
    for id in [&account, &contact, &deal, &note] {
        assert!(rep.try_get(id).is_some(), "{id} visible in Madrid");
    }
    assert!(
        rep.readable_occurrences(marker.as_bytes()) > 0,
        "positive control"
    );

    manager.set(&account, &[("territory", "sevilla")]);
    manager.sync();
    rep.sync();
    for id in [&account, &contact, &deal, &note] {
        assert!(rep.try_get(id).is_none(), "{id} revoked");
    }
    assert!(rep.store(|s| s.search("zyxquorp", None, 10)).is_empty());
    assert_eq!(
        rep.readable_occurrences(marker.as_bytes()),
        0,
        "no readable trace remains"
    );

    // Back in Madrid: it comes back with the next sync.
    manager.set(&account, &[("territory", "madrid")]);
    manager.sync();
    rep.sync();
    assert_eq!(rep.get(&note).text("body"), Some("Zyxquorp quiere más"));
}

#[test]
fn a_write_right_withdrawn_while_offline_quarantines_only_what_it_covers() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Ferretería Sol"), ("territory", "madrid")],
    );
    manager.sync();
    rep.sync();
    // Offline: one edit in a class that stays writable, two in one that won't.
    rep.set(&account, &[("industry", "Ferretería")]);
    rep.set(&account, &[("city", "Alcalá")]);
    rep.set(
        &account,
        &[("street", "Calle Real 3"), ("industry", "Bricolaje")],
    );
    let narrowed = fieldwork_core::policy::DEFAULT_POLICY_TOML.replacen(
        "write = [\"general\", \"contact_details\"]",
        "write = [\"general\"]",
        1,
    );
    server.set_policy(&narrowed).expect("policy");
    rep.sync();
    manager.sync();
    let mut fields: Vec<String> = rep
        .store(|s| s.quarantine())
        .into_iter()
        .map(|q| q.field)
        .collect();
    fields.sort();
    assert_eq!(fields, ["city", "street"]);
    let r = manager.get(&account);
    assert_eq!(
        r.text("industry"),
        Some("Bricolaje"),
        "permitted edits made after the refused ones land"
    );
    assert!(r.get("city").is_none() && r.get("street").is_none());
    assert!(
        rep.get(&account).get("city").is_none(),
        "the rep's document is back on the confirmed state"
    );
    assert_eq!(rep.store(|s| s.outbox_len()), 0);
}
