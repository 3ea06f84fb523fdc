"""Reports through the generated Python bindings: typed results checked
against hand-computed numbers on a device of the test's own, the CSV the CLI
writes, refused options, and what a rep's report leaves out when a manager
on another device holds more (against a real server whose policy hides deal
amounts from reps)."""

import asyncio
import re
import subprocess
from datetime import datetime, timezone

import pytest

from conftest import PASSWORDS, Server, server_binary
from fieldwork import (
    ExchangeRate,
    FieldEdit,
    FieldworkError,
    Kind,
    Report,
    ReportGrouping,
    ReportName,
    ReportOptions,
    StageWeight,
    TargetMetric,
    TargetScope,
    TimelineEventKind,
)


def edits(**fields):
    return [FieldEdit(field=name, value=value) for name, value in fields.items()]


def per_currency(money_lists):
    """Sums lists of Money per currency (the test's own arithmetic)."""
    totals = {}
    for amounts in money_lists:
        for m in amounts:
            totals[m.currency] = totals.get(m.currency, 0) + m.minor_units
    return totals


class Book:
    """A device of the test's own (never signed in, so it holds exactly what
    the test wrote): two accounts, six deals in two currencies, six
    activities. Times in the past and far future keep `overdue` and
    `on time` independent of when the test runs."""

    def __init__(self, device):
        d = self.device = device
        self.north = d.create(Kind.ACCOUNT, edits(name="Norte Foods", stage="prospect", territory="north", owner="ana"))
        self.south = d.create(Kind.ACCOUNT, edits(name="Sur Metal", stage="customer", territory="south", owner="bob"))

        def deal(name, account, stage, owner, amount=None, currency=None, **extra):
            money = {} if amount is None else {"amount": amount, "currency": currency}
            return d.create(Kind.DEAL, edits(name=name, account=account, stage=stage, owner=owner, **money, **extra))

        self.fleet = deal("Flota", self.north, "proposal", "ana", "125050", "EUR")
        self.service = deal("Servicio", self.north, "proposal", "ana", "40000000", "HUF")
        self.tablets = deal("Tablets", self.south, "negotiation", "bob", "200000", "EUR")
        self.renewal = deal("Renovación", self.north, "won", "ana", "99000", "EUR")
        self.lost = deal("Perdida", self.north, "lost", "ana", "5000", "EUR", close_reason="price")
        self.blank = deal("Sin importe", self.north, "qualification", "ana")

        def activity(kind, subject, status, due, assignee="ana", **extra):
            return d.create(Kind.ACTIVITY, edits(type=kind, subject=subject, status=status, due_at=due,
                                                 assignee=assignee, owner=assignee, **extra))

        # Marked done at creation: completed now, before a 2030 due time.
        self.on_time = activity("call", "A tiempo", "done", "2030-01-15T09:00:00Z", account=self.north)
        # Done now, due in 2020: late.
        self.late = activity("call", "Tarde", "done", "2020-03-02T09:00:00Z")
        self.overdue = activity("meeting", "Vencida", "planned", "2020-03-03T09:00:00Z", account=self.north)
        self.future = activity("task", "Futura", "planned", "2030-01-16T09:00:00Z")
        self.visit = activity("visit", "Visita", "done", "2020-03-04T09:00:00Z", account=self.north,
                              check_in_at="2020-03-04T09:00:00Z", check_out_at="2020-03-04T09:45:30Z",
                              check_in_lat="43.26", check_in_lon="-2.93")
        self.bobs = activity("call", "De Bob", "planned", "2030-01-17T09:00:00Z", assignee="bob")


@pytest.fixture
def book(open_device):
    return Book(open_device())


def test_pipeline_sums_per_currency_weighs_by_stage_and_converts_only_when_asked(book):
    d = book.device
    rows = d.pipeline_report(ReportOptions()).rows
    assert [(r.group, r.stage, r.count, r.without_amount) for r in rows] == [
        ("all", "qualification", 1, 1),
        ("all", "proposal", 2, 0),
        ("all", "negotiation", 1, 0),
    ]
    # Open deals only: 1250.50 + 2000.00 EUR, 400000 HUF; never one sum.
    assert per_currency(r.amount for r in rows) == {"EUR": 125_050 + 200_000, "HUF": 40_000_000}
    proposal = rows[1]
    assert [(m.currency, m.minor_units, m.display) for m in proposal.amount] == [
        ("EUR", 125_050, "1250.50 EUR"), ("HUF", 40_000_000, "400000.00 HUF")]
    # Proposal weighs 30 %, negotiation 60 %.
    assert (proposal.weight_percent, per_currency([proposal.weighted])) == (30, {"EUR": 37_515, "HUF": 12_000_000})
    assert per_currency([rows[2].weighted]) == {"EUR": 120_000}
    assert rows[0].amount == [] and proposal.converted is None

    heavier = d.pipeline_report(ReportOptions(stage_weights=[StageWeight(stage="proposal", percent=50)])).rows
    assert per_currency([heavier[1].weighted]) == {"EUR": 62_525, "HUF": 20_000_000}

    # One HUF is worth 0.0025 EUR: 400000 HUF = 1000 EUR, plus 1250.50 EUR.
    converted = d.pipeline_report(ReportOptions(convert_to="EUR", rates=[ExchangeRate(currency="HUF", rate=0.0025)]))
    c = converted.rows[1].converted
    assert (c.currency, c.minor_units, c.display, c.unconverted) == ("EUR", 225_050, "2250.50 EUR", [])
    assert per_currency([converted.rows[1].amount]) == {"EUR": 125_050, "HUF": 40_000_000}, "sums stay per currency"
    no_rate = d.pipeline_report(ReportOptions(convert_to="EUR")).rows[1].converted
    assert (no_rate.minor_units, no_rate.unconverted) == (125_050, ["HUF"])

    north = d.pipeline_report(ReportOptions(territory="north")).rows
    assert [(r.stage, r.count) for r in north] == [("qualification", 1), ("proposal", 2)]
    by_owner = d.pipeline_report(ReportOptions(group_by=ReportGrouping.OWNER)).rows
    assert [(r.group, r.stage) for r in by_owner] == [("ana", "qualification"), ("ana", "proposal"), ("bob", "negotiation")]


def test_win_rate_cycle_and_funnel_count_closed_deals_and_accounts(book):
    d = book.device
    rows = d.win_rate_report(ReportOptions()).rows
    assert [r.owner for r in rows] == ["ana", "all"]
    ana = rows[0]
    assert (ana.won, ana.lost, ana.win_rate) == (1, 1, 0.5)
    assert [(m.currency, m.minor_units) for m in ana.won_amount] == [("EUR", 99_000)]
    assert [(m.currency, m.minor_units) for m in ana.average_deal] == [("EUR", 99_000)]
    assert ana.won_without_amount == 0 and ana.cycle_samples == 1
    assert (rows[1].won, rows[1].lost) == (1, 1)

    cycle = d.cycle_report(ReportOptions())
    assert cycle.deals == 6
    assert [(s.stage, s.entered) for s in cycle.stages] == [
        ("qualification", 1), ("proposal", 2), ("negotiation", 1), ("won", 1), ("lost", 1)]

    funnel = d.funnel_report(ReportOptions())
    assert funnel.accounts == 2 and funnel.unknown_stage == 0
    assert [(c.stage, c.count) for c in funnel.current] == [
        ("lead", 0), ("prospect", 1), ("customer", 1), ("loyal", 0), ("churned", 0)]
    assert sum(c.accounts for c in funnel.cohorts) == 2


def test_activities_count_done_on_time_late_overdue_and_planned(book):
    d = book.device
    report = d.activities_report(ReportOptions(time_zone="Europe/Madrid"))
    assert [(r.who, r.activity_type, r.week, r.done, r.on_time, r.late, r.overdue, r.planned) for r in report.rows] == [
        ("ana", "call", "2020-W10", 1, 0, 1, 0, 0),
        ("ana", "call", "2030-W03", 1, 1, 0, 0, 0),
        ("ana", "meeting", "2020-W10", 0, 0, 0, 1, 0),
        ("ana", "task", "2030-W03", 0, 0, 0, 0, 1),
        ("ana", "visit", "2020-W10", 1, 0, 1, 0, 0),
        ("bob", "call", "2030-W03", 0, 0, 0, 0, 1),
    ]
    totals = {t.who: t for t in report.totals}
    ana = totals["ana"]
    assert (ana.done, ana.on_time, ana.late, ana.overdue, ana.planned, ana.cancelled) == (3, 1, 2, 1, 1, 0)
    assert (ana.activity_type, ana.week) == ("*", "*")

    # Local days in Madrid: 3 and 4 March 2020 hold the meeting and the visit.
    days = d.activities_report(ReportOptions(time_zone="Europe/Madrid", from_day="2020-03-03", to_day="2020-03-04"))
    assert [(r.activity_type, r.overdue, r.done) for r in days.rows] == [("meeting", 1, 0), ("visit", 0, 1)]
    # Instants: [start, end) leaves the call due exactly at `end` out.
    window = d.activities_report(ReportOptions(start="2020-03-01T00:00:00Z", end="2020-03-02T09:00:00Z"))
    assert window.rows == []
    only_bob = d.activities_report(ReportOptions(owner="bob"))
    assert [t.who for t in only_bob.totals] == ["bob"]

    visits = d.visits_report(ReportOptions())
    assert [(v.id, v.duration_minutes, v.check_in_at) for v in visits.visits] == [
        (book.visit, 45, "2020-03-04T09:00:00Z")]
    assert (visits.visits[0].check_in.lat, visits.visits[0].check_in.lon) == (43.26, -2.93)
    assert visits.visits[0].check_out is None
    assert [(t.who, t.visits, t.with_duration, t.total_minutes) for t in visits.totals] == [("ana", 1, 1, 45)]


def test_the_timeline_lists_an_accounts_touchpoints_in_time_order(book):
    d = book.device
    timeline = d.timeline(book.north, ReportOptions())
    assert timeline.account == book.north
    events = [(e.kind, e.record, e.detail) for e in timeline.events]
    # The overdue meeting (due 2020) comes first; everything else happened now.
    assert events[0] == (TimelineEventKind.ACTIVITY, book.overdue, "meeting planned")
    assert timeline.events[0].at == "2020-03-03T09:00:00Z" and timeline.events[0].who == "ana"
    assert sorted(events[1:], key=repr) == sorted([
        (TimelineEventKind.ACCOUNT_STAGE, book.north, "prospect"),
        (TimelineEventKind.DEAL_CREATED, book.fleet, "proposal"),
        (TimelineEventKind.DEAL_CREATED, book.service, "proposal"),
        (TimelineEventKind.DEAL_CREATED, book.renewal, "won"),
        (TimelineEventKind.DEAL_CREATED, book.lost, "lost"),
        (TimelineEventKind.DEAL_CREATED, book.blank, "qualification"),
        (TimelineEventKind.ACTIVITY, book.on_time, "call done"),
        (TimelineEventKind.ACTIVITY, book.visit, "visit done"),
    ], key=repr)
    assert [e.at for e in timeline.events] == sorted(e.at for e in timeline.events)
    # The south account's deal is not on the north account's timeline.
    assert book.tablets not in {e.record for e in timeline.events}
    later = d.timeline(book.north, ReportOptions(start="2021-01-01T00:00:00Z"))
    assert len(later.events) == len(events) - 1

    # The generic call answers the same report.
    generic = d.report(ReportName.TIMELINE(account_id=book.north), ReportOptions())
    assert isinstance(generic, Report.TIMELINE) and generic.report == timeline


def test_csv_is_the_file_the_cli_writes(book):
    csv = book.device.report_csv(ReportName.PIPELINE(), ReportOptions())
    lines = csv.split("\r\n")
    assert lines[0] == "group,stage,count,without_amount,amount,weight,weighted,converted"
    assert lines[1] == "all,qualification,1,1,,10%,,"
    # Cells holding a comma are quoted (RFC 4180).
    assert lines[2] == 'all,proposal,2,0,"1250.50 EUR, 400000.00 HUF",30%,"375.15 EUR, 120000.00 HUF",'
    assert lines[3] == "all,negotiation,1,0,2000.00 EUR,60%,1200.00 EUR,"
    assert lines[4:] == [""], "CRLF after every line, nothing else"
    timeline = book.device.report_csv(ReportName.TIMELINE(account_id=book.north), ReportOptions())
    assert timeline.startswith("at,kind,record,title,detail,who\r\n2020-03-03T09:00:00Z,activity,")


def test_targets_report_progress_in_the_current_period(book):
    d = book.device
    assert d.targets_report(ReportOptions()).rows == [], "no target yet"
    wins = d.create(Kind.TARGET, edits(name="Five wins a month", metric="deals_won", period="month",
                                       goal="5", assignee="ana"))
    revenue = d.create(Kind.TARGET, edits(name="EUR 2000 a month", metric="revenue_won", period="month",
                                          goal="200000", currency="EUR", assignee="ana"))
    report = d.targets_report(ReportOptions())
    assert not report.truncated
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    # Ana won one deal this month (Renovación, 990.00 EUR, closed when the book was written).
    assert [(r.target, r.scope, r.metric, r.period, r.goal, r.actual, r.percent, r.remaining) for r in report.rows] == [
        (wins, TargetScope.USER(name="ana"), TargetMetric.DEALS_WON, month, 5, 1, 20, 4),
        (revenue, TargetScope.USER(name="ana"), TargetMetric.REVENUE_WON, month, 200_000, 99_000, 49, 101_000),
    ]
    for r in report.rows:
        assert r.expected is not None and r.on_track == (r.actual >= r.expected), "the current period has a pace"
    csv = d.report_csv(ReportName.TARGETS(), ReportOptions())
    assert csv.count("\r\n") == 3 and "Five wins a month" in csv, "a header line and one line per row"


def test_refused_options_are_invalid_and_name_the_option(book):
    d = book.device
    cases = [
        (ReportOptions(time_zone="Mars/Olympus"), "time_zone"),
        (ReportOptions(convert_to="EUR", rates=[ExchangeRate(currency="HUF", rate=-1.0)]), "rates"),
        (ReportOptions(convert_to="EUR", rates=[ExchangeRate(currency="HUF", rate=float("nan"))]), "rates"),
        (ReportOptions(rates=[ExchangeRate(currency="HUF", rate=0.0025)]), "rates"),
        (ReportOptions(convert_to="euros"), "convert_to"),
        (ReportOptions(stage_weights=[StageWeight(stage="proposal", percent=101)]), "stage_weights"),
        (ReportOptions(stage_weights=[StageWeight(stage="closing", percent=50)]), "stage_weights"),
        (ReportOptions(start="yesterday"), "start"),
        (ReportOptions(to_day="2026-13-01"), "to_day"),
        (ReportOptions(start="2026-01-01T00:00:00Z", from_day="2026-01-01"), "from_day"),
    ]
    for options, field in cases:
        with pytest.raises(FieldworkError.Invalid) as refused:
            d.pipeline_report(options)
        assert refused.value.field == field, (options, refused.value)
    with pytest.raises(FieldworkError.NotFound):
        d.timeline("not an id", ReportOptions())
    with pytest.raises(FieldworkError.Invalid):
        d.timeline(book.fleet, ReportOptions())


# ----- what a rep's report leaves out ----------------------------------------

def policy_hiding_deal_amounts(binary, data):
    """The server's default policy with deal `amount` moved to `financial`,
    a class reps do not read."""
    shown = subprocess.run([binary, "--data", str(data), "policy", "show"],
                           text=True, check=True, capture_output=True).stdout
    policy = shown.split("\n", 1)[1]
    section = re.search(r"\[fields\.deal\]\n(general = \[.*\])\n", policy)
    assert section and '"amount", ' in section.group(1), "the default policy's deal fields changed"
    hidden = section.group(1).replace('"amount", ', "") + '\nfinancial = ["amount"]'
    return policy.replace(section.group(1), hidden)


@pytest.fixture
def amounts_hidden_server(tmp_path):
    binary = server_binary()
    s = Server(binary, tmp_path / "server")
    s.admin("user", "add", "--name", "mia", "--role", "manager", "--territory", "north",
            "--password-stdin", stdin=PASSWORDS["mia"] + "\n")
    s.admin("user", "add", "--name", "ana", "--role", "rep", "--territory", "north", "--manager", "mia",
            "--password-stdin", stdin=PASSWORDS["ana"] + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_hiding_deal_amounts(binary, s.data))
    s.admin("policy", "set", str(policy))
    s.start()
    yield s
    s.stop()


def test_a_reps_report_holds_only_what_she_may_read(amounts_hidden_server, open_device):
    server = amounts_hidden_server
    mia = open_device()
    asyncio.run(mia.login(server.url, "mia", PASSWORDS["mia"]))
    north = mia.create(Kind.ACCOUNT, edits(name="Norte Visible", stage="lead", territory="north", owner="mia"))
    visible = mia.create(Kind.DEAL, edits(name="Visible", account=north, stage="proposal", owner="mia",
                                          amount="777700", currency="EUR"))
    south = mia.create(Kind.ACCOUNT, edits(name="Sur Oculto", stage="lead", territory="south", owner="mia"))
    hidden = mia.create(Kind.DEAL, edits(name="Oculto", account=south, stage="proposal", owner="mia",
                                         amount="999900", currency="EUR"))
    pushed = asyncio.run(mia.sync_now(30))
    assert pushed.refused == 0
    # The manager reads both deals and their amounts.
    manager_rows = mia.pipeline_report(ReportOptions()).rows
    assert [(r.stage, r.count, r.without_amount) for r in manager_rows] == [("proposal", 2, 0)]
    assert per_currency(r.amount for r in manager_rows) == {"EUR": 777_700 + 999_900}

    ana = open_device()
    asyncio.run(ana.login(server.url, "ana", PASSWORDS["ana"]))
    asyncio.run(ana.sync_now(30))
    assert ana.card(visible).title == "Visible"
    # The south deal is not hers to see; the amount is not hers to read.
    rows = ana.pipeline_report(ReportOptions()).rows
    assert [(r.stage, r.count, r.without_amount, r.amount, r.weighted) for r in rows] == [("proposal", 1, 1, [], [])]
    assert "amount" not in {f.name for f in ana.card(visible).fields}
    assert ana.timeline(south, ReportOptions()).events == []
    assert {e.record for e in ana.timeline(north, ReportOptions()).events} == {north, visible}
    for name in [ReportName.PIPELINE(), ReportName.CYCLE(), ReportName.FUNNEL(),
                 ReportName.TIMELINE(account_id=north), ReportName.TIMELINE(account_id=south)]:
        csv = ana.report_csv(name, ReportOptions())
        for secret in ["Oculto", hidden, south, "7777", "9999"]:
            assert secret not in csv, (name, secret)
    funnel = ana.funnel_report(ReportOptions())
    assert funnel.accounts == 1
    with pytest.raises(FieldworkError.NotFound):
        ana.card(hidden)
