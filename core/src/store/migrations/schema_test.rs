//! A store migrated step by step from version 1, with rows written at each
//! version, has exactly the schema of `core/src/store/schema.sql`, and a
//! store created from that file has the same schema: the snapshot is what a
//! fresh store looks like, and the documentation of the current schema.

use rusqlite::Connection;

use super::MIGRATIONS;
use crate::migrate::{self, migrate_with_rows, schema_of};

/// The snapshot, relative to the crate.
const SNAPSHOT: &str = "src/store/schema.sql";
/// The snapshot's first lines.
const HEADER: &str = "-- The device store's schema as its migrations (migrations/*.sql) leave it.\n\
-- Written by migrations/schema_test.rs; do not edit by hand: add a migration.\n";

/// Rows written once the store reaches `version`, so that the migrations
/// after it run on data (003 copies the outbox).
fn rows_at(version: u32) -> &'static str {
    match version {
        1 => {
            "INSERT INTO meta(key, value) VALUES ('device_id', 'd1');
             INSERT INTO documents(doc_id, record_id, class, updated_at) VALUES ('r1/base', 'r1', 'base', 1);
             INSERT INTO doc_chunks(doc_id, seq, data) VALUES ('r1/base', 1, x'00');
             INSERT INTO outbox(doc_id, hash, change, writes, created_at) VALUES ('r1/base', x'aa', x'01', '[]', 1);
             INSERT INTO records(record_id, kind, title, title_key, updated_at) VALUES ('r1', 'contact', 'Ann', x'61', 1);
             INSERT INTO search(rowid, name, emails, phones, body) VALUES (1, 'Ann', '', '', '');"
        }
        2 => {
            "INSERT INTO quarantine(record_id, doc_id, field, value, code, rule, message, typed_at, refused_at)
             VALUES ('r1', 'r1/base', 'name', '\"x\"', 'denied', 'r', 'm', 1, 2);"
        }
        3 => {
            "INSERT INTO outbox(doc_id, hash, change, writes, created_at) VALUES ('r2/base', x'aa', x'01', '[]', 2);"
        }
        4 => "INSERT INTO process_wakeups(instance, wake_at) VALUES ('p1', 10);",
        5 => "INSERT INTO process_wakeups(instance, active, failed) VALUES ('p2', 0, 'budget');",
        6 => "UPDATE records SET archived = 1 WHERE record_id = 'r1';",
        7 => {
            "UPDATE records SET stage_log = 'lead@1', closed_at = 2, completed_at = 3, check_in_at = 4,
                    check_out_at = 5, check_in_lat = 47.5, check_in_lon = 19.0, check_out_lat = 47.5,
                    check_out_lon = 19.0, report_version = 1 WHERE record_id = 'r1';"
        }
        11 => {
            "INSERT INTO blobs(sha256, size, media_type, data, created_at) VALUES ('a', 1, 'image/jpeg', x'00', 1);
             INSERT INTO blob_refs(record_id, field, sha256, size, media_type, name) VALUES ('r1', 'photo', 'a', 1, 'image/jpeg', 'a.jpg');"
        }
        _ => "",
    }
}

/// A store migrated one version at a time, with [`rows_at`] each version.
fn migrated_with_rows() -> Connection {
    let mut conn = Connection::open_in_memory().expect("open");
    migrate_with_rows(&mut conn, MIGRATIONS, rows_at).expect("migrate");
    conn
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_migrated_store_has_the_snapshot_schema_and_keeps_its_rows() {
    let conn = migrated_with_rows();
    for (table, rows) in [
        ("meta", 1),
        ("documents", 1),
        ("doc_chunks", 1),
        ("outbox", 2),
    ] {
        assert_eq!(count(&conn, table), rows, "{table}");
    }
    for (table, rows) in [("records", 1), ("search", 1), ("quarantine", 1)] {
        assert_eq!(count(&conn, table), rows, "{table}");
    }
    assert_eq!(count(&conn, "process_wakeups"), 2);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if let Err(difference) = migrate::check_snapshot(&conn, &path, HEADER, "fieldwork-core") {
        panic!("{difference}");
    }
}

#[test]
fn a_store_created_from_the_snapshot_equals_a_migrated_one() {
    let migrated = schema_of(&migrated_with_rows()).expect("schema");
    let fresh = Connection::open_in_memory().expect("open");
    fresh.execute_batch(&migrated).expect("run the snapshot");
    fresh
        .pragma_update(None, "user_version", migrate::latest(MIGRATIONS))
        .expect("version");
    assert_eq!(schema_of(&fresh).expect("fresh schema"), migrated);
}
