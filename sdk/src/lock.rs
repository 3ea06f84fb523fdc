//! One open handle per store file: a lock file next to the store.
//!
//! [`Device::open`](crate::Device::open) takes an exclusive advisory lock on
//! `<store>.lock` (std's [`File::try_lock`]: `flock` on Linux, Android and
//! iOS, `LockFileEx` on Windows) *before* it touches the store, and the
//! device keeps it until it is closed, wiped or dropped.
//!
//! Guarantees:
//! - **A second open fails at once, typed, and touches nothing.** Opening a
//!   store that another handle holds, in this process or in another one, is
//!   [`SdkError::StoreInUse`]: it never waits, and the store file, its WAL
//!   and its key are not read or written (two handles on one store would
//!   each run migrations, the process engine and a sync of their own).
//! - **The lock goes with its holder.** It is released when the device is
//!   closed, wiped or dropped, and by the operating system when the process
//!   ends, `kill -9` included: a crash never leaves a store locked. The lock
//!   file itself may stay (it is empty); a wipe deletes it.
//! - Advisory only: a program that does not take the lock (the `fieldwork`
//!   CLI opens stores directly) is not stopped by it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Result, SdkError};

/// The exclusive lock on one store file, held while this value lives.
#[derive(Debug)]
pub struct StoreLock {
    /// The open lock file; closing it releases the lock.
    file: File,
    /// `<store>.lock`.
    path: PathBuf,
}

/// The lock file of the store at `store`: `<store>.lock`.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl StoreLock {
    /// Takes the lock of the store at `store`, creating the lock file if
    /// needed. Never blocks: a store another handle holds is
    /// [`SdkError::StoreInUse`]; a lock file that cannot be created or
    /// locked (a missing directory, no permission) is [`SdkError::Io`].
    pub fn acquire(store: &Path) -> Result<StoreLock> {
        let path = lock_path(store);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SdkError::Io(format!("cannot open `{}`: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { file, path }),
            Err(TryLockError::WouldBlock) => Err(SdkError::StoreInUse {
                path: store.display().to_string(),
            }),
            Err(TryLockError::Error(e)) => Err(SdkError::Io(format!(
                "cannot lock `{}`: {e}",
                path.display()
            ))),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the lock file and then releases the lock (a wipe: nothing of
    /// the store may stay behind). A missing file is fine.
    pub fn remove(self) -> Result<()> {
        let removed = match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SdkError::Io(format!(
                "cannot delete `{}`: {e}",
                self.path.display()
            ))),
        };
        drop(self.file);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_store_is_store_in_use_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("device.db");
        let first = StoreLock::acquire(&store).expect("first lock");
        assert_eq!(first.path(), dir.path().join("device.db.lock"));
        match StoreLock::acquire(&store) {
            Err(SdkError::StoreInUse { path }) => assert!(path.ends_with("device.db"), "{path}"),
            other => panic!("expected StoreInUse, got {other:?}"),
        }
        drop(first);
        let again = StoreLock::acquire(&store).expect("free again once dropped");
        again.remove().expect("remove");
        assert!(!dir.path().join("device.db.lock").exists());
    }

    #[test]
    fn a_lock_file_in_a_missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().expect("dir");
        let store = dir.path().join("missing").join("device.db");
        assert!(
            matches!(StoreLock::acquire(&store), Err(SdkError::Io(_))),
            "a lock file that cannot be created is Io"
        );
    }
}
