"""Cursor paging through the generated bindings (issue 16): `list_page`
hands out `next_cursor` until the last page, the pages join into the list,
and a cursor that no page handed out is `Invalid` naming `after`."""

import asyncio
import uuid

import pytest

from conftest import PASSWORDS
from fieldwork import FieldEdit, FieldworkError, Kind, ListOptions

# No walk takes more pages than this: a cursor that does not advance fails
# the test instead of looping forever.
GUARD = 1000


def test_pages_by_cursor_join_into_the_whole_list(server, open_device):
    device = open_device()
    asyncio.run(device.login(server.url, "ana", PASSWORDS["ana"]))
    prefix = f"Paging {uuid.uuid4().hex[:8]}"
    created = {
        device.create(Kind.ACCOUNT, [FieldEdit(field="name", value=f"{prefix} {i % 4}"),
                                     FieldEdit(field="territory", value="north")])
        for i in range(12)
    }

    whole = [row.id for row in device.list(Kind.ACCOUNT, ListOptions(limit=1000, territory="north"))]
    assert created <= set(whole)

    pages, joined, cursor = 0, [], None
    while True:
        pages += 1
        assert pages <= GUARD, f"still paging after {GUARD} pages"
        page = device.list_page(Kind.ACCOUNT, ListOptions(limit=5, territory="north", after=cursor))
        assert len(page.items) <= 5
        joined.extend(row.id for row in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        assert len(page.items) == 5
    assert joined == whole
    assert pages == (len(whole) + 4) // 5
    assert len([row_id for row_id in joined if row_id in created]) == 12


def test_a_garbage_cursor_is_invalid_naming_after(server, open_device):
    device = open_device()
    asyncio.run(device.login(server.url, "ana", PASSWORDS["ana"]))
    with pytest.raises(FieldworkError.Invalid) as invalid:
        device.list_page(Kind.ACCOUNT, ListOptions(limit=5, after="not a cursor"))
    assert invalid.value.field == "after"
