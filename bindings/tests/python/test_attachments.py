"""Photos and files through the generated bindings against a real server
(issue 16): a photo attached offline syncs to a manager; a contract in a
class a rep may not read never reaches her (not through the SDK, not by
asking the server with her own token, not on her disk); a wipe leaves no
file behind."""

import asyncio
import json
import pathlib
import tempfile
import urllib.error
import urllib.request

import pytest

from conftest import MemoryKeystore, Server, server_binary
from fieldwork import FieldEdit, FieldworkDevice, FieldworkError, Kind

PASSWORDS = {"mia": "mia-secret-1", "ana": "ana-secret-1", "leo": "leo-secret-1"}


@pytest.fixture(scope="module")
def org():
    """A server of this module's own: a manager and two reps of different
    territories."""
    with tempfile.TemporaryDirectory(prefix="fieldwork-py-files-") as data:
        s = Server(server_binary(), pathlib.Path(data))
        s.admin("user", "add", "--name", "mia", "--role", "manager", "--territory", "north",
                "--password-stdin", stdin=PASSWORDS["mia"] + "\n")
        for name, territory in (("ana", "north"), ("leo", "south")):
            s.admin("user", "add", "--name", name, "--role", "rep", "--territory", territory,
                    "--manager", "mia", "--password-stdin", stdin=PASSWORDS[name] + "\n")
        s.start()
        try:
            yield s
        finally:
            s.stop()


class Phone:
    """A device in a directory of its own, with its keystore at hand."""

    def __init__(self, root: pathlib.Path, name: str):
        self.dir = root / name
        self.dir.mkdir()
        self.keystore = MemoryKeystore()
        self.device = FieldworkDevice.open(str(self.dir / "fieldwork.db"), self.keystore)

    def login(self, server, user):
        asyncio.run(self.device.login(server.url, user, PASSWORDS[user]))

    def sync(self):
        return asyncio.run(self.device.sync_now(60))

    def occurrences(self, needle: bytes) -> int:
        """How often `needle` occurs in the files of this phone's directory.
        The store itself is encrypted, so this finds plaintext copies only
        (a blob directory, a cache, a temporary file); the scan of the
        decrypted store is the Rust test's (tests/tests/attachments.rs)."""
        return sum(p.read_bytes().count(needle) for p in self.dir.rglob("*") if p.is_file())


@pytest.fixture
def phones(tmp_path):
    made = []

    def make(name):
        phone = Phone(tmp_path, name)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.device.close_device()


def photo(marker: bytes, size: int) -> bytes:
    chunk = b"\xff\xd8\xff\xe0" + marker
    return (chunk * (size // len(chunk) + 1))[:size]


def ask_server(server, token, sha256, record, field):
    """The rep's own token, used directly against the files endpoint."""
    url = f"{server.url}/v1/files/{sha256}?record={record}&field={field}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_a_photo_attached_offline_syncs_to_the_manager_and_not_to_another_territory(org, phones):
    ana, mia, leo = phones("ana"), phones("mia"), phones("leo")
    ana.login(org, "ana")
    mia.login(org, "mia")
    leo.login(org, "leo")

    account = ana.device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Kiosko Qz"),
                                               FieldEdit(field="territory", value="north")])
    visit = ana.device.create(Kind.ACTIVITY, [FieldEdit(field="type", value="visit"),
                                              FieldEdit(field="subject", value="Estantería"),
                                              FieldEdit(field="account", value=account)])
    marker = b"PYQZSHELFPHOTO"
    bytes_ = photo(marker, 300_000)
    info = ana.device.attach(visit, "photo", bytes_, "image/jpeg", "estanteria.jpg")
    assert (info.size, info.media_type, info.present, info.uploaded) == (300_000, "image/jpeg", True, False)

    report = ana.sync()
    assert report.files_uploaded == 1
    assert ana.device.attachment(visit, "photo").uploaded

    report = mia.sync()
    assert report.files_downloaded == 1
    held = mia.device.attachment(visit, "photo")
    assert (held.name, held.sha256, held.present) == ("estanteria.jpg", info.sha256, True)
    assert asyncio.run(mia.device.fetch_attachment(visit, "photo")) == bytes_

    report = leo.sync()
    assert report.files_downloaded == 0
    with pytest.raises(FieldworkError.NotFound):
        leo.device.card(visit)
    assert leo.occurrences(marker) == 0
    # Asking the server directly, with his own token: the visit is not his.
    status, body = ask_server(org, leo.keystore.values["session-token"].decode(), info.sha256, visit, "photo")
    assert status == 404, body
    assert marker not in body


def test_a_contract_the_rep_may_not_read_never_reaches_her(org, phones):
    mia, ana = phones("mia"), phones("ana")
    mia.login(org, "mia")
    ana.login(org, "ana")
    account = mia.device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Conservas Qz"),
                                               FieldEdit(field="territory", value="north")])
    marker = b"PYQZCONTRACT"
    info = mia.device.attach(account, "contract", photo(marker, 50_000), "application/pdf", "contrato.pdf")
    assert mia.sync().files_uploaded == 1

    ana.sync()  # (it may bring photos of earlier tests: her own visits)
    assert ana.device.card(account).title == "Conservas Qz"
    assert ana.device.attachment(account, "contract") is None
    assert asyncio.run(ana.device.fetch_attachment(account, "contract")) is None
    assert ana.occurrences(marker) == 0
    status, body = ask_server(org, ana.keystore.values["session-token"].decode(), info.sha256, account, "contract")
    assert status == 403, body
    assert json.loads(body)["code"] == "class_not_readable"
    assert marker not in body
    with pytest.raises(FieldworkError.Denied) as refused:
        ana.device.attach(account, "contract", b"forged", "application/pdf", "x.pdf")
    assert refused.value.field == "contract"


def test_attachment_rules_are_typed_errors(org, phones):
    ana = phones("ana")
    ana.login(org, "ana")
    account = ana.device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Reglas Qz"),
                                               FieldEdit(field="territory", value="north")])
    with pytest.raises(FieldworkError.Invalid) as bad_field:
        ana.device.attach(account, "name", b"x", "image/png", "x.png")
    assert bad_field.value.field == "name"
    visit = ana.device.create(Kind.ACTIVITY, [FieldEdit(field="type", value="visit"),
                                              FieldEdit(field="subject", value="x"),
                                              FieldEdit(field="account", value=account)])
    with pytest.raises(FieldworkError.Invalid) as bad_name:
        ana.device.attach(visit, "photo", b"x", "image/png", "../../x.png")
    assert "path separator" in bad_name.value.detail
    assert ana.device.attachment(visit, "photo") is None


def test_wipe_leaves_no_attachment_file_behind(org, phones):
    ana = phones("ana")
    ana.login(org, "ana")
    account = ana.device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Borrado Qz"),
                                               FieldEdit(field="territory", value="north")])
    visit = ana.device.create(Kind.ACTIVITY, [FieldEdit(field="type", value="visit"),
                                              FieldEdit(field="subject", value="x"),
                                              FieldEdit(field="account", value=account)])
    ana.device.attach(visit, "photo", photo(b"PYQZWIPE", 20_000), "image/png", "p.png")
    ana.sync()
    ana.device.wipe()
    assert [p for p in ana.dir.rglob("*")] == [], "store, WAL, lock file and attachments are gone"
    assert ana.keystore.values == {}


def png(width: int, height: int) -> bytes:
    """A real PNG (RGB gradient), written with the standard library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"".join(bytes((x % 256, y % 256, 90)) for x in range(width))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_photo_gets_a_thumbnail_that_reaches_the_manager(org, phones):
    ana, mia = phones("ana"), phones("mia")
    ana.login(org, "ana")
    mia.login(org, "mia")
    account = ana.device.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Miniatura Qz"),
                                               FieldEdit(field="territory", value="north")])
    visit = ana.device.create(Kind.ACTIVITY, [FieldEdit(field="type", value="visit"),
                                              FieldEdit(field="subject", value="Escaparate"),
                                              FieldEdit(field="account", value=account)])
    info = ana.device.attach(visit, "photo", png(400, 300), "image/png", "escaparate.png")
    assert info.has_thumbnail
    small = ana.device.thumbnail(visit, "photo")
    assert small[:2] == b"\xff\xd8", "a JPEG"
    assert ana.sync().files_uploaded == 2

    mia.sync()
    assert mia.device.attachment(visit, "photo").has_thumbnail
    assert mia.device.thumbnail(visit, "photo") == small
