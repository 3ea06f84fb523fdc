//! Reports on the device store, over a fixture built through the real
//! store with a clock moved between writes (so stage logs, completion
//! times and creation times differ), compared with expectations computed
//! by hand and written below as literal numbers.

use crate::common;

use std::sync::Arc;

use fieldwork_core::clock::ManualClock;
use fieldwork_core::report::{
    Facts, GroupBy, Rates, ReportName, ReportQuery, ReportResult, Target, activities, cycle,
    funnel, pipeline, targets, timeline::EventKind, visits, win_rate,
};
use fieldwork_core::{FieldWrite, RecordId, RecordKind, Store};
use jiff::Timestamp;

use common::set;

/// A write parsed against the schema, as a form sends it.
fn typed(kind: RecordKind, field: &str, value: &str) -> FieldWrite {
    FieldWrite::text(kind, field, Some(value)).expect("valid")
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("instant")
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    clock: ManualClock,
    a1: RecordId,
    a2: RecordId,
}

impl Fixture {
    fn at(&self, when: &str) -> &Self {
        self.clock.set(t(when));
        self
    }
}

fn create(f: &mut Fixture, when: &str, kind: RecordKind, writes: Vec<FieldWrite>) -> RecordId {
    f.at(when);
    f.store.create(kind, writes).expect("create")
}

fn update(f: &mut Fixture, when: &str, id: &RecordId, writes: Vec<FieldWrite>) {
    f.at(when);
    f.store.update(id, writes).expect("update");
}

fn account(f: &mut Fixture, when: &str, name: &str, owner: &str, territory: &str) -> RecordId {
    let w = vec![
        set("name", name),
        set("stage", "lead"),
        set("owner", owner),
        set("territory", territory),
    ];
    create(f, when, RecordKind::Account, w)
}

fn deal(
    f: &mut Fixture,
    when: &str,
    acc: &RecordId,
    owner: &str,
    stage: &str,
    money: Option<(&str, &str)>,
) -> RecordId {
    let mut w = vec![
        set("name", "deal"),
        set("account", &acc.to_string()),
        set("stage", stage),
        set("owner", owner),
    ];
    if let Some((amount, currency)) = money {
        w.push(typed(RecordKind::Deal, "amount", amount));
        w.push(set("currency", currency));
    }
    create(f, when, RecordKind::Deal, w)
}

fn activity(
    f: &mut Fixture,
    acc: &RecordId,
    who: &str,
    kind: &str,
    subject: &str,
    due: &str,
) -> RecordId {
    let w = vec![
        set("type", kind),
        set("subject", subject),
        set("status", "planned"),
        set("owner", who),
        set("assignee", who),
        set("account", &acc.to_string()),
        set("due_at", due),
    ];
    create(f, "2026-11-10T08:00:00Z", RecordKind::Activity, w)
}

/// The fixture (all times UTC):
///
/// Accounts (stage log):
/// - A1 ann/north: lead 09-01 09:00, prospect 09-11 09:00, customer 10-01 09:00
/// - A2 bob/south: lead 09-15 09:00, prospect 10-15 09:00
/// - A3 ann/north: lead 10-05 09:00
/// - A4 bob/south: lead 10-06, archived (with its deal D7): never reported
///
/// Deals (stage log; amounts in minor units):
/// - D1 ann A1 EUR 1,000,000: qualification 10-01 10:00, proposal 10-11 10:00, won 10-21 10:00
/// - D2 ann A1 HUF 200,000,000: proposal 10-05 09:00; expected close 12-15
/// - D3 ann A3 no amount: negotiation 10-10 09:00; expected close 11-30
/// - D4 bob A2 EUR 500,000: qualification 10-02 09:00, lost 10-12 09:00
/// - D5 bob A2 EUR 300,000: qualification 10-03 09:00, won 11-02 09:00,
///   reopened to negotiation 11-05 09:00; expected close 12-01
/// - D6 bob A2 EUR 200,000: qualification 10-04 09:00, won 10-14 09:00
///
/// Activities (due; done at the completion time given):
/// - T1 ann call A1 due 11-16 10:00, done 11-16 09:00 (on time)
/// - T2 ann call A1 due 11-17 10:00, done 11-18 10:00 (late)
/// - T3 ann meeting A1 due 11-20 10:00, planned (overdue on 11-24)
/// - V1 ann visit A1 due 11-19 09:00, in 09:05 out 10:05, done 10:05 (late)
/// - T4 bob task A2 due 11-30 10:00, planned (future)
/// - T5 bob call A2 due 11-22 23:30 (Sunday; Monday 00:30 in Madrid), cancelled
/// - V2 bob visit A2 due 11-20 14:00, in 14:00 out 14:30, done 14:00 (on time)
/// - V3 bob visit A2 due 11-21 08:00, in 08:00, no check-out, planned (overdue)
/// - T6 bob task A2 without a due time, done 11-20 12:00 (filed under that day)
/// - N1 ann note on A1, created 11-01 09:00
///
/// Reports run at 2026-11-24 09:00.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(t("2026-09-01T09:00:00Z"));
    let store = Store::open(&dir.path().join("d.db"), Arc::new(clock.clone())).expect("open");
    let mut f = Fixture {
        _dir: dir,
        store,
        clock,
        a1: RecordId::new_random(RecordKind::Account),
        a2: RecordId::new_random(RecordKind::Account),
    };
    let a1 = account(&mut f, "2026-09-01T09:00:00Z", "Alpha", "ann", "north");
    let a2 = account(&mut f, "2026-09-15T09:00:00Z", "Beta", "bob", "south");
    update(
        &mut f,
        "2026-09-11T09:00:00Z",
        &a1,
        vec![set("stage", "prospect")],
    );
    update(
        &mut f,
        "2026-10-01T09:00:00Z",
        &a1,
        vec![set("stage", "customer")],
    );
    update(
        &mut f,
        "2026-10-15T09:00:00Z",
        &a2,
        vec![set("stage", "prospect")],
    );
    let a3 = account(&mut f, "2026-10-05T09:00:00Z", "Gamma", "ann", "north");
    let a4 = account(&mut f, "2026-10-06T09:00:00Z", "Old", "bob", "south");

    let d1 = deal(
        &mut f,
        "2026-10-01T10:00:00Z",
        &a1,
        "ann",
        "qualification",
        Some(("1000000", "EUR")),
    );
    update(
        &mut f,
        "2026-10-11T10:00:00Z",
        &d1,
        vec![set("stage", "proposal")],
    );
    update(
        &mut f,
        "2026-10-21T10:00:00Z",
        &d1,
        vec![set("stage", "won")],
    );
    let d2 = deal(
        &mut f,
        "2026-10-05T09:00:00Z",
        &a1,
        "ann",
        "proposal",
        Some(("200000000", "HUF")),
    );
    update(
        &mut f,
        "2026-10-05T09:00:00Z",
        &d2,
        vec![set("expected_close", "2026-12-15")],
    );
    let d3 = deal(
        &mut f,
        "2026-10-10T09:00:00Z",
        &a3,
        "ann",
        "negotiation",
        None,
    );
    update(
        &mut f,
        "2026-10-10T09:00:00Z",
        &d3,
        vec![set("expected_close", "2026-11-30")],
    );
    let d4 = deal(
        &mut f,
        "2026-10-02T09:00:00Z",
        &a2,
        "bob",
        "qualification",
        Some(("500000", "EUR")),
    );
    update(
        &mut f,
        "2026-10-12T09:00:00Z",
        &d4,
        vec![set("stage", "lost"), set("close_reason", "price")],
    );
    let d5 = deal(
        &mut f,
        "2026-10-03T09:00:00Z",
        &a2,
        "bob",
        "qualification",
        Some(("300000", "EUR")),
    );
    update(
        &mut f,
        "2026-11-02T09:00:00Z",
        &d5,
        vec![set("stage", "won")],
    );
    update(
        &mut f,
        "2026-11-05T09:00:00Z",
        &d5,
        vec![
            set("stage", "negotiation"),
            set("expected_close", "2026-12-01"),
        ],
    );
    let d6 = deal(
        &mut f,
        "2026-10-04T09:00:00Z",
        &a2,
        "bob",
        "qualification",
        Some(("200000", "EUR")),
    );
    update(
        &mut f,
        "2026-10-14T09:00:00Z",
        &d6,
        vec![set("stage", "won")],
    );
    let d7 = deal(
        &mut f,
        "2026-10-06T09:00:00Z",
        &a4,
        "bob",
        "qualification",
        Some(("999", "EUR")),
    );
    update(
        &mut f,
        "2026-10-07T09:00:00Z",
        &d7,
        vec![typed(RecordKind::Deal, "archived", "true")],
    );
    update(
        &mut f,
        "2026-10-07T09:00:00Z",
        &a4,
        vec![typed(RecordKind::Account, "archived", "true")],
    );

    let t1 = activity(&mut f, &a1, "ann", "call", "T1", "2026-11-16T10:00:00Z");
    let t2 = activity(&mut f, &a1, "ann", "call", "T2", "2026-11-17T10:00:00Z");
    activity(&mut f, &a1, "ann", "meeting", "T3", "2026-11-20T10:00:00Z");
    let v1 = activity(&mut f, &a1, "ann", "visit", "V1", "2026-11-19T09:00:00Z");
    activity(&mut f, &a2, "bob", "task", "T4", "2026-11-30T10:00:00Z");
    let t5 = activity(&mut f, &a2, "bob", "call", "T5", "2026-11-22T23:30:00Z");
    let v2 = activity(&mut f, &a2, "bob", "visit", "V2", "2026-11-20T14:00:00Z");
    let v3 = activity(&mut f, &a2, "bob", "visit", "V3", "2026-11-21T08:00:00Z");
    update(
        &mut f,
        "2026-11-16T09:00:00Z",
        &t1,
        vec![set("status", "done")],
    );
    update(
        &mut f,
        "2026-11-18T10:00:00Z",
        &t2,
        vec![set("status", "done")],
    );
    update(
        &mut f,
        "2026-11-19T10:05:00Z",
        &v1,
        vec![
            set("check_in_at", "2026-11-19T09:05:00Z"),
            typed(RecordKind::Activity, "check_in_lat", "47.5"),
            typed(RecordKind::Activity, "check_in_lon", "19.04"),
            set("check_out_at", "2026-11-19T10:05:00Z"),
            set("status", "done"),
        ],
    );
    update(
        &mut f,
        "2026-11-20T14:00:00Z",
        &v2,
        vec![
            set("check_in_at", "2026-11-20T14:00:00Z"),
            set("check_out_at", "2026-11-20T14:30:00Z"),
            set("status", "done"),
        ],
    );
    update(
        &mut f,
        "2026-11-21T08:00:00Z",
        &v3,
        vec![set("check_in_at", "2026-11-21T08:00:00Z")],
    );
    update(
        &mut f,
        "2026-11-21T08:00:00Z",
        &t5,
        vec![set("status", "cancelled")],
    );
    let t6 = create(
        &mut f,
        "2026-11-10T08:00:00Z",
        RecordKind::Activity,
        vec![
            set("type", "task"),
            set("subject", "T6"),
            set("status", "planned"),
            set("owner", "bob"),
            set("account", &a2.to_string()),
        ],
    );
    update(
        &mut f,
        "2026-11-20T12:00:00Z",
        &t6,
        vec![set("status", "done")],
    );
    create(
        &mut f,
        "2026-11-01T09:00:00Z",
        RecordKind::Note,
        vec![
            set("title", "N1"),
            set("owner", "ann"),
            set("account", &a1.to_string()),
        ],
    );
    f.at("2026-11-24T09:00:00Z");
    f.a1 = a1;
    f.a2 = a2;
    f
}

fn query(f: &Fixture) -> ReportQuery {
    f.store.report_query()
}

fn run(f: &mut Fixture, name: ReportName, q: &ReportQuery) -> ReportResult {
    f.store.report(&name, q).expect("report")
}

fn amount(a: &fieldwork_core::report::Amounts, c: &str) -> Option<i64> {
    a.0.get(c).copied()
}

#[test]
fn pipeline_counts_open_deals_per_stage_and_currency() {
    let mut f = fixture();
    let q = query(&f);
    assert_eq!(q.now, t("2026-11-24T09:00:00Z"));
    let ReportResult::Pipeline(p) = run(&mut f, ReportName::Pipeline, &q) else {
        panic!("pipeline")
    };
    // Open deals: D2 (proposal, HUF), D3 (negotiation, no amount), D5
    // (negotiation after being reopened, EUR). D7 is archived.
    assert_eq!(p.rows.len(), 2);
    let (proposal, negotiation) = (&p.rows[0], &p.rows[1]);
    assert_eq!(
        (
            proposal.stage.as_str(),
            proposal.count,
            proposal.without_amount
        ),
        ("proposal", 1, 0)
    );
    assert_eq!(amount(&proposal.amount, "HUF"), Some(200_000_000));
    assert_eq!(amount(&proposal.amount, "EUR"), None);
    // 30 % of 200,000,000 = 60,000,000.
    assert_eq!(amount(&proposal.weighted, "HUF"), Some(60_000_000));
    assert_eq!(
        (
            negotiation.stage.as_str(),
            negotiation.count,
            negotiation.without_amount
        ),
        ("negotiation", 2, 1)
    );
    // Only D5's 300,000 EUR; 60 % of it = 180,000.
    assert_eq!(amount(&negotiation.amount, "EUR"), Some(300_000));
    assert_eq!(amount(&negotiation.weighted, "EUR"), Some(180_000));
    assert_eq!(negotiation.amount.0.len(), 1, "currencies never mixed");
}

#[test]
fn pipeline_groups_filters_periods_and_converts() {
    let mut f = fixture();
    let mut q = query(&f);
    q.group_by = GroupBy::Owner;
    q.rates = Some(Rates {
        target: "EUR".into(),
        per_unit: [("HUF".to_owned(), 0.0025)].into_iter().collect(),
    });
    let ReportResult::Pipeline(p) = run(&mut f, ReportName::Pipeline, &q) else {
        panic!("pipeline")
    };
    let rows: Vec<(&str, &str, u64, u64)> = p
        .rows
        .iter()
        .map(|r| {
            (
                r.group.as_str(),
                r.stage.as_str(),
                r.count,
                r.without_amount,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("ann", "proposal", 1, 0),
            ("ann", "negotiation", 1, 1),
            ("bob", "negotiation", 1, 0)
        ]
    );
    // 200,000,000 HUF minor = 2,000,000 HUF x 0.0025 = 5,000 EUR = 500,000
    // minor; weighted 60,000,000 HUF minor -> 1,500 EUR = 150,000 minor.
    let conv = p.rows[0].converted.as_ref().expect("converted");
    assert_eq!((conv.currency.as_str(), conv.amount), ("EUR", 500_000));
    assert_eq!(
        p.rows[0].weighted_converted.as_ref().map(|c| c.amount),
        Some(150_000)
    );
    assert_eq!(
        amount(&p.rows[0].amount, "HUF"),
        Some(200_000_000),
        "per-currency sums kept"
    );

    // Territory north = A1 and A3: D2 and D3.
    let mut north = query(&f);
    north.territory = Some("north".into());
    let ReportResult::Pipeline(p) = run(&mut f, ReportName::Pipeline, &north) else {
        panic!("pipeline")
    };
    let counts: Vec<(&str, u64)> = p.rows.iter().map(|r| (r.stage.as_str(), r.count)).collect();
    assert_eq!(counts, vec![("proposal", 1), ("negotiation", 1)]);

    // Expected to close in November: only D3 (11-30); D5 12-01, D2 12-15.
    let nov = query(&f)
        .with_days("2026-11-01".parse().ok(), "2026-11-30".parse().ok())
        .expect("days");
    let ReportResult::Pipeline(p) = run(&mut f, ReportName::Pipeline, &nov) else {
        panic!("pipeline")
    };
    assert_eq!(p.rows.len(), 1);
    assert_eq!(
        (
            p.rows[0].stage.as_str(),
            p.rows[0].count,
            p.rows[0].without_amount
        ),
        ("negotiation", 1, 1)
    );
}

#[test]
fn win_rate_counts_deals_closed_in_the_period() {
    let mut f = fixture();
    let q = query(&f)
        .with_days("2026-10-01".parse().ok(), "2026-10-31".parse().ok())
        .expect("days");
    let ReportResult::WinRate(w) = run(&mut f, ReportName::WinRate, &q) else {
        panic!("win rate")
    };
    // Closed in October: D1 won (ann), D4 lost and D6 won (bob). D5 was won
    // in November and reopened: not closed.
    assert_eq!(w.rows.len(), 3);
    let (ann, bob, all) = (&w.rows[0], &w.rows[1], &w.rows[2]);
    assert_eq!(
        (ann.owner.as_str(), ann.won, ann.lost, ann.win_rate),
        ("ann", 1, 0, Some(1.0))
    );
    assert_eq!(amount(&ann.average_deal, "EUR"), Some(1_000_000));
    // D1: 10-01 10:00 -> 10-21 10:00 = 20 days.
    assert_eq!(ann.average_cycle_seconds, Some(20.0 * 86_400.0));
    assert_eq!(
        (bob.owner.as_str(), bob.won, bob.lost, bob.win_rate),
        ("bob", 1, 1, Some(0.5))
    );
    assert_eq!(amount(&bob.average_deal, "EUR"), Some(200_000));
    // D6: 10-04 -> 10-14 = 10 days.
    assert_eq!(bob.average_cycle_seconds, Some(10.0 * 86_400.0));
    // All: 2 won of 3; won 1,200,000 EUR, average 600,000; cycles 20 and 10 days.
    assert_eq!((all.owner.as_str(), all.won, all.lost), ("all", 2, 1));
    assert_eq!(all.win_rate, Some(2.0 / 3.0));
    assert_eq!(amount(&all.won_amount, "EUR"), Some(1_200_000));
    assert_eq!(amount(&all.average_deal, "EUR"), Some(600_000));
    assert_eq!(all.average_cycle_seconds, Some(15.0 * 86_400.0));
    // November: nothing closed (D5's win was undone).
    let nov = query(&f)
        .with_days("2026-11-01".parse().ok(), "2026-11-30".parse().ok())
        .expect("days");
    let ReportResult::WinRate(w) = run(&mut f, ReportName::WinRate, &nov) else {
        panic!("win rate")
    };
    assert_eq!(
        (w.rows.len(), w.rows[0].won, w.rows[0].win_rate),
        (1, 0, None)
    );
}

#[test]
fn cycle_gives_conversion_and_time_in_each_deal_stage() {
    let mut f = fixture();
    let q = query(&f);
    let ReportResult::Cycle(c) = run(&mut f, ReportName::Cycle, &q) else {
        panic!("cycle")
    };
    assert_eq!(c.deals, 6);
    let row = |s: &str| c.stages.iter().find(|r| r.stage == s).expect("stage");
    let day = 86_400.0;
    // qualification: D1, D4, D5, D6 entered; only D1 reached proposal.
    // Stays: D1 10-01 10:00 -> 10-11 10:00 = 10 d; D4 10 d;
    // D5 10-03 -> 11-02 = 30 d; D6 10 d: 60 d / 4 = 15 d.
    let q_ = row("qualification");
    assert_eq!(
        (q_.entered, q_.converted, q_.conversion),
        (4, 1, Some(0.25))
    );
    assert_eq!(
        (q_.completed_stays, q_.open_stays, q_.average_seconds),
        (4, 0, Some(15.0 * day))
    );
    // proposal: D1 (10 d, then won) and D2 (still there); none to negotiation.
    let p = row("proposal");
    assert_eq!((p.entered, p.converted, p.conversion), (2, 0, Some(0.0)));
    assert_eq!(
        (p.completed_stays, p.open_stays, p.average_seconds),
        (1, 1, Some(10.0 * day))
    );
    // negotiation: D3 and D5 (after reopening), both still there; D5's win
    // came before its negotiation, so it is no conversion.
    let n = row("negotiation");
    assert_eq!(
        (n.entered, n.converted, n.completed_stays, n.open_stays),
        (2, 0, 0, 2)
    );
    assert_eq!(n.average_seconds, None);
    // won: D1, D5, D6; D5 stayed 3 days (11-02 -> 11-05) before reopening.
    let w = row("won");
    assert_eq!(
        (
            w.entered,
            w.completed_stays,
            w.open_stays,
            w.average_seconds
        ),
        (3, 1, 2, Some(3.0 * day))
    );
    assert_eq!((row("lost").entered, row("lost").open_stays), (1, 1));
}

#[test]
fn funnel_counts_lifecycle_stages_conversion_and_cohorts() {
    let mut f = fixture();
    let q = query(&f);
    let ReportResult::Funnel(fun) = run(&mut f, ReportName::Funnel, &q) else {
        panic!("funnel")
    };
    assert_eq!(fun.accounts, 3, "A4 is archived");
    let current: Vec<(&str, u64)> = fun.current.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    assert_eq!(
        current,
        vec![
            ("lead", 1),
            ("prospect", 1),
            ("customer", 1),
            ("loyal", 0),
            ("churned", 0)
        ]
    );
    let day = 86_400.0;
    // lead: 3 entered, A1 and A2 became prospects; stays 10 d (A1) and 30 d (A2).
    let lead = &fun.stages[0];
    assert_eq!((lead.entered, lead.converted), (3, 2));
    assert_eq!(lead.conversion, Some(2.0 / 3.0));
    assert_eq!(
        (lead.average_seconds, lead.open_stays),
        (Some(20.0 * day), 1)
    );
    // prospect: A1 (20 d, then customer) and A2 (still prospect).
    let prospect = &fun.stages[1];
    assert_eq!(
        (prospect.entered, prospect.converted, prospect.conversion),
        (2, 1, Some(0.5))
    );
    assert_eq!(
        (prospect.average_seconds, prospect.open_stays),
        (Some(20.0 * day), 1)
    );
    assert_eq!(
        (fun.stages[2].entered, fun.stages[2].conversion),
        (1, Some(0.0))
    );
    // Cohorts: September (A1, A2), October (A3).
    assert_eq!(fun.cohorts.len(), 2);
    let sep = &fun.cohorts[0];
    assert_eq!((sep.month.as_str(), sep.accounts), ("2026-09", 2));
    assert_eq!(
        (
            sep.reached["lead"],
            sep.reached["prospect"],
            sep.reached["customer"]
        ),
        (2, 2, 1)
    );
    assert_eq!(
        (fun.cohorts[1].month.as_str(), fun.cohorts[1].accounts),
        ("2026-10", 1)
    );
    // Period = first contact in October: A3 only.
    let oct = query(&f)
        .with_days("2026-10-01".parse().ok(), "2026-10-31".parse().ok())
        .expect("days");
    let ReportResult::Funnel(fun) = run(&mut f, ReportName::Funnel, &oct) else {
        panic!("funnel")
    };
    assert_eq!(fun.accounts, 1);
}

#[test]
fn activities_per_person_type_and_local_week() {
    let mut f = fixture();
    let mut q = query(&f);
    q.time_zone = "Europe/Madrid".into();
    let q = q
        .with_days("2026-11-16".parse().ok(), "2026-11-30".parse().ok())
        .expect("days");
    let ReportResult::Activities(a) = run(&mut f, ReportName::Activities, &q) else {
        panic!("activities")
    };
    type Row<'a> = (&'a str, &'a str, &'a str, [u64; 6]);
    // [done, planned, overdue, cancelled, on_time, late]
    let rows: Vec<Row<'_>> = a
        .rows
        .iter()
        .map(|r| {
            (
                r.who.as_str(),
                r.activity_type.as_str(),
                r.week.as_str(),
                [r.done, r.planned, r.overdue, r.cancelled, r.on_time, r.late],
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("ann", "call", "2026-W47", [2, 0, 0, 0, 1, 1]),
            ("ann", "meeting", "2026-W47", [0, 0, 1, 0, 0, 0]),
            ("ann", "visit", "2026-W47", [1, 0, 0, 0, 0, 1]),
            // T5: Sunday 23:30 UTC is Monday 00:30 in Madrid: week 48.
            ("bob", "call", "2026-W48", [0, 0, 0, 1, 0, 0]),
            // T6: no due time, filed under its completion (11-20); done
            // but neither on time nor late (`done_undated`).
            ("bob", "task", "2026-W47", [1, 0, 0, 0, 0, 0]),
            ("bob", "task", "2026-W49", [0, 1, 0, 0, 0, 0]),
            ("bob", "visit", "2026-W47", [1, 0, 1, 0, 1, 0]),
        ]
    );
    let t6 = a
        .rows
        .iter()
        .find(|r| r.who == "bob" && r.activity_type == "task" && r.week == "2026-W47")
        .expect("T6's row");
    assert_eq!(t6.done_undated, 1);
    let totals: Vec<(&str, [u64; 6])> = a
        .totals
        .iter()
        .map(|r| {
            (
                r.who.as_str(),
                [r.done, r.planned, r.overdue, r.cancelled, r.on_time, r.late],
            )
        })
        .collect();
    assert_eq!(
        totals,
        vec![("ann", [3, 0, 1, 0, 1, 2]), ("bob", [2, 1, 1, 1, 1, 0])]
    );
    // In UTC T5 falls in week 47.
    let utc = query(&f);
    let ReportResult::Activities(a) = run(&mut f, ReportName::Activities, &utc) else {
        panic!("activities")
    };
    assert!(
        a.rows
            .iter()
            .any(|r| r.who == "bob" && r.activity_type == "call" && r.week == "2026-W47")
    );
    // Owner filter: bob only.
    let mut bob = query(&f);
    bob.owner = Some("bob".into());
    let ReportResult::Activities(a) = run(&mut f, ReportName::Activities, &bob) else {
        panic!("activities")
    };
    assert!(a.rows.iter().all(|r| r.who == "bob") && a.totals.len() == 1);
}

#[test]
fn visits_with_check_in_out_and_duration() {
    let mut f = fixture();
    let q = query(&f);
    let ReportResult::Visits(v) = run(&mut f, ReportName::Visits, &q) else {
        panic!("visits")
    };
    let rows: Vec<(&str, &str, Option<i64>)> = v
        .visits
        .iter()
        .map(|v| (v.title.as_str(), v.who.as_str(), v.duration_minutes))
        .collect();
    // V1 09:05 -> 10:05 = 60 min; V2 14:00 -> 14:30 = 30 min; V3 not out.
    assert_eq!(
        rows,
        vec![
            ("V1", "ann", Some(60)),
            ("V2", "bob", Some(30)),
            ("V3", "bob", None)
        ]
    );
    let pos = v.visits[0].check_in.expect("position");
    assert_eq!((pos.lat, pos.lon), (47.5, 19.04));
    let totals: Vec<(&str, u64, u64, u64, i64)> = v
        .totals
        .iter()
        .map(|t| {
            (
                t.who.as_str(),
                t.visits,
                t.checked_in,
                t.with_duration,
                t.total_minutes,
            )
        })
        .collect();
    assert_eq!(totals, vec![("ann", 1, 1, 1, 60), ("bob", 2, 2, 1, 30)]);
    assert_eq!(v.totals[1].average_minutes, Some(30.0));
}

#[test]
fn timeline_lists_an_accounts_touchpoints_in_order() {
    let mut f = fixture();
    let q = query(&f);
    let a1 = f.a1.clone();
    let ReportResult::Timeline(tl) = run(&mut f, ReportName::Timeline(a1), &q) else {
        panic!("timeline")
    };
    let events: Vec<(String, EventKind, &str)> = tl
        .events
        .iter()
        .map(|e| {
            (
                e.at.map(|t| t.to_string()).unwrap_or_default(),
                e.kind,
                e.detail.as_str(),
            )
        })
        .collect();
    let e = |at: &str, kind, detail| (at.to_owned(), kind, detail);
    assert_eq!(
        events,
        vec![
            e("2026-09-01T09:00:00Z", EventKind::AccountStage, "lead"),
            e("2026-09-11T09:00:00Z", EventKind::AccountStage, "prospect"),
            e("2026-10-01T09:00:00Z", EventKind::AccountStage, "customer"),
            e(
                "2026-10-01T10:00:00Z",
                EventKind::DealCreated,
                "qualification"
            ),
            e("2026-10-05T09:00:00Z", EventKind::DealCreated, "proposal"),
            e("2026-10-11T10:00:00Z", EventKind::DealStage, "proposal"),
            e("2026-10-21T10:00:00Z", EventKind::DealStage, "won"),
            e("2026-11-01T09:00:00Z", EventKind::Note, ""),
            e("2026-11-16T09:00:00Z", EventKind::Activity, "call done"),
            e("2026-11-18T10:00:00Z", EventKind::Activity, "call done"),
            e("2026-11-19T10:05:00Z", EventKind::Activity, "visit done"),
            e(
                "2026-11-20T10:00:00Z",
                EventKind::Activity,
                "meeting planned"
            ),
        ]
    );
    assert!(tl.events.iter().all(|e| e.who.as_deref() == Some("ann")));
    // Bob's account has its own timeline, without ann's records.
    let a2 = f.a2.clone();
    let ReportResult::Timeline(tl) = run(&mut f, ReportName::Timeline(a2), &q) else {
        panic!("timeline")
    };
    assert!(tl.events.iter().all(|e| e.who.as_deref() == Some("bob")));
}

#[test]
fn index_facts_equal_facts_built_from_the_records() {
    let mut f = fixture();
    let q = query(&f);
    let a1 = f.a1.clone();
    let from_index = f
        .store
        .report_facts(&ReportName::Timeline(a1.clone()), &q)
        .expect("facts");
    let complete: Vec<Facts> = f
        .store
        .all_report_facts()
        .expect("all")
        .into_iter()
        .filter(|x| x.id == a1 || x.account.as_ref() == Some(&a1))
        .collect();
    assert_eq!(complete.len(), from_index.len());
    assert_eq!(from_index.len(), 8, "A1, D1, D2, T1, T2, T3, V1 and N1");
    for indexed in &from_index {
        let record = f.store.get(&indexed.id).expect("get");
        let inherited = record
            .account()
            .map(|_| Some("north".to_owned()))
            .unwrap_or(None);
        let built = Facts::of(&record, inherited, indexed.created_at);
        assert_eq!(&built, indexed, "{}", indexed.id);
    }
}

/// The store narrows what it reads with SQL (kind, owner, territory,
/// period); the pure functions over every fact must agree, for each query.
#[test]
fn pure_functions_give_the_same_results_as_the_store() {
    let mut f = fixture();
    let base = query(&f);
    let all: Vec<Facts> = f.store.all_report_facts().expect("facts");
    assert_eq!(
        all.len(),
        3 + 6 + 9 + 1,
        "accounts, deals, activities, note"
    );
    let days = |from: &str, to: &str| {
        base.clone()
            .with_days(from.parse().ok(), to.parse().ok())
            .expect("days")
    };
    let mut bob_nov = days("2026-11-01", "2026-11-30");
    bob_nov.owner = Some("bob".into());
    let mut north = days("2026-10-01", "2026-12-31");
    north.territory = Some("north".into());
    let mut only_from = base.clone();
    only_from.from = Some(t("2026-11-19T00:00:00Z"));
    for q in [
        base.clone(),
        days("2026-10-01", "2026-10-31"),
        bob_nov,
        north,
        only_from,
    ] {
        let ReportResult::Pipeline(p) = run(&mut f, ReportName::Pipeline, &q) else {
            panic!("pipeline")
        };
        assert_eq!(pipeline::pipeline(&all, &q), p);
        let ReportResult::WinRate(w) = run(&mut f, ReportName::WinRate, &q) else {
            panic!("win")
        };
        assert_eq!(win_rate::win_rate(&all, &q), w);
        let ReportResult::Cycle(c) = run(&mut f, ReportName::Cycle, &q) else {
            panic!("cycle")
        };
        assert_eq!(cycle::cycle(&all, &q), c);
        let ReportResult::Funnel(fu) = run(&mut f, ReportName::Funnel, &q) else {
            panic!("funnel")
        };
        assert_eq!(funnel::funnel(&all, &q).expect("funnel"), fu);
        let ReportResult::Activities(a) = run(&mut f, ReportName::Activities, &q) else {
            panic!("act")
        };
        assert_eq!(activities::activities(&all, &q).expect("act"), a);
        let ReportResult::Visits(v) = run(&mut f, ReportName::Visits, &q) else {
            panic!("visits")
        };
        assert_eq!(visits::visits(&all, &q), v);
    }
}

/// The targets report on the device reads only the facts its periods can
/// count; over every fact the pure function agrees, for each query.
#[test]
fn targets_on_the_store_equal_the_pure_function_over_every_fact() {
    let mut f = fixture();
    for (metric, period, goal, whose) in [
        ("deals_won", "month", 2, ("assignee", "ann")),
        ("revenue_won", "quarter", 2_000_000, ("assignee", "bob")),
        ("activities_done", "week", 3, ("territory", "north")),
        ("visits", "year", 10, ("assignee", "ann")),
    ] {
        let mut writes = vec![
            FieldWrite::set("metric", metric),
            FieldWrite::set("period", period),
            FieldWrite::set("goal", goal),
            FieldWrite::set(whose.0, whose.1),
        ];
        if metric == "revenue_won" {
            writes.push(FieldWrite::set("currency", "EUR"));
        }
        f.store.create(RecordKind::Target, writes).expect("target");
    }
    // Targets are read from their index rows, kept with every write.
    let first = f.store.targets().expect("targets")[0].id.clone();
    f.store
        .update(&first, vec![FieldWrite::set("goal", 7)])
        .expect("a new goal");
    let all: Vec<Facts> = f.store.all_report_facts().expect("facts");
    let set = f.store.targets().expect("targets");
    assert_eq!(set.len(), 4);
    assert_eq!(set.iter().find(|t| t.id == first).map(|t| t.goal), Some(7));
    for t in &set {
        let read = f.store.get(&t.id).expect("the target");
        assert_eq!(
            Target::of(&read).as_ref(),
            Some(t),
            "as its documents hold it"
        );
    }
    let base = query(&f);
    let days = |from: &str, to: &str| {
        base.clone()
            .with_days(from.parse().ok(), to.parse().ok())
            .expect("days")
    };
    let mut bobs = days("2026-10-01", "2026-12-31");
    bobs.owner = Some("bob".into());
    let mut north = days("2026-10-01", "2026-11-30");
    north.territory = Some("north".into());
    let mut counted = 0;
    for q in [base.clone(), days("2026-10-01", "2026-10-31"), bobs, north] {
        let ReportResult::Targets(on_store) = run(&mut f, ReportName::Targets, &q) else {
            panic!("targets")
        };
        let pure = targets::targets(&set, &all, &q).expect("targets");
        assert_eq!(pure, on_store);
        counted += on_store.rows.iter().map(|r| r.actual).sum::<i64>();
    }
    assert!(counted > 0, "some target made progress in some query");
}
