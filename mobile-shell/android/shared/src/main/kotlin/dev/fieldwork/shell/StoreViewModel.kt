package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.withContext

/**
 * Base of the view models: store calls are synchronous and take
 * milliseconds, so they run on [io] (by default the SDK's
 * `FieldworkDispatcher`, the one `device.io { }` uses), never on the
 * caller's (UI) thread; live queries subscribe there too (their first
 * snapshot is read at once).
 */
abstract class StoreViewModel(protected val device: FieldworkDevice, protected val io: CoroutineDispatcher) {
    /** Runs [block] against the device on the IO dispatcher. */
    protected suspend fun <T> store(block: FieldworkDevice.() -> T): T = withContext(io) { device.block() }
}
