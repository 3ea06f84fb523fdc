//! Bounded work per byte received: a hostile device's operation
//! bombs, compressed chunks, made-up inventories and parked compare sessions
//! get stable refusal codes, cost the server little, and do not delay anyone
//! else; a session parked in compare mode still hears who it serves (a
//! territory change revokes, a disabled user is closed) and cannot stay
//! there forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fieldwork_core::automerge::transaction::{CommitOptions, Transactable};
use fieldwork_core::automerge::{ActorId, AutoCommit, ObjType, ROOT, ScalarValue};
use fieldwork_core::sync::protocol::{
    CatchUp, ClientMessage, DocHeads, Hello, Inventory, PROTOCOL_VERSION, Push, PushResult,
    PushedChange, ServerMessage,
};
use fieldwork_core::{ClassName, RecordId, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_bytes::ByteBuf;

/// What another user's sign-in and push may take while an attack runs: a
/// correctness bound (the attacks used to stall the writer for 16-39 s),
/// not a benchmark.
const NORMAL: Duration = Duration::from_secs(2);

// --- Forging changes -------------------------------------------------------

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn read_uleb(bytes: &[u8], pos: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = bytes[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

fn read_sleb(bytes: &[u8], pos: &mut usize) -> i64 {
    let (mut v, mut shift) = (0i64, 0);
    loop {
        let b = bytes[*pos];
        *pos += 1;
        v |= i64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            if shift < 64 && b & 0x40 != 0 {
                v |= !0 << shift;
            }
            return v;
        }
    }
}

fn signed_change(doc: &mut AutoCommit, author: &str) -> Vec<u8> {
    doc.commit_with(CommitOptions::default().with_message(author));
    doc.get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

/// A real change of `n` operations (every column of a one-operation change
/// "set `x` to null" stretched to `n` identical rows), in well under 200
/// bytes: what Automerge would expand to `n` operations.
fn op_bomb(n: u64, author: &str) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(ActorId::random());
    doc.put(ROOT, "x", ScalarValue::Null).expect("put");
    let change = signed_change(&mut doc, author);
    // Header: magic, checksum, type, length; then the body.
    let mut pos = 9;
    read_uleb(&change, &mut pos);
    let body = &change[pos..];
    let mut p = 0;
    let deps = read_uleb(body, &mut p) as usize;
    p += deps * 32;
    let actor = read_uleb(body, &mut p) as usize;
    p += actor;
    read_uleb(body, &mut p); // seq
    read_uleb(body, &mut p); // start op
    read_sleb(body, &mut p); // time
    let message = read_uleb(body, &mut p) as usize;
    p += message;
    let others = read_uleb(body, &mut p);
    assert_eq!(others, 0);
    let prefix = body[..p].to_vec();
    let columns = read_uleb(body, &mut p);
    let mut meta = Vec::new();
    for _ in 0..columns {
        meta.push((read_uleb(body, &mut p), read_uleb(body, &mut p) as usize));
    }
    let mut data = Vec::new();
    for (spec, len) in meta {
        let column = &body[p..p + len];
        p += len;
        let mut out = Vec::new();
        let mut q = 0;
        if spec & 0b111 == 4 {
            // Boolean: run lengths.
            while q < column.len() {
                uleb(&mut out, read_uleb(column, &mut q) * n);
            }
        } else {
            let count = read_sleb(column, &mut q);
            if count == 0 {
                sleb(&mut out, 0);
                uleb(&mut out, read_uleb(column, &mut q) * n);
            } else {
                assert_eq!(count.abs(), 1);
                sleb(&mut out, n as i64);
                out.extend(&column[q..]);
            }
        }
        data.push((spec, out));
    }
    let extra = &body[p..];
    let mut new_body = prefix;
    uleb(&mut new_body, data.len() as u64);
    for (spec, column) in &data {
        uleb(&mut new_body, *spec);
        uleb(&mut new_body, column.len() as u64);
    }
    for (_, column) in &data {
        new_body.extend(column);
    }
    new_body.extend(extra);
    let mut header = vec![1u8];
    uleb(&mut header, new_body.len() as u64);
    // The checksum is the first four bytes of the change hash (computed
    // from the header and body alone, whatever the checksum says).
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0];
    out.extend(&header);
    out.extend(&new_body);
    let hash = fieldwork_core::change_limits::chunk_hash(&out).expect("a change chunk");
    out[4..8].copy_from_slice(&hash.0[..4]);
    out
}

/// A change Automerge itself compressed (chunk type 2).
fn compressed_change(author: &str) -> Vec<u8> {
    let mut doc = AutoCommit::new().with_actor(ActorId::random());
    let notes = doc.put_object(ROOT, "notes", ObjType::Text).expect("text");
    doc.splice_text(&notes, 0, 0, &"fieldwork ".repeat(2000))
        .expect("splice");
    doc.commit_with(CommitOptions::default().with_message(author));
    let mut change = doc.get_last_local_change().expect("change").clone();
    let bytes = change.bytes().to_vec();
    assert_eq!(bytes[8], 2, "Automerge compressed the change");
    bytes
}

// --- Protocol helpers --------------------------------------------------------

fn push(batch: u64, doc: &str, changes: Vec<Vec<u8>>) -> ClientMessage {
    ClientMessage::Push(Push {
        batch,
        changes: changes
            .into_iter()
            .map(|bytes| PushedChange {
                doc: doc.into(),
                bytes: ByteBuf::from(bytes),
            })
            .collect(),
    })
}

async fn push_result(c: &mut RawClient, batch: u64) -> PushResult {
    loop {
        match c.recv().await {
            Some(ServerMessage::PushResult(r)) if r.batch == batch => return r,
            Some(_) => continue,
            None => panic!("no result for push {batch}"),
        }
    }
}

fn codes(r: &PushResult) -> Vec<&str> {
    r.refused.iter().map(|x| x.code.as_str()).collect()
}

/// Says hello asking to compare, and returns the welcome's mode.
async fn hello_compare(c: &mut RawClient, device: &str) -> CatchUp {
    c.send(&ClientMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        device_id: device.into(),
        cursor: None,
        resync: true,
        client: "attacker".into(),
        app_version: None,
        pending_changes: None,
    }))
    .await;
    match c.recv().await {
        Some(ServerMessage::Welcome(w)) => w.mode,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// The next error message, skipping anything else.
async fn error_code(c: &mut RawClient) -> String {
    loop {
        match c.recv().await {
            Some(ServerMessage::Error(e)) => return e.code,
            Some(_) => continue,
            None => panic!("the connection ended without an error message"),
        }
    }
}

fn made_up_doc() -> String {
    RecordId::new_random(RecordKind::Account)
        .doc(&ClassName::new("general").expect("class"))
        .to_string()
}

fn inventory(docs: Vec<String>, done: bool) -> ClientMessage {
    ClientMessage::Inventory(Inventory {
        docs: docs
            .into_iter()
            .map(|doc| DocHeads {
                doc,
                heads: vec![ByteBuf::from(vec![7u8; 32])],
            })
            .collect(),
        done,
    })
}

/// Another user signs in, creates an account and pushes it; how long that
/// took. The device is opened before the clock starts.
fn honest_round(rt: &Arc<tokio::runtime::Runtime>, server: &TestServer, user: &str) -> Duration {
    let device = TestDevice::new(rt);
    let start = Instant::now();
    device.login(&server.url, user);
    let id = device.create(RecordKind::Account, &[("name", "Honesta SL")]);
    device.sync();
    let took = start.elapsed();
    assert_eq!(device.get(&id).text("name"), Some("Honesta SL"));
    took
}

fn changes_from_device(server: &TestServer, device: &str) -> i64 {
    let device = device.to_owned();
    server
        .state
        .db
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM changes WHERE device_id = ?1",
                [device],
                |r| r.get(0),
            )?)
        })
        .expect("count")
}

// --- Tests -------------------------------------------------------------------

#[test]
fn operation_bombs_and_compressed_chunks_are_refused_cheaply_while_others_sync() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    server.add_user("luis", "admin", &[], None);
    let url = server.url.clone();
    let doc = made_up_doc();
    let stop = Arc::new(AtomicBool::new(false));
    let (flooding_tx, flooding_rx) = std::sync::mpsc::channel::<()>();

    let attack = rt.spawn({
        let stop = stop.clone();
        async move {
            let t = token(&url, "ana").await;
            let mut c = RawClient::connect(&url, &t).await.expect("connect");
            c.hello("bomber").await;
            // Ten million operations in a change of a few dozen bytes.
            let bomb = op_bomb(10_000_000, "ana");
            assert!(bomb.len() < 200, "the bomb is {} bytes", bomb.len());
            c.send(&push(1, &doc, vec![bomb.clone()])).await;
            let r = push_result(&mut c, 1).await;
            assert!(r.accepted.is_empty(), "{r:?}");
            assert_eq!(codes(&r), ["change_too_large"]);
            assert_eq!(r.refused[0].rule, "limits");
            // Forty million too (that used to kill the process).
            c.send(&push(2, &doc, vec![op_bomb(40_000_000, "ana")]))
                .await;
            assert_eq!(codes(&push_result(&mut c, 2).await), ["change_too_large"]);
            // A compressed chunk is refused without being inflated.
            c.send(&push(3, &doc, vec![compressed_change("ana")])).await;
            let r = push_result(&mut c, 3).await;
            assert_eq!(codes(&r), ["compressed_change"]);
            // Then a flood: pushes of a thousand bombs each, for as long as
            // the honest user takes.
            let mut batch = 4;
            while !stop.load(Ordering::SeqCst) && batch < 200 {
                c.send(&push(batch, &doc, vec![bomb.clone(); 1000])).await;
                if batch == 4 {
                    let _ = flooding_tx.send(());
                }
                let r = push_result(&mut c, batch).await;
                assert!(r.accepted.is_empty());
                assert!(codes(&r).iter().all(|c| *c == "change_too_large"));
                batch += 1;
            }
            batch - 4
        }
    });
    flooding_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the flood began");
    let took = honest_round(&rt, &server, "luis");
    stop.store(true, Ordering::SeqCst);
    let floods = rt.block_on(attack).expect("the attacker's assertions held");
    assert!(floods >= 1, "the flood ran during the honest round");
    assert!(
        took < NORMAL,
        "another user's sign-in and push took {took:?} during the flood"
    );
    assert_eq!(changes_from_device(&server, "bomber"), 0, "nothing stored");
}

#[test]
fn a_made_up_inventory_of_100000_ids_does_not_delay_anyone() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    server.add_user("luis", "admin", &[], None);
    let url = server.url.clone();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));

    let attack = rt.spawn({
        let stop = stop.clone();
        async move {
            let t = token(&url, "ana").await;
            let mut c = RawClient::connect(&url, &t).await.expect("connect");
            assert_eq!(hello_compare(&mut c, "inventor").await, CatchUp::Compare);
            // 100,000 ids (the per-session limit) in messages of 10,000.
            for _ in 0..10 {
                let docs = (0..10_000).map(|_| made_up_doc()).collect();
                c.send(&inventory(docs, false)).await;
            }
            let _ = sent_tx.send(());
            // While the honest user works, keep the server answering: it
            // asks for each listed id (documents it does not know are the
            // device's own unsynced work) and revokes none.
            let mut asked = 0;
            while !stop.load(Ordering::SeqCst) {
                match tokio::time::timeout(Duration::from_millis(100), c.recv()).await {
                    Ok(Some(ServerMessage::SyncDoc(_))) => asked += 1,
                    Ok(Some(ServerMessage::Revoke(r))) => panic!("revoked made-up ids: {r:?}"),
                    Ok(Some(ServerMessage::Error(e))) => panic!("the session failed: {e:?}"),
                    Ok(Some(_)) | Err(_) => {}
                    Ok(None) => panic!("the session ended after {asked} answers"),
                }
            }
            asked
        }
    });
    sent_rx
        .recv_timeout(Duration::from_secs(12))
        .expect("the inventory was sent");
    let took = honest_round(&rt, &server, "luis");
    stop.store(true, Ordering::SeqCst);
    let asked = rt.block_on(attack).expect("the attacker's assertions held");
    assert!(asked > 0, "the server answered the inventory");
    assert!(
        took < NORMAL,
        "another user's sign-in and push took {took:?} during the inventory"
    );
}

#[test]
fn a_session_lists_at_most_compare_max_docs() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| c.compare_max_docs = 2_000);
    server.add_user("ana", "rep", &["madrid"], None);
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        assert_eq!(hello_compare(&mut c, "inventor").await, CatchUp::Compare);
        for _ in 0..2 {
            let docs = (0..1_000).map(|_| made_up_doc()).collect();
            c.send(&inventory(docs, false)).await;
        }
        // One more id is beyond the session's limit: the server answers
        // the 2,000 it accepted, then closes the session.
        c.send(&inventory(vec![made_up_doc()], true)).await;
        let mut asked = 0;
        let code = loop {
            match c.recv().await {
                Some(ServerMessage::SyncDoc(_)) => asked += 1,
                Some(ServerMessage::Error(e)) => break e.code,
                Some(_) => {}
                None => panic!("the session ended after {asked} answers"),
            }
        };
        assert_eq!(asked, 2_000);
        assert_eq!(code, "message_too_large");
        assert!(c.closed().await);
    });
}

#[test]
fn one_inventory_message_lists_at_most_10000_documents() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        assert_eq!(hello_compare(&mut c, "inventor").await, CatchUp::Compare);
        let docs = (0..10_001).map(|_| made_up_doc()).collect();
        c.send(&inventory(docs, true)).await;
        assert_eq!(error_code(&mut c).await, "message_too_large");
        assert!(c.closed().await);
    });
}

#[test]
fn a_session_parked_in_compare_mode_hears_revocation_and_is_closed_when_disabled() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    server.add_user("luis", "admin", &[], None);
    let luis = TestDevice::new(&rt);
    luis.login(&server.url, "luis");
    let account = luis.create(
        RecordKind::Account,
        &[("name", "En Madrid"), ("territory", "madrid")],
    );
    luis.sync();
    let general = format!("{account}/general");

    let ana_doc = made_up_doc();
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        assert_eq!(hello_compare(&mut c, "parked").await, CatchUp::Compare);
        // Ana lists the Madrid account with other heads: its exchange starts.
        c.send(&inventory(vec![general.clone()], false)).await;
        match c.recv().await {
            Some(ServerMessage::SyncDoc(s)) => assert_eq!(s.doc, general),
            other => panic!("expected a sync message, got {other:?}"),
        }
        // Her territory moves while she is parked in compare mode: she is
        // told, and the account is revoked.
        server
            .state
            .db
            .write_blocking(|w| {
                fieldwork_server::db::users::update(
                    &w.conn,
                    "ana",
                    None,
                    Some(&["sevilla".to_owned()]),
                )
            })
            .expect("move ana");
        let revoked = loop {
            match c.recv().await {
                Some(ServerMessage::Revoke(r)) => break r,
                Some(ServerMessage::Policy(p)) => assert_eq!(p.user.territories, ["sevilla"]),
                Some(_) => {}
                None => panic!("no revocation reached the compare session"),
            }
        };
        assert!(revoked.docs.contains(&general), "{revoked:?}");
        // She is disabled: the session is closed.
        let start = Instant::now();
        server
            .state
            .db
            .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", true))
            .expect("disable");
        assert_eq!(error_code(&mut c).await, "user_disabled");
        assert!(
            start.elapsed() < NORMAL,
            "closed after {:?}",
            start.elapsed()
        );
        // A push on the closed session goes nowhere.
        let mut mine = AutoCommit::new().with_actor(ActorId::random());
        mine.put(ROOT, "name", "Después").expect("put");
        c.send(&push(1, &ana_doc, vec![signed_change(&mut mine, "ana")]))
            .await;
        assert!(c.closed().await);
    });
    assert_eq!(changes_from_device(&server, "parked"), 0, "nothing stored");
    // Nothing of hers was relayed to anyone.
    luis.sync();
    let ana_record = ana_doc.rsplit_once('/').expect("doc id").0.to_owned();
    let seen = luis.store(|s| {
        let id: RecordId = ana_record.parse()?;
        Ok(s.get(&id).ok())
    });
    assert!(seen.is_none(), "the disabled user's record reached luis");
}

#[test]
fn compare_mode_is_time_limited() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.compare_timeout = Duration::from_millis(500);
    });
    server.add_user("ana", "rep", &["madrid"], None);
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        assert_eq!(hello_compare(&mut c, "idle").await, CatchUp::Compare);
        let start = Instant::now();
        assert_eq!(error_code(&mut c).await, "compare_timeout");
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(c.closed().await);
    });
}

#[test]
fn a_push_from_a_user_disabled_before_the_session_heard_is_refused() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    // The session will not hear of the change for a minute.
    let server = TestServer::start_in(tmp.path(), |c| c.admin_poll = Duration::from_secs(60));
    server.add_user("ana", "rep", &["madrid"], None);
    let doc = made_up_doc();
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("late-news").await;
        server
            .state
            .db
            .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", true))
            .expect("disable");
        let mut mine = AutoCommit::new().with_actor(ActorId::random());
        mine.put(ROOT, "name", "Después").expect("put");
        c.send(&push(1, &doc, vec![signed_change(&mut mine, "ana")]))
            .await;
        assert_eq!(error_code(&mut c).await, "user_disabled");
        assert!(c.closed().await);
    });
    assert_eq!(
        changes_from_device(&server, "late-news"),
        0,
        "nothing stored"
    );
}

#[test]
fn a_push_after_a_territory_change_the_session_has_not_heard_uses_the_new_rights() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    // The session will not hear of the change for a minute.
    let server = TestServer::start_in(tmp.path(), |c| c.admin_poll = Duration::from_secs(60));
    server.add_user("marta", "manager", &["madrid", "sevilla"], None);
    server.add_user("ana", "rep", &["madrid"], None);
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "En Madrid"), ("territory", "madrid")],
    );
    manager.sync();
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("moved").await;
        server
            .state
            .db
            .write_blocking(|w| {
                fieldwork_server::db::users::update(
                    &w.conn,
                    "ana",
                    None,
                    Some(&["sevilla".to_owned()]),
                )
            })
            .expect("move ana");
        let mut mine = AutoCommit::new().with_actor(ActorId::random());
        mine.put(ROOT, "industry", "Textil").expect("put");
        c.send(&push(
            1,
            &format!("{account}/general"),
            vec![signed_change(&mut mine, "ana")],
        ))
        .await;
        loop {
            match c.recv().await {
                Some(ServerMessage::PushResult(r)) => {
                    assert!(r.accepted.is_empty(), "{r:?}");
                    assert_eq!(r.refused[0].code, "record_not_visible");
                    break;
                }
                Some(_) => continue,
                None => panic!("no push result"),
            }
        }
    });
    assert_eq!(changes_from_device(&server, "moved"), 0, "nothing stored");
}

// --- Document bombs in compare mode ------------------------------------------

/// A saved document's column metadata and data, rewritten by `edit` (change
/// columns, then operation columns, each as (specification, data)) and
/// resealed with a valid checksum.
fn forge_document(
    saved: &[u8],
    edit: impl FnOnce(&mut Vec<(u64, Vec<u8>)>, &mut Vec<(u64, Vec<u8>)>),
) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    assert_eq!(saved[8], 0, "a document chunk");
    let mut pos = 9;
    read_uleb(saved, &mut pos);
    let body = &saved[pos..];
    let mut p = 0;
    for _ in 0..read_uleb(body, &mut p) {
        let len = read_uleb(body, &mut p) as usize;
        p += len;
    }
    let heads = read_uleb(body, &mut p) as usize;
    p += heads * 32;
    let prefix = body[..p].to_vec();
    let mut metas = Vec::new();
    for _ in 0..2 {
        let mut meta = Vec::new();
        for _ in 0..read_uleb(body, &mut p) {
            meta.push((read_uleb(body, &mut p), read_uleb(body, &mut p) as usize));
        }
        metas.push(meta);
    }
    let mut groups: Vec<Vec<(u64, Vec<u8>)>> = Vec::new();
    for meta in &metas {
        let mut columns = Vec::new();
        for (spec, len) in meta {
            columns.push((*spec, body[p..p + len].to_vec()));
            p += len;
        }
        groups.push(columns);
    }
    let suffix = body[p..].to_vec();
    let mut ops = groups.pop().expect("op columns");
    let mut changes = groups.pop().expect("change columns");
    edit(&mut changes, &mut ops);
    let mut new_body = prefix;
    for columns in [&changes, &ops] {
        uleb(&mut new_body, columns.len() as u64);
        for (spec, data) in columns.iter() {
            uleb(&mut new_body, *spec);
            uleb(&mut new_body, data.len() as u64);
        }
    }
    for (_, data) in changes.iter().chain(&ops) {
        new_body.extend(data);
    }
    new_body.extend(suffix);
    let mut header = vec![0u8];
    uleb(&mut header, new_body.len() as u64);
    let digest = Sha256::new()
        .chain_update(&header)
        .chain_update(&new_body)
        .finalize();
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend(&digest[..4]);
    out.extend(&header);
    out.extend(&new_body);
    out
}

/// A raw-deflate stream of `mib` MiB of zeros, in about 1 KiB per MiB:
/// the output of one sync-flushed MiB repeated (each decodes to zeros
/// against a window of zeros), so making it costs two MiB of compression.
fn deflated_zeros(mib: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    encoder.write_all(&zeros).expect("deflate");
    encoder.flush().expect("deflate");
    let first = encoder.get_ref().len();
    encoder.write_all(&zeros).expect("deflate");
    encoder.flush().expect("deflate");
    let second = encoder.get_ref().len();
    let out = encoder.finish().expect("deflate");
    let mut stream = out[..first].to_vec();
    for _ in 1..mib {
        stream.extend(&out[first..second]);
    }
    stream.extend(&out[second..]);
    stream
}

/// Two document chunks of about a megabyte at most: one whose value column
/// inflates to 1 GiB, one whose operation id column claims ten million
/// operations.
fn document_bombs() -> Vec<Vec<u8>> {
    let mut doc = AutoCommit::new().with_actor(ActorId::random());
    doc.put(ROOT, "name", "Bomba SA").expect("put");
    doc.commit();
    let saved = doc.save_nocompress();
    let zeros = deflated_zeros(1024);
    let inflation = forge_document(&saved, |_, ops| {
        let value = ops
            .iter_mut()
            .find(|(spec, _)| spec & 0b111 == 7)
            .expect("a value column");
        value.0 |= 0b1000;
        value.1 = zeros;
    });
    let rows = forge_document(&saved, |_, ops| {
        let id = ops
            .iter_mut()
            .find(|(spec, _)| *spec == (2 << 4) | 1)
            .expect("an operation id column");
        id.1.clear();
        sleb(&mut id.1, 10_000_000);
        uleb(&mut id.1, 0);
    });
    for bomb in [&inflation, &rows] {
        assert!(
            bomb.len() < 2 * 1024 * 1024,
            "the bomb is {} bytes",
            bomb.len()
        );
        let denial = fieldwork_core::change_limits::check_document(bomb).expect_err("refused");
        assert_eq!(denial.code, "change_too_large", "{denial:?}");
    }
    // The unforged document passes.
    fieldwork_core::change_limits::check_document(&saved).expect("a real document");
    vec![inflation, rows]
}

#[test]
fn documents_offered_in_compare_mode_are_bounded_before_loading() {
    use fieldwork_core::automerge::sync::{self, SyncDoc as _};
    use fieldwork_core::sync::protocol::SyncDoc;
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    server.add_user("luis", "admin", &[], None);
    let url = server.url.clone();
    let doc = made_up_doc();
    let bombs = document_bombs();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();

    let attack = rt.spawn(async move {
        let t = token(&url, "ana").await;
        let mut c = RawClient::connect(&url, &t).await.expect("connect");
        assert_eq!(hello_compare(&mut c, "doc-bomber").await, CatchUp::Compare);
        // A document the server does not know: it asks for it.
        c.send(&inventory(vec![doc.clone()], true)).await;
        let ask = loop {
            match c.recv().await {
                Some(ServerMessage::SyncDoc(s)) if s.doc == doc => break s.message,
                Some(ServerMessage::Error(e)) => panic!("the session failed: {e:?}"),
                Some(_) => continue,
                None => panic!("no sync message for {doc}"),
            }
        };
        // A real answer from a device document, its chunks replaced by
        // the bombs.
        let mut mine = AutoCommit::new().with_actor(ActorId::random());
        mine.put(ROOT, "name", "Bomba SA").expect("put");
        mine.commit();
        let mut state = sync::State::new();
        if let Some(ask) = ask {
            let ask = sync::Message::decode(&ask).expect("the server's message");
            mine.sync()
                .receive_sync_message(&mut state, ask)
                .expect("receive");
        }
        let mut answer = mine
            .sync()
            .generate_sync_message(&mut state)
            .expect("an answer");
        answer.changes = sync::ChunkList::from(bombs);
        c.send(&ClientMessage::SyncDoc(SyncDoc {
            doc: doc.clone(),
            message: Some(ByteBuf::from(answer.encode())),
        }))
        .await;
        let _ = sent_tx.send(());
        // The server ignores the bombs: it ends the exchange with nothing
        // accepted and goes live.
        let start = Instant::now();
        let mut ended = false;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), c.recv()).await {
                Ok(Some(ServerMessage::SyncDoc(s))) if s.doc == doc && s.message.is_none() => {
                    ended = true;
                }
                Ok(Some(ServerMessage::UpToDate(_))) => break,
                Ok(Some(ServerMessage::Error(e))) => panic!("the session failed: {e:?}"),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the session ended"),
                Err(_) => panic!("the server did not answer the document bombs"),
            }
        }
        assert!(ended, "the exchange of {doc} ended");
        start.elapsed()
    });
    sent_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the bombs were sent");
    let took = honest_round(&rt, &server, "luis");
    let answered = rt.block_on(attack).expect("the attacker's assertions held");
    assert!(
        answered < NORMAL,
        "the server took {answered:?} to answer the bombs"
    );
    assert!(
        took < NORMAL,
        "another user's sign-in and push took {took:?} after the bombs"
    );
    assert_eq!(
        changes_from_device(&server, "doc-bomber"),
        0,
        "nothing stored"
    );
}
