//! Writes the binary seed inputs of the fuzz targets into `fuzz/seeds/`:
//! frames made by our codec (`frame_codec`) and Automerge changes made on
//! top of the targets' base documents (`change_validate`). The text seeds
//! (BPMN, conditions, policies) are committed as written.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (scripts/fuzz.sh runs
//! it when the seed folders are missing).

use std::path::Path;

use fieldwork_core::automerge::transaction::{CommitOptions, Transactable};
use fieldwork_core::automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use fieldwork_core::sync::codec;
use fieldwork_core::sync::protocol::{
    Ack, Batch, ClientMessage, DocData, ErrorMessage, Hello, Push, PushResult, PushedChange,
    Refusal, ServerMessage,
};
use fieldwork_fuzz::{SCENARIOS, Scenario, base_automerge, doc_id};
use serde_bytes::ByteBuf;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("seed dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

/// One change made by `f` on a fork of the scenario's base document,
/// signed by `author` with `actor`.
fn change(s: &Scenario, actor: &[u8], author: &str, f: impl FnOnce(&mut AutoCommit)) -> Vec<u8> {
    let mut d = base_automerge(s).fork().with_actor(ActorId::from(actor));
    f(&mut d);
    d.commit_with(
        CommitOptions::default()
            .with_message(author)
            .with_time(1_800_000_000),
    );
    d.get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let ana = [0x33u8; 16];
    let mut engine = [0u8; 16];
    engine[..2].copy_from_slice(&fieldwork_core::validate::ENGINE_ACTOR_PREFIX);

    // change_validate: the first byte picks the scenario.
    let dir = root.join("change_validate");
    for (i, s) in SCENARIOS.iter().enumerate() {
        let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
        match (s.kind, s.class) {
            (fieldwork_core::RecordKind::ProcessInstance, _) => {
                seeds.push((
                    "event",
                    change(s, &ana, "ana", |d| {
                        let (_, m) = d.get(ROOT, "events").expect("get").expect("events");
                        d.put(&m, "step#1", "{\"kind\":\"entered\",\"step\":\"call\"}")
                            .expect("put");
                    }),
                ));
                seeds.push((
                    "param",
                    change(s, &ana, "ana", |d| {
                        let m = d.put_object(ROOT, "parameters", ObjType::Map).expect("map");
                        d.put(&m, "region", "{\"value\":\"norte\"}").expect("put");
                    }),
                ));
            }
            (_, "financial") => {
                seeds.push((
                    "credit",
                    change(s, &ana, "ana", |d| {
                        d.put(ROOT, "credit_limit", 1_000_000i64).expect("put");
                        d.put(ROOT, "credit_currency", "EUR").expect("put");
                    }),
                ));
            }
            _ => {
                seeds.push((
                    "scalars",
                    change(s, &ana, "ana", |d| {
                        d.put(ROOT, "name", "Ñandú Distribuciones").expect("put");
                        d.put(ROOT, "owner", "ana").expect("put");
                        d.put(ROOT, "territory", "madrid").expect("put");
                    }),
                ));
                seeds.push((
                    "wrong_type",
                    change(s, &ana, "ana", |d| {
                        d.put(ROOT, "stage", 42i64).expect("put");
                        d.put(ROOT, "industry", ScalarValue::counter(3))
                            .expect("put");
                    }),
                ));
                seeds.push((
                    "engine_actor",
                    change(s, &engine, "fieldwork-engine", |d| {
                        d.put(ROOT, "name", "Seguimiento").expect("put");
                    }),
                ));
                if s.existing {
                    seeds.push((
                        "text_and_log",
                        change(s, &ana, "ana", |d| {
                            if let Some((_, text)) = d.get(ROOT, "description").expect("get") {
                                d.splice_text(&text, 0, 7, "Socio").expect("splice");
                            }
                            let (_, log) = d.get(ROOT, "stage_history").expect("get").expect("log");
                            let e = d.insert_object(&log, 1, ObjType::Map).expect("entry");
                            d.put(&e, "stage", "qualified").expect("put");
                            d.put(&e, "at", "2027-01-04T09:00:00Z").expect("put");
                            d.delete(ROOT, "website").expect("delete");
                        }),
                    ));
                } else {
                    seeds.push((
                        "create",
                        change(s, &ana, "ana", |d| {
                            d.put(ROOT, "name", "Nueva").expect("put");
                            let t = d
                                .put_object(ROOT, "description", ObjType::Text)
                                .expect("text");
                            d.splice_text(&t, 0, 0, "Hola 東京").expect("splice");
                            d.put(ROOT, "email", "x@y.es").expect("put");
                        }),
                    ));
                }
            }
        }
        for (name, bytes) in seeds {
            let mut input = vec![i as u8];
            input.extend_from_slice(&bytes);
            write(&dir, &format!("{i}-{name}"), &input);
        }
    }

    // frame_codec: client and server messages as our codec frames them.
    let dir = root.join("frame_codec");
    let s = &SCENARIOS[0];
    let one = change(s, &ana, "ana", |d| {
        d.put(ROOT, "industry", "Textil").expect("put")
    });
    let hello = ClientMessage::Hello(Hello {
        protocol: fieldwork_core::sync::protocol::PROTOCOL_VERSION,
        device_id: "device-ñ".into(),
        cursor: None,
        resync: false,
        client: "fieldwork-core/0.1.0".into(),
        app_version: None,
        pending_changes: None,
    });
    write(&dir, "hello", &codec::encode(&hello));
    let push = |n: usize| {
        ClientMessage::Push(Push {
            batch: 7,
            changes: (0..n)
                .map(|_| PushedChange {
                    doc: doc_id(s).to_string(),
                    bytes: ByteBuf::from(one.clone()),
                })
                .collect(),
        })
    };
    write(&dir, "push", &codec::encode(&push(1)));
    let big = codec::encode(&push(80));
    assert_eq!(big[0], 1, "a large push is compressed");
    write(&dir, "push_compressed", &big);
    let result = ServerMessage::PushResult(PushResult {
        batch: 7,
        accepted: vec![Ack {
            doc: doc_id(s).to_string(),
            hash: ByteBuf::from(vec![7; 32]),
        }],
        refused: vec![Refusal {
            hash: ByteBuf::from(vec![9; 32]),
            doc: doc_id(s).to_string(),
            code: "class_not_writable".into(),
            field: Some("credit_limit".into()),
            rule: "roles.rep.write".into(),
            message: "role `rep` may not write `credit_limit`".into(),
        }],
    });
    write(&dir, "push_result", &codec::encode(&result));
    let mut base = base_automerge(s);
    let batch = ServerMessage::Batch(Batch {
        docs: vec![DocData {
            doc: doc_id(s).to_string(),
            document: Some(ByteBuf::from(base.save())),
            changes: vec![ByteBuf::from(one.clone())],
            replace: false,
        }],
        cursor: None,
        done: Some(1),
    });
    write(&dir, "batch", &codec::encode(&batch));
    let error = ServerMessage::Error(ErrorMessage {
        code: "malformed_message".into(),
        message: "unknown frame flag 9".into(),
    });
    write(&dir, "error", &codec::encode(&error));
    println!("seeds written under {}", root.display());
}
