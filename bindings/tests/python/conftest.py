"""Fixtures for the Python binding tests: a real fieldwork-server on a free
port, with users created through its admin CLI, and fresh device stores.

Run through bindings/scripts/test-foreign.sh, which builds the server and the
library and generates the bindings first. FIELDWORK_BINDINGS_PY points at the
generated module, FIELDWORK_SERVER_BIN at the server binary.
"""

import atexit
import gc
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, os.environ.get("FIELDWORK_BINDINGS_PY", str(ROOT / "bindings" / "out" / "python")))

import fieldwork  # noqa: E402  (the generated module, found via sys.path)

# Before the interpreter finalises, close every device still open: a listener
# thread that called into Python during finalisation would be killed by
# CPython and abort the run (SIGABRT). What every Python app does once.
atexit.register(fieldwork.close_all_devices)

PASSWORDS = {"ana": "ana-secret-1", "mia": "mia-secret-1"}


class MemoryKeystore(fieldwork.Keystore):
    """The app's keystore stand-in (Android Keystore, iOS Keychain): secrets
    in a dict, shared by every store the test opens with it."""

    def __init__(self):
        self.values = {}

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.values[name] = bytes(value)

    def delete(self, name):
        self.values.pop(name, None)


class Server:
    """A fieldwork-server child process listening on 127.0.0.1, port 0."""

    def __init__(self, binary: str, data: pathlib.Path):
        self.binary = binary
        self.data = data
        self.process = None
        self.url = None

    def admin(self, *args: str, stdin: str = "") -> None:
        subprocess.run(
            [self.binary, "--data", str(self.data), *args],
            input=stdin, text=True, check=True, capture_output=True,
        )

    def start(self, listen: str = "127.0.0.1:0") -> None:
        """Starts the server on `listen` (a free port by default; pass the
        address it had to restart it where devices expect it)."""
        self.process = subprocess.Popen(
            [self.binary, "--data", str(self.data), "serve", "--listen", listen],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on "), f"unexpected first line from the server: {line!r}"
        self.url = line.removeprefix("listening on ")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def server_binary() -> str:
    binary = os.environ.get("FIELDWORK_SERVER_BIN", str(ROOT / "target" / "debug" / "fieldwork-server"))
    assert pathlib.Path(binary).exists(), f"{binary} is missing: run bindings/scripts/test-foreign.sh"
    return binary


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory(prefix="fieldwork-py-server-") as data:
        s = Server(server_binary(), pathlib.Path(data))
        s.admin("user", "add", "--name", "mia", "--role", "manager", "--territory", "north",
                "--time-zone", "Europe/Madrid", "--password-stdin", stdin=PASSWORDS["mia"] + "\n")
        s.admin("user", "add", "--name", "ana", "--role", "rep", "--territory", "north",
                "--manager", "mia", "--time-zone", "Europe/Madrid", "--password-stdin",
                stdin=PASSWORDS["ana"] + "\n")
        s.start()
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture
def store_path(tmp_path):
    """A path for a new device store; each call to `make` gives another."""
    counter = iter(range(1000))

    def make() -> str:
        return str(tmp_path / f"device-{next(counter)}.db")

    return make


@pytest.fixture
def open_device(store_path):
    """Opens device stores (fresh ones unless a path is given; each with its
    own keystore unless one is given) and closes them after the test."""
    opened = []

    def make(path=None, keystore=None):
        device = fieldwork.FieldworkDevice.open(path or store_path(), keystore or MemoryKeystore())
        opened.append(device)
        return device

    yield make
    # Close now (sync stopped, listener threads ended, stores released), not
    # at interpreter exit.
    for device in opened:
        device.close_device()
    opened.clear()
    gc.collect()


@pytest.fixture
def private_server(tmp_path):
    """A server of the test's own, which the test may stop."""
    s = Server(server_binary(), tmp_path / "server")
    s.admin("user", "add", "--name", "ana", "--role", "rep", "--territory", "north",
            "--password-stdin", stdin=PASSWORDS["ana"] + "\n")
    s.start()
    yield s
    s.stop()
