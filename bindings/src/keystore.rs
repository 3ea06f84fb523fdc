//! The app's keystore, implemented in Kotlin, Swift or Python and handed to
//! `FieldworkDevice.open`: it keeps the store's encryption key and the
//! session token, never the database (docs/mobile.md shows the Android
//! Keystore and iOS Keychain versions).

use std::sync::Arc;

use fieldwork_sdk::{SecretError, SecretStore};

/// A keystore failed (locked, unavailable, user authentication needed).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeystoreError {
    /// The keystore could not do what was asked.
    #[error("{detail}")]
    Failed {
        /// What went wrong, for the log.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeystoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeystoreError::Failed { detail: e.reason }
    }
}

/// Where the device keeps its secrets. One keystore serves one store: an
/// app with several stores namespaces the names itself. Values are opaque
/// bytes; `set` must be durable when it returns. Called rarely (open, login,
/// logout, re-key, wipe), on a Fieldwork or the caller's thread.
#[uniffi::export(with_foreign)]
pub trait Keystore: Send + Sync {
    /// The secret stored under `name`, or null.
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, KeystoreError>;
    /// Stores `value` under `name`, replacing any previous value.
    fn set(&self, name: String, value: Vec<u8>) -> Result<(), KeystoreError>;
    /// Removes `name` (removing a missing name succeeds).
    fn delete(&self, name: String) -> Result<(), KeystoreError>;
}

/// The app's keystore seen as the SDK's [`SecretStore`].
pub(crate) struct AppKeystore(pub(crate) Arc<dyn Keystore>);

fn failed(e: KeystoreError) -> SecretError {
    SecretError(e.to_string())
}

impl SecretStore for AppKeystore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        self.0.get(name.to_owned()).map_err(failed)
    }
    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretError> {
        self.0.set(name.to_owned(), value.to_vec()).map_err(failed)
    }
    fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.0.delete(name.to_owned()).map_err(failed)
    }
}
