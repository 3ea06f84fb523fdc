"""Retrying a quarantined edit from Python (issue 16: there was only
dismiss): refused again while the right is missing, with the typed error and
the entry kept; written and pushed once the right is back."""

import asyncio

import pytest

from conftest import PASSWORDS
from fieldwork import FieldEdit, FieldworkError, Kind


def test_a_refused_edit_is_retried_once_the_right_is_back(private_server, open_device):
    ana = open_device()
    asyncio.run(ana.login(private_server.url, "ana", PASSWORDS["ana"]))
    account = ana.create(Kind.ACCOUNT, [FieldEdit(field="name", value="Reintento Py"),
                                        FieldEdit(field="territory", value="north")])
    asyncio.run(ana.sync_now(30))

    # Offline, she edits; meanwhile she becomes a read-only auditor.
    private_server.admin("user", "set", "ana", "--role", "auditor")
    ana.update(account, [FieldEdit(field="city", value="Vigo")])
    assert asyncio.run(ana.sync_now(30)).refused == 1
    [refused] = ana.quarantine()
    assert (refused.field, refused.code) == ("city", "class_not_writable")

    with pytest.raises(FieldworkError.Denied) as again:
        ana.retry_quarantined(refused.id)
    assert again.value.field == "city"
    assert [e.id for e in ana.quarantine()] == [refused.id]

    private_server.admin("user", "set", "ana", "--role", "rep")
    asyncio.run(ana.sync_now(30))
    assert ana.retry_quarantined(refused.id) == account
    assert ana.quarantine() == []
    assert asyncio.run(ana.sync_now(30)).refused == 0
    city = next(f for f in ana.card(account).fields if f.name == "city")
    assert city.value == "Vigo"

    with pytest.raises(FieldworkError.NotFound):
        ana.retry_quarantined(refused.id)
