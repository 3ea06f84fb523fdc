//! The one schema migration runner, shared by the device store and the
//! server database. Each store keeps its own numbered SQL files; this module
//! applies them and reads a schema back for the tests that compare a
//! migrated database with the checked-in snapshot.
//!
//! Guarantees:
//! - migrations are applied in version order, one IMMEDIATE transaction per
//!   migration, and `PRAGMA user_version` is set in the same transaction: a
//!   crash leaves the database at one version or the next, never in between;
//! - each step re-reads the version inside its transaction, so two processes
//!   opening the same file at once never apply a migration twice;
//! - a database whose version is newer than the last migration known is
//!   refused ([`MigrateError::Newer`]) and left untouched;
//! - running the migrations on an up-to-date database changes nothing;
//! - the runner takes any open connection (plain or SQLCipher-encrypted).
//!
//! No I/O beyond the connection given.

use rusqlite::{Connection, TransactionBehavior};

/// One numbered schema change. Never edit a released migration: add one.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The `user_version` the database has once this migration ran; the
    /// versions of a list are 1, 2, 3... without gaps.
    pub version: u32,
    /// The SQL applied (several statements; no transaction control).
    pub sql: &'static str,
}

/// Why a database could not be migrated.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database was written by a newer build; it was not touched.
    #[error("the database has schema {found}; this build knows up to {latest}")]
    Newer {
        /// The database's `user_version`.
        found: u32,
        /// The last version this build knows.
        latest: u32,
    },
    /// The list of migrations skips a version (a bug in the build).
    #[error("no migration brings the schema from version {0} to the next")]
    Gap(u32),
    /// SQLite failed (including a migration's SQL); that migration's
    /// transaction was rolled back, the earlier ones stay committed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
}

/// The version the last of `migrations` writes (0 for none).
pub fn latest(migrations: &[Migration]) -> u32 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Brings the database to [`latest`]`(migrations)`, one transaction per
/// migration. Returns the version the database had before.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, MigrateError> {
    migrate_to(conn, migrations, latest(migrations))
}

/// Brings the database to version `target` (at most [`latest`]), one
/// transaction per migration; a database already at or past `target` (but
/// not past [`latest`]) is left as it is. Returns the version it had before.
/// Tests use it to stop at intermediate versions.
pub fn migrate_to(
    conn: &mut Connection,
    migrations: &[Migration],
    target: u32,
) -> Result<u32, MigrateError> {
    let before = version(conn)?;
    while step(conn, migrations, target)? {}
    Ok(before)
}

/// Migrates `conn` one version at a time from where it is to [`latest`],
/// running the SQL `after(version)` returns once each version is reached
/// (tests write rows there so that later, data-dependent migrations run on
/// data). Both stores' schema tests use it.
pub fn migrate_with_rows<'a>(
    conn: &mut Connection,
    migrations: &[Migration],
    after: impl Fn(u32) -> &'a str,
) -> Result<(), MigrateError> {
    for m in migrations {
        migrate_to(conn, migrations, m.version)?;
        conn.execute_batch(after(m.version))?;
    }
    Ok(())
}

/// The database's `user_version`.
pub fn version(conn: &Connection) -> Result<u32, MigrateError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Applies the next migration if the database is below `target`, in its
/// own transaction; returns whether it applied one.
fn step(
    conn: &mut Connection,
    migrations: &[Migration],
    target: u32,
) -> Result<bool, MigrateError> {
    let latest = latest(migrations);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = version(&tx)?;
    if current > latest {
        return Err(MigrateError::Newer {
            found: current,
            latest,
        });
    }
    if current >= target.min(latest) {
        return Ok(false);
    }
    let next = migrations
        .iter()
        .find(|m| m.version == current + 1)
        .ok_or(MigrateError::Gap(current))?;
    tx.execute_batch(next.sql)?;
    tx.pragma_update(None, "user_version", next.version)?;
    tx.commit()?;
    Ok(true)
}

/// The database's schema as SQL text, one statement per table, index,
/// trigger and view, in a stable order with whitespace normalised: two
/// databases with the same tables, columns, indexes and triggers give the
/// same text, however each got there. SQLite's own tables and the shadow
/// tables of virtual tables (which their `CREATE VIRTUAL TABLE` makes) are
/// left out, so the text can be run on an empty database to recreate the
/// schema. The first line records `user_version`.
pub fn schema_of(conn: &Connection) -> Result<String, MigrateError> {
    let shadows = shadow_tables(conn)?;
    let mut stmt = conn.prepare(
        "SELECT name, sql FROM sqlite_master
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1
                  WHEN 'view' THEN 2 ELSE 3 END, name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = format!("-- user_version: {}\n", version(conn)?);
    for row in rows {
        let (name, sql) = row?;
        if !shadows.contains(&name) {
            out.push('\n');
            out.push_str(&layout(&sql));
            out.push_str(";\n");
        }
    }
    Ok(out)
}

/// The environment variable that makes [`check_snapshot`] rewrite the
/// snapshot instead of only comparing (then review its diff).
pub const UPDATE_SNAPSHOT: &str = "FIELDWORK_UPDATE_SCHEMA";

/// Compares the schema of `conn` ([`schema_of`], after `header`) with the
/// checked-in snapshot at `path`, first rewriting the snapshot when
/// [`UPDATE_SNAPSHOT`] is set. `Err` names the file, shows the migrated
/// schema and says how to update the snapshot (`cargo test -p {package}
/// schema_test`). Both stores' schema tests call it.
pub fn check_snapshot(
    conn: &Connection,
    path: &std::path::Path,
    header: &str,
    package: &str,
) -> Result<(), String> {
    let migrated = format!("{header}{}", schema_of(conn).map_err(|e| e.to_string())?);
    if std::env::var_os(UPDATE_SNAPSHOT).is_some() {
        std::fs::write(path, &migrated).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let snapshot = std::fs::read_to_string(path).unwrap_or_default();
    if snapshot == migrated {
        return Ok(());
    }
    Err(format!(
        "the migrated schema differs from {}.\n\
         If the change is intended (a new migration), rewrite the snapshot with\n\
         `{UPDATE_SNAPSHOT}=1 cargo test -p {package} schema_test` and review its diff.\n\
         Migrated schema:\n{migrated}",
        path.display()
    ))
}

/// Names of the shadow tables virtual tables keep their data in.
fn shadow_tables(conn: &Connection) -> Result<Vec<String>, MigrateError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_list WHERE type = 'shadow'")?;
    let names = stmt.query_map([], |r| r.get(0))?;
    Ok(names.collect::<rusqlite::Result<_>>()?)
}

/// One statement with comments dropped, runs of whitespace collapsed, no
/// space inside parentheses or before commas; a `CREATE TABLE` gets one
/// column (top-level item) per line, a trigger one statement per line.
fn layout(sql: &str) -> String {
    let uncommented: Vec<&str> = sql
        .lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
        .collect();
    let flat = uncommented.join(" ");
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
        .replace(", ", ",");
    if flat.starts_with("CREATE TRIGGER") {
        return flat
            .replace(",", ", ")
            .replace(" BEGIN ", "\nBEGIN\n    ")
            .replace("; END", ";\nEND")
            .replace("; ", ";\n    ");
    }
    let by_column = flat.starts_with("CREATE TABLE");
    let mut out = String::with_capacity(flat.len() + 64);
    let mut depth = 0usize;
    for c in flat.chars() {
        match c {
            '(' => {
                depth += 1;
                out.push_str(if by_column && depth == 1 {
                    "(\n    "
                } else {
                    "("
                });
            }
            ')' => {
                out.push_str(if by_column && depth == 1 { "\n)" } else { ")" });
                depth = depth.saturating_sub(1);
            }
            ',' => out.push_str(if by_column && depth == 1 {
                ",\n    "
            } else {
                ", "
            }),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[Migration] = &[
        Migration {
            version: 1,
            sql: "CREATE TABLE a (x INTEGER);",
        },
        Migration {
            version: 2,
            sql: "ALTER TABLE a ADD COLUMN y TEXT;",
        },
    ];

    fn open() -> Connection {
        Connection::open_in_memory().expect("open")
    }

    #[test]
    fn migrates_step_by_step_and_is_idempotent() {
        let mut conn = open();
        assert_eq!(migrate_to(&mut conn, STEPS, 1).expect("to 1"), 0);
        conn.execute("INSERT INTO a(x) VALUES (7)", [])
            .expect("row");
        assert_eq!(migrate(&mut conn, STEPS).expect("to 2"), 1);
        assert_eq!(migrate(&mut conn, STEPS).expect("again"), 2);
        let x: i64 = conn
            .query_row("SELECT x FROM a WHERE y IS NULL", [], |r| r.get(0))
            .expect("kept");
        assert_eq!(x, 7);
    }

    #[test]
    fn a_failed_migration_keeps_the_earlier_ones() {
        let broken = [
            STEPS[0],
            Migration {
                version: 2,
                sql: "ALTER TABLE a ADD COLUMN y TEXT; SELECT nonsense FROM nowhere;",
            },
        ];
        let mut conn = open();
        assert!(matches!(
            migrate(&mut conn, &broken),
            Err(MigrateError::Storage(_))
        ));
        assert_eq!(version(&conn).expect("version"), 1);
        let columns: i64 = conn
            .query_row("SELECT count(*) FROM pragma_table_info('a')", [], |r| {
                r.get(0)
            })
            .expect("columns");
        assert_eq!(columns, 1, "the failed step was rolled back");
    }

    #[test]
    fn refuses_a_newer_database_untouched() {
        let mut conn = open();
        conn.pragma_update(None, "user_version", 3).expect("bump");
        assert!(matches!(
            migrate(&mut conn, STEPS),
            Err(MigrateError::Newer {
                found: 3,
                latest: 2
            })
        ));
        assert_eq!(version(&conn).expect("version"), 3);
    }

    #[test]
    fn two_openers_at_once_apply_each_migration_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("db");
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut conn = Connection::open(path).expect("open");
                    conn.busy_timeout(std::time::Duration::from_secs(10))
                        .expect("timeout");
                    migrate(&mut conn, STEPS).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            // A second ALTER TABLE ... ADD COLUMN y would fail.
            opener.join().expect("thread").expect("migrated");
        }
        let conn = Connection::open(&path).expect("reopen");
        assert_eq!(version(&conn).expect("version"), 2);
    }

    #[test]
    fn refuses_a_gap_in_the_list() {
        let gappy = [STEPS[1]];
        assert!(matches!(
            migrate(&mut open(), &gappy),
            Err(MigrateError::Gap(0))
        ));
    }

    #[test]
    fn the_schema_text_recreates_the_same_schema() {
        let mut conn = open();
        migrate(&mut conn, STEPS).expect("migrate");
        let text = schema_of(&conn).expect("schema");
        assert!(
            text.contains("CREATE TABLE a (\n    x INTEGER,\n    y TEXT\n)"),
            "{text}"
        );
        let fresh = open();
        fresh.execute_batch(&text).expect("recreate");
        fresh.pragma_update(None, "user_version", 2).expect("bump");
        assert_eq!(schema_of(&fresh).expect("fresh schema"), text);
    }
}
