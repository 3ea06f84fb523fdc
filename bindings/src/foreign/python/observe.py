

# Appended by bindings/scripts/generate.sh (from bindings/src/foreign/python/
# observe.py): live queries as iterators. `device.watch_query(...)` and
# friends subscribe (observe_query / observe_search / observe_record) and
# return a `Snapshots`: iterate it, or call `get(timeout)`, in any thread.
import queue as _fieldwork_queue
import weakref as _fieldwork_weakref


class _SnapshotsEnded:
    """Put in the queue when the subscription ends."""

    def __init__(self, error=None):
        self.error = error


class Snapshots:
    """The snapshots of one live query, oldest first: the initial snapshot,
    then one per change that altered the result (whole results, not diffs).

    Iterate it (`for rows in snapshots:`) or call `get(timeout)`. Iteration
    stops (`StopIteration`: the for-loop ends) after `cancel()` and once the
    device is closed, in whichever thread waits; a failed query (the device
    was wiped) raises its `FieldworkError`. `watch_*` on a closed device
    raises `FieldworkError.Closed`. Use it as a context manager to
    cancel on exit; dropping it cancels too. Snapshots are queued as the
    dispatcher thread delivers them; `latest()` skips to the newest one
    waiting."""

    def __init__(self):
        self._queue = _fieldwork_queue.SimpleQueue()
        self._ended = False
        self.subscription = None

    # Called by the observer adapters on the dispatcher thread.
    def _put(self, value):
        self._queue.put(value)

    def get(self, timeout=None):
        """The next snapshot, waiting at most `timeout` seconds (forever when
        None): `TimeoutError` if none came, `StopIteration` once cancelled
        or the device closed, the `FieldworkError` that ended the
        subscription (then `StopIteration`)."""
        if self._ended:
            raise StopIteration
        try:
            if timeout == 0:
                value = self._queue.get(block=False)
            else:
                value = self._queue.get(timeout=timeout)
        except _fieldwork_queue.Empty:
            raise TimeoutError("no snapshot within %s s" % timeout) from None
        if isinstance(value, _SnapshotsEnded):
            self._ended = True
            if value.error is not None:
                raise value.error
            raise StopIteration
        return value

    def latest(self, timeout=None):
        """The newest snapshot: waits for one as `get`, then skips to the last
        one already queued."""
        value = self.get(timeout)
        while True:
            try:
                value = self.get(0)
            except (TimeoutError, StopIteration):
                return value

    def __iter__(self):
        return self

    def __next__(self):
        return self.get()

    def cancel(self):
        """Cancels the subscription: no snapshot is delivered after this
        returns, and iteration stops. Idempotent."""
        if self.subscription is not None:
            self.subscription.cancel()
        self._queue.put(_SnapshotsEnded())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False


class _ToSnapshots:
    """What every adapter below shares: it hands what arrives to its
    `Snapshots`, held weakly: a `Snapshots` the app dropped is freed, which
    frees (and so cancels) its subscription; Rust holds the adapter
    meanwhile."""

    def __init__(self, snapshots):
        self._snapshots = _fieldwork_weakref.ref(snapshots)

    def _put(self, value):
        snapshots = self._snapshots()
        if snapshots is not None:
            snapshots._put(value)

    def failed(self, error):
        self._put(_SnapshotsEnded(error))

    def ended(self):
        # The subscription ended (the device closed; or after `failed`, whose
        # error the iterator raises first): iteration stops.
        self._put(_SnapshotsEnded())


class _QuerySnapshots(_ToSnapshots, QueryObserver):
    def snapshot(self, rows):
        self._put(rows)


class _SearchSnapshots(_ToSnapshots, SearchObserver):
    def snapshot(self, hits):
        self._put(hits)


class _RecordSnapshots(_ToSnapshots, RecordObserver):
    def changed(self, record):
        self._put(record)


def _watch_query(self, kind, options=None):
    """`observe_query` as a `Snapshots` iterator of `list[RecordSummary]`."""
    snapshots = Snapshots()
    snapshots.subscription = self.observe_query(
        kind, options if options is not None else ListOptions(), _QuerySnapshots(snapshots))
    return snapshots


def _watch_search(self, text, kind=None, limit=20):
    """`observe_search` as a `Snapshots` iterator of `list[SearchHit]`."""
    snapshots = Snapshots()
    snapshots.subscription = self.observe_search(text, kind, limit, _SearchSnapshots(snapshots))
    return snapshots


def _watch_record(self, record_id):
    """`observe_record` as a `Snapshots` iterator of `RecordView | None`."""
    snapshots = Snapshots()
    snapshots.subscription = self.observe_record(record_id, _RecordSnapshots(snapshots))
    return snapshots


FieldworkDevice.watch_query = _watch_query
FieldworkDevice.watch_search = _watch_search
FieldworkDevice.watch_record = _watch_record
