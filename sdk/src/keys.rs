//! Opening the encrypted device store with the key the app's keystore holds,
//! and re-keying it.
//!
//! Guarantees:
//! - The store is always opened encrypted (SQLCipher, see
//!   `fieldwork_core::store::cipher`). The first open makes a random key and
//!   saves it in the keystore *before* any page is written under it; a plain
//!   store from an older version is encrypted in place, crash-safely.
//! - Re-keying never strands the data: the new key is saved as
//!   [`names::STORE_KEY_NEXT`] before the file is re-encrypted and promoted
//!   to [`names::STORE_KEY`] after, and opening tries the current key, then
//!   the pending one. Whatever instant a crash hits, the next open finds a
//!   key that opens the file and finishes the promotion.
//! - A key that opens nothing is reported as `WrongKey` and changes nothing;
//!   an encrypted store whose keystore holds no key is `KeyRequired`.
//! - A session token left in the database by an older version is moved to
//!   the keystore on open.

use std::path::Path;
use std::sync::Arc;

use fieldwork_core::store::StoreKey;
use fieldwork_core::store::cipher::{FileState, file_state};
use fieldwork_core::{Clock, CoreError, Store};

use crate::error::{Result, SdkError};
use crate::secrets::{SecretStore, names};

/// Opens (creating if needed) the store at `path` with the key `secrets`
/// holds for it (see the module's Guarantees).
pub fn open_store(path: &Path, clock: Arc<dyn Clock>, secrets: &dyn SecretStore) -> Result<Store> {
    let current = load(secrets, names::STORE_KEY)?;
    let pending = load(secrets, names::STORE_KEY_NEXT)?;
    let mut store = match (current, pending) {
        (None, None) => first_open(path, clock, secrets)?,
        (Some(current), pending) => match Store::open_encrypted(path, clock.clone(), &current) {
            Ok(store) => {
                if pending.is_some() {
                    // A re-key that stopped before its rename: the file is
                    // still under the current key.
                    secrets.delete(names::STORE_KEY_NEXT)?;
                }
                store
            }
            Err(CoreError::WrongKey) if pending.is_some() => {
                open_with_pending(path, clock, secrets, pending)?
            }
            Err(e) => return Err(e.into()),
        },
        (None, pending) => open_with_pending(path, clock, secrets, pending)?,
    };
    if let Some(token) = store.take_legacy_token()? {
        secrets.set(names::SESSION_TOKEN, token.as_bytes())?;
    }
    Ok(store)
}

/// Re-encrypts `store` under a new random key (see the module's Guarantees).
pub fn rekey(store: &mut Store, secrets: &dyn SecretStore) -> Result<()> {
    let new = StoreKey::generate();
    secrets.set(names::STORE_KEY_NEXT, new.as_bytes())?;
    if let Err(e) = store.rekey(&new) {
        // The file is complete under the old key; forget the new one. If
        // this fails too, the next open cleans it up.
        let _ = secrets.delete(names::STORE_KEY_NEXT);
        return Err(e.into());
    }
    promote(secrets, &new)
}

/// No key yet: a new store, or a plain one from before encryption.
fn first_open(path: &Path, clock: Arc<dyn Clock>, secrets: &dyn SecretStore) -> Result<Store> {
    if file_state(path)? == FileState::Encrypted {
        // Without a key: `KeyRequired` for an encrypted store, `Corrupt` for
        // a file that cannot be one; the file is not touched either way.
        return Err(Store::open(path, clock)
            .err()
            .unwrap_or(CoreError::KeyRequired)
            .into());
    }
    let key = StoreKey::generate();
    // Saved first: a crash right after leaves a key for a plain or missing
    // file, which the next open simply uses.
    secrets.set(names::STORE_KEY, key.as_bytes())?;
    Ok(Store::open_encrypted(path, clock, &key)?)
}

/// The current key is missing or does not open the file: a re-key renamed
/// the file and stopped before promoting its key.
fn open_with_pending(
    path: &Path,
    clock: Arc<dyn Clock>,
    secrets: &dyn SecretStore,
    pending: Option<StoreKey>,
) -> Result<Store> {
    let Some(pending) = pending else {
        return Err(CoreError::KeyRequired.into());
    };
    let store = Store::open_encrypted(path, clock, &pending)?;
    promote(secrets, &pending)?;
    Ok(store)
}

fn promote(secrets: &dyn SecretStore, key: &StoreKey) -> Result<()> {
    secrets.set(names::STORE_KEY, key.as_bytes())?;
    secrets.delete(names::STORE_KEY_NEXT)?;
    Ok(())
}

fn load(secrets: &dyn SecretStore, name: &str) -> Result<Option<StoreKey>> {
    let Some(mut bytes) = secrets.get(name)? else {
        return Ok(None);
    };
    let key = StoreKey::from_bytes(&bytes);
    let len = bytes.len();
    zeroize::Zeroize::zeroize(&mut bytes);
    key.map(Some).map_err(|_| {
        SdkError::Secrets(crate::secrets::SecretError(format!(
            "the keystore's `{name}` is {len} bytes, not a 32-byte store key"
        )))
    })
}

#[cfg(test)]
mod tests;
