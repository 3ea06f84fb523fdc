//! The device store's numbered schema migrations, tracked in
//! `PRAGMA user_version` and applied by the shared runner
//! ([`crate::migrate`]).
//!
//! Guarantees (the runner's):
//! - each migration runs in its own IMMEDIATE transaction together with the
//!   version bump, so a crash leaves the store at one version or the next,
//!   never in between;
//! - a store written by a newer build is refused ([`CoreError::Corrupt`],
//!   saying "newer"), not guessed at.
//!
//! `core/src/store/schema.sql` is the schema these migrations produce,
//! checked by the test in `migrations/schema_test.rs`.

use rusqlite::Connection;

use crate::error::{CoreError, Result};
use crate::migrate::{self, MigrateError, Migration};

/// The migrations in order. Never edit a released migration: add one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/002_quarantine.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/003_outbox_per_document.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/004_process_wakeups.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/005_process_failures.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/006_archived.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/007_report_facts.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/008_report_covering.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("migrations/009_target_facts.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("migrations/010_process_watch.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("migrations/011_attachments.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("migrations/012_custom_fields.sql"),
    },
];

/// Brings the store to the newest schema, one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    migrate::migrate(conn, MIGRATIONS).map_err(|e| match e {
        MigrateError::Storage(inner) => CoreError::Storage(inner),
        MigrateError::Newer { found, latest } => CoreError::Corrupt(format!(
            "this store was written by a newer Fieldwork (schema {found}; this build knows up to {latest})"
        )),
        gap @ MigrateError::Gap(_) => CoreError::Corrupt(gap.to_string()),
    })?;
    Ok(())
}

#[cfg(test)]
mod schema_test;

#[cfg(test)]
mod tests {
    use super::*;

    /// The version this build writes.
    fn latest() -> u32 {
        migrate::latest(MIGRATIONS)
    }

    #[test]
    fn migrates_a_fresh_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("first");
        migrate(&mut conn).expect("second");
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, latest());
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(MIGRATIONS[0].sql).expect("v1");
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
        conn.pragma_update(None, "user_version", latest() + 1)
            .expect("bump");
        assert!(matches!(migrate(&mut conn), Err(CoreError::Corrupt(m)) if m.contains("newer")));
    }
}
