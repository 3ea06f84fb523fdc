"""The encrypted device store and the keystore, from Python: the app hands
`FieldworkDevice.open` its keystore (here a dict standing in for the Android
Keystore or the iOS Keychain); the key and the session token live there, the
file on disk holds neither the key nor any plaintext of the records."""

import asyncio
import gc
import pathlib

import pytest

import fieldwork
from conftest import PASSWORDS, MemoryKeystore
from fieldwork import FieldEdit, FieldworkDevice, FieldworkError, Kind

PLANTED = ["Zurbarán Logística", "pedidos@zurbaran-logistica.example", "Calle del Olvido 17"]


def store_files(path: str):
    """The store file and its SQLite companions (-wal, -shm, ...)."""
    p = pathlib.Path(path)
    return [f for f in p.parent.iterdir() if f.name.startswith(p.name)]


def plant(device):
    return device.create(Kind.ACCOUNT, [
        FieldEdit(field="name", value=PLANTED[0]),
        FieldEdit(field="email", value=PLANTED[1]),
        FieldEdit(field="street", value=PLANTED[2]),
    ])


def close(device):
    device.close_device()
    del device
    gc.collect()


def test_the_store_file_holds_no_plaintext_and_the_key_stays_in_the_keystore(store_path):
    keystore = MemoryKeystore()
    path = store_path()
    device = FieldworkDevice.open(path, keystore)
    account = plant(device)
    assert [hit.id for hit in device.search("zurbaran", None, 10)] == [account]

    key = keystore.values.get("store-key")
    assert key is not None and len(key) == 32, "the key is made in the app's keystore on first open"
    files = store_files(path)
    assert any(f.name.endswith("-wal") for f in files), "the scan must cover the write-ahead log"
    for f in files:
        data = f.read_bytes()
        assert key not in data and key.hex().encode() not in data, f"{f.name} holds the key"
        for value in PLANTED:
            assert value.encode() not in data, f"{f.name} holds {value!r} in clear"
    close(device)

    again = FieldworkDevice.open(path, keystore)
    assert again.card(account).title == PLANTED[0]
    close(again)


def test_a_wrong_or_missing_key_is_a_typed_error_and_changes_nothing(store_path):
    keystore = MemoryKeystore()
    path = store_path()
    device = FieldworkDevice.open(path, keystore)
    plant(device)
    close(device)
    before = pathlib.Path(path).read_bytes()

    other = MemoryKeystore()
    other.values["store-key"] = bytes(range(32))
    with pytest.raises(FieldworkError.WrongKey):
        FieldworkDevice.open(path, other)
    with pytest.raises(FieldworkError.KeyRequired):
        FieldworkDevice.open(path, MemoryKeystore())
    assert pathlib.Path(path).read_bytes() == before

    again = FieldworkDevice.open(path, keystore)
    assert again.count(Kind.ACCOUNT) == 1
    close(again)


def test_the_session_token_lives_in_the_keystore_and_logout_wipes_it(server, store_path):
    keystore = MemoryKeystore()
    path = store_path()
    device = FieldworkDevice.open(path, keystore)
    asyncio.run(device.login(server.url, "ana", PASSWORDS["ana"]))
    token = keystore.values.get("session-token")
    assert token, "login stores the token in the keystore"
    for f in store_files(path):
        assert token not in f.read_bytes(), f"{f.name} holds the session token"
    assert device.user().signed_in

    asyncio.run(device.logout())
    assert "session-token" not in keystore.values
    assert not device.user().signed_in
    close(device)


def test_a_failing_keystore_is_a_typed_error(store_path):
    class Locked(MemoryKeystore):
        def get(self, name):
            raise fieldwork.KeystoreError.Failed("the device is locked")

    with pytest.raises(FieldworkError.Keystore):
        FieldworkDevice.open(store_path(), Locked())


def test_rekey_rotates_the_key_in_the_keystore_and_keeps_the_data(store_path):
    keystore = MemoryKeystore()
    path = store_path()
    device = FieldworkDevice.open(path, keystore)
    account = plant(device)
    old = keystore.values["store-key"]
    device.rekey()
    new = keystore.values["store-key"]
    assert new != old and len(new) == 32
    assert "store-key.next" not in keystore.values
    assert device.card(account).title == PLANTED[0]
    close(device)

    stale = MemoryKeystore()
    stale.values["store-key"] = old
    with pytest.raises(FieldworkError.WrongKey):
        FieldworkDevice.open(path, stale)
    again = FieldworkDevice.open(path, keystore)
    assert again.card(account).title == PLANTED[0]
    close(again)
