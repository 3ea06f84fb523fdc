//! Running the `fieldwork` binary as a script would, on a data directory of
//! the test's own (shared by the CLI test files).

use std::path::Path;
use std::process::{Command, Output};

/// `fieldwork --data DATA ARGS…` with a fixed clock and no data or key
/// directory inherited from the environment; not started yet.
pub fn command(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fieldwork"));
    command
        .arg("--data")
        .arg(data)
        .args(args)
        .env("FIELDWORK_NOW", "2026-11-24T09:00:00Z")
        .env_remove("FIELDWORK_DATA")
        .env_remove("FIELDWORK_KEYS");
    command
}

/// Runs `fieldwork` to completion.
pub fn fw(data: &Path, args: &[&str]) -> Output {
    command(data, args).output().expect("run fieldwork")
}

/// Runs `fieldwork`, which must succeed; its standard output.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let out = fw(data, args);
    assert!(
        out.status.success(),
        "fieldwork {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `fieldwork … --json`, which must succeed; its output parsed.
pub fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    serde_json::from_str(&ok(data, &with_json)).expect("valid JSON")
}
