"""Live queries from Python against a real server: a subscription on a list,
a search and one record hears the initial snapshot, then what another user's
device changed (synced through the server), and nothing after cancel or
close; the iterator form (`watch_*`) and the callback form (`observe_*`)."""

import asyncio
import threading
import time

import fieldwork
from conftest import PASSWORDS
from fieldwork import FieldEdit, Kind, ListOptions


def edits(**fields):
    return [FieldEdit(field=name, value=value) for name, value in fields.items()]


def sign_in(device, server, user):
    return asyncio.run(device.login(server.url, user, PASSWORDS[user]))


def sync(device):
    return asyncio.run(device.sync_now(30))


class Cards(fieldwork.RecordObserver):
    """The callback form: collects what a record subscription delivers."""

    def __init__(self):
        self.seen = []
        self.errors = []
        self.endings = 0
        self.threads = set()
        self.cond = threading.Condition()

    def changed(self, record):
        with self.cond:
            self.seen.append(record)
            self.threads.add(threading.get_native_id())
            self.cond.notify_all()

    def failed(self, error):
        with self.cond:
            self.errors.append(error)
            self.cond.notify_all()

    def ended(self):
        with self.cond:
            self.endings += 1
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"not delivered in time: {self.seen}"


def wait_until(rows_of, snapshots, predicate, timeout=10.0):
    """Takes snapshots until one satisfies `predicate`; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        rows = snapshots.get(max(0.01, deadline - time.monotonic()))
        if predicate(rows_of(rows)):
            return rows


def test_a_list_subscription_hears_another_users_change_and_nothing_after_cancel(server, open_device):
    mia, ana = open_device(), open_device()
    sign_in(mia, server, "mia")
    sign_in(ana, server, "ana")
    sync(ana)
    north = ListOptions(territory="north", limit=1000)

    snapshots = ana.watch_query(Kind.ACCOUNT, north)
    first = snapshots.get(10)
    assert first == ana.list(Kind.ACCOUNT, north), "the initial snapshot is the list"

    # Another user, on another device, adds an account in Ana's territory.
    account = mia.create(Kind.ACCOUNT, edits(name="Observada Norte SL", territory="north"))
    sync(mia)
    sync(ana)
    rows = wait_until(lambda rows: {r.id for r in rows}, snapshots, lambda ids: account in ids)
    assert [r.title for r in rows if r.id == account] == ["Observada Norte SL"]

    snapshots.cancel()
    assert not snapshots.subscription.is_active()
    later = mia.create(Kind.ACCOUNT, edits(name="Tras Cancelar SL", territory="north"))
    sync(mia)
    sync(ana)
    assert later in {r.id for r in ana.list(Kind.ACCOUNT, north)}
    time.sleep(0.3)
    assert list(snapshots) == [], "nothing is delivered after cancel"


def test_a_search_subscription_in_the_callback_free_iterator_form(server, open_device):
    mia, ana = open_device(), open_device()
    sign_in(mia, server, "mia")
    sign_in(ana, server, "ana")
    with ana.watch_search("zarzamora", Kind.ACCOUNT, 10) as hits:
        assert hits.get(10) == []
        account = mia.create(Kind.ACCOUNT, edits(name="Zarzamora Hermanos", territory="north"))
        sync(mia)
        sync(ana)
        assert [h.id for h in hits.get(10)] == [account]
    assert not hits.subscription.is_active()


def test_a_record_subscription_sees_the_change_and_the_revocation(server, open_device):
    mia, ana = open_device(), open_device()
    sign_in(mia, server, "mia")
    sign_in(ana, server, "ana")
    account = mia.create(Kind.ACCOUNT, edits(name="Vista Previa SL", territory="north"))
    sync(mia)
    sync(ana)

    cards = Cards()
    subscription = ana.observe_record(account, cards)
    cards.wait_for(lambda: len(cards.seen) == 1)
    assert cards.seen[0].title == "Vista Previa SL"
    # On the dispatcher thread (Python names such threads `Dummy-N`).
    assert len(cards.threads) == 1 and threading.get_native_id() not in cards.threads

    mia.update(account, edits(name="Vista Nueva SL"))
    sync(mia)
    sync(ana)
    cards.wait_for(lambda: len(cards.seen) == 2)
    assert cards.seen[1].title == "Vista Nueva SL"

    # The manager moves it out of Ana's territory: it is revoked on her
    # device, and the subscription says so with None.
    mia.update(account, edits(territory="south"))
    sync(mia)
    sync(ana)
    cards.wait_for(lambda: len(cards.seen) == 3)
    assert cards.seen[2] is None
    assert account not in {r.id for r in ana.list(Kind.ACCOUNT, ListOptions(limit=1000))}

    subscription.cancel()
    subscription.cancel()
    mia.update(account, edits(territory="north"))
    sync(mia)
    sync(ana)
    time.sleep(0.3)
    assert len(cards.seen) == 3 and cards.errors == [] and cards.endings == 0, "cancel calls no `ended`"


def test_close_ends_subscriptions_and_cancel_after_close_is_harmless(server, open_device):
    ana = open_device()
    cards = Cards()
    account = ana.create(Kind.ACCOUNT, edits(name="Antes de Cerrar SL", territory="north"))
    subscription = ana.observe_record(account, cards)
    snapshots = ana.watch_query(Kind.ACCOUNT)
    cards.wait_for(lambda: len(cards.seen) == 1)
    assert [r.id for r in snapshots.get(10)] == [account]

    ana.close_device()
    assert not subscription.is_active() and not snapshots.subscription.is_active()
    assert cards.endings == 1, "close_device returns once `ended` was called"
    subscription.cancel()
    snapshots.cancel()
    assert list(snapshots) == []
    assert len(cards.seen) == 1 and cards.endings == 1
    try:
        ana.observe_record(account, cards)
    except fieldwork.FieldworkError.Closed:
        pass
    else:
        raise AssertionError("observing a closed device must fail with Closed")


def test_an_observer_that_raises_does_not_stop_the_others(server, open_device):
    class Raises(fieldwork.QueryObserver):
        def __init__(self):
            self.calls = 0

        def snapshot(self, rows):
            self.calls += 1
            raise ValueError("a bug in the app's observer")

        def failed(self, error):
            pass

        def ended(self):
            pass

    ana = open_device()
    raises = Raises()
    bad = ana.observe_query(Kind.ACCOUNT, ListOptions(), raises)
    with ana.watch_query(Kind.ACCOUNT) as good:
        assert good.get(10) == []
        account = ana.create(Kind.ACCOUNT, edits(name="Sigue Vivo SL", territory="north"))
        assert [r.id for r in good.get(10)] == [account]
    assert raises.calls == 2 and bad.is_active()
    bad.cancel()


def test_a_listener_runs_on_the_dispatcher_and_cancel_removes_it(open_device):
    class Heard(fieldwork.DeviceListener):
        def __init__(self):
            self.changed = []
            self.threads = set()
            self.cond = threading.Condition()

        def records_changed(self, ids):
            with self.cond:
                self.changed.extend(ids)
                self.threads.add(threading.get_native_id())
                self.cond.notify_all()

        def sync_status_changed(self, status):
            pass

    ana = open_device()
    heard = Heard()
    listening = ana.add_listener(heard)
    with ana.watch_query(Kind.ACCOUNT) as rows:
        rows.get(10)
        first = ana.create(Kind.ACCOUNT, edits(name="Oída SL", territory="north"))
        with heard.cond:
            assert heard.cond.wait_for(lambda: first in heard.changed, 10)
        rows.get(10)
        listening.cancel()
        second = ana.create(Kind.ACCOUNT, edits(name="No Oída SL", territory="north"))
        assert [r.id for r in rows.latest(10) if r.id == second] == [second]
    time.sleep(0.2)
    assert second not in heard.changed, "a cancelled listener hears nothing"
    assert len(heard.threads) == 1 and threading.get_native_id() not in heard.threads


def test_snapshots_the_app_drops_are_freed_with_their_subscription(open_device):
    import gc
    import weakref

    ana = open_device()
    snapshots = ana.watch_query(Kind.ACCOUNT)
    assert snapshots.get(10) == []
    subscription = weakref.ref(snapshots.subscription)
    freed = weakref.ref(snapshots)
    del snapshots
    gc.collect()
    assert freed() is None and subscription() is None, "no cycle through the dispatcher keeps them"
    ana.create(Kind.ACCOUNT, edits(name="Nadie Mira SL", territory="north"))


def test_a_for_loop_over_watch_query_in_a_thread_ends_when_the_device_is_closed(open_device):
    ana = open_device()
    seen = []
    first = threading.Event()

    def watch():
        for rows in ana.watch_query(Kind.ACCOUNT):
            seen.append(rows)
            first.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert first.wait(10), "no initial snapshot"
    ana.close_device()
    watcher.join(10)
    assert not watcher.is_alive(), "the for-loop still waits after close_device"
    assert seen == [[]]
    try:
        ana.watch_query(Kind.ACCOUNT)
    except fieldwork.FieldworkError.Closed:
        pass
    else:
        raise AssertionError("watching a closed device must fail with Closed")
