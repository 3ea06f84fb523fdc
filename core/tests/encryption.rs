//! The encrypted device store (SQLCipher): no plaintext in any file, wrong
//! or missing keys change nothing, plain stores are encrypted in place, and
//! a rekey killed at any moment leaves the store whole under one key.
//!
//! The kill test re-runs its own executable as the rekeying process
//! (`FW_REKEY_CHILD` set), like `crash.rs`.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldwork_core::store::{FileState, StoreKey, file_state, remove_files};
use fieldwork_core::{
    CoreError, FieldWrite, ListQuery, RecordId, RecordKind, Sort, Store, SystemClock,
};

use common::set;

const CHILD_ENV: &str = "FW_REKEY_CHILD";
const LETTERS: [&str; 3] = ["A", "B", "C"];

fn letter_index(letter: &str) -> usize {
    LETTERS
        .iter()
        .position(|l| *l == letter)
        .expect("A, B or C")
}

fn clock() -> Arc<SystemClock> {
    Arc::new(SystemClock)
}

fn open_enc(path: &Path, key: &StoreKey) -> fieldwork_core::Result<Store> {
    Store::open_encrypted(path, clock(), key)
}

fn key_copy(key: &StoreKey) -> StoreKey {
    StoreKey::from_bytes(key.as_bytes()).expect("32 bytes")
}

/// Values that appear nowhere else, and the forms they take in the index
/// (FTS5 keeps tokens lower-cased).
const PLANTED: &[&str] = &[
    "Quillfeather",
    "quillfeather",
    "zorbanex.secreto@quillfeather.example",
    "zorbanex",
    "Xanthippe",
    "xanthippe",
    "Vobiscumqua",
    "vobiscumqua",
    "Ohmbrellic",
    "ohmbrellic",
    "Tintinnabulario",
    "tintinnabulario",
];

/// Writes records holding every planted value, then searches and lists them
/// (so FTS5 and the collation sort run), leaving the store open.
fn plant(store: &mut Store) -> RecordId {
    let account = store
        .create(
            RecordKind::Account,
            vec![
                set("name", "Quillfeather Ohmbrellic S.L."),
                set("email", "zorbanex.secreto@quillfeather.example"),
                set(
                    "description",
                    &"Visita trimestral: el cliente Ohmbrellic pide condiciones nuevas. "
                        .repeat(40),
                ),
            ],
        )
        .expect("account");
    store
        .create(
            RecordKind::Contact,
            vec![
                set("first_name", "Xanthippe"),
                set("last_name", "Vobiscumqua"),
                set("email", "zorbanex.secreto@quillfeather.example"),
                set("account", &account.to_string()),
            ],
        )
        .expect("contact");
    store
        .create(
            RecordKind::Note,
            vec![
                set("title", "Tintinnabulario"),
                set("body", "Nota privada sobre Tintinnabulario y Quillfeather."),
                set("account", &account.to_string()),
            ],
        )
        .expect("note");
    for i in 0..30 {
        store
            .create(
                RecordKind::Contact,
                vec![set("last_name", &format!("Relleno {i}"))],
            )
            .expect("filler");
    }
    let hits = store.search("quillfea", None, 10).expect("search");
    assert!(
        hits.iter().any(|h| h.id == account),
        "search finds the account"
    );
    assert_eq!(store.search("vobiscum", None, 10).expect("search").len(), 1);
    let listed = store
        .list(&ListQuery {
            kind: Some(RecordKind::Contact),
            sort: Sort::Name,
            ..Default::default()
        })
        .expect("list");
    assert!(listed.iter().any(|s| s.title.contains("Vobiscumqua")));
    account
}

/// Every file in `dir` (recursively) with its bytes.
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_in(&path));
        } else {
            let bytes = std::fs::read(&path).expect("read file");
            out.push((path, bytes));
        }
    }
    out
}

/// `(planted value, file)` for every planted value found in a file in `dir`.
fn plaintext_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for (path, bytes) in files_in(dir) {
        for value in PLANTED {
            if bytes.windows(value.len()).any(|w| w == value.as_bytes()) {
                found.push(((*value).to_owned(), path.clone()));
            }
        }
    }
    found
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn scratch_files(dir: &Path) -> Vec<String> {
    names_in(dir)
        .into_iter()
        .filter(|n| n.contains(".rekey") || n.contains(".encrypting"))
        .collect()
}

#[test]
fn encrypted_store_files_hold_no_plaintext_while_a_plain_store_does() {
    // Control: the scan does find the values in a plain store.
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let mut plain = Store::open(&plain_dir.path().join("device.db"), clock()).expect("open");
    plant(&mut plain);
    let found = plaintext_in(plain_dir.path());
    for value in PLANTED {
        assert!(
            found.iter().any(|(v, _)| v == value),
            "control: `{value}` should be readable in the plain store ({found:?})"
        );
    }
    drop(plain);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let key = StoreKey::generate();
    let mut store = open_enc(&path, &key).expect("open encrypted");
    plant(&mut store);
    // The connection is still open: the WAL holds the recent pages.
    let names = names_in(dir.path());
    assert!(names.contains(&"device.db-wal".to_owned()), "{names:?}");
    assert!(names.contains(&"device.db-shm".to_owned()), "{names:?}");
    let wal_len = std::fs::metadata(dir.path().join("device.db-wal"))
        .expect("wal")
        .len();
    assert!(wal_len > 4096, "the WAL holds frames ({wal_len} bytes)");
    assert_eq!(
        plaintext_in(dir.path()),
        Vec::<(String, PathBuf)>::new(),
        "no planted value may be readable in any file ({names:?})"
    );
    // The key itself is not in any file either.
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    for (file, bytes) in files_in(dir.path()) {
        assert!(
            !bytes.windows(32).any(|w| w == key.as_bytes()),
            "raw key in {}",
            file.display()
        );
        assert!(
            !bytes.windows(64).any(|w| w == hex.as_bytes()),
            "hex key in {}",
            file.display()
        );
    }
    assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    drop(store);
    assert_eq!(plaintext_in(dir.path()), Vec::<(String, PathBuf)>::new());
}

#[test]
fn the_right_key_opens_a_wrong_or_missing_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let key = StoreKey::generate();
    let id = {
        let mut s = open_enc(&path, &key).expect("create");
        let id = plant(&mut s);
        assert_eq!(s.count(RecordKind::Contact).expect("count"), 31);
        id
    };
    let before = std::fs::read(&path).expect("read");
    let names_before = names_in(dir.path());

    let wrong = StoreKey::generate();
    let err = open_enc(&path, &wrong).expect_err("wrong key");
    assert!(matches!(err, CoreError::WrongKey), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the store could not be opened with this key"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "wrong key: bytes unchanged"
    );

    let err = Store::open(&path, clock()).expect_err("no key");
    assert!(matches!(err, CoreError::KeyRequired), "{err:?}");
    assert!(err.to_string().contains("encrypted"), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "no key: bytes unchanged"
    );
    assert_eq!(
        names_in(dir.path()),
        names_before,
        "no file created or left"
    );

    assert_eq!(CoreError::WRONG_KEY, "wrong_key");
    assert_eq!(CoreError::KEY_REQUIRED, "key_required");

    let mut s = open_enc(&path, &key_copy(&key)).expect("right key");
    let account = s.get(&id).expect("account");
    assert_eq!(account.text("name"), Some("Quillfeather Ohmbrellic S.L."));
    assert_eq!(s.count(RecordKind::Contact).expect("count"), 31);
    assert_eq!(s.count(RecordKind::Note).expect("count"), 1);
    assert_eq!(s.search("tintinnab", None, 10).expect("search").len(), 1);
    assert!(s.verify().expect("verify").is_empty());
}

#[test]
fn a_wrong_key_leaves_a_crashed_stores_wal_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.db");
    let key = StoreKey::generate();
    let mut s = open_enc(&live, &key).expect("create");
    plant(&mut s);
    // A snapshot of the files while the store is open is what a crash leaves.
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&live, &crashed).expect("copy db");
    std::fs::copy(
        dir.path().join("live.db-wal"),
        dir.path().join("crashed.db-wal"),
    )
    .expect("copy wal");
    drop(s);
    let db = std::fs::read(&crashed).expect("read");
    let wal = std::fs::read(dir.path().join("crashed.db-wal")).expect("read");
    assert!(wal.len() > 4096);

    let err = open_enc(&crashed, &StoreKey::generate()).expect_err("wrong key");
    assert!(matches!(err, CoreError::WrongKey), "{err:?}");
    assert_eq!(std::fs::read(&crashed).expect("read"), db, "db unchanged");
    assert_eq!(
        std::fs::read(dir.path().join("crashed.db-wal")).expect("read"),
        wal,
        "the WAL was neither checkpointed nor deleted"
    );

    // Why the store closes a wrongly keyed connection without a checkpoint:
    // plain SQLCipher, closing the last connection, copies the (still
    // encrypted) WAL frames into the database file and deletes the WAL.
    let raw = rusqlite::Connection::open(&crashed).expect("sqlite");
    raw.execute_batch("PRAGMA cipher_log_level = NONE;")
        .expect("quiet");
    raw.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "00".repeat(32)))
        .expect("key");
    assert!(
        raw.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
            .is_err()
    );
    drop(raw);
    let wal_after = std::fs::read(dir.path().join("crashed.db-wal")).unwrap_or_default();
    eprintln!(
        "raw SQLCipher, wrong key, close: db changed: {}, WAL {} -> {} bytes",
        std::fs::read(&crashed).expect("read") != db,
        wal.len(),
        wal_after.len()
    );
    if wal_after != wal {
        // Put the crash state back for the check below.
        std::fs::write(&crashed, &db).expect("restore db");
        std::fs::write(dir.path().join("crashed.db-wal"), &wal).expect("restore wal");
    }

    let mut s = open_enc(&crashed, &key).expect("right key recovers the WAL");
    assert_eq!(s.count(RecordKind::Contact).expect("count"), 31);
    assert!(s.verify().expect("verify").is_empty());
}

#[test]
fn a_file_that_is_not_a_store_is_still_refused_as_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("junk.db");
    std::fs::write(&path, b"this is not sqlite at all, just text").expect("write");
    let key = StoreKey::generate();
    let err = open_enc(&path, &key).expect_err("junk");
    assert!(
        matches!(&err, CoreError::Corrupt(m) if m.contains("not a Fieldwork store")),
        "{err:?}"
    );
    let err = Store::open(&path, clock()).expect_err("junk");
    assert!(matches!(&err, CoreError::Corrupt(_)), "{err:?}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"this is not sqlite at all, just text"
    );
}

#[test]
fn a_plain_store_is_encrypted_in_place_keeping_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let (id, ids, device_id) = {
        let mut s = Store::open(&path, clock()).expect("plain");
        s.set_locale("es").expect("locale");
        let id = plant(&mut s);
        let ids = s
            .import(
                RecordKind::Account,
                (0..200)
                    .map(|i| vec![FieldWrite::set("name", format!("Cuenta {i:03}"))])
                    .collect(),
            )
            .expect("import");
        // What a crash leaves: a plain store with a WAL not yet checkpointed.
        std::fs::copy(&path, dir.path().join("crashed.db")).expect("copy");
        std::fs::copy(
            dir.path().join("device.db-wal"),
            dir.path().join("crashed.db-wal"),
        )
        .expect("copy wal");
        (id, ids, s.device_id().to_owned())
    };
    let crashed = dir.path().join("crashed.db");
    assert!(
        std::fs::metadata(dir.path().join("crashed.db-wal"))
            .expect("wal")
            .len()
            > 0
    );
    let c = open_enc(&crashed, &StoreKey::generate()).expect("migrate a crashed plain store");
    assert_eq!(c.count(RecordKind::Account).expect("count"), 201);
    assert_eq!(c.search("vobiscum", None, 10).expect("search").len(), 1);
    drop(c);
    remove_files(&crashed).expect("remove");
    // A crash during an earlier attempt left a scratch file behind.
    std::fs::write(dir.path().join("device.db.encrypting"), b"half an export").expect("stale");
    std::fs::write(dir.path().join("device.db.rekey"), b"half a rekey").expect("stale");
    assert_eq!(file_state(&path).expect("state"), FileState::Plain);
    assert!(
        !plaintext_in(dir.path()).is_empty(),
        "control: plaintext before"
    );

    let key = StoreKey::generate();
    let mut s = open_enc(&path, &key).expect("migrate");
    assert_eq!(file_state(&path).expect("state"), FileState::Encrypted);
    assert_eq!(scratch_files(dir.path()), Vec::<String>::new());
    assert_eq!(s.device_id(), device_id, "same store, same device");
    assert_eq!(s.locale(), "es");
    assert_eq!(s.count(RecordKind::Account).expect("count"), 201);
    assert_eq!(s.count(RecordKind::Contact).expect("count"), 31);
    for id in ids.iter().step_by(37) {
        assert!(
            s.get(id)
                .expect("get")
                .text("name")
                .is_some_and(|n| n.starts_with("Cuenta "))
        );
    }
    assert_eq!(
        s.get(&id).expect("get").text("name"),
        Some("Quillfeather Ohmbrellic S.L.")
    );
    assert_eq!(s.search("ohmbrel", None, 10).expect("search").len(), 1);
    assert_eq!(s.search("quillfea", None, 10).expect("search").len(), 3);
    let first = s
        .list(&ListQuery {
            kind: Some(RecordKind::Account),
            sort: Sort::Name,
            limit: Some(3),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(first[0].title, "Cuenta 000");
    assert!(s.verify().expect("verify").is_empty());
    // New writes go to the encrypted store.
    s.create(RecordKind::Account, vec![set("name", "Después")])
        .expect("write after migration");
    assert_eq!(plaintext_in(dir.path()), Vec::<(String, PathBuf)>::new());
    drop(s);
    assert_eq!(plaintext_in(dir.path()), Vec::<(String, PathBuf)>::new());

    // The header fields sqlcipher_export does not copy were carried over.
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")
        .expect("quiet");
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
        .expect("key");
    let pragma = |name: &str| -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0))
            .expect("pragma")
    };
    assert_eq!(pragma("application_id"), 0x4657_4B31);
    assert!(pragma("user_version") >= 5);
    assert_eq!(pragma("auto_vacuum"), 2, "incremental");
    drop(conn);
    assert!(matches!(
        Store::open(&path, clock()),
        Err(CoreError::KeyRequired)
    ));
}

#[test]
fn a_foreign_plain_database_is_not_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .expect("foreign db");
    drop(conn);
    let before = std::fs::read(&path).expect("read");
    let err = open_enc(&path, &StoreKey::generate()).expect_err("foreign");
    assert!(err.to_string().contains("not a Fieldwork store"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(names_in(dir.path()), vec!["other.db".to_owned()]);
}

#[test]
fn rekey_switches_keys_and_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let a = StoreKey::generate();
    let b = StoreKey::generate();
    let mut s = open_enc(&path, &a).expect("create");
    let id = plant(&mut s);
    s.set_locale("hu").expect("locale");
    s.rekey(&b).expect("rekey");
    // The same handle carries on under the new key.
    assert_eq!(s.locale(), "hu");
    assert_eq!(s.count(RecordKind::Contact).expect("count"), 31);
    let id2 = s
        .create(RecordKind::Account, vec![set("name", "Tras el cambio")])
        .expect("write after rekey");
    assert_eq!(plaintext_in(dir.path()), Vec::<(String, PathBuf)>::new());
    drop(s);
    assert_eq!(scratch_files(dir.path()), Vec::<String>::new());

    assert!(matches!(open_enc(&path, &a), Err(CoreError::WrongKey)));
    let mut s = open_enc(&path, &b).expect("new key");
    assert!(s.get(&id).is_ok() && s.get(&id2).is_ok());
    assert!(s.verify().expect("verify").is_empty());
    drop(s);

    // A plain store can be rekeyed into an encrypted one.
    let plain = dir.path().join("plain.db");
    let mut s = Store::open(&plain, clock()).expect("plain");
    let id = plant(&mut s);
    s.rekey(&a).expect("encrypt by rekey");
    assert!(s.get(&id).is_ok());
    drop(s);
    assert!(matches!(
        Store::open(&plain, clock()),
        Err(CoreError::KeyRequired)
    ));
    assert!(open_enc(&plain, &a).expect("a").get(&id).is_ok());
}

#[test]
fn rekey_is_refused_while_the_store_is_open_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let a = StoreKey::generate();
    let mut s = open_enc(&path, &a).expect("create");
    plant(&mut s);
    let other = open_enc(&path, &key_copy(&a)).expect("second handle");
    let started = Instant::now();
    let err = s.rekey(&StoreKey::generate()).expect_err("in use");
    assert!(matches!(err, CoreError::Storage(_)), "{err:?}");
    eprintln!("refused after {:?}: {err}", started.elapsed());
    assert_eq!(scratch_files(dir.path()), Vec::<String>::new());
    // Both handles still work, under the old key.
    assert_eq!(other.count(RecordKind::Contact).expect("count"), 31);
    s.create(RecordKind::Account, vec![set("name", "Sigue")])
        .expect("still writable");
    drop(other);
    drop(s);
    assert!(open_enc(&path, &a).is_ok());
}

#[test]
fn remove_files_wipes_an_open_stores_directory_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let key = StoreKey::generate();
    let mut s = open_enc(&path, &key).expect("create");
    plant(&mut s);
    drop(s);
    std::fs::write(dir.path().join("device.db.rekey"), b"stale").expect("stale");
    remove_files(&path).expect("wipe");
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
    assert_eq!(file_state(&path).expect("state"), FileState::Missing);
}

/// What `sqlcipher_export` copies, on its own (why the store copies header
/// fields itself), and the build's temp-store default.
#[test]
fn sqlcipher_export_copies_schema_and_rows_but_not_header_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = rusqlite::Connection::open(dir.path().join("plain.db")).expect("sqlite");
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL;
         PRAGMA user_version = 5;
         PRAGMA application_id = 77;
         CREATE TABLE t(x);
         INSERT INTO t VALUES ('hello');
         CREATE VIRTUAL TABLE f USING fts5(body);
         INSERT INTO f VALUES ('hola mundo');",
    )
    .expect("plain");
    let enc = dir.path().join("enc.db");
    conn.execute(
        "ATTACH DATABASE ?1 AS enc KEY ?2",
        rusqlite::params![
            enc.to_str().expect("utf-8"),
            format!("x'{}'", "7a".repeat(32))
        ],
    )
    .expect("attach");
    conn.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(()))
        .expect("export");
    conn.execute_batch("DETACH DATABASE enc").expect("detach");
    // A fresh connection: the exporting one does not see the virtual
    // tables sqlcipher_export wrote straight into the schema table.
    let fresh = rusqlite::Connection::open(&enc).expect("open export");
    fresh
        .execute_batch(&format!("PRAGMA key = \"x'{}'\";", "7a".repeat(32)))
        .expect("key");
    let pragma = |name: &str| -> i64 {
        fresh
            .pragma_query_value(None, name, |r| r.get(0))
            .expect("pragma")
    };
    let copied = (
        pragma("user_version"),
        pragma("application_id"),
        pragma("auto_vacuum"),
    );
    eprintln!("after sqlcipher_export: (user_version, application_id, auto_vacuum) = {copied:?}");
    let rows: i64 = fresh
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("rows");
    let hits: i64 = fresh
        .query_row("SELECT count(*) FROM f WHERE f MATCH 'mundo'", [], |r| {
            r.get(0)
        })
        .expect("fts");
    assert_eq!((rows, hits), (1, 1), "rows and FTS5 tables are copied");
    assert_eq!(
        copied,
        (0, 0, 0),
        "user_version, application_id and auto_vacuum are not copied"
    );

    let options: Vec<String> = conn
        .prepare("PRAGMA compile_options")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("options");
    assert!(options.iter().any(|o| o == "TEMP_STORE=2"), "{options:?}");
    assert!(options.iter().any(|o| o == "HAS_CODEC"), "{options:?}");
}

/// The rekeying process of the kill test: opens the store with the current
/// key and rotates A → B → C → A forever, printing each completed switch.
#[test]
fn rekey_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return; // Only does something when started by the parent test.
    };
    let key = |var: &str| {
        let hex = std::env::var(var).expect("key var");
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        StoreKey::from_bytes(&bytes).expect("key")
    };
    let keys = [key("FW_KEY_A"), key("FW_KEY_B"), key("FW_KEY_C")];
    let mut current = letter_index(&std::env::var("FW_KEY_CURRENT").expect("current"));
    let mut s = Store::open_encrypted(Path::new(&path), clock(), &keys[current]).expect("open");
    println!("opened {}", LETTERS[current]);
    loop {
        let next = (current + 1) % keys.len();
        s.rekey(&keys[next]).expect("rekey");
        current = next;
        println!("now {}", LETTERS[current]);
    }
}

#[test]
fn kill_9_during_rekey_leaves_the_whole_store_under_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let keys = [
        StoreKey::generate(),
        StoreKey::generate(),
        StoreKey::generate(),
    ];
    let hex =
        |k: &StoreKey| -> String { k.as_bytes().iter().map(|b| format!("{b:02x}")).collect() };
    let records = 3_000usize;
    let ids = {
        let mut s = open_enc(&path, &keys[0]).expect("create");
        let mut ids = Vec::new();
        for chunk in 0..(records / 500) {
            ids.extend(
                s.import(
                    RecordKind::Account,
                    (0..500)
                        .map(|i| {
                            let n = chunk * 500 + i;
                            vec![
                                FieldWrite::set("name", format!("Cuenta {n:05}")),
                                FieldWrite::set("email", format!("c{n}@cliente.example.es")),
                                FieldWrite::set("description", "Notas de la visita. ".repeat(10)),
                            ]
                        })
                        .collect(),
                )
                .expect("import"),
            );
        }
        ids
    };
    let exe = std::env::current_exe().expect("exe");
    let mut current = 0usize;
    let mut hit_scratch = 0;
    let rounds = 6u64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", &common::test_name(module_path!(), "rekey_child")])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env("FW_KEY_A", hex(&keys[0]))
            .env("FW_KEY_B", hex(&keys[1]))
            .env("FW_KEY_C", hex(&keys[2]))
            .env("FW_KEY_CURRENT", LETTERS[current])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(7)
            ^ round.wrapping_mul(0x9E37_79B9);
        // Kill after 1 to 3 completed rekeys, plus a random part of the next.
        let after = 1 + (seed % 3) as usize;
        let mut lines = BufReader::new(stdout).lines();
        let mut switched: Vec<usize> = Vec::new();
        let mut last = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut interval = Duration::from_millis(50);
        while switched.len() < after && Instant::now() < deadline {
            let Some(line) = lines.next() else { break };
            let line = line.expect("line");
            if let Some(k) = line.strip_prefix("now ") {
                switched.push(letter_index(k));
                interval = last.elapsed();
                last = Instant::now();
            }
        }
        assert_eq!(switched.len(), after, "the child rekeyed too little");
        let fraction = (seed >> 8) % 1000;
        std::thread::sleep(interval * fraction as u32 / 1000);
        child.kill().expect("kill -9");
        // Whatever the child printed before dying counts as completed.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(k) = line.strip_prefix("now ") {
                switched.push(letter_index(k));
            }
        }
        child.wait().expect("reap");
        let printed = *switched.last().expect("one switch at least");
        if !scratch_files(dir.path()).is_empty() {
            hit_scratch += 1;
        }

        let opens: Vec<bool> = keys
            .iter()
            .map(|k| match open_enc(&path, k) {
                Ok(_) => true,
                Err(CoreError::WrongKey) => false,
                Err(e) => panic!("round {round}: unexpected error {e}"),
            })
            .collect();
        assert_eq!(
            scratch_files(dir.path()),
            Vec::<String>::new(),
            "the next open removes scratch files"
        );
        assert_eq!(
            opens.iter().filter(|o| **o).count(),
            1,
            "round {round}: exactly one key opens the store ({opens:?})"
        );
        current = opens.iter().position(|o| *o).expect("one opens");
        assert!(
            current == printed || current == (printed + 1) % keys.len(),
            "round {round}: under {}, but the last reported key was {} (or the next)",
            LETTERS[current],
            LETTERS[printed]
        );
        eprintln!(
            "round {round}: killed after {} rekeys (+{}‰ of {interval:?}); store under {}, last printed {}",
            switched.len(),
            fraction,
            LETTERS[current],
            LETTERS[printed]
        );
        let mut s = open_enc(&path, &keys[current]).expect("reopen");
        assert_eq!(s.count(RecordKind::Account).expect("count"), records);
        for id in ids.iter().step_by(271) {
            let r = s.get(id).unwrap_or_else(|e| panic!("{id} lost: {e}"));
            assert!(r.text("name").is_some_and(|n| n.starts_with("Cuenta ")));
        }
        assert_eq!(s.search("cuenta", None, 5).expect("search").len(), 5);
        if round == rounds - 1 {
            assert!(s.verify().expect("verify").is_empty());
        }
    }
    eprintln!("{hit_scratch} of {rounds} kills left a scratch file to clean");
}
