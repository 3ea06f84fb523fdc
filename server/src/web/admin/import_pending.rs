//! Files checked on the import page and kept for the "Import" button
//! ([`super::import`]): the bytes of the last file an administrator
//! checked, under a random token, until they confirm, check another file,
//! or [`TTL`] passes.
//!
//! Why here and not a second upload: a browser cannot fill a file input
//! again, so confirming would mean choosing the file once more, and the
//! rows imported could differ from the rows checked. Keeping the checked
//! bytes makes "Import" write exactly what the preview showed (checked
//! again as it is written).
//!
//! Guarantees:
//! - at most one file per user (a new check replaces the user's previous
//!   one) and at most [`MAX_KEPT`] in all (the oldest is dropped first), so
//!   memory is bounded by [`MAX_KEPT`] × [`fieldwork_core::import::MAX_BYTES`];
//! - a file is handed out only for its token (128 random bits, compared
//!   through SHA-256 digests so that timing tells nothing of it) to the
//!   user who checked it, once: taking it removes it;
//! - a file older than [`TTL`] is never handed out, and is dropped at the
//!   next check or confirmation of anyone.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fieldwork_core::RecordKind;
use fieldwork_core::import::Mapping;
use sha2::{Digest, Sha256};

/// How long a checked file waits for its confirmation.
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// Most files kept at once on one server.
pub const MAX_KEPT: usize = 4;

/// A checked file waiting for its confirmation.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The user who checked it.
    pub user: String,
    /// The kind it imports.
    pub kind: RecordKind,
    /// The file's name as the browser gave it (for people).
    pub file_name: String,
    /// Its bytes.
    pub bytes: Arc<Vec<u8>>,
    /// The mapping it was checked with.
    pub mapping: Mapping,
    /// Whether the valid rows are imported when some are refused.
    pub skip_invalid: bool,
}

/// The files waiting, shared by the web app's handlers.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    kept: Arc<Mutex<Vec<(String, Instant, Checked)>>>,
}

impl Pending {
    /// Keeps `checked` and returns its token; drops the user's previous
    /// file, expired files, and the oldest when [`MAX_KEPT`] are kept.
    pub fn keep(&self, checked: Checked) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        kept.retain(|(_, at, c)| c.user != checked.user && now.duration_since(*at) < TTL);
        while kept.len() >= MAX_KEPT {
            kept.remove(0);
        }
        kept.push((token.clone(), now, checked));
        token
    }

    /// Takes the file kept under `token` for `user`, if it is there and
    /// not expired; it is then no longer kept.
    pub fn take(&self, token: &str, user: &str) -> Option<Checked> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        kept.retain(|(_, at, _)| now.duration_since(*at) < TTL);
        let presented = Sha256::digest(token.as_bytes());
        let at = kept
            .iter()
            .position(|(t, _, c)| Sha256::digest(t.as_bytes()) == presented && c.user == user)?;
        Some(kept.remove(at).2)
    }

    /// How many files are kept (expired ones included until the next
    /// call that drops them).
    pub fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no file is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(user: &str) -> Checked {
        Checked {
            user: user.to_owned(),
            kind: RecordKind::Account,
            file_name: "a.csv".into(),
            bytes: Arc::new(b"name\nUno\n".to_vec()),
            mapping: Mapping::default(),
            skip_invalid: false,
        }
    }

    #[test]
    fn a_file_goes_once_to_its_user_and_memory_stays_bounded() {
        let pending = Pending::default();
        let t = pending.keep(checked("ana"));
        assert_eq!(t.len(), 32);
        assert!(pending.take(&t, "eva").is_none(), "another user");
        assert!(pending.take("0000", "ana").is_none(), "another token");
        assert!(pending.take(&t, "ana").is_some());
        assert!(pending.take(&t, "ana").is_none(), "only once");

        let first = pending.keep(checked("ana"));
        let second = pending.keep(checked("ana"));
        assert_eq!(pending.len(), 1, "one per user");
        assert!(pending.take(&first, "ana").is_none());
        assert!(pending.take(&second, "ana").is_some());

        let oldest = pending.keep(checked("u0"));
        for i in 1..=MAX_KEPT {
            pending.keep(checked(&format!("u{i}")));
        }
        assert_eq!(pending.len(), MAX_KEPT);
        assert!(pending.take(&oldest, "u0").is_none(), "the oldest went");
    }
}
