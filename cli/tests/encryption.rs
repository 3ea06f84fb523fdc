//! The CLI's device store is encrypted, its key is a private file, and key
//! rotation survives SIGKILL at any instant.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{command, fw, json, ok};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn account_count(data: &Path) -> usize {
    json(data, &["account", "list", "--limit", "1000"])
        .as_array()
        .expect("array")
        .len()
}

#[test]
fn the_store_is_encrypted_and_its_key_is_an_owner_only_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(
        d,
        &[
            "account",
            "add",
            "--name",
            "Pañalera Quintana",
            "--set",
            "email=compras@quintana.example",
        ],
    );

    for entry in std::fs::read_dir(d).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert!(
                !contains(&bytes, "Quintana".as_bytes()),
                "{} holds plaintext",
                path.display()
            );
            assert!(
                !contains(&bytes, b"compras@"),
                "{} holds plaintext",
                path.display()
            );
        }
    }
    let keys = d.join("keys");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("store-key")), 0o600);

    // Another key directory: no key for this store.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = fw(
        d,
        &[
            "--keys",
            elsewhere.path().to_str().expect("utf-8"),
            "account",
            "list",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A wrong key: refused, nothing changed.
    let before = std::fs::read(d.join("device.db")).expect("read");
    let good = std::fs::read(keys.join("store-key")).expect("key");
    std::fs::write(keys.join("store-key"), [9u8; 32]).expect("write");
    let out = fw(d, &["account", "list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not be opened with this key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(d.join("device.db")).expect("read"), before);
    std::fs::write(keys.join("store-key"), good).expect("restore");

    // A key file others can read is refused, as ssh refuses such a key.
    std::fs::set_permissions(
        keys.join("store-key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let out = fw(d, &["account", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0600"));
    std::fs::set_permissions(
        keys.join("store-key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    assert_eq!(account_count(d), 1);
}

#[test]
fn rekey_changes_the_key_file_and_keeps_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(d, &["account", "add", "--name", "Rotación S.L."]);
    let before = std::fs::read(d.join("keys").join("store-key")).expect("key");
    ok(d, &["rekey"]);
    let after = std::fs::read(d.join("keys").join("store-key")).expect("key");
    assert_ne!(before, after);
    assert!(!d.join("keys").join("store-key.next").exists());
    assert_eq!(account_count(d), 1);
}

/// SIGKILL lands at spread-out moments of `fieldwork rekey` (opening,
/// exporting, renaming, promoting the key): afterwards the store always
/// opens, with every record, and `verify` finds nothing wrong.
#[test]
fn kill_9_during_rekey_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    const ACCOUNTS: usize = 30;
    for i in 0..ACCOUNTS {
        ok(
            d,
            &[
                "account",
                "add",
                "--name",
                &format!("Cliente {i:02}"),
                "--set",
                &format!("description={}", "Visita comercial. ".repeat(40)),
            ],
        );
    }
    let mut interrupted = 0;
    for round in 0..16u64 {
        let mut child = command(d, &["rekey"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(round * 7 % 60));
        if child.try_wait().expect("wait").is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert_eq!(account_count(d), ACCOUNTS, "round {round}");
    }
    let verify = json(d, &["verify"]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(!d.join("keys").join("store-key.next").exists());
    assert!(
        interrupted >= 3,
        "only {interrupted} kills landed while rekey ran"
    );
}
