//! The server database's numbered schema migrations, tracked in
//! `PRAGMA user_version` and applied by the shared runner
//! (`fieldwork_core::migrate`).
//!
//! Guarantees (the runner's):
//! - each migration runs in its own IMMEDIATE transaction together with the
//!   version bump, so a crash leaves the database at one version or the
//!   next, never in between;
//! - a database written by a newer fieldwork-server is refused
//!   ([`ServerError::Internal`], saying "newer"), untouched.
//!
//! `server/src/db/schema.sql` is the schema these migrations produce,
//! checked by the test in `migrations/schema_test.rs`.

use std::path::Path;

use fieldwork_core::migrate::{self, MigrateError, Migration};
use rusqlite::Connection;

use crate::error::{Result, ServerError};

/// The migrations in order. Never edit a released migration: add one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/002_generations.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/003_process_wakeups.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/004_process_failures.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/005_device_wipe.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/006_device_docs_confirm.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/007_record_index.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/008_webhooks.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("migrations/009_api_keys_and_calendars.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("migrations/010_process_task_facts.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("migrations/011_process_watch.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("migrations/012_blobs.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("migrations/013_import_keys.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("migrations/014_erasures.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("migrations/015_merges.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("migrations/016_import_mappings.sql"),
    },
];

/// Brings the database at `path` (open as `conn`) to the newest schema, one
/// transaction per migration.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate::migrate(conn, MIGRATIONS).map_err(|e| match e {
        MigrateError::Storage(inner) => ServerError::Storage(inner),
        MigrateError::Newer { found, .. } => ServerError::Internal(format!(
            "{} was written by a newer fieldwork-server (schema {found})",
            path.display()
        )),
        gap @ MigrateError::Gap(_) => ServerError::Internal(gap.to_string()),
    })?;
    Ok(())
}

#[cfg(test)]
mod schema_test;
