//! Numbered schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each migration runs in the same IMMEDIATE transaction as the version bump,
//! so a crash leaves the database at the old version or the new one, never
//! in between. A database written by a newer build is refused, not guessed at.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{CoreError, Result};

/// `(version, SQL)` in order. Never edit a released migration: add one.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/001_initial.sql")),
    (2, include_str!("migrations/002_quarantine.sql")),
    (3, include_str!("migrations/003_outbox_per_document.sql")),
    (4, include_str!("migrations/004_process_wakeups.sql")),
    (5, include_str!("migrations/005_process_failures.sql")),
];

/// The schema version this build writes.
pub(crate) const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the database to [`LATEST`], one step per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > LATEST {
        return Err(CoreError::Corrupt(format!(
            "this store was written by a newer Fieldwork (schema {current}; this build knows up to {LATEST})"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("first");
        migrate(&mut conn).expect("second");
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, LATEST);
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(MIGRATIONS[0].1).expect("v1");
        conn.pragma_update(None, "user_version", 1).expect("bump");
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('device_id', 'd1')",
            [],
        )
        .expect("row");
        migrate(&mut conn).expect("upgrade");
        let kept: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
                r.get(0)
            })
            .expect("kept");
        assert_eq!(kept, "d1");
    }

    #[test]
    fn refuses_a_database_from_a_newer_build() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "user_version", LATEST + 1)
            .expect("bump");
        assert!(matches!(migrate(&mut conn), Err(CoreError::Corrupt(m)) if m.contains("newer")));
    }
}
