"""The Fieldwork core driven from Python through the generated bindings,
against a real server: offline work, sync between two users, the policy as
the app sees it, typed errors, and change callbacks."""

import asyncio
import threading

import pytest

import fieldwork
from conftest import PASSWORDS
from fieldwork import ArchivedFilter, FieldEdit, FieldworkDevice, FieldworkError, Kind, ListOptions


def edits(**fields):
    return [FieldEdit(field=name, value=value) for name, value in fields.items()]


class Recorder(fieldwork.DeviceListener):
    """Collects callbacks; `wait_for` blocks until a condition holds."""

    def __init__(self):
        self.changed = []
        self.statuses = []
        self.cond = threading.Condition()

    def records_changed(self, ids):
        with self.cond:
            self.changed.extend(ids)
            self.cond.notify_all()

    def sync_status_changed(self, status):
        with self.cond:
            self.statuses.append(status)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), "callback not received in time"


def sign_in(device, server, user):
    return asyncio.run(device.login(server.url, user, PASSWORDS[user]))


def test_an_account_made_offline_reaches_a_second_user_after_sync(server, open_device):
    ana = open_device()
    listener = Recorder()
    ana.add_listener(listener)
    user = sign_in(ana, server, "ana")
    assert (user.name, user.role, user.signed_in) == ("ana", "rep", True)

    # Not connected: the edit is saved locally and waits in the outbox.
    account = ana.create(Kind.ACCOUNT, edits(name="Acme Iberia", territory="north", city="Bilbao"))
    listener.wait_for(lambda: account in listener.changed)
    assert "Acme Iberia" in [row.title for row in ana.list(Kind.ACCOUNT, ListOptions())]
    assert ana.pending_changes() > 0

    report = asyncio.run(ana.sync_now(30))
    assert report.pushed >= 1 and report.refused == 0
    assert ana.pending_changes() == 0
    listener.wait_for(lambda: any(s.is_OFFLINE() for s in listener.statuses))
    assert any(s.is_CONNECTING() for s in listener.statuses)

    mia = open_device()
    sign_in(mia, server, "mia")
    asyncio.run(mia.sync_now(30))
    # The server is shared by this module's tests: look for this account.
    rows = mia.list(Kind.ACCOUNT, ListOptions(territory="north"))
    assert [(r.title, r.territory) for r in rows if r.id == account] == [("Acme Iberia", "north")]
    assert [hit.id for hit in mia.search("acm ibe", None, 10)] == [account]
    history = mia.history(account)
    assert {entry.author for entry in history} == {"ana"}
    assert {"name", "city"} <= {c.field for entry in history for c in entry.changes}

    # The manager archives it: it leaves her lists and search, not her store.
    mia.update(account, edits(archived="true"))
    assert account not in [r.id for r in mia.list(Kind.ACCOUNT, ListOptions(territory="north"))]
    only = mia.list(Kind.ACCOUNT, ListOptions(archived=ArchivedFilter.ONLY))
    assert [r.id for r in only] == [account]
    assert mia.search("acm ibe", None, 10) == []


def test_the_card_shows_what_the_policy_lets_each_user_read_and_write(server, open_device):
    mia = open_device()
    sign_in(mia, server, "mia")
    account = mia.create(Kind.ACCOUNT, edits(name="Norte Foods", territory="north",
                                             credit_limit="500000", credit_currency="EUR"))
    asyncio.run(mia.sync_now(30))
    manager_view = {f.name: f for f in mia.card(account).fields}
    assert manager_view["credit_limit"].writable
    assert manager_view["credit_limit"].display == "5000.00 EUR"

    ana = open_device()
    sign_in(ana, server, "ana")
    asyncio.run(ana.sync_now(30))
    rep_view = {f.name: f for f in ana.card(account).fields}
    assert "credit_limit" not in rep_view and "tax_id" not in rep_view
    assert rep_view["name"].value == "Norte Foods" and rep_view["name"].writable
    assert not rep_view["stage_history"].writable
    assert "credit_limit" not in ana.creatable_fields(Kind.ACCOUNT)


def test_core_errors_arrive_as_typed_exceptions(server, open_device):
    ana = open_device()
    sign_in(ana, server, "ana")
    account = ana.create(Kind.ACCOUNT, edits(name="Typed Errors SL", territory="north"))

    with pytest.raises(FieldworkError.Denied) as denied:
        ana.update(account, edits(credit_limit="100", credit_currency="EUR"))
    assert denied.value.code == "class_not_writable"
    assert denied.value.rule == "roles.rep.write"
    assert denied.value.field in ("credit_limit", "credit_currency")

    with pytest.raises(FieldworkError.Invalid) as invalid:
        ana.update(account, edits(email="not an address"))
    assert invalid.value.field == "email"
    # Nothing was written: the field is still empty.
    assert "email" not in {f.name for f in ana.card(account).fields if f.value}

    with pytest.raises(FieldworkError.NotFound):
        ana.card("account:doesnotexist")

    stranger = open_device()
    with pytest.raises(FieldworkError.InvalidCredentials):
        asyncio.run(stranger.login(server.url, "ana", "wrong password"))
    with pytest.raises(FieldworkError.NotLoggedIn):
        asyncio.run(stranger.sync_now(5))


def test_a_task_assigned_by_the_manager_lands_in_the_reps_task_list(server, open_device):
    mia = open_device()
    sign_in(mia, server, "mia")
    account = mia.create(Kind.ACCOUNT, edits(name="Tareas SA", territory="north"))
    call = mia.create(Kind.ACTIVITY, edits(type="call", subject="Call the buyer", account=account,
                                           assignee="ana", due_at="2030-01-15T09:00:00Z"))
    asyncio.run(mia.sync_now(30))

    ana = open_device()
    listener = Recorder()
    ana.add_listener(listener)
    sign_in(ana, server, "ana")
    asyncio.run(ana.sync_now(30))
    listener.wait_for(lambda: call in listener.changed)
    tasks = ana.tasks(None)
    assert tasks.time_zone == "Europe/Madrid"
    assert [(t.id, t.local) for t in tasks.upcoming] == [(call, "2030-01-15 10:00 CET")]
    assert [t.id for t in ana.calendar("2030-01-15", "2030-01-15", None)] == [call]

    ana.complete_task(call)
    assert ana.tasks(None).upcoming == []


def test_background_sync_delivers_live_changes(server, open_device):
    ana, mia = open_device(), open_device()
    sign_in(ana, server, "ana")
    sign_in(mia, server, "mia")
    listener = Recorder()
    mia.add_listener(listener)
    mia.start_sync()
    listener.wait_for(lambda: any(s.is_UP_TO_DATE() for s in listener.statuses))

    account = ana.create(Kind.ACCOUNT, edits(name="Live Update SL", territory="north"))
    asyncio.run(ana.sync_now(30))
    listener.wait_for(lambda: account in listener.changed)
    assert mia.card(account).title == "Live Update SL"
    mia.stop_sync()
    assert mia.sync_status().is_OFFLINE()


def test_an_unreachable_server_is_a_network_error_and_keeps_local_work(private_server, open_device):
    ana = open_device()
    sign_in(ana, private_server, "ana")
    private_server.stop()

    account = ana.create(Kind.ACCOUNT, edits(name="Sin Cobertura SL", territory="north"))
    with pytest.raises(FieldworkError.Network):
        asyncio.run(ana.sync_now(10))
    assert ana.card(account).title == "Sin Cobertura SL"
    assert ana.pending_changes() > 0
    assert ana.sync_status().is_ERROR()


def test_an_unreachable_server_reports_the_network_cause_in_the_device_locale(private_server, open_device):
    ana = open_device()
    listener = Recorder()
    ana.add_listener(listener)
    sign_in(ana, private_server, "ana")
    private_server.stop()  # nothing listens on its port any more

    with pytest.raises(FieldworkError.Network):
        asyncio.run(ana.sync_now(10))
    status = ana.sync_status()
    assert status.is_ERROR()
    assert status.cause == fieldwork.SyncErrorCause.NETWORK
    assert status.message.startswith("Could not reach the server"), status.message
    listener.wait_for(lambda: any(
        s.is_ERROR() and s.cause == fieldwork.SyncErrorCause.NETWORK for s in listener.statuses))

    ana.set_locale("es")
    with pytest.raises(FieldworkError.Network):
        asyncio.run(ana.sync_now(10))
    status = ana.sync_status()
    assert status.is_ERROR()
    assert status.cause == fieldwork.SyncErrorCause.NETWORK
    assert status.message == "No se pudo conectar con el servidor; comprueba la conexión."
