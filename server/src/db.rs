//! The server's SQLite database: one writer, a pool of readers, in WAL mode.
//!
//! Guarantees:
//! - every write runs on the one writer connection, in an IMMEDIATE
//!   transaction, with `synchronous = FULL`: what a commit returned is on
//!   disk, even if the process is killed right after;
//! - readers never block the writer (WAL) and see committed data only;
//! - blocking SQLite work runs on tokio's blocking pool, never on the async
//!   executor threads.
//!
//! Layout: [`users`], [`tokens`] (login tokens), [`policy`], [`feed`]
//! (the change feed and cursors), [`documents`] (snapshots and loading),
//! [`facts`] (visibility facts), [`devices`], [`audit`], [`blobs`]
//! (attachment bytes), [`erasures`] (the GDPR erasure log),
//! [`merges`] (merged duplicates, for their undo),
//! [`import_mappings`] (saved column mappings of imports),
//! [`migrations`] (the numbered schema changes; `db/schema.sql` is the
//! schema they produce).

pub mod access;
pub mod api_keys;
pub mod audit;
pub mod blobs;
pub mod calendar_feeds;
pub mod devices;
pub mod documents;
pub mod erasures;
pub mod facts;
pub mod feed;
pub mod import_keys;
pub mod import_mappings;
pub mod merges;
pub mod migrations;
pub mod policy;
pub mod record_index;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldwork_core::DocId;
use fieldwork_core::document::ClassDoc;
use lru::LruCache;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::{Result, ServerError};

/// The database file inside the data directory.
pub const DB_FILE: &str = "server.db";

const READERS: usize = 8;
const CACHE_DOCS: usize = 4096;

/// The writer connection and the documents it keeps loaded.
pub struct Writer {
    /// The one connection that writes.
    pub conn: Connection,
    /// Loaded documents, consistent with what is committed.
    pub cache: LruCache<DocId, ClassDoc>,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The writer's page cache, in KiB: the record index, the feed and the
/// documents of a large organisation stay in memory instead of being read
/// again on every push (SQLite's default is 2 MiB).
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Prepared statements a connection keeps: a push runs about 40 distinct
/// statements per change (rusqlite's default keeps 16, so most were
/// prepared again for every change).
const STATEMENT_CACHE: usize = 128;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Purged history (reclassified fields) must not linger in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database in `dir`, migrating it (one
    /// transaction per migration; a database from a newer server is
    /// refused) and, in one more transaction, giving it an epoch and the
    /// shipped default policy on first use.
    pub fn open(dir: &Path) -> Result<Db> {
        Db::open_inner(dir, None)
    }

    /// Opens the database in `dir` as [`Db::open`] does, but a database
    /// created now gets `epoch` instead of a fresh ULID. **For simulations
    /// and tests** that replay byte for byte from a seed: an existing
    /// database keeps the epoch it has (a restart is not a new server).
    pub fn open_with_epoch(dir: &Path, epoch: &str) -> Result<Db> {
        Db::open_inner(dir, Some(epoch))
    }

    fn open_inner(dir: &Path, epoch: Option<&str>) -> Result<Db> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        configure(&conn)?;
        migrations::migrate(&mut conn, &path)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if meta_get(&tx, "epoch")?.is_none() {
            let fresh = epoch.map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned);
            meta_set(&tx, "epoch", &fresh)?;
        }
        policy::install_default(&tx)?;
        record_index::ensure_built(&tx)?;
        tx.commit()?;
        Ok(Db {
            path,
            writer: Arc::new(Mutex::new(Writer {
                conn,
                cache: LruCache::new(NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN)),
            })),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` with the writer, on the blocking pool.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer) -> Result<T> + Send + 'static,
    {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || with_writer(&writer, f))
            .await
            .map_err(|e| ServerError::Internal(format!("writer task failed: {e}")))?
    }

    /// Runs `f` with the writer on the current thread (admin commands).
    pub fn write_blocking<T>(&self, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
        with_writer(&self.writer, f)
    }

    /// Runs `f` with a read-only connection, on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_blocking(f))
            .await
            .map_err(|e| ServerError::Internal(format!("reader task failed: {e}")))?
    }

    /// Runs `f` with a read-only connection on the current thread.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.readers.lock().ok().and_then(|mut r| r.pop()) {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(10))?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                conn
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READERS
        {
            pool.push(conn);
        }
        out
    }

    /// Writes a consistent copy of the database to `target` (which must not
    /// exist) while the server keeps serving: SQLite's `VACUUM INTO`. To
    /// restore, stop the server and put the copy in place of `server.db`
    /// (removing `server.db-wal` and `server.db-shm`).
    pub fn backup(&self, target: &Path) -> Result<()> {
        if target.exists() {
            return Err(ServerError::Invalid(format!(
                "{} already exists",
                target.display()
            )));
        }
        let target = target
            .to_str()
            .ok_or_else(|| {
                ServerError::Invalid(format!("{} is not valid UTF-8", target.display()))
            })?
            .to_owned();
        self.read_blocking(move |c| {
            c.execute("VACUUM INTO ?1", [target])?;
            Ok(())
        })
    }

    /// The file the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a `meta` value.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Writes a `meta` value.
pub fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        [key, value],
    )?;
    Ok(())
}

/// Bumps the admin version, which running servers poll to notice user and
/// policy changes made by other processes (the admin CLI).
pub fn bump_admin_version(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('admin_version', '1')
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        [],
    )?;
    Ok(())
}

/// The admin version (see [`bump_admin_version`]).
pub fn admin_version(conn: &Connection) -> Result<u64> {
    Ok(meta_get(conn, "admin_version")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The server database's identity, fixed at creation.
pub fn epoch(conn: &Connection) -> Result<String> {
    meta_get(conn, "epoch")?.ok_or_else(|| ServerError::Internal("database has no epoch".into()))
}

/// Milliseconds since the Unix epoch, from the given clock.
pub fn millis(clock: &dyn fieldwork_core::Clock) -> i64 {
    clock.now().as_millisecond()
}

/// Runs `f` with the writer. A panic in `f` is contained: whatever
/// transaction `f` had open is rolled back as the panic unwinds, the
/// document cache (which may hold changes that were not committed) is
/// emptied, and the caller gets an internal error. A lock poisoned by an
/// earlier panic is taken over the same way, so one bad request never
/// stops later writes.
fn with_writer<T>(writer: &Mutex<Writer>, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
    let mut guard = writer.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        guard.cache.clear();
        guard
    });
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut guard))) {
        Ok(out) => out,
        Err(panic) => {
            guard.cache.clear();
            let what = fieldwork_core::error::panic_message(panic.as_ref());
            tracing::error!(panic = %what.escape_debug(), "writer work panicked; rolled back");
            Err(ServerError::Internal(
                "the server failed on this request".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_writer_work_does_not_stop_later_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(dir.path()).expect("open");
        let failed = db.write_blocking(|w| -> Result<()> {
            let tx = w.conn.transaction()?;
            meta_set(&tx, "half-written", "yes")?;
            let cut: &str = "aé";
            // A byte index inside `é`: the kind of bug input can reach.
            let _ = &cut[..std::hint::black_box(2)];
            tx.commit()?;
            Ok(())
        });
        assert!(
            matches!(failed, Err(ServerError::Internal(_))),
            "{failed:?}"
        );
        let after = db.write_blocking(|w| {
            meta_set(&w.conn, "after", "ok")?;
            meta_get(&w.conn, "half-written")
        });
        assert_eq!(after.expect("the writer works again"), None, "rolled back");
    }
}
