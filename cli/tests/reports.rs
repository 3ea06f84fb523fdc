//! `fieldwork report` driven as a script would drive it.

mod common;

use common::{fw, json, ok};

/// Two open proposals (EUR and HUF, by ann and bob) and a won deal.
fn fixture(d: &std::path::Path) -> String {
    let acc = ok(
        d,
        &[
            "account",
            "add",
            "--name",
            "Szőke, \"Kft\"",
            "--set",
            "territory=budapest",
        ],
    );
    let acc = acc.trim();
    for (name, amount, currency, stage, owner) in [
        ("Flotta", "1250.50", "EUR", "proposal", "ann"),
        ("Szerviz", "400000", "HUF", "proposal", "bob"),
        ("Régi", "99", "EUR", "won", "ann"),
    ] {
        ok(
            d,
            &[
                "deal",
                "add",
                "--name",
                name,
                "--account",
                acc,
                "--amount",
                amount,
                "--currency",
                currency,
                "--set",
                &format!("stage={stage}"),
                "--set",
                &format!("owner={owner}"),
            ],
        );
    }
    acc.to_owned()
}

#[test]
fn report_pipeline_as_json_and_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let acc = fixture(d);
    let report = json(d, &["report", "pipeline"]);
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0]["stage"], "proposal");
    assert_eq!(rows[0]["count"], 2);
    assert_eq!(rows[0]["without_amount"], 0);
    // 1250.50 EUR = 125050 cents; 400000 HUF = 40000000 fillér; never summed.
    assert_eq!(rows[0]["amount"]["EUR"], 125_050);
    assert_eq!(rows[0]["amount"]["HUF"], 40_000_000);
    // proposal weighs 30 %: 37515 cents, 12000000 fillér.
    assert_eq!(rows[0]["weighted"]["EUR"], 37_515);
    assert_eq!(rows[0]["weighted"]["HUF"], 12_000_000);
    // With proposal weighed at 50 %: 62525 cents, 20000000 fillér.
    let reweighed = json(d, &["report", "pipeline", "--weight", "proposal=50"]);
    assert_eq!(reweighed["rows"][0]["weighted"]["EUR"], 62_525);
    assert_eq!(reweighed["rows"][0]["weighted"]["HUF"], 20_000_000);
    assert!(
        !fw(d, &["report", "pipeline", "--weight", "closing=50"])
            .status
            .success()
    );

    let by_owner = json(
        d,
        &[
            "report",
            "pipeline",
            "--group-by",
            "owner",
            "--owner",
            "bob",
        ],
    );
    assert_eq!(by_owner["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_owner["rows"][0]["group"], "bob");

    let csv = ok(d, &["report", "pipeline", "--csv"]);
    assert_eq!(
        csv,
        "group,stage,count,without_amount,amount,weight,weighted,converted\r\n\
         all,proposal,2,0,\"1250.50 EUR, 400000.00 HUF\",30%,\"375.15 EUR, 120000.00 HUF\",\r\n"
    );

    let converted = ok(
        d,
        &[
            "report",
            "pipeline",
            "--csv",
            "--convert",
            "EUR",
            "--rate",
            "HUF=0.0025",
        ],
    );
    // 1250.50 EUR + 400000 HUF x 0.0025 = 1250.50 + 1000.00 = 2250.50 EUR.
    assert!(
        converted.contains(",2250.50 EUR (converted)\r\n"),
        "{converted}"
    );

    let text = ok(d, &["report", "win-rate"]);
    assert!(text.starts_with("owner"), "{text}");
    assert!(text.contains("100.0%"), "{text}");

    // The account's title holds a comma and quotes: quoted, quotes doubled.
    let timeline = ok(d, &["report", "timeline", &acc, "--csv"]);
    assert!(
        timeline.starts_with("at,kind,record,title,detail,who\r\n"),
        "{timeline}"
    );
    assert!(
        timeline.contains(",\"Szőke, \"\"Kft\"\"\",lead,"),
        "{timeline}"
    );
    assert_eq!(
        timeline.matches("\r\n").count(),
        5,
        "header, account stage, 3 deals: {timeline}"
    );

    let both = fw(d, &["report", "pipeline", "--csv", "--json"]);
    assert!(!both.status.success());
    let bad = fw(d, &["report", "timeline"]);
    assert!(!bad.status.success());
}

#[test]
fn targets_are_set_and_their_progress_reported_as_text_json_and_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let acc = fixture(d);
    ok(
        d,
        &[
            "target",
            "add",
            "--metric",
            "visits",
            "--period",
            "month",
            "--goal",
            "4",
            "--assignee",
            "ann",
            "--set",
            "name=Visitas",
        ],
    );
    ok(
        d,
        &[
            "target",
            "add",
            "--metric",
            "revenue_won",
            "--period",
            "year",
            "--goal",
            "5000.00",
            "--currency",
            "EUR",
            "--assignee",
            "ann",
        ],
    );
    // A target needs whose it is.
    assert!(
        !fw(
            d,
            &[
                "target", "add", "--metric", "calls", "--period", "week", "--goal", "3"
            ]
        )
        .status
        .success()
    );
    for at in [
        "2026-06-10T09:00:00Z",
        "2026-06-20T09:00:00Z",
        "2026-07-01T09:00:00Z",
    ] {
        ok(
            d,
            &[
                "activity",
                "add",
                "--type",
                "visit",
                "--subject",
                "Visita",
                "--assignee",
                "ann",
                "--account",
                &acc,
                "--set",
                "status=done",
                "--set",
                &format!("check_in_at={at}"),
            ],
        );
    }
    let period = ["--from", "2026-06-01", "--to", "2026-06-30"];
    let report = json(d, &[&["report", "targets"][..], &period[..]].concat());
    let rows = report["rows"].as_array().expect("rows");
    let visits = rows
        .iter()
        .find(|r| r["metric"] == "visits")
        .expect("visits");
    assert_eq!(
        (
            &visits["period"],
            &visits["actual"],
            &visits["remaining"],
            &visits["percent"]
        ),
        (&"2026-06".into(), &2.into(), &2.into(), &50.into()),
        "{report}"
    );
    // The yearly target: the one year overlapping June.
    let revenue = rows
        .iter()
        .find(|r| r["metric"] == "revenue_won")
        .expect("revenue");
    assert_eq!(
        (&revenue["goal"], &revenue["period"]),
        (&500_000.into(), &"2026".into())
    );
    let csv = ok(
        d,
        &[&["report", "targets", "--csv"][..], &period[..]].concat(),
    );
    assert!(
        csv.starts_with("target,whose,metric,period,goal,actual,"),
        "{csv}"
    );
    assert!(
        csv.contains("Visitas,ann,visits,2026-06,4,2,50%,2,"),
        "{csv}"
    );
    let text = ok(d, &[&["report", "targets"][..], &period[..]].concat());
    assert!(text.contains("5000.00 EUR"), "{text}");
}
