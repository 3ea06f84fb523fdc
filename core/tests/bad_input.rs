//! Bad input gets a clear error and changes nothing.

use crate::common;

use common::{account, set, store};
use fieldwork_core::{CoreError, FieldWrite, RecordId, RecordKind};

#[test]
fn invalid_writes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let id = account(&mut s, "Acme", vec![set("email", "info@acme.es")]);
    let before = s.get(&id).expect("get");
    let outbox = s.outbox_len().expect("len");

    let cases: Vec<(Vec<FieldWrite>, &str)> = vec![
        (vec![set("colour", "red")], "colour"),
        (vec![set("email", "not-an-email")], "email"),
        (vec![set("name", "Fine"), set("email", "also bad")], "email"),
        (
            vec![FieldWrite::set("credit_limit", "a lot")],
            "credit_limit",
        ),
        (
            vec![FieldWrite::set("credit_limit", 100_000_i64)],
            "credit_currency",
        ),
        (vec![set("stage", "dreaming")], "stage"),
        (vec![FieldWrite::clear("name")], "name"),
    ];
    for (writes, field) in cases {
        match s.update(&id, writes.clone()) {
            Err(CoreError::Invalid(e)) => {
                assert_eq!(e.field.as_deref(), Some(field), "{writes:?}: {e}");
                assert!(e.to_string().contains(field));
            }
            other => panic!("{writes:?} should be invalid, got {other:?}"),
        }
    }
    match s.update(&id, vec![set("stage_history", "x")]) {
        Err(CoreError::Denied(d)) => assert_eq!(d.code, "system_field"),
        other => panic!("system fields are not writable: {other:?}"),
    }
    assert_eq!(s.get(&id).expect("get"), before, "the record is unchanged");
    assert_eq!(
        s.outbox_len().expect("len"),
        outbox,
        "no change was recorded"
    );
    assert!(s.search("fine", None, 5).expect("search").is_empty());
}

#[test]
fn text_assignments_are_parsed_against_the_schema() {
    assert!(FieldWrite::parse(RecordKind::Deal, "amount=12.50").is_err());
    assert!(FieldWrite::parse(RecordKind::Deal, "amount").is_err());
    let w = FieldWrite::parse(RecordKind::Deal, "currency=huf").expect("valid");
    assert_eq!(w, FieldWrite::set("currency", "HUF"));
    assert_eq!(
        FieldWrite::parse(RecordKind::Deal, "close_reason=").expect("clear"),
        FieldWrite::clear("close_reason")
    );
}

#[test]
fn unknown_ids_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let ghost = RecordId::new_random(RecordKind::Account);
    assert!(matches!(s.get(&ghost), Err(CoreError::NotFound(m)) if m == ghost.to_string()));
    assert!(matches!(
        s.update(&ghost, vec![set("name", "x")]),
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(s.history(&ghost), Err(CoreError::NotFound(_))));
    assert_eq!(s.outbox_len().expect("len"), 0);
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.db");
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &junk).expect("write");
    let clock = std::sync::Arc::new(fieldwork_core::SystemClock);
    // Without a key, page-sized random bytes cannot be told from an
    // encrypted store; with one, they are refused as the wrong key. Either
    // way the file is left as it was.
    let err = fieldwork_core::Store::open(&path, clock.clone()).expect_err("not a store");
    assert!(matches!(&err, CoreError::KeyRequired), "{err}");
    let key = fieldwork_core::StoreKey::generate();
    let err =
        fieldwork_core::Store::open_encrypted(&path, clock.clone(), &key).expect_err("not a store");
    assert!(matches!(&err, CoreError::WrongKey), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        junk,
        "the file was not modified"
    );
    // Bytes that are not whole pages cannot be a store under any key.
    std::fs::write(&path, &junk[..8191]).expect("write");
    let err =
        fieldwork_core::Store::open_encrypted(&path, clock.clone(), &key).expect_err("damaged");
    assert!(
        matches!(&err, CoreError::Corrupt(m) if m.contains("not a Fieldwork store")),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), &junk[..8191]);

    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).expect("sqlite");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .expect("foreign db");
    drop(conn);
    let err = fieldwork_core::Store::open(&other, clock).expect_err("foreign");
    assert!(err.to_string().contains("not a Fieldwork store"), "{err}");
}

#[test]
fn a_damaged_document_is_reported_not_guessed_at() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let id = account(&mut s, "Acme", vec![]);
    let healthy = account(&mut s, "Healthy", vec![]);
    drop(s);
    let conn = rusqlite::Connection::open(dir.path().join("d.db")).expect("raw");
    conn.execute(
        "UPDATE documents SET snapshot = x'856f4a83deadbeef00' WHERE record_id = ?1",
        [id.to_string()],
    )
    .expect("damage");
    drop(conn);
    let mut s = store(dir.path(), "d.db");
    assert!(matches!(s.get(&id), Err(CoreError::Corrupt(m)) if m.contains(&id.to_string())));
    assert_eq!(
        s.get(&healthy).expect("others still load").text("name"),
        Some("Healthy")
    );
    let problems = s.verify().expect("verify");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&id.to_string()));
}
