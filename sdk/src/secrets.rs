//! Where a device keeps its secrets: the store's encryption key and the
//! session token. Never in the database.
//!
//! The app supplies a [`SecretStore`]: on Android one backed by the Android
//! Keystore, on iOS by the Keychain (see docs/mobile.md), in the CLI a
//! directory of owner-only files ([`FileSecrets`]). One `SecretStore` serves
//! one device store; an app with several stores gives each its own.
//!
//! Guarantees:
//! - The SDK reads and writes only the names in [`names`]; values are opaque
//!   bytes to the secret store.
//! - [`FileSecrets`] writes each secret atomically (scratch file, fsync,
//!   rename) with mode 0600 in a 0700 directory, and refuses to read a
//!   secret that other users could read.
//! - Nothing here logs a secret, and `Debug` never prints one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The names the SDK stores secrets under.
pub mod names {
    /// The device store's encryption key (32 bytes).
    pub const STORE_KEY: &str = "store-key";
    /// A key a re-key is moving to; promoted to [`STORE_KEY`] when done.
    pub const STORE_KEY_NEXT: &str = "store-key.next";
    /// The session token (UTF-8).
    pub const SESSION_TOKEN: &str = "session-token";
    /// Every name, for wiping.
    pub const ALL: [&str; 3] = [STORE_KEY, STORE_KEY_NEXT, SESSION_TOKEN];
}

/// A secret store failed (the platform keystore is locked, a file is
/// unreadable or too widely readable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// The app's keystore, as the SDK sees it. Implementations must be
/// thread-safe; calls are rare (open, login, logout, re-key, wipe).
pub trait SecretStore: Send + Sync {
    /// The secret stored under `name`, if any.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError>;
    /// Stores `value` under `name`, durably, replacing any previous value.
    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretError>;
    /// Removes `name`; removing a missing name is not an error.
    fn delete(&self, name: &str) -> Result<(), SecretError>;
}

/// Secrets in memory only: for tests, and for an app that re-derives its
/// secrets at every start.
#[derive(Default)]
pub struct MemorySecrets {
    values: Mutex<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for MemorySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySecrets").finish_non_exhaustive()
    }
}

impl MemorySecrets {
    /// An empty secret store.
    pub fn new() -> MemorySecrets {
        MemorySecrets::default()
    }

    fn values(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        Ok(self.values().get(name).cloned())
    }
    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretError> {
        self.values().insert(name.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.values().remove(name);
        Ok(())
    }
}

/// Secrets as files in a directory only the owner may enter (0700), one
/// file per name (0600). The CLI's key file: a stolen copy of the store
/// without this directory is unreadable.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    dir: PathBuf,
}

impl FileSecrets {
    /// Secrets in `dir` (created with mode 0700 on first write).
    pub fn new(dir: impl Into<PathBuf>) -> FileSecrets {
        FileSecrets { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf, SecretError> {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            && !name.starts_with('.');
        if !ok {
            return Err(SecretError(format!("`{name}` is not a secret name")));
        }
        Ok(self.dir.join(name))
    }

    fn ensure_dir(&self) -> Result<(), SecretError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        restrict(&self.dir, 0o700)
    }
}

impl SecretStore for FileSecrets {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        let path = self.path(name)?;
        match std::fs::read(&path) {
            Ok(bytes) => {
                check_private(&path)?;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretError> {
        let path = self.path(name)?;
        self.ensure_dir()?;
        let scratch = self.dir.join(format!(".{name}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&scratch).map_err(|e| io(&scratch, e))?;
        restrict(&scratch, 0o600)?;
        file.write_all(value).map_err(|e| io(&scratch, e))?;
        file.sync_all().map_err(|e| io(&scratch, e))?;
        drop(file);
        std::fs::rename(&scratch, &path).map_err(|e| io(&path, e))?;
        sync_dir(&self.dir)
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> SecretError {
    SecretError(format!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<(), SecretError> {
    Ok(())
}

/// Refuses a secret file that anyone but its owner may read or write, as
/// ssh does with private keys: it may already have leaked.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| io(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SecretError(format!(
            "{} is accessible to other users (mode {:o}); it must be 0600",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), SecretError> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SecretError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), SecretError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secrets_round_trip_with_private_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = FileSecrets::new(dir.path().join("keys"));
        assert_eq!(secrets.get(names::STORE_KEY), Ok(None));
        secrets.set(names::STORE_KEY, &[7; 32]).expect("set");
        assert_eq!(secrets.get(names::STORE_KEY), Ok(Some(vec![7; 32])));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("keys")), 0o700);
            assert_eq!(mode(&dir.path().join("keys").join(names::STORE_KEY)), 0o600);
        }
        secrets.delete(names::STORE_KEY).expect("delete");
        secrets.delete(names::STORE_KEY).expect("delete twice");
        assert_eq!(secrets.get(names::STORE_KEY), Ok(None));
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_secret_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = FileSecrets::new(dir.path());
        secrets.set(names::SESSION_TOKEN, b"t").expect("set");
        let file = dir.path().join(names::SESSION_TOKEN);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = secrets.get(names::SESSION_TOKEN).expect_err("must refuse");
        assert!(err.0.contains("0600"), "{err}");
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let secrets = FileSecrets::new("/nonexistent");
        for bad in ["../x", "a/b", "", ".hidden"] {
            assert!(secrets.get(bad).is_err(), "{bad}");
        }
    }
}
