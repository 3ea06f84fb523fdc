//! The key protocol under every interruption we can stage without killing
//! the process (core/tests/encryption.rs kills a re-key with SIGKILL).

use std::sync::{Arc, Mutex};

use fieldwork_core::store::StoreKey;
use fieldwork_core::store::cipher::{FileState, file_state};
use fieldwork_core::{Clock, CoreError, FieldValue, FieldWrite, RecordKind, Store, SystemClock};

use super::{open_store, rekey};
use crate::error::SdkError;
use crate::secrets::{MemorySecrets, SecretError, SecretStore, names};

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn account(store: &mut Store, name: &str) {
    store
        .create(
            RecordKind::Account,
            vec![FieldWrite::set("name", FieldValue::Text(name.into()))],
        )
        .expect("create");
}

fn names_of(store: &Store) -> Vec<String> {
    store
        .list(&fieldwork_core::ListQuery {
            kind: Some(RecordKind::Account),
            ..Default::default()
        })
        .expect("list")
        .into_iter()
        .map(|s| s.title)
        .collect()
}

fn key_of(secrets: &dyn SecretStore, name: &str) -> Option<Vec<u8>> {
    secrets.get(name).expect("get")
}

/// Fails `set(name)` once armed, as a keystore that is locked or a process
/// that dies between two keystore writes.
struct FailingSet {
    inner: MemorySecrets,
    fail_on: Mutex<Option<&'static str>>,
}

impl SecretStore for FailingSet {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        self.inner.get(name)
    }
    fn set(&self, name: &str, value: &[u8]) -> Result<(), SecretError> {
        if *self.fail_on.lock().expect("lock") == Some(name) {
            return Err(SecretError("keystore locked".into()));
        }
        self.inner.set(name, value)
    }
    fn delete(&self, name: &str) -> Result<(), SecretError> {
        self.inner.delete(name)
    }
}

#[test]
fn the_first_open_makes_a_key_in_the_keystore_and_encrypts_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let secrets = MemorySecrets::new();
    let mut store = open_store(&path, clock(), &secrets).expect("open");
    account(&mut store, "Olmos y Cía");
    drop(store);
    assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    assert_eq!(
        key_of(&secrets, names::STORE_KEY).map(|k| k.len()),
        Some(32)
    );

    let store = open_store(&path, clock(), &secrets).expect("reopen");
    assert_eq!(names_of(&store), ["Olmos y Cía"]);
}

#[test]
fn a_plain_store_is_encrypted_on_first_open_and_its_token_moves_to_the_keystore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    {
        let mut plain = Store::open(&path, clock()).expect("plain");
        account(&mut plain, "Vieja Tienda");
    }
    // A session as an older version wrote it, token included.
    assert!(write_legacy_session(&path), "legacy session written");
    assert_eq!(file_state(&path).expect("state"), FileState::Plain);

    let secrets = MemorySecrets::new();
    let mut store = open_store(&path, clock(), &secrets).expect("open");
    assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    assert_eq!(names_of(&store), ["Vieja Tienda"]);
    assert_eq!(
        key_of(&secrets, names::SESSION_TOKEN).as_deref(),
        Some(&b"legacy-token"[..])
    );
    assert_eq!(
        store.take_legacy_token().expect("take"),
        None,
        "removed from the database"
    );
}

/// Writes a session as a version before the keystore did: token included.
fn write_legacy_session(path: &std::path::Path) -> bool {
    let mut store = Store::open(path, clock()).expect("plain");
    let policy = fieldwork_core::Policy::shipped_default();
    store
        .set_sign_in(&fieldwork_core::store::SignIn {
            server: "http://127.0.0.1:1".into(),
            transport: Default::default(),
            user: fieldwork_core::UserContext {
                name: "ana".into(),
                role: "rep".into(),
                territories: vec!["north".into()],
                team: vec![],
            },
            policy: policy.source().to_owned(),
            policy_revision: 1,
        })
        .expect("session");
    drop(store);
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    conn.execute(
        "UPDATE meta SET value = json_set(value, '$.token', 'legacy-token') WHERE key = 'session'",
        [],
    )
    .expect("patch")
        == 1
}

#[test]
fn a_wrong_or_missing_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let secrets = MemorySecrets::new();
    drop(open_store(&path, clock(), &secrets).expect("open"));
    let before = std::fs::read(&path).expect("read");

    let empty = MemorySecrets::new();
    assert!(matches!(
        open_store(&path, clock(), &empty),
        Err(SdkError::Core(CoreError::KeyRequired))
    ));
    let stranger = MemorySecrets::new();
    stranger
        .set(names::STORE_KEY, StoreKey::generate().as_bytes())
        .expect("set");
    assert!(matches!(
        open_store(&path, clock(), &stranger),
        Err(SdkError::Core(CoreError::WrongKey))
    ));
    let short = MemorySecrets::new();
    short.set(names::STORE_KEY, &[1, 2, 3]).expect("set");
    assert!(matches!(
        open_store(&path, clock(), &short),
        Err(SdkError::Secrets(_))
    ));
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn rekey_replaces_the_key_and_the_old_one_stops_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let secrets = MemorySecrets::new();
    let mut store = open_store(&path, clock(), &secrets).expect("open");
    account(&mut store, "Antes");
    let old = key_of(&secrets, names::STORE_KEY).expect("key");
    rekey(&mut store, &secrets).expect("rekey");
    account(&mut store, "Después");
    drop(store);

    let new = key_of(&secrets, names::STORE_KEY).expect("key");
    assert_ne!(old, new);
    assert_eq!(key_of(&secrets, names::STORE_KEY_NEXT), None);
    let old_key = StoreKey::from_bytes(&old).expect("old");
    assert!(matches!(
        Store::open_encrypted(&path, clock(), &old_key),
        Err(CoreError::WrongKey)
    ));
    let store = open_store(&path, clock(), &secrets).expect("reopen");
    assert_eq!(names_of(&store), ["Antes", "Después"]);
}

#[test]
fn a_rekey_interrupted_before_its_key_was_promoted_finishes_at_the_next_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let secrets = FailingSet {
        inner: MemorySecrets::new(),
        fail_on: Mutex::new(None),
    };
    let mut store = open_store(&path, clock(), &secrets).expect("open");
    account(&mut store, "Superviviente");
    let old = key_of(&secrets, names::STORE_KEY).expect("key");
    // The file is re-encrypted, then the keystore refuses the promotion.
    *secrets.fail_on.lock().expect("lock") = Some(names::STORE_KEY);
    assert!(rekey(&mut store, &secrets).is_err());
    drop(store);
    *secrets.fail_on.lock().expect("lock") = None;
    assert_eq!(key_of(&secrets, names::STORE_KEY), Some(old.clone()));
    let pending = key_of(&secrets, names::STORE_KEY_NEXT).expect("pending key kept");

    let store = open_store(&path, clock(), &secrets).expect("reopen with the pending key");
    assert_eq!(names_of(&store), ["Superviviente"]);
    assert_eq!(key_of(&secrets, names::STORE_KEY), Some(pending));
    assert_eq!(key_of(&secrets, names::STORE_KEY_NEXT), None);
}

#[test]
fn a_rekey_interrupted_before_its_rename_leaves_the_current_key_in_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let secrets = MemorySecrets::new();
    let mut store = open_store(&path, clock(), &secrets).expect("open");
    account(&mut store, "Intacta");
    drop(store);
    let current = key_of(&secrets, names::STORE_KEY).expect("key");
    // As if the process died after saving the pending key.
    secrets
        .set(names::STORE_KEY_NEXT, StoreKey::generate().as_bytes())
        .expect("set");

    let store = open_store(&path, clock(), &secrets).expect("reopen");
    assert_eq!(names_of(&store), ["Intacta"]);
    assert_eq!(key_of(&secrets, names::STORE_KEY), Some(current));
    assert_eq!(key_of(&secrets, names::STORE_KEY_NEXT), None);
}
