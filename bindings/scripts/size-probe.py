"""A fixed offline workload through the generated Python bindings, used by
library-size.sh to compare builds of libfieldwork_ffi: opens a fresh store,
creates 300 accounts, lists them sorted, runs 200 searches, and prints the
elapsed seconds. Only relative numbers mean anything (same machine, same
bindings, one library swapped for another)."""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.environ["FIELDWORK_BINDINGS_PY"])

import fieldwork  # noqa: E402
from fieldwork import FieldEdit, Kind, ListOptions  # noqa: E402

CITIES = ["Bilbao", "Łódź", "Århus", "Győr", "Sevilla", "Porto"]


class MemoryKeystore(fieldwork.Keystore):
    def __init__(self):
        self.values = {}

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.values[name] = bytes(value)

    def delete(self, name):
        self.values.pop(name, None)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        device = fieldwork.FieldworkDevice.open(os.path.join(tmp, "probe.db"), MemoryKeystore())
        start = time.perf_counter()
        for i in range(300):
            city = CITIES[i % len(CITIES)]
            device.create(Kind.ACCOUNT, [
                FieldEdit(field="name", value=f"Account {i:04} {city}"),
                FieldEdit(field="city", value=city),
                FieldEdit(field="territory", value="north"),
            ])
        rows = device.list(Kind.ACCOUNT, ListOptions(limit=500))
        assert len(rows) >= 300, len(rows)
        for i in range(200):
            hits = device.search(f"account {i % 300:04}", None, 10)
            assert hits, i
        elapsed = time.perf_counter() - start
        device.close_device()
    print(f"{elapsed:.2f}")


main()
