// Hand-written, copied beside the generated fieldwork.kt by
// bindings/scripts/generate.sh: live queries as Kotlin Flows.
package dev.fieldwork

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/*
 * Each Flow is cold: collecting it subscribes (observeQuery / observeSearch /
 * observeRecord), the first value is the initial snapshot, then a new
 * snapshot (the whole result, not a diff) follows each change that altered
 * it: a local write, sync (another user's change, a revocation), the process
 * engine. Snapshots are conflated: a slow collector sees the latest one.
 * Cancelling the collecting coroutine cancels the subscription. Closing the
 * device completes the Flow normally (the observer's `ended()`): `collect`
 * returns. A query that fails (the device was wiped) completes the Flow with
 * that FieldworkException. Collecting on a closed device fails at once with
 * FieldworkException.Closed.
 *
 * The callbacks run on the device's dispatcher thread; values are handed to
 * the collector's own dispatcher (collect on Dispatchers.Main to update UI).
 */

/** The rows of `list(kind, options)`, now and after every change that alters them. */
fun FieldworkDevice.queryFlow(kind: Kind, options: ListOptions = ListOptions()): Flow<List<RecordSummary>> =
    callbackFlow {
        val subscription = observeQuery(
            kind, options,
            object : QueryObserver {
                override fun snapshot(rows: List<RecordSummary>) {
                    trySend(rows)
                }

                override fun failed(error: FieldworkException) {
                    close(error)
                }

                override fun ended() {
                    close()
                }
            },
        )
        awaitClose { subscription.use { it.cancel() } }
    }.buffer(Channel.CONFLATED)

/** The hits of `search(text, kind, limit)`, now and after every change that alters them. */
fun FieldworkDevice.searchFlow(text: String, kind: Kind? = null, limit: Int = 20): Flow<List<SearchHit>> =
    callbackFlow {
        val subscription = observeSearch(
            text, kind, limit,
            object : SearchObserver {
                override fun snapshot(hits: List<SearchHit>) {
                    trySend(hits)
                }

                override fun failed(error: FieldworkException) {
                    close(error)
                }

                override fun ended() {
                    close()
                }
            },
        )
        awaitClose { subscription.use { it.cancel() } }
    }.buffer(Channel.CONFLATED)

/**
 * The card of record `id`, now and after every change to it; `null` while it is not on the
 * device or not readable (revoked: moved out of the user's sight).
 */
fun FieldworkDevice.recordFlow(id: String): Flow<RecordView?> =
    callbackFlow {
        val subscription = observeRecord(
            id,
            object : RecordObserver {
                override fun changed(record: RecordView?) {
                    trySend(record)
                }

                override fun failed(error: FieldworkException) {
                    close(error)
                }

                override fun ended() {
                    close()
                }
            },
        )
        awaitClose { subscription.use { it.cancel() } }
    }.buffer(Channel.CONFLATED)
