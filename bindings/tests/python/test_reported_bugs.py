"""The bugs app developers met (issue 16), each shown from Python through the
generated bindings against a real server."""

import asyncio
import threading
import urllib.request

import pytest

import fieldwork
from conftest import PASSWORDS, MemoryKeystore
from fieldwork import FieldEdit, FieldworkError, Kind, ListOptions


def edits(**fields):
    return [FieldEdit(field=name, value=value) for name, value in fields.items()]


def sign_in(device, server, user):
    return asyncio.run(device.login(server.url, user, PASSWORDS[user]))


def test_search_finds_special_latin_letters_as_people_type_them(server, open_device):
    ana = open_device()
    sign_in(ana, server, "ana")
    names = {"Łódź Hurt": "lodz", "Østergaard ApS": "ostergaard", "Hauptstraße Bäckerei": "hauptstrasse"}
    ids = {name: ana.create(Kind.ACCOUNT, edits(name=name, territory="north")) for name in names}
    for name, typed in names.items():
        assert [hit.id for hit in ana.search(typed, None, 10)] == [ids[name]], typed
    # What was written is found as written, too.
    assert [hit.id for hit in ana.search("Łódź", None, 10)] == [ids["Łódź Hurt"]]
    assert [hit.id for hit in ana.search("Hauptstraße", None, 10)] == [ids["Hauptstraße Bäckerei"]]


def test_a_rep_writing_a_credit_limit_is_denied_whatever_she_typed(server, open_device):
    ana = open_device()
    sign_in(ana, server, "ana")
    account = ana.create(Kind.ACCOUNT, edits(name="Crédito Denegado SL", territory="north"))
    for typed in ("100000", "lots"):
        with pytest.raises(FieldworkError.Denied) as denied:
            ana.update(account, edits(credit_limit=typed))
        assert (denied.value.code, denied.value.field) == ("class_not_writable", "credit_limit")
    with pytest.raises(FieldworkError.Denied) as denied:
        ana.create(Kind.ACCOUNT, edits(name="Otro SL", territory="north", credit_limit="12,5 M"))
    assert denied.value.field == "credit_limit"
    # Her own fields are still checked as before.
    with pytest.raises(FieldworkError.Invalid) as invalid:
        ana.update(account, edits(email="not an address"))
    assert invalid.value.field == "email"


def test_a_second_user_on_a_store_is_denied_and_the_store_stays_the_first_users(server, open_device):
    device = open_device()
    sign_in(device, server, "ana")
    with pytest.raises(FieldworkError.Denied) as denied:
        sign_in(device, server, "mia")
    assert denied.value.code == "store_of_another_user"
    assert denied.value.field is None
    user = device.user()
    assert (user.name, user.signed_in) == ("ana", True)


def test_what_was_typed_before_the_first_login_becomes_the_users_and_syncs(server, open_device):
    ana = open_device()
    # Offline, before anyone signed in on this phone.
    account = ana.create(Kind.ACCOUNT, edits(name="Antes del Login SA", territory="north", city="Vigo",
                                             credit_limit="100000", credit_currency="EUR"))
    ana.update(account, edits(city="Ourense"))
    sign_in(ana, server, "ana")

    card = {f.name: f.value for f in ana.card(account).fields}
    assert (card["name"], card["city"], card["owner"]) == ("Antes del Login SA", "Ourense", "ana")
    # The credit limit her role may not write is kept, with the reason.
    kept = sorted((q.field, q.code) for q in ana.quarantine())
    assert kept == [("credit_currency", "class_not_writable"), ("credit_limit", "class_not_writable")]

    report = asyncio.run(ana.sync_now(30))
    assert report.pushed >= 1 and report.refused == 0
    assert ana.pending_changes() == 0
    assert len(ana.quarantine()) == 2, "nothing new refused at the first sync"

    mia = open_device()
    sign_in(mia, server, "mia")
    asyncio.run(mia.sync_now(30))
    seen = {f.name: f.value for f in mia.card(account).fields}
    assert (seen["name"], seen["owner"], seen["city"]) == ("Antes del Login SA", "ana", "Ourense")
    assert {entry.author for entry in mia.history(account)} == {"ana"}


class StatusRecorder(fieldwork.DeviceListener):
    """Collects sync statuses; `wait_for` blocks until a condition holds."""

    def __init__(self):
        self.statuses = []
        self.cond = threading.Condition()

    def records_changed(self, ids):
        pass

    def sync_status_changed(self, status):
        with self.cond:
            self.statuses.append(status)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=20.0):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"not seen in time: {self.statuses}"


def test_a_session_revoked_during_live_sync_signs_the_device_out(private_server, open_device):
    keystore = MemoryKeystore()
    ana = open_device(keystore=keystore)
    listener = StatusRecorder()
    ana.add_listener(listener)
    sign_in(ana, private_server, "ana")
    ana.start_sync()
    listener.wait_for(lambda: any(s.is_UP_TO_DATE() for s in listener.statuses))

    # The session ends on the server (revoked), then the link drops.
    token = keystore.values["session-token"].decode()
    request = urllib.request.Request(private_server.url + "/v1/logout", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 204
    address = private_server.url.removeprefix("http://")
    private_server.stop()
    private_server.start(listen=address)

    listener.wait_for(lambda: any(s.is_NEEDS_LOGIN() for s in listener.statuses))
    assert ana.sync_status().is_NEEDS_LOGIN()
    user = ana.user()
    assert (user.name, user.signed_in) == ("ana", False)
    with pytest.raises(FieldworkError.NotLoggedIn):
        asyncio.run(ana.sync_now(5))
    # Signing in again brings sync back.
    assert sign_in(ana, private_server, "ana").signed_in
    assert asyncio.run(ana.sync_now(30)).refused == 0


def test_the_app_sets_the_sort_locale_and_it_is_kept(store_path, open_device):
    path = store_path()
    keystore = MemoryKeystore()
    device = open_device(path, keystore)
    for name in ("Oso", "Ñandú", "Nube"):
        device.create(Kind.ACCOUNT, edits(name=name))

    def titles(d):
        return [row.title for row in d.list(Kind.ACCOUNT, ListOptions())]

    device.set_locale("es-ES")
    assert device.locale() == "es-ES"
    assert titles(device) == ["Nube", "Ñandú", "Oso"]
    with pytest.raises(FieldworkError.Invalid) as invalid:
        device.set_locale("not a locale!")
    assert invalid.value.field == "locale"
    device.close_device()
    # Reopened (the app restarted), it still sorts in Spanish.
    again = open_device(path, keystore)
    assert again.locale() == "es-ES"
    assert titles(again) == ["Nube", "Ñandú", "Oso"]


def test_money_is_typed_and_shown_as_the_user_writes_it(server, open_device):
    mia = open_device()
    sign_in(mia, server, "mia")
    account = mia.create(Kind.ACCOUNT, [
        FieldEdit(field="name", value="Importe Tecleado SL"),
        FieldEdit(field="territory", value="north"),
        FieldEdit(field="credit_limit", value="1234.50", currency="EUR"),
    ])
    limit = {f.name: f for f in mia.card(account).fields}["credit_limit"]
    assert (limit.amount, limit.currency, limit.display) == ("1234.50", "EUR", "1234.50 EUR")
    assert limit.value == "123450", "the minor-unit form is still there"
    mia.update(account, [FieldEdit(field="credit_limit", value="7,5", currency="EUR")])
    assert {f.name: f for f in mia.card(account).fields}["credit_limit"].amount == "7.50"
    # Apps that send minor units keep working.
    mia.update(account, edits(credit_limit="500000"))
    assert {f.name: f for f in mia.card(account).fields}["credit_limit"].display == "5000.00 EUR"
    with pytest.raises(FieldworkError.Invalid) as invalid:
        mia.update(account, [FieldEdit(field="credit_limit", value="1.234", currency="EUR")])
    assert invalid.value.field == "credit_limit"
    # A rep typing an amount is still denied, before anything is parsed.
    ana = open_device()
    sign_in(ana, server, "ana")
    mine = ana.create(Kind.ACCOUNT, edits(name="Sin Crédito SL", territory="north"))
    with pytest.raises(FieldworkError.Denied):
        ana.update(mine, [FieldEdit(field="credit_limit", value="10", currency="EUR")])
