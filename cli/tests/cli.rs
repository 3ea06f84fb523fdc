//! The `fieldwork` binary driven as a script would drive it.

mod common;

use common::{fw, json, ok};

#[test]
fn a_two_minute_tour_works_as_documented() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let acc = ok(
        d,
        &[
            "account",
            "add",
            "--name",
            "Szőke Kft.",
            "--set",
            "territory=budapest",
            "--set",
            "email=info@szoke.hu",
        ],
    );
    let acc = acc.trim();
    assert!(acc.starts_with("account:"), "{acc}");
    ok(
        d,
        &[
            "account",
            "set",
            acc,
            "stage=prospect",
            "phone=+36 1 234 5678",
        ],
    );
    let contact = ok(
        d,
        &[
            "contact",
            "add",
            "--last-name",
            "Szőke",
            "--first-name",
            "Ádám",
            "--account",
            acc,
        ],
    );
    let deal = ok(
        d,
        &[
            "deal",
            "add",
            "--name",
            "Flotta 2027",
            "--account",
            acc,
            "--amount",
            "1250000.50",
            "--currency",
            "HUF",
        ],
    );
    let note = ok(
        d,
        &[
            "note",
            "add",
            "--title",
            "Visita",
            "--body",
            "Quiere un presupuesto.",
            "--account",
            acc,
        ],
    );
    ok(
        d,
        &[
            "note",
            "edit",
            note.trim(),
            "--at",
            "0",
            "--insert",
            "Lunes: ",
        ],
    );

    let record = json(d, &["account", "get", acc]);
    assert_eq!(record["fields"]["stage"], "prospect");
    assert_eq!(record["fields"]["phone"], "+36 1 234 5678");
    assert_eq!(record["fields"]["stage_history"][1]["stage"], "prospect");

    let deals = json(d, &["deal", "list", "--sort", "amount"]);
    assert_eq!(deals[0]["id"], deal.trim());
    assert_eq!(deals[0]["amount"], 125_000_050);
    assert_eq!(deals[0]["territory"], "budapest");

    let hits = json(d, &["search", "adam", "szoke"]);
    assert_eq!(hits[0]["id"], contact.trim());
    let notes = json(d, &["note", "get", note.trim()]);
    assert_eq!(notes["fields"]["body"], "Lunes: Quiere un presupuesto.");

    let history = json(d, &["history", acc]);
    let changed: Vec<&str> = history
        .as_array()
        .expect("array")
        .iter()
        .flat_map(|e| e["fields"].as_array().expect("fields"))
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        changed.contains(&"stage") && changed.contains(&"phone"),
        "{changed:?}"
    );

    let listed = json(d, &["account", "list", "--stage", "prospect"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(
        json(d, &["account", "list", "--stage", "lead"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // Archived (a single-user device may archive): out of lists and search.
    ok(d, &["account", "set", acc, "archived=true"]);
    let count = |args: &[&str]| json(d, args).as_array().map(Vec::len);
    assert_eq!(count(&["account", "list"]), Some(0));
    assert_eq!(count(&["account", "list", "--archived", "only"]), Some(1));
    assert_eq!(
        count(&["account", "list", "--archived", "include"]),
        Some(1)
    );
}

#[test]
fn failures_print_one_error_line_and_exit_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let acc = ok(d, &["account", "add", "--name", "Acme"]);
    for (args, needle) in [
        (vec!["account", "set", acc.trim(), "email=nope"], "`email`"),
        (vec!["account", "set", acc.trim(), "colour=red"], "colour"),
        (
            vec!["account", "get", "account:01ZZZZZZZZZZZZZZZZZZZZZZZZ"],
            "not found",
        ),
        (
            vec![
                "deal",
                "add",
                "--name",
                "X",
                "--account",
                acc.trim(),
                "--amount",
                "1.234",
                "--currency",
                "EUR",
            ],
            "decimal",
        ),
        (vec!["contact", "get", acc.trim()], "not a contact"),
    ] {
        let out = fw(d, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    let record = json(d, &["account", "get", acc.trim()]);
    assert!(
        record["fields"].get("email").is_none(),
        "nothing was written"
    );
}

#[test]
fn a_corrupt_store_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("device.db"),
        b"this is not sqlite at all, just text",
    )
    .expect("write");
    let out = fw(dir.path(), &["account", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a Fieldwork store"), "{err}");
}

#[test]
fn visits_record_gps_check_in_and_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let visit = ok(
        d,
        &[
            "activity",
            "add",
            "--type",
            "visit",
            "--subject",
            "Visita a Acme",
            "--due",
            "2026-11-24T10:00:00+01:00",
        ],
    );
    ok(
        d,
        &[
            "activity",
            "check-in",
            visit.trim(),
            "--lat",
            "40.4168",
            "--lon",
            "-3.7038",
        ],
    );
    ok(
        d,
        &[
            "activity",
            "check-out",
            visit.trim(),
            "--lat",
            "40.4170",
            "--lon",
            "-3.7040",
        ],
    );
    let v = json(d, &["activity", "get", visit.trim()]);
    assert_eq!(v["fields"]["check_in_at"], "2026-11-24T09:00:00Z");
    assert_eq!(v["fields"]["check_in_lon"], -3.7038);
    assert_eq!(v["fields"]["check_out_lat"], 40.417);
}
