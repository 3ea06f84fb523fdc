//! Encryption at rest for the device store (SQLCipher).
//!
//! A store opened with [`Store::open_encrypted`](super::Store::open_encrypted)
//! is a SQLCipher database: every page is encrypted with AES-256 and
//! authenticated with HMAC-SHA512 (SQLCipher 4 defaults) under a 32-byte
//! [`StoreKey`] that the app keeps in the platform keystore. The key is
//! random, so it is handed to SQLCipher in raw form (`x'…'`) and no
//! passphrase derivation (PBKDF2) runs: opening costs about as much as
//! opening a plain store.
//!
//! Guarantees:
//! - **Every page is encrypted**, in the database file and in the `-wal`
//!   file alike (WAL frames are encrypted page images), and so are the
//!   rollback journals SQLite writes. Temporary tables, indices and sorts
//!   are kept in memory (`temp_store = MEMORY`), so no plaintext temporary
//!   file is written either. The `-shm` file holds only the WAL index (page
//!   numbers and checksums), no record content.
//! - **What is not encrypted:** the 32-byte WAL file header (magic number,
//!   page size, checkpoint counter, salts, checksum), the 16-byte random
//!   salt at the start of the database file, and file sizes and
//!   modification times, so the rough size of the store is visible.
//! - **The key is never stored** in the database or anywhere else on disk by
//!   this crate; [`StoreKey`] wipes its bytes (and the hex form built for
//!   SQLCipher) when dropped and never prints them. Copies SQLite itself
//!   makes of the key statement are outside our reach (SQLCipher keeps the
//!   derived key in memory while the store is open).
//! - **A wrong key changes nothing:** it is refused with
//!   [`CoreError::WrongKey`] on the first read, before any write, and the
//!   connection is closed without a checkpoint, so the store's files keep
//!   their exact bytes. Opening an encrypted store without a key is refused
//!   with [`CoreError::KeyRequired`] without opening it at all. Without the
//!   key an encrypted store cannot be told from random bytes, so a file of
//!   whole pages that is not plain SQLite is reported as encrypted.
//! - **Crash-safe migration and rekey:** a plain store is encrypted, and an
//!   encrypted one re-encrypted, by exporting it into a sibling scratch file
//!   (`<name>.encrypting`, `<name>.rekey`), syncing it to disk and renaming
//!   it over the store (then syncing the directory). A crash at any instant
//!   leaves the complete store under the old key (or plain) or the complete
//!   store under the new key; a stale scratch file is deleted at the next
//!   open. Before the export the store leaves WAL mode, so no `-wal` file
//!   of the old store can outlive it next to the new one.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use rusqlite::Connection;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{CoreError, Result, ValidationError};

/// The first 16 bytes of every plain SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Suffix of the scratch file a plain store is encrypted into.
const ENCRYPTING: &str = "encrypting";
/// Suffix of the scratch file a store is re-encrypted into.
const REKEY: &str = "rekey";
/// Name of the scratch database while it is attached.
const EXPORT_SCHEMA: &str = "fw_export";

/// The 32-byte key a device store is encrypted with.
///
/// Random (see [`StoreKey::generate`]), kept by the app in the platform
/// keystore, never in the store. The bytes live in one heap allocation that
/// is zeroed when the key is dropped; `Debug` never shows them.
pub struct StoreKey {
    bytes: Box<[u8; 32]>,
}

impl StoreKey {
    /// A new random key from the operating system's secure random source.
    ///
    /// # Panics
    /// If the operating system cannot provide random bytes (as every other
    /// source of randomness in this process would).
    pub fn generate() -> StoreKey {
        let mut bytes = Box::new([0u8; 32]);
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes[..])
            .expect("the operating system's random source failed");
        StoreKey { bytes }
    }

    /// A key from its 32 bytes (as kept in the keystore). Any other length
    /// is refused with [`CoreError::Invalid`].
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey> {
        if bytes.len() != 32 {
            return Err(CoreError::Invalid(ValidationError::field(
                "key",
                format!(
                    "a store key is exactly 32 bytes; this one has {}",
                    bytes.len()
                ),
            )));
        }
        let mut key = Box::new([0u8; 32]);
        key.copy_from_slice(bytes);
        Ok(StoreKey { bytes: key })
    }

    /// The key's bytes, to save in the keystore.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The key as SQLCipher's raw-key literal, `x'<64 hex digits>'`, in a
    /// string that is zeroed when dropped (built in place, never reallocated).
    fn raw_literal(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(67));
        push_raw_literal(&mut out, &self.bytes);
        out
    }

    /// Keys `conn`'s main database: must be the first statement after
    /// [`quiet`] on a fresh connection.
    pub(super) fn apply(&self, conn: &Connection) -> Result<()> {
        let mut sql = Zeroizing::new(String::with_capacity(96));
        sql.push_str("PRAGMA key = \"");
        push_raw_literal(&mut sql, &self.bytes);
        sql.push_str("\";");
        conn.execute_batch(&sql)?;
        Ok(())
    }
}

/// Appends `x'<hex>'` without reallocating (`out` has room for 67 bytes).
fn push_raw_literal(out: &mut String, bytes: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("x'");
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out.push('\'');
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// What a store file holds, judged from its first bytes (no key needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// No file, or an empty one: opening creates a new store.
    Missing,
    /// A plain (unencrypted) SQLite database.
    Plain,
    /// Anything else: an encrypted store (or a file that is not a store at
    /// all; the two cannot be told apart without the key).
    Encrypted,
}

/// Whether the file at `path` is missing (or empty), a plain SQLite
/// database, or something else (encrypted).
pub fn file_state(path: &Path) -> Result<FileState> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(io_error("read", path, &e)),
    };
    let mut head = [0u8; 16];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("read", path, &e)),
        }
    }
    Ok(match filled {
        0 => FileState::Missing,
        16 if &head == SQLITE_HEADER => FileState::Plain,
        _ => FileState::Encrypted,
    })
}

/// Whether a file that is not plain SQLite has the shape of an encrypted
/// store: a whole number of pages (SQLCipher's are 512 bytes to 64 KiB,
/// powers of two; ours are 4 KiB). Anything else is damaged, whatever the key.
pub(super) fn has_page_shape(path: &Path) -> Result<bool> {
    let len = std::fs::metadata(path)
        .map_err(|e| io_error("read", path, &e))?
        .len();
    Ok(len >= 512 && len % 512 == 0)
}

/// Deletes the store at `path`: the database file, its `-wal`, `-shm` and
/// `-journal` files and the scratch files of an interrupted encryption or
/// rekey. Files that do not exist are fine. (Remote wipe.)
pub fn remove_files(path: &Path) -> Result<()> {
    for file in companions(path)
        .into_iter()
        .chain(scratch_files(path))
        .chain(std::iter::once(path.to_owned()))
    {
        remove_if_present(&file)?;
    }
    sync_dir(path)
}

/// Deletes leftover scratch files (from a crash during an encryption or a
/// rekey). The store itself is complete without them.
pub(super) fn remove_scratch(path: &Path) -> Result<()> {
    for file in scratch_files(path) {
        remove_if_present(&file)?;
    }
    Ok(())
}

/// `<path>-wal`, `<path>-shm`, `<path>-journal`.
fn companions(path: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| with_suffix(path, suffix))
        .collect()
}

/// Every scratch file this module may leave behind for `path`.
fn scratch_files(path: &Path) -> Vec<PathBuf> {
    [ENCRYPTING, REKEY]
        .iter()
        .flat_map(|kind| {
            let scratch = scratch_path(path, kind);
            let mut all = companions(&scratch);
            all.push(scratch);
            all
        })
        .collect()
}

/// `<path>.<kind>`, next to the store (same directory, so the final rename
/// is atomic).
fn scratch_path(path: &Path, kind: &str) -> PathBuf {
    with_suffix(path, &format!(".{kind}"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("delete", path, &e)),
    }
}

/// Syncs the directory holding `path`, so that a rename or deletion in it
/// survives a power cut. (A no-op where directories cannot be opened.)
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync", dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> CoreError {
    CoreError::Corrupt(format!("cannot {what} {}: {e}", path.display()))
}

/// Silences SQLCipher's own logging (it writes decryption failures to
/// stderr by default). Must come before the key.
pub(super) fn quiet(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    Ok(())
}

/// Encrypts the plain store at `path` under `key`, in place and crash-safely
/// (see the module's guarantees). `check` is run on the plain connection
/// first and refuses a file that is not a Fieldwork store.
pub(super) fn encrypt_plain_file(
    path: &Path,
    key: &StoreKey,
    check: impl FnOnce(&Connection) -> Result<()>,
) -> Result<()> {
    // CREATE: an attached database is opened with the main one's flags, and
    // the scratch file does not exist yet (`path` does: it is plain).
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    quiet(&conn)?;
    check(&conn)?;
    let scratch = scratch_path(path, ENCRYPTING);
    let done = quiesce(&conn)
        .and_then(|()| export(&conn, &scratch, key))
        .and_then(|()| install(&scratch, path))
        .and_then(|()| sync_dir(path));
    if done.is_err() {
        // The plain store is untouched (it may have left WAL mode, which the
        // next open restores); the scratch file is worthless.
        drop(conn);
        let _ = remove_scratch(path);
    }
    done
}

/// Re-encrypts the store `conn` has open (the store at `path`) under `key`,
/// crash-safely.
///
/// `Err`: nothing changed and `conn` is back in WAL mode. `Ok(_)`: the file
/// at `path` is under the new key and `conn` still points at the old, now
/// unlinked, file, so the caller must reopen; `Ok(Err(_))` when syncing the
/// directory after the rename failed (the rename may not survive a power
/// cut, but the store is whole under one key or the other).
pub(super) fn rekey_file(conn: &Connection, path: &Path, key: &StoreKey) -> Result<Result<()>> {
    let scratch = scratch_path(path, REKEY);
    remove_scratch(path)?;
    let done = quiesce(conn)
        .and_then(|()| export(conn, &scratch, key))
        .and_then(|()| install(&scratch, path));
    if let Err(e) = done {
        let _ = remove_scratch(path);
        let _ = conn.execute_batch("PRAGMA locking_mode = NORMAL; PRAGMA journal_mode = WAL;");
        return Err(e);
    }
    Ok(sync_dir(path))
}

/// Makes `conn` the only user of its database until it is closed, with
/// everything in the main file: checkpoints and leaves WAL mode (deleting
/// the `-wal` and `-shm` files; refused while another connection has the
/// store open) and takes an exclusive lock that it keeps.
fn quiesce(conn: &Connection) -> Result<()> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy != 0 {
        return Err(CoreError::Storage(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("the store is in use by another connection".into()),
        )));
    }
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(CoreError::Storage(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some(format!("the store stayed in journal mode `{mode}`")),
        )));
    }
    conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")?;
    Ok(())
}

/// Writes a copy of `conn`'s main database, encrypted under `key`, to
/// `scratch` and syncs it to disk.
///
/// `sqlcipher_export` copies the schema (tables, indices, views, triggers,
/// virtual tables such as FTS5) and every row, but none of the header
/// fields set by pragmas: `user_version`, `application_id` and
/// `auto_vacuum` are set here explicitly (the last one before the export,
/// as it only takes effect on an empty database).
fn export(conn: &Connection, scratch: &Path, key: &StoreKey) -> Result<()> {
    let Some(scratch_name) = scratch.to_str() else {
        return Err(CoreError::Corrupt(format!(
            "{} is not a UTF-8 path",
            scratch.display()
        )));
    };
    let pragma =
        |name: &str| -> Result<i64> { Ok(conn.pragma_query_value(None, name, |r| r.get(0))?) };
    let user_version = pragma("user_version")?;
    let application_id = pragma("application_id")?;
    let auto_vacuum = pragma("auto_vacuum")?;
    {
        let literal = key.raw_literal();
        conn.execute(
            &format!("ATTACH DATABASE ?1 AS {EXPORT_SCHEMA} KEY ?2"),
            rusqlite::params![scratch_name, literal.as_str()],
        )?;
    }
    let exported = (|| -> Result<()> {
        // The scratch file needs no journal and no syncs of its own: it is
        // worthless until complete, synced below and renamed.
        conn.execute_batch(&format!(
            "PRAGMA {EXPORT_SCHEMA}.journal_mode = OFF;
             PRAGMA {EXPORT_SCHEMA}.synchronous = OFF;
             PRAGMA {EXPORT_SCHEMA}.auto_vacuum = {auto_vacuum};"
        ))?;
        conn.query_row(
            &format!("SELECT sqlcipher_export('{EXPORT_SCHEMA}')"),
            [],
            |_| Ok(()),
        )?;
        conn.execute_batch(&format!(
            "PRAGMA {EXPORT_SCHEMA}.user_version = {user_version};
             PRAGMA {EXPORT_SCHEMA}.application_id = {application_id};"
        ))?;
        Ok(())
    })();
    let detached = conn.execute_batch(&format!("DETACH DATABASE {EXPORT_SCHEMA}"));
    exported?;
    detached?;
    File::options()
        .read(true)
        .write(true)
        .open(scratch)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("sync", scratch, &e))
}

/// Renames the complete scratch file over the store (the caller then syncs
/// the directory). The store has no `-wal` at this point (see [`quiesce`]);
/// one would be replayed onto the new file, so its absence is checked.
fn install(scratch: &Path, path: &Path) -> Result<()> {
    let wal = with_suffix(path, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(CoreError::Corrupt(format!(
            "{} still exists; the store was not replaced",
            wal.display()
        )));
    }
    std::fs::rename(scratch, path).map_err(|e| io_error("replace", path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_and_never_printed() {
        let key = StoreKey::generate();
        assert_ne!(key.as_bytes(), &[0u8; 32]);
        assert_ne!(StoreKey::generate().as_bytes(), key.as_bytes());
        let copy = StoreKey::from_bytes(key.as_bytes()).expect("32 bytes");
        assert_eq!(copy.as_bytes(), key.as_bytes());
        let shown = format!("{key:?}");
        assert_eq!(shown, "StoreKey(<redacted>)");
        let err = StoreKey::from_bytes(&[1u8; 16]).expect_err("16 bytes");
        assert!(err.to_string().contains("exactly 32 bytes"), "{err}");
        assert!(StoreKey::from_bytes(&[]).is_err());
        assert!(StoreKey::from_bytes(&[0u8; 33]).is_err());
    }

    #[test]
    fn the_raw_literal_is_sqlciphers_hex_form() {
        let key = StoreKey::from_bytes(&[0xab; 32]).expect("key");
        let literal = key.raw_literal();
        assert_eq!(literal.len(), 67);
        assert_eq!(literal.capacity(), 67, "built without reallocating");
        assert_eq!(literal.as_str(), format!("x'{}'", "ab".repeat(32)));
    }

    #[test]
    fn file_states() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        assert_eq!(file_state(&path).expect("state"), FileState::Missing);
        std::fs::write(&path, b"").expect("write");
        assert_eq!(file_state(&path).expect("state"), FileState::Missing);
        std::fs::write(&path, b"SQLite format 3\0rest").expect("write");
        assert_eq!(file_state(&path).expect("state"), FileState::Plain);
        std::fs::write(&path, b"SQLite").expect("write");
        assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
        std::fs::write(&path, [7u8; 4096]).expect("write");
        assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    }

    #[test]
    fn remove_files_deletes_the_store_and_its_companions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        for name in [
            "s.db",
            "s.db-wal",
            "s.db-shm",
            "s.db-journal",
            "s.db.rekey",
            "s.db.encrypting",
            "s.db.encrypting-journal",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        std::fs::write(dir.path().join("other.db"), b"x").expect("write");
        remove_files(&path).expect("remove");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("other.db")]);
        remove_files(&path).expect("nothing left to remove is fine");
    }
}
