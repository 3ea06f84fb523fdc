"""Custom fields through the generated bindings: a server whose policy adds
a choice `x_segment` (general, labelled "Segment") and a number `x_margin`
(financial, which reps do not read) to accounts; a rep's device lists
accounts filtered and sorted by `x_segment`, and a custom name the device
does not know, may not read, or that is no custom field at all is `Invalid`
naming it."""

import asyncio

import pytest

from conftest import PASSWORDS, ROOT, Server, server_binary
from fieldwork import FieldEdit, FieldworkError, Kind, ListOptions


def custom_policy() -> str:
    """The shipped default policy plus the custom fields, as the Rust e2e
    test `tests/tests/custom_fields.rs` installs it."""
    text = (ROOT / "core" / "policy.default.toml").read_text()
    general = '"website", "description"]'
    financial = 'financial = ["credit_limit", "credit_currency", "contract"]'
    assert general in text and financial in text, "the default policy's classes changed"
    text = text.replace(general, '"website", "description", "x_segment"]', 1)
    text = text.replace(financial, financial[:-1] + ', "x_margin"]', 1)
    return text + (
        '\n[custom.account.segment]\nlabel = "Segment"\ntype = "choice"\n'
        'choices = ["smb", "mid", "enterprise"]\n'
        '[custom.account.margin]\ntype = "number"\nmin = 0\nmax = 100\n'
    )


@pytest.fixture
def custom_server(tmp_path):
    """A server of the test's own with the custom policy in force."""
    s = Server(server_binary(), tmp_path / "server")
    s.admin("user", "add", "--name", "ana", "--role", "rep", "--territory", "north",
            "--password-stdin", stdin=PASSWORDS["ana"] + "\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(custom_policy())
    s.admin("policy", "set", str(policy))
    s.start()
    yield s
    s.stop()


def account(device, name, segment=None):
    edits = [FieldEdit(field="name", value=name), FieldEdit(field="territory", value="north")]
    if segment is not None:
        edits.append(FieldEdit(field="x_segment", value=segment))
    return device.create(Kind.ACCOUNT, edits)


def titles(rows):
    return [row.title for row in rows]


def test_accounts_are_filtered_and_sorted_by_a_custom_field(custom_server, open_device):
    device = open_device()
    asyncio.run(device.login(custom_server.url, "ana", PASSWORDS["ana"]))
    acme = account(device, "Acme", "smb")
    account(device, "Beta", "mid")
    account(device, "Cora", "enterprise")
    account(device, "Dune")  # no segment

    only_smb = device.list(Kind.ACCOUNT, ListOptions(custom={"x_segment": "smb"}))
    assert titles(only_smb) == ["Acme"]
    assert [row.id for row in only_smb] == [acme]
    assert titles(device.list(Kind.ACCOUNT, ListOptions(custom={"x_segment": "mid"}))) == ["Beta"]
    assert device.list(Kind.ACCOUNT, ListOptions(custom={"x_segment": "huge"})) == []

    # By value (enterprise < mid < smb), records without one last.
    by_segment = device.list(Kind.ACCOUNT, ListOptions(sort_custom="x_segment"))
    assert titles(by_segment) == ["Cora", "Beta", "Acme", "Dune"]
    descending = device.list(Kind.ACCOUNT, ListOptions(sort_custom="x_segment", descending=True))
    assert titles(descending) == ["Acme", "Beta", "Cora", "Dune"]
    # Filter and sort together, paged by offset; no cursor for such a list.
    filtered = device.list_page(
        Kind.ACCOUNT,
        ListOptions(custom={"x_segment": "mid"}, sort_custom="x_segment", limit=1),
    )
    assert titles(filtered.items) == ["Beta"]
    assert filtered.next_cursor is None
    second = device.list(Kind.ACCOUNT, ListOptions(sort_custom="x_segment", limit=2, offset=2))
    assert titles(second) == ["Acme", "Dune"]

    # The card labels the custom field as the policy does.
    fields = {f.name: f for f in device.card(acme).fields}
    assert fields["x_segment"].value == "smb"
    assert fields["x_segment"].label == "Segment"
    assert fields["name"].label is None
    assert "x_margin" not in fields, "reps do not read financial"


BAD_NAMES = [
    (ListOptions(custom={"x_nope": "smb"}), "x_nope"),
    (ListOptions(sort_custom="x_nope"), "x_nope"),
    # Defined, but in a class the rep may not read.
    (ListOptions(custom={"x_margin": "10"}), "x_margin"),
    (ListOptions(sort_custom="x_margin"), "x_margin"),
    # Not a custom field at all: the core's own refusal.
    (ListOptions(sort_custom="name"), "name"),
    (ListOptions(custom={"stage": "lead"}), "stage"),
]


def test_a_bad_custom_name_is_invalid_naming_it(custom_server, open_device):
    device = open_device()
    asyncio.run(device.login(custom_server.url, "ana", PASSWORDS["ana"]))
    account(device, "Acme", "smb")
    for options, field in BAD_NAMES:
        with pytest.raises(FieldworkError.Invalid) as invalid:
            device.list(Kind.ACCOUNT, options)
        assert invalid.value.field == field, options
        assert "not a custom field" in invalid.value.detail, invalid.value.detail
        with pytest.raises(FieldworkError.Invalid) as paged:
            device.list_page(Kind.ACCOUNT, options)
        assert paged.value.field == field, options
    # x_segment is a field of accounts, not of contacts.
    with pytest.raises(FieldworkError.Invalid) as contacts:
        device.list(Kind.CONTACT, ListOptions(sort_custom="x_segment"))
    assert contacts.value.field == "x_segment"


def test_a_cursor_is_refused_for_a_custom_sort(custom_server, open_device):
    device = open_device()
    asyncio.run(device.login(custom_server.url, "ana", PASSWORDS["ana"]))
    with pytest.raises(FieldworkError.Invalid) as invalid:
        device.list_page(Kind.ACCOUNT, ListOptions(sort_custom="x_segment", after="anything"))
    assert invalid.value.field == "after"
