// Hand-written, copied beside the generated fieldwork.kt by
// bindings/scripts/generate.sh: store calls as suspending calls.
package dev.fieldwork

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/*
 * Which calls suspend, and where they run:
 * - The network calls are `suspend` in the generated code itself (uniffi
 *   async): login, logout, syncNow, fetchAttachment, transferFiles. They run
 *   on the device's own Rust runtime; the caller's thread is free meanwhile.
 * - Store calls (create, update, card, list, search, tasks, attach,
 *   reports...) are one SQLite transaction each, a fraction of a millisecond
 *   to a few milliseconds, longer while a sync applies a big batch. The
 *   generated methods block; `io { }` runs any of them on
 *   [FieldworkDispatcher] and suspends the caller until they return, so a
 *   coroutine on Dispatchers.Main never blocks:
 *
 *       val id = device.io { create(Kind.ACCOUNT, fields) }
 *       val rows = device.io { list(Kind.ACCOUNT, ListOptions(limit = 50)) }
 *
 *   Errors arrive as the same typed FieldworkException. Call the blocking
 *   methods directly only where a thread may block (a WorkManager worker,
 *   a test).
 * - Live queries are Flows (FieldworkFlows.kt); their callbacks run on the
 *   device's dispatcher thread and are handed to the collector's dispatcher.
 */

/**
 * The dispatcher store calls run on: Dispatchers.IO limited to four threads
 * (SQLite runs one write at a time; more threads would only wait).
 */
val FieldworkDispatcher: CoroutineDispatcher = Dispatchers.IO.limitedParallelism(4)

/** Runs [block] (blocking store calls) on [FieldworkDispatcher] and suspends until it returns. */
suspend fun <T> FieldworkDevice.io(block: FieldworkDevice.() -> T): T =
    withContext(FieldworkDispatcher) { block() }
