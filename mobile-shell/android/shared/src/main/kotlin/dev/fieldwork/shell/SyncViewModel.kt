package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.SyncStatus
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** The sync screen: a line about the status, unsent changes, the last error. */
data class SyncState(
    val headline: String = "Offline",
    val pending: ULong = 0u,
    val live: Boolean = false,
    val lastError: String? = null,
)

/** Sync now, live sync on and off, and the status line. */
class SyncViewModel(
    device: FieldworkDevice,
    private val events: DeviceEvents,
    io: CoroutineDispatcher = Dispatchers.IO,
) : StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(SyncState())

    /** The current state. */
    val state: StateFlow<SyncState> = mutableState.asStateFlow()

    /** Recomputes the state from the latest status and the outbox. */
    suspend fun refresh() {
        val pending = store { pendingChanges() }
        mutableState.value = mutableState.value.copy(headline = headline(events.status.value), pending = pending)
    }

    /** Syncs once; errors are shown, never thrown (local work is kept either way). */
    suspend fun syncNow() {
        val error = try {
            device.syncNow(60u)
            null
        } catch (e: FieldworkException) {
            e.userMessage()
        }
        mutableState.value = mutableState.value.copy(lastError = error)
        refresh()
    }

    /** Turns live sync on or off. */
    suspend fun setLive(on: Boolean) {
        store { if (on) startSync() else stopSync() }
        mutableState.value = mutableState.value.copy(live = on)
        refresh()
    }
}

/** A status line for people. */
fun headline(status: SyncStatus): String = when (status) {
    is SyncStatus.Offline -> "Offline"
    is SyncStatus.Connecting -> "Connecting…"
    is SyncStatus.Syncing -> status.total?.let { "Syncing ${status.done} of $it" } ?: "Syncing…"
    is SyncStatus.UpToDate -> "Up to date"
    is SyncStatus.Error -> "Sync failed: ${status.message}"
    is SyncStatus.NeedsLogin -> "Signed out: please sign in again"
    is SyncStatus.Wiped -> "Removed from this phone by your administrator"
}
