"""TLS from Python: a server with a self-signed certificate, reached with
the fingerprint it prints as a pin; a wrong pin, and an unpinned untrusted
certificate, are typed errors; plain http:// to another machine is refused."""

import asyncio
import os
import subprocess

import pytest

import fieldwork
from conftest import PASSWORDS, MemoryKeystore, server_binary
from fieldwork import FieldworkDevice, FieldworkError, Kind, TlsOptions


@pytest.fixture
def tls_server(tmp_path):
    data = tmp_path / "server"
    binary = server_binary()
    subprocess.run([binary, "--data", str(data), "user", "add", "--name", "ana", "--role", "rep",
                    "--territory", "north", "--password-stdin"],
                   input=PASSWORDS["ana"] + "\n", text=True, check=True, capture_output=True)
    process = subprocess.Popen(
        [binary, "--data", str(data), "serve", "--listen", "127.0.0.1:0", "--admin-listen", "none",
         "--tls-self-signed"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"},
    )
    url, fingerprint = None, None
    for _ in range(10):
        line = process.stdout.readline().strip()
        if line.startswith("listening on "):
            url = line.removeprefix("listening on ")
        if "fingerprint:" in line:
            fingerprint = line.rsplit(" ", 1)[-1]
        if url and fingerprint:
            break
    assert url and url.startswith("https://"), url
    assert fingerprint and len(fingerprint) == 64, fingerprint
    yield url, fingerprint
    process.terminate()
    process.wait(timeout=10)


def test_a_pinned_self_signed_server_signs_in_and_syncs(tls_server, store_path):
    url, fingerprint = tls_server
    device = FieldworkDevice.open(store_path(), MemoryKeystore())
    user = asyncio.run(device.login(url, "ana", PASSWORDS["ana"], TlsOptions(pin_sha256=fingerprint)))
    assert user.signed_in
    device.create(Kind.ACCOUNT, [fieldwork.FieldEdit(field="name", value="Cifrado S.A."),
                                 fieldwork.FieldEdit(field="territory", value="north")])
    report = asyncio.run(device.sync_now(30))
    assert report.pushed >= 1 and report.refused == 0


def test_a_wrong_pin_or_an_untrusted_certificate_is_a_tls_error(tls_server, store_path):
    url, fingerprint = tls_server
    wrong = ("0" if fingerprint[0] != "0" else "1") + fingerprint[1:]
    device = FieldworkDevice.open(store_path(), MemoryKeystore())
    with pytest.raises(FieldworkError.Tls) as pinned:
        asyncio.run(device.login(url, "ana", PASSWORDS["ana"], TlsOptions(pin_sha256=wrong)))
    assert "pin" in str(pinned.value)
    with pytest.raises(FieldworkError.Tls) as untrusted:
        asyncio.run(device.login(url, "ana", PASSWORDS["ana"]))
    assert "trusted" in str(untrusted.value)
    assert device.user() is None


def test_plain_http_to_another_machine_is_refused(store_path):
    device = FieldworkDevice.open(store_path(), MemoryKeystore())
    with pytest.raises(FieldworkError.Invalid) as refused:
        asyncio.run(device.login("http://192.0.2.10:8787", "ana", "whatever-password"))
    assert "insecure" in str(refused.value).lower()
