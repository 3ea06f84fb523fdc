"""A device's life from Python: one handle per store file (also across
processes), `close_device` (idempotent, bounded, typed `Closed` afterwards,
no callback after it), `store_size`, `wipe` leaving no file behind, and a
process that exits with a live listener and background sync exiting 0
(issue 16: it used to abort with SIGABRT when a listener thread called into
the finalising interpreter)."""

import asyncio
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import fieldwork
from conftest import PASSWORDS, MemoryKeystore
from fieldwork import FieldEdit, FieldworkDevice, FieldworkError, Kind

BINDINGS = pathlib.Path(fieldwork.__file__).resolve().parent


def run_child(code: str, *args: str, stdin: str = "", timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh Python process that imports the generated
    module; its exit code, output and errors."""
    env = {**os.environ, "PYTHONPATH": str(BINDINGS), "PYTHONFAULTHANDLER": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        input=stdin, text=True, capture_output=True, timeout=timeout, env=env,
    )


# A process that leaves a device with background sync and a slow listener
# running, and exits without closing it: only `atexit` (as every Python app
# does once) closes it. The listener sleeps inside its callbacks, so that one
# is running when the interpreter begins to exit. With `--wait`, the child
# says "ready" once up to date and exits as soon as a line arrives on stdin
# (the parent stops the server in between).
LIVE_LISTENER_CHILD = """
    import asyncio, atexit, sys, time
    import fieldwork

    atexit.register(fieldwork.close_all_devices)

    class Keystore(fieldwork.Keystore):
        def __init__(self):
            self.values = {}
        def get(self, name):
            return self.values.get(name)
        def set(self, name, value):
            self.values[name] = bytes(value)
        def delete(self, name):
            self.values.pop(name, None)

    class Slow(fieldwork.DeviceListener):
        def records_changed(self, ids):
            time.sleep(0.3)
        def sync_status_changed(self, status):
            time.sleep(0.3)

    url, user, password, path = sys.argv[1:5]
    device = fieldwork.FieldworkDevice.open(path, Keystore())
    device.add_listener(Slow())
    asyncio.run(device.login(url, user, password))
    device.start_sync()
    deadline = time.monotonic() + 30
    while not device.sync_status().is_UP_TO_DATE():
        assert time.monotonic() < deadline, device.sync_status()
        time.sleep(0.05)
    if "--wait" in sys.argv:
        print("ready", flush=True)
        sys.stdin.readline()
    else:
        # A change whose callback is still running when the process exits.
        device.create(fieldwork.Kind.ACCOUNT, [fieldwork.FieldEdit(field="name", value="Salida Limpia SL")])
    print("exiting with the device open", flush=True)
"""


def test_a_process_with_a_live_listener_and_sync_exits_cleanly(server, tmp_path):
    for attempt in range(3):
        child = run_child(LIVE_LISTENER_CHILD, server.url, "ana", PASSWORDS["ana"],
                          str(tmp_path / f"exit-{attempt}.db"))
        assert "exiting with the device open" in child.stdout, child.stderr
        assert child.returncode == 0, f"exit code {child.returncode}: {child.stderr[-2000:]}"


def test_a_process_exits_cleanly_when_the_server_stopped_just_before(private_server, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(BINDINGS), "PYTHONFAULTHANDLER": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(LIVE_LISTENER_CHILD), private_server.url, "ana",
         PASSWORDS["ana"], str(tmp_path / "exit.db"), "--wait"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        # The link drops: status callbacks (slow ones) are on their way.
        private_server.stop()
        time.sleep(0.1)
        out, err = child.communicate("go\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert "exiting with the device open" in out, err
    assert child.returncode == 0, f"exit code {child.returncode}: {err[-2000:]}"


class Recorder(fieldwork.DeviceListener):
    def __init__(self):
        self.calls = []
        self.cond = threading.Condition()

    def records_changed(self, ids):
        with self.cond:
            self.calls.append(("records", ids))
            self.cond.notify_all()

    def sync_status_changed(self, status):
        with self.cond:
            self.calls.append(("status", status))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=20.0):
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"not seen in time: {self.calls}"


OPEN_IN_CHILD = """
    import sys
    import fieldwork

    class Keystore(fieldwork.Keystore):
        def __init__(self, key):
            self.values = {"store-key": bytes.fromhex(key)}
        def get(self, name):
            return self.values.get(name)
        def set(self, name, value):
            self.values[name] = bytes(value)
        def delete(self, name):
            self.values.pop(name, None)

    try:
        device = fieldwork.FieldworkDevice.open(sys.argv[1], Keystore(sys.argv[2]))
    except fieldwork.FieldworkError.StoreInUse as e:
        print("StoreInUse", e.path)
    else:
        print("opened", device.count(fieldwork.Kind.ACCOUNT))
        device.close_device()
"""


def test_a_store_opens_once_here_and_in_other_processes_until_closed(store_path):
    keystore = MemoryKeystore()
    path = store_path()
    device = FieldworkDevice.open(path, keystore)
    device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Un Solo Dueño SA")])
    key = keystore.values["store-key"].hex()

    with pytest.raises(FieldworkError.StoreInUse) as in_use:
        FieldworkDevice.open(path, keystore)
    assert in_use.value.path == path
    other = run_child(OPEN_IN_CHILD, path, key)
    assert other.returncode == 0, other.stderr
    assert other.stdout.split() == ["StoreInUse", path], other.stdout

    device.close_device()
    other = run_child(OPEN_IN_CHILD, path, key)
    assert other.returncode == 0, other.stderr
    assert other.stdout.split() == ["opened", "1"], "released by close: another process opens it"
    again = FieldworkDevice.open(path, keystore)
    assert again.count(Kind.ACCOUNT) == 1
    again.close_device()


def test_close_is_bounded_idempotent_and_nothing_is_called_after_it(server, store_path):
    device = FieldworkDevice.open(store_path(), MemoryKeystore())
    listener = Recorder()
    device.add_listener(listener)
    asyncio.run(device.login(server.url, "ana", PASSWORDS["ana"]))
    device.start_sync()
    listener.wait_for(lambda: any(kind == "status" and s.is_UP_TO_DATE() for kind, s in listener.calls))
    assert device.store_size() > 0

    started = time.monotonic()
    device.close_device()
    took = time.monotonic() - started
    heard = len(listener.calls)
    assert took < 5.0, f"close took {took:.2f} s"
    device.close_device()  # again: nothing happens

    for call in (
        lambda: device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Tarde")]),
        lambda: device.count(Kind.ACCOUNT),
        lambda: device.store_size(),
        lambda: device.user(),
        lambda: device.start_sync(),
        lambda: device.add_listener(Recorder()),
        lambda: device.wipe(),
        lambda: asyncio.run(device.sync_now(5)),
    ):
        with pytest.raises(FieldworkError.Closed):
            call()
    device.stop_sync()  # harmless on a closed device
    time.sleep(0.5)
    assert len(listener.calls) == heard, f"called after close: {listener.calls[heard:]}"


def test_wipe_leaves_no_file_behind(server, tmp_path):
    directory = tmp_path / "phone"
    directory.mkdir()
    keystore = MemoryKeystore()
    path = str(directory / "fieldwork.db")
    device = FieldworkDevice.open(path, keystore)
    asyncio.run(device.login(server.url, "ana", PASSWORDS["ana"]))
    device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Borrado Total SL"), FieldEdit(field="territory", value="north")])
    device.start_sync()
    assert {"fieldwork.db", "fieldwork.db.lock"} <= {p.name for p in directory.iterdir()}
    assert set(keystore.values) >= {"store-key", "session-token"}

    device.wipe()
    assert sorted(p.name for p in directory.iterdir()) == [], "store, WAL, SHM and lock file are gone"
    assert keystore.values == {}, "store key and session token are gone"
    with pytest.raises(FieldworkError.Wiped):
        device.count(Kind.ACCOUNT)
    assert device.sync_status().is_WIPED()
    device.close_device()

    fresh = FieldworkDevice.open(path, keystore)
    assert fresh.count(Kind.ACCOUNT) == 0
    fresh.close_device()


def test_compact_gives_space_back_and_keeps_every_record(open_device):
    device = open_device()
    account = device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Compacta SA")])
    for i in range(40):
        device.update(account, [FieldEdit(field="city", value=f"Ciudad {i}")])
    done = device.compact()
    assert done.documents >= 1
    assert done.size_after <= done.size_before
    assert done.size_after == device.store_size()
    city = next(f for f in device.card(account).fields if f.name == "city")
    assert city.value == "Ciudad 39"
    assert device.compact().documents == 0
