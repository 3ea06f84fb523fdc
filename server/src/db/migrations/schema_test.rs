//! A database migrated step by step from version 1, with rows written at
//! each version, has exactly the schema of `server/src/db/schema.sql`, and a
//! database created from that file has the same schema: the snapshot is
//! what a fresh database looks like, and the documentation of the current
//! schema.

use std::path::Path;

use fieldwork_core::migrate::{check_snapshot, latest, migrate_with_rows, schema_of};
use rusqlite::Connection;

use super::{MIGRATIONS, migrate};
use crate::error::ServerError;

/// The snapshot, relative to the crate.
const SNAPSHOT: &str = "src/db/schema.sql";
/// The snapshot's first lines.
const HEADER: &str = "-- The server database's schema as its migrations (migrations/*.sql) leave it.\n\
-- Written by migrations/schema_test.rs; do not edit by hand: add a migration.\n";

/// Rows written once the database reaches `version`, so that the
/// migrations after it run on data (002 and 005 add columns to filled
/// tables, 005's trigger fires on rows 001 wrote, 006 moves the `meta`
/// confirmation positions of devices into `devices`, 010 marks the
/// activities the record index knows as process tasks).
fn rows_at(version: u32) -> &'static str {
    match version {
        1 => {
            "INSERT INTO meta(key, value) VALUES ('epoch', 'e1');
             INSERT INTO users(id, name, role, password_hash, created_at) VALUES (1, 'ann', 'rep', 'h', 1);
             INSERT INTO sessions(token_hash, user_id, device_id, created_at, expires_at) VALUES (x'01', 1, 'd1', 1, 2);
             INSERT INTO policies(revision, source, set_by, set_at) VALUES (1, '', 'initial', 0);
             INSERT INTO documents(doc_id, record_id, class, last_seq) VALUES ('r1/base', 'r1', 'base', 1);
             INSERT INTO changes(doc_id, hash, bytes, received_at) VALUES ('r1/base', x'aa', x'00', 1);
             INSERT INTO records(record_id, kind) VALUES ('r1', 'contact');
             INSERT INTO actors(actor, user_id) VALUES (x'0102', 1);
             INSERT INTO devices(device_id, user_id) VALUES ('d1', 1);
             INSERT INTO device_docs(device_id, doc_id) VALUES ('d1', 'r1/base');
             INSERT INTO audit(at, user_name, code, message) VALUES (1, 'ann', 'denied', 'm');"
        }
        2 => "UPDATE documents SET generation = 1;",
        3 => "INSERT INTO process_wakeups(instance, wake_at) VALUES ('p1', 10);",
        4 => "INSERT INTO process_wakeups(instance, active, failed) VALUES ('p2', 0, 'budget');",
        5 => {
            "UPDATE devices SET app_version = '1.0', wipe_requested_at = 5;
             DELETE FROM sessions WHERE token_hash = x'01';
             INSERT INTO meta(key, value) VALUES ('device_docs_unconfirmed:d1', '7');"
        }
        9 => {
            "INSERT INTO records(record_id, kind) VALUES ('a1', 'activity'), ('a2', 'activity');
             INSERT INTO record_fields(doc_id, record_id, kind, class, field, value_json)
                  VALUES ('a1/base', 'a1', 'activity', 'base', 'process_instance', '\"process_instance:p1\"'),
                         ('a2/base', 'a2', 'activity', 'base', 'subject', '\"Call\"');"
        }
        _ => "",
    }
}

/// A database migrated one version at a time, with [`rows_at`] each version.
fn migrated_with_rows() -> Connection {
    let mut conn = Connection::open_in_memory().expect("open");
    conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
    migrate_with_rows(&mut conn, MIGRATIONS, rows_at).expect("migrate");
    conn
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_migrated_database_has_the_snapshot_schema_and_keeps_its_rows() {
    let conn = migrated_with_rows();
    for table in ["meta", "users", "policies", "documents", "changes"] {
        assert_eq!(count(&conn, table), 1, "{table}");
    }
    let tasks: Vec<(String, bool)> = conn
        .prepare("SELECT record_id, process_task FROM records ORDER BY record_id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()
        })
        .expect("records");
    assert_eq!(
        tasks,
        [
            ("a1".into(), true),
            ("a2".into(), false),
            ("r1".into(), false)
        ],
        "010 marks the activity with an instance, and only it"
    );
    for table in [
        "actors",
        "devices",
        "device_docs",
        "audit",
        "ended_sessions",
    ] {
        assert_eq!(count(&conn, table), 1, "{table}");
    }
    assert_eq!(count(&conn, "sessions"), 0);
    assert_eq!(count(&conn, "process_wakeups"), 2);
    let moved: i64 = conn
        .query_row(
            "SELECT docs_confirm_seq FROM devices WHERE device_id = 'd1'",
            [],
            |r| r.get(0),
        )
        .expect("docs_confirm_seq");
    assert_eq!(moved, 7, "006 moves the confirmation position out of meta");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if let Err(difference) = check_snapshot(&conn, &path, HEADER, "fieldwork-server") {
        panic!("{difference}");
    }
}

#[test]
fn a_database_created_from_the_snapshot_equals_a_migrated_one() {
    let migrated = schema_of(&migrated_with_rows()).expect("schema");
    let fresh = Connection::open_in_memory().expect("open");
    fresh.execute_batch(&migrated).expect("run the snapshot");
    fresh
        .pragma_update(None, "user_version", latest(MIGRATIONS))
        .expect("version");
    assert_eq!(schema_of(&fresh).expect("fresh schema"), migrated);
}

#[test]
fn refuses_a_database_from_a_newer_server() {
    let mut conn = Connection::open_in_memory().expect("open");
    conn.pragma_update(None, "user_version", latest(MIGRATIONS) + 1)
        .expect("bump");
    let refused = migrate(&mut conn, Path::new("server.db"));
    assert!(
        matches!(&refused, Err(ServerError::Internal(m)) if m.contains("newer")),
        "{refused:?}"
    );
}
