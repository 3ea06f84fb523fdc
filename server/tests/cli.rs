//! The `fieldwork-server` binary: admin commands before and while serving,
//! first-start guidance, graceful shutdown.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn server(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldwork-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn ok(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = server(data, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn users_and_policies_are_managed_before_the_server_ever_starts() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    ok(
        d,
        &[
            "user",
            "add",
            "--name",
            "marta",
            "--role",
            "manager",
            "--time-zone",
            "Europe/Madrid",
            "--password-stdin",
        ],
        Some("una clave larga\n"),
    );
    ok(
        d,
        &[
            "user",
            "add",
            "--name",
            "ana",
            "--role",
            "rep",
            "--territory",
            "madrid",
            "--manager",
            "marta",
            "--password-stdin",
        ],
        Some("otra clave larga"),
    );
    let list = ok(d, &["user", "list", "--json"], None);
    let users: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(users[0]["name"], "ana");
    assert_eq!(users[0]["territories"][0], "madrid");
    assert_eq!(users[0]["manager"], "marta");
    // Bad input is refused with a reason and changes nothing.
    for (args, stdin, needle) in [
        (
            vec![
                "user",
                "add",
                "--name",
                "x",
                "--role",
                "pirate",
                "--password-stdin",
            ],
            "long enough pw",
            "role `pirate`",
        ),
        (
            vec![
                "user",
                "add",
                "--name",
                "y",
                "--role",
                "rep",
                "--password-stdin",
            ],
            "short",
            "at least 8",
        ),
        (
            vec![
                "user",
                "add",
                "--name",
                "ana",
                "--role",
                "rep",
                "--password-stdin",
            ],
            "long enough pw",
            "already exists",
        ),
        (
            vec![
                "user",
                "add",
                "--name",
                "z",
                "--role",
                "rep",
                "--manager",
                "nobody",
                "--password-stdin",
            ],
            "long enough pw",
            "manager",
        ),
    ] {
        let out = server(d, &args, Some(stdin));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(d, &["user", "list", "--json"], None))
            .expect("json")
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // An invalid policy is refused with every problem, and revision 1 stays.
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        fieldwork_core::policy::DEFAULT_POLICY_TOML
            .replace("\"tax_id\"", "\"tax_id\", \"colour\"")
            .replace("sees = [\"own\", \"territory\"]\nedits", "sees = []\nedits"),
    )
    .expect("write");
    let out = server(d, &["policy", "set", bad.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`colour` is not a field of account") && err.contains("roles.rep.sees"),
        "{err}"
    );
    assert!(ok(d, &["policy", "show"], None).starts_with("# revision 1"));
    ok(d, &["user", "disable", "ana"], None);
    assert!(ok(d, &["user", "list"], None).contains("(disabled)"));
    ok(
        d,
        &["backup", d.join("copy.db").to_str().expect("utf-8")],
        None,
    );
    assert!(d.join("copy.db").exists());
}

#[test]
fn the_first_start_explains_how_to_add_an_admin_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldwork-server"))
        .arg("--data")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("line");
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut waited = Duration::ZERO;
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            waited < Duration::from_secs(20),
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
        waited += Duration::from_millis(50);
    };
    assert!(code.success(), "graceful exit: {code:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(
        err.contains("user add --name admin --role admin --password-stdin"),
        "{err}"
    );
}
