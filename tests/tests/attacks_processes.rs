//! A rep's password against the process layer, with a raw client: each
//! forgery is refused with its stable code, nothing restricted reaches the
//! rep, and everyone else is served meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fieldwork_core::automerge::transaction::Transactable;
use fieldwork_core::automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use fieldwork_core::process::creation::engine_docs;
use fieldwork_core::process::engine::activity_id;
use fieldwork_core::process::instance::{Event, EventKind, Instance};
use fieldwork_core::process::runner::model_id;
use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_core::{FieldValue, FieldWrite, Policy, RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{doc_from, push_one, signed_at};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

fn org(server: &TestServer) {
    server.add_user("marta", "manager", &["madrid", "sevilla"], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("luis", "rep", &["sevilla"], Some("marta"));
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// Sends one change and returns the refusal's code (panics if accepted).
async fn refused(c: &mut RawClient, doc: &str, bytes: Vec<u8>) -> String {
    c.send(&push_one(doc, bytes)).await;
    loop {
        match c.recv().await {
            Some(ServerMessage::PushResult(r)) => {
                assert!(r.accepted.is_empty(), "accepted: {r:?}");
                return r.refused.first().expect("a refusal").code.clone();
            }
            Some(_) => continue,
            None => panic!("the connection closed instead of answering"),
        }
    }
}

/// Sends one change and asserts it is accepted.
async fn accepted(c: &mut RawClient, doc: &str, bytes: Vec<u8>) {
    c.send(&push_one(doc, bytes)).await;
    loop {
        match c.recv().await {
            Some(ServerMessage::PushResult(r)) => {
                assert!(r.refused.is_empty(), "refused: {r:?}");
                return;
            }
            Some(_) => continue,
            None => panic!("the connection closed instead of answering"),
        }
    }
}

/// The document `doc` as the raw client's user receives it.
async fn fetch(server: &str, user: &str, doc: &str) -> AutoCommit {
    let t = token(server, user).await;
    let mut c = RawClient::connect(server, &t).await.expect("connect");
    let welcome = c
        .hello(&format!("reader-{user}-{}", std::process::id()))
        .await;
    doc_from(&welcome, doc)
}

/// The creation changes a device's engine would push for record `id`.
fn engine_creation(id: &RecordId, fields: &[(&str, FieldValue)]) -> Vec<(String, Vec<u8>)> {
    let fields: BTreeMap<String, FieldValue> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let at: jiff::Timestamp = "2027-01-04T09:00:00Z".parse().expect("at");
    engine_docs(&Policy::shipped_default(), id, &fields, at)
        .expect("engine docs")
        .into_iter()
        .map(|(d, c)| (d.id().to_string(), c.raw_bytes().to_vec()))
        .collect()
}

fn text(v: &str) -> FieldValue {
    FieldValue::Text(v.into())
}

#[test]
fn a_reps_forged_process_writes_are_refused_and_others_are_served() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let model = process_admin::read_model(&repo("examples/processes/lead-qualification.toml"))
        .expect("model");
    process_admin::publish(&server.state, model, "marta").expect("publish");

    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let sevilla = manager.create(
        RecordKind::Account,
        &[
            ("name", "En Sevilla"),
            ("territory", "sevilla"),
            ("stage", "customer"),
        ],
    );
    manager.sync();

    // A legitimate instance: ana's new lead starts the qualification on her
    // phone. Its name would once have cut a subject inside a character.
    let ana = TestDevice::new(&rt);
    ana.login(&server.url, "ana");
    ana.sync();
    let name = format!("a{}", "é".repeat(100));
    let lead = ana.create(
        RecordKind::Account,
        &[("name", name.as_str()), ("territory", "madrid")],
    );
    let instance: RecordId = ana.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("an instance started on ana's phone");
    let task = activity_id(&instance, "qualify", 0);
    assert!(
        ana.get(&task)
            .text("subject")
            .is_some_and(|s| s.chars().count() <= 200)
    );
    ana.store(|s| s.complete_task(&task));
    ana.sync();
    assert!(
        ana.store(|s| s.quarantine()).is_empty(),
        "ana's own process work is accepted"
    );

    let instance_doc = format!("{instance}/general");
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger").await;
        let me = ActorId::random();

        // A model published from a rep's phone.
        let mid = model_id("leak", 1);
        for (doc, bytes) in engine_creation(
            &mid,
            &[
                ("name", text("Leak")),
                ("key", text("leak")),
                ("version", FieldValue::Int(1)),
                ("definition", text("{}")),
                ("owner", text("ana")),
            ],
        ) {
            assert_eq!(refused(&mut c, &doc, bytes).await, "process_forbidden");
        }

        // An instance that would run as the manager.
        let lq = model_id("lead-qualification", 1);
        let at: jiff::Timestamp = "2027-01-04T09:00:00Z".parse().expect("at");
        let as_marta = Instance::derive_id("lead-qualification", &lead, at);
        let creation = |id: &RecordId, on: &RecordId, owner: &str| {
            engine_creation(
                id,
                &[
                    ("model_key", text("lead-qualification")),
                    ("model", text(&lq.to_string())),
                    ("model_version", FieldValue::Int(1)),
                    ("record", text(&on.to_string())),
                    ("account", text(&on.to_string())),
                    ("owner", text(owner)),
                    ("started_at", text("2027-01-04T09:00:00Z")),
                ],
            )
        };
        for (doc, bytes) in creation(&as_marta, &lead, "marta") {
            assert_eq!(refused(&mut c, &doc, bytes).await, "wrong_user");
        }
        // An instance on a record she does not see.
        let elsewhere = Instance::derive_id("lead-qualification", &sevilla, at);
        for (doc, bytes) in creation(&elsewhere, &sevilla, "ana") {
            assert_eq!(refused(&mut c, &doc, bytes).await, "record_not_visible");
        }

        // An engine-signed rename of the manager's existing account, 1970.
        let mut renamed = AutoCommit::new().with_actor(
            fieldwork_core::validate::engine_actor(&format!("{sevilla}/general"), b"x"),
        );
        renamed.put(ROOT, "name", "Hijacked").expect("put");
        let bytes = signed_at(&mut renamed, "fieldwork-engine", 0);
        assert_eq!(
            refused(&mut c, &format!("{sevilla}/general"), bytes).await,
            "engine_change_refused"
        );

        // An account created in another territory for another user.
        let stolen = RecordId::new_random(RecordKind::Account);
        let mut create = AutoCommit::new().with_actor(me.clone());
        create.put(ROOT, "name", "Mine now").expect("put");
        create.put(ROOT, "territory", "sevilla").expect("put");
        create.put(ROOT, "owner", "luis").expect("put");
        let bytes = signed_at(&mut create, "ana", 1_800_000_000);
        assert_eq!(
            refused(&mut c, &format!("{stolen}/general"), bytes).await,
            "record_not_visible"
        );

        // Her own instance: a stop without the right, in her name and in
        // the manager's; a rewritten identity; a rewritten event.
        let stored = fetch(&server.url, "ana", &instance_doc).await;
        let (_, events) = stored.get(ROOT, "events").expect("get").expect("events");
        let stop = |by: &str| {
            let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 60)
                .expect("a minute ago");
            let event = Event {
                kind: EventKind::Stop,
                at,
                by: by.into(),
                pos: None,
                step: None,
                via: None,
                to: None,
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            };
            let mut d = stored.clone().with_actor(me.clone());
            d.put(
                &events,
                Event::control_key(at, EventKind::Stop, by),
                serde_json::to_string(&event).expect("json"),
            )
            .expect("put");
            signed_at(&mut d, "ana", 1_800_000_000)
        };
        for by in ["ana", "marta"] {
            assert_eq!(
                refused(&mut c, &instance_doc, stop(by)).await,
                "process_forbidden",
                "a stop by {by}"
            );
        }
        let mut owner = stored.clone().with_actor(me.clone());
        owner.put(ROOT, "owner", "marta").expect("put");
        let bytes = signed_at(&mut owner, "ana", 1_800_000_000);
        assert_eq!(refused(&mut c, &instance_doc, bytes).await, "immutable");
        // Moving it to another record is the server's alone (a merge).
        for field in ["record", "account"] {
            let mut moved = stored.clone().with_actor(me.clone());
            moved.put(ROOT, field, sevilla.to_string()).expect("put");
            let bytes = signed_at(&mut moved, "ana", 1_800_000_000);
            assert_eq!(
                refused(&mut c, &instance_doc, bytes).await,
                "immutable",
                "{field}"
            );
        }
        let mut rewrite = stored.clone().with_actor(me.clone());
        let done_key = "0000.qualify.task";
        assert!(
            rewrite.get(&events, done_key).expect("get").is_some(),
            "the completed task is logged"
        );
        rewrite
            .put(
                &events,
                done_key,
                r#"{"kind":"done","at":"2027-01-04T09:00:00Z","by":"engine","pos":0,"step":"qualify","via":"task","to":"done"}"#,
            )
            .expect("put");
        let bytes = signed_at(&mut rewrite, "ana", 1_800_000_000);
        assert_eq!(refused(&mut c, &instance_doc, bytes).await, "immutable");
        // An event map replaced wholesale is not an append either.
        let mut replace = stored.clone().with_actor(me.clone());
        replace.put_object(ROOT, "events", ObjType::Map).expect("map");
        let bytes = signed_at(&mut replace, "ana", 1_800_000_000);
        assert_eq!(refused(&mut c, &instance_doc, bytes).await, "immutable");
        let mut wipe = stored.clone().with_actor(me.clone());
        wipe.delete(ROOT, "events").expect("delete");
        let bytes = signed_at(&mut wipe, "ana", 1_800_000_000);
        assert_eq!(refused(&mut c, &instance_doc, bytes).await, "immutable");

        // Messages ("reply received"): one signed as the manager, one under
        // a name no model could wait for, and a step left by a message the
        // log does not hold.
        let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 60)
            .expect("a minute ago");
        let message = |by: &str, name: &str| {
            let event = Event {
                message: Some(name.into()),
                ..Event::control(EventKind::Message, at, by)
            };
            let mut d = stored.clone().with_actor(me.clone());
            d.put(
                &events,
                event.own_key().expect("key"),
                serde_json::to_string(&event).expect("json"),
            )
            .expect("put");
            signed_at(&mut d, "ana", 1_800_000_000)
        };
        assert_eq!(
            refused(&mut c, &instance_doc, message("marta", "reply")).await,
            "wrong_user"
        );
        assert_eq!(
            refused(&mut c, &instance_doc, message("ana", "re ply")).await,
            "invalid_value"
        );
        let mut by_message = stored.clone().with_actor(me.clone());
        by_message
            .put(
                &events,
                "0001.done.message.reply",
                r#"{"kind":"done","at":"2027-01-04T09:00:00Z","by":"engine","pos":1,"step":"done","via":"message","to":"done","message":"c.1798000000000.message.ana.reply"}"#,
            )
            .expect("put");
        let bytes = signed_at(&mut by_message, "ana", 1_800_000_000);
        assert_eq!(
            refused(&mut c, &instance_doc, bytes).await,
            "invalid_value",
            "a step left by a message nobody sent"
        );

        // Parallel paths: a path scope that is not `POS.STEP.K`, a control
        // event on a path, and a join signed by a person.
        let forged = |key: &str, json: &str| {
            let mut d = stored.clone().with_actor(me.clone());
            d.put(&events, key, json).expect("put");
            signed_at(&mut d, "ana", 1_800_000_000)
        };
        let bad_scope = forged(
            "../x/0000.qualify.timer",
            r#"{"kind":"done","at":"2026-01-04T09:00:00Z","by":"engine","pos":0,"step":"qualify","via":"timer","to":"done","branch":"../x"}"#,
        );
        assert_eq!(
            refused(&mut c, &instance_doc, bad_scope).await,
            "invalid_value",
            "a path scope that is not POS.STEP.K"
        );
        let control_on_path = forged(
            "c.1767517200000.suspend.ana",
            r#"{"kind":"suspend","at":"2026-01-04T09:00:00Z","by":"ana","branch":"0000.qualify.0"}"#,
        );
        assert_eq!(
            refused(&mut c, &instance_doc, control_on_path).await,
            "invalid_value",
            "a control event on a path"
        );
        let joined_by_hand = forged(
            "0001.done.join",
            r#"{"kind":"done","at":"2026-01-04T09:00:00Z","by":"ana","pos":1,"step":"done","via":"join","to":"done"}"#,
        );
        assert_eq!(
            refused(&mut c, &instance_doc, joined_by_hand).await,
            "wrong_user",
            "only the engine joins paths"
        );
    });

    // An administrator's phone pushing a model whose call step runs no
    // version, or one the server does not hold: every replica must start
    // the same one.
    server.add_user("root", "admin", &[], None);
    rt.block_on(async {
        let t = token(&server.url, "root").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("forger-root").await;
        let caller = |version: &str| {
            format!(
                "key = \"caller\"\nname = \"Caller\"\ntrigger = {{ kind = \"manual\", record = \"account\" }}\n\
                 [[steps]]\nid = \"run\"\nkind = \"call\"\nprocess = \"lead-qualification\"\n{version}next = \"done\"\n\
                 [[steps]]\nid = \"done\"\nkind = \"end\"\n"
            )
        };
        for (version, why) in [("", "no version"), ("process_version = 9\n", "a version the server lacks")] {
            let model = fieldwork_core::process::model::Model::from_toml(&caller(version)).expect("model");
            for (doc, bytes) in engine_creation(
                &model_id("caller", 1),
                &[
                    ("name", text("Caller")),
                    ("key", text("caller")),
                    ("version", FieldValue::Int(1)),
                    ("definition", text(&model.to_json())),
                    ("owner", text("root")),
                ],
            ) {
                assert_eq!(refused(&mut c, &doc, bytes).await, "invalid_value", "{why}");
            }
        }
        // Pinned to a version the server holds, the same model is accepted.
        let model = fieldwork_core::process::model::Model::from_toml(&caller("process_version = 1\n"))
            .expect("model");
        for (doc, bytes) in engine_creation(
            &model_id("caller", 1),
            &[
                ("name", text("Caller")),
                ("key", text("caller")),
                ("version", FieldValue::Int(1)),
                ("definition", text(&model.to_json())),
                ("owner", text("root")),
            ],
        ) {
            accepted(&mut c, &doc, bytes).await;
        }
    });

    // Everyone else is served, at their usual pace, and nothing was taken.
    let started = Instant::now();
    manager.set(&sevilla, &[("industry", "Textil")]);
    manager.sync();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(manager.get(&sevilla).text("name"), Some("En Sevilla"));
    let card = manager.store(|s| s.process_card(&instance));
    assert_ne!(card.status, fieldwork_core::process::Status::Stopped);
}

#[test]
fn a_managers_model_never_puts_restricted_values_in_a_reps_task() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let secret = "B99887766";
    let model = fieldwork_core::process::Model::from_toml(
        r#"
key = "credit-review"
name = "Review the credit line"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "call"
kind = "task"
assignee = "owner"
subject = "Call {name} about {credit_limit} {credit_currency} (tax id {tax_id})"
topic = "Limit {credit_limit}, tax id {tax_id}"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
    )
    .expect("model");
    process_admin::publish(&server.state, model.file, "marta").expect("publish");

    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    manager.sync();
    let account = manager.create(
        RecordKind::Account,
        &[
            ("name", "Szőke Kft."),
            ("territory", "madrid"),
            ("owner", "ana"),
        ],
    );
    manager.set(&account, &[("tax_id", secret)]);
    manager
        .device
        .update(
            &account,
            vec![
                FieldWrite::set("credit_currency", "EUR"),
                FieldWrite::set("credit_limit", 7_654_321i64),
            ],
        )
        .expect("credit");
    let instance = manager.store(|s| s.start_process("credit-review", &account));
    manager.sync();

    let ana = TestDevice::new(&rt);
    ana.login(&server.url, "ana");
    ana.sync();
    let task = ana.get(&activity_id(&instance, "call", 0));
    assert_eq!(task.text("assignee"), Some("ana"));
    let subject = task.text("subject").expect("subject");
    assert_eq!(subject, "Call Szőke Kft. about   (tax id )");
    assert!(!task.text("topic").unwrap_or_default().contains("7654321"));
    for needle in [
        secret.as_bytes(),
        b"7654321".as_slice(),
        b"76543.21".as_slice(),
    ] {
        assert_eq!(
            ana.readable_occurrences(needle),
            0,
            "{needle:?} on ana's phone"
        );
    }
    // A rep cannot publish such a model herself: her phone refuses it and
    // so would the server (see the forging test above).
    let err = ana
        .device
        .with_store(|s| s.publish_model(model_file()))
        .expect_err("reps do not publish");
    assert!(format!("{err}").contains("publish"), "{err}");
    // Positive control: the manager holds the values the scan looks for.
    assert!(manager.readable_occurrences(secret.as_bytes()) > 0);
}

fn model_file() -> fieldwork_core::process::model::ModelFile {
    fieldwork_core::process::Model::from_toml(
        r#"
key = "rep-model"
name = "A rep's model"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "done"
kind = "end"
"#,
    )
    .expect("model")
    .file
}
