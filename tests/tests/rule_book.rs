//! One rule book (`fieldwork_core::rules`) on every host: the same writes
//! made by the device's store and by the server's process host give the
//! same record (stage log, close and completion times), and the server
//! refuses a forged change that breaks a cross-field rule the device would
//! have refused.

use fieldwork_core::automerge::{ActorId, AutoCommit, ROOT, ReadDoc, transaction::Transactable};
use fieldwork_core::process::ProcessHost;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{FieldValue, FieldWrite, Record, RecordId, RecordKind};
use fieldwork_server::processes::with_host;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{doc_from, push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::replicas::server_change_counts;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
}

/// Writes `field = value` to `id` through the server's process host, as a
/// process step's `set` does.
fn server_write(server: &TestServer, id: &RecordId, field: &str, value: &str) {
    let state = &server.state;
    let (id, field, value) = (id.clone(), field.to_owned(), value.to_owned());
    state
        .db
        .write_blocking(|w| {
            with_host(
                w,
                Some(&state.hub),
                &state.actor,
                jiff::Timestamp::now(),
                "admin",
                |h| h.write(&id, &field, FieldValue::Text(value)),
            )
        })
        .unwrap_or_else(|e| panic!("server write {field}: {e}"));
}

/// What the rule book decides about a record: its stage or status, the
/// stages of its log, and whether it carries close / completion times.
#[derive(Debug, PartialEq)]
struct Shape {
    state: Option<String>,
    stages: Vec<String>,
    closed_at: bool,
    completed_at: bool,
}

fn shape(r: &Record) -> Shape {
    Shape {
        state: r.text("stage").or(r.text("status")).map(str::to_owned),
        stages: match r.get("stage_history") {
            Some(FieldValue::Stages(log)) => log.iter().map(|t| t.stage.clone()).collect(),
            _ => Vec::new(),
        },
        closed_at: r.get("closed_at").is_some(),
        completed_at: r.get("completed_at").is_some(),
    }
}

#[test]
fn the_same_writes_give_the_same_record_on_the_device_and_on_the_server() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let device = TestDevice::new(&rt);
    device.login(&server.url, "admin");
    let account = device.create(
        RecordKind::Account,
        &[("name", "Hermanos Szőke SL"), ("territory", "madrid")],
    );
    let deal = |name: &str| {
        device.create(
            RecordKind::Deal,
            &[("name", name), ("account", &account.to_string())],
        )
    };
    let (on_device, on_server) = (deal("Calderas (device)"), deal("Calderas (server)"));
    let activity = |subject: &str| {
        device.create(
            RecordKind::Activity,
            &[
                ("type", "call"),
                ("subject", subject),
                ("account", &account.to_string()),
            ],
        )
    };
    let (call_device, call_server) = (activity("Llamar (device)"), activity("Llamar (server)"));
    device.sync();

    // Each step once by the device's store and once by the server's host;
    // after each, both records must agree on everything the rules decide.
    let steps: &[(&str, &str)] = &[
        ("stage", "won"),
        ("stage", "won"), // the same stage again: no new log entry
        ("close_reason", "Precio"),
        ("stage", "lost"),
        ("stage", "negotiation"), // reopened
    ];
    for (field, value) in steps {
        device.set(&on_device, &[(field, value)]);
        server_write(&server, &on_server, field, value);
        device.sync();
        let (d, s) = (device.get(&on_device), device.get(&on_server));
        assert_eq!(shape(&d), shape(&s), "deal after {field} = {value}");
    }
    let last = shape(&device.get(&on_server));
    assert_eq!(
        last,
        Shape {
            state: Some("negotiation".into()),
            stages: vec![
                "qualification".into(),
                "won".into(),
                "lost".into(),
                "negotiation".into()
            ],
            closed_at: false,
            completed_at: false,
        },
        "won twice is one entry; reopened clears closed_at"
    );

    let mut seen_closed = false;
    for status in ["done", "done", "planned"] {
        device.set(&call_device, &[("status", status)]);
        server_write(&server, &call_server, "status", status);
        device.sync();
        let (d, s) = (device.get(&call_device), device.get(&call_server));
        assert_eq!(shape(&d), shape(&s), "activity after status = {status}");
        seen_closed |= shape(&s).completed_at;
    }
    assert!(seen_closed, "done set completed_at on the server too");
    assert!(
        !shape(&device.get(&call_server)).completed_at,
        "reopened clears completed_at on the server too"
    );

    // The server's host keeps the same rules as the device: a lost deal
    // needs a reason, system fields are not the engine's to set.
    let fresh = deal("Sin motivo");
    device.sync();
    let state = &server.state;
    let refused = state.db.write_blocking(|w| {
        with_host(
            w,
            Some(&state.hub),
            &state.actor,
            jiff::Timestamp::now(),
            "admin",
            |h| h.write(&fresh, "stage", FieldValue::Text("lost".into())),
        )
    });
    let e = refused.expect_err("lost without a reason");
    assert!(e.to_string().contains("close_reason"), "{e}");
    let refused = state.db.write_blocking(|w| {
        with_host(
            w,
            Some(&state.hub),
            &state.actor,
            jiff::Timestamp::now(),
            "admin",
            |h| {
                h.write(
                    &fresh,
                    "closed_at",
                    FieldValue::Text("2026-01-01T00:00:00Z".into()),
                )
            },
        )
    });
    assert!(refused.is_err(), "closed_at is a system field");
    device.sync();
    let f = device.get(&fresh);
    assert_eq!(f.text("stage"), Some("qualification"));
    assert!(f.get("closed_at").is_none());
}

#[test]
fn the_engines_directory_leaves_out_disabled_users() {
    let server = TestServer::start();
    org(&server);
    let state = &server.state;
    let names = || {
        state
            .db
            .write_blocking(|w| {
                with_host(
                    w,
                    None,
                    &state.actor,
                    jiff::Timestamp::now(),
                    "admin",
                    |h| h.directory(),
                )
            })
            .expect("directory")
            .into_iter()
            .map(|d| d.name)
            .collect::<Vec<_>>()
    };
    assert!(names().contains(&"ana".to_owned()));
    state
        .db
        .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", true))
        .expect("disable");
    let after = names();
    assert!(!after.contains(&"ana".to_owned()), "{after:?}");
    assert!(after.contains(&"marta".to_owned()), "{after:?}");
}

/// The one refusal of a push result: (code, field, rule).
fn refusal(message: Option<ServerMessage>) -> (String, Option<String>, String) {
    match message {
        Some(ServerMessage::PushResult(r)) => {
            assert!(r.accepted.is_empty(), "{r:?}");
            let first = r.refused.first().expect("a refusal");
            (first.code.clone(), first.field.clone(), first.rule.clone())
        }
        other => panic!("expected a push result, got {other:?}"),
    }
}

#[test]
fn a_forged_amount_without_a_currency_is_refused_and_not_stored() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Hermanos Szőke SL"), ("territory", "madrid")],
    );
    let deal = manager.create(
        RecordKind::Deal,
        &[("name", "Calderas"), ("account", &account.to_string())],
    );
    // The device refuses it up front.
    let on_device = manager
        .device
        .update(&deal, vec![FieldWrite::set("amount", 5_000i64)]);
    assert!(on_device.is_err(), "the device refuses an amount alone");
    manager.sync();
    let before = server_change_counts(&server).0;
    let general_id = format!("{deal}/general");

    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        let welcome = c.hello("forger").await;
        let mut general = doc_from(&welcome, &general_id);
        assert!(
            general.get(ROOT, "name").expect("get").is_some(),
            "the rep received the deal"
        );
        let ana = ActorId::random();

        // (a) An existing deal given an amount and no currency.
        let mut forged = general.fork().with_actor(ana.clone());
        forged.put(ROOT, "amount", 5_000i64).expect("put");
        c.send(&push_one(&general_id, signed(&mut forged, "ana")))
            .await;
        assert_eq!(
            refusal(c.recv().await),
            (
                "invalid_value".into(),
                Some("currency".into()),
                "rules.deal.currency_with_amount".into()
            )
        );

        // (b) A new deal created with an amount and no currency.
        let new_deal = RecordId::new_random(RecordKind::Deal);
        let mut created = AutoCommit::new().with_actor(ana.clone());
        created.put(ROOT, "name", "Forjada").expect("put");
        created
            .put(ROOT, "account", account.to_string())
            .expect("put");
        created.put(ROOT, "stage", "proposal").expect("put");
        created.put(ROOT, "owner", "ana").expect("put");
        created.put(ROOT, "amount", 9_000i64).expect("put");
        c.send(&push_one(
            &format!("{new_deal}/general"),
            signed(&mut created, "ana"),
        ))
        .await;
        assert_eq!(
            refusal(c.recv().await),
            (
                "invalid_value".into(),
                Some("currency".into()),
                "rules.deal.currency_with_amount".into()
            )
        );

        // (c) A new deal created without a required field.
        let nameless = RecordId::new_random(RecordKind::Deal);
        let mut bare = AutoCommit::new().with_actor(ana.clone());
        bare.put(ROOT, "account", account.to_string()).expect("put");
        bare.put(ROOT, "stage", "proposal").expect("put");
        bare.put(ROOT, "owner", "ana").expect("put");
        c.send(&push_one(
            &format!("{nameless}/general"),
            signed(&mut bare, "ana"),
        ))
        .await;
        assert_eq!(
            refusal(c.recv().await),
            (
                "invalid_value".into(),
                Some("name".into()),
                "rules.required".into()
            )
        );

        // The honest version (amount with its currency) is accepted.
        let mut honest = general.fork().with_actor(ana.clone());
        honest.put(ROOT, "amount", 5_000i64).expect("put");
        honest.put(ROOT, "currency", "EUR").expect("put");
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
    let d = manager.get(&deal);
    assert_eq!(d.get("amount"), Some(&FieldValue::Int(5_000)));
    assert_eq!(d.text("currency"), Some("EUR"));
    let audit = server
        .state
        .db
        .read_blocking(|c| fieldwork_server::db::audit::recent(c, 100))
        .expect("audit");
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.rule.as_deref() == Some("rules.deal.currency_with_amount"))
            .count(),
        2,
        "both refusals are audited"
    );
}
